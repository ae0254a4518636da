//! Order shipping management (发货信息管理服务, `/wxa/sec/order/*`, SPEC §10): its request and
//! answer types, and the carriers `get_delivery_list` answers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ErrCode;

/// `POST /wxa/sec/order/set_msg_jump_path`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct SetMsgJumpPathIn {
    /// The Mini Program page the payer's confirm-receipt message opens, at most 512 bytes;
    /// absent clears it (WeChat's own page is used).
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    #[schema(max_length = 512)]
    pub path: Option<String>,
}

/// `POST /wxa/sec/order/notify_confirm_receive`: a PaymentRef and the courier's signed-for
/// time.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct NotifyConfirmReceiveIn {
    #[serde(flatten)]
    pub payment: PaymentRefIn,
    /// Unix seconds: after the shipping completed, not in the future.
    pub received_time: Option<i64>,
}

/// `POST /wxa/sec/order/opspecialorder`: report a pre-sale or a test order.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct OpSpecialOrderIn {
    /// A transaction_id, or an out_trade_no (several: the latest paid).
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    pub order_id: Option<String>,
    /// 1 pre-sale (预售), 2 test order (测试订单).
    #[serde(rename = "type")]
    pub kind: Option<i64>,
    /// Pre-sale: when shipping is due, Unix seconds, more than 15 and at most 330 days
    /// after pay_time.
    pub delay_to: Option<i64>,
}

/// notify_confirm_receive's body rules (SPEC §10.8): the PaymentRef, then received_time.
pub fn notify_request(raw: NotifyConfirmReceiveIn) -> Result<(PaymentRef, i64), crate::Rejection> {
    let key = payment_ref(raw.payment)?;
    let received_time = raw.received_time.ok_or_else(|| {
        crate::Rejection::sec_invalid("received_time", "is missing (Unix seconds)")
    })?;
    Ok((key, received_time))
}

/// A checked opspecialorder body: the order_id, the type (1 or 2) and delay_to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialRequest {
    pub order_id: String,
    pub kind: i64,
    pub delay_to: Option<i64>,
}

/// opspecialorder's body rules (SPEC §10.11): the type, then an order_id (whether it names
/// an order still to ship, and a pre-sale's delay_to, are for after the lookup).
pub fn special_request(raw: OpSpecialOrderIn) -> Result<SpecialRequest, crate::Rejection> {
    use crate::{ErrCode, Rejection};
    let kind = raw
        .kind
        .filter(|k| matches!(k, 1 | 2))
        .ok_or_else(|| Rejection::at(ErrCode::SPECIAL_TYPE_ILLEGAL, "type"))?;
    let order_id = raw
        .order_id
        .ok_or_else(|| Rejection::at(ErrCode::SPECIAL_ORDER_NOT_FOUND, "order_id"))?;
    Ok(SpecialRequest {
        order_id,
        kind,
        delay_to: raw.delay_to,
    })
}

/// `POST /wxa/sec/order/is_trade_managed` and `is_trade_management_confirmation_completed`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct AppidIn {
    /// The calling app's own appid.
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    #[schema(pattern = r"^wx[0-9a-f]{16}$")]
    pub appid: Option<String>,
}

/// What `is_trade_managed` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct IsTradeManagedOut {
    pub errcode: ErrCode,
    pub errmsg: String,
    pub is_trade_managed: bool,
}

/// What `is_trade_management_confirmation_completed` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct ConfirmationCompletedOut {
    pub errcode: ErrCode,
    pub errmsg: String,
    pub completed: bool,
}

/// `get_delivery_list` takes any JSON object (its fields are ignored).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct DeliveryListIn {}

/// A carrier as `get_delivery_list` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub delivery_id: String,
    pub delivery_name: String,
}

/// What `POST /cgi-bin/express/delivery/open_msg/get_delivery_list` answers: no errmsg, as
/// WeChat's example and an observed reply (SPEC §10.12).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct DeliveryListOut {
    pub errcode: ErrCode,
    pub delivery_list: Vec<DeliveryOut>,
    pub count: usize,
}

/// The carriers of SPEC §10.12, in table order (WeChat's real list has about 1,400).
pub const CARRIERS: &[(&str, &str)] = &[
    ("SF", "顺丰速运"),
    ("ZTO", "中通快递"),
    ("YTO", "圆通速递"),
    ("YD", "韵达速递"),
    ("STO", "申通快递"),
    ("JTSD", "极兔速递"),
    ("JD", "京东快递"),
    ("EMS", "EMS"),
    ("YZPY", "邮政快递包裹"),
    ("YZBK", "邮政国内标快"),
    ("HTKY", "百世快递"),
    ("DBL", "德邦快递"),
    ("DBLKY", "德邦快运"),
    ("ZJS", "宅急送"),
    ("HHTT", "天天快递"),
    ("UC", "优速快递"),
    ("ANE", "安能物流"),
    ("ANEKY", "安能快运"),
    ("KYSY", "跨越速运"),
    ("ZTOKY", "中通快运"),
    ("YMDD", "壹米滴答"),
    ("BTWL", "百世快运"),
    ("JDKY", "京东快运"),
    ("SNWL", "苏宁物流"),
    ("DHL", "DHL"),
    ("UPS", "UPS"),
    ("FEDEX", "FEDEX联邦(国内件)"),
    ("TNT", "TNT快递"),
    ("BDT", "八达通"),
    ("(AU)", "Interparcel"),
];

