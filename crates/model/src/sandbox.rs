//! The sandbox API's wire types (SPEC §8): what `/sandbox/` takes and answers, shared by
//! the server, the SDK's sandbox client and the OpenAPI document. The records a store keeps
//! and the sandbox shows as they are (payments, merchants, stored uploads, journal entries)
//! are defined here once; the store re-exports them.
//!
//! Unlike the WeChat APIs, the sandbox is plain REST: 201 for what it creates, 400/404/409
//! with `{"error": …}` for what it refuses, behind `Authorization: Bearer <admin token>`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::association::{PaymentKeys, VerifyResult};
use crate::shipping::ShippingInfo;
use crate::shopping::ShoppingInfo;

/// Every sandbox refusal: 400, 401, 404, 409 or 500 with this body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct SandboxErrorOut {
    pub error: String,
}

// ---- apps, merchants, openids -----------------------------------------------------------

/// Product permission state (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

/// Per-app quota overrides; `null` means the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quota {
    #[schema(minimum = 0)]
    pub daily: Option<i64>,
    #[schema(minimum = 0)]
    pub per_minute: Option<i64>,
    #[schema(minimum = 0)]
    pub token_daily: Option<i64>,
}

/// `POST /sandbox/apps`: every field optional; the sandbox makes up what is missing.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct NewAppIn {
    #[schema(pattern = r"^wx[0-9a-f]{16}$")]
    pub appid: Option<String>,
    /// 32 lowercase hex digits.
    #[schema(pattern = r"^[0-9a-f]{32}$")]
    pub secret: Option<String>,
    pub name: Option<String>,
    /// Default APPROVED.
    #[schema(value_type = Option<ProductState>)]
    pub product_state: Option<String>,
    /// Default true.
    pub in_open_scope: Option<bool>,
    pub quota: Option<Quota>,
}

/// What `POST /sandbox/apps` answers: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct NewAppOut {
    pub appid: String,
    pub secret: String,
    pub name: String,
    pub product_state: ProductState,
}

/// An app as `GET /sandbox/apps` lists it, with the product state in force now.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct AppOut {
    pub appid: String,
    pub name: String,
    pub product_state: ProductState,
    pub in_open_scope: bool,
    pub quota: Quota,
    pub created_at: i64,
    /// While IN_REVIEW: when the review completes.
    pub review_due_at: Option<i64>,
    pub last_review_result: Option<String>,
    /// The page set by set_msg_jump_path (SPEC §10.9); null: WeChat's own.
    pub msg_jump_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct AppsOut {
    pub apps: Vec<AppOut>,
}

/// What `PUT /sandbox/apps/{appid}/quota` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct QuotaOut {
    pub appid: String,
    pub quota: Quota,
}

/// `POST /sandbox/merchants`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct NewMerchantIn {
    /// 10 digits; made up when absent.
    #[schema(pattern = r"^[0-9]{10}$")]
    pub mchid: Option<String>,
    /// The apps the merchant is bound to: at least one.
    #[serde(default)]
    pub appids: Vec<String>,
    /// WeChat Pay v3 credentials to set up with it (as `PUT …/apiv3` takes them).
    pub apiv3: Option<crate::pay_v3::Apiv3In>,
}

/// `POST /sandbox/merchants`' answer: the merchant, with its v3 credentials when asked for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct NewMerchantOut {
    #[serde(flatten)]
    pub merchant: Merchant,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apiv3: Option<crate::pay_v3::Apiv3Out>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Merchant {
    pub mchid: String,
    pub appids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct MerchantsOut {
    pub merchants: Vec<Merchant>,
}

/// `POST /sandbox/apps/{appid}/openids`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct NewOpenIdIn {
    /// The user; random when absent. 0 mints the openid that answers 268457014.
    #[schema(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    pub user_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct NewOpenIdOut {
    pub openid: String,
    pub user_id: u64,
}

// ---- payments, orders, clock ------------------------------------------------------------

