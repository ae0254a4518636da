//! Plain records the store reads and writes.

use serde::Serialize;
use userorder_model::association::{PaymentKeys, VerifyResult};
use userorder_model::shipping::ShippingInfo;
use userorder_model::shopping::{OrderKey, ShoppingInfo};

/// The outcome of an insert that may collide with an existing row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    Conflict,
}

impl Created {
    /// `Created` when the insert wrote its row, `Conflict` when the row existed.
    pub fn from_inserted(inserted: bool) -> Self {
        if inserted {
            Created::Created
        } else {
            Created::Conflict
        }
    }
}

/// Product permission state (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProductState {
    NotOpen,
    Open,
    InReview,
    Approved,
}

impl ProductState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotOpen => "NOT_OPEN",
            Self::Open => "OPEN",
            Self::InReview => "IN_REVIEW",
            Self::Approved => "APPROVED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::NotOpen, Self::Open, Self::InReview, Self::Approved]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// Per-app quota overrides; `None` means the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Quota {
    pub daily: Option<i64>,
    pub per_minute: Option<i64>,
    pub token_daily: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewApp {
    pub appid: String,
    pub secret_hash: String,
    pub name: String,
    pub product_state: ProductState,
    pub in_open_scope: bool,
    pub quota: Quota,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct App {
    pub appid: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub name: String,
    pub product_state: ProductState,
    pub in_open_scope: bool,
    pub quota: Quota,
    pub created_at: i64,
    /// While IN_REVIEW: when the review completes (SPEC §7: six sandbox hours).
    pub review_due_at: Option<i64>,
    pub last_review_result: Option<String>,
}

impl App {
    /// The product state at `now`: a review that is due has completed.
    pub fn state_at(&self, now: i64) -> ProductState {
        match (self.product_state, self.review_due_at) {
            (ProductState::InReview, Some(due)) if now >= due => ProductState::Approved,
            (state, _) => state,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Merchant {
    pub mchid: String,
    pub appids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// `/cgi-bin/token`.
    Basic,
    /// `/cgi-bin/stable_token`.
    Stable,
    /// `component_access_token` of a third-party platform (appid = component_appid).
    Component,
    /// `authorizer_access_token`: acts for appid on behalf of component_appid.
    Authorizer,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Stable => "stable",
            Self::Component => "component",
            Self::Authorizer => "authorizer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Basic, Self::Stable, Self::Component, Self::Authorizer]
            .into_iter()
            .find(|kind| kind.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub token: String,
    pub appid: String,
    pub kind: TokenKind,
    pub issued_at: i64,
    pub expires_at: i64,
    /// A forced stable refresh: revokes the previous stable token at once.
    pub forced: bool,
    /// For an authorizer token, the component acting for `appid`.
    pub component_appid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token: String,
    pub appid: String,
    pub kind: TokenKind,
    pub generation: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub superseded_at: Option<i64>,
    pub revoked: bool,
    pub component_appid: Option<String>,
}

/// One counted call: the windows are keyed by their start time.
#[derive(Debug, Clone)]
pub struct QuotaCall<'a> {
    pub appid: &'a str,
    pub api: &'a str,
    pub day_start: i64,
    pub minute_start: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaCounts {
    pub day: i64,
    pub minute: i64,
}

#[derive(Debug, Clone)]
pub struct NewPayment {
    pub appid: String,
    pub openid: String,
    pub keys: PaymentKeys,
    pub amount: i64,
    pub sub_payments: Vec<(PaymentKeys, i64)>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubPayment {
    #[serde(flatten)]
    pub keys: PaymentKeys,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Payment {
    #[serde(flatten)]
    pub keys: PaymentKeys,
    pub appid: String,
    pub openid: String,
    pub amount: i64,
    /// `NOTPAY` or `SUCCESS`, as WeChat Pay names them.
    pub state: String,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sub_orders: Vec<SubPayment>,
}

impl Payment {
    pub fn is_paid(&self) -> bool {
        self.state == "SUCCESS"
    }
}

/// What saving an upload did, or why it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Stored as a new version (the first or a strictly later one).
    Accepted { version: i64, associated: bool },
    /// Same upload_time and same body as stored: nothing changed.
    Identical,
    /// upload_time not later than the stored one's.
    Stale { stored_upload_time: String },
    /// Associated with its payment: no longer changes.
    Locked,
    /// A sub-order key already belongs to another combined order.
    SubOrderTaken { key: OrderKey },
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredInfo {
    pub appid: String,
    #[serde(flatten)]
    pub info: ShoppingInfo,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub associated_at: Option<i64>,
    pub transaction_id: Option<String>,
    /// What verify would answer now.
    pub verify_result: VerifyResult,
}

/// One accepted version of an upload (shopping or shipping details).
#[derive(Debug, Clone, Serialize)]
pub struct StoredVersion<T = ShoppingInfo> {
    pub version: i64,
    pub upload_time: String,
    pub accepted_at: i64,
    pub info: T,
}

/// The latest accepted shipping details of an order.
#[derive(Debug, Clone, Serialize)]
pub struct StoredShipping {
    pub appid: String,
    #[serde(flatten)]
    pub info: ShippingInfo,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Component {
    pub component_appid: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub verify_ticket: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Authorization {
    pub component_appid: String,
    pub authorizer_appid: String,
    /// Permission set ids (`funcscope_category.id`), e.g. 120, 121, 142.
    pub funcscope: Vec<i64>,
    pub agreement_signed: bool,
    #[serde(skip)]
    pub refresh_token: String,
    pub authorized_at: i64,
}

/// A request as the journal keeps it (SPEC §8.1).
#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    pub rid: String,
    pub appid: Option<String>,
    pub invoke_time: i64,
    pub cost_in_ms: i64,
    pub request_url: String,
    pub request_body: String,
    pub response_body: String,
    pub client_ip: String,
    pub errcode: i64,
}

/// How much journal to keep: the newest `max_entries`, none older than `oldest`.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub max_entries: i64,
    pub oldest: i64,
}

#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    pub appid: Option<String>,
    pub rid: Option<String>,
    pub limit: i64,
}

/// The answer a scripted fault gives instead of the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fault {
    pub errcode: i64,
    pub delay_ms: i64,
}

#[derive(Debug, Clone, Default)]
pub struct UploadFilter {
    pub appid: Option<String>,
    pub openid: Option<String>,
    /// Only uploads associated with their payment (what the payer's bill shows).
    pub associated_only: bool,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub appid: Option<String>,
    pub limit: i64,
}

/// Upper bounds of the commit-latency buckets, in seconds.
pub const COMMIT_SECONDS_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Upper bounds of the batch-size buckets, in writes per transaction.
pub const BATCH_SIZE_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Cumulative counters of a group-committing writer (SQLite), for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct WriteStats {
    /// Transactions committed (or abandoned).
    pub batches: u64,
    /// Writes they carried.
    pub writes: u64,
    /// Cumulative counts per [`COMMIT_SECONDS_BUCKETS`] bound: time from BEGIN to COMMIT.
    pub commit_buckets: Vec<u64>,
    pub commit_seconds_sum: f64,
    /// Cumulative counts per [`BATCH_SIZE_BUCKETS`] bound.
    pub batch_size_buckets: Vec<u64>,
}
