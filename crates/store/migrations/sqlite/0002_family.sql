-- Shipping, verify, third-party platforms, product permission, request journal, faults.

-- Authorizer tokens act for `appid` on behalf of this component; component tokens have
-- appid = component_appid.
ALTER TABLE access_tokens ADD COLUMN component_appid TEXT;

-- Product permission review (SPEC §7): IN_REVIEW becomes APPROVED at review_due_at.
ALTER TABLE apps ADD COLUMN review_due_at INTEGER;
ALTER TABLE apps ADD COLUMN last_review_result TEXT;

CREATE TABLE components (
    component_appid TEXT PRIMARY KEY,
    secret_hash     TEXT NOT NULL,
    verify_ticket   TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

-- One authorization per (component, authorizer); re-authorizing replaces the row and with
-- it the refresh token.
CREATE TABLE authorizations (
    component_appid  TEXT NOT NULL REFERENCES components (component_appid),
    authorizer_appid TEXT NOT NULL REFERENCES apps (appid),
    funcscope        TEXT NOT NULL,
    agreement_signed INTEGER NOT NULL,
    refresh_token    TEXT NOT NULL,
    authorized_at    INTEGER NOT NULL,
    PRIMARY KEY (component_appid, authorizer_appid)
);

CREATE TABLE authorization_codes (
    code             TEXT PRIMARY KEY,
    component_appid  TEXT NOT NULL,
    authorizer_appid TEXT NOT NULL,
    expires_at       INTEGER NOT NULL,
    used             INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE shipping_infos (
    appid          TEXT NOT NULL,
    key_type       INTEGER NOT NULL,
    key_a          TEXT NOT NULL,
    key_b          TEXT NOT NULL,
    upload_time    TEXT NOT NULL,
    upload_time_ns INTEGER NOT NULL,
    body           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (appid, key_type, key_a, key_b)
);

CREATE TABLE shipping_info_versions (
    appid       TEXT NOT NULL,
    key_type    INTEGER NOT NULL,
    key_a       TEXT NOT NULL,
    key_b       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    upload_time TEXT NOT NULL,
    body        TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    PRIMARY KEY (appid, key_type, key_a, key_b, version)
);

-- The request journal (SPEC §8.1), pruned to a bounded count and age.
CREATE TABLE journal (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    rid           TEXT NOT NULL UNIQUE,
    appid         TEXT,
    invoke_time   INTEGER NOT NULL,
    cost_in_ms    INTEGER NOT NULL,
    request_url   TEXT NOT NULL,
    request_body  TEXT NOT NULL,
    response_body TEXT NOT NULL,
    client_ip     TEXT NOT NULL,
    errcode       INTEGER NOT NULL
);
CREATE INDEX journal_by_app ON journal (appid, id);
CREATE INDEX journal_by_time ON journal (invoke_time);

-- Scripted faults (SPEC §8): consumed in id order, one per call.
CREATE TABLE faults (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    appid    TEXT NOT NULL,
    path     TEXT,
    errcode  INTEGER NOT NULL,
    delay_ms INTEGER NOT NULL
);
CREATE INDEX faults_by_app ON faults (appid, id);
