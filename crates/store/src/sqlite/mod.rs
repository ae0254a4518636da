//! The SQLite backend: one file in WAL mode, `synchronous=FULL` so that a committed upload
//! survives power loss. SQLite admits one writer at a time, so every write is a job for the
//! one write connection's task, which group-commits whatever is queued ([`group_commit`])
//! inside `BEGIN IMMEDIATE` (it takes the write lock up front and waits on `busy_timeout`
//! when another process holds it); reads use their own pool and never wait for writers.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rand::RngCore;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use userorder_model::association::{PaymentKeys, VerifyResult};
use userorder_model::shipping::ShippingInfo;
use userorder_model::shopping::{OrderKey, ShoppingInfo};

mod group_commit;

use group_commit::{BoxFuture, Finish, GroupCommit};
use sqlx::Connection;

use crate::common::*;
use crate::records::*;
use crate::{Result, Store};

pub struct SqliteStore {
    writer: GroupCommit,
    reader: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // The writer's page cache survives its own commits (readers' caches do not), so a
        // larger one saves re-reading index pages on every write: 32 MiB.
        let writer_options = options.clone().pragma("cache_size", "-32768");
        let mut writer = SqliteConnection::connect_with(&writer_options).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut writer)
            .await?;
        let writer = GroupCommit::start(writer);
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(Self { writer, reader })
    }

    /// Runs `job` in the writer's next batch; see [`group_commit`].
    async fn write<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<Finish<T>>>
            + Send
            + 'static,
    {
        self.writer.write(job).await
    }
}

type PaymentRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    Option<i64>,
);
const PAYMENT_COLUMNS: &str =
    "transaction_id, appid, openid, mchid, out_trade_no, amount, state, created_at, paid_at";

async fn payment_where(
    conn: &mut SqliteConnection,
    condition: &str,
    a: &str,
    b: &str,
) -> Result<Option<Payment>> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE parent_transaction_id IS NULL AND {condition}"
    );
    let row: Option<PaymentRow> = sqlx::query_as(&sql)
        .bind(a)
        .bind(b)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((
        transaction_id,
        appid,
        openid,
        mchid,
        out_trade_no,
        amount,
        state,
        created_at,
        paid_at,
    )) = row
    else {
        return Ok(None);
    };
    let children: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT transaction_id, mchid, out_trade_no, amount FROM payments
         WHERE parent_transaction_id = ? ORDER BY position",
    )
    .bind(&transaction_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(Payment {
        keys: PaymentKeys {
            transaction_id,
            mchid,
            out_trade_no,
        },
        appid,
        openid,
        amount,
        state,
        created_at,
        paid_at,
        sub_orders: children
            .into_iter()
            .map(|(transaction_id, mchid, out_trade_no, amount)| SubPayment {
                keys: PaymentKeys {
                    transaction_id,
                    mchid,
                    out_trade_no,
                },
                amount,
            })
            .collect(),
    }))
}

async fn payment_by_id(
    conn: &mut SqliteConnection,
    transaction_id: &str,
) -> Result<Option<Payment>> {
    payment_where(conn, "transaction_id = ? AND ? = ''", transaction_id, "").await
}

/// The payment an upload with this master key refers to.
async fn payment_for_key(conn: &mut SqliteConnection, key: &OrderKey) -> Result<Option<Payment>> {
    match key {
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => payment_where(conn, "mchid = ? AND out_trade_no = ?", mchid, out_trade_no).await,
        OrderKey::WxPay { transaction_id } => payment_by_id(conn, transaction_id).await,
    }
}

type InfoRow = (String, String, i64, i64, i64, Option<i64>, Option<String>);
const INFO_COLUMNS: &str =
    "appid, body, version, created_at, updated_at, associated_at, transaction_id";

async fn stored_info(conn: &mut SqliteConnection, row: InfoRow) -> Result<StoredInfo> {
    let (appid, body, version, created_at, updated_at, associated_at, transaction_id) = row;
    let info: ShoppingInfo = serde_json::from_str(&body).map_err(corrupt)?;
    // Association locks the upload and needs a paid payment, which never changes again:
    // an associated upload's verdict is known without looking the payment up (the bill
    // lists only those, ten per page).
    let verify_result = if associated_at.is_some() {
        VerifyResult::Associated
    } else {
        let payment = payment_for_key(conn, &info.order_key).await?;
        verify(&appid, &info, payment.as_ref())
    };
    Ok(StoredInfo {
        appid,
        info,
        version,
        created_at,
        updated_at,
        associated_at,
        transaction_id,
        verify_result,
    })
}

const TOKEN_COLUMNS: &str = "token, appid, kind, generation, issued_at, expires_at, superseded_at, \
                             revoked, component_appid";

