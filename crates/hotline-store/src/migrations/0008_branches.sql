-- Reports per branch (SF11, issue 17): the branch the core's branch map gives the faulty number,
-- stamped when the ticket is created ('' before the map existed; `hotline admin
-- restamp-branches` stamps again after the map changes). `branch` stays what the customer
-- record says. Indexes for the period queries of the reports.
ALTER TABLE tickets ADD COLUMN report_branch TEXT NOT NULL DEFAULT '';
CREATE INDEX tickets_by_received ON tickets (received_at, id);
CREATE INDEX deadlines_by_due ON deadlines (kind, due_at);
CREATE INDEX alerts_by_time ON alerts (at, id);
