-- A merchant's WeChat Pay v3 credentials (SPEC §11.2) as JSON: its API public keys, the
-- APIv3 key, the platform mode and the platform's key pair (whose private half never leaves
-- the server).
CREATE TABLE merchant_apiv3 (
    mchid      TEXT PRIMARY KEY REFERENCES merchants (mchid),
    body       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