/// Inserts a token as the next generation of its app and kind.
async fn insert_token(conn: &mut SqliteConnection, new: &NewToken) -> Result<TokenRecord> {
    let generation: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(generation), 0) + 1 FROM access_tokens
         WHERE appid = ? AND kind = ? AND component_appid IS ?",
    )
    .bind(&new.appid)
    .bind(new.kind.as_str())
    .bind(&new.component_appid)
    .fetch_one(&mut *conn)
    .await?;
    // Tokens long past their lifetime answer 40001 like unknown ones; keep a day of them
    // so a recently expired token still answers 42001.
    sqlx::query("DELETE FROM access_tokens WHERE appid = ? AND expires_at < ?")
        .bind(&new.appid)
        .bind(new.issued_at - 86_400)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO access_tokens (token, appid, kind, generation, issued_at, expires_at, forced,
                                    component_appid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&new.token)
    .bind(&new.appid)
    .bind(new.kind.as_str())
    .bind(generation)
    .bind(new.issued_at)
    .bind(new.expires_at)
    .bind(new.forced)
    .bind(&new.component_appid)
    .execute(&mut *conn)
    .await?;
    Ok(TokenRecord {
        token: new.token.clone(),
        appid: new.appid.clone(),
        kind: new.kind,
        generation,
        issued_at: new.issued_at,
        expires_at: new.expires_at,
        superseded_at: None,
        revoked: false,
        component_appid: new.component_appid.clone(),
    })
}

const APP_COLUMNS: &str = "appid, secret_hash, name, product_state, in_open_scope, quota_daily, \
                           quota_per_minute, token_quota_daily, created_at, review_due_at, \
                           last_review_result";

