//! Every SQL statement of the SQLite store, one function each, prepared once per
//! connection (rusqlite's statement cache). No decisions here: `super` composes these with
//! `crate::rules`.

use rusqlite::{Connection, OptionalExtension, Result, params};

use super::quotas::QuotaWindow;
use crate::records::*;
use crate::rows::order_select;
use crate::rows::*;

// ---- server keys and the clock -------------------------------------------------------

pub fn insert_server_key(conn: &Connection, name: &str, value: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO server_keys (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![name, value])
    .map(|_| ())
}

pub fn server_key(conn: &Connection, name: &str) -> Result<Vec<u8>> {
    conn.prepare_cached("SELECT value FROM server_keys WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
}

pub fn clock_offset(conn: &Connection) -> Result<i64> {
    conn.prepare_cached("SELECT offset_seconds FROM clock WHERE id = 1")?
        .query_row([], |r| r.get(0))
}

pub fn advance_clock(conn: &Connection, seconds: i64) -> Result<i64> {
    conn.prepare_cached(
        "UPDATE clock SET offset_seconds = offset_seconds + ?1 WHERE id = 1
         RETURNING offset_seconds",
    )?
    .query_row([seconds], |r| r.get(0))
}

// ---- apps and merchants --------------------------------------------------------------

pub fn insert_app(conn: &Connection, app: &NewApp) -> Result<bool> {
    conn.prepare_cached(
        "INSERT INTO apps (appid, secret_hash, name, product_state, in_open_scope, quota_daily,
                           quota_per_minute, token_quota_daily, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        app.appid,
        app.secret_hash,
        app.name,
        app.product_state.as_str(),
        app.in_open_scope,
        app.quota.daily,
        app.quota.per_minute,
        app.quota.token_daily,
        app.created_at
    ])
    .map(|n| n == 1)
}

pub fn app(conn: &Connection, appid: &str) -> Result<Option<AppRow>> {
    let sql = format!("SELECT {} FROM apps WHERE appid = ?1", AppRow::COLUMNS);
    conn.prepare_cached(&sql)?
        .query_row([appid], AppRow::from_sqlite)
        .optional()
}

