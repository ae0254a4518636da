//! Durable state behind one backend-neutral trait. The store keeps *facts* and enforces
//! the ordering rules inside the database (conditional upserts, one transaction per
//! decision), so several server processes can share one database; the server decides what
//! errcode a fact deserves.

pub mod events;
pub mod payments;
mod postgres;
mod records;
mod rows;
mod rules;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use userorder_model::ErrCode;
use userorder_model::shipping::ShippingInfo;
use userorder_model::shopping::{OrderKey, ShoppingInfo};

pub use postgres::PostgresStore;
pub use records::*;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Batch(String),
}

/// See [`Store::call_facts`].
#[derive(Debug, Clone)]
pub struct CallFacts {
    pub clock_offset: i64,
    pub token: Option<TokenRecord>,
    /// The app the token acts for.
    pub app: Option<App>,
    /// Whether a fault is queued for the app on the path (then `take_fault` takes it; a
    /// concurrent call may have taken it first).
    pub fault_queued: bool,
}

/// What a batched operation has done since the store opened (PostgreSQL's batches: see
/// the README's Performance section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    /// `call_facts`, `count_call`, `save_shopping_info` or `issue_token`.
    pub operation: &'static str,
    pub batches: u64,
    pub requests: u64,
    /// Statements sent to the database (an upload batch reads, then writes; a batch that
    /// loses a race for an order runs again).
    pub statements: u64,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A 32-byte secret by name, created at random on first use and stable afterwards
    /// (the openid key lives here so openids survive restarts).
    async fn server_key(&self, name: &str) -> Result<[u8; 32]>;

    /// Seconds the sandbox clock runs ahead of real time.
    async fn clock_offset(&self) -> Result<i64>;
    /// Moves the sandbox clock forward; answers the new offset.
    async fn advance_clock(&self, seconds: i64) -> Result<i64>;

    /// What an authenticated call reads before anything else: the clock, the token, the
    /// token's app, and whether a fault is queued for that app on `path` — in one read
    /// (SQLite: one connection; PostgreSQL: one round trip).
    async fn call_facts(&self, token: &str, path: &str) -> Result<CallFacts>;
    /// What a call that names its app instead of a token (the token endpoints) reads first:
    /// the clock, the app, and whether a fault is queued for it on `path` — in one read;
    /// `token` is `None`.
    async fn app_facts(&self, appid: &str, path: &str) -> Result<CallFacts>;

    async fn create_app(&self, app: &NewApp) -> Result<Created>;
    async fn app(&self, appid: &str) -> Result<Option<App>>;
    async fn apps(&self) -> Result<Vec<App>>;
    async fn set_app_quota(&self, appid: &str, quota: &Quota) -> Result<bool>;
    /// An app's order shipping management settings; false when there is no such app.
    async fn set_trade_management(&self, appid: &str, trade: &TradeManagement) -> Result<bool>;
    /// An app's confirm-receipt page (SPEC §10.9), `None` to clear it; false: no such app.
    async fn set_msg_jump_path(&self, appid: &str, path: Option<&str>) -> Result<bool>;

    /// `Created::Conflict` when the mchid exists; unknown appids are the server's to check.
    async fn create_merchant(&self, mchid: &str, appids: &[String], now: i64) -> Result<Created>;
    /// The first of `mchids` that is not bound to `appid`, if any.
    async fn first_unbound_mchid(&self, appid: &str, mchids: &[&str]) -> Result<Option<String>>;
    async fn merchants(&self) -> Result<Vec<Merchant>>;
    /// A merchant's WeChat Pay v3 credentials (SPEC §11.2); `None` until configured.
    async fn apiv3(&self, mchid: &str) -> Result<Option<Apiv3Record>>;
    /// Stores a merchant's v3 credentials whole; false when there is no such merchant.
    async fn put_apiv3(&self, mchid: &str, record: &Apiv3Record, now: i64) -> Result<bool>;

    /// Stores a new token. `Basic` tokens supersede the app's previous generation
    /// (superseded_at = issued_at); a forced `Stable` token revokes the previous one.
    async fn issue_token(&self, token: &NewToken) -> Result<TokenRecord>;
    async fn token(&self, token: &str) -> Result<Option<TokenRecord>>;
    /// The stable token still valid at `now`, or a fresh one minted from `mint` in the same
    /// transaction, so two callers never get two different non-forced stable tokens.
    async fn stable_token(&self, mint: &NewToken) -> Result<TokenRecord>;
    /// Forced stable refreshes of `appid` issued at or after `since`: (count, latest issue).
    async fn forced_refreshes_since(&self, appid: &str, since: i64) -> Result<(i64, Option<i64>)>;

    /// Counts one call and answers the counts of its day and minute windows, this call
    /// included.
    async fn count_call(&self, call: &QuotaCall<'_>) -> Result<QuotaCounts>;

    async fn create_payment(&self, payment: &NewPayment) -> Result<Created>;
    async fn payment(&self, transaction_id: &str) -> Result<Option<Payment>>;
    /// Payments (not sub-payments), newest first.
    async fn payments(&self, filter: &PaymentFilter) -> Result<Vec<Payment>>;
    /// Marks a payment (and its sub-payments) paid and associates every matching upload in
    /// the same transaction; a payment that cannot be paid is answered as it is. `None`
    /// when there is no such payment.
    async fn pay(&self, transaction_id: &str, now: i64) -> Result<Option<Payment>> {
        let changed = self
            .change_payment(transaction_id, &payments::PaymentChange::Pay, now)
            .await?;
        Ok(changed.map(|(_, payment)| payment))
    }
    /// Changes one payment under its lock (SPEC §11.6–§11.9), judged by
    /// `payments::judge`: the row, its refunds and its notifications are written in one
    /// transaction (paying also associates uploads, as [`Store::pay`]). `None`: no such
    /// payment (sub-payments are not looked up).
    async fn change_payment(
        &self,
        transaction_id: &str,
        change: &payments::PaymentChange,
        now: i64,
    ) -> Result<Option<(payments::Outcome, Payment)>>;
    /// A payment or a combined payment's sub-payment (as a payment of its own, without
    /// sub-orders) by either key: what a v3 refund names (SPEC §11.9).
    async fn payment_any(&self, key: &OrderKey) -> Result<Option<Payment>>;
    /// The payment a prepay_id was issued for.
    async fn payment_by_prepay(&self, prepay_id: &str) -> Result<Option<Payment>>;
    /// The transaction_id of the payment a refund belongs to.
    async fn refund_owner(&self, key: &RefundKey) -> Result<Option<String>>;
    /// Payments with a refund outcome due by `now` (at most `limit`).
    async fn due_refunds(&self, now: i64, limit: i64) -> Result<Vec<String>>;
    /// Applies the refund outcomes due by `now` (SPEC §11.9), up to 500 payments a call;
    /// answers how many payments it looked at.
    async fn settle_refunds(&self, now: i64) -> Result<u64> {
        let due = self.due_refunds(now, 500).await?;
        for transaction_id in &due {
            self.change_payment(transaction_id, &payments::PaymentChange::RefundsDue, now)
                .await?;
        }
        Ok(due.len() as u64)
    }

    /// Applies a shipping upload to its orders under SPEC §10.6's state rules, atomically:
    /// stored for every changed order, or the errcode of the first rule broken (then
    /// nothing is stored).
    async fn ship(&self, orders: &ShipOrders) -> Result<std::result::Result<(), ErrCode>>;
    /// The next orders of an app after a position, with their shipping (SPEC §10.7); at
    /// most `limit` payment rows are read, so a short answer is not the end: the last
    /// position read is returned with them.
    async fn orders_page(&self, filter: &OrderListFilter) -> Result<OrdersPage>;
    /// Changes one order under its lock (SPEC §10.8, §10.11, §10.12): the order `key`
    /// names for `appid` (`None`: whichever app's; the sandbox), judged by
    /// `rules::change_order`; answers the outcome and the order as it is now. `None`: not
    /// an order.
    async fn change_order(
        &self,
        appid: Option<&str>,
        key: &PaymentRef,
        change: &OrderChange,
        now: i64,
    ) -> Result<Option<(ChangeOutcome, OrderAndShipping)>>;
    /// Refunds a paid payment with all its sub-payments (SPEC §10.12).
    async fn refund(&self, transaction_id: &str, now: i64) -> Result<Refunded>;
    /// The order a PaymentRef names for `appid` at `now` (SPEC §10.2), or `None`
    /// (10060001).
    async fn order(
        &self,
        appid: &str,
        key: &PaymentRef,
        now: i64,
    ) -> Result<Option<OrderAndShipping>>;

    /// Where an app's events are pushed (`None`: nowhere); false: no such app.
    async fn set_push(&self, appid: &str, push: Option<&Push>) -> Result<bool>;
    /// Records every event due by the sandbox moment `now` that is not yet recorded
    /// (SPEC §10.13), stamping deliveries due at real time `real_ms`; answers how many.
    async fn sweep_events(&self, now: i64, real_ms: i64) -> Result<u64>;
    async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>>;
    /// Claims up to `limit` pending events due by real time `real_ms` whose app has a push
    /// URL, leasing each for `events::LEASE_MS`.
    async fn claim_deliveries(&self, real_ms: i64, limit: i64) -> Result<Vec<DeliveryJob>>;
    async fn finish_delivery(&self, id: i64, outcome: Delivered) -> Result<()>;
    /// Claims notifications for an attempt each, leasing them for `events::LEASE_MS`.
    async fn claim_notifications(
        &self,
        claim: &NotifyClaim,
        real_ms: i64,
    ) -> Result<Vec<NotifyJob>>;
    async fn finish_notification(&self, id: i64, attempt: &NotifyAttempt) -> Result<()>;

    /// Saves an upload if the ordering rules allow it and associates it with its payment
    /// when that is already paid — all in one transaction.
    async fn save_shopping_info(&self, appid: &str, info: &ShoppingInfo, now: i64)
    -> Result<Saved>;
    async fn shopping_info(&self, appid: &str, key: &OrderKey) -> Result<Option<StoredInfo>>;
    async fn shopping_infos(&self, filter: &UploadFilter) -> Result<Vec<StoredInfo>>;
    async fn shopping_info_versions(
        &self,
        appid: &str,
        key: &OrderKey,
    ) -> Result<Vec<StoredVersion>>;

    /// The payment an upload with this master key refers to (by mchid + out_trade_no or by
    /// transaction_id).
    async fn payment_for_key(&self, key: &OrderKey) -> Result<Option<Payment>>;

    /// Saves shipping details under the same ordering rule as shopping details (strictly
    /// later replaces, identical retry is a no-op), tracked separately from them.
    async fn save_shipping_info(&self, appid: &str, info: &ShippingInfo, now: i64)
    -> Result<Saved>;
    async fn shipping_info(&self, appid: &str, key: &OrderKey) -> Result<Option<StoredShipping>>;
    async fn shipping_info_versions(
        &self,
        appid: &str,
        key: &OrderKey,
    ) -> Result<Vec<StoredVersion<ShippingInfo>>>;

    /// Moves an app's product state if it is still `from` (SPEC §7); false otherwise.
    async fn transition_product_state(
        &self,
        appid: &str,
        from: ProductState,
        to: ProductState,
        review_due_at: Option<i64>,
        last_review_result: Option<&str>,
    ) -> Result<bool>;

    async fn create_component(&self, component: &Component) -> Result<Created>;
    async fn component(&self, component_appid: &str) -> Result<Option<Component>>;
    /// Creates or replaces the authorization (and with it the refresh token) and stores a
    /// fresh single-use code for it.
    async fn authorize(
        &self,
        authorization: &Authorization,
        code: &str,
        code_expires_at: i64,
    ) -> Result<()>;
    /// Spends an unused, unexpired code of this component; answers its authorization.
    async fn redeem_authorization_code(
        &self,
        component_appid: &str,
        code: &str,
        now: i64,
    ) -> Result<Option<Authorization>>;
    async fn authorization(
        &self,
        component_appid: &str,
        authorizer_appid: &str,
    ) -> Result<Option<Authorization>>;

    /// Appends journal entries, in one transaction.
    async fn record_requests(&self, entries: &[JournalEntry]) -> Result<()>;
    /// Deletes the entries outside the retention bound.
    async fn prune_journal(&self, retention: Retention) -> Result<()>;
    async fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>>;

    /// Queues errcodes that the next calls of `appid` (on `path`, or any path) answer.
    async fn add_faults(
        &self,
        appid: &str,
        path: Option<&str>,
        errcodes: &[i64],
        delay_ms: i64,
    ) -> Result<()>;
    /// Removes queued faults of `appid` (of one path, or all); answers how many.
    async fn clear_faults(&self, appid: &str, path: Option<&str>) -> Result<u64>;
    /// Takes the next fault for a call of `appid` on `path`, if one is queued.
    async fn take_fault(&self, appid: &str, path: &str) -> Result<Option<Fault>>;

    /// Batch sizes and commit latency of a group-committing writer; `None` for backends
    /// whose database groups commits itself (PostgreSQL).
    fn write_stats(&self) -> Option<WriteStats> {
        None
    }

    /// The batched operations' counts; empty for backends that batch only their writes.
    fn batch_stats(&self) -> Vec<BatchStats> {
        Vec::new()
    }
}

/// Opens (creating a SQLite file if missing) and migrates the database a URL names;
/// `pool_size` bounds the connections of a PostgreSQL pool.
pub async fn connect(url: &str, pool_size: u32) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(url, pool_size).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
