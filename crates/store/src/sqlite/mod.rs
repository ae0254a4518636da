//! The SQLite backend: one file in WAL mode, `synchronous=FULL` so that a committed upload
//! survives power loss.
//!
//! - **Writes** are jobs for the one writer thread ([`writer`]), which owns the write
//!   connection and group-commits whatever is queued inside `BEGIN IMMEDIATE` (it takes the
//!   write lock up front and waits on `busy_timeout` when another process holds it).
//! - **Reads** run on the calling task itself, on a connection of a small pool, through
//!   cached prepared statements: every read here is an index lookup or a short page of a
//!   listing, cheaper than a hand-off to another thread, and in WAL mode readers never wait
//!   for the writer.
//! - **Quota counts** are kept in memory and written with every batch ([`quotas`]).
//!
//! The statements are in [`statements`]; the decisions they feed are `crate::rules`.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rand::RngCore;
use rusqlite::{Connection, OpenFlags};
use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use userorder_model::association::VerifyResult;
use userorder_model::shipping::ShippingInfo;
use userorder_model::shopping::{OrderKey, ShoppingInfo, UploadTime};

mod quotas;
mod statements;
mod writer;

use quotas::QuotaBook;
use statements as sql;
use writer::{Finish, Writer};

use crate::payments::{self, PaymentChange};
use crate::records::*;
use crate::rows::*;
use crate::rules::{self, Upload, corrupt, key_cols, ship_all, verify};
use crate::{CallFacts, Result, Store, StoreError};
use userorder_model::ErrCode;

/// Idle read connections kept for reuse.
const IDLE_READERS: usize = 8;

pub struct SqliteStore {
    writer: Writer,
    readers: Readers,
    quotas: Arc<QuotaBook>,
}

/// Opens a connection with the settings every connection of the store shares.
fn open_connection(path: &Path, cache_kib: i64) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Runs `read` on an idle connection (or a new one), on the calling thread.
    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_connection(&self.path, 8 * 1024)?,
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self> {
        // sqlx creates the file, sets WAL mode (persistent) and runs the migrations, so
        // existing databases keep their migration history.
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let path = options.get_filename().to_path_buf();
        let mut migrator = SqliteConnection::connect_with(&options).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut migrator)
            .await?;
        migrator.close().await?;

        // The writer's page cache survives its own commits, so a larger one saves
        // re-reading index pages on every write: 32 MiB.
        let conn = open_connection(&path, 32 * 1024)?;
        // Checkpoints run on a thread of their own (below), not inside a commit of the
        // writer's, where they held every queued upload for milliseconds; this bound only
        // stops the WAL from growing without end should that thread fall behind.
        conn.pragma_update(None, "wal_autocheckpoint", 20_000)?;
        let checkpoints = open_connection(&path, 1024)?;
        let quotas = Arc::new(QuotaBook::default());
        let writer = Writer::start(conn, checkpoints, quotas.clone())
            .map_err(|e| StoreError::Batch(format!("cannot start the SQLite writer: {e}")))?;
        let readers = Readers {
            path,
            idle: Mutex::new(Vec::new()),
        };
        // Fail at start, not on the first request, if the file cannot be read.
        readers.read(|conn| Ok(sql::clock_offset(conn)?))?;
        Ok(Self {
            writer,
            readers,
            quotas,
        })
    }

    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.readers.read(read)
    }

    /// Runs `job` in the writer's next batch; see [`writer`] (why a job may run twice).
    async fn write<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<Finish<T>> + Send + 'static,
    {
        self.writer.write(job).await
    }

    /// Test support: a write job that panics, to show the writer outlives it.
    #[cfg(feature = "testing")]
    pub async fn write_panicking_job(&self) -> Result<()> {
        self.write(|conn| {
            sql::advance_clock(conn, 1)?;
            panic!("a deliberately failing write job");
        })
        .await
    }
}

/// The app a write is for; missing is corrupt (its orders reference it).
fn app_of(conn: &Connection, appid: &str) -> Result<App> {
    sql::app(conn, appid)?
        .map(App::try_from)
        .transpose()?
        .ok_or_else(|| corrupt(format!("no app {appid}")))
}

fn insert_event(conn: &Connection, event: &NewEvent, real_ms: i64) -> Result<u64> {
    let payload = serde_json::to_string(&event.payload).map_err(corrupt)?;
    Ok(match event.notify {
        Some(_) => sql::insert_notification(conn, event, &payload)?,
        None => sql::insert_event(conn, event, &payload, real_ms)?,
    })
}

