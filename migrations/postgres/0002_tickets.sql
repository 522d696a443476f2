-- Tickets for intervention requests (PostgreSQL flavour).
CREATE TABLE tickets (
    id BIGINT PRIMARY KEY,
    state TEXT NOT NULL,
    subject TEXT NOT NULL,
    requester_email TEXT NOT NULL,
    requester_name TEXT,
    lang TEXT NOT NULL,
    organisation TEXT,
    event TEXT,
    dates TEXT NOT NULL,
    places TEXT NOT NULL,
    topics TEXT NOT NULL,
    format TEXT,
    assignee BIGINT REFERENCES members(id),
    secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX tickets_assignee ON tickets (assignee, state);

CREATE TABLE ticket_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE ticket_messages (
    message_id TEXT PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    direction TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);

CREATE TABLE ticket_suggestions (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    member_id BIGINT NOT NULL REFERENCES members(id),
    rank INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, member_id)
);

INSERT INTO meta (key, value) VALUES ('next_ticket', 1);
