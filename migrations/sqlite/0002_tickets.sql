-- Tickets for intervention requests, their history, and the messages threaded onto them.
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
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX tickets_assignee ON tickets (assignee, state);

CREATE TABLE ticket_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE ticket_messages (
    message_id TEXT PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    direction TEXT NOT NULL,
    at TEXT NOT NULL
);

CREATE TABLE ticket_suggestions (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    member_id BIGINT NOT NULL REFERENCES members(id),
    rank INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, member_id)
);

INSERT INTO meta (key, value) VALUES ('next_ticket', 1);
