-- Which worker holds an outbox row, so only that worker settles or renews it.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
-- Set at the first failed attempt: temporary failures are retried until then.
ALTER TABLE outbox ADD COLUMN retry_until TEXT;
CREATE INDEX outbox_status ON outbox (status, id);

-- Supervised tasks of each running instance: state, restarts and the last failure.
CREATE TABLE task_health (
    name TEXT NOT NULL,
    instance TEXT NOT NULL,
    state TEXT NOT NULL,
    restarts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (name, instance)
);

-- Inbound items whose handling panicked or failed every time: moved aside, never retried
-- on their own, listed by doctor.
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    error TEXT NOT NULL,
    location TEXT,
    at TEXT NOT NULL,
    UNIQUE (source, external_id)
);

-- Leases of the singleton jobs (IMAP watch, reminders): one holder at a time across instances.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
