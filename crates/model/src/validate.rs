//! The rules of SPEC §4–§6, in the spec's order: a wire struct (`*In`) becomes a domain
//! value or the first `Rejection`. Everything a rule needs from outside (who calls, how to
//! decode an openid) comes in through `Acting`; the merchant and state checks that need the
//! store happen afterwards, in the server.

use std::collections::HashSet;
use std::fmt::Display;

use crate::errcode::{ErrCode, Rejection};
use crate::shipping::{Contact, DeliveryMode, OrderShipping, Shipping, ShippingInfo};
use crate::shopping::{
    Details, Item, JumpLink, LogisticsType, Order, OrderKey, OrderNumberType, Payer, ShoppingInfo,
    SubOrder, UploadTime,
};
use crate::wire::{
    ContactIn, EnumIn, ItemIn, JumpLinkIn, OrderKeyIn, PayerIn, ShippingIn, SubOrderIn,
    UploadCombinedShippingInfoIn, UploadCombinedShoppingInfoIn, UploadShippingInfoIn,
    UploadShoppingInfoIn, VerifyIn,
};

/// Orders in `order_list`, sub-orders in `sub_orders`, items in `item_list`.
pub const MAX_ORDERS: usize = 50;
pub const MAX_ITEMS: usize = 50;
pub const MAX_IMAGES: usize = 3;

/// Why an openid does not decode under the calling app (SPEC §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecodable;

/// Turns an openid into the user id it encodes, for one app. The server's codec checks the
/// authentication tag; a client-side pre-validator may only check the shape.
pub trait OpenIdDecoder: Send + Sync {
    fn decode(&self, appid: &str, openid: &str) -> Result<u64, Undecodable>;
}

/// Who is uploading: the acting appid (the authorizer's for a third-party call) and how to
/// decode its openids.
pub struct Acting<'a> {
    pub appid: &'a str,
    pub openids: &'a dyn OpenIdDecoder,
}

/// `POST /user-order/orders`.
pub fn upload_shopping_info(
    raw: UploadShoppingInfoIn,
    caller: &Acting<'_>,
) -> Result<ShoppingInfo, Rejection> {
    let order_key = order_key(raw.order_key, "order_key")?;
    let payer = payer(raw.payer, caller)?;
    let upload_time = upload_time(raw.upload_time)?;
    let logistics_type = logistics_type(raw.logistics_type.as_ref(), "logistics_type")?;
    let raw_orders = list_within(raw.order_list, "order_list", MAX_ORDERS)?;
    let mut order_list = Vec::with_capacity(raw_orders.len());
    for (i, raw) in raw_orders.into_iter().enumerate() {
        let path = format!("order_list[{i}]");
        let merchant_order_no = merchant_order_no(raw.merchant_order_no, &path)?;
        let link = order_detail_jump_link(raw.order_detail_jump_link, &path, caller)?;
        let item_list = item_list(raw.item_list, &path)?;
        order_list.push(Order {
            merchant_order_no,
            order_detail_jump_link: link,
            item_list,
        });
    }
    Ok(ShoppingInfo {
        order_key,
        payer,
        upload_time,
        details: Details::Single {
            order_list,
            logistics_type,
        },
    })
}

/// `POST /user-order/combine-orders`.
pub fn upload_combined_shopping_info(
    raw: UploadCombinedShoppingInfoIn,
    caller: &Acting<'_>,
) -> Result<ShoppingInfo, Rejection> {
    let master = order_key(raw.order_key, "order_key")?;
    let payer = payer(raw.payer, caller)?;
    let upload_time = upload_time(raw.upload_time)?;
    let raw_subs = list_within(raw.sub_orders, "sub_orders", MAX_ORDERS)?;
    let mut seen: HashSet<OrderKey> = HashSet::from([master.clone()]);
    let mut sub_orders = Vec::with_capacity(raw_subs.len());
    for (i, mut raw) in raw_subs.into_iter().enumerate() {
        let path = format!("sub_orders[{i}]");
        let key = sub_order_key(raw.order_key.take(), master.number_type(), &path)?;
        if !seen.insert(key.clone()) {
            return Err(Rejection::invalid(
                format!("{path}.order_key"),
                format!("({key}) appears twice in this combined order"),
            ));
        }
        let sub = sub_order(raw, key, &path, caller)?;
        sub_orders.push(sub);
    }
    Ok(ShoppingInfo {
        order_key: master,
        payer,
        upload_time,
        details: Details::Combined { sub_orders },
    })
}

