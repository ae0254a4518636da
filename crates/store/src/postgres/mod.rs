//! The PostgreSQL backend, for several server processes on one database. Every decision
//! is one transaction in READ COMMITTED; where a decision reads before it writes, it first
//! locks the rows the decision is about (`SELECT … FOR UPDATE`), always in the order
//! payment → upload, so concurrent uploads, payments and token fetches serialize on the
//! rows they share and nowhere else.
//!
//! Round trips, not the disk, set the rate here. What every request asks — an
//! authenticated call's clock, token, app and fault check, its quota count, a shopping
//! upload — goes through a [`batch::Batcher`]: the requests that queue together are
//! answered by one statement over arrays ([`batched`]). An upload batch is one read of
//! what its uploads are judged against and one guarded statement that archives, upserts,
//! claims and associates them all and commits on its own; quota counts commit without
//! waiting for the WAL flush.
//!
//! The other statements are in [`statements`]; the decisions they feed are `crate::rules`.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use rand::RngCore;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use userorder_model::association::VerifyResult;
use userorder_model::shipping::ShippingInfo;
use userorder_model::shopping::{OrderKey, ShoppingInfo};

mod batch;
mod batched;
mod statements;

use batch::Batcher;
use batched::{
    Asker, CallFactsOp, CountOp, CountRequest, FactsRequest, IssueTokensOp, SaveRequest,
    SaveShoppingOp,
};
use statements as sql;

use crate::payments::{self, PaymentChange};
use crate::records::*;
use crate::rows::*;
use crate::rules::{self, Upload, corrupt, key_cols, ship_all, verify};
use crate::{BatchStats, CallFacts, Result, Store, StoreError};
use userorder_model::ErrCode;

/// How often an upload that lost a race for a new order is tried again: each retry means
/// another upload of the same order committed, so this bounds only pathological contention.
pub(super) const RETRIES: usize = 16;

/// The longest a request waits for a database connection (README, "Reliability").
const ACQUIRE: std::time::Duration = std::time::Duration::from_millis(500);

pub struct PostgresStore {
    pool: PgPool,
    /// (appid, mchid) pairs known to be bound. Bindings are never removed, so a positive
    /// answer stays true on every process; a miss asks the database.
    bound: Mutex<HashSet<(String, String)>>,
    /// What every request asks, one statement per batch (`batch`).
    facts: Batcher<CallFactsOp>,
    counts: Batcher<CountOp>,
    uploads: Batcher<SaveShoppingOp>,
    tokens: Batcher<IssueTokensOp>,
}

impl PostgresStore {
    pub async fn open(url: &str, pool_size: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        // No ping before each checkout (a round trip per checkout): a connection the
        // database dropped fails its next statement, answers -1 once and is closed. A
        // checkout waits at most ACQUIRE: while the database is unreachable, requests are
        // answered -1 within it instead of waiting for the database to come back.
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        // Commits without waiting for the WAL flush: quota counts only (README,
        // "Durability").
        let relaxed = PgPoolOptions::new()
            .max_connections((pool_size / 2).max(1))
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE)
            .connect_with(options.options([("synchronous_commit", "off")]))
            .await?;
        Ok(Self {
            facts: Batcher::start(CallFactsOp(pool.clone())),
            counts: Batcher::start(CountOp(relaxed.clone())),
            uploads: Batcher::start(SaveShoppingOp(pool.clone())),
            tokens: Batcher::start(IssueTokensOp(pool.clone())),
            pool,
            bound: Mutex::new(HashSet::new()),
        })
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        Ok(self.pool.acquire().await?)
    }
}

/// The app a write is for; missing is corrupt (its orders reference it).
async fn app_of(conn: &mut PgConnection, appid: &str) -> Result<App> {
    sql::app(conn, appid)
        .await?
        .map(App::try_from)
        .transpose()?
        .ok_or_else(|| corrupt(format!("no app {appid}")))
}

