//! WeChat Pay API v3 (SPEC §11): the error body, the request signature's header and
//! messages, and the sandbox's merchant credentials. No IO and no cryptography here: the
//! server signs and verifies what these functions build.

pub mod params;
pub mod records;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every `/v3/` refusal: a real HTTP status with this body (SPEC §11.1).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct V3ErrorOut {
    pub code: String,
    pub message: String,
    /// PARAM_ERROR and INVALID_REQUEST only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

/// `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub mchid: String,
    pub nonce_str: String,
    pub signature: String,
    pub timestamp: String,
    pub serial_no: String,
}

pub const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// Why a request's signature was refused (SPEC §11.3), in check order: 401 SIGN_ERROR with
/// this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignFailure {
    Format,
    Timestamp,
    Merchant,
    Serial,
    Signature,
}

impl SignFailure {
    pub fn message(self) -> &'static str {
        match self {
            SignFailure::Format => {
                "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》"
            }
            SignFailure::Timestamp => {
                "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟"
            }
            SignFailure::Merchant => "商户号不存在或未配置APIv3凭证",
            SignFailure::Serial => "商户证书序列号有误。请使用签名私钥匹配的证书序列号",
            SignFailure::Signature => "签名错误，请检查后再试",
        }
    }
}

/// SPEC §11.3 check 1: the exact scheme, one space, then `key="value"` pairs split by `,`
/// (spaces allowed around it) in any order, each of the five once; unknown keys ignored.
pub fn parse_authorization(header: &str) -> Result<Authorization, SignFailure> {
    let rest = header
        .strip_prefix(AUTH_SCHEME)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or(SignFailure::Format)?;
    let mut fields: [Option<String>; 5] = Default::default();
    const NAMES: [&str; 5] = ["mchid", "nonce_str", "signature", "timestamp", "serial_no"];
    for pair in rest.split(',') {
        let (key, value) = pair.trim().split_once('=').ok_or(SignFailure::Format)?;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|v| !v.contains('"'))
            .ok_or(SignFailure::Format)?;
        if let Some(i) = NAMES.iter().position(|n| *n == key) {
            if fields[i].is_some() {
                return Err(SignFailure::Format);
            }
            fields[i] = Some(value.to_owned());
        }
    }
    let [
        Some(mchid),
        Some(nonce_str),
        Some(signature),
        Some(timestamp),
        Some(serial_no),
    ] = fields
    else {
        return Err(SignFailure::Format);
    };
    Ok(Authorization {
        mchid,
        nonce_str,
        signature,
        timestamp,
        serial_no,
    })
}

/// SPEC §11.3 check 2: 1–10 digits, at most 300 s from the real clock.
pub fn timestamp_fresh(timestamp: &str, real_now: i64) -> Result<i64, SignFailure> {
    if timestamp.is_empty()
        || timestamp.len() > 10
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SignFailure::Timestamp);
    }
    let at: i64 = timestamp.parse().map_err(|_| SignFailure::Timestamp)?;
    if (at - real_now).abs() > 300 {
        return Err(SignFailure::Timestamp);
    }
    Ok(at)
}

/// What a request's signature covers: `METHOD\nTARGET\ntimestamp\nnonce\nBODY\n`, the
/// target and body exactly as sent.
pub fn request_message(
    method: &str,
    target: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(method.len() + target.len() + body.len() + 64);
    for part in [
        method.as_bytes(),
        target.as_bytes(),
        timestamp.as_bytes(),
        nonce.as_bytes(),
        body,
    ] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    message
}

/// The probe signature's prefix (SPEC §11.2 `sign_probe`).
pub const SIGN_PROBE: &str = "WECHATPAY/SIGNTEST/";

/// What an answer's (or a notification's) signature covers: `timestamp\nnonce\nBODY\n`.
pub fn answer_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(body.len() + 64);
    for part in [timestamp.as_bytes(), nonce.as_bytes(), body] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    message
}

// ---- the sandbox's merchant credentials (SPEC §11.2) ------------------------------------

/// A merchant API key to register: a bare RSA public key with its serial, or (not yet
/// supported) an X.509 certificate.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct MerchantKeyIn {
    pub serial_no: Option<String>,
    pub public_key_pem: Option<String>,
    pub certificate_pem: Option<String>,
}

