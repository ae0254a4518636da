//! Order shipping management (`/wxa/sec/order/*`, SPEC §10): an order by its PaymentRef,
//! and the app-level calls — the confirm-receipt page, whether the app is under trade
//! management, and the carriers.
//! Each handler's `Caller<…>` states its gate and which platforms may call (SPEC §10.1).

use axum::Json;
use axum::extract::State;
use userorder_model::sandbox::TradeManagement;
use userorder_model::sec_order::{
    AppidIn, CARRIERS, ConfirmationCompletedOut, DeliveryListIn, DeliveryListOut, DeliveryOut,
    GetOrderOut, IsTradeManagedOut, OrderOut, OrderShippingOut, PaymentRef, PaymentRefIn,
    SetMsgJumpPathIn, Shipment, StateFacts, UploadCombinedShippingIn, UploadShippingIn,
    combined_shipping_request, known_payment, payment_ref, shipping_request,
};
use userorder_model::shopping::OrderKey;
use userorder_model::wire::EnvelopeOut;
use userorder_model::{ErrCode, Rejection};
use userorder_store::{App, PaymentOrder, ShipOrders};

use crate::error::ApiError;
use crate::extract::needs::{DeliveryList, SecOrder, SecOrderNoPlatform, TradeQuery};
use crate::extract::{Caller, WeChatBody};
use crate::state::AppState;

/// `get_order` (SPEC §10.7): the order a PaymentRef names, as of the sandbox clock.
pub async fn get_order(
    State(state): State<AppState>,
    caller: Caller<SecOrder>,
    WeChatBody(body): WeChatBody<PaymentRefIn>,
) -> Result<Json<GetOrderOut>, ApiError> {
    let key = payment_ref(body)?;
    let order = state
        .store
        .order(&caller.app.appid, &key, caller.now)
        .await?
        .ok_or(ErrCode::PAYMENT_NOT_FOUND)?;
    let shipment = state.store.shipment(&order.keys.transaction_id).await?;
    Ok(Json(GetOrderOut {
        errcode: ErrCode::OK,
        errmsg: "ok".into(),
        order: order_out(order, shipment.as_ref(), &caller.app.trade, caller.now),
    }))
}

/// An order as the API shows it at `now`: its state computed from the stored moments and
/// the sandbox clock (SPEC §10.6), its shipping `{}` until the first upload.
fn order_out(
    order: PaymentOrder,
    shipment: Option<&Shipment>,
    trade: &TradeManagement,
    now: i64,
) -> OrderOut {
    let facts = StateFacts {
        shipment,
        refunded_at: order.refunded_at,
        settings: trade,
    };
    OrderOut {
        order_state: facts.order_state(now),
        transaction_id: order.keys.transaction_id,
        merchant_id: order.keys.mchid,
        sub_merchant_id: "0".into(),
        merchant_trade_no: order.keys.out_trade_no,
        description: shipment.map(Shipment::description).unwrap_or_default(),
        paid_amount: order.amount,
        openid: order.openid,
        trade_create_time: order.created_at,
        pay_time: order.paid_at,
        in_complaint: false,
        shipping: OrderShippingOut {
            shipped: shipment.map(Shipment::shown),
        },
    }
}

/// `upload_shipping_info` (SPEC §10.4): the body's rules in order, the lookup, the payer,
/// then the state rules, atomically in the store.
pub async fn upload_shipping_info(
    State(state): State<AppState>,
    caller: Caller<SecOrder>,
    WeChatBody(body): WeChatBody<UploadShippingIn>,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let request = shipping_request(body)?;
    let key = match request.order_key {
        OrderKey::WxPay { transaction_id } => PaymentRef::Transaction(transaction_id),
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => PaymentRef::Merchant {
            mchid,
            out_trade_no,
        },
    };
    let order = state
        .store
        .order(&caller.app.appid, &key, caller.now)
        .await?
        .ok_or(ErrCode::PAYMENT_NOT_FOUND)?;
    if order.openid != request.openid {
        return Err(Rejection::at(ErrCode::PAYER_NOT_THE_ORDERS, "payer.openid").into());
    }
    state
        .store
        .ship(&ShipOrders {
            appid: caller.app.appid.clone(),
            orders: vec![(order.keys.transaction_id, request.upload)],
            upload_time: request.upload_time,
            now: caller.now,
        })
        .await?
        .map_err(Rejection::new)?;
    Ok(Json(EnvelopeOut::ok()))
}

