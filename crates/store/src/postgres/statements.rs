//! Every SQL statement of the PostgreSQL store, one function each. No decisions here:
//! `super` composes these with `crate::rules`.

use sqlx::postgres::PgConnection;
use sqlx::{Result, Row};
use userorder_model::association::PaymentKeys;

use crate::records::*;
use crate::rows::order_select;
use crate::rows::*;

type Key<'a> = (i64, &'a str, &'a str);

// ---- server keys and the clock -------------------------------------------------------

pub async fn insert_server_key(conn: &mut PgConnection, name: &str, value: &[u8]) -> Result<()> {
    sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(name)
        .bind(value)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn server_key(conn: &mut PgConnection, name: &str) -> Result<Vec<u8>> {
    sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
        .bind(name)
        .fetch_one(conn)
        .await
}

pub async fn clock_offset(conn: &mut PgConnection) -> Result<i64> {
    sqlx::query_scalar("SELECT offset_seconds FROM clock WHERE id = 1")
        .fetch_one(conn)
        .await
}

pub async fn advance_clock(conn: &mut PgConnection, seconds: i64) -> Result<i64> {
    sqlx::query_scalar(
        "UPDATE clock SET offset_seconds = offset_seconds + $1 WHERE id = 1
         RETURNING offset_seconds",
    )
    .bind(seconds)
    .fetch_one(conn)
    .await
}

// ---- apps and merchants --------------------------------------------------------------

pub async fn insert_app(conn: &mut PgConnection, app: &NewApp) -> Result<bool> {
    sqlx::query(
        "INSERT INTO apps (appid, secret_hash, name, product_state, in_open_scope, quota_daily,
                           quota_per_minute, token_quota_daily, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(&app.appid)
    .bind(&app.secret_hash)
    .bind(&app.name)
    .bind(app.product_state.as_str())
    .bind(app.in_open_scope)
    .bind(app.quota.daily)
    .bind(app.quota.per_minute)
    .bind(app.quota.token_daily)
    .bind(app.created_at)
    .execute(conn)
    .await
    .map(|done| done.rows_affected() == 1)
}

pub async fn app(conn: &mut PgConnection, appid: &str) -> Result<Option<AppRow>> {
    let sql = format!("SELECT {} FROM apps WHERE appid = $1", AppRow::COLUMNS);
    sqlx::query_as(&sql).bind(appid).fetch_optional(conn).await
}

pub async fn apps(conn: &mut PgConnection) -> Result<Vec<AppRow>> {
    let sql = format!(
        "SELECT {} FROM apps ORDER BY created_at, appid",
        AppRow::COLUMNS
    );
    sqlx::query_as(&sql).fetch_all(conn).await
}

pub async fn set_app_quota(conn: &mut PgConnection, appid: &str, quota: &Quota) -> Result<bool> {
    sqlx::query(
        "UPDATE apps SET quota_daily = $1, quota_per_minute = $2, token_quota_daily = $3
         WHERE appid = $4",
    )
    .bind(quota.daily)
    .bind(quota.per_minute)
    .bind(quota.token_daily)
    .bind(appid)
    .execute(conn)
    .await
    .map(|done| done.rows_affected() == 1)
}

pub async fn set_trade_management(
    conn: &mut PgConnection,
    appid: &str,
    trade: &TradeManagement,
) -> Result<bool> {
    sqlx::query(
        "UPDATE apps SET trade_managed = $1, confirmation_completed = $2, ingest_delay_s = $3,
             auto_confirm_courier = $4, auto_confirm_other = $5, settle_delay_s = $6
         WHERE appid = $7",
    )
    .bind(trade.trade_managed)
    .bind(trade.confirmation_completed)
    .bind(trade.ingest_delay_s)
    .bind(trade.auto_confirm_days.courier)
    .bind(trade.auto_confirm_days.other)
    .bind(trade.settle_delay_s)
    .bind(appid)
    .execute(conn)
    .await
    .map(|done| done.rows_affected() == 1)
}

pub async fn set_msg_jump_path(
    conn: &mut PgConnection,
    appid: &str,
    path: Option<&str>,
) -> Result<bool> {
    sqlx::query("UPDATE apps SET msg_jump_path = $1 WHERE appid = $2")
        .bind(path)
        .bind(appid)
        .execute(conn)
        .await
        .map(|done| done.rows_affected() == 1)
}

pub async fn set_push(conn: &mut PgConnection, appid: &str, push: Option<&Push>) -> Result<bool> {
    let url = push.and_then(|p| p.url.as_deref());
    let token = push
        .and_then(|p| p.token.as_deref())
        .filter(|_| url.is_some());
    sqlx::query("UPDATE apps SET push_url = $1, push_token = $2 WHERE appid = $3")
        .bind(url)
        .bind(token)
        .bind(appid)
        .execute(conn)
        .await
        .map(|done| done.rows_affected() == 1)
}

pub async fn transition_product_state(
    conn: &mut PgConnection,
    appid: &str,
    from: ProductState,
    to: ProductState,
    review_due_at: Option<i64>,
    last_review_result: Option<&str>,
) -> Result<bool> {
    sqlx::query(
        "UPDATE apps SET product_state = $1, review_due_at = $2,
                         last_review_result = COALESCE($3, last_review_result)
         WHERE appid = $4 AND product_state = $5",
    )
    .bind(to.as_str())
    .bind(review_due_at)
    .bind(last_review_result)
    .bind(appid)
    .bind(from.as_str())
    .execute(conn)
    .await
    .map(|done| done.rows_affected() == 1)
}

pub async fn insert_merchant(conn: &mut PgConnection, mchid: &str, now: i64) -> Result<bool> {
    sqlx::query("INSERT INTO merchants (mchid, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(mchid)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| done.rows_affected() == 1)
}

pub async fn apiv3(conn: &mut PgConnection, mchid: &str) -> Result<Option<String>> {
    sqlx::query_scalar("SELECT body FROM merchant_apiv3 WHERE mchid = $1")
        .bind(mchid)
        .fetch_optional(conn)
        .await
}

/// Stores the credentials of an existing merchant: false when there is none.
pub async fn put_apiv3(conn: &mut PgConnection, mchid: &str, body: &str, now: i64) -> Result<bool> {
    sqlx::query(
        "INSERT INTO merchant_apiv3 (mchid, body, updated_at)
         SELECT mchid, $2, $3 FROM merchants WHERE mchid = $1
         ON CONFLICT (mchid) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(mchid)
    .bind(body)
    .bind(now)
    .execute(conn)
    .await
    .map(|done| done.rows_affected() == 1)
}

pub async fn bind_merchant(conn: &mut PgConnection, mchid: &str, appid: &str) -> Result<()> {
    sqlx::query("INSERT INTO merchant_apps (mchid, appid) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(mchid)
        .bind(appid)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Which of `mchids` are bound to `appid`.
pub async fn bound_mchids(
    conn: &mut PgConnection,
    appid: &str,
    mchids: &[&str],
) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT mchid FROM merchant_apps WHERE appid = $1 AND mchid = ANY($2)")
        .bind(appid)
        .bind(mchids)
        .fetch_all(conn)
        .await
}

pub async fn merchant_apps(conn: &mut PgConnection) -> Result<Vec<MerchantAppRow>> {
    sqlx::query_as(
        "SELECT m.mchid AS mchid, a.appid AS appid FROM merchants m
         LEFT JOIN merchant_apps a ON a.mchid = m.mchid
         ORDER BY m.created_at, m.mchid, a.appid",
    )
    .fetch_all(conn)
    .await
}

// ---- tokens --------------------------------------------------------------------------

pub async fn token(conn: &mut PgConnection, token: &str) -> Result<Option<TokenRow>> {
    let sql = format!(
        "SELECT {} FROM access_tokens WHERE token = $1",
        TokenRow::COLUMNS
    );
    sqlx::query_as(&sql).bind(token).fetch_optional(conn).await
}

/// Locks the row that owns a token's generations (the app, the component, or the
/// authorization), so two fetches cannot both become the newest generation.
pub async fn lock_token_owner(conn: &mut PgConnection, token: &NewToken) -> Result<()> {
    let query = match (token.kind, &token.component_appid) {
        (TokenKind::Component, _) => {
            sqlx::query("SELECT 1::BIGINT FROM components WHERE component_appid = $1 FOR UPDATE")
                .bind(&token.appid)
        }
        (TokenKind::Authorizer, Some(component)) => sqlx::query(
            "SELECT 1::BIGINT FROM authorizations
             WHERE authorizer_appid = $1 AND component_appid = $2 FOR UPDATE",
        )
        .bind(&token.appid)
        .bind(component),
        _ => {
            sqlx::query("SELECT 1::BIGINT FROM apps WHERE appid = $1 FOR UPDATE").bind(&token.appid)
        }
    };
    query.execute(conn).await.map(|_| ())
}

/// Inserts tokens of one line as its next generations, in the order given, in one
/// statement: first (as asked) the line's current tokens start their grace period
/// (`supersede`) or every stable token of the app is revoked (`revoke`), and tokens a day
/// past their lifetime are dropped; each new token but the last is then superseded by (or,
/// revoking, revoked for) the one after it, as if they had been issued one after another.
/// The line's owner must be locked first ([`lock_token_owner`]). Answers each token's
/// generation, in the order given.
pub async fn insert_next_tokens(
    conn: &mut PgConnection,
    tokens: &[&NewToken],
    supersede: bool,
    revoke: bool,
) -> Result<Vec<i64>> {
    let Some(first) = tokens.first() else {
        return Ok(Vec::new());
    };
    let values: Vec<&str> = tokens.iter().map(|t| t.token.as_str()).collect();
    let issued: Vec<i64> = tokens.iter().map(|t| t.issued_at).collect();
    let expires: Vec<i64> = tokens.iter().map(|t| t.expires_at).collect();
    let forced: Vec<bool> = tokens.iter().map(|t| t.forced).collect();
    let generations: Vec<(String, i64)> = sqlx::query_as(
        "WITH superseded AS (
             UPDATE access_tokens SET superseded_at = $4[1]
             WHERE $8 AND appid = $2 AND kind = $3
               AND component_appid IS NOT DISTINCT FROM $7 AND superseded_at IS NULL
         ), revoked AS (
             UPDATE access_tokens SET revoked = TRUE
             WHERE $9 AND appid = $2 AND kind = 'stable' AND revoked = FALSE
         ), expired AS (
             DELETE FROM access_tokens WHERE appid = $2 AND expires_at < $4[1] - 86400
         ), base AS (
             SELECT COALESCE((SELECT generation FROM access_tokens
                              WHERE appid = $2 AND kind = $3
                                AND component_appid IS NOT DISTINCT FROM $7
                              ORDER BY generation DESC LIMIT 1), 0) AS generation
         ), fresh AS (
             SELECT t.*, lead(t.issued_at) OVER (ORDER BY t.n) AS next_issued_at
             FROM unnest($1::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BOOL[])
                  WITH ORDINALITY AS t(token, issued_at, expires_at, forced, n)
         )
         INSERT INTO access_tokens (token, appid, kind, generation, issued_at, expires_at, forced,
                                    component_appid, superseded_at, revoked)
         SELECT f.token, $2, $3, base.generation + f.n, f.issued_at, f.expires_at, f.forced, $7,
                CASE WHEN $8 THEN f.next_issued_at END, $9 AND f.next_issued_at IS NOT NULL
         FROM fresh f CROSS JOIN base
         ORDER BY f.n
         RETURNING token, generation",
    )
    .bind(&values)
    .bind(&first.appid)
    .bind(first.kind.as_str())
    .bind(&issued)
    .bind(&expires)
    .bind(&forced)
    .bind(&first.component_appid)
    .bind(supersede)
    .bind(revoke)
    .fetch_all(conn)
    .await?;
    tokens
        .iter()
        .map(|t| {
            generations
                .iter()
                .find(|(token, _)| *token == t.token)
                .map(|(_, generation)| *generation)
                .ok_or(sqlx::Error::RowNotFound)
        })
        .collect()
}

pub async fn current_stable_token(
    conn: &mut PgConnection,
    appid: &str,
    now: i64,
) -> Result<Option<TokenRow>> {
    let sql = format!(
        "SELECT {} FROM access_tokens
         WHERE appid = $1 AND kind = 'stable' AND revoked = FALSE AND expires_at > $2
         ORDER BY generation DESC LIMIT 1",
        TokenRow::COLUMNS
    );
    sqlx::query_as(&sql)
        .bind(appid)
        .bind(now)
        .fetch_optional(conn)
        .await
}

pub async fn forced_refreshes_since(
    conn: &mut PgConnection,
    appid: &str,
    since: i64,
) -> Result<(i64, Option<i64>)> {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM access_tokens
                 WHERE appid = $1 AND kind = 'stable' AND forced = TRUE AND issued_at >= $2),
                (SELECT MAX(issued_at) FROM access_tokens
                 WHERE appid = $1 AND kind = 'stable' AND forced = TRUE)",
    )
    .bind(appid)
    .bind(since)
    .fetch_one(conn)
    .await
}

// ---- payments ------------------------------------------------------------------------

pub async fn insert_payment(
    conn: &mut PgConnection,
    payment: &NewPayment,
    keys: &PaymentKeys,
    amount: i64,
    parent: Option<&str>,
    position: i64,
) -> Result<bool> {
    sqlx::query(
        "INSERT INTO payments (transaction_id, parent_transaction_id, appid, openid, mchid,
                               out_trade_no, amount, state, created_at, position,
                               excluded_from_shipping)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'NOTPAY', $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(&keys.transaction_id)
    .bind(parent)
    .bind(&payment.appid)
    .bind(&payment.openid)
    .bind(&keys.mchid)
    .bind(&keys.out_trade_no)
    .bind(amount)
    .bind(payment.created_at)
    .bind(position)
    .bind(payment.excluded_from_shipping)
    .execute(conn)
    .await
    .map(|done| done.rows_affected() == 1)
}

/// A payment by its transaction_id. (One statement per key kind: an `OR` of the two
/// made the planner walk every payment.)
pub async fn payment_by_id(
    conn: &mut PgConnection,
    transaction_id: &str,
) -> Result<Option<PaymentRow>> {
    let sql = format!(
        "SELECT {} FROM payments WHERE parent_transaction_id IS NULL AND transaction_id = $1",
        PaymentRow::COLUMNS,
    );
    sqlx::query_as(&sql)
        .bind(transaction_id)
        .fetch_optional(conn)
        .await
}

/// A payment by (mchid, out_trade_no).
pub async fn payment_by_out_trade_no(
    conn: &mut PgConnection,
    mchid: &str,
    out_trade_no: &str,
) -> Result<Option<PaymentRow>> {
    let sql = format!(
        "SELECT {} FROM payments
         WHERE parent_transaction_id IS NULL AND mchid = $1 AND out_trade_no = $2",
        PaymentRow::COLUMNS,
    );
    sqlx::query_as(&sql)
        .bind(mchid)
        .bind(out_trade_no)
        .fetch_optional(conn)
        .await
}

pub async fn sub_payments(conn: &mut PgConnection, parent: &str) -> Result<Vec<SubPaymentRow>> {
    let sql = format!(
        "SELECT {} FROM payments WHERE parent_transaction_id = $1 ORDER BY position",
        SubPaymentRow::COLUMNS
    );
    sqlx::query_as(&sql).bind(parent).fetch_all(conn).await
}

pub async fn payment_ids(conn: &mut PgConnection, filter: &PaymentFilter) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT transaction_id FROM payments
         WHERE parent_transaction_id IS NULL AND ($1::TEXT IS NULL OR appid = $1)
         ORDER BY created_at DESC, transaction_id DESC LIMIT $2",
    )
    .bind(&filter.appid)
    .bind(filter.limit)
    .fetch_all(conn)
    .await
}

