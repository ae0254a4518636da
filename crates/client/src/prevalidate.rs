//! Pre-validation: the server's own rules (`userorder_model::validate`), run before a request
//! is sent, so a request WeChat would refuse fails locally with the same errcode. What needs
//! the server stays with the server: whether an openid is authentic (only its shape is
//! checked here), whether a mchid is bound to the app, and the state rules.

use userorder_model::Rejection;
use userorder_model::body;
use userorder_model::sec_order;
use userorder_model::validate::{self, Acting, OpenIdDecoder, Undecodable};

/// Accepts any openid of the right shape: `o` + 27 base64url characters.
struct ShapeOnly;

impl OpenIdDecoder for ShapeOnly {
    fn decode(&self, _appid: &str, openid: &str) -> Result<u64, Undecodable> {
        let shaped = openid.len() == 28
            && openid.starts_with('o')
            && openid[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if shaped {
            Ok(u64::MAX)
        } else {
            Err(Undecodable)
        }
    }
}

/// The first rule `body` breaks for the API at `path`, called as `appid`; `None` when the
/// local rules pass (or the path has none).
pub fn check(path: &str, appid: &str, body: &[u8]) -> Option<Rejection> {
    let caller = Acting {
        appid,
        openids: &ShapeOnly,
    };
    let result =
        match path {
            "/user-order/orders" => body::parse(body)
                .and_then(|raw| validate::upload_shopping_info(raw, &caller).map(drop)),
            "/user-order/combine-orders" => body::parse(body)
                .and_then(|raw| validate::upload_combined_shopping_info(raw, &caller).map(drop)),
            "/user-order/orders/shippings" => body::parse(body)
                .and_then(|raw| validate::upload_shipping_info(raw, &caller).map(drop)),
            "/user-order/combine-orders/shippings" => body::parse(body)
                .and_then(|raw| validate::upload_combined_shipping_info(raw, &caller).map(drop)),
            "/user-order/shoppinginfo/verify" => {
                body::parse(body).and_then(|raw| validate::verify(raw, &caller).map(drop))
            }
            "/wxa/sec/order/upload_shipping_info" => {
                body::parse(body).and_then(|raw| sec_order::shipping_request(raw).map(drop))
            }
            "/wxa/sec/order/upload_combined_shipping_info" => body::parse(body)
                .and_then(|raw| sec_order::combined_shipping_request(raw).map(drop)),
            "/wxa/sec/order/get_order" => {
                body::parse(body).and_then(|raw| sec_order::payment_ref(raw).map(drop))
            }
            "/wxa/sec/order/notify_confirm_receive" => {
                body::parse(body).and_then(|raw| sec_order::notify_request(raw).map(drop))
            }
            "/wxa/sec/order/opspecialorder" => {
                body::parse(body).and_then(|raw| sec_order::special_request(raw).map(drop))
            }
            _ => Ok(()),
        };
    result.err()
}
