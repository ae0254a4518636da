-- userorder schema v1 (PostgreSQL). Times are Unix seconds on the sandbox clock unless
-- named *_ns. The same versions as migrations/sqlite; the SQL stays within what
-- Postgres-compatible distributed engines accept (no triggers, no advisory locks, no
-- sequences relied on for density).

CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE clock (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    offset_seconds BIGINT NOT NULL
);
INSERT INTO clock (id, offset_seconds) VALUES (1, 0);

CREATE TABLE apps (
    appid              TEXT PRIMARY KEY,
    secret_hash        TEXT NOT NULL,
    name               TEXT NOT NULL,
    product_state      TEXT NOT NULL,
    in_open_scope      BOOLEAN NOT NULL,
    quota_daily        BIGINT,
    quota_per_minute   BIGINT,
    token_quota_daily  BIGINT,
    created_at         BIGINT NOT NULL
);

CREATE TABLE merchants (
    mchid      TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE merchant_apps (
    mchid TEXT NOT NULL REFERENCES merchants (mchid),
    appid TEXT NOT NULL REFERENCES apps (appid),
    PRIMARY KEY (mchid, appid)
);

-- kind: 'basic', 'stable', 'component' or 'authorizer' (appid is then the component's or
-- the authorizer's).
CREATE TABLE access_tokens (
    token         TEXT PRIMARY KEY,
    appid         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    generation    BIGINT NOT NULL,
    issued_at     BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    superseded_at BIGINT,
    revoked       BOOLEAN NOT NULL DEFAULT FALSE,
    forced        BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX access_tokens_by_app ON access_tokens (appid, kind, generation);

CREATE TABLE quota_counters (
    appid        TEXT NOT NULL,
    api          TEXT NOT NULL,
    "window"     TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (appid, api, "window", window_start)
);

CREATE TABLE payments (
    transaction_id        TEXT PRIMARY KEY,
    parent_transaction_id TEXT REFERENCES payments (transaction_id),
    appid                 TEXT NOT NULL,
    openid                TEXT NOT NULL,
    mchid                 TEXT NOT NULL,
    out_trade_no          TEXT NOT NULL,
    amount                BIGINT NOT NULL,
    state                 TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    paid_at               BIGINT,
    -- 0 for a payment, 1.. for its sub-payments in the order they were created.
    position              BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT payments_out_trade_no_unique UNIQUE (mchid, out_trade_no)
);
CREATE INDEX payments_children ON payments (parent_transaction_id);

CREATE TABLE shopping_infos (
    appid          TEXT NOT NULL,
    key_type       BIGINT NOT NULL,
    key_a          TEXT NOT NULL,
    key_b          TEXT NOT NULL,
    combined       BOOLEAN NOT NULL,
    openid         TEXT NOT NULL,
    upload_time    TEXT NOT NULL,
    upload_time_ns BIGINT NOT NULL,
    body           TEXT NOT NULL,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    associated_at  BIGINT,
    transaction_id TEXT,
    PRIMARY KEY (appid, key_type, key_a, key_b)
);
CREATE INDEX shopping_infos_by_payer ON shopping_infos (appid, openid, updated_at);

CREATE TABLE shopping_info_versions (
    appid       TEXT NOT NULL,
    key_type    BIGINT NOT NULL,
    key_a       TEXT NOT NULL,
    key_b       TEXT NOT NULL,
    version     BIGINT NOT NULL,
    upload_time TEXT NOT NULL,
    body        TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (appid, key_type, key_a, key_b, version)
);

CREATE TABLE sub_order_keys (
    appid        TEXT NOT NULL,
    key_type     BIGINT NOT NULL,
    key_a        TEXT NOT NULL,
    key_b        TEXT NOT NULL,
    master_key_a TEXT NOT NULL,
    master_key_b TEXT NOT NULL,
    PRIMARY KEY (appid, key_type, key_a, key_b)
);
CREATE INDEX sub_order_keys_by_master ON sub_order_keys (appid, key_type, master_key_a, master_key_b);
