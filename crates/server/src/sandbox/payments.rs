//! Sandbox WeChat Pay: payments (single or combined), paying them (which associates the
//! matching uploads), the stored uploads as the payer's order view reads them, and the
//! sandbox clock.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use userorder_model::association::PaymentKeys;
use userorder_model::sandbox::{
    AdvanceIn, ClockOut, ComplaintIn, ConfirmReceiptIn, ConfirmReceiptOut, NewPaymentIn, OrderOut,
    OrdersOut, OrdersQuery, Payment, PaymentLookup, PaymentView, SecOrderView,
};
use userorder_model::sec_order::PaymentRef;
use userorder_model::validate::{OpenIdDecoder, out_trade_no_rule};
use userorder_store::payments::{Outcome, PaymentChange};
use userorder_store::{
    ChangeOutcome, Created, NewPayment, OrderChange, Refunded, StoreError, UploadFilter,
};

use super::{SandboxJson, SandboxQuery};
use crate::clock;
use crate::error::SandboxError;
use crate::routes::sec_order::order_out;
use crate::secrets::{DIGITS, LOWER_HEX, random_of};
use crate::state::AppState;

/// 28 digits (SPEC §11.8): `42000`, 5 random digits, the sandbox date in China
/// (Tenpay's order date), 10 random digits.
pub fn transaction_id(now: i64) -> String {
    format!(
        "42000{}{}{}",
        random_of(DIGITS, 5),
        userorder_model::pay_v3::records::china_digits(now, 8),
        random_of(DIGITS, 10)
    )
}

fn keys(
    mchid: String,
    out_trade_no: Option<String>,
    now: i64,
    field: &str,
) -> Result<PaymentKeys, SandboxError> {
    let out_trade_no = out_trade_no.unwrap_or_else(|| format!("uo{}", random_of(LOWER_HEX, 20)));
    out_trade_no_rule(&out_trade_no, field)
        .map_err(|r| SandboxError::BadRequest(r.message.into_owned()))?;
    Ok(PaymentKeys {
        transaction_id: transaction_id(now),
        mchid,
        out_trade_no,
    })
}

pub async fn create_payment(state: &AppState, raw: NewPaymentIn) -> Result<Payment, SandboxError> {
    let bad = |m: String| SandboxError::BadRequest(m);
    if state.store.app(&raw.appid).await?.is_none() {
        return Err(bad(format!("no app {}", raw.appid)));
    }
    if state.openids.decode(&raw.appid, &raw.openid).is_err() {
        return Err(bad(format!(
            "openid {} is not an openid of {}",
            raw.openid, raw.appid
        )));
    }
    if raw.amount <= 0 {
        return Err(bad("amount must be a positive number of fen".into()));
    }
    let subs = raw.sub_orders.unwrap_or_default();
    let mut mchids: Vec<&str> = vec![raw.mchid.as_str()];
    mchids.extend(subs.iter().map(|s| s.mchid.as_str()));
    if let Some(mchid) = state.store.first_unbound_mchid(&raw.appid, &mchids).await? {
        return Err(bad(format!(
            "merchant {mchid} is not bound to {}",
            raw.appid
        )));
    }
    if !subs.is_empty() {
        let sum: i64 = subs.iter().map(|s| s.amount).sum();
        if subs.iter().any(|s| s.amount <= 0) || sum != raw.amount {
            return Err(bad(format!(
                "sub_orders amounts must be positive and add up to amount ({sum} != {})",
                raw.amount
            )));
        }
    }
    let now = clock::now(state.store.as_ref()).await?;
    let keys_ = keys(raw.mchid, raw.out_trade_no, now, "out_trade_no")?;
    let mut sub_payments = Vec::with_capacity(subs.len());
    let mut seen = HashSet::from([(keys_.mchid.clone(), keys_.out_trade_no.clone())]);
    for (i, sub) in subs.into_iter().enumerate() {
        let sub_keys = keys(
            sub.mchid,
            sub.out_trade_no,
            now,
            &format!("sub_orders[{i}].out_trade_no"),
        )?;
        if !seen.insert((sub_keys.mchid.clone(), sub_keys.out_trade_no.clone())) {
            return Err(bad(format!(
                "sub_orders[{i}] repeats a mchid + out_trade_no of this payment"
            )));
        }
        sub_payments.push((sub_keys, sub.amount));
    }
    let new = NewPayment {
        appid: raw.appid,
        openid: raw.openid,
        keys: keys_,
        amount: raw.amount,
        sub_payments,
        created_at: now,
        excluded_from_shipping: raw.excluded_from_shipping,
        v3: None,
    };
    if state.store.create_payment(&new).await? == Created::Conflict {
        return Err(SandboxError::Conflict(
            "a payment with this mchid + out_trade_no exists".into(),
        ));
    }
    state
        .store
        .payment(&new.keys.transaction_id)
        .await?
        .ok_or_else(|| SandboxError::NotFound("the payment vanished".into()))
}