/// A payment or sub-payment by its transaction_id, as an order (SPEC §10.2).
pub async fn order_by_id(
    conn: &mut PgConnection,
    transaction_id: &str,
) -> Result<Option<OrderRow>> {
    sqlx::query_as(concat!(order_select!(), " WHERE p.transaction_id = $1"))
        .bind(transaction_id)
        .fetch_optional(conn)
        .await
}

/// A payment or sub-payment by (mchid, out_trade_no), as an order.
pub async fn order_by_out_trade_no(
    conn: &mut PgConnection,
    mchid: &str,
    out_trade_no: &str,
) -> Result<Option<OrderRow>> {
    sqlx::query_as(concat!(
        order_select!(),
        " WHERE p.mchid = $1 AND p.out_trade_no = $2"
    ))
    .bind(mchid)
    .bind(out_trade_no)
    .fetch_optional(conn)
    .await
}

/// opspecialorder's order_id (SPEC §10.11): the app's payment with this transaction_id,
/// else its latest paid with this out_trade_no.
pub async fn order_by_order_id(
    conn: &mut PgConnection,
    appid: &str,
    id: &str,
) -> Result<Option<OrderRow>> {
    sqlx::query_as(concat!(
        order_select!(),
        " WHERE p.appid = $1 AND (p.transaction_id = $2 OR p.out_trade_no = $2)
          ORDER BY (p.transaction_id = $2) DESC, p.paid_at DESC NULLS LAST LIMIT 1"
    ))
    .bind(appid)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The row a PaymentRef names (of `appid` for an order_id).
pub async fn order_by_ref(
    conn: &mut PgConnection,
    appid: &str,
    key: &PaymentRef,
) -> Result<Option<OrderRow>> {
    match key {
        PaymentRef::Transaction(id) => order_by_id(conn, id).await,
        PaymentRef::Merchant {
            mchid,
            out_trade_no,
        } => order_by_out_trade_no(conn, mchid, out_trade_no).await,
        PaymentRef::OrderId(id) => order_by_order_id(conn, appid, id).await,
    }
}

/// An order's facts kept on its payment row: opspecialorder's report and complaints.
pub async fn put_order_facts(
    conn: &mut PgConnection,
    order: &PaymentOrder,
    complaints: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE payments SET special_type = $1, special_delay_to = $2, complaints = $3
         WHERE transaction_id = $4",
    )
    .bind(order.special.map(|s| s.kind))
    .bind(order.special.and_then(|s| s.delay_to))
    .bind(complaints)
    .bind(&order.keys.transaction_id)
    .execute(conn)
    .await
    .map(|_| ())
}

