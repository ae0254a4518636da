//! Order shipping management (`/wxa/sec/order/*`, SPEC §10): an order by its PaymentRef,
//! and the app-level calls — the confirm-receipt page, whether the app is under trade
//! management, and the carriers.
//! Each handler's `Caller<…>` states its gate and which platforms may call (SPEC §10.1).

use axum::Json;
use axum::extract::State;
use userorder_model::sandbox::TradeManagement;
use userorder_model::sec_order::{
    AppidIn, CARRIERS, ConfirmationCompletedOut, DeliveryListIn, DeliveryListOut, DeliveryOut,
    GetOrderOut, IsTradeManagedOut, NotifyConfirmReceiveIn, OpSpecialOrderIn, OrderListIn,
    OrderListOut, OrderOut, OrderShippingOut, PaymentRef, PaymentRefIn, SetMsgJumpPathIn, Shipment,
    SpecialRequest, UploadCombinedShippingIn, UploadShippingIn, combined_shipping_request,
    known_payment, notify_request, payment_ref, shipping_request, special_request,
};
use userorder_model::shopping::OrderKey;
use userorder_model::wire::EnvelopeOut;
use userorder_model::{ErrCode, Rejection};
use userorder_store::{App, ChangeOutcome, OrderChange, OrderListFilter, PaymentOrder, ShipOrders};

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
    let (order, shipment) = state
        .store
        .order(&caller.app.appid, &key, caller.now)
        .await?
        .ok_or(ErrCode::PAYMENT_NOT_FOUND)?;
    Ok(Json(GetOrderOut {
        errcode: ErrCode::OK,
        errmsg: "ok".into(),
        order: order_out(order, shipment.as_ref(), &caller.app.trade, caller.now),
    }))
}

/// An order as the API shows it at `now`: its state computed from the stored moments and
/// the sandbox clock (SPEC §10.6), its shipping `{}` until the first upload.
pub fn order_out(
    order: PaymentOrder,
    shipment: Option<&Shipment>,
    trade: &TradeManagement,
    now: i64,
) -> OrderOut {
    let facts = order.facts(shipment, trade);
    let (order_state, in_complaint) = (facts.order_state(now), facts.in_complaint(now));
    OrderOut {
        order_state,
        transaction_id: order.keys.transaction_id,
        merchant_id: order.keys.mchid,
        sub_merchant_id: "0".into(),
        merchant_trade_no: order.keys.out_trade_no,
        description: shipment.map(Shipment::description).unwrap_or_default(),
        paid_amount: order.amount,
        openid: order.openid,
        trade_create_time: order.created_at,
        pay_time: order.paid_at,
        in_complaint,
        shipping: OrderShippingOut {
            shipped: shipment.map(Shipment::shown),
        },
    }
}

/// `notify_confirm_receive` (SPEC §10.8): the PaymentRef, the signed-for time, the lookup,
/// then the reminder's rules under the order's lock; once per order.
pub async fn notify_confirm_receive(
    State(state): State<AppState>,
    caller: Caller<SecOrder>,
    WeChatBody(body): WeChatBody<NotifyConfirmReceiveIn>,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let (key, received_time) = notify_request(body)?;
    let change = OrderChange::Remind { received_time };
    changed(
        &state,
        &caller.app.appid,
        &key,
        &change,
        caller.now,
        ErrCode::PAYMENT_NOT_FOUND,
    )
    .await
}

/// `opspecialorder` (SPEC §10.11): the type, then the order (still to ship), then the
/// pre-sale's delay_to; a new report replaces the last.
pub async fn opspecialorder(
    State(state): State<AppState>,
    caller: Caller<SecOrder>,
    WeChatBody(body): WeChatBody<OpSpecialOrderIn>,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let SpecialRequest {
        order_id,
        kind,
        delay_to,
    } = special_request(body)?;
    let change = OrderChange::Special { kind, delay_to };
    let key = PaymentRef::OrderId(order_id);
    changed(
        &state,
        &caller.app.appid,
        &key,
        &change,
        caller.now,
        ErrCode::SPECIAL_ORDER_NOT_FOUND,
    )
    .await
}

