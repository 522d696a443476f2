-- News drafts for the social relay: proposed, previewed, decided by the core team, published
-- once per network. Ids are handed out from meta.next_draft before the pure handler runs.
CREATE TABLE news_drafts (
    id BIGINT PRIMARY KEY,
    state TEXT NOT NULL,
    source TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    content_warning TEXT,
    -- JSON list of {source, alt}.
    images TEXT NOT NULL,
    lang TEXT NOT NULL,
    revision BIGINT NOT NULL,
    publish_at TIMESTAMPTZ,
    decided_by TEXT,
    -- Where it was proposed (a connector and a place in its terms): its reports go there
    -- when no review place is configured.
    origin_connector TEXT,
    origin_target TEXT,
    -- The connectors it was sent to, separated by ';'.
    networks TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX news_drafts_state ON news_drafts (state, id);

-- What is up of each draft, per connector, in thread order.
CREATE TABLE news_posts (
    draft_id BIGINT NOT NULL REFERENCES news_drafts(id),
    connector TEXT NOT NULL,
    position BIGINT NOT NULL,
    post_id TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (draft_id, connector, position)
);

INSERT INTO meta (key, value) VALUES ('next_draft', 1);
