-- Automated outbound survey calls (ivr-outbound, issue 16 part 5). Each call the call server
-- places is claimed first: one row, its Beijing day, the number dialled. A number is called at
-- most once per day: the unique index over (number, day) among rows that use the day (`counts`
-- = 1; a call the trunk refused sets it to 0, the customer was not called). The result is
-- written once when the call ends; a claim nobody finishes is closed as `lost` later.
-- do_not_call: numbers never to be called by the campaign (who added them, why).
CREATE TABLE outbound_calls (
    id {{ID}},
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    task_id BIGINT NOT NULL,
    number TEXT NOT NULL,
    day BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    counts BIGINT NOT NULL DEFAULT 1,
    claimed_by TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    finished_at BIGINT,
    result TEXT,
    answer_key TEXT NOT NULL DEFAULT '',
    sip_status BIGINT
);
CREATE UNIQUE INDEX outbound_calls_once_a_day ON outbound_calls (number, day) WHERE counts = 1;
CREATE INDEX outbound_calls_open ON outbound_calls (finished_at, claimed_at);
CREATE INDEX outbound_calls_by_ticket ON outbound_calls (ticket_id, id);
CREATE TABLE do_not_call (
    number TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL
);