/// `PUT /sandbox/merchants/{mchid}/apiv3`: any subset.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct Apiv3In {
    /// Replaces the registered keys.
    pub merchant_keys: Option<Vec<MerchantKeyIn>>,
    /// Adds a generated key; the answer holds its private half, once.
    pub generate_merchant_key: Option<bool>,
    /// 32 of `[0-9A-Za-z]`.
    #[schema(pattern = r"^[0-9A-Za-z]{32}$")]
    pub apiv3_key: Option<String>,
    /// `public_key` (default) or `certificate`.
    pub platform_mode: Option<String>,
    /// Sandbox seconds from a refund's creation to its outcome (≥ 0).
    pub refund_delay_s: Option<i64>,
    /// `SUCCESS`, `ABNORMAL`, `CLOSED` or `MANUAL` (waits for the sandbox's result call).
    pub refund_outcome: Option<String>,
    /// Least gap between refunds of one payment (≥ 0).
    pub refund_min_interval_s: Option<i64>,
    /// Where refund outcomes go when a refund names no notify_url; `""` clears it.
    pub refund_notify_url: Option<String>,
    /// Sign answers and notifications with WeChat Pay's probe signature
    /// (`WECHATPAY/SIGNTEST/` + base64 of 256 random bytes), as WeChat Pay does now and then
    /// to check that clients verify.
    pub sign_probe: Option<bool>,
}

/// How the sandbox answers a merchant's refunds (SPEC §11.2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct RefundSettings {
    #[serde(default)]
    pub refund_delay_s: i64,
    #[serde(default = "RefundSettings::success")]
    pub refund_outcome: String,
    #[serde(default = "RefundSettings::minute")]
    pub refund_min_interval_s: i64,
    #[serde(default)]
    pub refund_notify_url: Option<String>,
}

impl RefundSettings {
    fn success() -> String {
        "SUCCESS".into()
    }

    fn minute() -> i64 {
        60
    }
}

impl Default for RefundSettings {
    fn default() -> Self {
        Self {
            refund_delay_s: 0,
            refund_outcome: Self::success(),
            refund_min_interval_s: Self::minute(),
            refund_notify_url: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct MerchantKey {
    pub serial_no: String,
    pub public_key_pem: String,
    pub created_at: i64,
}

/// A generated merchant key: shown once.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct GeneratedKey {
    pub serial_no: String,
    pub private_key_pem: String,
    pub public_key_pem: String,
}

/// The WeChat Pay public key the platform signs with (`public_key` mode).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct PlatformPublicKey {
    pub id: String,
    pub pem: String,
}

/// A platform certificate as the sandbox shows it (times RFC 3339, real clock).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct PlatformCertificateOut {
    pub serial_no: String,
    pub pem: String,
    /// The certificate's public key (what verifies answers it signs).
    pub public_key_pem: String,
    pub effective_time: String,
    pub expire_time: String,
}

/// `POST /sandbox/merchants/{mchid}/apiv3/platform-certificates`: a new certificate signs
/// from now.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct RotateIn {
    /// Drop the older certificates.
    pub expire_previous: Option<bool>,
}

/// `GET /sandbox/merchants/{mchid}/apiv3` (and the PUT's answer).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct Apiv3Out {
    pub mchid: String,
    pub merchant_keys: Vec<MerchantKey>,
    pub apiv3_key: String,
    pub platform_mode: String,
    pub platform_public_key: PlatformPublicKey,
    /// Newest first; `[]` before `certificate` mode was first chosen.
    pub platform_certificates: Vec<PlatformCertificateOut>,
    #[serde(flatten)]
    pub refunds: RefundSettings,
    pub sign_probe: bool,
    /// The PUT that generated a key: its private half, this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<GeneratedKey>,
}

// ---- scripted faults (SPEC §11.13, §11.14) ---------------------------------------------

