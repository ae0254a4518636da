//! Request bodies as received: every field optional, nothing checked but JSON types.
//! Only malformed JSON fails here (47001); the rules and their errcodes live in `validate`.
//! `null` is the same as an absent field; unknown fields are ignored.

//!
//! The answers (`*Out`) are what the server sends and the SDK reads. Every type here also
//! describes itself to the OpenAPI document (`utoipa::ToSchema`): the limits in the
//! `#[schema]` attributes are documentation, the rules themselves live in `validate`.
//! Where SPEC counts bytes, the description says so: JSON Schema's `maxLength` counts
//! characters, which is the same only for ASCII.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};

use crate::association::VerifyResult;

/// An enum field as sent: WeChat accepts the integer or the upper-case name, and any
/// other value (or JSON type) is the enum's own "illegal" errcode, not 47001.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct EnumIn(pub Value);

/// `""` is absent, like a missing key or `null` (SPEC §10.15 point 3): real clients send
/// `""` for fields they do not use. A required field sent as `""` is then missing.
pub fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(d)?;
    Ok(value.filter(|v| !v.is_empty()))
}

/// The schema of an enum field: its number (1-based) or its name, or null (absent).
pub fn enum_schema(description: &str, names: &[&str]) -> RefOr<Schema> {
    let numbers = (1..=names.len()).map(|n| n as i64);
    OneOfBuilder::new()
        .description(Some(format!(
            "{description}: the number or the name ({})",
            names
                .iter()
                .enumerate()
                .map(|(i, name)| format!("{} = {name}", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .enum_values(Some(numbers)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .enum_values(Some(names.iter().copied())),
        )
        .item(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)))
        .into()
}

pub fn order_number_type_schema() -> RefOr<Schema> {
    enum_schema(
        "How the order is keyed",
        &["MERCHANT_TRADE_NUMBER", "WXPAY_TRADE_NUMBER"],
    )
}

pub fn link_type_schema() -> RefOr<Schema> {
    enum_schema("The kind of link", &["MINI_PROGRAM", "URL"])
}

pub fn logistics_type_schema() -> RefOr<Schema> {
    enum_schema(
        "How the goods reach the payer (absent: PHYSICAL_LOGISTICS)",
        &[
            "PHYSICAL_LOGISTICS",
            "LOCATION_BASED_LOGISTICS",
            "VIRTUAL_GOODS",
        ],
    )
}

pub fn delivery_mode_schema() -> RefOr<Schema> {
    enum_schema(
        "One parcel or several",
        &["UNIFIED_DELIVERY", "SPLIT_DELIVERY"],
    )
}

/// Which payment the upload is about: by WeChat Pay's transaction_id, or by the merchant's
/// mchid and out_trade_no.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct OrderKeyIn {
    #[schema(schema_with = order_number_type_schema)]
    pub order_number_type: Option<EnumIn>,
    /// Needed when order_number_type is 2. At most 32 bytes.
    #[schema(max_length = 32)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub transaction_id: Option<String>,
    /// Needed when order_number_type is 1. At most 32 bytes.
    #[schema(max_length = 32, pattern = r"^[0-9]{1,32}$")]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub mchid: Option<String>,
    /// Needed when order_number_type is 1: 1–32 of `0-9 A-Z a-z _ - *`.
    #[schema(max_length = 32, pattern = r"^[0-9A-Za-z_\-*]{1,32}$")]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub out_trade_no: Option<String>,
}

/// A link into the Mini Program (type 1: appid and path) or a web page (type 2: url).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct JumpLinkIn {
    #[serde(rename = "type")]
    #[schema(schema_with = link_type_schema)]
    pub link_type: Option<EnumIn>,
    /// Type 1. An order's link must name the calling app. At most 32 bytes.
    #[schema(max_length = 32, pattern = r"^wx[0-9a-f]{16}$")]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub appid: Option<String>,
    /// Type 1: the page path. At most 512 bytes.
    #[schema(max_length = 512)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub path: Option<String>,
    /// Type 2: an http(s) URL of at most 1024 bytes.
    #[schema(max_length = 1024)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ItemIn {
    /// The merchant's item id, 1–64 bytes: every item of an order has one, or none does.
    #[schema(max_length = 64)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub merchant_item_id: Option<String>,
    /// Required; 1–256 characters.
    #[schema(max_length = 256)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub name: Option<String>,
    /// At most 512 characters.
    #[schema(max_length = 512)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub description: Option<String>,
    /// Required: price of one, in fen (1/100 yuan), 0 or more.
    #[schema(minimum = 0)]
    pub unit_price: Option<i64>,
    /// Required: 1 or more.
    #[schema(minimum = 1)]
    pub quantity: Option<i64>,
    /// Required: 1–3 http(s) URLs of at most 1024 bytes.
    #[schema(max_items = 3)]
    pub image_url: Option<Vec<String>>,
    pub item_detail_jump_link: Option<JumpLinkIn>,
}

/// The payer: an openid of the calling app.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct PayerIn {
    #[schema(max_length = 128)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub openid: Option<String>,
}