/// `upload_combined_shipping_info` (SPEC §10.5): the body's rules in order, the combined
/// payment, its payer, that every sub-order is one of its own; then all sub-orders under
/// the state rules at once (unchanged ones skipped), or none.
pub async fn upload_combined_shipping_info(
    State(state): State<AppState>,
    caller: Caller<SecOrder>,
    WeChatBody(body): WeChatBody<UploadCombinedShippingIn>,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let request = combined_shipping_request(body)?;
    let master = state
        .store
        .payment_for_key(&request.order_key)
        .await?
        .filter(|p| {
            p.appid == caller.app.appid
                && !p.sub_orders.is_empty()
                && known_payment(&p.state, p.excluded_from_shipping, p.visible_at, caller.now)
        })
        .ok_or(ErrCode::PAYMENT_NOT_FOUND)?;
    if master.openid != request.openid {
        return Err(Rejection::at(ErrCode::PAYER_NOT_THE_ORDERS, "payer.openid").into());
    }
    let kind = request.order_key.number_type();
    let mut orders = Vec::with_capacity(request.sub_orders.len());
    for (i, (key, upload)) in request.sub_orders.into_iter().enumerate() {
        let sub = master
            .sub_orders
            .iter()
            .find(|s| s.keys.key(kind) == key)
            .ok_or_else(|| {
                Rejection::sec_invalid(
                    format!("sub_orders[{i}].order_key"),
                    format!("({key}) is not a sub-order of this combined payment"),
                )
            })?;
        orders.push((sub.keys.transaction_id.clone(), upload));
    }
    state
        .store
        .ship(&ShipOrders {
            appid: caller.app.appid.clone(),
            orders,
            upload_time: request.upload_time,
            now: caller.now,
        })
        .await?
        .map_err(Rejection::new)?;
    Ok(Json(EnvelopeOut::ok()))
}

/// The longest confirm-receipt path, in bytes.
const MAX_PATH_BYTES: usize = 512;

/// `set_msg_jump_path` (SPEC §10.9): one page per app; absent clears it.
pub async fn set_msg_jump_path(
    State(state): State<AppState>,
    caller: Caller<SecOrderNoPlatform>,
    WeChatBody(body): WeChatBody<SetMsgJumpPathIn>,
) -> Result<Json<EnvelopeOut>, ApiError> {
    if let Some(path) = &body.path
        && path.len() > MAX_PATH_BYTES
    {
        return Err(Rejection::sec_invalid(
            "path",
            format!("is {} bytes, at most {MAX_PATH_BYTES}", path.len()),
        )
        .into());
    }
    state
        .store
        .set_msg_jump_path(&caller.app.appid, body.path.as_deref())
        .await?;
    Ok(Json(EnvelopeOut::ok()))
}

/// The body's appid, which must be the caller's own (SPEC §10.10): 40097, then 40013.
fn own_app(body: AppidIn, app: &App) -> Result<(), ApiError> {
    let appid = body
        .appid
        .ok_or_else(|| Rejection::at(ErrCode::INVALID_ARGS, "appid"))?;
    if appid != app.appid {
        return Err(Rejection::at(ErrCode::INVALID_APPID, "appid").into());
    }
    Ok(())
}

/// `is_trade_managed`.
pub async fn is_trade_managed(
    caller: Caller<TradeQuery>,
    WeChatBody(body): WeChatBody<AppidIn>,
) -> Result<Json<IsTradeManagedOut>, ApiError> {
    own_app(body, &caller.app)?;
    Ok(Json(IsTradeManagedOut {
        errcode: ErrCode::OK,
        errmsg: "ok".into(),
        is_trade_managed: caller.app.trade.trade_managed,
    }))
}

/// `is_trade_management_confirmation_completed`.
pub async fn is_trade_management_confirmation_completed(
    caller: Caller<TradeQuery>,
    WeChatBody(body): WeChatBody<AppidIn>,
) -> Result<Json<ConfirmationCompletedOut>, ApiError> {
    own_app(body, &caller.app)?;
    Ok(Json(ConfirmationCompletedOut {
        errcode: ErrCode::OK,
        errmsg: "ok".into(),
        completed: caller.app.trade.confirmation_completed,
    }))
}

/// `get_delivery_list` (SPEC §10.12): any JSON object; the carriers in table order.
pub async fn get_delivery_list(
    _: Caller<DeliveryList>,
    WeChatBody(_): WeChatBody<DeliveryListIn>,
) -> Json<DeliveryListOut> {
    let delivery_list: Vec<DeliveryOut> = CARRIERS
        .iter()
        .map(|(id, name)| DeliveryOut {
            delivery_id: (*id).to_owned(),
            delivery_name: (*name).to_owned(),
        })
        .collect();
    Json(DeliveryListOut {
        errcode: ErrCode::OK,
        count: delivery_list.len(),
        delivery_list,
    })
}