/// The payer pays without a paySign (SPEC §11.8): 409 unless NOTPAY and unexpired, and
/// for a sub-order.
pub async fn pay(state: &AppState, transaction_id: &str) -> Result<Payment, SandboxError> {
    let now = clock::now(state.store.as_ref()).await?;
    if state.store.payment(transaction_id).await?.is_none() {
        let key = userorder_model::shopping::OrderKey::WxPay {
            transaction_id: transaction_id.to_owned(),
        };
        return Err(match state.store.payment_any(&key).await? {
            Some(_) => SandboxError::Conflict(format!(
                "{transaction_id} is a sub-order: pay its combined payment"
            )),
            None => SandboxError::NotFound(format!("no payment {transaction_id}")),
        });
    }
    let changed = state
        .store
        .change_payment(transaction_id, &PaymentChange::Pay, now)
        .await?;
    match changed {
        Some((Outcome::Done, payment)) => {
            state.events.wake();
            Ok(payment)
        }
        Some((_, payment)) => Err(SandboxError::Conflict(format!(
            "payment {transaction_id} is {}{}; only an unexpired NOTPAY payment can be paid",
            payment.state,
            match payment.state.as_str() {
                "NOTPAY" => " past its time_expire",
                _ => "",
            }
        ))),
        None => Err(SandboxError::NotFound(format!(
            "no payment {transaction_id}"
        ))),
    }
}

/// Refunds a paid payment (SPEC §10.12, §11.13): order shipping management then shows
/// state 5; the Shopping Order family still treats it as paid. A v3 payment gets a v3 refund
/// of what remains (`REFUND.SUCCESS` to the merchant's refund_notify_url); any other is
/// refunded whole with its sub-payments.
pub async fn post_refund(
    State(state): State<AppState>,
    Path(transaction_id): Path<String>,
) -> Result<Json<Payment>, SandboxError> {
    let now = clock::now(state.store.as_ref()).await?;
    state.store.settle_refunds(now).await?;
    let payment = state.store.payment(&transaction_id).await?;
    if let Some(payment) = payment.filter(|p| p.v3.is_some()) {
        // A v3 payment: each order (the payment, or each sub-order of a combined one) gets a
        // v3 refund of what remains, from its own merchant.
        let orders: Vec<(String, String)> = match payment.sub_orders.is_empty() {
            true => vec![(transaction_id.clone(), payment.keys.mchid.clone())],
            false => payment
                .sub_orders
                .iter()
                .map(|s| (s.keys.transaction_id.clone(), s.keys.mchid.clone()))
                .collect(),
        };
        let mut refunded = false;
        for (order, mchid) in orders {
            let notify_url = state
                .store
                .apiv3(&mchid)
                .await?
                .and_then(|c| c.refunds.refund_notify_url);
            let change = PaymentChange::RefundRemainder {
                refund_id: crate::pay_v3::refunds::refund_id(now),
                notify_url,
            };
            let changed = state.store.change_payment(&order, &change, now).await?;
            refunded |= matches!(changed, Some((Outcome::Refund(_), _)));
        }
        if !refunded {
            return Err(SandboxError::Conflict(format!(
                "payment {transaction_id} is {}; only a paid payment with an amount left can be refunded",
                payment.state
            )));
        }
        state.events.wake();
        return state
            .store
            .payment(&transaction_id)
            .await?
            .map(Json)
            .ok_or_else(|| SandboxError::NotFound(format!("no payment {transaction_id}")));
    }
    match state.store.refund(&transaction_id, now).await? {
        Refunded::Refunded(payment) => Ok(Json(*payment)),
        Refunded::NotPaid(payment_state) => Err(SandboxError::Conflict(format!(
            "payment {transaction_id} is {payment_state}; only a SUCCESS payment can be refunded"
        ))),
        Refunded::NoSuchPayment => Err(SandboxError::NotFound(format!(
            "no payment {transaction_id}"
        ))),
    }
}

