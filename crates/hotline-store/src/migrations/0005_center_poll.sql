-- Reconciliation with the 112 centre: when the core last asked the centre for an order's
-- status (events can be lost; a quiet order is polled).
ALTER TABLE orders ADD COLUMN center_polled_at BIGINT;