/// An entry of `order_list` (single upload).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct OrderIn {
    /// Required; 1–64 bytes.
    #[schema(max_length = 64)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub merchant_order_no: Option<String>,
    pub order_detail_jump_link: Option<JumpLinkIn>,
    /// Required: 1–50 items.
    #[schema(max_items = 50)]
    pub item_list: Option<Vec<ItemIn>>,
}

/// An entry of `sub_orders` (combined upload).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct SubOrderIn {
    /// The sub-payment's key, of the same order_number_type as the master key.
    pub order_key: Option<OrderKeyIn>,
    /// Required; 1–64 bytes.
    #[schema(max_length = 64)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub merchant_order_no: Option<String>,
    pub order_detail_jump_link: Option<JumpLinkIn>,
    /// Required: 1–50 items.
    #[schema(max_items = 50)]
    pub item_list: Option<Vec<ItemIn>>,
    #[schema(schema_with = logistics_type_schema)]
    pub logistics_type: Option<EnumIn>,
}

/// `POST /user-order/orders` (uploadShoppingInfo).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct UploadShoppingInfoIn {
    pub order_key: Option<OrderKeyIn>,
    /// Required: 1–50 orders.
    #[schema(max_items = 50)]
    pub order_list: Option<Vec<OrderIn>>,
    pub payer: Option<PayerIn>,
    #[schema(schema_with = logistics_type_schema)]
    pub logistics_type: Option<EnumIn>,
    /// Required: RFC 3339 with offset, e.g. `2026-11-27T10:00:00+08:00`; each upload of an
    /// order must be later than the one stored.
    #[schema(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
    )]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub upload_time: Option<String>,
}

/// `POST /user-order/combine-orders` (uploadCombinedShoppingInfo).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct UploadCombinedShoppingInfoIn {
    /// The combined payment's key.
    pub order_key: Option<OrderKeyIn>,
    /// Required: 1–50 sub-orders, one per sub-payment.
    #[schema(max_items = 50)]
    pub sub_orders: Option<Vec<SubOrderIn>>,
    pub payer: Option<PayerIn>,
    /// Required: RFC 3339 with offset; each upload must be later than the one stored.
    #[schema(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
    )]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub upload_time: Option<String>,
}

/// `GET /cgi-bin/token` query.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Must be `client_credential`.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub grant_type: Option<String>,
    #[param(pattern = r"^wx[0-9a-f]{16}$")]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub appid: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub secret: Option<String>,
}

/// `POST /cgi-bin/stable_token` body.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct StableTokenIn {
    /// Must be `client_credential`.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub grant_type: Option<String>,
    #[schema(pattern = r"^wx[0-9a-f]{16}$")]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub appid: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub secret: Option<String>,
    /// Mint a new token now (limited per day and per 30 s) instead of returning the current one.
    pub force_refresh: Option<bool>,
}

/// Success body of both token endpoints (no errcode, as WeChat sends it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct AccessTokenOut {
    pub access_token: String,
    /// Seconds the token has left.
    pub expires_in: i64,
}

/// The `{"errcode","errmsg"}` envelope every WeChat API answers with: errcode 0 and `ok`
/// on success, otherwise the refusal, its errmsg ending in ` rid: <rid>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct EnvelopeOut {
    pub errcode: crate::ErrCode,
    pub errmsg: String,
}