/// The payer confirms receipt (SPEC §10.12): `success` moves a shipped order to state 3
/// now; `fail` for another openid; `cancel` unless the order is shipped.
pub async fn post_confirm_receipt(
    State(state): State<AppState>,
    Path(transaction_id): Path<String>,
    SandboxJson(raw): SandboxJson<ConfirmReceiptIn>,
) -> Result<Json<ConfirmReceiptOut>, SandboxError> {
    let change = OrderChange::ConfirmReceipt { openid: raw.openid };
    match change_order(&state, &transaction_id, &change).await? {
        ChangeOutcome::Confirm(status) => Ok(Json(ConfirmReceiptOut { status })),
        other => Err(StoreError::Corrupt(format!("confirm-receipt answered {other:?}")).into()),
    }
}

/// The payer opens or closes a complaint (SPEC §10.12): while one is open after receipt,
/// the order waits in state 6 and settlement with it. Idempotent; 409 once refunded.
pub async fn put_complaint(
    State(state): State<AppState>,
    Path(transaction_id): Path<String>,
    SandboxJson(raw): SandboxJson<ComplaintIn>,
) -> Result<Json<PaymentView>, SandboxError> {
    let open = raw
        .open
        .ok_or_else(|| SandboxError::BadRequest("open is required (true or false)".into()))?;
    match change_order(&state, &transaction_id, &OrderChange::Complaint { open }).await? {
        ChangeOutcome::Refunded => Err(SandboxError::Conflict(format!(
            "payment {transaction_id} is refunded"
        ))),
        _ => payment_view(&state, &transaction_id).await.map(Json),
    }
}

/// A payer's change to the order of a payment, under the order's lock; 404 when the
/// payment is not an order (now).
async fn change_order(
    state: &AppState,
    transaction_id: &str,
    change: &OrderChange,
) -> Result<ChangeOutcome, SandboxError> {
    let now = clock::now(state.store.as_ref()).await?;
    let key = PaymentRef::Transaction(transaction_id.to_owned());
    let (outcome, _) = state
        .store
        .change_order(None, &key, change, now)
        .await?
        .ok_or_else(|| {
            SandboxError::NotFound(format!(
                "payment {transaction_id} is not an order of order shipping management"
            ))
        })?;
    Ok(outcome)
}

/// A payment with what order shipping management holds of it (SPEC §10.12).
pub async fn payment_view(
    state: &AppState,
    transaction_id: &str,
) -> Result<PaymentView, SandboxError> {
    let payment = state
        .store
        .payment(transaction_id)
        .await?
        .ok_or_else(|| SandboxError::NotFound(format!("no payment {transaction_id}")))?;
    let is_order = matches!(payment.state.as_str(), "SUCCESS" | "REFUND")
        && !payment.excluded_from_shipping
        && payment.sub_orders.is_empty();
    let sec_order = if is_order {
        let now = clock::now(state.store.as_ref()).await?;
        let app = state.store.app(&payment.appid).await?;
        let key = PaymentRef::Transaction(transaction_id.to_owned());
        let found = state.store.order(&payment.appid, &key, now).await?;
        let (trade, msg_jump_path) = app.map(|a| (a.trade, a.msg_jump_path)).unwrap_or_default();
        // Not yet known to the API: only when it will be.
        let mut view = SecOrderView {
            visible_at: payment.visible_at,
            order: None,
            special: None,
            reminder: None,
            complaints: Vec::new(),
            msg_jump_path,
        };
        if let Some((order, shipment)) = found {
            view.special = order.special;
            view.reminder = shipment.as_ref().and_then(|s| s.reminder);
            view.complaints = order.complaints.clone();
            view.order = Some(order_out(order, shipment.as_ref(), &trade, now));
        }
        Some(view)
    } else {
        None
    };
    Ok(PaymentView { payment, sec_order })
}

