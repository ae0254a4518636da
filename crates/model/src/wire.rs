//! Request bodies as received: every field optional, nothing checked but JSON types.
//! Only malformed JSON fails here (47001); the rules and their errcodes live in `validate`.
//! `null` is the same as an absent field; unknown fields are ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An enum field as sent: WeChat accepts the integer or the upper-case name, and any
/// other value (or JSON type) is the enum's own "illegal" errcode, not 47001.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct EnumIn(pub Value);

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OrderKeyIn {
    pub order_number_type: Option<EnumIn>,
    pub transaction_id: Option<String>,
    pub mchid: Option<String>,
    pub out_trade_no: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct JumpLinkIn {
    #[serde(rename = "type")]
    pub link_type: Option<EnumIn>,
    pub appid: Option<String>,
    pub path: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ItemIn {
    pub merchant_item_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub unit_price: Option<i64>,
    pub quantity: Option<i64>,
    pub image_url: Option<Vec<String>>,
    pub item_detail_jump_link: Option<JumpLinkIn>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PayerIn {
    pub openid: Option<String>,
}

/// An entry of `order_list` (single upload).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OrderIn {
    pub merchant_order_no: Option<String>,
    pub order_detail_jump_link: Option<JumpLinkIn>,
    pub item_list: Option<Vec<ItemIn>>,
}

/// An entry of `sub_orders` (combined upload).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SubOrderIn {
    pub order_key: Option<OrderKeyIn>,
    pub merchant_order_no: Option<String>,
    pub order_detail_jump_link: Option<JumpLinkIn>,
    pub item_list: Option<Vec<ItemIn>>,
    pub logistics_type: Option<EnumIn>,
}

/// `POST /user-order/orders` (uploadShoppingInfo).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UploadShoppingInfoIn {
    pub order_key: Option<OrderKeyIn>,
    pub order_list: Option<Vec<OrderIn>>,
    pub payer: Option<PayerIn>,
    pub logistics_type: Option<EnumIn>,
    pub upload_time: Option<String>,
}

/// `POST /user-order/combine-orders` (uploadCombinedShoppingInfo).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UploadCombinedShoppingInfoIn {
    pub order_key: Option<OrderKeyIn>,
    pub sub_orders: Option<Vec<SubOrderIn>>,
    pub payer: Option<PayerIn>,
    pub upload_time: Option<String>,
}

/// `GET /cgi-bin/token` query.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TokenQuery {
    pub grant_type: Option<String>,
    pub appid: Option<String>,
    pub secret: Option<String>,
}

/// `POST /cgi-bin/stable_token` body.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct StableTokenIn {
    pub grant_type: Option<String>,
    pub appid: Option<String>,
    pub secret: Option<String>,
    pub force_refresh: Option<bool>,
}

/// Success body of both token endpoints (no errcode, as WeChat sends it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct AccessTokenOut {
    pub access_token: String,
    pub expires_in: i64,
}

/// The `{"errcode","errmsg"}` envelope every WeChat API answers with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct EnvelopeOut {
    pub errcode: crate::ErrCode,
    pub errmsg: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ShippingItemIn {
    pub merchant_item_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContactIn {
    pub consignor_contact: Option<String>,
    pub receiver_contact: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ShippingIn {
    pub tracking_no: Option<String>,
    pub express_company: Option<String>,
    pub item_list: Option<Vec<ShippingItemIn>>,
    pub contact: Option<ContactIn>,
}

/// `POST /user-order/orders/shippings`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UploadShippingInfoIn {
    pub order_key: Option<OrderKeyIn>,
    pub delivery_mode: Option<EnumIn>,
    pub shipping_list: Option<Vec<ShippingIn>>,
    pub payer: Option<PayerIn>,
    pub upload_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SubOrderShippingIn {
    pub order_key: Option<OrderKeyIn>,
    pub delivery_mode: Option<EnumIn>,
    pub shipping_list: Option<Vec<ShippingIn>>,
}

/// `POST /user-order/combine-orders/shippings`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UploadCombinedShippingInfoIn {
    pub order_key: Option<OrderKeyIn>,
    pub sub_orders: Option<Vec<SubOrderShippingIn>>,
    pub payer: Option<PayerIn>,
    pub upload_time: Option<String>,
}

/// `POST /user-order/shoppinginfo/verify`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct VerifyIn {
    pub order_key: Option<OrderKeyIn>,
    pub payer: Option<PayerIn>,
}

/// `POST /cgi-bin/openapi/rid/get`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RidGetIn {
    pub rid: Option<String>,
}

/// `POST /cgi-bin/component/api_component_token`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ComponentTokenIn {
    pub component_appid: Option<String>,
    pub component_appsecret: Option<String>,
    pub component_verify_ticket: Option<String>,
}

/// `POST /cgi-bin/component/api_query_auth`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct QueryAuthIn {
    pub component_appid: Option<String>,
    pub authorization_code: Option<String>,
}

/// `POST /cgi-bin/component/api_authorizer_token`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AuthorizerTokenIn {
    pub component_appid: Option<String>,
    pub authorizer_appid: Option<String>,
    pub authorizer_refresh_token: Option<String>,
}