impl EnvelopeOut {
    /// `{"errcode":0,"errmsg":"ok"}`.
    pub fn ok() -> Self {
        Self {
            errcode: crate::ErrCode::OK,
            errmsg: "ok".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ShippingItemIn {
    /// An item of the uploaded order, by its merchant_item_id.
    #[schema(max_length = 64)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub merchant_item_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ContactIn {
    /// 1–1024 bytes.
    #[schema(max_length = 1024)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub consignor_contact: Option<String>,
    /// 1–1024 bytes.
    #[schema(max_length = 1024)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub receiver_contact: Option<String>,
}

/// A parcel.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ShippingIn {
    /// Required; 1–128 bytes.
    #[schema(max_length = 128)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub tracking_no: Option<String>,
    /// Required; 1–128 bytes.
    #[schema(max_length = 128)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub express_company: Option<String>,
    /// Split delivery: the items in this parcel, at most 50.
    #[schema(max_items = 50)]
    pub item_list: Option<Vec<ShippingItemIn>>,
    pub contact: Option<ContactIn>,
}

/// `POST /user-order/orders/shippings`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct UploadShippingInfoIn {
    pub order_key: Option<OrderKeyIn>,
    #[schema(schema_with = delivery_mode_schema)]
    pub delivery_mode: Option<EnumIn>,
    /// Required: 1–10 parcels (exactly 1 for unified delivery).
    #[schema(max_items = 10)]
    pub shipping_list: Option<Vec<ShippingIn>>,
    pub payer: Option<PayerIn>,
    /// Required: RFC 3339 with offset; each upload must be later than the one stored.
    #[schema(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
    )]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub upload_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct SubOrderShippingIn {
    pub order_key: Option<OrderKeyIn>,
    #[schema(schema_with = delivery_mode_schema)]
    pub delivery_mode: Option<EnumIn>,
    /// Required: 1–10 parcels (exactly 1 for unified delivery).
    #[schema(max_items = 10)]
    pub shipping_list: Option<Vec<ShippingIn>>,
}

/// `POST /user-order/combine-orders/shippings`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct UploadCombinedShippingInfoIn {
    pub order_key: Option<OrderKeyIn>,
    /// Required: 1–50 sub-orders.
    #[schema(max_items = 50)]
    pub sub_orders: Option<Vec<SubOrderShippingIn>>,
    pub payer: Option<PayerIn>,
    /// Required: RFC 3339 with offset; each upload must be later than the one stored.
    #[schema(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
    )]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub upload_time: Option<String>,
}

/// `POST /user-order/shoppinginfo/verify`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct VerifyIn {
    pub order_key: Option<OrderKeyIn>,
    pub payer: Option<PayerIn>,
}

/// What `shoppinginfo/verify` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct VerifyOut {
    pub errcode: crate::ErrCode,
    pub errmsg: String,
    pub verify_result: VerifyResult,
}

/// What `orders-permission/confirm` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct PermissionConfirmOut {
    pub errcode: crate::ErrCode,
    pub errmsg: String,
    /// The previous review's result: `NONE` before the first, then `APPROVED`.
    pub last_result: String,
}

/// `POST /cgi-bin/openapi/rid/get`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct RidGetIn {
    /// The rid at the end of an errmsg.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub rid: Option<String>,
}

/// What `rid/get` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct RidGetOut {
    pub errcode: crate::ErrCode,
    pub errmsg: String,
    pub request: RidRequestOut,
}

/// A journaled request, as `rid/get` shows it (the access_token masked).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct RidRequestOut {
    /// Unix seconds.
    pub invoke_time: i64,
    pub cost_in_ms: i64,
    pub request_url: String,
    pub request_body: String,
    pub response_body: String,
    pub client_ip: String,
}

/// `POST /cgi-bin/component/api_component_token`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ComponentTokenIn {
    #[schema(pattern = r"^wx[0-9a-f]{16}$")]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub component_appid: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub component_appsecret: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub component_verify_ticket: Option<String>,
}

/// What `api_component_token` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct ComponentTokenOut {
    pub component_access_token: String,
    pub expires_in: i64,
}

/// `POST /cgi-bin/component/api_query_auth`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct QueryAuthIn {
    #[schema(pattern = r"^wx[0-9a-f]{16}$")]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub component_appid: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub authorization_code: Option<String>,
}

/// What `api_query_auth` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct QueryAuthOut {
    pub authorization_info: AuthorizationInfoOut,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct AuthorizationInfoOut {
    pub authorizer_appid: String,
    pub authorizer_access_token: String,
    pub expires_in: i64,
    pub authorizer_refresh_token: String,
    pub func_info: Vec<FuncInfoOut>,
}

/// A permission set granted to the platform.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct FuncInfoOut {
    pub funcscope_category: FuncscopeCategoryOut,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct FuncscopeCategoryOut {
    /// e.g. 120, 121, 142.
    pub id: i64,
}

/// `POST /cgi-bin/component/api_authorizer_token`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct AuthorizerTokenIn {
    #[schema(pattern = r"^wx[0-9a-f]{16}$")]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub component_appid: Option<String>,
    #[schema(pattern = r"^wx[0-9a-f]{16}$")]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub authorizer_appid: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub authorizer_refresh_token: Option<String>,
}

/// What `api_authorizer_token` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct AuthorizerTokenOut {
    pub authorizer_access_token: String,
    pub expires_in: i64,
    pub authorizer_refresh_token: String,
}
