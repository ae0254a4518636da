//! Plain records the store reads and writes.

use serde::Serialize;
use userorder_model::association::{PaymentKeys, VerifyResult};
use userorder_model::shopping::{OrderKey, ShoppingInfo};

/// The outcome of an insert that may collide with an existing row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    Conflict,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Merchant {
    pub mchid: String,
    pub appids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Basic,
    Stable,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Stable => "stable",
        }
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

#[derive(Debug, Clone, Serialize)]
pub struct StoredVersion {
    pub version: i64,
    pub upload_time: String,
    pub accepted_at: i64,
    pub info: ShoppingInfo,
}

#[derive(Debug, Clone, Default)]
pub struct UploadFilter {
    pub appid: Option<String>,
    pub openid: Option<String>,
    pub limit: i64,
    pub offset: i64,
}
