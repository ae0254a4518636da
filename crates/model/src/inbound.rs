//! Everything the server does with a WeChat endpoint's body before it touches the store:
//! bytes → JSON ([`body::parse`], 44002/45002/47001) → wire type → validated domain value
//! ([`validate`]). The fuzz targets (`fuzz/`) and the corpus replay test drive this, so what
//! they exercise is exactly the request path.

use crate::body;
use crate::errcode::{ErrCode, Rejection};
use crate::openid::OpenIdCodec;
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
}

impl Endpoint {
    pub const ALL: [Self; 10] = [
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
        }
    }
}

/// Reads `bytes` as `endpoint`'s body for `caller`: `Ok` when the store would be asked to
/// act on it, the rejection (with its errcode) otherwise.
pub fn read(endpoint: Endpoint, bytes: &[u8], caller: &Acting<'_>) -> Result<(), Rejection> {
    match endpoint {
        Endpoint::UploadShoppingInfo => {
            validate::upload_shopping_info(body::parse(bytes)?, caller).map(drop)
        }
        Endpoint::UploadCombinedShoppingInfo => {
            validate::upload_combined_shopping_info(body::parse(bytes)?, caller).map(drop)
        }
        Endpoint::UploadShippingInfo => {
            validate::upload_shipping_info(body::parse(bytes)?, caller).map(drop)
        }
        Endpoint::UploadCombinedShippingInfo => {
            validate::upload_combined_shipping_info(body::parse(bytes)?, caller).map(drop)
        }
        Endpoint::VerifyShoppingInfo => validate::verify(body::parse(bytes)?, caller).map(drop),
        Endpoint::StableToken => body::parse::<StableTokenIn>(bytes).map(drop),
        Endpoint::ComponentToken => body::parse::<ComponentTokenIn>(bytes).map(drop),
        Endpoint::QueryAuth => body::parse::<QueryAuthIn>(bytes).map(drop),
        Endpoint::AuthorizerToken => body::parse::<AuthorizerTokenIn>(bytes).map(drop),
        Endpoint::RidGet => body::parse::<RidGetIn>(bytes).map(drop),
    }
}

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
    if let Err(rejection) = read(endpoint, bytes, &caller) {
        assert!(
            ErrCode::ALL.contains(&rejection.code),
            "{endpoint:?} answered {} which is not in the registry",
            rejection.code.0
        );
        assert!(!rejection.message.is_empty(), "{endpoint:?}: empty errmsg");
    }
}
