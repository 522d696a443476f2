-- The conversation an outbox row belongs to, when it is not a ticket (an email thread of the
-- mailing list): a channel may keep one thread per conversation, as it does per ticket.
ALTER TABLE outbox ADD COLUMN thread_key TEXT;