async fn insert_event(conn: &mut PgConnection, event: &NewEvent, real_ms: i64) -> Result<u64> {
    let payload = serde_json::to_string(&event.payload).map_err(corrupt)?;
    Ok(match event.notify {
        Some(_) => sql::insert_notification(conn, event, &payload).await?,
        None => sql::insert_event(conn, event, &payload, real_ms).await?,
    })
}

/// Marks a payment and its sub-payments paid and associates the uploads that match it.
async fn mark_paid(
    conn: &mut PgConnection,
    transaction_id: &str,
    now: i64,
) -> Result<Option<Payment>> {
    sql::mark_paid(&mut *conn, transaction_id, now).await?;
    let Some(payment) = payment_by_id(&mut *conn, transaction_id).await? else {
        return Ok(None);
    };
    for (key_type, key_a, key_b, body) in sql::unassociated_uploads_of(&mut *conn, &payment).await?
    {
        let info: ShoppingInfo = serde_json::from_str(&body).map_err(corrupt)?;
        if verify(&payment.appid, &Upload::of(&info), Some(&payment)) == VerifyResult::Associated {
            let key = (key_type, key_a.as_str(), key_b.as_str());
            let txid = &payment.keys.transaction_id;
            sql::associate(&mut *conn, &payment.appid, key, txid, now).await?;
        }
    }
    Ok(Some(payment))
}

async fn payment_from(conn: &mut PgConnection, row: Option<PaymentRow>) -> Result<Option<Payment>> {
    let Some(row) = row else {
        return Ok(None);
    };
    let subs = sql::sub_payments(conn, &row.transaction_id).await?;
    Ok(Some(row.into_payment(subs)?))
}

/// A payment or a sub-payment (as a payment of its own).
async fn payment_any(conn: &mut PgConnection, key: &OrderKey) -> Result<Option<Payment>> {
    let row = sql::any_payment_row(&mut *conn, key).await?;
    payment_from(conn, row).await
}

/// Gives a combined v3 payment's sub-payments their own v3 part.
async fn put_sub_v3(conn: &mut PgConnection, payment: &NewPayment) -> Result<()> {
    let Some(master) = &payment.v3 else {
        return Ok(());
    };
    for (i, (keys, _)) in payment.sub_payments.iter().enumerate() {
        let key = OrderKey::WxPay {
            transaction_id: keys.transaction_id.clone(),
        };
        if let (Some(v3), Some(mut sub)) = (
            payments::sub_v3(master, i),
            payment_any(&mut *conn, &key).await?,
        ) {
            sub.v3 = Some(v3);
            sql::put_payment(&mut *conn, &sub).await?;
        }
    }
    Ok(())
}

async fn payment_by_id(conn: &mut PgConnection, transaction_id: &str) -> Result<Option<Payment>> {
    let row = sql::payment_by_id(conn, transaction_id).await?;
    payment_from(conn, row).await
}

/// The payment an upload with this master key refers to.
async fn payment_for_key(conn: &mut PgConnection, key: &OrderKey) -> Result<Option<Payment>> {
    let row = match key {
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => sql::payment_by_out_trade_no(conn, mchid, out_trade_no).await?,
        OrderKey::WxPay { transaction_id } => sql::payment_by_id(conn, transaction_id).await?,
    };
    payment_from(conn, row).await
}

async fn stored_info(conn: &mut PgConnection, row: InfoRow) -> Result<StoredInfo> {
    let info = row.info()?;
    let payment = match row.needs_payment() {
        true => payment_for_key(conn, &info.order_key).await?,
        false => None,
    };
    Ok(row.into_stored(info, payment.as_ref()))
}

async fn try_save_shipping(
    store: &PostgresStore,
    appid: &str,
    info: &ShippingInfo,
    body: &str,
    now: i64,
) -> Result<Option<Saved>> {
    let mut conn = store.conn().await?;
    let key = key_cols(&info.order_key);
    let upload_ns = info.upload_time.unix_nanos();
    let stored = sql::stored_shipping(&mut conn, appid, key).await?;
    let expected = match next_version(stored, upload_ns, body) {
        Ok(version) => version,
        Err(refused) => return Ok(Some(refused)),
    };
    let version = sql::save_shipping(
        &mut conn,
        appid,
        key,
        info.upload_time.as_str(),
        upload_ns,
        body,
        now,
        expected - 1,
    )
    .await?;
    Ok((version == Some(expected)).then_some(Saved::Accepted {
        version: expected,
        associated: false,
    }))
}

