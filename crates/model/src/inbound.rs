//! Everything the server does with an endpoint's body before it touches the store. For the
//! WeChat families: bytes → JSON ([`body::parse`], 44002/45002/47001) → wire type →
//! validated domain value ([`validate`], [`crate::sec_order`]). For WeChat Pay v3: the
//! `Authorization` header's format and bytes → JSON object → checked request
//! ([`crate::pay_v3::params`], 400 PARAM_ERROR). The fuzz targets (`fuzz/`) and the corpus
//! replay test drive this, so what they exercise is exactly the request path.

use crate::body;
use crate::errcode::{ErrCode, Rejection};
use crate::openid::OpenIdCodec;
use crate::pay_v3::params;
use crate::pay_v3::{SignFailure, parse_authorization, timestamp_fresh};
use crate::sec_order;
use crate::validate::{self, Acting};
use crate::wire::*;

/// The WeChat endpoints that read a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    UploadShoppingInfo,
    UploadCombinedShoppingInfo,
    UploadShippingInfo,
    UploadCombinedShippingInfo,
    VerifyShoppingInfo,
    StableToken,
    ComponentToken,
    QueryAuth,
    AuthorizerToken,
    RidGet,
    /// `/wxa/sec/order/upload_shipping_info`.
    SecUploadShippingInfo,
    /// `/wxa/sec/order/upload_combined_shipping_info`.
    SecUploadCombinedShippingInfo,
    /// `/wxa/sec/order/notify_confirm_receive`.
    SecNotifyConfirmReceive,
    /// `/wxa/sec/order/opspecialorder`.
    SecOpSpecialOrder,
    /// `/wxa/sec/order/get_order`.
    SecGetOrder,
    /// `POST /v3/pay/transactions/jsapi`.
    V3Prepay,
    /// `POST /v3/combine-transactions/jsapi`.
    V3CombinePrepay,
    /// `POST /v3/refund/domestic/refunds`.
    V3Refund,
    /// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close`.
    V3Close,
    /// `POST /v3/combine-transactions/out-trade-no/{combine_out_trade_no}/close`.
    V3CombineClose,
    /// A `/v3/` request's `Authorization` header (the bytes are the header's value).
    V3Authorization,
}

impl Endpoint {
    pub const ALL: [Self; 21] = [
        Self::UploadShoppingInfo,
        Self::UploadCombinedShoppingInfo,
        Self::UploadShippingInfo,
        Self::UploadCombinedShippingInfo,
        Self::VerifyShoppingInfo,
        Self::StableToken,
        Self::ComponentToken,
        Self::QueryAuth,
        Self::AuthorizerToken,
        Self::RidGet,
        Self::SecUploadShippingInfo,
        Self::SecUploadCombinedShippingInfo,
        Self::SecNotifyConfirmReceive,
        Self::SecOpSpecialOrder,
        Self::SecGetOrder,
        Self::V3Prepay,
        Self::V3CombinePrepay,
        Self::V3Refund,
        Self::V3Close,
        Self::V3CombineClose,
        Self::V3Authorization,
    ];

    /// The fuzz target's (and corpus directory's) name.
    pub fn name(self) -> &'static str {
        match self {
            Self::UploadShoppingInfo => "upload_shopping_info",
            Self::UploadCombinedShoppingInfo => "upload_combined_shopping_info",
            Self::UploadShippingInfo => "upload_shipping_info",
            Self::UploadCombinedShippingInfo => "upload_combined_shipping_info",
            Self::VerifyShoppingInfo => "verify_shopping_info",
            Self::StableToken => "stable_token",
            Self::ComponentToken => "component_token",
            Self::QueryAuth => "query_auth",
            Self::AuthorizerToken => "authorizer_token",
            Self::RidGet => "rid_get",
            Self::SecUploadShippingInfo => "sec_upload_shipping_info",
            Self::SecUploadCombinedShippingInfo => "sec_upload_combined_shipping_info",
            Self::SecNotifyConfirmReceive => "sec_notify_confirm_receive",
            Self::SecOpSpecialOrder => "sec_op_special_order",
            Self::SecGetOrder => "sec_get_order",
            Self::V3Prepay => "v3_prepay",
            Self::V3CombinePrepay => "v3_combine_prepay",
            Self::V3Refund => "v3_refund",
            Self::V3Close => "v3_close",
            Self::V3CombineClose => "v3_combine_close",
            Self::V3Authorization => "v3_authorization",
        }
    }
}

