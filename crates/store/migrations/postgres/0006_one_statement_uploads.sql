-- Ends the statement that calls it, and so takes back everything the statement wrote, with
-- SQLSTATE `code`, `message` and `detail`. How a single statement that has already written
-- refuses when a later part of it fails (an upload whose sub-order key another order holds).
CREATE FUNCTION userorder_abort(code TEXT, message TEXT, detail TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message, DETAIL = COALESCE(detail, '');
END
$$;

-- The payer's index leads with openid. Led by appid, it shared its first column with the
-- primary key, and while a table's statistics were young (no ANALYZE yet, or the appid
-- not among its common values) the planner chose it for lookups by the full key: a walk
-- over every order of the app, ~1,000 pages per upload after 20,000 orders.
DROP INDEX shopping_infos_by_payer;
CREATE INDEX shopping_infos_by_payer ON shopping_infos (openid, appid, updated_at);
