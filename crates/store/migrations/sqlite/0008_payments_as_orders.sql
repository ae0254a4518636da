-- Order shipping management sees paid payments as orders (SPEC §10.2): refunds, payments
-- kept out of the API, and the moment the API learns of a payment (paid_at plus the app's
-- ingest delay at pay time).
ALTER TABLE payments ADD COLUMN refunded_at INTEGER;
ALTER TABLE payments ADD COLUMN excluded_from_shipping INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN visible_at INTEGER;