/// `POST /sandbox/payments`: a single payment, or a combined one with `sub_orders`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct NewPaymentIn {
    pub appid: String,
    pub openid: String,
    /// The (master) merchant, bound to the app.
    pub mchid: String,
    /// Made up when absent.
    #[schema(pattern = r"^[0-9A-Za-z_\-*]{1,32}$")]
    pub out_trade_no: Option<String>,
    /// Fen; for a combined payment the sum of the sub-orders'.
    #[schema(minimum = 1)]
    pub amount: i64,
    pub sub_orders: Option<Vec<SubPaymentIn>>,
    /// Never enters order shipping management (default false).
    #[serde(default)]
    pub excluded_from_shipping: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct SubPaymentIn {
    pub mchid: String,
    #[schema(pattern = r"^[0-9A-Za-z_\-*]{1,32}$")]
    pub out_trade_no: Option<String>,
    #[schema(minimum = 1)]
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubPayment {
    #[serde(flatten)]
    pub keys: PaymentKeys,
    pub amount: i64,
}

/// A sandbox WeChat Pay payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    #[serde(flatten)]
    pub keys: PaymentKeys,
    pub appid: String,
    pub openid: String,
    pub amount: i64,
    /// `NOTPAY`, `SUCCESS`, `REFUND`, `CLOSED` or `PAYERROR`, as WeChat Pay names them.
    pub state: String,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    /// When it was refunded (`state` is then `REFUND`).
    #[serde(default)]
    pub refunded_at: Option<i64>,
    /// Kept out of order shipping management (like DevTools or foreign-wallet payments).
    #[serde(default)]
    pub excluded_from_shipping: bool,
    /// When order shipping management learns of it: paid_at plus the app's ingest delay.
    #[serde(default)]
    pub visible_at: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub sub_orders: Vec<SubPayment>,
    /// What a WeChat Pay v3 prepay added (SPEC §11.13); `null` for a sandbox-made payment.
    #[serde(default)]
    pub v3: Option<crate::pay_v3::records::PaymentV3>,
}

impl Payment {
    /// Paid, refunded or not: shopping details associate with it either way (SPEC §10.12).
    pub fn is_paid(&self) -> bool {
        matches!(self.state.as_str(), "SUCCESS" | "REFUND")
    }
}

/// The latest accepted shopping details of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredVersion<T = ShoppingInfo> {
    pub version: i64,
    pub upload_time: String,
    pub accepted_at: i64,
    pub info: T,
}

/// The latest accepted shipping details of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredShipping {
    pub appid: String,
    #[serde(flatten)]
    pub info: ShippingInfo,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `GET /sandbox/orders` query.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    pub appid: Option<String>,
    pub openid: Option<String>,
    /// 1–1000, default 100.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Also list every accepted version of the shopping and shipping details.
    pub history: Option<bool>,
}

/// A stored order as the sandbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderOut {
    #[serde(flatten)]
    pub stored: StoredInfo,
    pub shipping: Option<StoredShipping>,
    /// With `history=true`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub versions: Option<Vec<StoredVersion>>,
    /// With `history=true`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shipping_versions: Option<Vec<StoredVersion<ShippingInfo>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct OrdersOut {
    pub orders: Vec<OrderOut>,
}

/// The sandbox clock.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct ClockOut {
    /// RFC 3339, UTC.
    pub now: String,
    pub unix: i64,
    /// How far the sandbox clock is ahead of real time.
    pub offset_seconds: i64,
}

/// `POST /sandbox/clock/advance`: the clock only moves forward.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct AdvanceIn {
    #[schema(minimum = 1, maximum = 315_360_000)]
    pub seconds: i64,
}

// ---- order shipping management (SPEC §10.12) ----------------------------------------------

/// Days after shipping completes until receipt is confirmed automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct AutoConfirmDays {
    /// Courier delivery (logistics_type 1).
    #[schema(minimum = 0)]
    pub courier: i64,
    /// Every other logistics_type.
    #[schema(minimum = 0)]
    pub other: i64,
}

