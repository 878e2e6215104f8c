-- The customer directory (JO8, issue 19): a customer by its code, the lines it owns (a number
-- belongs to at most one customer: the primary key), and an audit row per change. A call or
-- ticket on a listed number takes its class from here.
CREATE TABLE customers (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    class TEXT NOT NULL,
    branch TEXT NOT NULL,
    contacts TEXT NOT NULL,
    sla_note TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX customers_class ON customers (class, code);
CREATE TABLE customer_numbers (
    number TEXT PRIMARY KEY,
    code TEXT NOT NULL REFERENCES customers (code),
    position BIGINT NOT NULL
);
CREATE INDEX customer_numbers_code ON customer_numbers (code, position);
CREATE TABLE customer_audit (
    id {{ID}},
    code TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    at BIGINT NOT NULL,
    changes TEXT NOT NULL
);
CREATE INDEX customer_audit_code ON customer_audit (code, id);
