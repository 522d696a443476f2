-- The ticket an outbox row is about, when it is: a channel may thread it (a Matrix room keeps
-- one thread per ticket) and `outbox list` can show it.
ALTER TABLE outbox ADD COLUMN ticket BIGINT;
