-- Periodic analyses (SS5): the weekly survey statistics and the monthly satisfaction analysis,
-- drafted by the scheduler once per (kind, period) and published once by the surveyor. The
-- text is the analysis itself (zh-CN), kept whole; a published one never changes.
CREATE TABLE analyses (
    id {{ID}},
    kind TEXT NOT NULL,
    period TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    state TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    drafted_at BIGINT NOT NULL,
    published_by TEXT,
    published_at BIGINT,
    publish_note TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX analyses_once ON analyses (kind, period);
-- The publication limit of an analysis (the monthly one: before the 21st), watched by the
-- deadline scheduler like a ticket's deadlines; met when it is published.
CREATE TABLE analysis_deadlines (
    analysis_id BIGINT NOT NULL REFERENCES analyses(id),
    kind TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    warn_at BIGINT NOT NULL,
    warned_at BIGINT,
    breached_at BIGINT,
    met_at BIGINT,
    PRIMARY KEY (analysis_id, kind)
);
CREATE INDEX analysis_deadlines_open ON analysis_deadlines (met_at, warn_at);
ALTER TABLE alerts ADD COLUMN analysis_id BIGINT;
