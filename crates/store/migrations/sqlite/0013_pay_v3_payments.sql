-- WeChat Pay v3 (SPEC §11). A payment's v3 part (its prepay, terms and refunds) is JSON
-- on its row, judged whole under the row's lock; prepay_id and the refunds table index
-- what /v3/ and the sandbox look payments up by.
ALTER TABLE payments ADD COLUMN v3 TEXT;
ALTER TABLE payments ADD COLUMN prepay_id TEXT;
CREATE UNIQUE INDEX payments_by_prepay_id ON payments (prepay_id) WHERE prepay_id IS NOT NULL;
-- Every refund's keys, and when a PROCESSING one takes its outcome (NULL: not waiting).
CREATE TABLE refunds (
    refund_id      TEXT PRIMARY KEY,
    mchid          TEXT NOT NULL,
    out_refund_no  TEXT NOT NULL,
    transaction_id TEXT NOT NULL REFERENCES payments (transaction_id),
    due_at         INTEGER,
    CONSTRAINT refunds_out_refund_no_unique UNIQUE (mchid, out_refund_no)
);
CREATE INDEX refunds_due ON refunds (due_at) WHERE due_at IS NOT NULL;
-- Notifications (SPEC §11.12) share the event log: their merchant and notify_url (NULL for
-- §10's pushed events), the next retry slot on the sandbox clock, the notification as sent
-- (built at its first attempt) and the attempts' log.
ALTER TABLE sec_events ADD COLUMN mchid TEXT;
ALTER TABLE sec_events ADD COLUMN notify_url TEXT;
ALTER TABLE sec_events ADD COLUMN next_at INTEGER;
ALTER TABLE sec_events ADD COLUMN notification TEXT;
ALTER TABLE sec_events ADD COLUMN log TEXT NOT NULL DEFAULT '[]';
CREATE INDEX sec_events_notify_due ON sec_events (next_at)
    WHERE delivery_state = 'pending' AND notify_url IS NOT NULL;