pub fn apps(conn: &Connection) -> Result<Vec<AppRow>> {
    let sql = format!(
        "SELECT {} FROM apps ORDER BY created_at, appid",
        AppRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_map([], AppRow::from_sqlite)?
        .collect()
}

pub fn set_app_quota(conn: &Connection, appid: &str, quota: &Quota) -> Result<bool> {
    conn.prepare_cached(
        "UPDATE apps SET quota_daily = ?1, quota_per_minute = ?2, token_quota_daily = ?3
         WHERE appid = ?4",
    )?
    .execute(params![
        quota.daily,
        quota.per_minute,
        quota.token_daily,
        appid
    ])
    .map(|n| n == 1)
}

pub fn set_trade_management(
    conn: &Connection,
    appid: &str,
    trade: &TradeManagement,
) -> Result<bool> {
    conn.prepare_cached(
        "UPDATE apps SET trade_managed = ?1, confirmation_completed = ?2, ingest_delay_s = ?3,
             auto_confirm_courier = ?4, auto_confirm_other = ?5, settle_delay_s = ?6
         WHERE appid = ?7",
    )?
    .execute(params![
        trade.trade_managed,
        trade.confirmation_completed,
        trade.ingest_delay_s,
        trade.auto_confirm_days.courier,
        trade.auto_confirm_days.other,
        trade.settle_delay_s,
        appid
    ])
    .map(|n| n == 1)
}

pub fn set_msg_jump_path(conn: &Connection, appid: &str, path: Option<&str>) -> Result<bool> {
    conn.prepare_cached("UPDATE apps SET msg_jump_path = ?1 WHERE appid = ?2")?
        .execute(params![path, appid])
        .map(|n| n == 1)
}

pub fn set_push(conn: &Connection, appid: &str, push: Option<&Push>) -> Result<bool> {
    let url = push.and_then(|p| p.url.as_deref());
    let token = push
        .and_then(|p| p.token.as_deref())
        .filter(|_| url.is_some());
    conn.prepare_cached("UPDATE apps SET push_url = ?1, push_token = ?2 WHERE appid = ?3")?
        .execute(params![url, token, appid])
        .map(|n| n == 1)
}

pub fn transition_product_state(
    conn: &Connection,
    appid: &str,
    from: ProductState,
    to: ProductState,
    review_due_at: Option<i64>,
    last_review_result: Option<&str>,
) -> Result<bool> {
    conn.prepare_cached(
        "UPDATE apps SET product_state = ?1, review_due_at = ?2,
                         last_review_result = COALESCE(?3, last_review_result)
         WHERE appid = ?4 AND product_state = ?5",
    )?
    .execute(params![
        to.as_str(),
        review_due_at,
        last_review_result,
        appid,
        from.as_str()
    ])
    .map(|n| n == 1)
}

pub fn insert_merchant(conn: &Connection, mchid: &str, now: i64) -> Result<bool> {
    conn.prepare_cached(
        "INSERT INTO merchants (mchid, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![mchid, now])
    .map(|n| n == 1)
}

pub fn apiv3(conn: &Connection, mchid: &str) -> Result<Option<String>> {
    conn.prepare_cached("SELECT body FROM merchant_apiv3 WHERE mchid = ?1")?
        .query_row([mchid], |r| r.get(0))
        .optional()
}

/// Stores the credentials of an existing merchant: false when there is none.
pub fn put_apiv3(conn: &Connection, mchid: &str, body: &str, now: i64) -> Result<bool> {
    conn.prepare_cached(
        "INSERT INTO merchant_apiv3 (mchid, body, updated_at)
         SELECT mchid, ?2, ?3 FROM merchants WHERE mchid = ?1
         ON CONFLICT (mchid) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
    )?
    .execute(params![mchid, body, now])
    .map(|n| n == 1)
}

pub fn bind_merchant(conn: &Connection, mchid: &str, appid: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO merchant_apps (mchid, appid) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![mchid, appid])
    .map(|_| ())
}

pub fn merchant_bound(conn: &Connection, mchid: &str, appid: &str) -> Result<bool> {
    conn.prepare_cached("SELECT 1 FROM merchant_apps WHERE mchid = ?1 AND appid = ?2")?
        .exists(params![mchid, appid])
}

pub fn merchant_apps(conn: &Connection) -> Result<Vec<MerchantAppRow>> {
    conn.prepare_cached(
        "SELECT m.mchid AS mchid, a.appid AS appid FROM merchants m
         LEFT JOIN merchant_apps a ON a.mchid = m.mchid
         ORDER BY m.created_at, m.mchid, a.appid",
    )?
    .query_map([], MerchantAppRow::from_sqlite)?
    .collect()
}

// ---- tokens --------------------------------------------------------------------------

pub fn token(conn: &Connection, token: &str) -> Result<Option<TokenRow>> {
    let sql = format!(
        "SELECT {} FROM access_tokens WHERE token = ?1",
        TokenRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row([token], TokenRow::from_sqlite)
        .optional()
}

/// Starts the grace period of every current token of the owner's generation line.
pub fn supersede_tokens(conn: &Connection, token: &NewToken) -> Result<()> {
    conn.prepare_cached(
        "UPDATE access_tokens SET superseded_at = ?1
         WHERE appid = ?2 AND kind = ?3 AND component_appid IS ?4 AND superseded_at IS NULL",
    )?
    .execute(params![
        token.issued_at,
        token.appid,
        token.kind.as_str(),
        token.component_appid
    ])
    .map(|_| ())
}

pub fn revoke_stable_tokens(conn: &Connection, appid: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE access_tokens SET revoked = 1 WHERE appid = ?1 AND kind = 'stable' AND revoked = 0",
    )?
    .execute([appid])
    .map(|_| ())
}

pub fn next_generation(conn: &Connection, token: &NewToken) -> Result<i64> {
    conn.prepare_cached(
        "SELECT COALESCE((SELECT generation FROM access_tokens
                          WHERE appid = ?1 AND kind = ?2 AND component_appid IS ?3
                          ORDER BY generation DESC LIMIT 1), 0) + 1",
    )?
    .query_row(
        params![token.appid, token.kind.as_str(), token.component_appid],
        |r| r.get(0),
    )
}

pub fn delete_tokens_expired_before(conn: &Connection, appid: &str, before: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM access_tokens WHERE appid = ?1 AND expires_at < ?2")?
        .execute(params![appid, before])
        .map(|_| ())
}

pub fn insert_token(conn: &Connection, token: &NewToken, generation: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO access_tokens (token, appid, kind, generation, issued_at, expires_at, forced,
                                    component_appid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        token.token,
        token.appid,
        token.kind.as_str(),
        generation,
        token.issued_at,
        token.expires_at,
        token.forced,
        token.component_appid
    ])
    .map(|_| ())
}

pub fn current_stable_token(conn: &Connection, appid: &str, now: i64) -> Result<Option<TokenRow>> {
    let sql = format!(
        "SELECT {} FROM access_tokens
         WHERE appid = ?1 AND kind = 'stable' AND revoked = 0 AND expires_at > ?2
         ORDER BY generation DESC LIMIT 1",
        TokenRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row(params![appid, now], TokenRow::from_sqlite)
        .optional()
}

pub fn forced_refreshes_since(
    conn: &Connection,
    appid: &str,
    since: i64,
) -> Result<(i64, Option<i64>)> {
    conn.prepare_cached(
        "SELECT (SELECT COUNT(*) FROM access_tokens
                 WHERE appid = ?1 AND kind = 'stable' AND forced = 1 AND issued_at >= ?2),
                (SELECT MAX(issued_at) FROM access_tokens
                 WHERE appid = ?1 AND kind = 'stable' AND forced = 1)",
    )?
    .query_row(params![appid, since], |r| Ok((r.get(0)?, r.get(1)?)))
}

// ---- quota counters (see `quotas`) ---------------------------------------------------

pub fn quota_count(conn: &Connection, w: &QuotaWindow) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count FROM quota_counters
             WHERE appid = ?1 AND api = ?2 AND window = ?3 AND window_start = ?4",
        )?
        .query_row(params![w.appid, w.api, w.window, w.start], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Adds `delta` calls to a window's row; answers its total.
pub fn add_quota_count(conn: &Connection, w: &QuotaWindow, delta: i64) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO quota_counters (appid, api, window, window_start, count)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT DO UPDATE SET count = count + excluded.count
         RETURNING count",
    )?
    .query_row(params![w.appid, w.api, w.window, w.start, delta], |r| {
        r.get(0)
    })
}