/// How `get_order` (and `notify_confirm_receive`) name a payment (SPEC §10.3's PaymentRef):
/// `transaction_id`, or `merchant_id` with `merchant_trade_no`. `sub_merchant_id` is ignored.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct PaymentRefIn {
    /// Wins when present. 1–32 bytes.
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    #[schema(max_length = 32)]
    pub transaction_id: Option<String>,
    /// The mchid; with merchant_trade_no. 1–32 bytes.
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    #[schema(max_length = 32)]
    pub merchant_id: Option<String>,
    /// Ignored.
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    pub sub_merchant_id: Option<String>,
    /// The out_trade_no; with merchant_id. 1–32 of `0-9 A-Z a-z _ - *`.
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    #[schema(pattern = r"^[0-9A-Za-z_\-*]{1,32}$")]
    pub merchant_trade_no: Option<String>,
}

/// Whether order shipping management knows a payment at `now` (SPEC §10.2): paid or
/// refunded, not kept out of the API, and past its ingest delay. (Of the app that asks;
/// a combined master is not itself an order, but names its sub-orders.)
pub fn known_payment(
    state: &str,
    excluded_from_shipping: bool,
    visible_at: Option<i64>,
    now: i64,
) -> bool {
    matches!(state, "SUCCESS" | "REFUND")
        && !excluded_from_shipping
        && visible_at.is_some_and(|at| now >= at)
}

/// A checked PaymentRef.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentRef {
    Transaction(String),
    Merchant {
        mchid: String,
        out_trade_no: String,
    },
    /// opspecialorder's `order_id` (SPEC §10.11): a transaction_id of the app, else the
    /// latest paid of its payments with this out_trade_no.
    OrderId(String),
}

/// SPEC §10.3: `transaction_id` wins; else both merchant fields; each within its limits;
/// anything else 10060014 naming the field.
pub fn payment_ref(raw: PaymentRefIn) -> Result<PaymentRef, crate::Rejection> {
    use crate::Rejection;
    let within = |value: &str, name: &str| {
        if value.len() > 32 {
            Err(Rejection::sec_invalid(
                name,
                format!("is {} bytes, must be 1 to 32", value.len()),
            ))
        } else {
            Ok(())
        }
    };
    if let Some(id) = raw.transaction_id {
        within(&id, "transaction_id")?;
        return Ok(PaymentRef::Transaction(id));
    }
    match (raw.merchant_id, raw.merchant_trade_no) {
        (Some(mchid), Some(out_trade_no)) => {
            within(&mchid, "merchant_id")?;
            within(&out_trade_no, "merchant_trade_no")?;
            if let Some(bad) = out_trade_no
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*')))
            {
                return Err(Rejection::sec_invalid(
                    "merchant_trade_no",
                    format!("contains {bad:?}; only 0-9 A-Z a-z _ - * are allowed"),
                ));
            }
            Ok(PaymentRef::Merchant {
                mchid,
                out_trade_no,
            })
        }
        _ => Err(Rejection::sec_invalid(
            "transaction_id",
            "is missing; give transaction_id, or merchant_id and merchant_trade_no",
        )),
    }
}

/// An order as `get_order` and `get_order_list` answer it (SPEC §10.7): every field
/// always present.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct OrderOut {
    pub transaction_id: String,
    pub merchant_id: String,
    /// Always `"0"`, as observed.
    pub sub_merchant_id: String,
    pub merchant_trade_no: String,
    /// The parcels' item_desc joined by `;` (at most 120 characters); `""` before shipping.
    pub description: String,
    /// Fen.
    pub paid_amount: i64,
    pub openid: String,
    /// Unix seconds.
    pub trade_create_time: i64,
    /// Unix seconds.
    pub pay_time: i64,
    /// 1 to ship, 2 shipped, 3 receipt confirmed, 4 completed, 5 refunded, 6 pending
    /// settlement.
    #[schema(minimum = 1, maximum = 6)]
    pub order_state: i64,
    pub in_complaint: bool,
    /// `{}` before the first shipping upload.
    pub shipping: OrderShippingOut,
}

/// An order's shipping: `{}` until it is shipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct OrderShippingOut {
    #[serde(flatten, default)]
    pub shipped: Option<ShippedOut>,
}

