-- userorder schema v1. Times are Unix seconds on the sandbox clock unless named *_ns.

CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- The sandbox clock: real time plus this offset. One row, shared by every process.
CREATE TABLE clock (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    offset_seconds INTEGER NOT NULL
);
INSERT INTO clock (id, offset_seconds) VALUES (1, 0);

CREATE TABLE apps (
    appid              TEXT PRIMARY KEY,
    secret_hash        TEXT NOT NULL,
    name               TEXT NOT NULL,
    product_state      TEXT NOT NULL,
    in_open_scope      INTEGER NOT NULL,
    quota_daily        INTEGER,
    quota_per_minute   INTEGER,
    token_quota_daily  INTEGER,
    created_at         INTEGER NOT NULL
);

CREATE TABLE merchants (
    mchid      TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE merchant_apps (
    mchid TEXT NOT NULL REFERENCES merchants (mchid),
    appid TEXT NOT NULL REFERENCES apps (appid),
    PRIMARY KEY (mchid, appid)
);

-- kind: 'basic' (/cgi-bin/token), 'stable' (/cgi-bin/stable_token), 'component' or
-- 'authorizer' (third-party platforms; appid is then the component's or the authorizer's).
-- superseded_at: when a newer generation replaced it (a grace period follows).
-- revoked: a forced stable refresh ended it at once.
CREATE TABLE access_tokens (
    token         TEXT PRIMARY KEY,
    appid         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    generation    INTEGER NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    superseded_at INTEGER,
    revoked       INTEGER NOT NULL DEFAULT 0,
    forced        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_by_app ON access_tokens (appid, kind, generation);

CREATE TABLE quota_counters (
    appid        TEXT NOT NULL,
    api          TEXT NOT NULL,
    window       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (appid, api, window, window_start)
);

-- A payment, or (parent_transaction_id set) one sub-payment of a combined payment.
CREATE TABLE payments (
    transaction_id        TEXT PRIMARY KEY,
    parent_transaction_id TEXT REFERENCES payments (transaction_id),
    appid                 TEXT NOT NULL,
    openid                TEXT NOT NULL,
    mchid                 TEXT NOT NULL,
    out_trade_no          TEXT NOT NULL,
    amount                INTEGER NOT NULL,
    state                 TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    paid_at               INTEGER,
    -- 0 for a payment, 1.. for its sub-payments in the order they were created.
    position              INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT payments_out_trade_no_unique UNIQUE (mchid, out_trade_no)
);
CREATE INDEX payments_children ON payments (parent_transaction_id);

-- The latest accepted shopping details per (appid, master key).
-- key_type 1: key_a = mchid, key_b = out_trade_no; key_type 2: key_a = transaction_id, key_b = ''.
CREATE TABLE shopping_infos (
    appid          TEXT NOT NULL,
    key_type       INTEGER NOT NULL,
    key_a          TEXT NOT NULL,
    key_b          TEXT NOT NULL,
    combined       INTEGER NOT NULL,
    openid         TEXT NOT NULL,
    upload_time    TEXT NOT NULL,
    upload_time_ns INTEGER NOT NULL,
    body           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    associated_at  INTEGER,
    transaction_id TEXT,
    PRIMARY KEY (appid, key_type, key_a, key_b)
);
CREATE INDEX shopping_infos_by_payer ON shopping_infos (appid, openid, updated_at);

-- Every accepted version, for the console and for audits.
CREATE TABLE shopping_info_versions (
    appid          TEXT NOT NULL,
    key_type       INTEGER NOT NULL,
    key_a          TEXT NOT NULL,
    key_b          TEXT NOT NULL,
    version        INTEGER NOT NULL,
    upload_time    TEXT NOT NULL,
    body           TEXT NOT NULL,
    accepted_at    INTEGER NOT NULL,
    PRIMARY KEY (appid, key_type, key_a, key_b, version)
);

-- Which combined order a sub-order key belongs to: a key serves one combined order only.
CREATE TABLE sub_order_keys (
    appid        TEXT NOT NULL,
    key_type     INTEGER NOT NULL,
    key_a        TEXT NOT NULL,
    key_b        TEXT NOT NULL,
    master_key_a TEXT NOT NULL,
    master_key_b TEXT NOT NULL,
    PRIMARY KEY (appid, key_type, key_a, key_b)
);
CREATE INDEX sub_order_keys_by_master ON sub_order_keys (appid, key_type, master_key_a, master_key_b);