/// Runs `attempt` until it settles. Each `None` means another upload of the same order
/// (or the payment) changed in between, so this bounds only pathological contention.
async fn settle<F, Fut>(what: &str, mut attempt: F) -> Result<Saved>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<Saved>>>,
{
    for _ in 0..RETRIES {
        if let Some(saved) = attempt().await? {
            return Ok(saved);
        }
    }
    Err(StoreError::Batch(format!(
        "{what} lost {RETRIES} races for its order in a row"
    )))
}

/// The version an upload gets over what is stored (locked), or the fact that refuses it.
pub(super) fn next_version(
    stored: Option<(StoredUpload, i64)>,
    upload_ns: i64,
    body: &str,
) -> Result<i64, Saved> {
    match stored {
        None => Ok(1),
        Some((stored, version)) => match rules::refusal(&stored, upload_ns, body) {
            Some(refused) => Err(refused),
            None => Ok(version + 1),
        },
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn server_key(&self, name: &str) -> Result<[u8; 32]> {
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        let mut conn = self.conn().await?;
        sql::insert_server_key(&mut conn, name, &fresh).await?;
        sql::server_key(&mut conn, name)
            .await?
            .try_into()
            .map_err(|_| corrupt(format!("server key {name} is not 32 bytes")))
    }

    async fn clock_offset(&self) -> Result<i64> {
        Ok(sql::clock_offset(&mut *self.conn().await?).await?)
    }

    async fn advance_clock(&self, seconds: i64) -> Result<i64> {
        Ok(sql::advance_clock(&mut *self.conn().await?, seconds).await?)
    }

    async fn call_facts(&self, token: &str, path: &str) -> Result<CallFacts> {
        self.facts
            .call(FactsRequest {
                asker: Asker::Token(token.to_owned()),
                path: path.to_owned(),
            })
            .await
    }

    async fn app_facts(&self, appid: &str, path: &str) -> Result<CallFacts> {
        self.facts
            .call(FactsRequest {
                asker: Asker::App(appid.to_owned()),
                path: path.to_owned(),
            })
            .await
    }

    async fn create_app(&self, app: &NewApp) -> Result<Created> {
        Ok(Created::from_inserted(
            sql::insert_app(&mut *self.conn().await?, app).await?,
        ))
    }

    async fn app(&self, appid: &str) -> Result<Option<App>> {
        sql::app(&mut *self.conn().await?, appid)
            .await?
            .map(App::try_from)
            .transpose()
    }

    async fn apps(&self) -> Result<Vec<App>> {
        sql::apps(&mut *self.conn().await?)
            .await?
            .into_iter()
            .map(App::try_from)
            .collect()
    }

    async fn set_app_quota(&self, appid: &str, quota: &Quota) -> Result<bool> {
        Ok(sql::set_app_quota(&mut *self.conn().await?, appid, quota).await?)
    }

    async fn set_trade_management(&self, appid: &str, trade: &TradeManagement) -> Result<bool> {
        Ok(sql::set_trade_management(&mut *self.conn().await?, appid, trade).await?)
    }

    async fn set_msg_jump_path(&self, appid: &str, path: Option<&str>) -> Result<bool> {
        Ok(sql::set_msg_jump_path(&mut *self.conn().await?, appid, path).await?)
    }

    async fn create_merchant(&self, mchid: &str, appids: &[String], now: i64) -> Result<Created> {
        let mut tx = self.pool.begin().await?;
        if !sql::insert_merchant(&mut tx, mchid, now).await? {
            return Ok(Created::Conflict);
        }
        for appid in appids {
            sql::bind_merchant(&mut tx, mchid, appid).await?;
        }
        tx.commit().await?;
        Ok(Created::Created)
    }

    async fn apiv3(&self, mchid: &str) -> Result<Option<Apiv3Record>> {
        sql::apiv3(&mut *self.conn().await?, mchid)
            .await?
            .map(|body| serde_json::from_str(&body).map_err(corrupt))
            .transpose()
    }

    async fn put_apiv3(&self, mchid: &str, record: &Apiv3Record, now: i64) -> Result<bool> {
        let body = serde_json::to_string(record).map_err(corrupt)?;
        Ok(sql::put_apiv3(&mut *self.conn().await?, mchid, &body, now).await?)
    }

    async fn first_unbound_mchid(&self, appid: &str, mchids: &[&str]) -> Result<Option<String>> {
        let unknown: Vec<&str> = {
            let bound = self.bound.lock().unwrap_or_else(PoisonError::into_inner);
            mchids
                .iter()
                .copied()
                .filter(|m| !bound.contains(&(appid.to_owned(), (*m).to_owned())))
                .collect()
        };
        if unknown.is_empty() {
            return Ok(None);
        }
        let found = sql::bound_mchids(&mut *self.conn().await?, appid, &unknown).await?;
        let mut bound = self.bound.lock().unwrap_or_else(PoisonError::into_inner);
        for mchid in &found {
            bound.insert((appid.to_owned(), mchid.clone()));
        }
        Ok(unknown
            .into_iter()
            .find(|m| !found.iter().any(|f| f == m))
            .map(str::to_owned))
    }

    async fn merchants(&self) -> Result<Vec<Merchant>> {
        Ok(merchants(
            sql::merchant_apps(&mut *self.conn().await?).await?,
        ))
    }

    async fn issue_token(&self, token: &NewToken) -> Result<TokenRecord> {
        self.tokens.call(token.clone()).await
    }

    async fn token(&self, token: &str) -> Result<Option<TokenRecord>> {
        sql::token(&mut *self.conn().await?, token)
            .await?
            .map(TokenRecord::try_from)
            .transpose()
    }

    async fn stable_token(&self, mint: &NewToken) -> Result<TokenRecord> {
        let mut tx = self.pool.begin().await?;
        sql::lock_token_owner(&mut tx, mint).await?;
        let record = match sql::current_stable_token(&mut tx, &mint.appid, mint.issued_at).await? {
            Some(row) => TokenRecord::try_from(row)?,
            None => {
                let generations = sql::insert_next_tokens(&mut tx, &[mint], false, false).await?;
                let generation = generations
                    .first()
                    .copied()
                    .ok_or_else(|| corrupt("a stable token was not inserted"))?;
                rules::issued(mint, generation)
            }
        };
        tx.commit().await?;
        Ok(record)
    }

    async fn forced_refreshes_since(&self, appid: &str, since: i64) -> Result<(i64, Option<i64>)> {
        Ok(sql::forced_refreshes_since(&mut *self.conn().await?, appid, since).await?)
    }

    async fn count_call(&self, call: &QuotaCall<'_>) -> Result<QuotaCounts> {
        self.counts
            .call(CountRequest {
                appid: call.appid.to_owned(),
                api: call.api.to_owned(),
                day_start: call.day_start,
                minute_start: call.minute_start,
            })
            .await
    }

    async fn create_payment(&self, payment: &NewPayment) -> Result<Created> {
        let mut tx = self.pool.begin().await?;
        let parent = payment.keys.transaction_id.as_str();
        let rows = std::iter::once((&payment.keys, payment.amount, None)).chain(
            payment
                .sub_payments
                .iter()
                .map(|(keys, amount)| (keys, *amount, Some(parent))),
        );
        for (position, (keys, amount, parent)) in rows.enumerate() {
            if !sql::insert_payment(&mut tx, payment, keys, amount, parent, position as i64).await?
            {
                return Ok(Created::Conflict);
            }
        }
        if payment.v3.is_some()
            && let Some(mut stored) = payment_by_id(&mut tx, &payment.keys.transaction_id).await?
        {
            stored.v3 = payment.v3.clone();
            sql::put_payment(&mut tx, &stored).await?;
            put_sub_v3(&mut tx, payment).await?;
        }
        tx.commit().await?;
        Ok(Created::Created)
    }

    async fn payment(&self, transaction_id: &str) -> Result<Option<Payment>> {
        payment_by_id(&mut *self.conn().await?, transaction_id).await
    }

    async fn payments(&self, filter: &PaymentFilter) -> Result<Vec<Payment>> {
        let mut conn = self.conn().await?;
        let mut payments = Vec::new();
        for id in sql::payment_ids(&mut conn, filter).await? {
            payments.extend(payment_by_id(&mut conn, &id).await?);
        }
        Ok(payments)
    }

    async fn change_payment(
        &self,
        transaction_id: &str,
        change: &PaymentChange,
        now: i64,
    ) -> Result<Option<(payments::Outcome, Payment)>> {
        let mut tx = self.pool.begin().await?;
        if !sql::lock_payment(&mut tx, transaction_id).await? {
            return Ok(None);
        }
        let key = OrderKey::WxPay {
            transaction_id: transaction_id.to_owned(),
        };
        let Some(mut payment) = payment_any(&mut tx, &key).await? else {
            return Ok(None);
        };
        let mut change = change.clone();
        if let PaymentChange::Refund { refund, taken } = &mut change {
            let key = RefundKey::Merchant {
                mchid: payment.keys.mchid.clone(),
                out_refund_no: refund.out_refund_no.clone(),
            };
            *taken = sql::refund_owner(&mut tx, &key)
                .await?
                .is_some_and(|id| id != transaction_id);
        }
        let verdict = payments::judge(&mut payment, &change, now);
        if verdict.paid {
            mark_paid(&mut tx, transaction_id, now).await?;
        }
        if verdict.write {
            sql::put_payment(&mut tx, &payment).await?;
        }
        for refund in &verdict.refunds {
            sql::put_refund(&mut tx, refund, &payment).await?;
        }
        let real_ms = crate::events::real_ms();
        for event in &verdict.events {
            insert_event(&mut tx, event, real_ms).await?;
        }
        let payment = match verdict.paid {
            true => payment_any(&mut tx, &key).await?.unwrap_or(payment),
            false => payment,
        };
        tx.commit().await?;
        Ok(Some((verdict.outcome, payment)))
    }

    async fn payment_any(&self, key: &OrderKey) -> Result<Option<Payment>> {
        payment_any(&mut *self.conn().await?, key).await
    }

    async fn payment_by_prepay(&self, prepay_id: &str) -> Result<Option<Payment>> {
        let mut conn = self.conn().await?;
        match sql::payment_id_by_prepay(&mut conn, prepay_id).await? {
            Some(id) => payment_by_id(&mut conn, &id).await,
            None => Ok(None),
        }
    }

    async fn refund_owner(&self, key: &RefundKey) -> Result<Option<String>> {
        Ok(sql::refund_owner(&mut *self.conn().await?, key).await?)
    }

    async fn due_refunds(&self, now: i64, limit: i64) -> Result<Vec<String>> {
        Ok(sql::due_refunds(&mut *self.conn().await?, now, limit).await?)
    }

    async fn ship(&self, orders: &ShipOrders) -> Result<std::result::Result<(), ErrCode>> {
        let mut tx = self.pool.begin().await?;
        // Each order's payment row is the lock uploads for it queue on; taken in
        // transaction_id order, so two combined uploads cannot deadlock.
        let mut locking: Vec<&str> = orders.orders.iter().map(|(id, _)| id.as_str()).collect();
        locking.sort_unstable();
        for transaction_id in locking {
            if sql::refunded_at_for_update(&mut tx, transaction_id)
                .await?
                .is_none()
            {
                return Ok(Err(ErrCode::PAYMENT_NOT_FOUND));
            }
        }
        let mut stored = Vec::with_capacity(orders.orders.len());
        for (transaction_id, _) in &orders.orders {
            let order = match sql::order_by_id(&mut tx, transaction_id).await? {
                Some(row) => row.into_order(&orders.appid, orders.now)?,
                None => None,
            };
            let Some(order) = order else {
                return Ok(Err(ErrCode::PAYMENT_NOT_FOUND));
            };
            stored.push(order);
        }
        let app = app_of(&mut tx, &orders.appid).await?;
        let shipped = match ship_all(&stored, &app.trade, orders) {
            Ok(shipped) => shipped,
            Err(code) => return Ok(Err(code)), // rolled back: nothing written
        };
        let real_ms = crate::events::real_ms();
        for done in shipped {
            let body = serde_json::to_string(&done.shipment).map_err(corrupt)?;
            sql::put_shipment(
                &mut tx,
                &done.transaction_id,
                &orders.appid,
                &done.shipment,
                &body,
                orders.now,
            )
            .await?;
            if let Some(event) = done.event {
                insert_event(&mut tx, &event, real_ms).await?;
            }
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn orders_page(&self, filter: &OrderListFilter) -> Result<OrdersPage> {
        let rows = sql::orders_page(&mut *self.conn().await?, filter).await?;
        crate::rows::listed_orders(rows, &filter.appid, filter.now)
    }

    async fn change_order(
        &self,
        appid: Option<&str>,
        key: &PaymentRef,
        change: &OrderChange,
        now: i64,
    ) -> Result<Option<(ChangeOutcome, OrderAndShipping)>> {
        let mut tx = self.pool.begin().await?;
        let Some(found) = sql::order_by_ref(&mut tx, appid.unwrap_or(""), key).await? else {
            return Ok(None);
        };
        // The same lock as uploads for this order take; then read it again under it.
        let transaction_id = found.transaction_id;
        if sql::refunded_at_for_update(&mut tx, &transaction_id)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let Some(row) = sql::order_by_id(&mut tx, &transaction_id).await? else {
            return Ok(None);
        };
        let appid = appid.map_or_else(|| row.appid.clone(), str::to_owned);
        let Some(mut order) = row.into_order(&appid, now)? else {
            return Ok(None);
        };
        let app = app_of(&mut tx, &appid).await?;
        let (outcome, store) = rules::change_order(&mut order, &app.trade, change, now);
        if store {
            let (order, shipment) = &order;
            if let Some(shipment) = shipment {
                let body = serde_json::to_string(shipment).map_err(corrupt)?;
                sql::put_shipment(&mut tx, &transaction_id, &appid, shipment, &body, now).await?;
            }
            let complaints = serde_json::to_string(&order.complaints).map_err(corrupt)?;
            sql::put_order_facts(&mut tx, order, &complaints).await?;
        }
        tx.commit().await?;
        Ok(Some((outcome, order)))
    }

    async fn refund(&self, transaction_id: &str, now: i64) -> Result<Refunded> {
        let mut tx = self.pool.begin().await?;
        let changed = sql::mark_refunded(&mut tx, transaction_id, now).await?;
        let Some(payment) = payment_by_id(&mut tx, transaction_id).await? else {
            return Ok(Refunded::NoSuchPayment);
        };
        tx.commit().await?;
        Ok(match changed {
            0 => Refunded::NotPaid(payment.state),
            _ => Refunded::Refunded(Box::new(payment)),
        })
    }

    async fn order(
        &self,
        appid: &str,
        key: &PaymentRef,
        now: i64,
    ) -> Result<Option<OrderAndShipping>> {
        match sql::order_by_ref(&mut *self.conn().await?, appid, key).await? {
            Some(row) => row.into_order(appid, now),
            None => Ok(None),
        }
    }

    async fn set_push(&self, appid: &str, push: Option<&Push>) -> Result<bool> {
        Ok(sql::set_push(&mut *self.conn().await?, appid, push).await?)
    }

    async fn sweep_events(&self, now: i64, real_ms: i64) -> Result<u64> {
        let mut conn = self.conn().await?;
        let facts = crate::events::SweepFacts {
            apps: sql::apps(&mut conn)
                .await?
                .into_iter()
                .map(App::try_from)
                .collect::<Result<_>>()?,
            access: sql::access_facts(&mut conn).await?,
            remind: sql::remind_candidates(&mut conn, now).await?,
            settle: sql::settle_candidates(&mut conn, now).await?,
        };
        // Each insert stands alone: a rule_key another process recorded first is skipped.
        let mut recorded = 0;
        for event in crate::events::due(facts, now)? {
            recorded += insert_event(&mut conn, &event, real_ms).await?;
        }
        Ok(recorded)
    }

    async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        sql::events(&mut *self.conn().await?, filter)
            .await?
            .into_iter()
            .map(Event::try_from)
            .collect()
    }

    async fn claim_deliveries(&self, real_ms: i64, limit: i64) -> Result<Vec<DeliveryJob>> {
        let until = real_ms + crate::events::LEASE_MS;
        Ok(
            sql::claim_deliveries(&mut *self.conn().await?, real_ms, until, limit)
                .await?
                .into_iter()
                .filter_map(DeliveryRow::into_job)
                .collect(),
        )
    }

    async fn finish_delivery(&self, id: i64, outcome: Delivered) -> Result<()> {
        Ok(sql::finish_delivery(&mut *self.conn().await?, id, outcome).await?)
    }

    async fn claim_notifications(
        &self,
        claim: &NotifyClaim,
        real_ms: i64,
    ) -> Result<Vec<NotifyJob>> {
        let rows = sql::claim_notifications(&mut *self.conn().await?, claim, real_ms).await?;
        Ok(rows
            .into_iter()
            .filter_map(NotificationRow::into_job)
            .collect())
    }

    async fn finish_notification(&self, id: i64, attempt: &NotifyAttempt) -> Result<()> {
        Ok(sql::finish_notification(&mut *self.conn().await?, id, attempt).await?)
    }

    async fn save_shopping_info(
        &self,
        appid: &str,
        info: &ShoppingInfo,
        now: i64,
    ) -> Result<Saved> {
        self.uploads
            .call(SaveRequest {
                appid: appid.to_owned(),
                upload: Upload::of(info),
                body: serde_json::to_string(info).map_err(corrupt)?,
                now,
            })
            .await
    }

    async fn shopping_info(&self, appid: &str, key: &OrderKey) -> Result<Option<StoredInfo>> {
        let mut conn = self.conn().await?;
        match sql::shopping_info(&mut conn, appid, key_cols(key)).await? {
            Some(row) => Ok(Some(stored_info(&mut conn, row).await?)),
            None => Ok(None),
        }
    }

    async fn shopping_infos(&self, filter: &UploadFilter) -> Result<Vec<StoredInfo>> {
        let mut conn = self.conn().await?;
        let (listing, binds) = rules::upload_listing(filter, '$');
        let rows =
            sql::shopping_infos(&mut conn, &listing, &binds, filter.limit, filter.offset).await?;
        let mut infos = Vec::with_capacity(rows.len());
        for row in rows {
            infos.push(stored_info(&mut conn, row).await?);
        }
        Ok(infos)
    }

    async fn shopping_info_versions(
        &self,
        appid: &str,
        key: &OrderKey,
    ) -> Result<Vec<StoredVersion>> {
        sql::versions(
            &mut *self.conn().await?,
            "shopping_infos",
            "shopping_info_versions",
            appid,
            key_cols(key),
        )
        .await?
        .into_iter()
        .map(VersionRow::into_version)
        .collect()
    }

    async fn payment_for_key(&self, key: &OrderKey) -> Result<Option<Payment>> {
        payment_for_key(&mut *self.conn().await?, key).await
    }

    async fn save_shipping_info(
        &self,
        appid: &str,
        info: &ShippingInfo,
        now: i64,
    ) -> Result<Saved> {
        let body = serde_json::to_string(info).map_err(corrupt)?;
        settle("shipping upload", || {
            try_save_shipping(self, appid, info, &body, now)
        })
        .await
    }

    async fn shipping_info(&self, appid: &str, key: &OrderKey) -> Result<Option<StoredShipping>> {
        sql::shipping_info(&mut *self.conn().await?, appid, key_cols(key))
            .await?
            .map(|row| row.into_stored(appid))
            .transpose()
    }

    async fn shipping_info_versions(
        &self,
        appid: &str,
        key: &OrderKey,
    ) -> Result<Vec<StoredVersion<ShippingInfo>>> {
        sql::versions(
            &mut *self.conn().await?,
            "shipping_infos",
            "shipping_info_versions",
            appid,
            key_cols(key),
        )
        .await?
        .into_iter()
        .map(VersionRow::into_version)
        .collect()
    }

    async fn transition_product_state(
        &self,
        appid: &str,
        from: ProductState,
        to: ProductState,
        review_due_at: Option<i64>,
        last_review_result: Option<&str>,
    ) -> Result<bool> {
        Ok(sql::transition_product_state(
            &mut *self.conn().await?,
            appid,
            from,
            to,
            review_due_at,
            last_review_result,
        )
        .await?)
    }

    async fn create_component(&self, component: &Component) -> Result<Created> {
        Ok(Created::from_inserted(
            sql::insert_component(&mut *self.conn().await?, component).await?,
        ))
    }

    async fn component(&self, component_appid: &str) -> Result<Option<Component>> {
        Ok(sql::component(&mut *self.conn().await?, component_appid)
            .await?
            .map(Into::into))
    }

    async fn authorize(
        &self,
        authorization: &Authorization,
        code: &str,
        code_expires_at: i64,
    ) -> Result<()> {
        let funcscope = serde_json::to_string(&authorization.funcscope).map_err(corrupt)?;
        let mut tx = self.pool.begin().await?;
        sql::upsert_authorization(&mut tx, authorization, &funcscope).await?;
        sql::insert_authorization_code(&mut tx, code, authorization, code_expires_at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn redeem_authorization_code(
        &self,
        component_appid: &str,
        code: &str,
        now: i64,
    ) -> Result<Option<Authorization>> {
        let mut tx = self.pool.begin().await?;
        let Some(authorizer) =
            sql::spend_authorization_code(&mut tx, component_appid, code, now).await?
        else {
            return Ok(None);
        };
        let authorization = sql::authorization(&mut tx, component_appid, &authorizer)
            .await?
            .map(Authorization::try_from)
            .transpose()?;
        tx.commit().await?;
        Ok(authorization)
    }

    async fn authorization(
        &self,
        component_appid: &str,
        authorizer_appid: &str,
    ) -> Result<Option<Authorization>> {
        sql::authorization(&mut *self.conn().await?, component_appid, authorizer_appid)
            .await?
            .map(Authorization::try_from)
            .transpose()
    }

    async fn record_requests(&self, entries: &[JournalEntry]) -> Result<()> {
        let rows: Vec<JournalRow> = entries.iter().map(JournalRow::packed).collect();
        sql::insert_journal_rows(&mut *self.conn().await?, &rows).await?;
        Ok(())
    }

    async fn prune_journal(&self, retention: Retention) -> Result<()> {
        sql::prune_journal(&mut *self.conn().await?, retention).await?;
        Ok(())
    }

    async fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>> {
        sql::journal(&mut *self.conn().await?, filter)
            .await?
            .into_iter()
            .map(JournalEntry::try_from)
            .collect()
    }

    async fn add_faults(
        &self,
        appid: &str,
        path: Option<&str>,
        errcodes: &[i64],
        delay_ms: i64,
    ) -> Result<()> {
        Ok(sql::insert_faults(&mut *self.conn().await?, appid, path, errcodes, delay_ms).await?)
    }

    async fn clear_faults(&self, appid: &str, path: Option<&str>) -> Result<u64> {
        Ok(sql::delete_faults(&mut *self.conn().await?, appid, path).await?)
    }

    /// One statement: a DELETE that finds nothing writes nothing and commits without a
    /// WAL flush, so no read is needed first (`call_facts` spares most calls even this).
    fn batch_stats(&self) -> Vec<BatchStats> {
        vec![
            self.facts.stats("call_facts"),
            self.counts.stats("count_call"),
            self.uploads.stats("save_shopping_info"),
            self.tokens.stats("issue_token"),
        ]
    }

    async fn take_fault(&self, appid: &str, path: &str) -> Result<Option<Fault>> {
        Ok(sql::take_fault(&mut *self.conn().await?, appid, path)
            .await?
            .map(Into::into))
    }
}
