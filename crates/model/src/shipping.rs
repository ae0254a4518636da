//! Shipping details (SPEC §6.1), validated: what the payer's bill shows as logistics.

use serde::{Deserialize, Serialize};

use crate::shopping::{OrderKey, Payer, UploadTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryMode {
    /// 1: everything in one parcel.
    UnifiedDelivery,
    /// 2: several parcels, each listing its items.
    SplitDelivery,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub consignor_contact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub receiver_contact: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shipping {
    pub tracking_no: String,
    pub express_company: String,
    /// The `merchant_item_id`s in this parcel (split delivery).
    #[serde(default)]
    pub item_list: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub contact: Option<Contact>,
}

/// The shipping of one order: a single payment, or one sub-order of a combined payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderShipping {
    /// `None` for a single upload (the master key applies).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub order_key: Option<OrderKey>,
    pub delivery_mode: DeliveryMode,
    pub shipping_list: Vec<Shipping>,
}

/// A validated shipping upload, single (one entry in `orders`, no key) or combined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShippingInfo {
    pub order_key: OrderKey,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub payer: Option<Payer>,
    #[schema(value_type = String)]
    pub upload_time: UploadTime,
    pub combined: bool,
    pub orders: Vec<OrderShipping>,
}
