-- Text intake (TE1-TE4, DM5): documents (letters, faxes, e-mails and their attachments), their
-- two-hour deadlines, and their audit trail. The bytes live in the content-addressed document
-- store (hotline-docstore) under `digest`; this is the metadata.
CREATE TABLE documents (
    id {{ID}},
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    file_name TEXT NOT NULL,
    channel TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    registered_by TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'unentered',
    -- message-id:<id> for e-mail, sha256:<digest> otherwise; an attachment is <parent key>#N
    dedup_key TEXT NOT NULL,
    parent_id BIGINT,
    sender TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    body_text TEXT NOT NULL DEFAULT '',
    ticket_id BIGINT,
    faulty_number TEXT NOT NULL DEFAULT '',
    entered_by TEXT,
    entered_at BIGINT,
    passed_by TEXT,
    passed_at BIGINT,
    pass_reason TEXT NOT NULL DEFAULT '',
    archived_by TEXT,
    archived_at BIGINT,
    purged_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX documents_by_key ON documents (dedup_key);
CREATE INDEX documents_by_state ON documents (state, received_at, id);
CREATE INDEX documents_by_ticket ON documents (ticket_id);
CREATE INDEX documents_by_digest ON documents (digest);
CREATE INDEX documents_by_number ON documents (faulty_number);

-- TE1 (entry) and TE4 (escalation) deadlines of a document, like `deadlines` of a ticket.
CREATE TABLE document_deadlines (
    document_id BIGINT NOT NULL REFERENCES documents(id),
    kind TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    warn_at BIGINT NOT NULL,
    warned_at BIGINT,
    breached_at BIGINT,
    met_at BIGINT,
    PRIMARY KEY (document_id, kind)
);
CREATE INDEX document_deadlines_open_warn ON document_deadlines (warn_at) WHERE met_at IS NULL AND warned_at IS NULL;
CREATE INDEX document_deadlines_open_due ON document_deadlines (due_at) WHERE met_at IS NULL AND breached_at IS NULL;

-- A document's alert is an ordinary alert with ticket_id 0 and the document here.
ALTER TABLE alerts ADD COLUMN document_id BIGINT;

CREATE TABLE document_audit (
    id {{ID}},
    document_id BIGINT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX document_audit_by_document ON document_audit (document_id, id);