/// The shipping of an order once uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct ShippedOut {
    pub delivery_mode: i64,
    pub logistics_type: i64,
    pub finish_shipping: bool,
    pub goods_desc: String,
    pub finish_shipping_count: i64,
    pub upload_scene: i64,
    pub shipping_list: Vec<ParcelOut>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct ParcelOut {
    pub tracking_no: String,
    pub express_company: String,
    pub goods_desc: String,
    pub upload_time: i64,
    pub contact: ParcelContactOut,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct ParcelContactOut {
    pub consignor_contact: String,
    pub receiver_contact: String,
}

/// What `get_order` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct GetOrderOut {
    pub errcode: ErrCode,
    pub errmsg: String,
    pub order: OrderOut,
}

// ---- shipping uploads (SPEC §10.3–§10.6) -------------------------------------------------

/// A parcel as sent (`shipping_list[i]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ParcelIn {
    /// Required for courier delivery (logistics_type 1); at most 128 bytes.
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    #[schema(max_length = 128)]
    pub tracking_no: Option<String>,
    /// A carrier code of get_delivery_list; required for courier delivery; at most 128 bytes.
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    #[schema(max_length = 128)]
    pub express_company: Option<String>,
    /// Required: what the parcel holds, at most 120 characters.
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    #[schema(max_length = 120)]
    pub item_desc: Option<String>,
    pub contact: Option<crate::wire::ContactIn>,
}

/// `POST /wxa/sec/order/upload_shipping_info`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct UploadShippingIn {
    pub order_key: Option<crate::wire::OrderKeyIn>,
    /// 1 courier, 2 same-city delivery, 3 virtual goods, 4 self pick-up (number or name).
    #[schema(schema_with = sec_logistics_type_schema)]
    pub logistics_type: Option<crate::wire::EnumIn>,
    #[schema(schema_with = crate::wire::delivery_mode_schema)]
    pub delivery_mode: Option<crate::wire::EnumIn>,
    /// Split delivery: whether this upload completes the shipping.
    pub is_all_delivered: Option<bool>,
    /// 1–15 parcels (exactly 1 for unified delivery).
    #[schema(max_items = 15)]
    pub shipping_list: Option<Vec<ParcelIn>>,
    /// RFC 3339 (or `±HHMM` offsets); each upload of an order must be later than the last.
    pub upload_time: Option<String>,
    pub payer: Option<crate::wire::PayerIn>,
}

fn sec_logistics_type_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::wire::enum_schema("How the goods reach the payer", &LOGISTICS_TYPES)
}

const LOGISTICS_TYPES: [&str; 4] = [
    "PHYSICAL_LOGISTICS",
    "LOCATION_BASED_LOGISTICS",
    "VIRTUAL_GOODS",
    "SELF_PICKUP",
];

/// A parcel as stored: what was sent, and the upload_time (Unix seconds) of its last change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Parcel {
    pub tracking_no: String,
    pub express_company: String,
    pub item_desc: String,
    pub consignor_contact: String,
    pub receiver_contact: String,
    pub upload_time: i64,
}

impl Parcel {
    /// Same parcel: the same carrier and tracking number (SPEC §10.3).
    fn same_identity(&self, other: &Parcel) -> bool {
        self.express_company == other.express_company && self.tracking_no == other.tracking_no
    }

    /// Equal in every field that was sent.
    fn same_content(&self, other: &Parcel) -> bool {
        self.same_identity(other)
            && self.item_desc == other.item_desc
            && self.consignor_contact == other.consignor_contact
            && self.receiver_contact == other.receiver_contact
    }
}

/// A checked upload of one order's shipping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingUpload {
    /// 1 unified, 2 split.
    pub delivery_mode: i64,
    /// 1 courier … 4 self pick-up.
    pub logistics_type: i64,
    pub is_all_delivered: bool,
    pub parcels: Vec<Parcel>,
}

/// The checked body of `upload_shipping_info`: the order, the payer, the time, the upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingRequest {
    pub order_key: crate::shopping::OrderKey,
    pub openid: String,
    pub upload_time: crate::shopping::UploadTime,
    pub upload: ShippingUpload,
}

/// upload_time as this family takes it (SPEC §10.3): RFC 3339, or `±HHMM` offsets.
pub fn upload_time(raw: Option<String>) -> Result<crate::shopping::UploadTime, crate::Rejection> {
    use crate::shopping::UploadTime;
    let illegal = || crate::Rejection::new(crate::ErrCode::UPLOAD_TIME_ILLEGAL);
    let text = raw.ok_or_else(illegal)?;
    if let Some(time) = UploadTime::parse(&text) {
        return Ok(time);
    }
    // `…+0800`: the offset without its colon, as the real server takes it.
    let bytes = text.as_bytes();
    let n = bytes.len();
    if n > 5 && matches!(bytes[n - 5], b'+' | b'-') && bytes[n - 4..].iter().all(u8::is_ascii_digit)
    {
        let with_colon = format!("{}:{}", &text[..n - 2], &text[n - 2..]);
        if let Some(time) = UploadTime::parse(&with_colon) {
            return Ok(UploadTime::with_text(text, time.unix_nanos()));
        }
    }
    Err(illegal())
}

