-- How far a delivery got, as its connector records it between outside calls (the posts of a
-- thread already published, a call whose outcome is unknown): a retry resumes from there.
ALTER TABLE outbox ADD COLUMN progress TEXT;
