-- The ACD's queue log (JO2, PR1): append-only, one row per queue event in the shape of
-- Asterisk's queue_log (time|callid|queue|agent|event|data1|data2|data3).
CREATE TABLE queue_log (
    id {{ID}},
    at BIGINT NOT NULL,
    call_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    agent TEXT NOT NULL DEFAULT '',
    event TEXT NOT NULL,
    data1 TEXT NOT NULL DEFAULT '',
    data2 TEXT NOT NULL DEFAULT '',
    data3 TEXT NOT NULL DEFAULT ''
);
CREATE INDEX queue_log_by_time ON queue_log (at, id);
CREATE INDEX queue_log_by_call ON queue_log (call_id, id);