/// SPEC §10.4's checks of the body, in its order, up to the parcels; the lookup and the
/// state rules follow in the server and the store.
pub fn shipping_request(raw: UploadShippingIn) -> Result<ShippingRequest, crate::Rejection> {
    let order_key = crate::validate::order_key(raw.order_key, "order_key").map_err(sec_code)?;
    let openid = payer_openid(raw.payer)?;
    let upload_time = upload_time(raw.upload_time)?;
    let upload = shipping_upload(
        OneOrderIn {
            delivery_mode: raw.delivery_mode,
            logistics_type: raw.logistics_type,
            is_all_delivered: raw.is_all_delivered,
            shipping_list: raw.shipping_list,
        },
        "",
        &upload_time,
    )?;
    Ok(ShippingRequest {
        order_key,
        openid,
        upload_time,
        upload,
    })
}

/// `payer.openid`: present, at most 128 bytes (10060014).
fn payer_openid(raw: Option<crate::wire::PayerIn>) -> Result<String, crate::Rejection> {
    use crate::Rejection;
    let openid = raw
        .and_then(|p| p.openid)
        .ok_or_else(|| Rejection::sec_invalid("payer.openid", "is missing"))?;
    if openid.len() > 128 {
        return Err(Rejection::sec_invalid(
            "payer.openid",
            format!("is {} bytes, at most 128", openid.len()),
        ));
    }
    Ok(openid)
}

/// What one order's shipping is sent as, in a single or a combined upload.
struct OneOrderIn {
    delivery_mode: Option<crate::wire::EnumIn>,
    logistics_type: Option<crate::wire::EnumIn>,
    is_all_delivered: Option<bool>,
    shipping_list: Option<Vec<ParcelIn>>,
}

/// SPEC §10.4 from `delivery_mode` through the parcels; `prefix` names the sub-order.
fn shipping_upload(
    raw: OneOrderIn,
    prefix: &str,
    upload_time: &crate::shopping::UploadTime,
) -> Result<ShippingUpload, crate::Rejection> {
    use crate::validate::enum_index;
    use crate::{ErrCode, Rejection};
    let delivery_mode = match enum_index(
        raw.delivery_mode.as_ref(),
        &["UNIFIED_DELIVERY", "SPLIT_DELIVERY"],
    ) {
        Some(Ok(n)) => n as i64,
        _ => {
            return Err(Rejection::at(
                ErrCode::ILLEGAL_DELIVERY_MODE,
                format!("{prefix}delivery_mode"),
            ));
        }
    };
    let logistics_type = match enum_index(raw.logistics_type.as_ref(), &LOGISTICS_TYPES) {
        Some(Ok(n)) => n as i64,
        _ => {
            return Err(Rejection::at(
                ErrCode::LOGISTICS_TYPE_ILLEGAL,
                format!("{prefix}logistics_type"),
            ));
        }
    };
    let list_path = format!("{prefix}shipping_list");
    let list = raw.shipping_list.unwrap_or_default();
    if list.is_empty() {
        return Err(Rejection::at(
            ErrCode::UNIFIED_NEEDS_ONE_SHIPPING,
            &list_path,
        ));
    }
    if list.len() > MAX_PARCELS {
        return Err(Rejection::at(ErrCode::TOO_MANY_PARCELS, &list_path));
    }
    if delivery_mode == 1 && list.len() != 1 {
        return Err(Rejection::at(
            ErrCode::UNIFIED_NEEDS_ONE_SHIPPING,
            &list_path,
        ));
    }
    let courier = logistics_type == 1;
    if delivery_mode == 2 && !courier {
        return Err(Rejection::at(
            ErrCode::SPLIT_NEEDS_COURIER,
            format!("{prefix}delivery_mode"),
        ));
    }
    let is_all_delivered = match (delivery_mode, raw.is_all_delivered) {
        (2, None) => {
            return Err(Rejection::at(
                ErrCode::IS_ALL_DELIVERED_MISSING,
                format!("{prefix}is_all_delivered"),
            ));
        }
        (_, flag) => flag.unwrap_or(false),
    };
    let unix = upload_time.unix_nanos().div_euclid(1_000_000_000);
    let mut parcels = Vec::with_capacity(list.len());
    for (i, raw) in list.into_iter().enumerate() {
        parcels.push(parcel(raw, &format!("{list_path}[{i}]"), courier, unix)?);
    }
    Ok(ShippingUpload {
        delivery_mode,
        logistics_type,
        is_all_delivered,
        parcels,
    })
}