#[async_trait]
impl Store for SqliteStore {
    async fn server_key(&self, name: &str) -> Result<[u8; 32]> {
        let name = name.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let name = name.as_str();
                let mut fresh = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut fresh);
                sqlx::query(
                    "INSERT INTO server_keys (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                )
                .bind(name)
                .bind(&fresh[..])
                .execute(&mut *conn)
                .await?;
                let value: Vec<u8> =
                    sqlx::query_scalar("SELECT value FROM server_keys WHERE name = ?")
                        .bind(name)
                        .fetch_one(&mut *conn)
                        .await?;
                let key: [u8; 32] = value
                    .try_into()
                    .map_err(|_| corrupt(format!("server key {name} is not 32 bytes")))?;
                Ok(Finish::Commit(key))
            })
        })
        .await
    }

    async fn clock_offset(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT offset_seconds FROM clock WHERE id = 1")
                .fetch_one(&self.reader)
                .await?,
        )
    }

    async fn advance_clock(&self, seconds: i64) -> Result<i64> {
        self.write(move |conn| {
            Box::pin(async move {
                Ok(Finish::Commit(sqlx::query_scalar(
                    "UPDATE clock SET offset_seconds = offset_seconds + ? WHERE id = 1 RETURNING offset_seconds",
                )
                .bind(seconds)
                .fetch_one(&mut *conn)
                .await?))
            })
        })
        .await
    }

    async fn create_app(&self, app: &NewApp) -> Result<Created> {
        let app = app.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let app = &app;
                let done = sqlx::query(
                    "INSERT INTO apps (appid, secret_hash, name, product_state, in_open_scope, quota_daily,
                                       quota_per_minute, token_quota_daily, created_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
                .execute(&mut *conn)
                .await?;
                        Ok(Finish::Commit(if done.rows_affected() == 1 {
                            Created::Created
                        } else {
                            Created::Conflict
                        }))
            })
        })
        .await
    }

    async fn app(&self, appid: &str) -> Result<Option<App>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE appid = ?");
        sqlx::query_as(&sql)
            .bind(appid)
            .fetch_optional(&self.reader)
            .await?
            .map(app_from_row)
            .transpose()
    }

    async fn apps(&self) -> Result<Vec<App>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM apps ORDER BY created_at, appid");
        sqlx::query_as(&sql)
            .fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(app_from_row)
            .collect()
    }

    async fn set_app_quota(&self, appid: &str, quota: &Quota) -> Result<bool> {
        let appid = appid.to_owned();
        let quota = quota.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let appid = appid.as_str();
                let quota = &quota;
                let done = sqlx::query(
                    "UPDATE apps SET quota_daily = ?, quota_per_minute = ?, token_quota_daily = ?
                     WHERE appid = ?",
                )
                .bind(quota.daily)
                .bind(quota.per_minute)
                .bind(quota.token_daily)
                .bind(appid)
                .execute(&mut *conn)
                .await?;
                Ok(Finish::Commit(done.rows_affected() == 1))
            })
        })
        .await
    }

    async fn create_merchant(&self, mchid: &str, appids: &[String], now: i64) -> Result<Created> {
        let mchid = mchid.to_owned();
        let appids = appids.to_vec();
        self.write(move |conn| {
            Box::pin(async move {
                let mchid = mchid.as_str();
                let appids = &appids[..];
                let done = sqlx::query(
                    "INSERT INTO merchants (mchid, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                )
                .bind(mchid)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                        if done.rows_affected() == 0 {
                            return Ok(Finish::Rollback(Created::Conflict));
                        }
                        for appid in appids {
                            sqlx::query(
                        "INSERT INTO merchant_apps (mchid, appid) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    )
                    .bind(mchid)
                    .bind(appid)
                    .execute(&mut *conn)
                    .await?;
                        }
                        Ok(Finish::Commit(Created::Created))
            })
        })
        .await
    }

    async fn first_unbound_mchid(&self, appid: &str, mchids: &[&str]) -> Result<Option<String>> {
        let mut conn = self.reader.acquire().await?;
        for mchid in mchids {
            let bound: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM merchant_apps WHERE mchid = ? AND appid = ?")
                    .bind(mchid)
                    .bind(appid)
                    .fetch_optional(&mut *conn)
                    .await?;
            if bound.is_none() {
                return Ok(Some((*mchid).to_owned()));
            }
        }
        Ok(None)
    }

    async fn merchants(&self) -> Result<Vec<Merchant>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT m.mchid, a.appid FROM merchants m
             LEFT JOIN merchant_apps a ON a.mchid = m.mchid ORDER BY m.created_at, m.mchid, a.appid",
        )
        .fetch_all(&self.reader)
        .await?;
        let mut merchants: Vec<Merchant> = Vec::new();
        for (mchid, appid) in rows {
            match merchants.last_mut() {
                Some(last) if last.mchid == mchid => last.appids.extend(appid),
                _ => merchants.push(Merchant {
                    mchid,
                    appids: appid.into_iter().collect(),
                }),
            }
        }
        Ok(merchants)
    }

    async fn issue_token(&self, token: &NewToken) -> Result<TokenRecord> {
        let token = token.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let token = &token;
                match token.kind {
                    // A new generation: the previous one keeps working through its grace period.
                    TokenKind::Basic | TokenKind::Component | TokenKind::Authorizer => {
                        sqlx::query(
                            "UPDATE access_tokens SET superseded_at = ?
                             WHERE appid = ? AND kind = ? AND component_appid IS ? AND superseded_at IS NULL",
                        )
                        .bind(token.issued_at)
                        .bind(&token.appid)
                        .bind(token.kind.as_str())
                        .bind(&token.component_appid)
                        .execute(&mut *conn)
                        .await?;
                    }
                    TokenKind::Stable => {
                        sqlx::query(
                            "UPDATE access_tokens SET revoked = 1
                             WHERE appid = ? AND kind = 'stable' AND revoked = 0",
                        )
                        .bind(&token.appid)
                        .execute(&mut *conn)
                        .await?;
                    }
                }
                let record = insert_token(&mut *conn, token).await?;
                        Ok(Finish::Commit(record))
            })
        })
        .await
    }

    async fn token(&self, token: &str) -> Result<Option<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token = ?");
        sqlx::query_as(&sql)
            .bind(token)
            .fetch_optional(&self.reader)
            .await?
            .map(token_record)
            .transpose()
    }

    async fn stable_token(&self, mint: &NewToken) -> Result<TokenRecord> {
        let mint = mint.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let mint = &mint;
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS} FROM access_tokens
                     WHERE appid = ? AND kind = 'stable' AND revoked = 0 AND expires_at > ?
                     ORDER BY generation DESC LIMIT 1"
                );
                let current = sqlx::query_as(&sql)
                    .bind(&mint.appid)
                    .bind(mint.issued_at)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(token_record)
                    .transpose()?;
                let record = match current {
                    Some(record) => record,
                    None => insert_token(&mut *conn, mint).await?,
                };
                Ok(Finish::Commit(record))
            })
        })
        .await
    }

    async fn forced_refreshes_since(&self, appid: &str, since: i64) -> Result<(i64, Option<i64>)> {
        Ok(sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM access_tokens
                     WHERE appid = ?1 AND kind = 'stable' AND forced = 1 AND issued_at >= ?2),
                    (SELECT MAX(issued_at) FROM access_tokens
                     WHERE appid = ?1 AND kind = 'stable' AND forced = 1)",
        )
        .bind(appid)
        .bind(since)
        .fetch_one(&self.reader)
        .await?)
    }

    /// Answers before the batch commits (see `GroupCommit::write_early`): a crash may
    /// forget the last few calls' counts, never an upload.
    async fn count_call(&self, call: &QuotaCall<'_>) -> Result<QuotaCounts> {
        let (appid, api) = (call.appid.to_owned(), call.api.to_owned());
        let (day_start, minute_start) = (call.day_start, call.minute_start);
        self.writer
            .write_early(move |conn| {
                Box::pin(async move {
                    // Both windows in one statement: it is on every request's path.
                    let counted: Vec<(String, i64)> = sqlx::query_as(
                        "INSERT INTO quota_counters (appid, api, window, window_start, count)
                         VALUES (?1, ?2, 'd', ?3, 1), (?1, ?2, 'm', ?4, 1)
                         ON CONFLICT DO UPDATE SET count = count + 1 RETURNING window, count",
                    )
                    .bind(&appid)
                    .bind(&api)
                    .bind(day_start)
                    .bind(minute_start)
                    .fetch_all(&mut *conn)
                    .await?;
                    let mut counts = QuotaCounts { day: 0, minute: 0 };
                    for (window, count) in counted {
                        let start = if window == "d" {
                            counts.day = count;
                            day_start
                        } else {
                            counts.minute = count;
                            minute_start
                        };
                        if count == 1 {
                            // A new window began: the old ones will never be read again.
                            sqlx::query(
                                "DELETE FROM quota_counters
                                 WHERE appid = ? AND api = ? AND window = ? AND window_start < ?",
                            )
                            .bind(&appid)
                            .bind(&api)
                            .bind(&window)
                            .bind(start)
                            .execute(&mut *conn)
                            .await?;
                        }
                    }
                    Ok(Finish::Commit(counts))
                })
            })
            .await
    }

    async fn create_payment(&self, payment: &NewPayment) -> Result<Created> {
        let payment = payment.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let payment = &payment;
                let rows = std::iter::once((&payment.keys, payment.amount, None)).chain(
                    payment
                        .sub_payments
                        .iter()
                        .map(|(keys, amount)| (keys, *amount, Some(&payment.keys.transaction_id))),
                );
                for (position, (keys, amount, parent)) in rows.enumerate() {
                    let done = sqlx::query(
                "INSERT INTO payments (transaction_id, parent_transaction_id, appid, openid, mchid,
                                       out_trade_no, amount, state, created_at, position)
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'NOTPAY', ?, ?) ON CONFLICT DO NOTHING",
                    )
                    .bind(&keys.transaction_id)
                    .bind(parent)
                    .bind(&payment.appid)
                    .bind(&payment.openid)
                    .bind(&keys.mchid)
                    .bind(&keys.out_trade_no)
                    .bind(amount)
                    .bind(payment.created_at)
                    .bind(position as i64)
                    .execute(&mut *conn)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Ok(Finish::Rollback(Created::Conflict));
                    }
                }
                Ok(Finish::Commit(Created::Created))
            })
        })
        .await
    }

    async fn payments(&self, filter: &PaymentFilter) -> Result<Vec<Payment>> {
        let mut conn = self.reader.acquire().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT transaction_id FROM payments
             WHERE parent_transaction_id IS NULL AND (?1 IS NULL OR appid = ?1)
             ORDER BY created_at DESC, transaction_id DESC LIMIT ?2",
        )
        .bind(&filter.appid)
        .bind(filter.limit)
        .fetch_all(&mut *conn)
        .await?;
        let mut payments = Vec::with_capacity(ids.len());
        for id in ids {
            payments.extend(payment_by_id(&mut conn, &id).await?);
        }
        Ok(payments)
    }

    async fn payment(&self, transaction_id: &str) -> Result<Option<Payment>> {
        let mut conn = self.reader.acquire().await?;
        payment_by_id(&mut conn, transaction_id).await
    }

    async fn pay(&self, transaction_id: &str, now: i64) -> Result<Option<Payment>> {
        let transaction_id = transaction_id.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let transaction_id = transaction_id.as_str();
                sqlx::query(
                    "UPDATE payments SET state = 'SUCCESS', paid_at = ?
                     WHERE (transaction_id = ?2 OR parent_transaction_id = ?2) AND state = 'NOTPAY'",
                )
                .bind(now)
                .bind(transaction_id)
                .execute(&mut *conn)
                .await?;
                let Some(payment) = payment_by_id(&mut *conn, transaction_id).await? else {
                    return Ok(Finish::Rollback(None));
                };
                let candidates: Vec<(i64, String, String, String, String)> = sqlx::query_as(
                    "SELECT key_type, key_a, key_b, appid, body FROM shopping_infos
                     WHERE appid = ? AND associated_at IS NULL
                       AND ((key_type = 1 AND key_a = ? AND key_b = ?) OR (key_type = 2 AND key_a = ? AND key_b = ''))",
                )
                .bind(&payment.appid)
                .bind(&payment.keys.mchid)
                .bind(&payment.keys.out_trade_no)
                .bind(&payment.keys.transaction_id)
                .fetch_all(&mut *conn)
                .await?;
                for (key_type, key_a, key_b, appid, body) in candidates {
                    let info: ShoppingInfo = serde_json::from_str(&body).map_err(corrupt)?;
                    if verify(&appid, &info, Some(&payment)) == VerifyResult::Associated {
                        sqlx::query(
                            "UPDATE shopping_infos SET associated_at = ?, transaction_id = ?
                             WHERE appid = ? AND key_type = ? AND key_a = ? AND key_b = ?",
                        )
                        .bind(now)
                        .bind(&payment.keys.transaction_id)
                        .bind(&appid)
                        .bind(key_type)
                        .bind(&key_a)
                        .bind(&key_b)
                        .execute(&mut *conn)
                        .await?;
                    }
                }
                        Ok(Finish::Commit(Some(payment)))
            })
        })
        .await
    }

    async fn save_shopping_info(
        &self,
        appid: &str,
        info: &ShoppingInfo,
        now: i64,
    ) -> Result<Saved> {
        let body = serde_json::to_string(info).map_err(corrupt)?;
        let upload_ns = info.upload_time.unix_nanos();
        let appid = appid.to_owned();
        let info = info.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let appid = appid.as_str();
                let info = &info;
                let (key_type, key_a, key_b) = key_cols(&info.order_key);

                // The ordering rule itself: only a strictly later, unassociated upload replaces.
                // (One writer at a time, so there is no need to read first: when the upsert
                // declines, what is stored says why.)
                let version: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO shopping_infos (appid, key_type, key_a, key_b, combined, openid, upload_time,
                                                 upload_time_ns, body, version, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
                     ON CONFLICT (appid, key_type, key_a, key_b) DO UPDATE SET
                         combined = excluded.combined, openid = excluded.openid,
                         upload_time = excluded.upload_time, upload_time_ns = excluded.upload_time_ns,
                         body = excluded.body, version = shopping_infos.version + 1,
                         updated_at = excluded.updated_at
                     WHERE excluded.upload_time_ns > shopping_infos.upload_time_ns
                       AND shopping_infos.associated_at IS NULL
                     RETURNING version",
                )
                .bind(appid)
                .bind(key_type)
                .bind(key_a)
                .bind(key_b)
                .bind(info.is_combined())
                .bind(&info.payer.openid)
                .bind(info.upload_time.as_str())
                .bind(upload_ns)
                .bind(&body)
                .bind(now)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
                let Some(version) = version else {
                    let stored = stored_shopping(&mut *conn, appid, key_type, key_a, key_b).await?;
                    return Ok(Finish::Rollback(stored
                        .and_then(|stored| refusal(&stored, upload_ns, &body))
                        .unwrap_or(Saved::Stale {
                            stored_upload_time: String::new(),
                        })));
                };

                if version > 1 {
                    sqlx::query(
                        "DELETE FROM sub_order_keys
                         WHERE appid = ? AND key_type = ? AND master_key_a = ? AND master_key_b = ?",
                    )
                    .bind(appid)
                    .bind(key_type)
                    .bind(key_a)
                    .bind(key_b)
                    .execute(&mut *conn)
                    .await?;
                }
                // A sub-order key belongs to one combined order: claiming one another order holds
                // fails here and the job rolls back. All claims go in one statement.
                let subs = info.sub_order_keys();
                if !subs.is_empty() {
                    let rows = vec!["(?, ?, ?, ?, ?, ?)"; subs.len()].join(", ");
                    let sql = format!(
                        "INSERT INTO sub_order_keys (appid, key_type, key_a, key_b, master_key_a, master_key_b)
                         VALUES {rows} ON CONFLICT DO NOTHING"
                    );
                    let mut claim = sqlx::query(&sql);
                    for sub in &subs {
                        let (_, sub_a, sub_b) = key_cols(sub);
                        claim = claim.bind(appid).bind(key_type).bind(sub_a).bind(sub_b).bind(key_a).bind(key_b);
                    }
                    let claimed = claim.execute(&mut *conn).await?;
                    if claimed.rows_affected() < subs.len() as u64 {
                        for sub in &subs {
                            let (_, sub_a, sub_b) = key_cols(sub);
                            let owner: Option<(String, String)> = sqlx::query_as(
                                "SELECT master_key_a, master_key_b FROM sub_order_keys
                                 WHERE appid = ? AND key_type = ? AND key_a = ? AND key_b = ?",
                            )
                            .bind(appid)
                            .bind(key_type)
                            .bind(sub_a)
                            .bind(sub_b)
                            .fetch_optional(&mut *conn)
                            .await?;
                            if owner.is_some_and(|(a, b)| a != key_a || b != key_b) {
                                return Ok(Finish::Rollback(Saved::SubOrderTaken { key: (*sub).clone() }));
                            }
                        }
                    }
                }
                sqlx::query(
                    "INSERT INTO shopping_info_versions (appid, key_type, key_a, key_b, version, upload_time,
                                                         body, accepted_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(appid)
                .bind(key_type)
                .bind(key_a)
                .bind(key_b)
                .bind(version)
                .bind(info.upload_time.as_str())
                .bind(&body)
                .bind(now)
                .execute(&mut *conn)
                .await?;

                let payment = payment_for_key(&mut *conn, &info.order_key).await?;
                let associated = verify(appid, info, payment.as_ref()) == VerifyResult::Associated;
                if let (true, Some(payment)) = (associated, &payment) {
                    sqlx::query(
                        "UPDATE shopping_infos SET associated_at = ?, transaction_id = ?
                         WHERE appid = ? AND key_type = ? AND key_a = ? AND key_b = ?",
                    )
                    .bind(now)
                    .bind(&payment.keys.transaction_id)
                    .bind(appid)
                    .bind(key_type)
                    .bind(key_a)
                    .bind(key_b)
                    .execute(&mut *conn)
                    .await?;
                }
                        Ok(Finish::Commit(Saved::Accepted {
                    version,
                    associated,
                }))
            })
        })
        .await
    }

    async fn shopping_info(&self, appid: &str, key: &OrderKey) -> Result<Option<StoredInfo>> {
        let (key_type, key_a, key_b) = key_cols(key);
        let mut conn = self.reader.acquire().await?;
        let sql = format!(
            "SELECT {INFO_COLUMNS} FROM shopping_infos
             WHERE appid = ? AND key_type = ? AND key_a = ? AND key_b = ?"
        );
        let row: Option<InfoRow> = sqlx::query_as(&sql)
            .bind(appid)
            .bind(key_type)
            .bind(key_a)
            .bind(key_b)
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(row) => Ok(Some(stored_info(&mut conn, row).await?)),
            None => Ok(None),
        }
    }

    async fn shopping_infos(&self, filter: &UploadFilter) -> Result<Vec<StoredInfo>> {
        let mut conn = self.reader.acquire().await?;
        let (listing, binds) = upload_listing(filter, '?');
        let sql = format!("SELECT {INFO_COLUMNS} FROM shopping_infos {listing}");
        let mut query = sqlx::query_as(&sql);
        for value in binds {
            query = query.bind(value);
        }
        let rows: Vec<InfoRow> = query
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(&mut *conn)
            .await?;
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
        versions(&self.reader, "shopping_info_versions", appid, key).await
    }

    async fn payment_for_key(&self, key: &OrderKey) -> Result<Option<Payment>> {
        let mut conn = self.reader.acquire().await?;
        payment_for_key(&mut conn, key).await
    }

    async fn save_shipping_info(
        &self,
        appid: &str,
        info: &ShippingInfo,
        now: i64,
    ) -> Result<Saved> {
        let body = serde_json::to_string(info).map_err(corrupt)?;
        let upload_ns = info.upload_time.unix_nanos();
        let appid = appid.to_owned();
        let info = info.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let appid = appid.as_str();
                let info = &info;
                let (key_type, key_a, key_b) = key_cols(&info.order_key);
                // As for shopping details: the upsert applies the ordering rule, and only
                // when it declines is the stored version read to say why.
                let version: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO shipping_infos (appid, key_type, key_a, key_b, upload_time, upload_time_ns,
                                                 body, version, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
                     ON CONFLICT (appid, key_type, key_a, key_b) DO UPDATE SET
                         upload_time = excluded.upload_time, upload_time_ns = excluded.upload_time_ns,
                         body = excluded.body, version = shipping_infos.version + 1,
                         updated_at = excluded.updated_at
                     WHERE excluded.upload_time_ns > shipping_infos.upload_time_ns
                     RETURNING version",
                )
                .bind(appid)
                .bind(key_type)
                .bind(key_a)
                .bind(key_b)
                .bind(info.upload_time.as_str())
                .bind(upload_ns)
                .bind(&body)
                .bind(now)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
                let Some(version) = version else {
                    let stored = stored_shipping(&mut *conn, appid, key_type, key_a, key_b).await?;
                    return Ok(Finish::Rollback(stored
                        .and_then(|stored| refusal(&stored, upload_ns, &body))
                        .unwrap_or(Saved::Stale {
                            stored_upload_time: String::new(),
                        })));
                };
                sqlx::query(
                    "INSERT INTO shipping_info_versions (appid, key_type, key_a, key_b, version, upload_time,
                                                         body, accepted_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(appid)
                .bind(key_type)
                .bind(key_a)
                .bind(key_b)
                .bind(version)
                .bind(info.upload_time.as_str())
                .bind(&body)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                        Ok(Finish::Commit(Saved::Accepted {
                    version,
                    associated: false,
                }))
            })
        })
        .await
    }

    async fn shipping_info(&self, appid: &str, key: &OrderKey) -> Result<Option<StoredShipping>> {
        let (key_type, key_a, key_b) = key_cols(key);
        let row: Option<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT body, version, created_at, updated_at FROM shipping_infos
             WHERE appid = ? AND key_type = ? AND key_a = ? AND key_b = ?",
        )
        .bind(appid)
        .bind(key_type)
        .bind(key_a)
        .bind(key_b)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|(body, version, created_at, updated_at)| {
            Ok(StoredShipping {
                appid: appid.to_owned(),
                info: serde_json::from_str(&body).map_err(corrupt)?,
                version,
                created_at,
                updated_at,
            })
        })
        .transpose()
    }

    async fn shipping_info_versions(
        &self,
        appid: &str,
        key: &OrderKey,
    ) -> Result<Vec<StoredVersion<ShippingInfo>>> {
        versions(&self.reader, "shipping_info_versions", appid, key).await
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
            Box::pin(async move {
                let appid = appid.as_str();
                let last_review_result = last_review_result.as_deref();
                let done = sqlx::query(
                    "UPDATE apps SET product_state = ?, review_due_at = ?,
                             last_review_result = COALESCE(?, last_review_result)
                     WHERE appid = ? AND product_state = ?",
                )
                .bind(to.as_str())
                .bind(review_due_at)
                .bind(last_review_result)
                .bind(appid)
                .bind(from.as_str())
                .execute(&mut *conn)
                .await?;
                Ok(Finish::Commit(done.rows_affected() == 1))
            })
        })
        .await
    }

    async fn create_component(&self, component: &Component) -> Result<Created> {
        let component = component.clone();
        self.write(move |conn| {
            Box::pin(async move {
                let component = &component;
                let done = sqlx::query(
                    "INSERT INTO components (component_appid, secret_hash, verify_ticket, created_at)
                     VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                )
                .bind(&component.component_appid)
                .bind(&component.secret_hash)
                .bind(&component.verify_ticket)
                .bind(component.created_at)
                .execute(&mut *conn)
                .await?;
                        Ok(Finish::Commit(if done.rows_affected() == 1 {
                            Created::Created
                        } else {
                            Created::Conflict
                        }))
            })
        })
        .await
    }

    async fn component(&self, component_appid: &str) -> Result<Option<Component>> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT component_appid, secret_hash, verify_ticket, created_at FROM components
             WHERE component_appid = ?",
        )
        .bind(component_appid)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(
            |(component_appid, secret_hash, verify_ticket, created_at)| Component {
                component_appid,
                secret_hash,
                verify_ticket,
                created_at,
            },
        ))
    }

    async fn authorize(
        &self,
        authorization: &Authorization,
        code: &str,
        code_expires_at: i64,
    ) -> Result<()> {
        let funcscope = serde_json::to_string(&authorization.funcscope).map_err(corrupt)?;
        let authorization = authorization.clone();
        let code = code.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let authorization = &authorization;
                let code = code.as_str();
                sqlx::query(
                    "INSERT INTO authorizations (component_appid, authorizer_appid, funcscope,
                                         agreement_signed, refresh_token, authorized_at)
                     VALUES (?, ?, ?, ?, ?, ?)
                     ON CONFLICT (component_appid, authorizer_appid) DO UPDATE SET
                         funcscope = excluded.funcscope, agreement_signed = excluded.agreement_signed,
                         refresh_token = excluded.refresh_token, authorized_at = excluded.authorized_at",
                        )
                        .bind(&authorization.component_appid)
                        .bind(&authorization.authorizer_appid)
                        .bind(&funcscope)
                        .bind(authorization.agreement_signed)
                        .bind(&authorization.refresh_token)
                        .bind(authorization.authorized_at)
                        .execute(&mut *conn)
                        .await?;
                        sqlx::query(
                    "INSERT INTO authorization_codes (code, component_appid, authorizer_appid, expires_at)
                     VALUES (?, ?, ?, ?)",
                )
                .bind(code)
                .bind(&authorization.component_appid)
                .bind(&authorization.authorizer_appid)
                .bind(code_expires_at)
                .execute(&mut *conn)
                .await?;
                        Ok(Finish::Commit(()))
            })
        })
        .await
    }

    async fn redeem_authorization_code(
        &self,
        component_appid: &str,
        code: &str,
        now: i64,
    ) -> Result<Option<Authorization>> {
        let component_appid = component_appid.to_owned();
        let code = code.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let component_appid = component_appid.as_str();
                let code = code.as_str();
                let authorizer: Option<String> = sqlx::query_scalar(
                    "UPDATE authorization_codes SET used = 1
                     WHERE code = ? AND component_appid = ? AND used = 0 AND expires_at > ?
                     RETURNING authorizer_appid",
                )
                .bind(code)
                .bind(component_appid)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
                let Some(authorizer) = authorizer else {
                    return Ok(Finish::Rollback(None));
                };
                let authorization =
                    authorization_in(&mut *conn, component_appid, &authorizer).await?;
                Ok(Finish::Commit(authorization))
            })
        })
        .await
    }

    async fn authorization(
        &self,
        component_appid: &str,
        authorizer_appid: &str,
    ) -> Result<Option<Authorization>> {
        let mut conn = self.reader.acquire().await?;
        authorization_in(&mut conn, component_appid, authorizer_appid).await
    }

    async fn record_requests(&self, entries: &[JournalEntry], retention: Retention) -> Result<()> {
        let entries = entries.to_vec();
        self.write(move |conn| {
            Box::pin(async move {
                let entries = &entries[..];
                // Many rows per statement: the writer pays per statement, not per row.
                for chunk in entries.chunks(100) {
                    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
                    let sql = format!(
                        "INSERT INTO journal (rid, appid, invoke_time, cost_in_ms, request_url, request_body,
                                              response_body, client_ip, errcode)
                         VALUES {rows} ON CONFLICT (rid) DO NOTHING"
                    );
                    let mut insert = sqlx::query(&sql);
                    for e in chunk {
                        insert = insert
                            .bind(&e.rid)
                            .bind(&e.appid)
                            .bind(e.invoke_time)
                            .bind(e.cost_in_ms)
                            .bind(&e.request_url)
                            .bind(&e.request_body)
                            .bind(&e.response_body)
                            .bind(&e.client_ip)
                            .bind(e.errcode);
                    }
                    insert.execute(&mut *conn).await?;
                }
                // Ids only grow and rows leave from the oldest end, so the newest
                // `max_entries` are the ids above MAX(id) - max_entries: an index lookup,
                // where `ORDER BY id DESC OFFSET n` walked n rows of big bodies per batch.
                sqlx::query(
                    "DELETE FROM journal
                     WHERE invoke_time < ?
                        OR id <= (SELECT MAX(id) FROM journal) - ?",
                )
                .bind(retention.oldest)
                .bind(retention.max_entries)
                .execute(&mut *conn)
                .await?;
                        Ok(Finish::Commit(()))
            })
        })
        .await
    }

    async fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>> {
        let rows: Vec<JournalRow> = sqlx::query_as(
            "SELECT rid, appid, invoke_time, cost_in_ms, request_url, request_body, response_body,
                    client_ip, errcode
             FROM journal
             WHERE (?1 IS NULL OR appid = ?1) AND (?2 IS NULL OR rid = ?2)
             ORDER BY id DESC LIMIT ?3",
        )
        .bind(&filter.appid)
        .bind(&filter.rid)
        .bind(filter.limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(journal_entry).collect())
    }

    async fn add_faults(
        &self,
        appid: &str,
        path: Option<&str>,
        errcodes: &[i64],
        delay_ms: i64,
    ) -> Result<()> {
        let appid = appid.to_owned();
        let path = path.map(str::to_owned);
        let errcodes = errcodes.to_vec();
        self.write(move |conn| {
            Box::pin(async move {
                let appid = appid.as_str();
                let path = path.as_deref();
                let errcodes = &errcodes[..];
                for errcode in errcodes {
                    sqlx::query(
                        "INSERT INTO faults (appid, path, errcode, delay_ms) VALUES (?, ?, ?, ?)",
                    )
                    .bind(appid)
                    .bind(path)
                    .bind(errcode)
                    .bind(delay_ms)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(Finish::Commit(()))
            })
        })
        .await
    }

    async fn clear_faults(&self, appid: &str, path: Option<&str>) -> Result<u64> {
        let appid = appid.to_owned();
        let path = path.map(str::to_owned);
        self.write(move |conn| {
            Box::pin(async move {
                let appid = appid.as_str();
                let path = path.as_deref();
                let done =
                    sqlx::query("DELETE FROM faults WHERE appid = ? AND (? IS NULL OR path = ?2)")
                        .bind(appid)
                        .bind(path)
                        .execute(&mut *conn)
                        .await?;
                Ok(Finish::Commit(done.rows_affected()))
            })
        })
        .await
    }

    fn write_stats(&self) -> Option<WriteStats> {
        Some(self.writer.stats())
    }

    async fn take_fault(&self, appid: &str, path: &str) -> Result<Option<Fault>> {
        // Most calls have no fault queued: answer those from the read pool without
        // touching the write lock.
        let queued: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM faults WHERE appid = ? AND (path IS NULL OR path = ?) LIMIT 1",
        )
        .bind(appid)
        .bind(path)
        .fetch_optional(&self.reader)
        .await?;
        if queued.is_none() {
            return Ok(None);
        }
        let (appid, path) = (appid.to_owned(), path.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                let fault: Option<(i64, i64)> = sqlx::query_as(
                    "DELETE FROM faults WHERE id = (
                         SELECT id FROM faults WHERE appid = ? AND (path IS NULL OR path = ?)
                         ORDER BY id LIMIT 1)
                     RETURNING errcode, delay_ms",
                )
                .bind(&appid)
                .bind(&path)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(Finish::Commit(
                    fault.map(|(errcode, delay_ms)| Fault { errcode, delay_ms }),
                ))
            })
        })
        .await
    }
}

