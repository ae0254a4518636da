-- The rest of an order's facts (SPEC §10.6): opspecialorder's report (§10.11) and the
-- payer's complaints (§10.12, JSON [{opened_at, closed_at}]). The reminder of
-- notify_confirm_receive needs a shipped order and lives with its shipping.
ALTER TABLE payments ADD COLUMN special_type BIGINT;
ALTER TABLE payments ADD COLUMN special_delay_to BIGINT;
ALTER TABLE payments ADD COLUMN complaints TEXT NOT NULL DEFAULT '[]';
-- The sweep finds an app's first order by the moment the API learned of it.
CREATE INDEX payments_by_visible_at ON payments (appid, visible_at) WHERE visible_at IS NOT NULL;
-- Where an app's events are pushed (SPEC §10.12): NULL stops pushing.
ALTER TABLE apps ADD COLUMN push_url TEXT;
ALTER TABLE apps ADD COLUMN push_token TEXT;
-- The event log (SPEC §10.13). rule_key names the rule and its order (or day), so an event
-- is recorded once however many sweeps, restarts and processes meet it. Delivery:
-- 'none' (no push URL when recorded), 'pending', 'delivered', 'failed'; a pending event is
-- due when real time (ms) reaches next_attempt_ms, which a delivery in flight pushes ahead
-- as its lease.
CREATE TABLE sec_events (
    id              BIGSERIAL PRIMARY KEY,
    appid           TEXT NOT NULL,
    event           TEXT NOT NULL,
    rule_key        TEXT NOT NULL UNIQUE,
    at              BIGINT NOT NULL,
    payload         TEXT NOT NULL,
    delivery_state  TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_status     BIGINT,
    next_attempt_ms BIGINT
);
CREATE INDEX sec_events_by_app ON sec_events (appid, event, at);
CREATE INDEX sec_events_due ON sec_events (next_attempt_ms) WHERE delivery_state = 'pending';
