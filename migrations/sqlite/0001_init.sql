-- Passerelle store, SQLite flavour. Dates are ISO text, timestamps RFC 3339 text (as sqlx writes them).
CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    department TEXT
);

CREATE TABLE members (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    organisation TEXT REFERENCES organisations(id),
    job_role TEXT NOT NULL,
    department TEXT,
    languages TEXT NOT NULL,
    bio TEXT NOT NULL,
    matrix_id TEXT UNIQUE,
    speaker_consent BOOLEAN NOT NULL,
    access TEXT NOT NULL,
    preferred_lang TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE member_topics (
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (member_id, topic)
);

CREATE TABLE unavailability (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    start_day TEXT NOT NULL,
    end_day TEXT NOT NULL
);

CREATE TABLE interventions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    topic TEXT,
    event TEXT NOT NULL,
    UNIQUE (member_id, day, event)
);

CREATE TABLE proposals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    day TEXT NOT NULL
);
CREATE INDEX proposals_member ON proposals (member_id, day);

CREATE TABLE inbound_seen (
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (source, external_id)
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    connector TEXT NOT NULL,
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('directory_version', 0);