/// A sub-order of `upload_combined_shipping_info`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct SubOrderShippingIn {
    /// The sub-payment's key, of the master's order_number_type.
    pub order_key: Option<crate::wire::OrderKeyIn>,
    #[schema(schema_with = sec_logistics_type_schema)]
    pub logistics_type: Option<crate::wire::EnumIn>,
    #[schema(schema_with = crate::wire::delivery_mode_schema)]
    pub delivery_mode: Option<crate::wire::EnumIn>,
    pub is_all_delivered: Option<bool>,
    #[schema(max_items = 15)]
    pub shipping_list: Option<Vec<ParcelIn>>,
}

/// `POST /wxa/sec/order/upload_combined_shipping_info`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct UploadCombinedShippingIn {
    /// The combined payment's key.
    pub order_key: Option<crate::wire::OrderKeyIn>,
    /// 1–50 sub-orders.
    #[schema(max_items = 50)]
    pub sub_orders: Option<Vec<SubOrderShippingIn>>,
    pub upload_time: Option<String>,
    pub payer: Option<crate::wire::PayerIn>,
}

/// The checked body of `upload_combined_shipping_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CombinedShippingRequest {
    pub order_key: crate::shopping::OrderKey,
    pub openid: String,
    pub upload_time: crate::shopping::UploadTime,
    pub sub_orders: Vec<(crate::shopping::OrderKey, ShippingUpload)>,
}

/// SPEC §10.5's checks of the body, in its order, up to the master lookup.
pub fn combined_shipping_request(
    raw: UploadCombinedShippingIn,
) -> Result<CombinedShippingRequest, crate::Rejection> {
    use crate::{ErrCode, Rejection};
    let order_key = crate::validate::order_key(raw.order_key, "order_key").map_err(sec_code)?;
    let openid = payer_openid(raw.payer)?;
    let upload_time = upload_time(raw.upload_time)?;
    let raw_subs = raw.sub_orders.unwrap_or_default();
    if raw_subs.is_empty() || raw_subs.len() > 50 {
        return Err(Rejection::sec_invalid(
            "sub_orders",
            format!("has {} entries, must have 1 to 50", raw_subs.len()),
        ));
    }
    let master_type = order_key.number_type();
    let mut sub_orders: Vec<(crate::shopping::OrderKey, ShippingUpload)> = Vec::new();
    for (i, raw) in raw_subs.into_iter().enumerate() {
        let path = format!("sub_orders[{i}].order_key");
        let key_in = raw.order_key.unwrap_or_default();
        let kind = match crate::validate::enum_index(
            key_in.order_number_type.as_ref(),
            &["MERCHANT_TRADE_NUMBER", "WXPAY_TRADE_NUMBER"],
        ) {
            Some(Ok(1)) => crate::shopping::OrderNumberType::Merchant,
            Some(Ok(2)) => crate::shopping::OrderNumberType::WxPay,
            _ => {
                return Err(Rejection::at(
                    ErrCode::ILLEGAL_ORDER_NUMBER_TYPE,
                    format!("{path}.order_number_type"),
                ));
            }
        };
        if kind != master_type {
            return Err(Rejection::at(ErrCode::SUB_ORDER_TYPE_DIFFERS, &path));
        }
        let key = crate::validate::order_key(Some(key_in), &path).map_err(sec_code)?;
        if sub_orders.iter().any(|(k, _)| *k == key) {
            return Err(Rejection::at(ErrCode::SUB_ORDER_REPEATED, &path));
        }
        let upload = shipping_upload(
            OneOrderIn {
                delivery_mode: raw.delivery_mode,
                logistics_type: raw.logistics_type,
                is_all_delivered: raw.is_all_delivered,
                shipping_list: raw.shipping_list,
            },
            &format!("sub_orders[{i}]."),
            &upload_time,
        )?;
        sub_orders.push((key, upload));
    }
    Ok(CombinedShippingRequest {
        order_key,
        openid,
        upload_time,
        sub_orders,
    })
}

/// The most parcels an order holds (SPEC §10.4).
pub const MAX_PARCELS: usize = 15;

/// The key rules answer this family's generic code where the Shopping Order family answers
/// 268435461.
fn sec_code(rejection: crate::Rejection) -> crate::Rejection {
    if rejection.code == crate::ErrCode::INVALID_PARAMETER {
        crate::Rejection {
            code: crate::ErrCode::SEC_INVALID_PARAMETER,
            message: rejection.message,
        }
    } else {
        rejection
    }
}

