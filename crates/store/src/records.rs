//! Plain records the store reads and writes.

use serde::Serialize;
use userorder_model::association::PaymentKeys;
use userorder_model::shopping::OrderKey;

pub use userorder_model::sec_order::PaymentRef;

// The records the sandbox shows as they are stored; their wire form is the sandbox's.
pub use userorder_model::sandbox::{
    AutoConfirmDays, ConfirmStatus, Delivery, DeliveryState, Event, JournalEntry, Merchant,
    Payment, ProductState, Push, Quota, StoredInfo, StoredShipping, StoredVersion, SubPayment,
    TradeManagement,
};
pub use userorder_model::sec_order::{Complaint, Reminder, Special};

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
    /// Order shipping management settings (SPEC §10.12).
    pub trade: TradeManagement,
    /// set_msg_jump_path (SPEC §10.9); `None`: WeChat's own confirm page.
    pub msg_jump_path: Option<String>,
    /// Where its events are pushed (SPEC §10.12); `None`: nowhere.
    pub push: Option<Push>,
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
    pub excluded_from_shipping: bool,
    /// A v3 prepay's part (SPEC §11.6); `None` for a sandbox-made payment.
    pub v3: Option<userorder_model::pay_v3::records::PaymentV3>,
}

/// A payment (or a sub-payment) as order shipping management sees it (SPEC §10.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOrder {
    pub keys: PaymentKeys,
    /// The payer (a sub-order's is its master's).
    pub openid: String,
    pub amount: i64,
    pub created_at: i64,
    pub paid_at: i64,
    pub refunded_at: Option<i64>,
    /// opspecialorder's report (SPEC §10.11).
    pub special: Option<Special>,
    pub complaints: Vec<Complaint>,
}

impl PaymentOrder {
    /// What the order's state is computed from, with its shipping and its app's settings.
    pub fn facts<'a>(
        &'a self,
        shipment: Option<&'a Shipment>,
        trade: &'a TradeManagement,
    ) -> userorder_model::sec_order::StateFacts<'a> {
        userorder_model::sec_order::StateFacts {
            shipment,
            refunded_at: self.refunded_at,
            complaints: &self.complaints,
            settings: trade,
        }
    }
}

/// What a call changes of one order (SPEC §10.8, §10.11, §10.12), judged by
/// `rules::change_order` under the order's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderChange {
    /// The payer's confirm-receipt; `openid` absent: the payer.
    ConfirmReceipt { openid: Option<String> },
    /// notify_confirm_receive.
    Remind { received_time: i64 },
    /// opspecialorder (`kind` already 1 or 2).
    Special { kind: i64, delay_to: Option<i64> },
    /// The payer opens or closes a complaint.
    Complaint { open: bool },
}

/// What an [`OrderChange`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Stored (or, for a complaint, already so).
    Done,
    /// The confirm-receipt component's answer (stored when `Success`).
    Confirm(ConfirmStatus),
    /// A rule refused it: nothing stored.
    Refused(userorder_model::ErrCode),
    /// A complaint on a refunded order (the sandbox's 409).
    Refunded,
}

/// `GET /sandbox/events`' filter.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub appid: Option<String>,
    pub event: Option<String>,
    pub after: i64,
    /// Only notifications of this merchant (SPEC §11.12).
    pub mchid: Option<String>,
    pub limit: i64,
}

/// An event to record (SPEC §10.13); `rule_key` makes it once-only.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub appid: String,
    pub event: &'static str,
    pub rule_key: String,
    pub at: i64,
    pub payload: serde_json::Value,
    /// A WeChat Pay notification's merchant and target (SPEC §11.12); `None` for §10's
    /// pushed events.
    pub notify: Option<NotifyTarget>,
}

/// Where a notification goes: its merchant's keys sign and encrypt it; no URL: recorded
/// with delivery `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    pub mchid: String,
    pub url: Option<String>,
}

/// A pending event claimed for one delivery attempt, with where to push it.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub id: i64,
    /// Attempts before this one.
    pub attempts: i64,
    pub payload: String,
    pub url: String,
    pub token: Option<String>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Delivered {
        status: i64,
    },
    /// Failed; try again at this real time (ms).
    Retry {
        status: Option<i64>,
        at_ms: i64,
    },
    /// Failed for the last time.
    Failed {
        status: Option<i64>,
    },
}

pub use userorder_model::sec_order::{Shipment, ShippingUpload};

/// A shipping upload for orders of an app (one, or a combined payment's sub-orders), at
/// `now`: all of it is stored, or none.
#[derive(Debug, Clone)]
pub struct ShipOrders {
    pub appid: String,
    /// Each order's transaction_id and its upload, in the order sent.
    pub orders: Vec<(String, ShippingUpload)>,
    pub upload_time: userorder_model::shopping::UploadTime,
    pub now: i64,
}

