-- Delivery to the 112 centre: where each order is at the centre, events already applied, and
-- the outbox's alert bookkeeping.
ALTER TABLE orders ADD COLUMN center_ref TEXT;
ALTER TABLE orders ADD COLUMN center_status TEXT;
ALTER TABLE orders ADD COLUMN center_event_at BIGINT;
CREATE INDEX orders_by_center_ref ON orders (center_ref);
ALTER TABLE outbox ADD COLUMN alerted_at BIGINT;
ALTER TABLE outbox ADD COLUMN parked_at BIGINT;
CREATE INDEX outbox_open_by_ticket ON outbox (ticket_id, id) WHERE delivered_at IS NULL AND parked_at IS NULL;
CREATE TABLE center_events (
    event_id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);