/// SPEC §10.3's parcel table, in its order.
fn parcel(
    raw: ParcelIn,
    path: &str,
    courier: bool,
    upload_time: i64,
) -> Result<Parcel, crate::Rejection> {
    use crate::{ErrCode, Rejection};
    let item_desc = raw
        .item_desc
        .ok_or_else(|| Rejection::at(ErrCode::ITEM_DESC_EMPTY, format!("{path}.item_desc")))?;
    if item_desc.chars().count() > 120 {
        return Err(Rejection::at(
            ErrCode::ITEM_DESC_TOO_LONG,
            format!("{path}.item_desc"),
        ));
    }
    // Required for couriers, at most 128 bytes: each with its own two codes.
    let courier_field = |value: Option<String>, name: &str, empty, too_long| match value {
        None if courier => Err(Rejection::at(empty, format!("{path}.{name}"))),
        Some(v) if v.len() > 128 => Err(Rejection::at(too_long, format!("{path}.{name}"))),
        v => Ok(v.unwrap_or_default()),
    };
    let tracking_no = courier_field(
        raw.tracking_no,
        "tracking_no",
        ErrCode::TRACKING_NO_EMPTY,
        ErrCode::TRACKING_NO_TOO_LONG,
    )?;
    let express_company = courier_field(
        raw.express_company,
        "express_company",
        ErrCode::EXPRESS_COMPANY_EMPTY,
        ErrCode::EXPRESS_COMPANY_TOO_LONG,
    )?;
    let contact = raw.contact.unwrap_or_default();
    for (name, value) in [
        ("consignor_contact", &contact.consignor_contact),
        ("receiver_contact", &contact.receiver_contact),
    ] {
        if let Some(value) = value
            && value.len() > 1024
        {
            return Err(Rejection::sec_invalid(
                format!("{path}.contact.{name}"),
                format!("is {} bytes, at most 1024", value.len()),
            ));
        }
    }
    Ok(Parcel {
        tracking_no,
        express_company,
        item_desc,
        consignor_contact: contact.consignor_contact.unwrap_or_default(),
        receiver_contact: contact.receiver_contact.unwrap_or_default(),
        upload_time,
    })
}

/// An order's stored shipping (SPEC §10.6).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Shipment {
    pub delivery_mode: i64,
    pub logistics_type: i64,
    pub parcels: Vec<Parcel>,
    pub finish_shipping: bool,
    /// 0, 1 once complete, 2 after the one re-ship.
    pub finish_shipping_count: i64,
    /// The upload_time of the last accepted upload, Unix nanoseconds (compared in full).
    pub last_upload_nanos: i64,
    /// F: when shipping last became complete (sandbox clock).
    pub finished_at: Option<i64>,
    /// When the payer confirmed receipt (sandbox clock).
    pub confirmed_at: Option<i64>,
    /// When shipping first became complete: a re-ship moves F, not this.
    #[serde(default)]
    pub first_finished_at: Option<i64>,
    /// notify_confirm_receive's reminder (SPEC §10.8), once per order.
    #[serde(default)]
    pub reminder: Option<Reminder>,
}

/// A reminder to confirm receipt (SPEC §10.8): the courier's signed-for time, and when the
/// merchant sent it (sandbox clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct Reminder {
    pub received_time: i64,
    pub at: i64,
}

/// opspecialorder's report (SPEC §10.11): 1 pre-sale (shipping reminder at `delay_to`),
/// 2 test order (no shipping reminder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct Special {
    #[serde(rename = "type")]
    pub kind: i64,
    /// Unix seconds; pre-sale only.
    pub delay_to: Option<i64>,
}

/// A complaint the payer opened (SPEC §10.12), open until `closed_at` (sandbox clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct Complaint {
    pub opened_at: i64,
    pub closed_at: Option<i64>,
}

impl Complaint {
    fn open_at(&self, t: i64) -> bool {
        self.opened_at <= t && self.closed_at.is_none_or(|end| t < end)
    }
}

/// What an order's state is computed from (SPEC §10.6): nothing is rewritten as the
/// sandbox clock moves.
#[derive(Debug, Clone, Copy)]
pub struct StateFacts<'a> {
    pub shipment: Option<&'a Shipment>,
    pub refunded_at: Option<i64>,
    pub complaints: &'a [Complaint],
    pub settings: &'a crate::sandbox::TradeManagement,
}

