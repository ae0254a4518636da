//! WeChat Pay API v3 (`/v3/*`, SPEC §11): real HTTP statuses and `{"code","message"}`
//! bodies, every request signed by a merchant key, every 2xx answer signed by the platform.
//!
//! - [`keys`]: RSA keys and signatures.
//! - [`auth`]: the `Signed` extractor — a request whose signature checks out (§11.3).
//! - This module: the error type, signed answers (§11.4) and the routes built so far.

pub mod auth;
pub mod combined;
pub mod keys;
pub mod notify;
pub mod refunds;
pub mod transactions;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use userorder_model::pay_v3::{V3ErrorOut, answer_message};
use userorder_store::{Apiv3Record, StoreError};

use crate::state::AppState;
use crate::{clock, secrets};
use auth::Signed;

pub const JSON_UTF8: &str = "application/json; charset=utf-8";

pub fn router() -> Router<AppState> {
    use transactions as t;
    Router::new()
        .route("/v3/certificates", v3(get(certificates)))
        .route("/v3/pay/transactions/jsapi", v3(post(t::prepay)))
        .route(
            "/v3/pay/transactions/id/{transaction_id}",
            v3(get(t::by_transaction_id)),
        )
        .route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}",
            v3(get(t::by_out_trade_no)),
        )
        .route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
            v3(post(t::close)),
        )
        .route("/v3/refund/domestic/refunds", v3(post(refunds::create)))
        .route("/v3/combine-transactions/jsapi", v3(post(combined::prepay)))
        .route(
            "/v3/combine-transactions/out-trade-no/{combine_out_trade_no}",
            v3(get(combined::query)),
        )
        .route(
            "/v3/combine-transactions/out-trade-no/{combine_out_trade_no}/close",
            v3(post(combined::close)),
        )
        .route(
            "/v3/refund/domestic/refunds/{out_refund_no}",
            v3(get(refunds::query)),
        )
}

/// What the OpenAPI document says of one `/v3/` operation.
pub struct Documented {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// `200`, or `204` for the closes.
    pub success: &'static str,
    /// The statuses its refusals can have.
    pub refusals: &'static [&'static str],
    pub has_body: bool,
}

/// Every `/v3/` operation, for the OpenAPI document.
pub const DOCUMENTED: [Documented; 10] = [
    Documented {
        method: "post",
        path: "/v3/pay/transactions/jsapi",
        summary: "JSAPI prepay: {prepay_id} (SPEC §11.6)",
        success: "200",
        refusals: &["400", "401", "403", "429", "500"],
        has_body: true,
    },
    Documented {
        method: "get",
        path: "/v3/pay/transactions/id/{transaction_id}",
        summary: "A paid payment by transaction_id (?mchid=, SPEC §11.7)",
        success: "200",
        refusals: &["400", "401", "403", "404", "429", "500"],
        has_body: false,
    },
    Documented {
        method: "get",
        path: "/v3/pay/transactions/out-trade-no/{out_trade_no}",
        summary: "A payment by out_trade_no (?mchid=, SPEC §11.7)",
        success: "200",
        refusals: &["400", "401", "403", "404", "429", "500"],
        has_body: false,
    },
    Documented {
        method: "post",
        path: "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
        summary: "Close an unpaid payment (SPEC §11.7)",
        success: "204",
        refusals: &["400", "401", "403", "404", "429", "500"],
        has_body: true,
    },
    Documented {
        method: "post",
        path: "/v3/refund/domestic/refunds",
        summary: "Refund (SPEC §11.9): always PROCESSING",
        success: "200",
        refusals: &["400", "401", "403", "404", "429", "500"],
        has_body: true,
    },
    Documented {
        method: "get",
        path: "/v3/refund/domestic/refunds/{out_refund_no}",
        summary: "A refund by out_refund_no (SPEC §11.9)",
        success: "200",
        refusals: &["400", "401", "403", "404", "429", "500"],
        has_body: false,
    },
    Documented {
        method: "post",
        path: "/v3/combine-transactions/jsapi",
        summary: "Combined JSAPI prepay: {prepay_id} (SPEC §11.10)",
        success: "200",
        refusals: &["400", "401", "403", "429", "500"],
        has_body: true,
    },
    Documented {
        method: "get",
        path: "/v3/combine-transactions/out-trade-no/{combine_out_trade_no}",
        summary: "A combined payment (SPEC §11.10)",
        success: "200",
        refusals: &["400", "401", "403", "404", "429", "500"],
        has_body: false,
    },
    Documented {
        method: "post",
        path: "/v3/combine-transactions/out-trade-no/{combine_out_trade_no}/close",
        summary: "Close a combined payment (SPEC §11.10)",
        success: "204",
        refusals: &["400", "401", "403", "404", "429", "500"],
        has_body: true,
    },
    Documented {
        method: "get",
        path: "/v3/certificates",
        summary: "The platform certificates, encrypted (SPEC §11.11)",
        success: "200",
        refusals: &["400", "401", "403", "404", "429", "500"],
        has_body: false,
    },
];