/// An app's order shipping management settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct TradeManagement {
    /// Whether the app's payments are under trade management; false: the gated APIs answer
    /// 48001.
    pub trade_managed: bool,
    /// What is_trade_management_confirmation_completed answers.
    pub confirmation_completed: bool,
    /// Seconds after a payment is paid until the API knows it (10060001 until then).
    #[schema(minimum = 0)]
    pub ingest_delay_s: i64,
    pub auto_confirm_days: AutoConfirmDays,
    /// Seconds from confirmed receipt to settlement.
    #[schema(minimum = 0)]
    pub settle_delay_s: i64,
}

impl Default for TradeManagement {
    fn default() -> Self {
        Self {
            trade_managed: true,
            confirmation_completed: true,
            ingest_delay_s: 0,
            auto_confirm_days: AutoConfirmDays {
                courier: 10,
                other: 2,
            },
            settle_delay_s: 86_400,
        }
    }
}

/// `PUT /sandbox/apps/{appid}/trade-management`: any subset.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct TradeManagementIn {
    pub trade_managed: Option<bool>,
    pub confirmation_completed: Option<bool>,
    #[schema(minimum = 0)]
    pub ingest_delay_s: Option<i64>,
    pub auto_confirm_days: Option<AutoConfirmDaysIn>,
    #[schema(minimum = 0)]
    pub settle_delay_s: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
pub struct AutoConfirmDaysIn {
    #[schema(minimum = 0)]
    pub courier: Option<i64>,
    #[schema(minimum = 0)]
    pub other: Option<i64>,
}

/// `POST /sandbox/payments/{transaction_id}/confirm-receipt`: the payer confirms receipt,
/// as WeChat's 确认收货 component lets them.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ConfirmReceiptIn {
    /// Who confirms; absent: the payer.
    pub openid: Option<String>,
}

/// What the confirm-receipt component reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmStatus {
    /// Confirmed now: the order is in state 3.
    Success,
    /// The openid is not the payer's.
    Fail,
    /// The order is not shipped (state 2).
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct ConfirmReceiptOut {
    pub status: ConfirmStatus,
}

/// `PUT /sandbox/payments/{transaction_id}/complaint`: the payer opens or closes a
/// complaint (SPEC §10.12); idempotent.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ComplaintIn {
    pub open: Option<bool>,
}

/// Where an app's events are pushed (SPEC §10.12): `PUT /sandbox/apps/{appid}/push` takes
/// and answers it; `url: null` stops pushing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct Push {
    /// An http(s) URL, or null.
    pub url: Option<String>,
    /// With a token, each push carries WeChat's `signature`, `timestamp` and `nonce` query.
    pub token: Option<String>,
}

/// An event's delivery to the push URL (SPEC §10.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Recorded while the app had no push URL.
    None,
    Pending,
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::None => "none",
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => DeliveryState::None,
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => return Option::None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct Delivery {
    pub state: DeliveryState,
    pub attempts: i64,
    /// The HTTP status of the last attempt; null before one, or when it got no answer.
    pub last_status: Option<i64>,
    /// A notification's next retry slot on the sandbox clock (SPEC §11.12).
    #[serde(default)]
    pub next_at: Option<i64>,
    /// A notification's attempts: `{at, status, error, ms}`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub log: Vec<serde_json::Value>,
}

/// One recorded event (SPEC §10.13).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
pub struct Event {
    pub id: i64,
    pub appid: String,
    /// `trade_manage_remind_access_api`, `trade_manage_remind_shipping` or
    /// `trade_manage_order_settlement`.
    pub event: String,
    /// Sandbox time, Unix seconds.
    pub at: i64,
    /// The JSON body pushed.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub delivery: Delivery,
}

/// `GET /sandbox/payments`: one payment by its merchant's key or by a prepay_id.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentLookup {
    pub mchid: Option<String>,
    pub out_trade_no: Option<String>,
    pub prepay_id: Option<String>,
}

/// `GET /sandbox/events`: the event log, `id` ascending.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    pub appid: Option<String>,
    pub event: Option<String>,
    /// Only WeChat Pay notifications of this merchant (SPEC §11.12).
    pub mchid: Option<String>,
    /// Only events with a larger id.
    pub after: Option<i64>,
    /// Default 100, at most 1000.
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
pub struct EventsOut {
    pub events: Vec<Event>,
}