impl StateFacts<'_> {
    /// F + N days: when receipt is confirmed automatically.
    pub fn auto_confirm_at(&self) -> Option<i64> {
        let shipment = self.shipment.filter(|s| s.finish_shipping)?;
        let days = match shipment.logistics_type {
            1 => self.settings.auto_confirm_days.courier,
            _ => self.settings.auto_confirm_days.other,
        };
        Some(shipment.finished_at? + days * 86_400)
    }

    /// C: the earlier of the payer's confirmation and F + N days.
    pub fn confirmed_at(&self) -> Option<i64> {
        let automatic = self.auto_confirm_at()?;
        let payer = self.shipment.and_then(|s| s.confirmed_at);
        Some(payer.map_or(automatic, |at| at.min(automatic)))
    }

    /// How receipt was confirmed (SPEC §10.13's `confirm_receive_method`): 1 the payer, 2
    /// automatically.
    pub fn confirm_method(&self) -> i64 {
        match (
            self.shipment.and_then(|s| s.confirmed_at),
            self.auto_confirm_at(),
        ) {
            (Some(payer), Some(automatic)) if payer < automatic => 1,
            _ => 2,
        }
    }

    /// Z: the first instant at or after C + settle_delay_s with no complaint open; `None`
    /// before C is known or while a complaint that holds it stays open.
    pub fn settled_at(&self) -> Option<i64> {
        let mut at = self.confirmed_at()? + self.settings.settle_delay_s;
        while let Some(holding) = self.complaints.iter().find(|c| c.open_at(at)) {
            at = holding.closed_at?;
        }
        Some(at)
    }

    /// Whether a complaint is open at `now` (`in_complaint`).
    pub fn in_complaint(&self, now: i64) -> bool {
        self.complaints.iter().any(|c| c.open_at(now))
    }

    /// `order_state` at `now`, first match of SPEC §10.6's table.
    pub fn order_state(&self, now: i64) -> i64 {
        if self.refunded_at.is_some() {
            return 5;
        }
        let Some(confirmed) = self.confirmed_at() else {
            return 1;
        };
        if now < confirmed {
            2
        } else if self.settled_at().is_some_and(|settled| now >= settled) {
            4
        } else if self.in_complaint(now) {
            6
        } else {
            3
        }
    }
}

/// notify_confirm_receive's state rules (SPEC §10.8), after the lookup: the reminder to
/// store, or the errcode of the first rule broken.
pub fn remind(
    facts: StateFacts<'_>,
    received_time: i64,
    now: i64,
) -> Result<Reminder, crate::ErrCode> {
    use crate::ErrCode;
    let shipment = match facts.shipment {
        Some(shipment) if facts.order_state(now) == 2 => shipment,
        _ => return Err(ErrCode::ORDER_NOT_SHIPPED),
    };
    if shipment.logistics_type != 1 {
        return Err(ErrCode::REMIND_NOT_COURIER);
    }
    if shipment.reminder.is_some() {
        return Err(ErrCode::REMINDER_USED);
    }
    if shipment.finished_at.is_none_or(|f| received_time <= f) || received_time > now {
        return Err(ErrCode::RECEIVED_TIME_ILLEGAL);
    }
    Ok(Reminder {
        received_time,
        at: now,
    })
}

/// Pre-sale's `delay_to` window (SPEC §10.11): after pay_time + 15 days, at most + 330.
pub const PRESALE_MIN_S: i64 = 15 * 86_400;
pub const PRESALE_MAX_S: i64 = 330 * 86_400;

/// opspecialorder's rules after the lookup (SPEC §10.11): the report to store, or the
/// errcode of the first rule broken. `kind` is already 1 or 2.
pub fn special_report(
    facts: StateFacts<'_>,
    pay_time: i64,
    kind: i64,
    delay_to: Option<i64>,
    now: i64,
) -> Result<Special, crate::ErrCode> {
    use crate::ErrCode;
    if facts.order_state(now) != 1 {
        return Err(ErrCode::SPECIAL_ORDER_NOT_FOUND);
    }
    if kind == 1
        && delay_to.is_none_or(|to| to <= pay_time + PRESALE_MIN_S || to > pay_time + PRESALE_MAX_S)
    {
        return Err(ErrCode::SPECIAL_DELAY_TO_ILLEGAL);
    }
    Ok(Special {
        kind,
        delay_to: if kind == 1 { delay_to } else { None },
    })
}