/// A sub-order whose key has been checked already.
fn sub_order(
    raw: SubOrderIn,
    order_key: OrderKey,
    path: &str,
    caller: &Acting<'_>,
) -> Result<SubOrder, Rejection> {
    let merchant_order_no = merchant_order_no(raw.merchant_order_no, path)?;
    let link = order_detail_jump_link(raw.order_detail_jump_link, path, caller)?;
    let item_list = item_list(raw.item_list, path)?;
    let logistics_type = logistics_type(
        raw.logistics_type.as_ref(),
        &format!("{path}.logistics_type"),
    )?;
    Ok(SubOrder {
        order_key,
        merchant_order_no,
        order_detail_jump_link: link,
        item_list,
        logistics_type,
    })
}

/// Parcels per shipping upload, and items per parcel (SPEC §6.1).
pub const MAX_SHIPPINGS: usize = 10;
pub const MAX_PARCEL_ITEMS: usize = 50;

/// `POST /user-order/orders/shippings`.
pub fn upload_shipping_info(
    raw: UploadShippingInfoIn,
    caller: &Acting<'_>,
) -> Result<ShippingInfo, Rejection> {
    let order_key = order_key(raw.order_key, "order_key")?;
    let payer = optional_payer(raw.payer, caller)?;
    let upload_time = upload_time(raw.upload_time)?;
    let order = order_shipping(None, raw.delivery_mode.as_ref(), raw.shipping_list, "")?;
    Ok(ShippingInfo {
        order_key,
        payer,
        upload_time,
        combined: false,
        orders: vec![order],
    })
}

/// `POST /user-order/combine-orders/shippings`.
pub fn upload_combined_shipping_info(
    raw: UploadCombinedShippingInfoIn,
    caller: &Acting<'_>,
) -> Result<ShippingInfo, Rejection> {
    let master = order_key(raw.order_key, "order_key")?;
    let payer = optional_payer(raw.payer, caller)?;
    let upload_time = upload_time(raw.upload_time)?;
    let raw_subs = list_within(raw.sub_orders, "sub_orders", MAX_ORDERS)?;
    let mut seen: HashSet<OrderKey> = HashSet::from([master.clone()]);
    let mut orders = Vec::with_capacity(raw_subs.len());
    for (i, raw) in raw_subs.into_iter().enumerate() {
        let path = format!("sub_orders[{i}]");
        let key = sub_order_key(raw.order_key, master.number_type(), &path)?;
        if !seen.insert(key.clone()) {
            return Err(Rejection::invalid(
                format!("{path}.order_key"),
                format!("({key}) appears twice in this combined order"),
            ));
        }
        let prefix = format!("{path}.");
        orders.push(order_shipping(
            Some(key),
            raw.delivery_mode.as_ref(),
            raw.shipping_list,
            &prefix,
        )?);
    }
    Ok(ShippingInfo {
        order_key: master,
        payer,
        upload_time,
        combined: true,
        orders,
    })
}

/// `POST /user-order/shoppinginfo/verify`: the key and payer to look up.
pub fn verify(raw: VerifyIn, caller: &Acting<'_>) -> Result<(OrderKey, Payer), Rejection> {
    let key = order_key(raw.order_key, "order_key")?;
    let payer = payer(raw.payer, caller)?;
    Ok((key, payer))
}