pub fn delete_quota_windows_before(conn: &Connection, w: &QuotaWindow) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM quota_counters
         WHERE appid = ?1 AND api = ?2 AND window = ?3 AND window_start < ?4",
    )?
    .execute(params![w.appid, w.api, w.window, w.start])
    .map(|_| ())
}

// ---- payments ------------------------------------------------------------------------

/// Inserts a payment (`parent` None) or a sub-payment; false when its keys exist.
pub fn insert_payment(
    conn: &Connection,
    payment: &NewPayment,
    keys: &userorder_model::association::PaymentKeys,
    amount: i64,
    parent: Option<&str>,
    position: i64,
) -> Result<bool> {
    conn.prepare_cached(
        "INSERT INTO payments (transaction_id, parent_transaction_id, appid, openid, mchid,
                               out_trade_no, amount, state, created_at, position,
                               excluded_from_shipping)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'NOTPAY', ?8, ?9, ?10) ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        keys.transaction_id,
        parent,
        payment.appid,
        payment.openid,
        keys.mchid,
        keys.out_trade_no,
        amount,
        payment.created_at,
        position,
        payment.excluded_from_shipping
    ])
    .map(|n| n == 1)
}

pub fn payment_by_id(conn: &Connection, transaction_id: &str) -> Result<Option<PaymentRow>> {
    let sql = format!(
        "SELECT {} FROM payments WHERE parent_transaction_id IS NULL AND transaction_id = ?1",
        PaymentRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row([transaction_id], PaymentRow::from_sqlite)
        .optional()
}

pub fn payment_by_out_trade_no(
    conn: &Connection,
    mchid: &str,
    out_trade_no: &str,
) -> Result<Option<PaymentRow>> {
    let sql = format!(
        "SELECT {} FROM payments
         WHERE parent_transaction_id IS NULL AND mchid = ?1 AND out_trade_no = ?2",
        PaymentRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row(params![mchid, out_trade_no], PaymentRow::from_sqlite)
        .optional()
}

pub fn sub_payments(conn: &Connection, parent: &str) -> Result<Vec<SubPaymentRow>> {
    let sql = format!(
        "SELECT {} FROM payments WHERE parent_transaction_id = ?1 ORDER BY position",
        SubPaymentRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_map([parent], SubPaymentRow::from_sqlite)?
        .collect()
}

pub fn payment_ids(conn: &Connection, filter: &PaymentFilter) -> Result<Vec<String>> {
    match &filter.appid {
        Some(appid) => conn
            .prepare_cached(
                "SELECT transaction_id FROM payments
                 WHERE parent_transaction_id IS NULL AND appid = ?1
                 ORDER BY created_at DESC, transaction_id DESC LIMIT ?2",
            )?
            .query_map(params![appid, filter.limit], |r| r.get(0))?
            .collect(),
        None => conn
            .prepare_cached(
                "SELECT transaction_id FROM payments WHERE parent_transaction_id IS NULL
                 ORDER BY created_at DESC, transaction_id DESC LIMIT ?1",
            )?
            .query_map([filter.limit], |r| r.get(0))?
            .collect(),
    }
}

/// A payment or sub-payment by its transaction_id, as an order (SPEC §10.2).
pub fn order_by_id(conn: &Connection, transaction_id: &str) -> Result<Option<OrderRow>> {
    conn.prepare_cached(concat!(order_select!(), " WHERE p.transaction_id = ?1"))?
        .query_row([transaction_id], OrderRow::from_sqlite)
        .optional()
}

/// A payment or sub-payment by (mchid, out_trade_no), as an order.
pub fn order_by_out_trade_no(
    conn: &Connection,
    mchid: &str,
    out_trade_no: &str,
) -> Result<Option<OrderRow>> {
    conn.prepare_cached(concat!(
        order_select!(),
        " WHERE p.mchid = ?1 AND p.out_trade_no = ?2"
    ))?
    .query_row(params![mchid, out_trade_no], OrderRow::from_sqlite)
    .optional()
}

/// opspecialorder's order_id (SPEC §10.11): the app's payment with this transaction_id,
/// else its latest paid with this out_trade_no.
pub fn order_by_order_id(conn: &Connection, appid: &str, id: &str) -> Result<Option<OrderRow>> {
    conn.prepare_cached(concat!(
        order_select!(),
        " WHERE p.appid = ?1 AND (p.transaction_id = ?2 OR p.out_trade_no = ?2)
          ORDER BY p.transaction_id = ?2 DESC, p.paid_at DESC LIMIT 1"
    ))?
    .query_row(params![appid, id], OrderRow::from_sqlite)
    .optional()
}

/// The row a PaymentRef names (of `appid` for an order_id).
pub fn order_by_ref(conn: &Connection, appid: &str, key: &PaymentRef) -> Result<Option<OrderRow>> {
    match key {
        PaymentRef::Transaction(id) => order_by_id(conn, id),
        PaymentRef::Merchant {
            mchid,
            out_trade_no,
        } => order_by_out_trade_no(conn, mchid, out_trade_no),
        PaymentRef::OrderId(id) => order_by_order_id(conn, appid, id),
    }
}

/// An order's facts kept on its payment row: opspecialorder's report and complaints.
pub fn put_order_facts(conn: &Connection, order: &PaymentOrder, complaints: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE payments SET special_type = ?1, special_delay_to = ?2, complaints = ?3
         WHERE transaction_id = ?4",
    )?
    .execute(params![
        order.special.map(|s| s.kind),
        order.special.and_then(|s| s.delay_to),
        complaints,
        order.keys.transaction_id
    ])
    .map(|_| ())
}

// ---- the event log (statements shared with PostgreSQL: crate::events) ------------------

pub fn insert_event(
    conn: &Connection,
    event: &NewEvent,
    payload: &str,
    real_ms: i64,
) -> Result<u64> {
    conn.prepare_cached(crate::events::INSERT)?
        .execute(params![
            event.appid,
            event.event,
            event.rule_key,
            event.at,
            payload,
            real_ms
        ])
        .map(|n| n as u64)
}

pub fn access_facts(conn: &Connection) -> Result<Vec<crate::events::AccessRow>> {
    conn.prepare_cached(crate::events::ACCESS_FACTS)?
        .query_map([], crate::events::AccessRow::from_sqlite)?
        .collect()
}

pub fn settle_candidates(conn: &Connection, now: i64) -> Result<Vec<OrderRow>> {
    conn.prepare_cached(crate::events::SETTLE_CANDIDATES)?
        .query_map([now], OrderRow::from_sqlite)?
        .collect()
}

/// The shipping reminders that may be due, of every app that has shipped.
pub fn remind_candidates(conn: &Connection, now: i64) -> Result<Vec<OrderRow>> {
    let apps: Vec<String> = conn
        .prepare_cached(crate::events::SHIPPING_APPS)?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for appid in apps {
        let mut statement = conn.prepare_cached(crate::events::REMIND_CANDIDATES)?;
        for row in statement.query_map(params![appid, now], OrderRow::from_sqlite)? {
            rows.push(row?);
        }
    }
    Ok(rows)
}

pub fn events(conn: &Connection, filter: &EventFilter) -> Result<Vec<EventRow>> {
    conn.prepare_cached(crate::events::LIST)?
        .query_map(
            params![
                filter.appid,
                filter.event,
                filter.after,
                filter.mchid,
                filter.limit
            ],
            EventRow::from_sqlite,
        )?
        .collect()
}

/// Pending events due by `real_ms` whose app has a push URL.
pub fn due_deliveries(conn: &Connection, real_ms: i64, limit: i64) -> Result<Vec<DeliveryRow>> {
    conn.prepare_cached(
        "SELECT e.id, e.attempts, e.payload, a.push_url, a.push_token
         FROM sec_events e JOIN apps a ON a.appid = e.appid
         WHERE e.delivery_state = 'pending' AND e.next_attempt_ms <= ?1
           AND a.push_url IS NOT NULL AND e.notify_url IS NULL
         ORDER BY e.next_attempt_ms, e.id LIMIT ?2",
    )?
    .query_map(params![real_ms, limit], DeliveryRow::from_sqlite)?
    .collect()
}

pub fn lease_delivery(conn: &Connection, id: i64, until_ms: i64) -> Result<()> {
    conn.prepare_cached("UPDATE sec_events SET next_attempt_ms = ?1 WHERE id = ?2")?
        .execute(params![until_ms, id])
        .map(|_| ())
}

pub fn finish_delivery(conn: &Connection, id: i64, outcome: Delivered) -> Result<()> {
    let (state, status, next) = crate::events::finish_columns(outcome);
    conn.prepare_cached(crate::events::FINISH)?
        .execute(params![state, status, next, id])
        .map(|_| ())
}

pub fn put_shipment(
    conn: &Connection,
    transaction_id: &str,
    appid: &str,
    shipment: &Shipment,
    body: &str,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sec_shipments (transaction_id, appid, logistics_type, finished_at,
                                    confirmed_at, body, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (transaction_id) DO UPDATE SET logistics_type = excluded.logistics_type,
             finished_at = excluded.finished_at, confirmed_at = excluded.confirmed_at,
             body = excluded.body, updated_at = excluded.updated_at",
    )?
    .execute(params![
        transaction_id,
        appid,
        shipment.logistics_type,
        shipment.finished_at,
        shipment.confirmed_at,
        body,
        now
    ])
    .map(|_| ())
}

/// A page of an app's payment rows by (paid_at, transaction_id), with their shipping; the
/// rules of SPEC §10.2 pick the orders among them ([`rows::listed_orders`]).
pub fn orders_page(conn: &Connection, f: &OrderListFilter) -> Result<Vec<OrderRow>> {
    let (after_time, after_id) = f.after.clone().unwrap_or((i64::MIN, String::new()));
    conn.prepare_cached(concat!(
        order_select!(),
        "
         WHERE p.appid = ?1 AND p.paid_at BETWEEN ?2 AND ?3
           AND (?4 IS NULL OR p.openid = ?4)
           AND (p.paid_at > ?5 OR (p.paid_at = ?5 AND p.transaction_id > ?6))
         ORDER BY p.paid_at, p.transaction_id
         LIMIT ?7"
    ))?
    .query_map(
        params![
            f.appid,
            f.paid_from,
            f.paid_to,
            f.openid,
            after_time,
            after_id,
            f.limit
        ],
        OrderRow::from_sqlite,
    )?
    .collect()
}

/// Refunds a paid payment and its sub-payments; answers how many rows changed.
pub fn mark_refunded(conn: &Connection, transaction_id: &str, now: i64) -> Result<usize> {
    conn.prepare_cached(
        "UPDATE payments SET state = 'REFUND', refunded_at = ?1
         WHERE ((transaction_id = ?2 AND parent_transaction_id IS NULL)
                OR parent_transaction_id = ?2)
           AND state = 'SUCCESS'",
    )?
    .execute(params![now, transaction_id])
}

/// Marks a payment and its sub-payments paid, if they are not yet.
pub fn mark_paid(conn: &Connection, transaction_id: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE payments SET state = 'SUCCESS', paid_at = ?1,
             visible_at = ?1 + (SELECT ingest_delay_s FROM apps WHERE apps.appid = payments.appid)
         WHERE (transaction_id = ?2 OR parent_transaction_id = ?2) AND state = 'NOTPAY'",
    )?
    .execute(params![now, transaction_id])
    .map(|_| ())
}

// ---- shopping details ----------------------------------------------------------------

/// The unassociated uploads a payment may associate: (key_type, key_a, key_b, body).
pub fn unassociated_uploads_of(
    conn: &Connection,
    payment: &Payment,
) -> Result<Vec<(i64, String, String, String)>> {
    conn.prepare_cached(
        "SELECT key_type, key_a, key_b, body FROM shopping_infos
         WHERE appid = ?1 AND associated_at IS NULL
           AND ((key_type = 1 AND key_a = ?2 AND key_b = ?3)
                OR (key_type = 2 AND key_a = ?4 AND key_b = ''))",
    )?
    .query_map(
        params![
            payment.appid,
            payment.keys.mchid,
            payment.keys.out_trade_no,
            payment.keys.transaction_id
        ],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?
    .collect()
}

/// Associates a stored upload with a payment that was just paid.
pub fn associate(
    conn: &Connection,
    appid: &str,
    key: (i64, &str, &str),
    transaction_id: &str,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE shopping_infos SET associated_at = ?1, transaction_id = ?2
         WHERE appid = ?3 AND key_type = ?4 AND key_a = ?5 AND key_b = ?6",
    )?
    .execute(params![now, transaction_id, appid, key.0, key.1, key.2])
    .map(|_| ())
}

pub fn stored_shopping(
    conn: &Connection,
    appid: &str,
    key: (i64, &str, &str),
) -> Result<Option<StoredUpload>> {
    conn.prepare_cached(
        "SELECT upload_time_ns, upload_time, body, associated_at IS NOT NULL AS associated
         FROM shopping_infos WHERE appid = ?1 AND key_type = ?2 AND key_a = ?3 AND key_b = ?4",
    )?
    .query_row(
        params![appid, key.0, key.1, key.2],
        StoredUpload::from_sqlite,
    )
    .optional()
}

/// Moves the current version of an order to the history table when an upload of
/// `upload_ns` is about to replace it (the upsert's own condition): each accepted body is
/// stored once, as the current row or as history.
pub fn archive_shopping(
    conn: &Connection,
    appid: &str,
    key: (i64, &str, &str),
    upload_ns: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO shopping_info_versions (appid, key_type, key_a, key_b, version, upload_time,
                                             body, accepted_at)
         SELECT appid, key_type, key_a, key_b, version, upload_time, body, updated_at
         FROM shopping_infos
         WHERE appid = ?1 AND key_type = ?2 AND key_a = ?3 AND key_b = ?4
           AND upload_time_ns < ?5 AND associated_at IS NULL",
    )?
    .execute(params![appid, key.0, key.1, key.2, upload_ns])
    .map(|_| ())
}

