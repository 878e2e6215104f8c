-- Knowledge base (DM1, DM2, DM6, SO7): articles with every version kept whole (who changed
-- what, when; diffable), and classification tags on tickets and survey results (DM3, DM4).
-- Tags and fault types are stored as newline-separated text (validated in the domain: no line
-- breaks inside a tag). kb_state.generation is bumped by every article change in the same
-- transaction; each article row records the generation of its last change, so a search index
-- knows what it has missed.
CREATE TABLE kb_state (
    id BIGINT PRIMARY KEY,
    generation BIGINT NOT NULL
);
INSERT INTO kb_state (id, generation) VALUES (1, 0);
CREATE TABLE kb_articles (
    id {{ID}},
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    fault_types TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    ticket_id BIGINT REFERENCES tickets(id),
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    generation BIGINT NOT NULL
);
CREATE INDEX kb_articles_by_generation ON kb_articles (generation);
CREATE INDEX kb_articles_by_ticket ON kb_articles (ticket_id);
CREATE INDEX kb_articles_by_state ON kb_articles (state, id);
CREATE TABLE kb_article_versions (
    article_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    fault_types TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    change TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    changed_by TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (article_id, version)
);
CREATE TABLE ticket_tags (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    scope TEXT NOT NULL,
    tag TEXT NOT NULL,
    tagged_by TEXT NOT NULL,
    tagged_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, scope, tag)
);
CREATE INDEX ticket_tags_by_tag ON ticket_tags (scope, tag, tagged_at);
