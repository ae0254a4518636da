//! Shipping uploads (SPEC §6.1) and verify (SPEC §6.2). Field rules live in
//! `model::validate`; here are the rules that need what is stored: the shopping details
//! exist under the same key form, the payment is complete, split parcels name uploaded items.

use axum::Json;
use axum::extract::State;
use userorder_model::association::VerifyResult;
use userorder_model::shipping::{DeliveryMode, ShippingInfo};
use userorder_model::shopping::{Details, Item, OrderKey, OrderNumberType};
use userorder_model::validate;
use userorder_model::wire::{
    EnvelopeOut, UploadCombinedShippingInfoIn, UploadShippingInfoIn, VerifyIn, VerifyOut,
};
use userorder_model::{ErrCode, Rejection};
use userorder_store::StoredInfo;

use super::shopping::{acting, saved_answer};
use crate::error::ApiError;
use crate::extract::needs::{Shipping, Shopping};
use crate::extract::{Caller, WeChatBody};
use crate::state::AppState;

pub async fn upload_shipping_info(
    State(state): State<AppState>,
    caller: Caller<Shipping>,
    WeChatBody(body): WeChatBody<UploadShippingInfoIn>,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let info = validate::upload_shipping_info(body, &acting(&state, &caller))?;
    save(&state, &caller, &info).await
}

pub async fn upload_combined_shipping_info(
    State(state): State<AppState>,
    caller: Caller<Shipping>,
    WeChatBody(body): WeChatBody<UploadCombinedShippingInfoIn>,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let info = validate::upload_combined_shipping_info(body, &acting(&state, &caller))?;
    save(&state, &caller, &info).await
}

fn invalid(reason: String) -> ApiError {
    Rejection::invalid_because(reason).into()
}

fn type_name(kind: OrderNumberType) -> &'static str {
    match kind {
        OrderNumberType::Merchant => "MERCHANT_TRADE_NUMBER",
        OrderNumberType::WxPay => "WXPAY_TRADE_NUMBER",
    }
}

/// The shopping details a shipping upload refers to, or why there are none.
async fn shopping_details(
    state: &AppState,
    appid: &str,
    key: &OrderKey,
) -> Result<StoredInfo, ApiError> {
    if let Some(stored) = state.store.shopping_info(appid, key).await? {
        return Ok(stored);
    }
    if let Some(payment) = state.store.payment_for_key(key).await? {
        let other = match key.number_type() {
            OrderNumberType::Merchant => OrderNumberType::WxPay,
            OrderNumberType::WxPay => OrderNumberType::Merchant,
        };
        if state
            .store
            .shopping_info(appid, &payment.keys.key(other))
            .await?
            .is_some()
        {
            return Err(invalid(format!(
                "order_key is a {} key but the shopping details were uploaded with a {} key; use the same key type",
                type_name(key.number_type()),
                type_name(other)
            )));
        }
    }
    Err(invalid(format!(
        "no shopping details were uploaded for order_key ({key}); upload them before the shipping"
    )))
}

async fn save(
    state: &AppState,
    caller: &Caller<Shipping>,
    info: &ShippingInfo,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let appid = &caller.app.appid;
    let stored = shopping_details(state, appid, &info.order_key).await?;
    if stored.info.is_combined() != info.combined {
        let (endpoint, kind) = if stored.info.is_combined() {
            ("/user-order/combine-orders/shippings", "combined")
        } else {
            ("/user-order/orders/shippings", "single")
        };
        return Err(invalid(format!(
            "order_key ({}) names a {kind} order; upload its shipping to {endpoint}",
            info.order_key
        )));
    }
    let paid = state
        .store
        .payment_for_key(&info.order_key)
        .await?
        .is_some_and(|p| p.is_paid());
    if !paid {
        return Err(invalid(format!(
            "the payment of order_key ({}) is not complete; shipping can be uploaded once it is paid",
            info.order_key
        )));
    }
    if let Some(payer) = &info.payer
        && payer.openid != stored.info.payer.openid
    {
        return Err(invalid(
            "payer.openid differs from the payer of the shopping details".into(),
        ));
    }
    for (i, order) in info.orders.iter().enumerate() {
        let prefix = if info.combined {
            format!("sub_orders[{i}].")
        } else {
            String::new()
        };
        let items =
            uploaded_items(&stored.info.details, order.order_key.as_ref()).ok_or_else(|| {
                invalid(format!(
                    "{prefix}order_key is not a sub-order of this combined order"
                ))
            })?;
        if order.delivery_mode != DeliveryMode::SplitDelivery {
            continue;
        }
        for (j, parcel) in order.shipping_list.iter().enumerate() {
            for (k, id) in parcel.item_list.iter().enumerate() {
                if !items
                    .iter()
                    .any(|item| item.merchant_item_id.as_ref() == Some(id))
                {
                    return Err(invalid(format!(
                        "{prefix}shipping_list[{j}].item_list[{k}].merchant_item_id {id:?} was not uploaded with the order's shopping details"
                    )));
                }
            }
        }
    }
    saved_answer(
        state
            .store
            .save_shipping_info(appid, info, caller.now)
            .await?,
    )
}

/// The items uploaded for the order a shipping entry names: every order of a single
/// upload, or the named sub-order of a combined one.
fn uploaded_items<'a>(details: &'a Details, sub_key: Option<&OrderKey>) -> Option<Vec<&'a Item>> {
    match (details, sub_key) {
        (Details::Single { order_list, .. }, None) => {
            Some(order_list.iter().flat_map(|o| o.item_list.iter()).collect())
        }
        (Details::Combined { sub_orders }, Some(key)) => sub_orders
            .iter()
            .find(|s| &s.order_key == key)
            .map(|s| s.item_list.iter().collect()),
        _ => None,
    }
}

pub async fn verify(
    State(state): State<AppState>,
    caller: Caller<Shopping>,
    WeChatBody(body): WeChatBody<VerifyIn>,
) -> Result<Json<VerifyOut>, ApiError> {
    let (key, payer) = validate::verify(body, &acting(&state, &caller))?;
    let result = match state.store.shopping_info(&caller.app.appid, &key).await? {
        None => VerifyResult::NotUploaded,
        Some(stored) if stored.info.payer != payer => VerifyResult::PayerMismatch,
        Some(stored) => stored.verify_result,
    };
    Ok(Json(VerifyOut {
        errcode: ErrCode::OK,
        errmsg: "ok".into(),
        verify_result: result,
    }))
}