/// The ordering rule itself: only a strictly later, unassociated upload replaces. The row
/// is associated at once with `association` (a paid payment's transaction_id). Answers
/// the new version, or None when the stored upload stands.
#[allow(clippy::too_many_arguments)]
pub fn upsert_shopping(
    conn: &Connection,
    appid: &str,
    key: (i64, &str, &str),
    combined: bool,
    openid: &str,
    upload_time: &str,
    upload_ns: i64,
    body: &str,
    now: i64,
    association: Option<&str>,
) -> Result<Option<i64>> {
    conn.prepare_cached(
        "INSERT INTO shopping_infos (appid, key_type, key_a, key_b, combined, openid, upload_time,
                                     upload_time_ns, body, version, created_at, updated_at,
                                     associated_at, transaction_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?10,
                 CASE WHEN ?11 IS NULL THEN NULL ELSE ?10 END, ?11)
         ON CONFLICT (appid, key_type, key_a, key_b) DO UPDATE SET
             combined = excluded.combined, openid = excluded.openid,
             upload_time = excluded.upload_time, upload_time_ns = excluded.upload_time_ns,
             body = excluded.body, version = shopping_infos.version + 1,
             updated_at = excluded.updated_at, associated_at = excluded.associated_at,
             transaction_id = excluded.transaction_id
         WHERE excluded.upload_time_ns > shopping_infos.upload_time_ns
           AND shopping_infos.associated_at IS NULL
         RETURNING version",
    )?
    .query_row(
        params![
            appid,
            key.0,
            key.1,
            key.2,
            combined,
            openid,
            upload_time,
            upload_ns,
            body,
            now,
            association
        ],
        |r| r.get(0),
    )
    .optional()
}

