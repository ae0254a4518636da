//! Order shipping management on the pages (SPEC §10.12): an order's state, shipping,
//! reminder, report and complaints as one card — on the payer's bill with a **Confirm
//! receipt** button (the payer's own action), and on the console with the order's events.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use userorder_model::sandbox::{Event, PaymentView, SecOrderView};
use userorder_model::sec_order::PaymentRef;
use userorder_store::{ChangeOutcome, EventFilter, OrderChange};

use super::{PageError, Payer, unix_time};
use crate::clock;
use crate::sandbox::payments::payment_view;
use crate::state::AppState;

/// `order_state`'s names (SPEC §10.6).
pub fn state_name(state: i64) -> &'static str {
    match state {
        1 => "待发货 to ship",
        2 => "已发货 shipped",
        3 => "确认收货 receipt confirmed",
        4 => "交易完成 completed",
        5 => "已退款 refunded",
        6 => "资金待结算 pending settlement",
        _ => "?",
    }
}

/// The orders of order shipping management a payment stands for: itself, or a combined
/// payment's sub-payments.
pub async fn views_of(
    state: &AppState,
    payment: &userorder_store::Payment,
) -> Result<Vec<PaymentView>, PageError> {
    let ids: Vec<&str> = if payment.sub_orders.is_empty() {
        vec![payment.keys.transaction_id.as_str()]
    } else {
        payment
            .sub_orders
            .iter()
            .map(|s| s.keys.transaction_id.as_str())
            .collect()
    };
    let mut views = Vec::with_capacity(ids.len());
    for id in ids {
        match payment_view(state, id).await {
            Ok(view) => views.push(view),
            Err(crate::error::SandboxError::Store(e)) => return Err(PageError::Store(e)),
            Err(_) => {}
        }
    }
    Ok(views)
}

/// One order's card. `confirm_back`: where the Confirm receipt form returns to (the bill);
/// `None` shows no button (the console).
pub fn order_card(view: &PaymentView, confirm_back: Option<&str>) -> Markup {
    let txid = &view.payment.keys.transaction_id;
    html! {
        div.card.sec-order data-transaction-id=(txid) {
            h2 { "发货信息 Shipping · " span.muted { (txid) } }
            @match &view.sec_order {
                None => { p.muted { "Not an order of order shipping management (unpaid, excluded, or a combined payment's master)." } }
                Some(sec) => { (sec_card(txid, sec, confirm_back)) }
            }
        }
    }
}

fn sec_card(txid: &str, sec: &SecOrderView, confirm_back: Option<&str>) -> Markup {
    html! {
        @match &sec.order {
            None => {
                p.muted { "WeChat learns of this payment at "
                    @if let Some(at) = sec.visible_at { (unix_time(at)) } @else { "—" } "." }
            }
            Some(order) => {
                div.row {
                    span.badge data-testid="order-state" data-state=(order.order_state) { (order.order_state) " " (state_name(order.order_state)) }
                    @if order.in_complaint { span.badge.warn { "投诉中 in complaint" } }
                }
                @match &order.shipping.shipped {
                    None => { p.muted { "Not shipped yet" } }
                    Some(shipped) => {
                        p.muted {
                            (if shipped.delivery_mode == 1 { "统一发货 unified" } else { "分拆发货 split" })
                            " · logistics_type " (shipped.logistics_type)
                            " · " (if shipped.finish_shipping { "complete" } else { "in parts, not complete" })
                            @if shipped.finish_shipping_count == 2 { " · re-shipped" }
                        }
                        @for parcel in &shipped.shipping_list {
                            div.parcel {
                                @if !parcel.express_company.is_empty() {
                                    strong { (parcel.express_company) " " span data-testid="sec-tracking-no" { (parcel.tracking_no) } }
                                }
                                div.muted { (parcel.goods_desc) " · " (unix_time(parcel.upload_time)) }
                            }
                        }
                    }
                }
                @if let Some(reminder) = &sec.reminder {
                    p.muted { "提醒收货 Reminded " (unix_time(reminder.at)) " (signed for " (unix_time(reminder.received_time)) ")" }
                }
                @if let Some(special) = &sec.special {
                    p.muted {
                        @if special.kind == 1 { "预售 Pre-sale, ships by " @if let Some(to) = special.delay_to { (unix_time(to)) } }
                        @else { "测试订单 Test order" }
                    }
                }
                @for c in &sec.complaints {
                    p.muted { "投诉 Complaint " (unix_time(c.opened_at)) " → "
                        @if let Some(end) = c.closed_at { (unix_time(end)) } @else { "open" } }
                }
                @if let (Some(back), 2) = (confirm_back, order.order_state) {
                    form.inline method="post" action={ "/bill/payments/" (txid) "/confirm-receipt" } {
                        input type="hidden" name="back" value=(back);
                        button type="submit" data-testid="confirm-receipt" { "确认收货 Confirm receipt" }
                    }
                }
            }
        }
    }
}

/// The event log's rows.
pub fn events_table(events: &[Event]) -> Markup {
    html! {
        table {
            tr { th { "id" } th { "at" } th { "event" } th { "order" } th { "delivery" } }
            @for e in events {
                tr.event {
                    td { (e.id) }
                    td.nowrap { (unix_time(e.at)) }
                    td { (e.event) }
                    td { (e.payload["transaction_id"].as_str().unwrap_or("—")) }
                    td { (e.delivery.state.as_str()) " · " (e.delivery.attempts) " attempts"
                        @if let Some(status) = e.delivery.last_status { " · HTTP " (status) } }
                }
            }
        }
        @if events.is_empty() { p.muted { "No events yet." } }
    }
}

/// The latest events (of one app, or all), after a sweep.
pub async fn latest_events(state: &AppState, appid: Option<&str>) -> Result<Vec<Event>, PageError> {
    state.events.sweep().await?;
    let mut events = state
        .store
        .events(&EventFilter {
            appid: appid.map(str::to_owned),
            event: None,
            after: 0,
            mchid: None,
            limit: 1000,
        })
        .await?;
    events.reverse();
    Ok(events)
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    /// The bill page to return to.
    pub back: String,
}

/// The payer's Confirm receipt button (SPEC §10.12): as the signed-in payer (another
/// payer's order answers `fail` and changes nothing); the admin confirms as the payer.
pub async fn confirm_receipt(
    payer: Payer,
    State(state): State<AppState>,
    Path(transaction_id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    let openid = match payer {
        Payer::Own { openid, .. } => Some(openid),
        Payer::Admin => None,
    };
    let now = clock::now(state.store.as_ref()).await?;
    let change = OrderChange::ConfirmReceipt { openid };
    let key = PaymentRef::Transaction(transaction_id);
    match state.store.change_order(None, &key, &change, now).await? {
        Some((ChangeOutcome::Confirm(_), _)) => {}
        _ => return Err(PageError::NotFound),
    }
    let back = if form.back.starts_with("/bill/order?") {
        form.back
    } else {
        "/bill".to_owned()
    };
    Ok(Redirect::to(&back).into_response())
}