/// A wrong method on a known path: 405 with an empty body, before any other check.
fn v3(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async { StatusCode::METHOD_NOT_ALLOWED })
}

/// A `/v3/` refusal: its status and `{"code","message","detail"?}`, unsigned (SPEC §11.4).
#[derive(Debug)]
pub struct V3Error(Box<Refusal>);

#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub body: V3ErrorOut,
    /// Headers beyond the defaults (`Userorder-Expected-Message`).
    pub headers: HeaderMap,
}

impl V3Error {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self(Box::new(Refusal {
            status,
            body: V3ErrorOut {
                code: code.to_owned(),
                message: message.into(),
                detail: None,
            },
            headers: HeaderMap::new(),
        }))
    }

    /// 400 PARAM_ERROR for the first broken rule (SPEC §11.5).
    pub fn param(e: userorder_model::pay_v3::params::ParamError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "PARAM_ERROR", e.message()).with_detail(e.detail())
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.0.body.detail = Some(detail);
        self
    }

    pub fn with_header(mut self, name: &'static str, value: HeaderValue) -> Self {
        self.0.headers.insert(name, value);
        self
    }
}

impl From<StoreError> for V3Error {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure under /v3/");
        V3Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "系统错误",
        )
    }
}

impl IntoResponse for V3Error {
    fn into_response(self) -> Response {
        let Refusal {
            status,
            body,
            headers,
        } = *self.0;
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().extend(headers);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        response
    }
}

/// A 2xx answer signed with the merchant's platform key (SPEC §11.4): a 204 signs an empty
/// body.
pub fn signed_answer(
    credentials: &Apiv3Record,
    status: StatusCode,
    body: Vec<u8>,
) -> Result<Response, V3Error> {
    let (serial, _) = credentials.signer();
    let timestamp = clock::real_now().to_string();
    let nonce = secrets::random_of(secrets::LOWER_HEX, 32);
    let signature =
        keys::platform_signature(credentials, &answer_message(&timestamp, &nonce, &body))
            .map_err(|e| StoreError::Corrupt(format!("platform key: {e}")))?;
    let mut response = (status, Bytes::from(body)).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("wechatpay-timestamp", timestamp),
        ("wechatpay-nonce", nonce),
        ("wechatpay-serial", serial.to_owned()),
        ("wechatpay-signature", signature),
        (
            "wechatpay-signature-type",
            "WECHATPAY2-SHA256-RSA2048".to_owned(),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if status != StatusCode::NO_CONTENT {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    }
    Ok(response)
}

/// A signed 2xx answer with a JSON body.
pub fn signed_json(
    credentials: &Apiv3Record,
    status: StatusCode,
    body: &serde_json::Value,
) -> Result<Response, V3Error> {
    let bytes = serde_json::to_vec(body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    signed_answer(credentials, status, bytes)
}

/// #5, #6 and #10 refuse a request without `User-Agent` or `Accept` before its signature
/// is checked (SPEC §11.5 step 2, as observed).
pub fn user_agent_and_accept(headers: &HeaderMap) -> Result<(), V3Error> {
    let present = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.trim().is_empty())
    };
    if present(header::USER_AGENT) && present(header::ACCEPT) {
        Ok(())
    } else {
        Err(V3Error::new(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "Http头缺少Accept或User-Agent",
        )
        .with_detail(serde_json::json!({"location": "header"})))
    }
}

/// `GET /v3/certificates` (SPEC §11.11): in `public_key` mode there is no platform
/// certificate; in `certificate` mode the unexpired ones, newest first, each PEM encrypted
/// with the APIv3 key; signed by the newest certificate.
async fn certificates(
    headers: HeaderMap,
    signed: Result<Signed, V3Error>,
) -> Result<Response, V3Error> {
    user_agent_and_accept(&headers)?;
    let Signed { credentials, .. } = signed?;
    if credentials.platform_mode != "certificate" {
        return Err(V3Error::new(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。",
        ));
    }
    let now = clock::real_now();
    let mut data = Vec::new();
    for certificate in credentials
        .certificates
        .iter()
        .filter(|c| c.expire_time > now)
    {
        let nonce = secrets::random_of(secrets::ALNUM, 12);
        let ciphertext = keys::encrypt(
            &credentials.apiv3_key,
            &nonce,
            "certificate",
            certificate.pem.as_bytes(),
        )
        .map_err(|e| StoreError::Corrupt(format!("apiv3 key: {e}")))?;
        data.push(serde_json::json!({
            "serial_no": certificate.serial_no,
            "effective_time": clock::rfc3339_china(certificate.effective_time),
            "expire_time": clock::rfc3339_china(certificate.expire_time),
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": "certificate",
                "ciphertext": ciphertext,
            },
        }));
    }
    let body = serde_json::to_vec(&serde_json::json!({ "data": data })).unwrap_or_default();
    signed_answer(&credentials, StatusCode::OK, body)
}