pub fn release_sub_orders(conn: &Connection, appid: &str, master: (i64, &str, &str)) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM sub_order_keys
         WHERE appid = ?1 AND key_type = ?2 AND master_key_a = ?3 AND master_key_b = ?4",
    )?
    .execute(params![appid, master.0, master.1, master.2])
    .map(|_| ())
}

/// Claims one sub-order key for a master; false when the key is held already.
pub fn claim_sub_order(
    conn: &Connection,
    appid: &str,
    master: (i64, &str, &str),
    sub: (&str, &str),
) -> Result<bool> {
    conn.prepare_cached(
        "INSERT INTO sub_order_keys (appid, key_type, key_a, key_b, master_key_a, master_key_b)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    )?
    .execute(params![appid, master.0, sub.0, sub.1, master.1, master.2])
    .map(|n| n == 1)
}

pub fn shopping_info(
    conn: &Connection,
    appid: &str,
    key: (i64, &str, &str),
) -> Result<Option<InfoRow>> {
    let sql = format!(
        "SELECT {} FROM shopping_infos
         WHERE appid = ?1 AND key_type = ?2 AND key_a = ?3 AND key_b = ?4",
        InfoRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row(params![appid, key.0, key.1, key.2], InfoRow::from_sqlite)
        .optional()
}

/// A listing: `listing` and `binds` from `rules::upload_listing`, then limit and offset.
pub fn shopping_infos(
    conn: &Connection,
    listing: &str,
    binds: &[&str],
    limit: i64,
    offset: i64,
) -> Result<Vec<InfoRow>> {
    let sql = format!("SELECT {} FROM shopping_infos {listing}", InfoRow::COLUMNS);
    let mut statement = conn.prepare_cached(&sql)?;
    let mut values: Vec<&dyn rusqlite::ToSql> = binds.iter().map(|b| b as _).collect();
    values.push(&limit);
    values.push(&offset);
    statement
        .query_map(values.as_slice(), InfoRow::from_sqlite)?
        .collect()
}

/// Every accepted version of an order, oldest first: the history table and the current
/// row of `table` (`shopping_infos` or `shipping_infos`).
pub fn versions(
    conn: &Connection,
    current: &str,
    history: &str,
    appid: &str,
    key: (i64, &str, &str),
) -> Result<Vec<VersionRow>> {
    let sql = format!(
        "SELECT version, upload_time, accepted_at, body FROM {history}
         WHERE appid = ?1 AND key_type = ?2 AND key_a = ?3 AND key_b = ?4
         UNION ALL
         SELECT version, upload_time, updated_at AS accepted_at, body FROM {current}
         WHERE appid = ?1 AND key_type = ?2 AND key_a = ?3 AND key_b = ?4
         ORDER BY version"
    );
    conn.prepare_cached(&sql)?
        .query_map(params![appid, key.0, key.1, key.2], VersionRow::from_sqlite)?
        .collect()
}

// ---- shipping details ----------------------------------------------------------------

pub fn stored_shipping(
    conn: &Connection,
    appid: &str,
    key: (i64, &str, &str),
) -> Result<Option<StoredUpload>> {
    conn.prepare_cached(
        "SELECT upload_time_ns, upload_time, body, 0 AS associated
         FROM shipping_infos WHERE appid = ?1 AND key_type = ?2 AND key_a = ?3 AND key_b = ?4",
    )?
    .query_row(
        params![appid, key.0, key.1, key.2],
        StoredUpload::from_sqlite,
    )
    .optional()
}

pub fn archive_shipping(
    conn: &Connection,
    appid: &str,
    key: (i64, &str, &str),
    upload_ns: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO shipping_info_versions (appid, key_type, key_a, key_b, version, upload_time,
                                             body, accepted_at)
         SELECT appid, key_type, key_a, key_b, version, upload_time, body, updated_at
         FROM shipping_infos
         WHERE appid = ?1 AND key_type = ?2 AND key_a = ?3 AND key_b = ?4 AND upload_time_ns < ?5",
    )?
    .execute(params![appid, key.0, key.1, key.2, upload_ns])
    .map(|_| ())
}

pub fn upsert_shipping(
    conn: &Connection,
    appid: &str,
    key: (i64, &str, &str),
    upload_time: &str,
    upload_ns: i64,
    body: &str,
    now: i64,
) -> Result<Option<i64>> {
    conn.prepare_cached(
        "INSERT INTO shipping_infos (appid, key_type, key_a, key_b, upload_time, upload_time_ns,
                                     body, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)
         ON CONFLICT (appid, key_type, key_a, key_b) DO UPDATE SET
             upload_time = excluded.upload_time, upload_time_ns = excluded.upload_time_ns,
             body = excluded.body, version = shipping_infos.version + 1,
             updated_at = excluded.updated_at
         WHERE excluded.upload_time_ns > shipping_infos.upload_time_ns
         RETURNING version",
    )?
    .query_row(
        params![
            appid,
            key.0,
            key.1,
            key.2,
            upload_time,
            upload_ns,
            body,
            now
        ],
        |r| r.get(0),
    )
    .optional()
}