/// Applies a change to the order `key` names; `missing` when it names none.
async fn changed(
    state: &AppState,
    appid: &str,
    key: &PaymentRef,
    change: &OrderChange,
    now: i64,
    missing: ErrCode,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let (outcome, _) = state
        .store
        .change_order(Some(appid), key, change, now)
        .await?
        .ok_or(missing)?;
    match outcome {
        ChangeOutcome::Refused(code) => Err(match code {
            ErrCode::RECEIVED_TIME_ILLEGAL => Rejection::at(code, "received_time"),
            ErrCode::SPECIAL_DELAY_TO_ILLEGAL => Rejection::at(code, "delay_to"),
            ErrCode::SPECIAL_ORDER_NOT_FOUND => Rejection::at(code, "order_id"),
            _ => Rejection::new(code),
        }
        .into()),
        _ => Ok(Json(EnvelopeOut::ok())),
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
    let (order, _) = state
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
    state.events.wake(); // the upload may have recorded a settlement event
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
    state.events.wake(); // the upload may have recorded a settlement event
    Ok(Json(EnvelopeOut::ok()))
}

/// Rows read from the store per round while filling a page.
const LIST_BATCH: i64 = 256;

/// `get_order_list` (SPEC §10.7): the app's orders matching every filter (order_state as
/// of now), by (pay_time, transaction_id) ascending — stable while payments arrive — with an
/// authenticated cursor.
pub async fn get_order_list(
    State(state): State<AppState>,
    caller: Caller<SecOrderNoPlatform>,
    WeChatBody(body): WeChatBody<OrderListIn>,
) -> Result<Json<OrderListOut>, ApiError> {
    let range = body.pay_time_range.unwrap_or_default();
    for (name, value) in [
        ("pay_time_range.begin_time", range.begin_time),
        ("pay_time_range.end_time", range.end_time),
    ] {
        if let Some(v) = value.filter(|v| *v < 0) {
            return Err(
                Rejection::sec_invalid(name, format!("is {v}; must not be negative")).into(),
            );
        }
    }
    let wanted_state = match body.order_state {
        None | Some(0) => None,
        Some(s @ 1..=6) => Some(s),
        Some(s) => {
            return Err(
                Rejection::sec_invalid("order_state", format!("is {s}; must be 1 to 6")).into(),
            );
        }
    };
    if let Some(openid) = &body.openid
        && openid.len() > 128
    {
        return Err(Rejection::sec_invalid(
            "openid",
            format!("is {} bytes, at most 128", openid.len()),
        )
        .into());
    }
    let page_size = match body.page_size {
        Some(n) if n < 0 => {
            return Err(Rejection::sec_invalid(
                "page_size",
                format!("is {n}; must not be negative"),
            )
            .into());
        }
        None | Some(0) => 100,
        Some(n) => n.min(100),
    } as usize;
    let appid = &caller.app.appid;
    let cursor = match &body.last_index {
        None => None,
        Some(index) => Some(
            cursor::read(&state.session_key, appid, index)
                .ok_or_else(|| Rejection::at(ErrCode::LAST_INDEX_ILLEGAL, "last_index"))?,
        ),
    };
    let mut filter = OrderListFilter {
        appid: appid.clone(),
        paid_from: range.begin_time.unwrap_or(0),
        paid_to: range.end_time.filter(|t| *t != 0).unwrap_or(4_294_967_295),
        openid: body.openid.clone(),
        after: cursor,
        now: caller.now,
        limit: LIST_BATCH,
    };
    // One more than a page, to know whether there is more.
    let mut found = Vec::with_capacity(page_size + 1);
    while found.len() <= page_size {
        let page = state.store.orders_page(&filter).await?;
        for (order, shipment) in page.orders {
            let order_state = order
                .facts(shipment.as_ref(), &caller.app.trade)
                .order_state(caller.now);
            if wanted_state.is_none_or(|s| s == order_state) {
                found.push((order, shipment));
            }
        }
        match page.last {
            Some(last) => filter.after = Some(last),
            None => break, // read to the end
        }
    }
    let has_more = found.len() > page_size;
    found.truncate(page_size);
    let last_index = match found.last() {
        Some((order, _)) => cursor::write(
            &state.session_key,
            appid,
            order.paid_at,
            &order.keys.transaction_id,
        ),
        None => body.last_index.unwrap_or_default(),
    };
    Ok(Json(OrderListOut {
        errcode: ErrCode::OK,
        errmsg: "ok".into(),
        last_index,
        has_more,
        order_list: found
            .into_iter()
            .map(|(order, shipment)| {
                order_out(order, shipment.as_ref(), &caller.app.trade, caller.now)
            })
            .collect(),
    }))
}

/// get_order_list's `last_index`: the position after the last order returned, as lowercase
/// hex, signed for the app it was issued to.
mod cursor {
    use crate::secrets::{hex, mac, same};

    const MAC_HEX: usize = 32;

    fn signature(key: &[u8; 32], appid: &str, payload: &str) -> String {
        let mut full = mac(key, &format!("last_index:{appid}:{payload}"));
        full.truncate(MAC_HEX);
        full
    }

    pub fn write(key: &[u8; 32], appid: &str, paid_at: i64, transaction_id: &str) -> String {
        let payload = format!("{paid_at}:{transaction_id}");
        format!(
            "{}{}",
            hex(payload.as_bytes()),
            signature(key, appid, &payload)
        )
    }

    /// The position, or `None` for an index that is malformed or another app's.
    pub fn read(key: &[u8; 32], appid: &str, index: &str) -> Option<(i64, String)> {
        let split = index.len().checked_sub(MAC_HEX)?;
        let (body, signed) = (index.get(..split)?, index.get(split..)?);
        if body.len() % 2 != 0
            || !index
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let bytes: Vec<u8> = (0..body.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&body[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .ok()?;
        let payload = String::from_utf8(bytes).ok()?;
        if !same(
            signature(key, appid, &payload).as_bytes(),
            signed.as_bytes(),
        ) {
            return None;
        }
        let (paid_at, transaction_id) = payload.split_once(':')?;
        Some((paid_at.parse().ok()?, transaction_id.to_owned()))
    }
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