/// SPEC §10.6: what an upload does to the stored shipping, or the errcode of the first
/// state rule it breaks (nothing is stored then).
pub fn ship(
    stored: Option<&Shipment>,
    facts: StateFacts<'_>,
    upload: &ShippingUpload,
    upload_time: &crate::shopping::UploadTime,
    now: i64,
) -> Result<Shipment, crate::ErrCode> {
    use crate::ErrCode;
    let empty = Shipment {
        delivery_mode: upload.delivery_mode,
        logistics_type: upload.logistics_type,
        parcels: Vec::new(),
        finish_shipping: false,
        finish_shipping_count: 0,
        last_upload_nanos: i64::MIN,
        finished_at: None,
        confirmed_at: None,
        first_finished_at: None,
        reminder: None,
    };
    let current = stored.cloned().unwrap_or(empty);
    let same_kind = stored.is_some()
        && current.delivery_mode == upload.delivery_mode
        && current.logistics_type == upload.logistics_type;
    let completes_split = upload.delivery_mode == 2 && upload.is_all_delivered;
    let unchanged = same_kind
        && upload
            .parcels
            .iter()
            .all(|p| current.parcels.iter().any(|s| s.same_content(p)))
        && (!completes_split || current.finish_shipping);
    if unchanged {
        return Err(ErrCode::SHIPPING_NOT_UPDATED);
    }
    match facts.order_state(now) {
        5 => return Err(ErrCode::ORDER_NOT_SHIPPABLE),
        3 | 4 | 6 => return Err(ErrCode::ORDER_ALREADY_SHIPPED),
        _ => {}
    }
    if upload_time.unix_nanos() <= current.last_upload_nanos {
        return Err(ErrCode::UPLOAD_TIME_ILLEGAL);
    }
    let complete_upload = upload.delivery_mode == 1 || upload.is_all_delivered;
    let mut next = current.clone();
    next.last_upload_nanos = upload_time.unix_nanos();
    if current.finish_shipping {
        // A re-ship: it replaces everything, must be complete itself, and happens once.
        if current.finish_shipping_count >= 2 {
            return Err(ErrCode::RESHIP_USED);
        }
        if !complete_upload {
            return Err(ErrCode::ORDER_ALREADY_SHIPPED);
        }
        next.delivery_mode = upload.delivery_mode;
        next.logistics_type = upload.logistics_type;
        next.parcels = upload.parcels.clone();
        next.finish_shipping_count = 2;
        next.finished_at = Some(now);
    } else {
        if !same_kind {
            next.parcels.clear();
            next.delivery_mode = upload.delivery_mode;
            next.logistics_type = upload.logistics_type;
        }
        for parcel in &upload.parcels {
            match next.parcels.iter_mut().find(|s| s.same_identity(parcel)) {
                Some(stored) if stored.same_content(parcel) => {}
                Some(stored) => *stored = parcel.clone(),
                None => next.parcels.push(parcel.clone()),
            }
        }
        if complete_upload {
            next.finish_shipping = true;
            next.finish_shipping_count = 1;
            next.finished_at = Some(now);
            next.first_finished_at.get_or_insert(now);
        }
    }
    if next.parcels.len() > MAX_PARCELS {
        return Err(ErrCode::TOO_MANY_PARCELS);
    }
    Ok(next)
}

impl Shipment {
    /// The shipping as `get_order` shows it.
    pub fn shown(&self) -> ShippedOut {
        ShippedOut {
            delivery_mode: self.delivery_mode,
            logistics_type: self.logistics_type,
            finish_shipping: self.finish_shipping,
            goods_desc: String::new(),
            finish_shipping_count: self.finish_shipping_count,
            upload_scene: 2,
            shipping_list: self
                .parcels
                .iter()
                .map(|p| ParcelOut {
                    tracking_no: p.tracking_no.clone(),
                    express_company: p.express_company.clone(),
                    goods_desc: p.item_desc.clone(),
                    upload_time: p.upload_time,
                    contact: ParcelContactOut {
                        consignor_contact: p.consignor_contact.clone(),
                        receiver_contact: p.receiver_contact.clone(),
                    },
                })
                .collect(),
        }
    }

    /// `description`: the item_descs joined by `;`, cut to 117 characters + `...` past 120.
    pub fn description(&self) -> String {
        let joined = self
            .parcels
            .iter()
            .map(|p| p.item_desc.as_str())
            .collect::<Vec<_>>()
            .join(";");
        if joined.chars().count() > 120 {
            let cut: String = joined.chars().take(117).collect();
            format!("{cut}...")
        } else {
            joined
        }
    }
}

// ---- get_order_list (SPEC §10.7) ----------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
pub struct PayTimeRangeIn {
    /// Unix seconds, inclusive; absent or 0: from the start.
    #[schema(minimum = 0)]
    pub begin_time: Option<i64>,
    /// Unix seconds, inclusive; absent or 0: to 4294967295.
    #[schema(minimum = 0)]
    pub end_time: Option<i64>,
}

/// `POST /wxa/sec/order/get_order_list`: every filter optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct OrderListIn {
    pub pay_time_range: Option<PayTimeRangeIn>,
    /// 1–6, as of now; absent or 0: any.
    #[schema(minimum = 0, maximum = 6)]
    pub order_state: Option<i64>,
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    #[schema(max_length = 128)]
    pub openid: Option<String>,
    /// The previous answer's last_index: the next page.
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    pub last_index: Option<String>,
    /// Absent or 0: 100; at most 100.
    #[schema(minimum = 0)]
    pub page_size: Option<i64>,
}

/// What `get_order_list` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct OrderListOut {
    pub errcode: ErrCode,
    pub errmsg: String,
    /// Where the next page starts; an empty page echoes the request's (`""` at first).
    pub last_index: String,
    pub has_more: bool,
    pub order_list: Vec<OrderOut>,
}