pub fn shipping_info(
    conn: &Connection,
    appid: &str,
    key: (i64, &str, &str),
) -> Result<Option<ShippingRow>> {
    let sql = format!(
        "SELECT {} FROM shipping_infos
         WHERE appid = ?1 AND key_type = ?2 AND key_a = ?3 AND key_b = ?4",
        ShippingRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row(
            params![appid, key.0, key.1, key.2],
            ShippingRow::from_sqlite,
        )
        .optional()
}

// ---- third-party platforms -----------------------------------------------------------

pub fn insert_component(conn: &Connection, c: &Component) -> Result<bool> {
    conn.prepare_cached(
        "INSERT INTO components (component_appid, secret_hash, verify_ticket, created_at)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        c.component_appid,
        c.secret_hash,
        c.verify_ticket,
        c.created_at
    ])
    .map(|n| n == 1)
}

pub fn component(conn: &Connection, component_appid: &str) -> Result<Option<ComponentRow>> {
    let sql = format!(
        "SELECT {} FROM components WHERE component_appid = ?1",
        ComponentRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row([component_appid], ComponentRow::from_sqlite)
        .optional()
}

pub fn upsert_authorization(conn: &Connection, a: &Authorization, funcscope: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO authorizations (component_appid, authorizer_appid, funcscope,
                                     agreement_signed, refresh_token, authorized_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (component_appid, authorizer_appid) DO UPDATE SET
             funcscope = excluded.funcscope, agreement_signed = excluded.agreement_signed,
             refresh_token = excluded.refresh_token, authorized_at = excluded.authorized_at",
    )?
    .execute(params![
        a.component_appid,
        a.authorizer_appid,
        funcscope,
        a.agreement_signed,
        a.refresh_token,
        a.authorized_at
    ])
    .map(|_| ())
}

pub fn insert_authorization_code(
    conn: &Connection,
    code: &str,
    a: &Authorization,
    expires_at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO authorization_codes (code, component_appid, authorizer_appid, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        code,
        a.component_appid,
        a.authorizer_appid,
        expires_at
    ])
    .map(|_| ())
}

