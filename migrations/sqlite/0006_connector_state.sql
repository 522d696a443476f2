-- What each connector keeps between runs (an IMAP mailbox's last UID, a Matrix sync token),
-- by connector name and key. Replaces the IMAP-only table.
CREATE TABLE connector_state (
    connector TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (connector, key)
);
-- The IMAP connector was always named "imap"; its value is "UIDVALIDITY:UID".
INSERT INTO connector_state (connector, key, value)
    SELECT 'imap', mailbox, CAST(uid_validity AS TEXT) || ':' || CAST(last_uid AS TEXT) FROM imap_state;
DROP TABLE imap_state;