/// A page of an app's orders (SPEC §10.7), by (pay_time, transaction_id) ascending.
#[derive(Debug, Clone)]
pub struct OrderListFilter {
    pub appid: String,
    /// Paid within these Unix seconds, inclusive.
    pub paid_from: i64,
    pub paid_to: i64,
    pub openid: Option<String>,
    /// Only orders after this (pay_time, transaction_id).
    pub after: Option<(i64, String)>,
    /// The sandbox clock, for what the API knows of by now.
    pub now: i64,
    /// Rows to read (orders of other states may be among them).
    pub limit: i64,
}

/// An order with its stored shipping (`None` before the first upload).
pub type OrderAndShipping = (PaymentOrder, Option<Shipment>);

/// What one read of get_order_list's rows gives: the orders among them with their
/// shipping, and the position of the last row read (`None`: nothing more to read).
#[derive(Debug, Clone)]
pub struct OrdersPage {
    pub orders: Vec<OrderAndShipping>,
    pub last: Option<(i64, String)>,
}

/// What refunding a payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refunded {
    /// Refunded now (with its sub-payments): the payment as it is now.
    Refunded(Box<Payment>),
    /// Not `SUCCESS`: its state.
    NotPaid(String),
    NoSuchPayment,
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

/// A merchant's WeChat Pay v3 credentials (SPEC §11.2), as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Apiv3Record {
    pub merchant_keys: Vec<userorder_model::pay_v3::MerchantKey>,
    /// AES-256-GCM key of notifications: 32 of `[0-9A-Za-z]`.
    pub apiv3_key: String,
    /// `public_key` or `certificate`.
    pub platform_mode: String,
    pub platform: PlatformKey,
    /// Platform certificates, newest first (`[]` before the first switch to `certificate`).
    #[serde(default)]
    pub certificates: Vec<PlatformCertificate>,
    #[serde(flatten, default)]
    pub refunds: userorder_model::pay_v3::RefundSettings,
    /// Answers and notifications carry WeChat Pay's probe signature
    /// (`WECHATPAY/SIGNTEST/…`), which a client must not mistake for a real one.
    #[serde(default)]
    pub sign_probe: bool,
}

/// A self-signed platform certificate over its own key pair.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlatformCertificate {
    /// 40 upper-case hex.
    pub serial_no: String,
    pub pem: String,
    pub private_key_pem: String,
    pub public_key_pem: String,
    /// Real Unix seconds.
    pub effective_time: i64,
    pub expire_time: i64,
}

impl Apiv3Record {
    /// What signs answers now (SPEC §11.4): the newest certificate in `certificate` mode,
    /// else the WeChat Pay public key — (`Wechatpay-Serial`, private key PEM).
    pub fn signer(&self) -> (&str, &str) {
        match self.certificates.first() {
            Some(c) if self.platform_mode == "certificate" => (&c.serial_no, &c.private_key_pem),
            _ => (&self.platform.id, &self.platform.private_key_pem),
        }
    }
}

/// The key pair the platform signs this merchant's answers with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlatformKey {
    /// `PUB_KEY_ID_01` + mchid + 20 digits.
    pub id: String,
    pub private_key_pem: String,
    pub public_key_pem: String,
}

/// Which notifications to claim for an attempt (SPEC §11.12, §11.13's deliver call).
#[derive(Debug, Clone, Default)]
pub struct NotifyClaim {
    /// Pending ones whose slot is due by this sandbox time (`None`: whenever).
    pub due_by: Option<i64>,
    /// This one, in any state.
    pub id: Option<i64>,
    pub appid: Option<String>,
    pub mchid: Option<String>,
    pub limit: i64,
}

/// A notification claimed for one attempt.
#[derive(Debug, Clone)]
pub struct NotifyJob {
    pub id: i64,
    pub appid: String,
    pub event: String,
    /// Event time (sandbox).
    pub at: i64,
    pub mchid: String,
    pub url: String,
    /// `{mchid, notify_url, resource}`.
    pub payload: String,
    /// As sent before, if an attempt built it.
    pub notification: Option<String>,
    /// The attempts so far (JSON array).
    pub log: String,
    pub attempts: i64,
}

/// How a notification attempt ended, with what to keep.
#[derive(Debug, Clone)]
pub struct NotifyAttempt {
    /// `delivered`, `pending` (with `next_at`) or `failed`.
    pub state: DeliveryState,
    pub status: Option<i64>,
    pub next_at: Option<i64>,
    pub notification: String,
    /// The whole log, this attempt appended.
    pub log: String,
}

/// What names a refund: its id, or its merchant's out_refund_no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundKey {
    Id(String),
    Merchant {
        mchid: String,
        out_refund_no: String,
    },
}