/// Spends an unused, unexpired code; answers its authorizer.
pub fn spend_authorization_code(
    conn: &Connection,
    component_appid: &str,
    code: &str,
    now: i64,
) -> Result<Option<String>> {
    conn.prepare_cached(
        "UPDATE authorization_codes SET used = 1
         WHERE code = ?1 AND component_appid = ?2 AND used = 0 AND expires_at > ?3
         RETURNING authorizer_appid",
    )?
    .query_row(params![code, component_appid, now], |r| r.get(0))
    .optional()
}

pub fn authorization(
    conn: &Connection,
    component_appid: &str,
    authorizer_appid: &str,
) -> Result<Option<AuthorizationRow>> {
    let sql = format!(
        "SELECT {} FROM authorizations WHERE component_appid = ?1 AND authorizer_appid = ?2",
        AuthorizationRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row(
            params![component_appid, authorizer_appid],
            AuthorizationRow::from_sqlite,
        )
        .optional()
}

// ---- journal and faults --------------------------------------------------------------

pub fn insert_journal_row(conn: &Connection, e: &JournalRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO journal (rid, appid, invoke_time, cost_in_ms, request_url, request_body,
                              request_body_lz4, response_body, client_ip, errcode)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (rid) DO NOTHING",
    )?
    .execute(params![
        e.rid,
        e.appid,
        e.invoke_time,
        e.cost_in_ms,
        e.request_url,
        e.request_body,
        e.request_body_lz4,
        e.response_body,
        e.client_ip,
        e.errcode
    ])
    .map(|_| ())
}

/// Ids only grow and rows leave from the oldest end, so the newest `max_entries` are the
/// ids above MAX(id) - max_entries: an index lookup, not a walk over big bodies.
pub fn prune_journal(conn: &Connection, retention: Retention) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM journal WHERE invoke_time < ?1 OR id <= (SELECT MAX(id) FROM journal) - ?2",
    )?
    .execute(params![retention.oldest, retention.max_entries])
    .map(|_| ())
}

pub fn journal(conn: &Connection, filter: &JournalFilter) -> Result<Vec<JournalRow>> {
    let sql = format!(
        "SELECT {} FROM journal
         WHERE (?1 IS NULL OR appid = ?1) AND (?2 IS NULL OR rid = ?2)
         ORDER BY id DESC LIMIT ?3",
        JournalRow::COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_map(
            params![filter.appid, filter.rid, filter.limit],
            JournalRow::from_sqlite,
        )?
        .collect()
}

pub fn insert_fault(
    conn: &Connection,
    appid: &str,
    path: Option<&str>,
    errcode: i64,
    delay_ms: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO faults (appid, path, errcode, delay_ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![appid, path, errcode, delay_ms])
    .map(|_| ())
}

pub fn delete_faults(conn: &Connection, appid: &str, path: Option<&str>) -> Result<u64> {
    conn.prepare_cached("DELETE FROM faults WHERE appid = ?1 AND (?2 IS NULL OR path = ?2)")?
        .execute(params![appid, path])
        .map(|n| n as u64)
}

pub fn fault_queued(conn: &Connection, appid: &str, path: &str) -> Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM faults WHERE appid = ?1 AND (path IS NULL OR path = ?2) LIMIT 1",
    )?
    .exists(params![appid, path])
}

