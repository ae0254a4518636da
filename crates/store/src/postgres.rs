//! The PostgreSQL backend, for several server processes on one database. Every decision
//! is one transaction in READ COMMITTED; where a decision reads before it writes, it first
//! locks the row the decision is about (`SELECT … FOR UPDATE`), always in the order
//! payment → upload, so concurrent uploads, payments and token fetches serialize on the
//! rows they share and nowhere else. Ordering itself is the conditional upsert, which
//! PostgreSQL re-evaluates against the latest committed row.

use std::str::FromStr;

use async_trait::async_trait;
use rand::RngCore;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use userorder_model::association::{PaymentKeys, VerifyResult};
use userorder_model::shipping::ShippingInfo;
use userorder_model::shopping::{OrderKey, ShoppingInfo};

use crate::common::*;
use crate::records::*;
use crate::{Result, Store};

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn open(url: &str, pool_size: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'_, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

/// Locks the payment an upload with this key refers to, if there is one, so that paying
/// and uploading serialize on it.
async fn lock_payment_for_key(conn: &mut PgConnection, key: &OrderKey) -> Result<()> {
    let (condition, a, b) = match key {
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => (
            "mchid = $1 AND out_trade_no = $2",
            mchid.as_str(),
            out_trade_no.as_str(),
        ),
        OrderKey::WxPay { transaction_id } => (
            "transaction_id = $1 AND $2::TEXT = ''",
            transaction_id.as_str(),
            "",
        ),
    };
    let sql = format!("SELECT transaction_id FROM payments WHERE {condition} FOR UPDATE");
    sqlx::query(&sql)
        .bind(a)
        .bind(b)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Locks the row that owns a token's generations: the app, the component, or the
/// authorization, so two fetches cannot both become the newest generation.
async fn lock_token_owner(conn: &mut PgConnection, token: &NewToken) -> Result<()> {
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
    query.execute(&mut *conn).await?;
    Ok(())
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
    conn: &mut PgConnection,
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
         WHERE parent_transaction_id = $1 ORDER BY position",
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

async fn payment_by_id(conn: &mut PgConnection, transaction_id: &str) -> Result<Option<Payment>> {
    payment_where(
        conn,
        "transaction_id = $1 AND $2::TEXT = ''",
        transaction_id,
        "",
    )
    .await
}

/// The payment an upload with this master key refers to.
async fn payment_for_key(conn: &mut PgConnection, key: &OrderKey) -> Result<Option<Payment>> {
    match key {
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => {
            payment_where(
                conn,
                "mchid = $1 AND out_trade_no = $2",
                mchid,
                out_trade_no,
            )
            .await
        }
        OrderKey::WxPay { transaction_id } => payment_by_id(conn, transaction_id).await,
    }
}

type InfoRow = (String, String, i64, i64, i64, Option<i64>, Option<String>);
const INFO_COLUMNS: &str =
    "appid, body, version, created_at, updated_at, associated_at, transaction_id";

async fn stored_info(conn: &mut PgConnection, row: InfoRow) -> Result<StoredInfo> {
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
async fn insert_token(conn: &mut PgConnection, new: &NewToken) -> Result<TokenRecord> {
    let generation: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(generation), 0) + 1 FROM access_tokens
         WHERE appid = $1 AND kind = $2 AND component_appid IS NOT DISTINCT FROM $3",
    )
    .bind(&new.appid)
    .bind(new.kind.as_str())
    .bind(&new.component_appid)
    .fetch_one(&mut *conn)
    .await?;
    // Tokens long past their lifetime answer 40001 like unknown ones; keep a day of them
    // so a recently expired token still answers 42001.
    sqlx::query("DELETE FROM access_tokens WHERE appid = $1 AND expires_at < $2")
        .bind(&new.appid)
        .bind(new.issued_at - 86_400)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO access_tokens (token, appid, kind, generation, issued_at, expires_at, forced,
                                    component_appid)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
impl Store for PostgresStore {
    async fn server_key(&self, name: &str) -> Result<[u8; 32]> {
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(&fresh[..])
            .execute(&self.pool)
            .await?;
        let value: Vec<u8> = sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        value
            .try_into()
            .map_err(|_| corrupt(format!("server key {name} is not 32 bytes")))
    }

    async fn clock_offset(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT offset_seconds FROM clock WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn advance_clock(&self, seconds: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "UPDATE clock SET offset_seconds = offset_seconds + $1 WHERE id = 1 RETURNING offset_seconds",
        )
        .bind(seconds)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn create_app(&self, app: &NewApp) -> Result<Created> {
        let done = sqlx::query(
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
        .execute(&self.pool)
        .await?;
        Ok(if done.rows_affected() == 1 {
            Created::Created
        } else {
            Created::Conflict
        })
    }

    async fn app(&self, appid: &str) -> Result<Option<App>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE appid = $1");
        sqlx::query_as(&sql)
            .bind(appid)
            .fetch_optional(&self.pool)
            .await?
            .map(app_from_row)
            .transpose()
    }

    async fn apps(&self) -> Result<Vec<App>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM apps ORDER BY created_at, appid");
        sqlx::query_as(&sql)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(app_from_row)
            .collect()
    }

    async fn set_app_quota(&self, appid: &str, quota: &Quota) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE apps SET quota_daily = $1, quota_per_minute = $2, token_quota_daily = $3
             WHERE appid = $4",
        )
        .bind(quota.daily)
        .bind(quota.per_minute)
        .bind(quota.token_daily)
        .bind(appid)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_merchant(&self, mchid: &str, appids: &[String], now: i64) -> Result<Created> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "INSERT INTO merchants (mchid, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(mchid)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(Created::Conflict);
        }
        for appid in appids {
            sqlx::query(
                "INSERT INTO merchant_apps (mchid, appid) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(mchid)
            .bind(appid)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Created::Created)
    }

    async fn first_unbound_mchid(&self, appid: &str, mchids: &[&str]) -> Result<Option<String>> {
        let mut conn = self.pool.acquire().await?;
        for mchid in mchids {
            let bound: Option<i64> = sqlx::query_scalar(
                "SELECT 1::BIGINT FROM merchant_apps WHERE mchid = $1 AND appid = $2",
            )
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
        .fetch_all(&self.pool)
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
        let mut tx = self.begin_write().await?;
        lock_token_owner(&mut tx, token).await?;
        match token.kind {
            // A new generation: the previous one keeps working through its grace period.
            TokenKind::Basic | TokenKind::Component | TokenKind::Authorizer => {
                sqlx::query(
                    "UPDATE access_tokens SET superseded_at = $1
                     WHERE appid = $2 AND kind = $3 AND component_appid IS NOT DISTINCT FROM $4 AND superseded_at IS NULL",
                )
                .bind(token.issued_at)
                .bind(&token.appid)
                .bind(token.kind.as_str())
                .bind(&token.component_appid)
                .execute(&mut *tx)
                .await?;
            }
            TokenKind::Stable => {
                sqlx::query(
                    "UPDATE access_tokens SET revoked = TRUE
                     WHERE appid = $1 AND kind = 'stable' AND revoked = FALSE",
                )
                .bind(&token.appid)
                .execute(&mut *tx)
                .await?;
            }
        }
        let record = insert_token(&mut tx, token).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn token(&self, token: &str) -> Result<Option<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE token = $1");
        sqlx::query_as(&sql)
            .bind(token)
            .fetch_optional(&self.pool)
            .await?
            .map(token_record)
            .transpose()
    }

    async fn stable_token(&self, mint: &NewToken) -> Result<TokenRecord> {
        let mut tx = self.begin_write().await?;
        lock_token_owner(&mut tx, mint).await?;
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM access_tokens
             WHERE appid = $1 AND kind = 'stable' AND revoked = FALSE AND expires_at > $2
             ORDER BY generation DESC LIMIT 1"
        );
        let current = sqlx::query_as(&sql)
            .bind(&mint.appid)
            .bind(mint.issued_at)
            .fetch_optional(&mut *tx)
            .await?
            .map(token_record)
            .transpose()?;
        let record = match current {
            Some(record) => record,
            None => insert_token(&mut tx, mint).await?,
        };
        tx.commit().await?;
        Ok(record)
    }

    async fn forced_refreshes_since(&self, appid: &str, since: i64) -> Result<(i64, Option<i64>)> {
        Ok(sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM access_tokens
                     WHERE appid = $1 AND kind = 'stable' AND forced = TRUE AND issued_at >= $2),
                    (SELECT MAX(issued_at) FROM access_tokens
                     WHERE appid = $1 AND kind = 'stable' AND forced = TRUE)",
        )
        .bind(appid)
        .bind(since)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Commits without waiting for the WAL flush (`synchronous_commit = off` for this
    /// transaction only): a crash may forget the last few calls' counts, never an upload.
    async fn count_call(&self, call: &QuotaCall<'_>) -> Result<QuotaCounts> {
        let mut tx = self.begin_write().await?;
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        let mut counts = [0i64; 2];
        for (slot, (window, start)) in [("d", call.day_start), ("m", call.minute_start)]
            .into_iter()
            .enumerate()
        {
            let count: i64 = sqlx::query_scalar(
                "INSERT INTO quota_counters (appid, api, \"window\", window_start, count)
                 VALUES ($1, $2, $3, $4, 1)
                 ON CONFLICT (appid, api, \"window\", window_start)
                 DO UPDATE SET count = quota_counters.count + 1 RETURNING count",
            )
            .bind(call.appid)
            .bind(call.api)
            .bind(window)
            .bind(start)
            .fetch_one(&mut *tx)
            .await?;
            if count == 1 {
                // A new window began: the old ones will never be read again.
                sqlx::query(
                    "DELETE FROM quota_counters
                     WHERE appid = $1 AND api = $2 AND \"window\" = $3 AND window_start < $4",
                )
                .bind(call.appid)
                .bind(call.api)
                .bind(window)
                .bind(start)
                .execute(&mut *tx)
                .await?;
            }
            counts[slot] = count;
        }
        tx.commit().await?;
        Ok(QuotaCounts {
            day: counts[0],
            minute: counts[1],
        })
    }

    async fn create_payment(&self, payment: &NewPayment) -> Result<Created> {
        let mut tx = self.begin_write().await?;
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'NOTPAY', $8, $9) ON CONFLICT DO NOTHING",
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
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(Created::Conflict);
            }
        }
        tx.commit().await?;
        Ok(Created::Created)
    }

    async fn payments(&self, filter: &PaymentFilter) -> Result<Vec<Payment>> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT transaction_id FROM payments
             WHERE parent_transaction_id IS NULL AND ($1::TEXT IS NULL OR appid = $1)
             ORDER BY created_at DESC, transaction_id DESC LIMIT $2",
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
        let mut conn = self.pool.acquire().await?;
        payment_by_id(&mut conn, transaction_id).await
    }

    async fn pay(&self, transaction_id: &str, now: i64) -> Result<Option<Payment>> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE payments SET state = 'SUCCESS', paid_at = $1
             WHERE (transaction_id = $2 OR parent_transaction_id = $2) AND state = 'NOTPAY'",
        )
        .bind(now)
        .bind(transaction_id)
        .execute(&mut *tx)
        .await?;
        let Some(payment) = payment_by_id(&mut tx, transaction_id).await? else {
            return Ok(None);
        };
        let candidates: Vec<(i64, String, String, String, String)> = sqlx::query_as(
            "SELECT key_type, key_a, key_b, appid, body FROM shopping_infos
             WHERE appid = $1 AND associated_at IS NULL
               AND ((key_type = 1 AND key_a = $2 AND key_b = $3) OR (key_type = 2 AND key_a = $4 AND key_b = ''))",
        )
        .bind(&payment.appid)
        .bind(&payment.keys.mchid)
        .bind(&payment.keys.out_trade_no)
        .bind(&payment.keys.transaction_id)
        .fetch_all(&mut *tx)
        .await?;
        for (key_type, key_a, key_b, appid, body) in candidates {
            let info: ShoppingInfo = serde_json::from_str(&body).map_err(corrupt)?;
            if verify(&appid, &info, Some(&payment)) == VerifyResult::Associated {
                sqlx::query(
                    "UPDATE shopping_infos SET associated_at = $1, transaction_id = $2
                     WHERE appid = $3 AND key_type = $4 AND key_a = $5 AND key_b = $6",
                )
                .bind(now)
                .bind(&payment.keys.transaction_id)
                .bind(&appid)
                .bind(key_type)
                .bind(&key_a)
                .bind(&key_b)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Some(payment))
    }

    async fn save_shopping_info(
        &self,
        appid: &str,
        info: &ShoppingInfo,
        now: i64,
    ) -> Result<Saved> {
        let body = serde_json::to_string(info).map_err(corrupt)?;
        let (key_type, key_a, key_b) = key_cols(&info.order_key);
        let upload_ns = info.upload_time.unix_nanos();
        let mut tx = self.begin_write().await?;
        lock_payment_for_key(&mut tx, &info.order_key).await?;

        let stored = stored_shopping(&mut tx, appid, key_type, key_a, key_b, true).await?;
        if let Some(fact) = stored.and_then(|stored| refusal(&stored, upload_ns, &body)) {
            return Ok(fact);
        }

        // The ordering rule itself: only a strictly later, unassociated upload replaces.
        let version: Option<i64> = sqlx::query_scalar(
            "INSERT INTO shopping_infos (appid, key_type, key_a, key_b, combined, openid, upload_time,
                                         upload_time_ns, body, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11)
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
        .fetch_optional(&mut *tx)
        .await?;
        let Some(version) = version else {
            // Another transaction stored this order first: judge against what it stored.
            let stored = stored_shopping(&mut tx, appid, key_type, key_a, key_b, false).await?;
            return Ok(stored
                .and_then(|stored| refusal(&stored, upload_ns, &body))
                .unwrap_or(Saved::Stale {
                    stored_upload_time: String::new(),
                }));
        };

        sqlx::query(
            "DELETE FROM sub_order_keys
             WHERE appid = $1 AND key_type = $2 AND master_key_a = $3 AND master_key_b = $4",
        )
        .bind(appid)
        .bind(key_type)
        .bind(key_a)
        .bind(key_b)
        .execute(&mut *tx)
        .await?;
        // A sub-order key belongs to one combined order: claiming one another order holds
        // fails here and the transaction rolls back.
        for sub in info.sub_order_keys() {
            let (_, sub_a, sub_b) = key_cols(sub);
            let claimed = sqlx::query(
                "INSERT INTO sub_order_keys (appid, key_type, key_a, key_b, master_key_a, master_key_b)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(appid)
            .bind(key_type)
            .bind(sub_a)
            .bind(sub_b)
            .bind(key_a)
            .bind(key_b)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() == 0 {
                return Ok(Saved::SubOrderTaken { key: sub.clone() });
            }
        }
        sqlx::query(
            "INSERT INTO shopping_info_versions (appid, key_type, key_a, key_b, version, upload_time,
                                                 body, accepted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(appid)
        .bind(key_type)
        .bind(key_a)
        .bind(key_b)
        .bind(version)
        .bind(info.upload_time.as_str())
        .bind(&body)
        .bind(now)
        .execute(&mut *tx)
        .await?;

        let payment = payment_for_key(&mut tx, &info.order_key).await?;
        let associated = verify(appid, info, payment.as_ref()) == VerifyResult::Associated;
        if let (true, Some(payment)) = (associated, &payment) {
            sqlx::query(
                "UPDATE shopping_infos SET associated_at = $1, transaction_id = $2
                 WHERE appid = $3 AND key_type = $4 AND key_a = $5 AND key_b = $6",
            )
            .bind(now)
            .bind(&payment.keys.transaction_id)
            .bind(appid)
            .bind(key_type)
            .bind(key_a)
            .bind(key_b)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Saved::Accepted {
            version,
            associated,
        })
    }

    async fn shopping_info(&self, appid: &str, key: &OrderKey) -> Result<Option<StoredInfo>> {
        let (key_type, key_a, key_b) = key_cols(key);
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "SELECT {INFO_COLUMNS} FROM shopping_infos
             WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4"
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
        let mut conn = self.pool.acquire().await?;
        let (listing, binds) = upload_listing(filter, '$');
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
        versions(&self.pool, "shopping_info_versions", appid, key).await
    }

    async fn payment_for_key(&self, key: &OrderKey) -> Result<Option<Payment>> {
        let mut conn = self.pool.acquire().await?;
        payment_for_key(&mut conn, key).await
    }

    async fn save_shipping_info(
        &self,
        appid: &str,
        info: &ShippingInfo,
        now: i64,
    ) -> Result<Saved> {
        let body = serde_json::to_string(info).map_err(corrupt)?;
        let (key_type, key_a, key_b) = key_cols(&info.order_key);
        let upload_ns = info.upload_time.unix_nanos();
        let mut tx = self.begin_write().await?;
        let stored = stored_shipping(&mut tx, appid, key_type, key_a, key_b).await?;
        if let Some(fact) = stored.and_then(|stored| refusal(&stored, upload_ns, &body)) {
            return Ok(fact);
        }
        let version: Option<i64> = sqlx::query_scalar(
            "INSERT INTO shipping_infos (appid, key_type, key_a, key_b, upload_time, upload_time_ns,
                                         body, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9)
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
        .fetch_optional(&mut *tx)
        .await?;
        let Some(version) = version else {
            let stored = stored_shipping(&mut tx, appid, key_type, key_a, key_b).await?;
            return Ok(stored
                .and_then(|stored| refusal(&stored, upload_ns, &body))
                .unwrap_or(Saved::Stale {
                    stored_upload_time: String::new(),
                }));
        };
        sqlx::query(
            "INSERT INTO shipping_info_versions (appid, key_type, key_a, key_b, version, upload_time,
                                                 body, accepted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(appid)
        .bind(key_type)
        .bind(key_a)
        .bind(key_b)
        .bind(version)
        .bind(info.upload_time.as_str())
        .bind(&body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Saved::Accepted {
            version,
            associated: false,
        })
    }

    async fn shipping_info(&self, appid: &str, key: &OrderKey) -> Result<Option<StoredShipping>> {
        let (key_type, key_a, key_b) = key_cols(key);
        let row: Option<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT body, version, created_at, updated_at FROM shipping_infos
             WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4",
        )
        .bind(appid)
        .bind(key_type)
        .bind(key_a)
        .bind(key_b)
        .fetch_optional(&self.pool)
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
        versions(&self.pool, "shipping_info_versions", appid, key).await
    }

    async fn transition_product_state(
        &self,
        appid: &str,
        from: ProductState,
        to: ProductState,
        review_due_at: Option<i64>,
        last_review_result: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE apps SET product_state = $1, review_due_at = $2,
                             last_review_result = COALESCE($3, last_review_result)
             WHERE appid = $4 AND product_state = $5",
        )
        .bind(to.as_str())
        .bind(review_due_at)
        .bind(last_review_result)
        .bind(appid)
        .bind(from.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_component(&self, component: &Component) -> Result<Created> {
        let done = sqlx::query(
            "INSERT INTO components (component_appid, secret_hash, verify_ticket, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&component.component_appid)
        .bind(&component.secret_hash)
        .bind(&component.verify_ticket)
        .bind(component.created_at)
        .execute(&self.pool)
        .await?;
        Ok(if done.rows_affected() == 1 {
            Created::Created
        } else {
            Created::Conflict
        })
    }

    async fn component(&self, component_appid: &str) -> Result<Option<Component>> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT component_appid, secret_hash, verify_ticket, created_at FROM components
             WHERE component_appid = $1",
        )
        .bind(component_appid)
        .fetch_optional(&self.pool)
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
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO authorizations (component_appid, authorizer_appid, funcscope,
                                         agreement_signed, refresh_token, authorized_at)
             VALUES ($1, $2, $3, $4, $5, $6)
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
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO authorization_codes (code, component_appid, authorizer_appid, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(code)
        .bind(&authorization.component_appid)
        .bind(&authorization.authorizer_appid)
        .bind(code_expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn redeem_authorization_code(
        &self,
        component_appid: &str,
        code: &str,
        now: i64,
    ) -> Result<Option<Authorization>> {
        let mut tx = self.begin_write().await?;
        let authorizer: Option<String> = sqlx::query_scalar(
            "UPDATE authorization_codes SET used = TRUE
             WHERE code = $1 AND component_appid = $2 AND used = FALSE AND expires_at > $3
             RETURNING authorizer_appid",
        )
        .bind(code)
        .bind(component_appid)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(authorizer) = authorizer else {
            return Ok(None);
        };
        let authorization = authorization_in(&mut tx, component_appid, &authorizer).await?;
        tx.commit().await?;
        Ok(authorization)
    }

    async fn authorization(
        &self,
        component_appid: &str,
        authorizer_appid: &str,
    ) -> Result<Option<Authorization>> {
        let mut conn = self.pool.acquire().await?;
        authorization_in(&mut conn, component_appid, authorizer_appid).await
    }

    async fn record_requests(&self, entries: &[JournalEntry], retention: Retention) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for e in entries {
            sqlx::query(
                "INSERT INTO journal (rid, appid, invoke_time, cost_in_ms, request_url, request_body,
                                      response_body, client_ip, errcode)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (rid) DO NOTHING",
            )
            .bind(&e.rid)
            .bind(&e.appid)
            .bind(e.invoke_time)
            .bind(e.cost_in_ms)
            .bind(&e.request_url)
            .bind(&e.request_body)
            .bind(&e.response_body)
            .bind(&e.client_ip)
            .bind(e.errcode)
            .execute(&mut *tx)
            .await?;
        }
        // Ids only grow and rows leave from the oldest end, so the newest `max_entries` are
        // the ids above MAX(id) - max_entries (fewer only across sequence gaps).
        sqlx::query(
            "DELETE FROM journal
             WHERE invoke_time < $1
                OR id <= (SELECT MAX(id) FROM journal) - $2",
        )
        .bind(retention.oldest)
        .bind(retention.max_entries)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>> {
        let rows: Vec<JournalRow> = sqlx::query_as(
            "SELECT rid, appid, invoke_time, cost_in_ms, request_url, request_body, response_body,
                    client_ip, errcode
             FROM journal
             WHERE ($1::TEXT IS NULL OR appid = $1) AND ($2::TEXT IS NULL OR rid = $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(&filter.appid)
        .bind(&filter.rid)
        .bind(filter.limit)
        .fetch_all(&self.pool)
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
        let mut tx = self.begin_write().await?;
        for errcode in errcodes {
            sqlx::query(
                "INSERT INTO faults (appid, path, errcode, delay_ms) VALUES ($1, $2, $3, $4)",
            )
            .bind(appid)
            .bind(path)
            .bind(errcode)
            .bind(delay_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn clear_faults(&self, appid: &str, path: Option<&str>) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM faults WHERE appid = $1 AND ($2::TEXT IS NULL OR path = $2)")
                .bind(appid)
                .bind(path)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    async fn take_fault(&self, appid: &str, path: &str) -> Result<Option<Fault>> {
        // Most calls have no fault queued: answer those from the read pool without
        // touching the write lock.
        let queued: Option<i64> = sqlx::query_scalar(
            "SELECT 1::BIGINT FROM faults WHERE appid = $1 AND (path IS NULL OR path = $2) LIMIT 1",
        )
        .bind(appid)
        .bind(path)
        .fetch_optional(&self.pool)
        .await?;
        if queued.is_none() {
            return Ok(None);
        }
        let fault: Option<(i64, i64)> = sqlx::query_as(
            "DELETE FROM faults WHERE id = (
                 SELECT id FROM faults WHERE appid = $1 AND (path IS NULL OR path = $2)
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING errcode, delay_ms",
        )
        .bind(appid)
        .bind(path)
        .fetch_optional(&self.pool)
        .await?;
        Ok(fault.map(|(errcode, delay_ms)| Fault { errcode, delay_ms }))
    }
}

async fn authorization_in(
    conn: &mut PgConnection,
    component_appid: &str,
    authorizer_appid: &str,
) -> Result<Option<Authorization>> {
    let row: Option<(String, bool, String, i64)> = sqlx::query_as(
        "SELECT funcscope, agreement_signed, refresh_token, authorized_at FROM authorizations
         WHERE component_appid = $1 AND authorizer_appid = $2",
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

/// The stored shopping details of an order as the ordering rule reads them; `lock` also
/// locks the row for the rest of the transaction.
async fn stored_shopping(
    conn: &mut PgConnection,
    appid: &str,
    key_type: i64,
    key_a: &str,
    key_b: &str,
    lock: bool,
) -> Result<Option<StoredUpload>> {
    let sql = format!(
        "SELECT upload_time_ns, upload_time, body, associated_at FROM shopping_infos
         WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row: Option<(i64, String, String, Option<i64>)> = sqlx::query_as(&sql)
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

/// The stored shipping details of an order as the ordering rule reads them, locked for
/// the rest of the transaction.
async fn stored_shipping(
    conn: &mut PgConnection,
    appid: &str,
    key_type: i64,
    key_a: &str,
    key_b: &str,
) -> Result<Option<StoredUpload>> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT upload_time_ns, upload_time, body FROM shipping_infos
         WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4 FOR UPDATE",
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
    pool: &PgPool,
    table: &'static str,
    appid: &str,
    key: &OrderKey,
) -> Result<Vec<StoredVersion<T>>> {
    let (key_type, key_a, key_b) = key_cols(key);
    let sql = format!(
        "SELECT version, upload_time, accepted_at, body FROM {table}
         WHERE appid = $1 AND key_type = $2 AND key_a = $3 AND key_b = $4 ORDER BY version"
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
