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
