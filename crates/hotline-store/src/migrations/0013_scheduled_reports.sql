-- Scheduled reports (issue 17): the daily report of each Beijing day and the monthly report of
-- each month, generated once by the scheduler after their period (two cores racing: the unique
-- key keeps one) and kept as a file in the document store (content-addressed by SHA-256,
-- checked on every read); this row is its metadata.
CREATE TABLE scheduled_reports (
    id {{ID}},
    kind TEXT NOT NULL,
    period TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    format TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    title TEXT NOT NULL,
    generated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX scheduled_reports_once ON scheduled_reports (kind, period, format);