/// `prefix` is `""` or `"sub_orders[i]."`, so paths read like the request.
fn order_shipping(
    order_key: Option<OrderKey>,
    mode: Option<&EnumIn>,
    shipping_list: Option<Vec<ShippingIn>>,
    prefix: &str,
) -> Result<OrderShipping, Rejection> {
    let delivery_mode = match enum_index(mode, &["UNIFIED_DELIVERY", "SPLIT_DELIVERY"]) {
        Some(Ok(1)) => DeliveryMode::UnifiedDelivery,
        Some(Ok(2)) => DeliveryMode::SplitDelivery,
        _ => {
            return Err(Rejection::at(
                ErrCode::ILLEGAL_DELIVERY_MODE,
                format!("{prefix}delivery_mode"),
            ));
        }
    };
    let raw_list = shipping_list.unwrap_or_default();
    let list_path = format!("{prefix}shipping_list");
    if delivery_mode == DeliveryMode::UnifiedDelivery && raw_list.len() != 1 {
        return Err(Rejection::at(
            ErrCode::UNIFIED_NEEDS_ONE_SHIPPING,
            &list_path,
        ));
    }
    if raw_list.is_empty() || raw_list.len() > MAX_SHIPPINGS {
        return Err(Rejection::invalid(
            &list_path,
            format!(
                "has {} entries, must have 1 to {MAX_SHIPPINGS}",
                raw_list.len()
            ),
        ));
    }
    let mut shipping_list = Vec::with_capacity(raw_list.len());
    for (i, raw) in raw_list.into_iter().enumerate() {
        let path = format!("{list_path}[{i}]");
        let parcel = shipping(raw, &path)?;
        if delivery_mode == DeliveryMode::SplitDelivery && parcel.item_list.is_empty() {
            return Err(Rejection::invalid(
                format!("{path}.item_list"),
                "is empty; in SPLIT_DELIVERY every parcel lists its merchant_item_id",
            ));
        }
        shipping_list.push(parcel);
    }
    Ok(OrderShipping {
        order_key,
        delivery_mode,
        shipping_list,
    })
}

fn shipping(raw: ShippingIn, path: &str) -> Result<Shipping, Rejection> {
    let tracking_path = format!("{path}.tracking_no");
    let tracking_no = required(raw.tracking_no, ErrCode::TRACKING_NO_EMPTY, &tracking_path)?;
    if tracking_no.len() > 128 {
        return Err(Rejection::at(
            ErrCode::TRACKING_NO_EMPTY,
            format!("{tracking_path} is over 128 bytes"),
        ));
    }
    let company_path = format!("{path}.express_company");
    let express_company = required(
        raw.express_company,
        ErrCode::EXPRESS_COMPANY_EMPTY,
        &company_path,
    )?;
    if express_company.len() > 128 {
        return Err(Rejection::at(
            ErrCode::EXPRESS_COMPANY_EMPTY,
            format!("{company_path} is over 128 bytes"),
        ));
    }
    let raw_items = raw.item_list.unwrap_or_default();
    if raw_items.len() > MAX_PARCEL_ITEMS {
        return Err(Rejection::invalid(
            format!("{path}.item_list"),
            format!(
                "has {} entries, at most {MAX_PARCEL_ITEMS}",
                raw_items.len()
            ),
        ));
    }
    let mut item_list = Vec::with_capacity(raw_items.len());
    for (i, item) in raw_items.into_iter().enumerate() {
        let id_path = format!("{path}.item_list[{i}].merchant_item_id");
        let id = item.merchant_item_id.unwrap_or_default();
        bytes_within(&id, 1, 64, &id_path)?;
        item_list.push(id);
    }
    let contact = raw.contact.map(|c| contact(c, path)).transpose()?;
    Ok(Shipping {
        tracking_no,
        express_company,
        item_list,
        contact,
    })
}

fn contact(raw: ContactIn, path: &str) -> Result<Contact, Rejection> {
    for (name, value) in [
        ("consignor_contact", &raw.consignor_contact),
        ("receiver_contact", &raw.receiver_contact),
    ] {
        if let Some(value) = value {
            bytes_within(value, 1, 1024, format!("{path}.contact.{name}"))?;
        }
    }
    Ok(Contact {
        consignor_contact: raw.consignor_contact,
        receiver_contact: raw.receiver_contact,
    })
}

fn optional_payer(raw: Option<PayerIn>, caller: &Acting<'_>) -> Result<Option<Payer>, Rejection> {
    raw.map(|p| payer(Some(p), caller)).transpose()
}

// ---- keys -------------------------------------------------------------------------------

fn number_type(raw: Option<&EnumIn>, path: &str) -> Result<OrderNumberType, Rejection> {
    match enum_index(raw, &["MERCHANT_TRADE_NUMBER", "WXPAY_TRADE_NUMBER"]) {
        Some(Ok(1)) => Ok(OrderNumberType::Merchant),
        Some(Ok(2)) => Ok(OrderNumberType::WxPay),
        _ => Err(Rejection::at(
            ErrCode::ILLEGAL_ORDER_NUMBER_TYPE,
            format!("{path}.order_number_type"),
        )),
    }
}

/// A master `order_key`: type, the fields that type needs, then their limits.
pub fn order_key(raw: Option<OrderKeyIn>, path: &str) -> Result<OrderKey, Rejection> {
    let raw = raw.unwrap_or_default();
    let kind = number_type(raw.order_number_type.as_ref(), path)?;
    key_of_type(raw, kind, path)
}

