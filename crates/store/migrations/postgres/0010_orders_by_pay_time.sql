-- get_order_list pages through an app's orders by (paid_at, transaction_id) (SPEC §10.7).
CREATE INDEX payments_by_pay_time ON payments (appid, paid_at, transaction_id);
