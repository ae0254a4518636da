//! Domain types of the shopping details: values that passed every rule of SPEC §4–§5.
//! Cross-field rules are enum shapes (a merchant key without mchid cannot be built).
//! They serialize to the canonical wire form (enums by name), which is also valid input,
//! so what the store keeps can be sent again as-is.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The paid order an upload refers to (SPEC §4 OrderKey).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "order_number_type")]
pub enum OrderKey {
    #[serde(rename = "MERCHANT_TRADE_NUMBER")]
    Merchant { mchid: String, out_trade_no: String },
    #[serde(rename = "WXPAY_TRADE_NUMBER")]
    WxPay { transaction_id: String },
}

impl OrderKey {
    pub fn number_type(&self) -> OrderNumberType {
        match self {
            Self::Merchant { .. } => OrderNumberType::Merchant,
            Self::WxPay { .. } => OrderNumberType::WxPay,
        }
    }

    /// The mchid a merchant key names, for the merchant check (SPEC §5.3).
    pub fn mchid(&self) -> Option<&str> {
        match self {
            Self::Merchant { mchid, .. } => Some(mchid),
            Self::WxPay { .. } => None,
        }
    }
}

impl std::fmt::Display for OrderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Merchant {
                mchid,
                out_trade_no,
            } => write!(f, "mchid {mchid} out_trade_no {out_trade_no}"),
            Self::WxPay { transaction_id } => write!(f, "transaction_id {transaction_id}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderNumberType {
    /// 1: mchid + out_trade_no.
    Merchant,
    /// 2: transaction_id.
    WxPay,
}

/// Where a link leads (SPEC §4 JumpLink). **Decision:** 1 = MINI_PROGRAM, 2 = URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type")]
pub enum JumpLink {
    #[serde(rename = "MINI_PROGRAM")]
    MiniProgram { appid: String, path: String },
    #[serde(rename = "URL")]
    Url { url: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogisticsType {
    /// 1: courier; the default when absent.
    #[default]
    PhysicalLogistics,
    /// 2: same-city delivery.
    LocationBasedLogistics,
    /// 3: nothing is delivered.
    VirtualGoods,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub merchant_item_id: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    /// Fen; 0 is a gift.
    pub unit_price: i64,
    pub quantity: i64,
    pub image_url: Vec<String>,
    pub item_detail_jump_link: JumpLink,
}

impl Item {
    /// unit_price × quantity in fen; i128 so that no accepted input can overflow.
    pub fn line_total(&self) -> i128 {
        i128::from(self.unit_price) * i128::from(self.quantity)
    }
}

/// An entry of `order_list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub merchant_order_no: String,
    pub order_detail_jump_link: JumpLink,
    pub item_list: Vec<Item>,
}

/// An entry of `sub_orders`: its own key (same number type as the master) and an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubOrder {
    pub order_key: OrderKey,
    pub merchant_order_no: String,
    pub order_detail_jump_link: JumpLink,
    pub item_list: Vec<Item>,
    pub logistics_type: LogisticsType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payer {
    pub openid: String,
}

/// An RFC 3339 timestamp with offset, kept as sent and as Unix nanoseconds for ordering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct UploadTime {
    text: String,
    unix_nanos: i64,
}

impl UploadTime {
    /// `None` when the text is not a full RFC 3339 timestamp inside i64 nanoseconds.
    pub fn parse(text: &str) -> Option<Self> {
        // RFC 3339 lets applications agree on a space instead of `T`; WeChat's format
        // does not, and neither does this project.
        if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
            return None;
        }
        let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        let unix_nanos = i64::try_from(at.unix_timestamp_nanos()).ok()?;
        Some(Self {
            text: text.to_owned(),
            unix_nanos,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A time whose text is written differently from RFC 3339 but means `unix_nanos`.
    pub fn with_text(text: String, unix_nanos: i64) -> Self {
        Self { text, unix_nanos }
    }

    /// The instant, for ordering uploads (the text may use any offset).
    pub fn unix_nanos(&self) -> i64 {
        self.unix_nanos
    }
}

impl TryFrom<String> for UploadTime {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("not an RFC 3339 timestamp: {text}"))
    }
}

impl From<UploadTime> for String {
    fn from(t: UploadTime) -> String {
        t.text
    }
}

/// What an upload describes: one payment's orders, or a combined payment's sub-orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Details {
    Single {
        order_list: Vec<Order>,
        logistics_type: LogisticsType,
    },
    Combined {
        sub_orders: Vec<SubOrder>,
    },
}

/// A validated shopping-details upload, single or combined (SPEC §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShoppingInfo {
    pub order_key: OrderKey,
    pub payer: Payer,
    #[schema(value_type = String)]
    pub upload_time: UploadTime,
    #[serde(flatten)]
    pub details: Details,
}

impl ShoppingInfo {
    pub fn is_combined(&self) -> bool {
        matches!(self.details, Details::Combined { .. })
    }

    /// The sub-order keys of a combined upload (empty for a single one).
    pub fn sub_order_keys(&self) -> Vec<&OrderKey> {
        match &self.details {
            Details::Single { .. } => Vec::new(),
            Details::Combined { sub_orders } => sub_orders.iter().map(|s| &s.order_key).collect(),
        }
    }

    /// Every key the upload names (master first), for the merchant check.
    pub fn all_keys(&self) -> impl Iterator<Item = &OrderKey> {
        std::iter::once(&self.order_key).chain(self.sub_order_keys())
    }

    /// Sum of every line in fen.
    pub fn total_fen(&self) -> i128 {
        let items: Box<dyn Iterator<Item = &Item>> = match &self.details {
            Details::Single { order_list, .. } => {
                Box::new(order_list.iter().flat_map(|o| o.item_list.iter()))
            }
            Details::Combined { sub_orders } => {
                Box::new(sub_orders.iter().flat_map(|o| o.item_list.iter()))
            }
        };
        items.map(Item::line_total).sum()
    }
}