/// What order shipping management holds of a payment (`GET /sandbox/payments/{id}`'s
/// `sec_order`, SPEC §10.12).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct SecOrderView {
    /// When the API learns of it.
    pub visible_at: Option<i64>,
    /// As get_order answers now; null until visible.
    pub order: Option<crate::sec_order::OrderOut>,
    pub special: Option<crate::sec_order::Special>,
    pub reminder: Option<crate::sec_order::Reminder>,
    pub complaints: Vec<crate::sec_order::Complaint>,
    pub msg_jump_path: Option<String>,
}

/// `GET /sandbox/payments/{transaction_id}`: the payment, and its order in order shipping
/// management (`null` when it is not one).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct PaymentView {
    #[serde(flatten)]
    pub payment: Payment,
    pub sec_order: Option<SecOrderView>,
}

// ---- platforms --------------------------------------------------------------------------

/// `POST /sandbox/components`: a third-party platform.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct NewComponentIn {
    #[schema(pattern = r"^wx[0-9a-f]{16}$")]
    pub component_appid: Option<String>,
    #[schema(pattern = r"^[0-9a-f]{32}$")]
    pub component_appsecret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct NewComponentOut {
    pub component_appid: String,
    pub component_appsecret: String,
    pub component_verify_ticket: String,
}

/// `POST /sandbox/authorizations`: an app authorizes a platform.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct NewAuthorizationIn {
    pub component_appid: String,
    /// An existing app, or a new one (created NOT_OPEN, as authorized apps start); absent:
    /// a new app with a fresh appid.
    #[schema(pattern = r"^wx[0-9a-f]{16}$")]
    pub authorizer_appid: Option<String>,
    /// Permission set ids, e.g. 120, 121, 142.
    #[serde(default)]
    pub funcscope: Vec<i64>,
    pub agreement_signed: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct NewAuthorizationOut {
    pub authorization_code: String,
    pub authorizer_appid: String,
    pub expires_in: i64,
}

// ---- debugging --------------------------------------------------------------------------

/// `POST /sandbox/faults`: errcodes the next calls of an app answer, in order.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct FaultsIn {
    /// The app whose WeChat API calls answer `errcodes`; or give `mchid` and `codes`.
    pub appid: Option<String>,
    /// A WeChat API path (or a `/v3/` one with `mchid`); absent: any.
    pub path: Option<String>,
    /// 1–100 non-zero errcodes.
    #[schema(min_items = 1, max_items = 100)]
    #[serde(default)]
    pub errcodes: Vec<i64>,
    /// The merchant whose `/v3/` calls answer `codes` (SPEC §11.13).
    pub mchid: Option<String>,
    /// 1–100 of WeChat Pay's fault codes: SYSTEM_ERROR, FREQUENCY_LIMITED, NO_AUTH,
    /// NOT_ENOUGH, RULE_LIMIT, ACCOUNT_ERROR, TRADE_ERROR, USER_ACCOUNT_ABNORMAL.
    #[serde(default)]
    pub codes: Vec<String>,
    #[schema(minimum = 0, maximum = 60_000)]
    pub delay_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct FaultsOut {
    /// The app, or `mch:<mchid>` for a merchant's `/v3/` faults.
    pub appid: String,
    pub path: Option<String>,
    pub queued: usize,
    pub delay_ms: i64,
}

/// `DELETE /sandbox/faults`, as body or query.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClearFaultsIn {
    pub appid: Option<String>,
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct FaultsClearedOut {
    pub appid: String,
    pub removed: u64,
}

/// `GET /sandbox/journal` query.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JournalQuery {
    pub appid: Option<String>,
    pub rid: Option<String>,
    /// 1–10000, default 100.
    pub limit: Option<i64>,
}

/// A request as the journal keeps it (SPEC §8.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct JournalOut {
    pub entries: Vec<JournalEntry>,
}