pub fn take_fault(conn: &Connection, appid: &str, path: &str) -> Result<Option<FaultRow>> {
    conn.prepare_cached(
        "DELETE FROM faults WHERE id = (
             SELECT id FROM faults WHERE appid = ?1 AND (path IS NULL OR path = ?2)
             ORDER BY id LIMIT 1)
         RETURNING errcode, delay_ms",
    )?
    .query_row(params![appid, path], FaultRow::from_sqlite)
    .optional()
}

// ---- WeChat Pay v3 (SPEC §11) ----------------------------------------------------------

pub fn put_payment(conn: &Connection, payment: &Payment) -> Result<()> {
    let (v3, prepay_id) = crate::payments::v3_columns(payment)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.prepare_cached(crate::payments::PUT_PAYMENT)?
        .execute(params![
            payment.state,
            payment.refunded_at,
            v3,
            prepay_id,
            payment.keys.transaction_id
        ])
        .map(|_| ())
}

pub fn put_refund(
    conn: &Connection,
    (refund_id, out_refund_no, due_at): &(String, String, Option<i64>),
    payment: &Payment,
) -> Result<()> {
    conn.prepare_cached(crate::payments::PUT_REFUND)?
        .execute(params![
            refund_id,
            payment.keys.mchid,
            out_refund_no,
            payment.keys.transaction_id,
            due_at
        ])
        .map(|_| ())
}

pub fn refund_owner(conn: &Connection, key: &RefundKey) -> Result<Option<String>> {
    match key {
        RefundKey::Id(id) => conn
            .prepare_cached(crate::payments::REFUND_BY_ID)?
            .query_row([id], |r| r.get(0))
            .optional(),
        RefundKey::Merchant {
            mchid,
            out_refund_no,
        } => conn
            .prepare_cached(crate::payments::REFUND_BY_NUMBER)?
            .query_row([mchid, out_refund_no], |r| r.get(0))
            .optional(),
    }
}

pub fn due_refunds(conn: &Connection, now: i64, limit: i64) -> Result<Vec<String>> {
    conn.prepare_cached(crate::payments::DUE_REFUNDS)?
        .query_map(params![now, limit], |r| r.get(0))?
        .collect()
}

pub fn payment_id_by_prepay(conn: &Connection, prepay_id: &str) -> Result<Option<String>> {
    conn.prepare_cached(crate::payments::BY_PREPAY_ID)?
        .query_row([prepay_id], |r| r.get(0))
        .optional()
}

pub fn insert_notification(conn: &Connection, event: &NewEvent, payload: &str) -> Result<u64> {
    let (mchid, url) = event
        .notify
        .as_ref()
        .map_or((None, None), |n| (Some(&n.mchid), n.url.as_ref()));
    conn.prepare_cached(crate::events::INSERT_NOTIFICATION)?
        .execute(params![
            event.appid,
            event.event,
            event.rule_key,
            event.at,
            payload,
            mchid,
            url
        ])
        .map(|n| n as u64)
}

pub fn claimable_notifications(
    conn: &Connection,
    claim: &NotifyClaim,
    real_ms: i64,
) -> Result<Vec<NotificationRow>> {
    conn.prepare_cached(crate::events::CLAIMABLE_NOTIFICATIONS)?
        .query_map(
            params![
                real_ms,
                claim.due_by,
                claim.id,
                claim.appid,
                claim.mchid,
                claim.limit
            ],
            NotificationRow::from_sqlite,
        )?
        .collect()
}

pub fn lease(conn: &Connection, id: i64, until_ms: i64) -> Result<()> {
    conn.prepare_cached(crate::events::LEASE)?
        .execute(params![until_ms, id])
        .map(|_| ())
}

pub fn finish_notification(conn: &Connection, id: i64, attempt: &NotifyAttempt) -> Result<()> {
    conn.prepare_cached(crate::events::FINISH_NOTIFICATION)?
        .execute(params![
            attempt.state.as_str(),
            attempt.status,
            attempt.next_at,
            attempt.notification,
            attempt.log,
            id
        ])
        .map(|_| ())
}

/// A payment or sub-payment row ([`crate::payments::any_row_sql`]).
pub fn any_payment_row(
    conn: &Connection,
    key: &userorder_model::shopping::OrderKey,
) -> Result<Option<PaymentRow>> {
    use userorder_model::shopping::OrderKey;
    match key {
        OrderKey::WxPay { transaction_id } => conn
            .prepare_cached(&crate::payments::any_row_sql(false))?
            .query_row([transaction_id], PaymentRow::from_sqlite)
            .optional(),
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => conn
            .prepare_cached(&crate::payments::any_row_sql(true))?
            .query_row([mchid, out_trade_no], PaymentRow::from_sqlite)
            .optional(),
    }
}
