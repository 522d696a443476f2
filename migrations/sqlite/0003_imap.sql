-- How far each IMAP mailbox has been read.
CREATE TABLE imap_state (
    mailbox TEXT PRIMARY KEY,
    uid_validity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL
);