async fn authorization_in(
    conn: &mut SqliteConnection,
    component_appid: &str,
    authorizer_appid: &str,
) -> Result<Option<Authorization>> {
    let row: Option<(String, bool, String, i64)> = sqlx::query_as(
        "SELECT funcscope, agreement_signed, refresh_token, authorized_at FROM authorizations
         WHERE component_appid = ? AND authorizer_appid = ?",
    )
    .bind(component_appid)
    .bind(authorizer_appid)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(
        |(funcscope, agreement_signed, refresh_token, authorized_at)| {
            Ok(Authorization {
                component_appid: component_appid.to_owned(),
                authorizer_appid: authorizer_appid.to_owned(),
                funcscope: serde_json::from_str(&funcscope).map_err(corrupt)?,
                agreement_signed,
                refresh_token,
                authorized_at,
            })
        },
    )
    .transpose()
}

/// The stored shopping details of an order as the ordering rule reads them (the write
/// transaction already holds SQLite's one write lock).
async fn stored_shopping(
    conn: &mut SqliteConnection,
    appid: &str,
    key_type: i64,
    key_a: &str,
    key_b: &str,
) -> Result<Option<StoredUpload>> {
    let row: Option<(i64, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT upload_time_ns, upload_time, body, associated_at FROM shopping_infos
         WHERE appid = ? AND key_type = ? AND key_a = ? AND key_b = ?",
    )
    .bind(appid)
    .bind(key_type)
    .bind(key_a)
    .bind(key_b)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(upload_time_ns, upload_time, body, associated_at)| StoredUpload {
            upload_time_ns,
            upload_time,
            body,
            associated: associated_at.is_some(),
        },
    ))
}

