//! The payer's Pay page for a WeChat Pay v3 prepay (SPEC §11.8): what the cashier shows —
//! amount, merchant, description — and a Pay button that pays as the signed-in payer, through
//! the same payment change as the sandbox's pay and `requestPayment` (notification included).

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use userorder_model::pay_v3::records::trade_state_desc;
use userorder_store::Payment;
use userorder_store::payments::payable;

use super::{PageError, Payer, page, unix_time, yuan};
use crate::clock;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct PrepayQuery {
    pub prepay_id: String,
}

/// The prepay's payment, if the viewer is its payer (or the admin).
async fn prepay_of(state: &AppState, payer: &Payer, prepay_id: &str) -> Result<Payment, PageError> {
    let payment = state
        .store
        .payment_by_prepay(prepay_id)
        .await?
        .ok_or(PageError::NotFound)?;
    match payer {
        Payer::Own { appid, openid } if *appid != payment.appid || *openid != payment.openid => {
            Err(PageError::NotFound)
        }
        _ => Ok(payment),
    }
}

/// `GET /bill/pay?prepay_id=…`.
pub async fn show(
    payer: Payer,
    State(state): State<AppState>,
    Query(q): Query<PrepayQuery>,
) -> Result<Response, PageError> {
    let payment = prepay_of(&state, &payer, &q.prepay_id).await?;
    let now = clock::now(state.store.as_ref()).await?;
    let v3 = payment.v3.clone().ok_or(PageError::NotFound)?;
    let description = match v3.sub_orders.is_empty() {
        true => v3.description.clone(),
        false => v3
            .sub_orders
            .iter()
            .map(|s| s.description.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    };
    let open = payable(&payment, now).is_ok() && now < v3.prepay_expires_at;
    let body = html! {
        header { h1 { "微信支付 WeChat Pay" } }
        main {
            section.card #prepay {
                p.amount { strong { (yuan(i128::from(payment.amount))) } }
                table {
                    tr { th { "Merchant" } td { (payment.keys.mchid) } }
                    tr { th { "Description" } td { (description) } }
                    tr { th { "Order" } td { (payment.keys.out_trade_no) } }
                    tr { th { "Pay before" } td { (unix_time(v3.time_expire)) } }
                    tr { th { "State" } td #state { (payment.state) " " (trade_state_desc(&payment.state)) } }
                    @if let Some(paid_at) = payment.paid_at {
                        tr { th { "Paid" } td { (unix_time(paid_at)) } }
                    }
                }
                @if open {
                    form method="post" action="/bill/pay" {
                        input type="hidden" name="prepay_id" value=(q.prepay_id);
                        button #pay type="submit" { "支付 Pay " (yuan(i128::from(payment.amount))) }
                    }
                } @else if payment.state == "NOTPAY" {
                    p.muted { "This prepay can no longer be paid (expired)." }
                }
            }
        }
    };
    Ok(page("Pay", body).into_response())
}

#[derive(Debug, Deserialize)]
pub struct PayForm {
    pub prepay_id: String,
}

/// `POST /bill/pay`: pays as the payer; an unpayable prepay is shown as it is.
pub async fn pay(
    payer: Payer,
    State(state): State<AppState>,
    Form(form): Form<PayForm>,
) -> Result<Response, PageError> {
    let payment = prepay_of(&state, &payer, &form.prepay_id).await?;
    let now = clock::now(state.store.as_ref()).await?;
    let fresh = payment
        .v3
        .as_ref()
        .is_some_and(|v3| now < v3.prepay_expires_at);
    if fresh && payable(&payment, now).is_ok() {
        match crate::sandbox::pay(&state, &payment.keys.transaction_id).await {
            Ok(_) | Err(crate::error::SandboxError::Conflict(_)) => {}
            Err(crate::error::SandboxError::Store(e)) => return Err(PageError::Store(e)),
            Err(_) => return Err(PageError::NotFound),
        }
    }
    Ok(Redirect::to(&format!("/bill/pay?prepay_id={}", form.prepay_id)).into_response())
}
