-- A token fetch finds the current generation and the tokens it ends without walking every
-- generation the app ever had.
CREATE INDEX access_tokens_current ON access_tokens (appid, kind) WHERE superseded_at IS NULL;
CREATE INDEX access_tokens_stable_unrevoked ON access_tokens (appid)
    WHERE kind = 'stable' AND revoked = 0;
CREATE INDEX access_tokens_by_expiry ON access_tokens (appid, expires_at);

-- Journal request bodies are stored compressed (LZ4 block, length prepended); rows written
-- before keep theirs in request_body.
ALTER TABLE journal ADD COLUMN request_body_lz4 BLOB;