/// The stored shipping details of an order as the ordering rule reads them.
async fn stored_shipping(
    conn: &mut SqliteConnection,
    appid: &str,
    key_type: i64,
    key_a: &str,
    key_b: &str,
) -> Result<Option<StoredUpload>> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT upload_time_ns, upload_time, body FROM shipping_infos
         WHERE appid = ? AND key_type = ? AND key_a = ? AND key_b = ?",
    )
    .bind(appid)
    .bind(key_type)
    .bind(key_a)
    .bind(key_b)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(upload_time_ns, upload_time, body)| StoredUpload {
        upload_time_ns,
        upload_time,
        body,
        associated: false,
    }))
}

/// Every accepted version of an order from one of the two history tables
/// (`shopping_info_versions`, `shipping_info_versions`), oldest first.
async fn versions<T: serde::de::DeserializeOwned>(
    pool: &SqlitePool,
    table: &'static str,
    appid: &str,
    key: &OrderKey,
) -> Result<Vec<StoredVersion<T>>> {
    let (key_type, key_a, key_b) = key_cols(key);
    let sql = format!(
        "SELECT version, upload_time, accepted_at, body FROM {table}
         WHERE appid = ? AND key_type = ? AND key_a = ? AND key_b = ? ORDER BY version"
    );
    let rows: Vec<(i64, String, i64, String)> = sqlx::query_as(&sql)
        .bind(appid)
        .bind(key_type)
        .bind(key_a)
        .bind(key_b)
        .fetch_all(pool)
        .await?;
    rows.into_iter()
        .map(|(version, upload_time, accepted_at, body)| {
            Ok(StoredVersion {
                version,
                upload_time,
                accepted_at,
                info: serde_json::from_str(&body).map_err(corrupt)?,
            })
        })
        .collect()
}