fn sub_order_key(
    raw: Option<OrderKeyIn>,
    master: OrderNumberType,
    path: &str,
) -> Result<OrderKey, Rejection> {
    let raw = raw.unwrap_or_default();
    let path = format!("{path}.order_key");
    let kind = number_type(raw.order_number_type.as_ref(), &path)?;
    if kind != master {
        return Err(Rejection::at(ErrCode::SUB_ORDER_TYPE_DIFFERS, &path));
    }
    key_of_type(raw, kind, &path)
}

fn key_of_type(raw: OrderKeyIn, kind: OrderNumberType, path: &str) -> Result<OrderKey, Rejection> {
    match kind {
        OrderNumberType::WxPay => {
            let transaction_id = required(
                raw.transaction_id,
                ErrCode::TRANSACTION_ID_REQUIRED,
                &format!("{path}.transaction_id"),
            )?;
            bytes_within(&transaction_id, 1, 32, format!("{path}.transaction_id"))?;
            Ok(OrderKey::WxPay { transaction_id })
        }
        OrderNumberType::Merchant => {
            let mchid = required(raw.mchid, ErrCode::MCHID_REQUIRED, &format!("{path}.mchid"))?;
            let out_trade_no = required(
                raw.out_trade_no,
                ErrCode::OUT_TRADE_NO_REQUIRED,
                &format!("{path}.out_trade_no"),
            )?;
            bytes_within(&mchid, 1, 32, format!("{path}.mchid"))?;
            out_trade_no_rule(&out_trade_no, &format!("{path}.out_trade_no"))?;
            Ok(OrderKey::Merchant {
                mchid,
                out_trade_no,
            })
        }
    }
}

/// 1–32 bytes of `[0-9A-Za-z_\-*]` (WeChat Pay's out_trade_no alphabet).
pub fn out_trade_no_rule(value: &str, path: &str) -> Result<(), Rejection> {
    bytes_within(value, 1, 32, path)?;
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*')))
    {
        return Err(Rejection::invalid(
            path,
            format!("contains {bad:?}; only 0-9 A-Z a-z _ - * are allowed"),
        ));
    }
    Ok(())
}

// ---- payer and time ---------------------------------------------------------------------

fn payer(raw: Option<PayerIn>, caller: &Acting<'_>) -> Result<Payer, Rejection> {
    let openid = raw.and_then(|p| p.openid).unwrap_or_default();
    if openid.is_empty() {
        return Err(Rejection::at(ErrCode::PAYER_OPENID_EMPTY, "payer.openid"));
    }
    match caller.openids.decode(caller.appid, &openid) {
        Err(Undecodable) => Err(Rejection::at(ErrCode::OPENID_UNDECODABLE, "payer.openid")),
        Ok(0) => Err(Rejection::at(ErrCode::OPENID_ZERO, "payer.openid")),
        Ok(_) => Ok(Payer { openid }),
    }
}

/// Absent → 268485214; anything but a full RFC 3339 timestamp with offset → 268485216.
pub fn upload_time(raw: Option<String>) -> Result<UploadTime, Rejection> {
    let text = raw.ok_or_else(|| Rejection::new(ErrCode::UPLOAD_TIME_NOT_SET))?;
    UploadTime::parse(&text).ok_or_else(|| Rejection::new(ErrCode::UPLOAD_TIME_ILLEGAL))
}

// ---- orders, links and items ------------------------------------------------------------

fn merchant_order_no(raw: Option<String>, path: &str) -> Result<String, Rejection> {
    let path = format!("{path}.merchant_order_no");
    let value = required(raw, ErrCode::MERCHANT_ORDER_NO_EMPTY, &path)?;
    bytes_within(&value, 1, 64, &path)?;
    Ok(value)
}

/// Presence, limits, then the rule that a Mini Program link names the calling app.
fn order_detail_jump_link(
    raw: Option<JumpLinkIn>,
    path: &str,
    caller: &Acting<'_>,
) -> Result<JumpLink, Rejection> {
    let path = format!("{path}.order_detail_jump_link");
    let raw = raw.ok_or_else(|| Rejection::at(ErrCode::ILLEGAL_LINK_TYPE, &path))?;
    let link = jump_link(raw, &path)?;
    jump_link_limits(&link, &path)?;
    if let JumpLink::MiniProgram { appid, .. } = &link
        && appid != caller.appid
    {
        return Err(Rejection::invalid(
            format!("{path}.appid"),
            format!(
                "is {appid}; an order's Mini Program link must name the calling appid {}",
                caller.appid
            ),
        ));
    }
    Ok(link)
}

