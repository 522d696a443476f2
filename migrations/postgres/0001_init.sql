-- Passerelle store, PostgreSQL flavour.
CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    department TEXT
);

CREATE TABLE members (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE member_topics (
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (member_id, topic)
);

CREATE TABLE unavailability (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    start_day DATE NOT NULL,
    end_day DATE NOT NULL
);

CREATE TABLE interventions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    day DATE NOT NULL,
    topic TEXT,
    event TEXT NOT NULL,
    UNIQUE (member_id, day, event)
);

CREATE TABLE proposals (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    day DATE NOT NULL
);
CREATE INDEX proposals_member ON proposals (member_id, day);

CREATE TABLE inbound_seen (
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, external_id)
);

CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    connector TEXT NOT NULL,
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('directory_version', 0);