/// Marks a payment and its sub-payments paid and associates the uploads that match it.
fn mark_paid(conn: &Connection, transaction_id: &str, now: i64) -> Result<Option<Payment>> {
    sql::mark_paid(conn, transaction_id, now)?;
    let Some(payment) = payment_by_id(conn, transaction_id)? else {
        return Ok(None);
    };
    for (key_type, key_a, key_b, body) in sql::unassociated_uploads_of(conn, &payment)? {
        let info: ShoppingInfo = serde_json::from_str(&body).map_err(corrupt)?;
        if verify(&payment.appid, &Upload::of(&info), Some(&payment)) == VerifyResult::Associated {
            let key = (key_type, key_a.as_str(), key_b.as_str());
            sql::associate(conn, &payment.appid, key, &payment.keys.transaction_id, now)?;
        }
    }
    Ok(Some(payment))
}

fn payment_from(conn: &Connection, row: Option<PaymentRow>) -> Result<Option<Payment>> {
    let Some(row) = row else {
        return Ok(None);
    };
    let subs = sql::sub_payments(conn, &row.transaction_id)?;
    Ok(Some(row.into_payment(subs)?))
}

fn payment_by_id(conn: &Connection, transaction_id: &str) -> Result<Option<Payment>> {
    payment_from(conn, sql::payment_by_id(conn, transaction_id)?)
}

/// A payment or a sub-payment (as a payment of its own).
fn payment_any(conn: &Connection, key: &OrderKey) -> Result<Option<Payment>> {
    payment_from(conn, sql::any_payment_row(conn, key)?)
}

/// Gives a combined v3 payment's sub-payments their own v3 part.
fn put_sub_v3(conn: &Connection, payment: &NewPayment) -> Result<()> {
    let Some(master) = &payment.v3 else {
        return Ok(());
    };
    for (i, (keys, _)) in payment.sub_payments.iter().enumerate() {
        let key = OrderKey::WxPay {
            transaction_id: keys.transaction_id.clone(),
        };
        if let (Some(v3), Some(mut sub)) = (payments::sub_v3(master, i), payment_any(conn, &key)?) {
            sub.v3 = Some(v3);
            sql::put_payment(conn, &sub)?;
        }
    }
    Ok(())
}

/// The payment an upload with this master key refers to.
fn payment_for_key(conn: &Connection, key: &OrderKey) -> Result<Option<Payment>> {
    let row = match key {
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => sql::payment_by_out_trade_no(conn, mchid, out_trade_no)?,
        OrderKey::WxPay { transaction_id } => sql::payment_by_id(conn, transaction_id)?,
    };
    payment_from(conn, row)
}

fn stored_info(conn: &Connection, row: InfoRow) -> Result<StoredInfo> {
    let info = row.info()?;
    let payment = match row.needs_payment() {
        true => payment_for_key(conn, &info.order_key)?,
        false => None,
    };
    Ok(row.into_stored(info, payment.as_ref()))
}

/// Inserts a token as the next generation of its owner's line.
fn insert_token(conn: &Connection, new: &NewToken) -> Result<TokenRecord> {
    let generation = sql::next_generation(conn, new)?;
    // Tokens long past their lifetime answer 40001 like unknown ones; keep a day of them
    // so a recently expired token still answers 42001.
    sql::delete_tokens_expired_before(conn, &new.appid, new.issued_at - 86_400)?;
    sql::insert_token(conn, new, generation)?;
    Ok(rules::issued(new, generation))
}

/// Saves shopping details under the ordering rule (SPEC §5.4), claims sub-order keys and
/// associates with a paid payment, inside the writer's transaction.
fn save_shopping(
    conn: &Connection,
    appid: &str,
    upload: &Upload,
    body: &str,
    now: i64,
) -> Result<Finish<Saved>> {
    let key = key_cols(&upload.order_key);
    let upload_ns = upload.upload_ns;
    let payment = payment_for_key(conn, &upload.order_key)?;
    let association = rules::association(appid, upload, payment.as_ref());
    // One writer at a time, so there is no need to read first: when the upsert declines,
    // what is stored says why.
    sql::archive_shopping(conn, appid, key, upload_ns)?;
    let version = sql::upsert_shopping(
        conn,
        appid,
        key,
        upload.combined,
        &upload.openid,
        &upload.upload_time,
        upload_ns,
        body,
        now,
        association,
    )?;
    let Some(version) = version else {
        // The archive and the upsert share one condition: a declined upsert wrote nothing.
        let stored = sql::stored_shopping(conn, appid, key)?;
        return Ok(Finish::Commit(rules::declined(stored, upload_ns, body)));
    };
    if version > 1 {
        sql::release_sub_orders(conn, appid, key)?;
    }
    let subs = &upload.sub_order_keys;
    let mut claimed = Vec::with_capacity(subs.len());
    for sub in subs {
        let (_, sub_a, sub_b) = key_cols(sub);
        if !sql::claim_sub_order(conn, appid, key, (sub_a, sub_b))? {
            break;
        }
        claimed.push((sub_a.to_owned(), sub_b.to_owned()));
    }
    if let Some(taken) = rules::taken_sub_order(subs, &claimed) {
        return Ok(Finish::Rollback(Saved::SubOrderTaken {
            key: taken.clone(),
        }));
    }
    Ok(Finish::Commit(Saved::Accepted {
        version,
        associated: association.is_some(),
    }))
}

