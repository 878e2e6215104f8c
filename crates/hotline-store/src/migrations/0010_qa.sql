-- Quality inspection (QA1, QA2) and the seniors' assessment of juniors (SO1, SO4), issue 16.
-- A ticket registered during a call carries the call's SIP Call-ID ('' when none), which links
-- it to the call's recording.
ALTER TABLE tickets ADD COLUMN call_id TEXT NOT NULL DEFAULT '';
CREATE INDEX tickets_by_call ON tickets (call_id);
CREATE INDEX tickets_by_created ON tickets (created_at, id);
-- One row per draw: the seed used is kept, so the same seed on the same data reproduces it.
-- `seed` is the u64 seed's bits as a signed 64-bit integer.
CREATE TABLE qa_draws (
    id {{ID}},
    kind TEXT NOT NULL,
    period TEXT NOT NULL,
    seed BIGINT NOT NULL,
    per_agent BIGINT NOT NULL,
    agents TEXT NOT NULL DEFAULT '',
    drawn_by TEXT NOT NULL,
    drawn_at BIGINT NOT NULL
);
-- A sample: one ticket of one agent to score. `pool` is 'qa' for scheduled and random
-- samples, 'assessment:<senior>:<agent>' for a senior's assessment; a ticket is in a pool at
-- most once per period (never sampled twice). `score_id` is the score in force.
CREATE TABLE qa_samples (
    id {{ID}},
    draw_id BIGINT REFERENCES qa_draws(id),
    kind TEXT NOT NULL,
    pool TEXT NOT NULL,
    period TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    seed BIGINT NOT NULL,
    opened_by TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    score_id BIGINT
);
CREATE UNIQUE INDEX qa_samples_once ON qa_samples (pool, period, ticket_id);
CREATE INDEX qa_samples_by_agent ON qa_samples (agent_id, id);
-- Scores, never overwritten: a re-score supersedes the old one (superseded_at) and says why.
CREATE TABLE qa_scores (
    id {{ID}},
    sample_id BIGINT NOT NULL REFERENCES qa_samples(id),
    agent_id TEXT NOT NULL,
    total_centi BIGINT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    scored_by TEXT NOT NULL,
    scored_role TEXT NOT NULL,
    scored_at BIGINT NOT NULL,
    rescore_reason TEXT NOT NULL DEFAULT '',
    superseded_at BIGINT
);
CREATE INDEX qa_scores_by_agent ON qa_scores (agent_id, scored_at);
CREATE INDEX qa_scores_by_sample ON qa_scores (sample_id, id);
-- The form line each item was scored on, as it was then.
CREATE TABLE qa_score_items (
    score_id BIGINT NOT NULL REFERENCES qa_scores(id),
    position BIGINT NOT NULL,
    item TEXT NOT NULL,
    label TEXT NOT NULL,
    weight BIGINT NOT NULL,
    max_score BIGINT NOT NULL,
    score BIGINT NOT NULL,
    PRIMARY KEY (score_id, item)
);
-- Call recordings (QA1): the WAV in the document store (`digest`), linked to the call and,
-- when known at upload, the ticket (otherwise through tickets.call_id).
CREATE TABLE qa_recordings (
    id {{ID}},
    call_id TEXT NOT NULL,
    ticket_id BIGINT REFERENCES tickets(id),
    agent_id TEXT NOT NULL DEFAULT '',
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    sample_rate BIGINT NOT NULL,
    channels BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    stored_by TEXT NOT NULL,
    stored_at BIGINT NOT NULL,
    purged_at BIGINT
);
CREATE UNIQUE INDEX qa_recordings_by_call ON qa_recordings (call_id);
CREATE INDEX qa_recordings_by_ticket ON qa_recordings (ticket_id);
CREATE INDEX qa_recordings_by_start ON qa_recordings (started_at, id);
