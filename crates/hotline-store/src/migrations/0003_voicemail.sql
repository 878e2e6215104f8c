-- Voicemail (SF9, RE1): messages left in the IVR, claimed by a recording extractor, turned into
-- a ticket or escalated to a senior.
CREATE TABLE voicemails (
    id {{ID}},
    call_id TEXT NOT NULL,
    caller_id TEXT NOT NULL DEFAULT '',
    number_entered TEXT NOT NULL DEFAULT '',
    file_name TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new',
    claimed_by TEXT,
    claimed_at BIGINT,
    ticket_id BIGINT,
    note TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX voicemails_by_call ON voicemails (call_id);
CREATE INDEX voicemails_by_state ON voicemails (state, id);