/// The codes a merchant's `/v3/` calls can be scripted to answer: (code, HTTP status,
/// message). A fault is queued as its 1-based position here.
pub const FAULTS: [(&str, u16, &str); 8] = [
    ("SYSTEM_ERROR", 500, "系统错误"),
    ("FREQUENCY_LIMITED", 429, "请求频率超限"),
    ("NO_AUTH", 403, "商户无权限"),
    ("NOT_ENOUGH", 403, "基本账户余额不足"),
    ("RULE_LIMIT", 403, "业务规则限制"),
    ("ACCOUNT_ERROR", 403, "账号异常"),
    ("TRADE_ERROR", 403, "交易错误"),
    ("USER_ACCOUNT_ABNORMAL", 403, "用户账户异常"),
];

/// Where a merchant's `/v3/` faults queue (the fault queue is keyed like an app).
pub fn fault_owner(mchid: &str) -> String {
    format!("mch:{mchid}")
}

// ---- the payer's side (SPEC §11.8, §11.13) ---------------------------------------------

/// `POST /sandbox/request-payment`: what `wx.requestPayment` is given, as the payer's
/// device would pass it on.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestPaymentIn {
    /// Absent: the prepay's appid.
    pub app_id: Option<String>,
    pub time_stamp: Option<String>,
    pub nonce_str: Option<String>,
    /// `prepay_id=<prepay_id>`.
    pub package: Option<String>,
    /// `RSA`.
    pub sign_type: Option<String>,
    pub pay_sign: Option<String>,
    /// The payer; absent: the prepay's.
    #[serde(rename = "openid")]
    pub openid: Option<String>,
    /// `SUCCESS` (default), `CANCEL` or `PAYERROR`.
    #[serde(rename = "result")]
    pub result: Option<String>,
}

/// `wx.requestPayment`'s answer: `requestPayment:ok` or `requestPayment:fail …`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct RequestPaymentOut {
    #[serde(rename = "errMsg")]
    pub err_msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// What `paySign` signs: `appId\ntimeStamp\nnonceStr\npackage\n`.
pub fn pay_sign_message(app_id: &str, time_stamp: &str, nonce_str: &str, package: &str) -> Vec<u8> {
    format!("{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n").into_bytes()
}

/// `POST /sandbox/refunds/{refund_id}/result`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct RefundResultIn {
    /// `SUCCESS`, `ABNORMAL` or `CLOSED`.
    pub status: Option<String>,
}

/// `POST /sandbox/events/deliver`: named notifications, else the pending ones of an app or
/// a merchant.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct DeliverIn {
    pub ids: Option<Vec<i64>>,
    pub appid: Option<String>,
    pub mchid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_header_is_read_as_spec_11_3_says() {
        let ok = r#"WECHATPAY2-SHA256-RSA2048 serial_no="ABC", mchid="1900000001",nonce_str="n",timestamp="1700000000" ,signature="c2ln",extra="x""#;
        let auth = parse_authorization(ok).expect("any order, spaces around commas");
        assert_eq!(auth.mchid, "1900000001");
        assert_eq!(auth.signature, "c2ln");
        for bad in [
            "",
            "WECHATPAY2-SHA256-RSA2048",
            r#"WECHATPAY2-SHA256-RSA2048  mchid="1""#,
            r#"Bearer mchid="1",nonce_str="n",timestamp="1",signature="s",serial_no="x""#,
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1",signature="s""#,
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1",mchid="1",nonce_str="n",timestamp="1",signature="s",serial_no="x""#,
            r#"WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str="n",timestamp="1",signature="s",serial_no="x""#,
        ] {
            assert_eq!(parse_authorization(bad), Err(SignFailure::Format), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_digits_within_five_minutes() {
        assert_eq!(
            timestamp_fresh("1700000300", 1_700_000_000),
            Ok(1_700_000_300)
        );
        assert_eq!(
            timestamp_fresh("1700000301", 1_700_000_000),
            Err(SignFailure::Timestamp)
        );
        assert_eq!(
            timestamp_fresh("17000000001", 1_700_000_000),
            Err(SignFailure::Timestamp)
        );
        assert_eq!(timestamp_fresh("-1", 0), Err(SignFailure::Timestamp));
    }

    #[test]
    fn messages_end_every_part_with_a_newline() {
        assert_eq!(
            request_message("GET", "/v3/certificates", "1", "n", b""),
            b"GET\n/v3/certificates\n1\nn\n\n"
        );
        assert_eq!(answer_message("1", "n", b"{}"), b"1\nn\n{}\n");
    }
}
