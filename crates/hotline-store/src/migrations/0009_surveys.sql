-- Satisfaction surveys (SS1-SS6, SO5). A survey is a `survey` task (made by the 回单, SS2, or
-- by the surveyor's first attempt on an answered report, SS1); each call is a row of
-- survey_attempts (numbered per task: two surveyors recording the same attempt collide on the
-- unique key), the customer's answer one row of survey_results (one per task: a callback is
-- recorded once), with the SS6 customer information only when consent was given (checked in
-- the domain; consent stored). survey_investigations: SS4 outcomes (apology, explanation, or a
-- second dispatch, whose order is linked: the written warning goes with it, SO5).
CREATE TABLE survey_attempts (
    id {{ID}},
    task_id BIGINT NOT NULL,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    attempt BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    made_by TEXT NOT NULL,
    made_at BIGINT NOT NULL,
    UNIQUE (task_id, attempt)
);
CREATE INDEX survey_attempts_by_ticket ON survey_attempts (ticket_id, id);
CREATE INDEX survey_attempts_by_time ON survey_attempts (made_at, id);
CREATE TABLE survey_results (
    id {{ID}},
    task_id BIGINT NOT NULL UNIQUE,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    source TEXT NOT NULL,
    channel TEXT NOT NULL,
    satisfaction TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    consent TEXT NOT NULL,
    education TEXT NOT NULL DEFAULT '',
    age_band TEXT NOT NULL DEFAULT '',
    spending_level TEXT NOT NULL DEFAULT '',
    operator_opinion TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX survey_results_by_time ON survey_results (recorded_at, id);
CREATE INDEX survey_results_by_ticket ON survey_results (ticket_id, id);
CREATE TABLE survey_investigations (
    id {{ID}},
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    outcome TEXT NOT NULL,
    note TEXT NOT NULL,
    order_id BIGINT,
    made_by TEXT NOT NULL,
    made_at BIGINT NOT NULL
);
CREATE INDEX survey_investigations_by_ticket ON survey_investigations (ticket_id, id);
CREATE INDEX tasks_by_ticket ON tasks (ticket_id, kind);