// ---- the event log (statements shared with SQLite: crate::events) ----------------------

pub async fn insert_event(
    conn: &mut PgConnection,
    event: &NewEvent,
    payload: &str,
    real_ms: i64,
) -> Result<u64> {
    sqlx::query(crate::events::INSERT)
        .bind(&event.appid)
        .bind(event.event)
        .bind(&event.rule_key)
        .bind(event.at)
        .bind(payload)
        .bind(real_ms)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
}

pub async fn access_facts(conn: &mut PgConnection) -> Result<Vec<crate::events::AccessRow>> {
    sqlx::query_as(crate::events::ACCESS_FACTS)
        .fetch_all(conn)
        .await
}

pub async fn settle_candidates(conn: &mut PgConnection, now: i64) -> Result<Vec<OrderRow>> {
    sqlx::query_as(crate::events::SETTLE_CANDIDATES)
        .bind(now)
        .fetch_all(conn)
        .await
}

/// The shipping reminders that may be due, of every app that has shipped.
pub async fn remind_candidates(conn: &mut PgConnection, now: i64) -> Result<Vec<OrderRow>> {
    let apps: Vec<String> = sqlx::query_scalar(crate::events::SHIPPING_APPS)
        .fetch_all(&mut *conn)
        .await?;
    let mut rows = Vec::new();
    for appid in apps {
        rows.extend(
            sqlx::query_as::<_, OrderRow>(crate::events::REMIND_CANDIDATES)
                .bind(&appid)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    Ok(rows)
}

pub async fn events(conn: &mut PgConnection, filter: &EventFilter) -> Result<Vec<EventRow>> {
    sqlx::query_as(crate::events::LIST)
        .bind(&filter.appid)
        .bind(&filter.event)
        .bind(filter.after)
        .bind(&filter.mchid)
        .bind(filter.limit)
        .fetch_all(conn)
        .await
}

/// Claims pending events due by `real_ms` whose app has a push URL, skipping those another
/// process holds, and leases them until `until_ms`.
pub async fn claim_deliveries(
    conn: &mut PgConnection,
    real_ms: i64,
    until_ms: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>> {
    sqlx::query_as(
        "UPDATE sec_events e SET next_attempt_ms = $2
         FROM apps a
         WHERE a.appid = e.appid AND e.id IN (
             SELECT d.id FROM sec_events d JOIN apps da ON da.appid = d.appid
             WHERE d.delivery_state = 'pending' AND d.next_attempt_ms <= $1
               AND da.push_url IS NOT NULL AND d.notify_url IS NULL
             ORDER BY d.next_attempt_ms, d.id LIMIT $3
             FOR UPDATE OF d SKIP LOCKED)
         RETURNING e.id, e.attempts, e.payload, a.push_url, a.push_token",
    )
    .bind(real_ms)
    .bind(until_ms)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn finish_delivery(conn: &mut PgConnection, id: i64, outcome: Delivered) -> Result<()> {
    let (state, status, next) = crate::events::finish_columns(outcome);
    sqlx::query(crate::events::FINISH)
        .bind(state)
        .bind(status)
        .bind(next)
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// A payment row's refund, locked for the state rules: `None` when there is no such row.
pub async fn refunded_at_for_update(
    conn: &mut PgConnection,
    transaction_id: &str,
) -> Result<Option<Option<i64>>> {
    sqlx::query_scalar("SELECT refunded_at FROM payments WHERE transaction_id = $1 FOR UPDATE")
        .bind(transaction_id)
        .fetch_optional(conn)
        .await
}

pub async fn put_shipment(
    conn: &mut PgConnection,
    transaction_id: &str,
    appid: &str,
    shipment: &Shipment,
    body: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sec_shipments (transaction_id, appid, logistics_type, finished_at,
                                    confirmed_at, body, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (transaction_id) DO UPDATE SET logistics_type = excluded.logistics_type,
             finished_at = excluded.finished_at, confirmed_at = excluded.confirmed_at,
             body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(transaction_id)
    .bind(appid)
    .bind(shipment.logistics_type)
    .bind(shipment.finished_at)
    .bind(shipment.confirmed_at)
    .bind(body)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A page of an app's payment rows by (paid_at, transaction_id), with their shipping; the
/// rules of SPEC §10.2 pick the orders among them ([`rows::listed_orders`]).
pub async fn orders_page(conn: &mut PgConnection, f: &OrderListFilter) -> Result<Vec<OrderRow>> {
    let (after_time, after_id) = f.after.clone().unwrap_or((i64::MIN, String::new()));
    sqlx::query_as(concat!(
        order_select!(),
        "
         WHERE p.appid = $1 AND p.paid_at BETWEEN $2 AND $3
           AND ($4::TEXT IS NULL OR p.openid = $4)
           AND (p.paid_at, p.transaction_id) > ($5, $6)
         ORDER BY p.paid_at, p.transaction_id
         LIMIT $7"
    ))
    .bind(&f.appid)
    .bind(f.paid_from)
    .bind(f.paid_to)
    .bind(&f.openid)
    .bind(after_time)
    .bind(after_id)
    .bind(f.limit)
    .fetch_all(conn)
    .await
}

/// Refunds a paid payment and its sub-payments; answers how many rows changed.
pub async fn mark_refunded(conn: &mut PgConnection, transaction_id: &str, now: i64) -> Result<u64> {
    sqlx::query(
        "UPDATE payments SET state = 'REFUND', refunded_at = $1
         WHERE ((transaction_id = $2 AND parent_transaction_id IS NULL)
                OR parent_transaction_id = $2)
           AND state = 'SUCCESS'",
    )
    .bind(now)
    .bind(transaction_id)
    .execute(conn)
    .await
    .map(|done| done.rows_affected())
}

pub async fn mark_paid(conn: &mut PgConnection, transaction_id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE payments SET state = 'SUCCESS', paid_at = $1,
             visible_at = $1 + (SELECT ingest_delay_s FROM apps WHERE apps.appid = payments.appid)
         WHERE (transaction_id = $2 OR parent_transaction_id = $2) AND state = 'NOTPAY'",
    )
    .bind(now)
    .bind(transaction_id)
    .execute(conn)
    .await
    .map(|_| ())
}

// ---- shopping details ----------------------------------------------------------------

pub async fn unassociated_uploads_of(
    conn: &mut PgConnection,
    payment: &Payment,
) -> Result<Vec<(i64, String, String, String)>> {
    sqlx::query_as(
        "SELECT key_type, key_a, key_b, body FROM shopping_infos
         WHERE appid = $1 AND associated_at IS NULL
           AND ((key_type = 1 AND key_a = $2 AND key_b = $3)
                OR (key_type = 2 AND key_a = $4 AND key_b = ''))",
    )
    .bind(&payment.appid)
    .bind(&payment.keys.mchid)
    .bind(&payment.keys.out_trade_no)
    .bind(&payment.keys.transaction_id)
    .fetch_all(conn)
    .await
}

pub async fn associate(
    conn: &mut PgConnection,
    appid: &str,
    key: Key<'_>,
    transaction_id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE shopping_infos SET associated_at = $1, transaction_id = $2
         WHERE appid = $3 AND key_type = $4 AND key_a = $5 AND key_b = $6",
    )
    .bind(now)
    .bind(transaction_id)
    .bind(appid)
    .bind(key.0)
    .bind(key.1)
    .bind(key.2)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn shopping_info(
    conn: &mut PgConnection,
    appid: &str,
    key: Key<'_>,
) -> Result<Option<InfoRow>> {
    let sql = format!(
        "SELECT {} FROM shopping_infos
         WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4",
        InfoRow::COLUMNS
    );
    sqlx::query_as(&sql)
        .bind(appid)
        .bind(key.0)
        .bind(key.1)
        .bind(key.2)
        .fetch_optional(conn)
        .await
}

pub async fn shopping_infos(
    conn: &mut PgConnection,
    listing: &str,
    binds: &[&str],
    limit: i64,
    offset: i64,
) -> Result<Vec<InfoRow>> {
    let sql = format!("SELECT {} FROM shopping_infos {listing}", InfoRow::COLUMNS);
    let mut query = sqlx::query_as(&sql);
    for value in binds {
        query = query.bind(*value);
    }
    query.bind(limit).bind(offset).fetch_all(conn).await
}

pub async fn versions(
    conn: &mut PgConnection,
    current: &str,
    history: &str,
    appid: &str,
    key: Key<'_>,
) -> Result<Vec<VersionRow>> {
    let sql = format!(
        "SELECT version, upload_time, accepted_at, body FROM {history}
         WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4
         UNION ALL
         SELECT version, upload_time, updated_at AS accepted_at, body FROM {current}
         WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4
         ORDER BY version"
    );
    sqlx::query_as(&sql)
        .bind(appid)
        .bind(key.0)
        .bind(key.1)
        .bind(key.2)
        .fetch_all(conn)
        .await
}

// ---- shipping details ----------------------------------------------------------------

/// The stored shipping details of an order (with their version), locked for the rest of
/// the transaction.
/// The order's stored shipping upload and its version, unlocked: [`save_shipping`] is
/// guarded by the version.
pub async fn stored_shipping(
    conn: &mut PgConnection,
    appid: &str,
    key: Key<'_>,
) -> Result<Option<(StoredUpload, i64)>> {
    let row = sqlx::query(
        "SELECT upload_time_ns, upload_time, body, FALSE AS associated, version
         FROM shipping_infos WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4",
    )
    .bind(appid)
    .bind(key.0)
    .bind(key.1)
    .bind(key.2)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok((
            <StoredUpload as sqlx::FromRow<_>>::from_row(&row)?,
            row.try_get("version")?,
        ))
    })
    .transpose()
}

/// Archive and upsert in one statement that commits on its own, as for shopping details
/// (`replaces` likewise).
#[allow(clippy::too_many_arguments)]
pub async fn save_shipping(
    conn: &mut PgConnection,
    appid: &str,
    key: Key<'_>,
    upload_time: &str,
    upload_ns: i64,
    body: &str,
    now: i64,
    replaces: i64,
) -> Result<Option<i64>> {
    sqlx::query_scalar(
        "WITH saved AS (
             INSERT INTO shipping_infos (appid, key_type, key_a, key_b, upload_time,
                                         upload_time_ns, body, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)
             ON CONFLICT (appid, key_type, key_a, key_b) DO UPDATE SET
                 upload_time = excluded.upload_time, upload_time_ns = excluded.upload_time_ns,
                 body = excluded.body, version = shipping_infos.version + 1,
                 updated_at = excluded.updated_at
             WHERE excluded.upload_time_ns > shipping_infos.upload_time_ns
               AND shipping_infos.version = $9
             RETURNING version
         ), archived AS (
             -- The statement's snapshot still shows the replaced version.
             INSERT INTO shipping_info_versions (appid, key_type, key_a, key_b, version,
                                                 upload_time, body, accepted_at)
             SELECT appid, key_type, key_a, key_b, version, upload_time, body, updated_at
             FROM shipping_infos
             WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4 AND version = $9
               AND EXISTS (SELECT 1 FROM saved)
         )
         SELECT version FROM saved",
    )
    .bind(appid)
    .bind(key.0)
    .bind(key.1)
    .bind(key.2)
    .bind(upload_time)
    .bind(upload_ns)
    .bind(body)
    .bind(now)
    .bind(replaces)
    .fetch_optional(conn)
    .await
}

pub async fn shipping_info(
    conn: &mut PgConnection,
    appid: &str,
    key: Key<'_>,
) -> Result<Option<ShippingRow>> {
    let sql = format!(
        "SELECT {} FROM shipping_infos
         WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4",
        ShippingRow::COLUMNS
    );
    sqlx::query_as(&sql)
        .bind(appid)
        .bind(key.0)
        .bind(key.1)
        .bind(key.2)
        .fetch_optional(conn)
        .await
}

// ---- third-party platforms -----------------------------------------------------------

pub async fn insert_component(conn: &mut PgConnection, c: &Component) -> Result<bool> {
    sqlx::query(
        "INSERT INTO components (component_appid, secret_hash, verify_ticket, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&c.component_appid)
    .bind(&c.secret_hash)
    .bind(&c.verify_ticket)
    .bind(c.created_at)
    .execute(conn)
    .await
    .map(|done| done.rows_affected() == 1)
}

pub async fn component(
    conn: &mut PgConnection,
    component_appid: &str,
) -> Result<Option<ComponentRow>> {
    let sql = format!(
        "SELECT {} FROM components WHERE component_appid = $1",
        ComponentRow::COLUMNS
    );
    sqlx::query_as(&sql)
        .bind(component_appid)
        .fetch_optional(conn)
        .await
}

pub async fn upsert_authorization(
    conn: &mut PgConnection,
    a: &Authorization,
    funcscope: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO authorizations (component_appid, authorizer_appid, funcscope,
                                     agreement_signed, refresh_token, authorized_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (component_appid, authorizer_appid) DO UPDATE SET
             funcscope = excluded.funcscope, agreement_signed = excluded.agreement_signed,
             refresh_token = excluded.refresh_token, authorized_at = excluded.authorized_at",
    )
    .bind(&a.component_appid)
    .bind(&a.authorizer_appid)
    .bind(funcscope)
    .bind(a.agreement_signed)
    .bind(&a.refresh_token)
    .bind(a.authorized_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn insert_authorization_code(
    conn: &mut PgConnection,
    code: &str,
    a: &Authorization,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO authorization_codes (code, component_appid, authorizer_appid, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(code)
    .bind(&a.component_appid)
    .bind(&a.authorizer_appid)
    .bind(expires_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn spend_authorization_code(
    conn: &mut PgConnection,
    component_appid: &str,
    code: &str,
    now: i64,
) -> Result<Option<String>> {
    sqlx::query_scalar(
        "UPDATE authorization_codes SET used = TRUE
         WHERE code = $1 AND component_appid = $2 AND used = FALSE AND expires_at > $3
         RETURNING authorizer_appid",
    )
    .bind(code)
    .bind(component_appid)
    .bind(now)
    .fetch_optional(conn)
    .await
}

pub async fn authorization(
    conn: &mut PgConnection,
    component_appid: &str,
    authorizer_appid: &str,
) -> Result<Option<AuthorizationRow>> {
    let sql = format!(
        "SELECT {} FROM authorizations WHERE component_appid = $1 AND authorizer_appid = $2",
        AuthorizationRow::COLUMNS
    );
    sqlx::query_as(&sql)
        .bind(component_appid)
        .bind(authorizer_appid)
        .fetch_optional(conn)
        .await
}

// ---- journal and faults --------------------------------------------------------------

/// Appends entries, many rows per statement.
pub async fn insert_journal_rows(conn: &mut PgConnection, rows: &[JournalRow]) -> Result<()> {
    fn column<T>(rows: &[JournalRow], f: impl Fn(&JournalRow) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    sqlx::query(
        "INSERT INTO journal (rid, appid, invoke_time, cost_in_ms, request_url, request_body,
                              request_body_lz4, response_body, client_ip, errcode)
         SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[],
                              $6::TEXT[], $7::BYTEA[], $8::TEXT[], $9::TEXT[], $10::BIGINT[])
         ON CONFLICT (rid) DO NOTHING",
    )
    .bind(column(rows, |r| r.rid.clone()))
    .bind(column(rows, |r| r.appid.clone()))
    .bind(column(rows, |r| r.invoke_time))
    .bind(column(rows, |r| r.cost_in_ms))
    .bind(column(rows, |r| r.request_url.clone()))
    .bind(column(rows, |r| r.request_body.clone()))
    .bind(column(rows, |r| r.request_body_lz4.clone()))
    .bind(column(rows, |r| r.response_body.clone()))
    .bind(column(rows, |r| r.client_ip.clone()))
    .bind(column(rows, |r| r.errcode))
    .execute(conn)
    .await
    .map(|_| ())
}

/// Ids only grow and rows leave from the oldest end, so the newest `max_entries` are the
/// ids above MAX(id) - max_entries (fewer only across sequence gaps). The age and count
/// bounds are two deletes, each on its own index: joined by an OR, the planner walked the
/// whole journal. (A row that both match is deleted once.)
pub async fn prune_journal(conn: &mut PgConnection, retention: Retention) -> Result<()> {
    sqlx::query(
        "WITH by_age AS (DELETE FROM journal WHERE invoke_time < $1)
         DELETE FROM journal WHERE id <= (SELECT MAX(id) FROM journal) - $2",
    )
    .bind(retention.oldest)
    .bind(retention.max_entries)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn journal(conn: &mut PgConnection, filter: &JournalFilter) -> Result<Vec<JournalRow>> {
    let sql = format!(
        "SELECT {} FROM journal
         WHERE ($1::TEXT IS NULL OR appid = $1) AND ($2::TEXT IS NULL OR rid = $2)
         ORDER BY id DESC LIMIT $3",
        JournalRow::COLUMNS
    );
    sqlx::query_as(&sql)
        .bind(&filter.appid)
        .bind(&filter.rid)
        .bind(filter.limit)
        .fetch_all(conn)
        .await
}

pub async fn insert_faults(
    conn: &mut PgConnection,
    appid: &str,
    path: Option<&str>,
    errcodes: &[i64],
    delay_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO faults (appid, path, errcode, delay_ms)
         SELECT $1, $2, e, $4 FROM unnest($3::BIGINT[]) WITH ORDINALITY AS c(e, n) ORDER BY n",
    )
    .bind(appid)
    .bind(path)
    .bind(errcodes)
    .bind(delay_ms)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn delete_faults(
    conn: &mut PgConnection,
    appid: &str,
    path: Option<&str>,
) -> Result<u64> {
    sqlx::query("DELETE FROM faults WHERE appid = $1 AND ($2::TEXT IS NULL OR path = $2)")
        .bind(appid)
        .bind(path)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
}

pub async fn take_fault(
    conn: &mut PgConnection,
    appid: &str,
    path: &str,
) -> Result<Option<FaultRow>> {
    sqlx::query_as(
        "DELETE FROM faults WHERE id = (
             SELECT id FROM faults WHERE appid = $1 AND (path IS NULL OR path = $2)
             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING errcode, delay_ms",
    )
    .bind(appid)
    .bind(path)
    .fetch_optional(conn)
    .await
}

// ---- WeChat Pay v3 (SPEC §11) ----------------------------------------------------------

/// Locks a payment row (the lock uploads and shipping take too); false: no such row.
pub async fn lock_payment(conn: &mut PgConnection, transaction_id: &str) -> Result<bool> {
    sqlx::query_scalar::<_, i32>("SELECT 1 FROM payments WHERE transaction_id = $1 FOR UPDATE")
        .bind(transaction_id)
        .fetch_optional(conn)
        .await
        .map(|row| row.is_some())
}

pub async fn put_payment(conn: &mut PgConnection, payment: &Payment) -> crate::Result<()> {
    let (v3, prepay_id) = crate::payments::v3_columns(payment)?;
    sqlx::query(crate::payments::PUT_PAYMENT)
        .bind(&payment.state)
        .bind(payment.refunded_at)
        .bind(v3)
        .bind(prepay_id)
        .bind(&payment.keys.transaction_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn put_refund(
    conn: &mut PgConnection,
    (refund_id, out_refund_no, due_at): &(String, String, Option<i64>),
    payment: &Payment,
) -> Result<()> {
    sqlx::query(crate::payments::PUT_REFUND)
        .bind(refund_id)
        .bind(&payment.keys.mchid)
        .bind(out_refund_no)
        .bind(&payment.keys.transaction_id)
        .bind(due_at)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn refund_owner(conn: &mut PgConnection, key: &RefundKey) -> Result<Option<String>> {
    match key {
        RefundKey::Id(id) => {
            sqlx::query_scalar(crate::payments::REFUND_BY_ID)
                .bind(id)
                .fetch_optional(conn)
                .await
        }
        RefundKey::Merchant {
            mchid,
            out_refund_no,
        } => {
            sqlx::query_scalar(crate::payments::REFUND_BY_NUMBER)
                .bind(mchid)
                .bind(out_refund_no)
                .fetch_optional(conn)
                .await
        }
    }
}

pub async fn due_refunds(conn: &mut PgConnection, now: i64, limit: i64) -> Result<Vec<String>> {
    sqlx::query_scalar(crate::payments::DUE_REFUNDS)
        .bind(now)
        .bind(limit)
        .fetch_all(conn)
        .await
}

pub async fn payment_id_by_prepay(
    conn: &mut PgConnection,
    prepay_id: &str,
) -> Result<Option<String>> {
    sqlx::query_scalar(crate::payments::BY_PREPAY_ID)
        .bind(prepay_id)
        .fetch_optional(conn)
        .await
}

pub async fn insert_notification(
    conn: &mut PgConnection,
    event: &NewEvent,
    payload: &str,
) -> Result<u64> {
    let (mchid, url) = event
        .notify
        .as_ref()
        .map_or((None, None), |n| (Some(&n.mchid), n.url.as_ref()));
    sqlx::query(crate::events::INSERT_NOTIFICATION)
        .bind(&event.appid)
        .bind(event.event)
        .bind(&event.rule_key)
        .bind(event.at)
        .bind(payload)
        .bind(mchid)
        .bind(url)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
}

pub async fn claim_notifications(
    conn: &mut PgConnection,
    claim: &NotifyClaim,
    real_ms: i64,
) -> Result<Vec<NotificationRow>> {
    sqlx::query_as(crate::events::CLAIM_NOTIFICATIONS)
        .bind(real_ms)
        .bind(claim.due_by)
        .bind(claim.id)
        .bind(&claim.appid)
        .bind(&claim.mchid)
        .bind(claim.limit)
        .bind(real_ms + crate::events::LEASE_MS)
        .fetch_all(conn)
        .await
}

pub async fn finish_notification(
    conn: &mut PgConnection,
    id: i64,
    attempt: &NotifyAttempt,
) -> Result<()> {
    sqlx::query(crate::events::FINISH_NOTIFICATION)
        .bind(attempt.state.as_str())
        .bind(attempt.status)
        .bind(attempt.next_at)
        .bind(&attempt.notification)
        .bind(&attempt.log)
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// A payment or sub-payment row ([`crate::payments::any_row_sql`]).
pub async fn any_payment_row(
    conn: &mut PgConnection,
    key: &userorder_model::shopping::OrderKey,
) -> Result<Option<PaymentRow>> {
    use userorder_model::shopping::OrderKey;
    match key {
        OrderKey::WxPay { transaction_id } => {
            sqlx::query_as(&crate::payments::any_row_sql(false))
                .bind(transaction_id)
                .fetch_optional(conn)
                .await
        }
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => {
            sqlx::query_as(&crate::payments::any_row_sql(true))
                .bind(mchid)
                .bind(out_trade_no)
                .fetch_optional(conn)
                .await
        }
    }
}