fn save_shipping(
    conn: &Connection,
    appid: &str,
    (order_key, upload_time): &(OrderKey, UploadTime),
    body: &str,
    now: i64,
) -> Result<Finish<Saved>> {
    let key = key_cols(order_key);
    let upload_ns = upload_time.unix_nanos();
    sql::archive_shipping(conn, appid, key, upload_ns)?;
    let version =
        sql::upsert_shipping(conn, appid, key, upload_time.as_str(), upload_ns, body, now)?;
    match version {
        Some(version) => Ok(Finish::Commit(Saved::Accepted {
            version,
            associated: false,
        })),
        None => {
            // As for shopping details: a declined upsert wrote nothing.
            let stored = sql::stored_shipping(conn, appid, key)?;
            Ok(Finish::Commit(rules::declined(stored, upload_ns, body)))
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn server_key(&self, name: &str) -> Result<[u8; 32]> {
        let name = name.to_owned();
        self.write(move |conn| {
            let mut fresh = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut fresh);
            sql::insert_server_key(conn, &name, &fresh)?;
            let key: [u8; 32] = sql::server_key(conn, &name)?
                .try_into()
                .map_err(|_| corrupt(format!("server key {name} is not 32 bytes")))?;
            Ok(Finish::Commit(key))
        })
        .await
    }

    async fn clock_offset(&self) -> Result<i64> {
        self.read(|conn| Ok(sql::clock_offset(conn)?))
    }

    async fn advance_clock(&self, seconds: i64) -> Result<i64> {
        self.write(move |conn| Ok(Finish::Commit(sql::advance_clock(conn, seconds)?)))
            .await
    }

    async fn call_facts(&self, token: &str, path: &str) -> Result<CallFacts> {
        self.read(|conn| {
            let token = sql::token(conn, token)?
                .map(TokenRecord::try_from)
                .transpose()?;
            let (app, fault_queued) = match &token {
                Some(record) => (
                    sql::app(conn, &record.appid)?
                        .map(App::try_from)
                        .transpose()?,
                    sql::fault_queued(conn, &record.appid, path)?,
                ),
                None => (None, false),
            };
            Ok(CallFacts {
                clock_offset: sql::clock_offset(conn)?,
                token,
                app,
                fault_queued,
            })
        })
    }

    async fn app_facts(&self, appid: &str, path: &str) -> Result<CallFacts> {
        self.read(|conn| {
            let app = sql::app(conn, appid)?.map(App::try_from).transpose()?;
            Ok(CallFacts {
                clock_offset: sql::clock_offset(conn)?,
                fault_queued: app.is_some() && sql::fault_queued(conn, appid, path)?,
                token: None,
                app,
            })
        })
    }

    async fn create_app(&self, app: &NewApp) -> Result<Created> {
        let app = app.clone();
        self.write(move |conn| {
            Ok(Finish::Commit(Created::from_inserted(sql::insert_app(
                conn, &app,
            )?)))
        })
        .await
    }

    async fn app(&self, appid: &str) -> Result<Option<App>> {
        self.read(|conn| sql::app(conn, appid)?.map(App::try_from).transpose())
    }

    async fn apps(&self) -> Result<Vec<App>> {
        self.read(|conn| sql::apps(conn)?.into_iter().map(App::try_from).collect())
    }

    async fn set_app_quota(&self, appid: &str, quota: &Quota) -> Result<bool> {
        let (appid, quota) = (appid.to_owned(), quota.clone());
        self.write(move |conn| Ok(Finish::Commit(sql::set_app_quota(conn, &appid, &quota)?)))
            .await
    }

    async fn set_trade_management(&self, appid: &str, trade: &TradeManagement) -> Result<bool> {
        let (appid, trade) = (appid.to_owned(), *trade);
        self.write(move |conn| {
            Ok(Finish::Commit(sql::set_trade_management(
                conn, &appid, &trade,
            )?))
        })
        .await
    }

    async fn set_msg_jump_path(&self, appid: &str, path: Option<&str>) -> Result<bool> {
        let (appid, path) = (appid.to_owned(), path.map(str::to_owned));
        self.write(move |conn| {
            Ok(Finish::Commit(sql::set_msg_jump_path(
                conn,
                &appid,
                path.as_deref(),
            )?))
        })
        .await
    }

    async fn create_merchant(&self, mchid: &str, appids: &[String], now: i64) -> Result<Created> {
        let (mchid, appids) = (mchid.to_owned(), appids.to_vec());
        self.write(move |conn| {
            if !sql::insert_merchant(conn, &mchid, now)? {
                return Ok(Finish::Commit(Created::Conflict)); // nothing written
            }
            for appid in &appids {
                sql::bind_merchant(conn, &mchid, appid)?;
            }
            Ok(Finish::Commit(Created::Created))
        })
        .await
    }

    async fn apiv3(&self, mchid: &str) -> Result<Option<Apiv3Record>> {
        self.read(|conn| {
            sql::apiv3(conn, mchid)?
                .map(|body| serde_json::from_str(&body).map_err(corrupt))
                .transpose()
        })
    }

    async fn put_apiv3(&self, mchid: &str, record: &Apiv3Record, now: i64) -> Result<bool> {
        let (mchid, body) = (
            mchid.to_owned(),
            serde_json::to_string(record).map_err(corrupt)?,
        );
        self.write(move |conn| Ok(Finish::Commit(sql::put_apiv3(conn, &mchid, &body, now)?)))
            .await
    }

    async fn first_unbound_mchid(&self, appid: &str, mchids: &[&str]) -> Result<Option<String>> {
        self.read(|conn| {
            for mchid in mchids {
                if !sql::merchant_bound(conn, mchid, appid)? {
                    return Ok(Some((*mchid).to_owned()));
                }
            }
            Ok(None)
        })
    }

    async fn merchants(&self) -> Result<Vec<Merchant>> {
        self.read(|conn| Ok(merchants(sql::merchant_apps(conn)?)))
    }

    async fn issue_token(&self, token: &NewToken) -> Result<TokenRecord> {
        let token = token.clone();
        self.write(move |conn| {
            match token.kind {
                // A new generation: the previous one keeps working through its grace period.
                TokenKind::Basic | TokenKind::Component | TokenKind::Authorizer => {
                    sql::supersede_tokens(conn, &token)?
                }
                TokenKind::Stable => sql::revoke_stable_tokens(conn, &token.appid)?,
            }
            Ok(Finish::Commit(insert_token(conn, &token)?))
        })
        .await
    }

    async fn token(&self, token: &str) -> Result<Option<TokenRecord>> {
        self.read(|conn| {
            sql::token(conn, token)?
                .map(TokenRecord::try_from)
                .transpose()
        })
    }

    async fn stable_token(&self, mint: &NewToken) -> Result<TokenRecord> {
        let mint = mint.clone();
        self.write(move |conn| {
            let record = match sql::current_stable_token(conn, &mint.appid, mint.issued_at)? {
                Some(row) => TokenRecord::try_from(row)?,
                None => insert_token(conn, &mint)?,
            };
            Ok(Finish::Commit(record))
        })
        .await
    }

    async fn forced_refreshes_since(&self, appid: &str, since: i64) -> Result<(i64, Option<i64>)> {
        self.read(|conn| Ok(sql::forced_refreshes_since(conn, appid, since)?))
    }

    /// Counted in memory; the writer writes the counts with its next batch, or within half a
    /// second (a crash may forget those calls, never an upload).
    async fn count_call(&self, call: &QuotaCall<'_>) -> Result<QuotaCounts> {
        self.quotas.count(call, |window| {
            self.read(|conn| Ok(sql::quota_count(conn, window)?))
        })
    }

    async fn create_payment(&self, payment: &NewPayment) -> Result<Created> {
        let payment = payment.clone();
        self.write(move |conn| {
            let parent = payment.keys.transaction_id.as_str();
            let rows = std::iter::once((&payment.keys, payment.amount, None)).chain(
                payment
                    .sub_payments
                    .iter()
                    .map(|(keys, amount)| (keys, *amount, Some(parent))),
            );
            for (position, (keys, amount, parent)) in rows.enumerate() {
                if !sql::insert_payment(conn, &payment, keys, amount, parent, position as i64)? {
                    return Ok(Finish::Rollback(Created::Conflict));
                }
            }
            if payment.v3.is_some()
                && let Some(mut stored) = payment_by_id(conn, &payment.keys.transaction_id)?
            {
                stored.v3 = payment.v3.clone();
                sql::put_payment(conn, &stored)?;
                put_sub_v3(conn, &payment)?;
            }
            Ok(Finish::Commit(Created::Created))
        })
        .await
    }

    async fn payment(&self, transaction_id: &str) -> Result<Option<Payment>> {
        self.read(|conn| payment_by_id(conn, transaction_id))
    }

    async fn payments(&self, filter: &PaymentFilter) -> Result<Vec<Payment>> {
        self.read(|conn| {
            let mut payments = Vec::new();
            for id in sql::payment_ids(conn, filter)? {
                payments.extend(payment_by_id(conn, &id)?);
            }
            Ok(payments)
        })
    }

    async fn change_payment(
        &self,
        transaction_id: &str,
        change: &PaymentChange,
        now: i64,
    ) -> Result<Option<(payments::Outcome, Payment)>> {
        let (transaction_id, change) = (transaction_id.to_owned(), change.clone());
        self.write(move |conn| {
            let key = OrderKey::WxPay {
                transaction_id: transaction_id.clone(),
            };
            let Some(mut payment) = payment_any(conn, &key)? else {
                return Ok(Finish::Commit(None));
            };
            let mut change = change.clone();
            if let PaymentChange::Refund { refund, taken } = &mut change {
                let key = RefundKey::Merchant {
                    mchid: payment.keys.mchid.clone(),
                    out_refund_no: refund.out_refund_no.clone(),
                };
                *taken = sql::refund_owner(conn, &key)?.is_some_and(|id| id != transaction_id);
            }
            let verdict = payments::judge(&mut payment, &change, now);
            if verdict.paid {
                mark_paid(conn, &transaction_id, now)?;
            }
            if verdict.write {
                sql::put_payment(conn, &payment)?;
            }
            for refund in &verdict.refunds {
                sql::put_refund(conn, refund, &payment)?;
            }
            let real_ms = crate::events::real_ms();
            for event in &verdict.events {
                insert_event(conn, event, real_ms)?;
            }
            let payment = match verdict.paid {
                true => payment_any(conn, &key)?.unwrap_or(payment),
                false => payment,
            };
            Ok(Finish::Commit(Some((verdict.outcome, payment))))
        })
        .await
    }

    async fn payment_any(&self, key: &OrderKey) -> Result<Option<Payment>> {
        self.read(|conn| payment_any(conn, key))
    }

    async fn payment_by_prepay(&self, prepay_id: &str) -> Result<Option<Payment>> {
        self.read(|conn| match sql::payment_id_by_prepay(conn, prepay_id)? {
            Some(id) => payment_by_id(conn, &id),
            None => Ok(None),
        })
    }

    async fn refund_owner(&self, key: &RefundKey) -> Result<Option<String>> {
        self.read(|conn| Ok(sql::refund_owner(conn, key)?))
    }

    async fn due_refunds(&self, now: i64, limit: i64) -> Result<Vec<String>> {
        self.read(|conn| Ok(sql::due_refunds(conn, now, limit)?))
    }

    async fn ship(&self, orders: &ShipOrders) -> Result<std::result::Result<(), ErrCode>> {
        let orders = orders.clone();
        self.write(move |conn| {
            let mut stored = Vec::with_capacity(orders.orders.len());
            for (transaction_id, _) in &orders.orders {
                let order = match sql::order_by_id(conn, transaction_id)? {
                    Some(row) => row.into_order(&orders.appid, orders.now)?,
                    None => None,
                };
                let Some(order) = order else {
                    return Ok(Finish::Commit(Err(ErrCode::PAYMENT_NOT_FOUND)));
                };
                stored.push(order);
            }
            let app = app_of(conn, &orders.appid)?;
            let shipped = match ship_all(&stored, &app.trade, &orders) {
                Ok(shipped) => shipped,
                Err(code) => return Ok(Finish::Commit(Err(code))), // nothing written
            };
            let real_ms = crate::events::real_ms();
            for done in shipped {
                let body = serde_json::to_string(&done.shipment).map_err(corrupt)?;
                sql::put_shipment(
                    conn,
                    &done.transaction_id,
                    &orders.appid,
                    &done.shipment,
                    &body,
                    orders.now,
                )?;
                if let Some(event) = done.event {
                    insert_event(conn, &event, real_ms)?;
                }
            }
            Ok(Finish::Commit(Ok(())))
        })
        .await
    }

    async fn orders_page(&self, filter: &OrderListFilter) -> Result<OrdersPage> {
        self.read(|conn| {
            let rows = sql::orders_page(conn, filter)?;
            crate::rows::listed_orders(rows, &filter.appid, filter.now)
        })
    }

    async fn change_order(
        &self,
        appid: Option<&str>,
        key: &PaymentRef,
        change: &OrderChange,
        now: i64,
    ) -> Result<Option<(ChangeOutcome, OrderAndShipping)>> {
        let (appid, key, change) = (appid.map(str::to_owned), key.clone(), change.clone());
        self.write(move |conn| {
            let Some(row) = sql::order_by_ref(conn, appid.as_deref().unwrap_or(""), &key)? else {
                return Ok(Finish::Commit(None));
            };
            let appid = appid.clone().unwrap_or_else(|| row.appid.clone());
            let Some(mut order) = row.into_order(&appid, now)? else {
                return Ok(Finish::Commit(None));
            };
            let app = app_of(conn, &appid)?;
            let (outcome, store) = rules::change_order(&mut order, &app.trade, &change, now);
            if store {
                let (order, shipment) = &order;
                if let Some(shipment) = shipment {
                    let body = serde_json::to_string(shipment).map_err(corrupt)?;
                    sql::put_shipment(
                        conn,
                        &order.keys.transaction_id,
                        &appid,
                        shipment,
                        &body,
                        now,
                    )?;
                }
                let complaints = serde_json::to_string(&order.complaints).map_err(corrupt)?;
                sql::put_order_facts(conn, order, &complaints)?;
            }
            Ok(Finish::Commit(Some((outcome, order))))
        })
        .await
    }

    async fn refund(&self, transaction_id: &str, now: i64) -> Result<Refunded> {
        let transaction_id = transaction_id.to_owned();
        self.write(move |conn| {
            let changed = sql::mark_refunded(conn, &transaction_id, now)?;
            let Some(payment) = payment_by_id(conn, &transaction_id)? else {
                return Ok(Finish::Commit(Refunded::NoSuchPayment));
            };
            Ok(Finish::Commit(match changed {
                0 => Refunded::NotPaid(payment.state),
                _ => Refunded::Refunded(Box::new(payment)),
            }))
        })
        .await
    }

    async fn order(
        &self,
        appid: &str,
        key: &PaymentRef,
        now: i64,
    ) -> Result<Option<OrderAndShipping>> {
        self.read(|conn| match sql::order_by_ref(conn, appid, key)? {
            Some(row) => row.into_order(appid, now),
            None => Ok(None),
        })
    }

    async fn set_push(&self, appid: &str, push: Option<&Push>) -> Result<bool> {
        let (appid, push) = (appid.to_owned(), push.cloned());
        self.write(move |conn| Ok(Finish::Commit(sql::set_push(conn, &appid, push.as_ref())?)))
            .await
    }

    async fn sweep_events(&self, now: i64, real_ms: i64) -> Result<u64> {
        // Found on a reader, so the writer (and the uploads queued on it) waits only when
        // something is due; recording is idempotent, so a race with another sweep is safe.
        let due = self.read(|conn| {
            let facts = crate::events::SweepFacts {
                apps: sql::apps(conn)?
                    .into_iter()
                    .map(App::try_from)
                    .collect::<Result<_>>()?,
                access: sql::access_facts(conn)?,
                remind: sql::remind_candidates(conn, now)?,
                settle: sql::settle_candidates(conn, now)?,
            };
            crate::events::due(facts, now)
        })?;
        if due.is_empty() {
            return Ok(0);
        }
        self.write(move |conn| {
            let mut recorded = 0;
            for event in &due {
                recorded += insert_event(conn, event, real_ms)?;
            }
            Ok(Finish::Commit(recorded))
        })
        .await
    }

    async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        self.read(|conn| {
            sql::events(conn, filter)?
                .into_iter()
                .map(Event::try_from)
                .collect()
        })
    }

    async fn claim_deliveries(&self, real_ms: i64, limit: i64) -> Result<Vec<DeliveryJob>> {
        // Most polls find nothing due: a read answers them without the writer.
        if self
            .read(|conn| Ok(sql::due_deliveries(conn, real_ms, 1)?))?
            .is_empty()
        {
            return Ok(Vec::new());
        }
        self.write(move |conn| {
            let mut jobs = Vec::new();
            for row in sql::due_deliveries(conn, real_ms, limit)? {
                sql::lease_delivery(conn, row.id, real_ms + crate::events::LEASE_MS)?;
                jobs.extend(row.into_job());
            }
            Ok(Finish::Commit(jobs))
        })
        .await
    }

    async fn finish_delivery(&self, id: i64, outcome: Delivered) -> Result<()> {
        self.write(move |conn| Ok(Finish::Commit(sql::finish_delivery(conn, id, outcome)?)))
            .await
    }

    async fn claim_notifications(
        &self,
        claim: &NotifyClaim,
        real_ms: i64,
    ) -> Result<Vec<NotifyJob>> {
        // Most polls find nothing due: a read answers them without the writer.
        let probe = NotifyClaim {
            limit: 1,
            ..claim.clone()
        };
        if self
            .read(|conn| Ok(sql::claimable_notifications(conn, &probe, real_ms)?))?
            .is_empty()
        {
            return Ok(Vec::new());
        }
        let claim = claim.clone();
        self.write(move |conn| {
            let mut jobs = Vec::new();
            for row in sql::claimable_notifications(conn, &claim, real_ms)? {
                sql::lease(conn, row.id, real_ms + crate::events::LEASE_MS)?;
                jobs.extend(row.into_job());
            }
            Ok(Finish::Commit(jobs))
        })
        .await
    }

    async fn finish_notification(&self, id: i64, attempt: &NotifyAttempt) -> Result<()> {
        let attempt = attempt.clone();
        self.write(move |conn| {
            Ok(Finish::Commit(sql::finish_notification(
                conn, id, &attempt,
            )?))
        })
        .await
    }

    async fn save_shopping_info(
        &self,
        appid: &str,
        info: &ShoppingInfo,
        now: i64,
    ) -> Result<Saved> {
        // Serialised here, on the request's thread, so the writer only writes.
        let body = serde_json::to_string(info).map_err(corrupt)?;
        let (appid, upload) = (appid.to_owned(), Upload::of(info));
        self.write(move |conn| save_shopping(conn, &appid, &upload, &body, now))
            .await
    }

    async fn shopping_info(&self, appid: &str, key: &OrderKey) -> Result<Option<StoredInfo>> {
        self.read(
            |conn| match sql::shopping_info(conn, appid, key_cols(key))? {
                Some(row) => Ok(Some(stored_info(conn, row)?)),
                None => Ok(None),
            },
        )
    }

    async fn shopping_infos(&self, filter: &UploadFilter) -> Result<Vec<StoredInfo>> {
        let (listing, binds) = rules::upload_listing(filter, '?');
        self.read(|conn| {
            sql::shopping_infos(conn, &listing, &binds, filter.limit, filter.offset)?
                .into_iter()
                .map(|row| stored_info(conn, row))
                .collect()
        })
    }

    async fn shopping_info_versions(
        &self,
        appid: &str,
        key: &OrderKey,
    ) -> Result<Vec<StoredVersion>> {
        self.read(|conn| {
            sql::versions(
                conn,
                "shopping_infos",
                "shopping_info_versions",
                appid,
                key_cols(key),
            )?
            .into_iter()
            .map(VersionRow::into_version)
            .collect()
        })
    }

    async fn payment_for_key(&self, key: &OrderKey) -> Result<Option<Payment>> {
        self.read(|conn| payment_for_key(conn, key))
    }

    async fn save_shipping_info(
        &self,
        appid: &str,
        info: &ShippingInfo,
        now: i64,
    ) -> Result<Saved> {
        let body = serde_json::to_string(info).map_err(corrupt)?;
        let appid = appid.to_owned();
        let keys = (info.order_key.clone(), info.upload_time.clone());
        self.write(move |conn| save_shipping(conn, &appid, &keys, &body, now))
            .await
    }

    async fn shipping_info(&self, appid: &str, key: &OrderKey) -> Result<Option<StoredShipping>> {
        self.read(|conn| {
            sql::shipping_info(conn, appid, key_cols(key))?
                .map(|row| row.into_stored(appid))
                .transpose()
        })
    }

    async fn shipping_info_versions(
        &self,
        appid: &str,
        key: &OrderKey,
    ) -> Result<Vec<StoredVersion<ShippingInfo>>> {
        self.read(|conn| {
            sql::versions(
                conn,
                "shipping_infos",
                "shipping_info_versions",
                appid,
                key_cols(key),
            )?
            .into_iter()
            .map(VersionRow::into_version)
            .collect()
        })
    }

    async fn transition_product_state(
        &self,
        appid: &str,
        from: ProductState,
        to: ProductState,
        review_due_at: Option<i64>,
        last_review_result: Option<&str>,
    ) -> Result<bool> {
        let appid = appid.to_owned();
        let last_review_result = last_review_result.map(str::to_owned);
        self.write(move |conn| {
            Ok(Finish::Commit(sql::transition_product_state(
                conn,
                &appid,
                from,
                to,
                review_due_at,
                last_review_result.as_deref(),
            )?))
        })
        .await
    }

    async fn create_component(&self, component: &Component) -> Result<Created> {
        let component = component.clone();
        self.write(move |conn| {
            Ok(Finish::Commit(Created::from_inserted(
                sql::insert_component(conn, &component)?,
            )))
        })
        .await
    }

    async fn component(&self, component_appid: &str) -> Result<Option<Component>> {
        self.read(|conn| Ok(sql::component(conn, component_appid)?.map(Into::into)))
    }

    async fn authorize(
        &self,
        authorization: &Authorization,
        code: &str,
        code_expires_at: i64,
    ) -> Result<()> {
        let funcscope = serde_json::to_string(&authorization.funcscope).map_err(corrupt)?;
        let (authorization, code) = (authorization.clone(), code.to_owned());
        self.write(move |conn| {
            sql::upsert_authorization(conn, &authorization, &funcscope)?;
            sql::insert_authorization_code(conn, &code, &authorization, code_expires_at)?;
            Ok(Finish::Commit(()))
        })
        .await
    }

    async fn redeem_authorization_code(
        &self,
        component_appid: &str,
        code: &str,
        now: i64,
    ) -> Result<Option<Authorization>> {
        let (component_appid, code) = (component_appid.to_owned(), code.to_owned());
        self.write(move |conn| {
            let Some(authorizer) =
                sql::spend_authorization_code(conn, &component_appid, &code, now)?
            else {
                return Ok(Finish::Commit(None)); // no such code: nothing was spent
            };
            let authorization = sql::authorization(conn, &component_appid, &authorizer)?
                .map(Authorization::try_from)
                .transpose()?;
            Ok(Finish::Commit(authorization))
        })
        .await
    }

    async fn authorization(
        &self,
        component_appid: &str,
        authorizer_appid: &str,
    ) -> Result<Option<Authorization>> {
        self.read(|conn| {
            sql::authorization(conn, component_appid, authorizer_appid)?
                .map(Authorization::try_from)
                .transpose()
        })
    }

    async fn record_requests(&self, entries: &[JournalEntry]) -> Result<()> {
        // Compressed here, on the journal task's thread, so the writer only writes.
        let rows: Vec<JournalRow> = entries.iter().map(JournalRow::packed).collect();
        self.write(move |conn| {
            for row in &rows {
                sql::insert_journal_row(conn, row)?;
            }
            Ok(Finish::Commit(()))
        })
        .await
    }

    async fn prune_journal(&self, retention: Retention) -> Result<()> {
        self.write(move |conn| {
            sql::prune_journal(conn, retention)?;
            Ok(Finish::Commit(()))
        })
        .await
    }

    async fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>> {
        self.read(|conn| {
            sql::journal(conn, filter)?
                .into_iter()
                .map(JournalEntry::try_from)
                .collect()
        })
    }

    async fn add_faults(
        &self,
        appid: &str,
        path: Option<&str>,
        errcodes: &[i64],
        delay_ms: i64,
    ) -> Result<()> {
        let (appid, path) = (appid.to_owned(), path.map(str::to_owned));
        let errcodes = errcodes.to_vec();
        self.write(move |conn| {
            for &errcode in &errcodes {
                sql::insert_fault(conn, &appid, path.as_deref(), errcode, delay_ms)?;
            }
            Ok(Finish::Commit(()))
        })
        .await
    }

    async fn clear_faults(&self, appid: &str, path: Option<&str>) -> Result<u64> {
        let (appid, path) = (appid.to_owned(), path.map(str::to_owned));
        self.write(move |conn| {
            Ok(Finish::Commit(sql::delete_faults(
                conn,
                &appid,
                path.as_deref(),
            )?))
        })
        .await
    }

    async fn take_fault(&self, appid: &str, path: &str) -> Result<Option<Fault>> {
        // Most calls have no fault queued: answer those with a read, without a write.
        if !self.read(|conn| Ok(sql::fault_queued(conn, appid, path)?))? {
            return Ok(None);
        }
        let (appid, path) = (appid.to_owned(), path.to_owned());
        self.write(move |conn| {
            Ok(Finish::Commit(
                sql::take_fault(conn, &appid, &path)?.map(Into::into),
            ))
        })
        .await
    }

    fn write_stats(&self) -> Option<WriteStats> {
        Some(self.writer.stats())
    }
}
