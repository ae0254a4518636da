-- Order shipping management sees paid payments as orders (SPEC §10.2): refunds, payments
-- kept out of the API, and the moment the API learns of a payment (paid_at plus the app's
-- ingest delay at pay time).
ALTER TABLE payments
    ADD COLUMN refunded_at BIGINT,
    ADD COLUMN excluded_from_shipping BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN visible_at BIGINT;