/// A payment by `mchid` + `out_trade_no`, or by `prepay_id` (SPEC §11.13); its refund
/// outcomes due by now applied first.
pub async fn get_payment_lookup(
    State(state): State<AppState>,
    SandboxQuery(q): SandboxQuery<PaymentLookup>,
) -> Result<Json<PaymentView>, SandboxError> {
    let now = clock::now(state.store.as_ref()).await?;
    state.store.settle_refunds(now).await?;
    let found = match (q.prepay_id, q.mchid, q.out_trade_no) {
        (Some(prepay_id), _, _) => state.store.payment_by_prepay(&prepay_id).await?,
        (None, Some(mchid), Some(out_trade_no)) => {
            let key = userorder_model::shopping::OrderKey::Merchant {
                mchid,
                out_trade_no,
            };
            state.store.payment_for_key(&key).await?
        }
        _ => {
            return Err(SandboxError::BadRequest(
                "give prepay_id, or mchid and out_trade_no".into(),
            ));
        }
    };
    let payment = found.ok_or_else(|| SandboxError::NotFound("no such payment".into()))?;
    payment_view(&state, &payment.keys.transaction_id)
        .await
        .map(Json)
}

pub async fn post_payment(
    State(state): State<AppState>,
    SandboxJson(raw): SandboxJson<NewPaymentIn>,
) -> Result<(StatusCode, Json<Payment>), SandboxError> {
    Ok((
        StatusCode::CREATED,
        Json(create_payment(&state, raw).await?),
    ))
}

pub async fn get_payment(
    State(state): State<AppState>,
    Path(transaction_id): Path<String>,
) -> Result<Json<PaymentView>, SandboxError> {
    payment_view(&state, &transaction_id).await.map(Json)
}

pub async fn post_pay(
    State(state): State<AppState>,
    Path(transaction_id): Path<String>,
) -> Result<Json<Payment>, SandboxError> {
    Ok(Json(pay(&state, &transaction_id).await?))
}

pub async fn get_orders(
    State(state): State<AppState>,
    SandboxQuery(q): SandboxQuery<OrdersQuery>,
) -> Result<Json<OrdersOut>, SandboxError> {
    let filter = UploadFilter {
        appid: q.appid.clone(),
        openid: q.openid.clone(),
        associated_only: false,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let mut orders = Vec::new();
    for stored in state.store.shopping_infos(&filter).await? {
        let shipping = state
            .store
            .shipping_info(&stored.appid, &stored.info.order_key)
            .await?;
        let (versions, shipping_versions) = if q.history == Some(true) {
            let key = &stored.info.order_key;
            let versions = state
                .store
                .shopping_info_versions(&stored.appid, key)
                .await?;
            let shipping_versions = state
                .store
                .shipping_info_versions(&stored.appid, key)
                .await?;
            (Some(versions), Some(shipping_versions))
        } else {
            (None, None)
        };
        orders.push(OrderOut {
            stored,
            shipping,
            versions,
            shipping_versions,
        });
    }
    Ok(Json(OrdersOut { orders }))
}

async fn clock_body(state: &AppState) -> Result<Json<ClockOut>, SandboxError> {
    let offset = state.store.clock_offset().await?;
    let now = clock::real_now() + offset;
    Ok(Json(ClockOut {
        now: clock::rfc3339(now),
        unix: now,
        offset_seconds: offset,
    }))
}

pub async fn get_clock(State(state): State<AppState>) -> Result<Json<ClockOut>, SandboxError> {
    clock_body(&state).await
}

/// The clock only moves forward: time-based rules (expiry, grace, quotas) assume it.
pub async fn post_clock_advance(
    State(state): State<AppState>,
    SandboxJson(raw): SandboxJson<AdvanceIn>,
) -> Result<Json<ClockOut>, SandboxError> {
    if !(1..=10 * 365 * 86_400).contains(&raw.seconds) {
        return Err(SandboxError::BadRequest(
            "seconds must be 1 to 315360000".into(),
        ));
    }
    state.store.advance_clock(raw.seconds).await?;
    // What became due in the jump is recorded before the answer (SPEC §10.13).
    state.events.sweep().await?;
    clock_body(&state).await
}
