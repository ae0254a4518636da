-- Order shipping management's shipping of each order (SPEC §10.6): the stored state as
-- JSON, and the moments an order's state is computed from as columns for the listing.
CREATE TABLE sec_shipments (
    transaction_id TEXT PRIMARY KEY REFERENCES payments (transaction_id),
    appid          TEXT NOT NULL,
    logistics_type INTEGER NOT NULL,
    finished_at    INTEGER,
    confirmed_at   INTEGER,
    body           TEXT NOT NULL,
    updated_at     INTEGER NOT NULL
);