/// The presence rules of a link: type, then the fields that type needs.
fn jump_link(raw: JumpLinkIn, path: &str) -> Result<JumpLink, Rejection> {
    match enum_index(raw.link_type.as_ref(), &["MINI_PROGRAM", "URL"]) {
        Some(Ok(1)) => Ok(JumpLink::MiniProgram {
            appid: required(
                raw.appid,
                ErrCode::LINK_APPID_EMPTY,
                &format!("{path}.appid"),
            )?,
            path: required(raw.path, ErrCode::LINK_PATH_EMPTY, &format!("{path}.path"))?,
        }),
        Some(Ok(2)) => Ok(JumpLink::Url {
            url: required(raw.url, ErrCode::LINK_URL_EMPTY, &format!("{path}.url"))?,
        }),
        _ => Err(Rejection::at(
            ErrCode::ILLEGAL_LINK_TYPE,
            format!("{path}.type"),
        )),
    }
}

fn jump_link_limits(link: &JumpLink, path: &str) -> Result<(), Rejection> {
    match link {
        JumpLink::MiniProgram { appid, path: p } => {
            bytes_within(appid, 1, 32, format!("{path}.appid"))?;
            bytes_within(p, 1, 512, format!("{path}.path"))
        }
        JumpLink::Url { url } => http_url(url, 1024, &format!("{path}.url")),
    }
}

fn item_list(raw: Option<Vec<ItemIn>>, path: &str) -> Result<Vec<Item>, Rejection> {
    let path = format!("{path}.item_list");
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        return Err(Rejection::at(ErrCode::ITEM_LIST_EMPTY, &path));
    }
    if raw.len() > MAX_ITEMS {
        return Err(Rejection::invalid(
            &path,
            format!("has {} entries, at most {MAX_ITEMS}", raw.len()),
        ));
    }
    let with_id = raw.iter().filter(|i| i.merchant_item_id.is_some()).count();
    if with_id != 0 && with_id != raw.len() {
        return Err(Rejection::at(ErrCode::MERCHANT_ITEM_ID_ALL_OR_NONE, &path));
    }
    let mut ids = HashSet::new();
    for (i, item) in raw.iter().enumerate() {
        if let Some(id) = &item.merchant_item_id
            && !ids.insert(id.as_str())
        {
            return Err(Rejection::invalid(
                format!("{path}[{i}].merchant_item_id"),
                format!("{id:?} is used by another item of this order"),
            ));
        }
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, raw)| item(raw, &format!("{path}[{i}]")))
        .collect()
}

/// Presence rules in the spec's order first, then every limit.
fn item(raw: ItemIn, path: &str) -> Result<Item, Rejection> {
    let name = required(raw.name, ErrCode::ITEM_NAME_EMPTY, &format!("{path}.name"))?;
    let unit_price = raw.unit_price.ok_or_else(|| {
        Rejection::at(ErrCode::ITEM_UNIT_PRICE_EMPTY, format!("{path}.unit_price"))
    })?;
    let quantity = match raw.quantity {
        None | Some(0) => {
            return Err(Rejection::at(
                ErrCode::ITEM_QUANTITY_EMPTY,
                format!("{path}.quantity"),
            ));
        }
        Some(q) => q,
    };
    let image_url = match raw.image_url {
        Some(urls) if !urls.is_empty() => urls,
        _ => {
            return Err(Rejection::at(
                ErrCode::ITEM_IMAGE_URL_EMPTY,
                format!("{path}.image_url"),
            ));
        }
    };
    let link_path = format!("{path}.item_detail_jump_link");
    let raw_link = raw
        .item_detail_jump_link
        .ok_or_else(|| Rejection::at(ErrCode::ITEM_DETAIL_JUMP_LINK_EMPTY, &link_path))?;
    let link = jump_link(raw_link, &link_path)?;

    chars_within(&name, 1, 256, &format!("{path}.name"))?;
    if let Some(description) = &raw.description {
        chars_within(description, 0, 512, &format!("{path}.description"))?;
    }
    if unit_price < 0 {
        return Err(Rejection::invalid(
            format!("{path}.unit_price"),
            format!("is {unit_price}; must not be negative"),
        ));
    }
    if quantity < 0 {
        return Err(Rejection::invalid(
            format!("{path}.quantity"),
            format!("is {quantity}; must be positive"),
        ));
    }
    if image_url.len() > MAX_IMAGES {
        return Err(Rejection::invalid(
            format!("{path}.image_url"),
            format!("has {} entries, at most {MAX_IMAGES}", image_url.len()),
        ));
    }
    for (i, url) in image_url.iter().enumerate() {
        http_url(url, 1024, &format!("{path}.image_url[{i}]"))?;
    }
    if let Some(id) = &raw.merchant_item_id {
        bytes_within(id, 1, 64, format!("{path}.merchant_item_id"))?;
    }
    jump_link_limits(&link, &link_path)?;
    Ok(Item {
        merchant_item_id: raw.merchant_item_id,
        name,
        description: raw.description,
        unit_price,
        quantity,
        image_url,
        item_detail_jump_link: link,
    })
}

