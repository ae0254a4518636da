-- Order shipping management's shipping of each order (SPEC §10.6): the stored state as
-- JSON, and the moments an order's state is computed from as columns for the listing.
CREATE TABLE sec_shipments (
    transaction_id TEXT PRIMARY KEY REFERENCES payments (transaction_id),
    appid          TEXT NOT NULL,
    logistics_type BIGINT NOT NULL,
    finished_at    BIGINT,
    confirmed_at   BIGINT,
    body           TEXT NOT NULL,
    updated_at     BIGINT NOT NULL
);