/// Why a body (or header) was refused: a WeChat errcode, or WeChat Pay's answer.
#[derive(Debug)]
pub enum Refused {
    WeChat(Rejection),
    /// 400 PARAM_ERROR with this message.
    Param(String),
    /// 401 SIGN_ERROR with this message.
    Sign(&'static str),
}

impl From<Rejection> for Refused {
    fn from(rejection: Rejection) -> Self {
        Refused::WeChat(rejection)
    }
}

impl From<params::ParamError> for Refused {
    fn from(error: params::ParamError) -> Self {
        Refused::Param(error.message())
    }
}

/// Reads `bytes` as `endpoint`'s body for `caller`: `Ok` when the store would be asked to
/// act on it, why it is refused otherwise.
pub fn read(endpoint: Endpoint, bytes: &[u8], caller: &Acting<'_>) -> Result<(), Refused> {
    let v3 = || params::body_json(bytes);
    match endpoint {
        Endpoint::UploadShoppingInfo => {
            validate::upload_shopping_info(body::parse(bytes)?, caller)?;
        }
        Endpoint::UploadCombinedShoppingInfo => {
            validate::upload_combined_shopping_info(body::parse(bytes)?, caller)?;
        }
        Endpoint::UploadShippingInfo => {
            validate::upload_shipping_info(body::parse(bytes)?, caller)?;
        }
        Endpoint::UploadCombinedShippingInfo => {
            validate::upload_combined_shipping_info(body::parse(bytes)?, caller)?;
        }
        Endpoint::VerifyShoppingInfo => {
            validate::verify(body::parse(bytes)?, caller)?;
        }
        Endpoint::StableToken => {
            body::parse::<StableTokenIn>(bytes)?;
        }
        Endpoint::ComponentToken => {
            body::parse::<ComponentTokenIn>(bytes)?;
        }
        Endpoint::QueryAuth => {
            body::parse::<QueryAuthIn>(bytes)?;
        }
        Endpoint::AuthorizerToken => {
            body::parse::<AuthorizerTokenIn>(bytes)?;
        }
        Endpoint::RidGet => {
            body::parse::<RidGetIn>(bytes)?;
        }
        Endpoint::SecUploadShippingInfo => {
            sec_order::shipping_request(body::parse(bytes)?)?;
        }
        Endpoint::SecUploadCombinedShippingInfo => {
            sec_order::combined_shipping_request(body::parse(bytes)?)?;
        }
        Endpoint::SecNotifyConfirmReceive => {
            sec_order::notify_request(body::parse(bytes)?)?;
        }
        Endpoint::SecOpSpecialOrder => {
            sec_order::special_request(body::parse(bytes)?)?;
        }
        Endpoint::SecGetOrder => {
            sec_order::payment_ref(body::parse(bytes)?)?;
        }
        Endpoint::V3Prepay => {
            params::prepay_request(&v3()?)?;
        }
        Endpoint::V3CombinePrepay => {
            params::combine_request(&v3()?)?;
        }
        Endpoint::V3Refund => {
            params::refund_request(&v3()?)?;
        }
        Endpoint::V3Close => {
            params::close_request(&v3()?)?;
        }
        Endpoint::V3CombineClose => {
            params::combine_close_request(&v3()?)?;
        }
        Endpoint::V3Authorization => {
            let header = std::str::from_utf8(bytes)
                .map_err(|_| Refused::Sign(SignFailure::Format.message()))?;
            let authorization =
                parse_authorization(header).map_err(|f| Refused::Sign(f.message()))?;
            timestamp_fresh(&authorization.timestamp, FUZZ_NOW)
                .map(drop)
                .map_err(|f| Refused::Sign(f.message()))?;
        }
    }
    Ok(())
}

/// The real clock the fuzzed `Authorization` headers are judged at.
pub const FUZZ_NOW: i64 = 1_800_000_000;

/// The appid and openid key the fuzz corpus is written for.
pub const FUZZ_APPID: &str = "wx0fuzz000000000";
pub const FUZZ_KEY: [u8; 32] = [7; 32];

/// The fuzz targets' property: any input is answered — accepted, or refused with a code
/// from the registry and a non-empty errmsg — and nothing panics. Panics otherwise, which
/// is how libFuzzer (and the corpus replay test) learn of a failure.
pub fn fuzz_one(endpoint: Endpoint, bytes: &[u8]) {
    let codec = OpenIdCodec::new(FUZZ_KEY);
    let caller = Acting {
        appid: FUZZ_APPID,
        openids: &codec,
    };
    match read(endpoint, bytes, &caller) {
        Ok(()) => {}
        Err(Refused::WeChat(rejection)) => {
            assert!(
                ErrCode::ALL.contains(&rejection.code),
                "{endpoint:?} answered {} which is not in the registry",
                rejection.code.0
            );
            assert!(!rejection.message.is_empty(), "{endpoint:?}: empty errmsg");
        }
        Err(Refused::Param(message)) => {
            assert!(
                !message.is_empty(),
                "{endpoint:?}: empty PARAM_ERROR message"
            );
        }
        Err(Refused::Sign(_)) => {}
    }
}
