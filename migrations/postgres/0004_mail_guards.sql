-- Addresses the bot must not write to for a while (hard bounces).
CREATE TABLE muted_addresses (
    address TEXT PRIMARY KEY,
    until TIMESTAMPTZ NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX outbox_target ON outbox (connector, target, created_at);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, direction, at);
