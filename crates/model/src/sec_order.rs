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

/// A checked PaymentRef.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentRef {
    Transaction(String),
    Merchant { mchid: String, out_trade_no: String },
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