fn logistics_type(raw: Option<&EnumIn>, path: &str) -> Result<LogisticsType, Rejection> {
    const NAMES: [&str; 3] = [
        "PHYSICAL_LOGISTICS",
        "LOCATION_BASED_LOGISTICS",
        "VIRTUAL_GOODS",
    ];
    match enum_index(raw, &NAMES) {
        None => Ok(LogisticsType::default()),
        Some(Ok(1)) => Ok(LogisticsType::PhysicalLogistics),
        Some(Ok(2)) => Ok(LogisticsType::LocationBasedLogistics),
        Some(Ok(3)) => Ok(LogisticsType::VirtualGoods),
        Some(_) => Err(Rejection::invalid(
            path,
            "is illegal, must be 1..3 or PHYSICAL_LOGISTICS, LOCATION_BASED_LOGISTICS, VIRTUAL_GOODS",
        )),
    }
}

// ---- small rules, each coded once -------------------------------------------------------

/// An enum field: `None` when absent, `Some(Ok(n))` with n = 1.. for a known integer or
/// name, `Some(Err(()))` for anything else.
pub fn enum_index(raw: Option<&EnumIn>, names: &[&str]) -> Option<Result<usize, ()>> {
    let value = &raw?.0;
    // null and "" are absent (SPEC §10.15 point 3).
    if value.is_null() || value.as_str() == Some("") {
        return None;
    }
    let index = if let Some(n) = value.as_i64() {
        usize::try_from(n)
            .ok()
            .filter(|n| (1..=names.len()).contains(n))
    } else if let Some(name) = value.as_str() {
        names.iter().position(|known| *known == name).map(|i| i + 1)
    } else {
        None
    };
    Some(index.ok_or(()))
}

/// A required string: absent or empty answers `code`, naming the field.
fn required(raw: Option<String>, code: ErrCode, path: &str) -> Result<String, Rejection> {
    match raw {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(Rejection::at(code, path)),
    }
}

fn list_within<T>(raw: Option<Vec<T>>, path: &str, max: usize) -> Result<Vec<T>, Rejection> {
    let list = raw.unwrap_or_default();
    if list.is_empty() || list.len() > max {
        return Err(Rejection::invalid(
            path,
            format!("has {} entries, must have 1 to {max}", list.len()),
        ));
    }
    Ok(list)
}

pub fn bytes_within(
    value: &str,
    min: usize,
    max: usize,
    path: impl Display,
) -> Result<(), Rejection> {
    let n = value.len();
    if n < min || n > max {
        return Err(Rejection::invalid(
            path,
            format!("is {n} bytes, must be {min} to {max}"),
        ));
    }
    Ok(())
}

fn chars_within(value: &str, min: usize, max: usize, path: &str) -> Result<(), Rejection> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(Rejection::invalid(
            path,
            format!("is {n} characters, must be {min} to {max}"),
        ));
    }
    Ok(())
}

/// `http(s)://host…`, at most `max` bytes, no whitespace or control characters.
fn http_url(value: &str, max: usize, path: &str) -> Result<(), Rejection> {
    bytes_within(value, 1, max, path)?;
    let lower = value
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let rest = if lower.starts_with("https://") {
        &value[8..]
    } else if lower.starts_with("http://") {
        &value[7..]
    } else {
        return Err(Rejection::invalid(
            path,
            "must start with http:// or https://",
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        return Err(Rejection::invalid(path, "has no host"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Rejection::invalid(path, "must not contain whitespace"));
    }
    Ok(())
}
