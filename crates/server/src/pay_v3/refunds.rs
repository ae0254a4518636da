//! Refunds (SPEC §11.9): create (#5) and query (#6). Outcomes are applied by the store
//! when due (`Store::settle_refunds`), by every read first and by the background sweep.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use userorder_model::pay_v3::params::{self, RefundOf};
use userorder_model::pay_v3::records::{self, china_digits};
use userorder_model::shopping::OrderKey;
use userorder_store::payments::{NewRefund, Outcome, PaymentChange, Refusal};
use userorder_store::{Payment, RefundKey};

use super::auth::Signed;
use super::transactions::settled_now;
use super::{V3Error, signed_json, user_agent_and_accept};
use crate::secrets::{DIGITS, random_of};
use crate::state::AppState;

/// `50` + 8 random digits + sandbox `yyyyMMdd` + 11 digits: 29.
pub fn refund_id(now: i64) -> String {
    format!(
        "50{}{}{}",
        random_of(DIGITS, 8),
        china_digits(now, 8),
        random_of(DIGITS, 11)
    )
}

fn no_order() -> V3Error {
    V3Error::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "订单不存在")
}

fn invalid(message: &str) -> V3Error {
    V3Error::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
}

/// `POST /v3/refund/domestic/refunds` (#5).
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed: Result<Signed, V3Error>,
) -> Result<Response, V3Error> {
    user_agent_and_accept(&headers)?;
    let signed = signed?;
    let request = params::refund_request(&signed.json()?).map_err(V3Error::param)?;
    let Signed {
        mchid, credentials, ..
    } = signed;
    let now = settled_now(&state).await?;
    // Check 1: a paid v3 payment of this merchant, ordinary or a combined one's sub-order
    // (a combined master is not refunded: it has sub-orders).
    let key = match &request.of {
        RefundOf::TransactionId(id) => OrderKey::WxPay {
            transaction_id: id.clone(),
        },
        RefundOf::OutTradeNo(no) => OrderKey::Merchant {
            mchid: mchid.clone(),
            out_trade_no: no.clone(),
        },
    };
    let payment: Option<Payment> = state.store.payment_any(&key).await?;
    let payment = payment
        .filter(|p| p.keys.mchid == mchid && p.sub_orders.is_empty() && p.is_paid())
        .filter(|p| p.v3.is_some())
        .ok_or_else(no_order)?;
    let settings = &credentials.refunds;
    let change = PaymentChange::Refund {
        refund: NewRefund {
            refund_id: refund_id(now),
            out_refund_no: request.out_refund_no.clone(),
            reason: request.reason.clone(),
            notify_url: request
                .notify_url
                .clone()
                .or_else(|| settings.refund_notify_url.clone()),
            refund: request.refund,
            total: request.total,
            delay_s: settings.refund_delay_s,
            outcome: settings.refund_outcome.clone(),
            min_interval_s: settings.refund_min_interval_s,
        },
        taken: false,
    };
    let changed = state
        .store
        .change_payment(&payment.keys.transaction_id, &change, now)
        .await?;
    let (outcome, payment) = changed.ok_or_else(no_order)?;
    let refund = match outcome {
        Outcome::Refund(refund) => refund,
        Outcome::Refused(refusal) => return Err(refund_refusal(refusal)),
        Outcome::Done => return Err(no_order()),
    };
    // An outcome due at once is applied (and notified) by the background worker.
    state.events.wake();
    signed_json(
        &credentials,
        StatusCode::OK,
        &records::refund(&payment, &refund),
    )
}

fn refund_refusal(refusal: Refusal) -> V3Error {
    match refusal {
        Refusal::RefundNumberUsed => invalid("商户退款单号已被使用"),
        Refusal::TotalMismatch => invalid("您的请求参数与订单信息不一致"),
        Refusal::Overdue => V3Error::new(
            StatusCode::BAD_REQUEST,
            "TRADE_OVERDUE",
            "订单已超过退款期限",
        ),
        Refusal::OverAmount => invalid("申请退款金额超过订单可退金额"),
        Refusal::TooManyRefunds => invalid("订单退款次数超过50次"),
        Refusal::TooSoon => V3Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "FREQUENCY_LIMITED",
            "同一笔订单的退款请求需相隔1分钟",
        ),
        _ => no_order(),
    }
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}` (#6).
pub async fn query(
    State(state): State<AppState>,
    Path(out_refund_no): Path<String>,
    headers: HeaderMap,
    signed: Result<Signed, V3Error>,
) -> Result<Response, V3Error> {
    user_agent_and_accept(&headers)?;
    let Signed {
        mchid, credentials, ..
    } = signed?;
    settled_now(&state).await?;
    let unknown = || V3Error::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "退款单不存在");
    let key = RefundKey::Merchant {
        mchid,
        out_refund_no: out_refund_no.clone(),
    };
    let owner = state.store.refund_owner(&key).await?.ok_or_else(unknown)?;
    let key = OrderKey::WxPay {
        transaction_id: owner,
    };
    let payment = state.store.payment_any(&key).await?.ok_or_else(unknown)?;
    let refund = payment
        .v3
        .as_ref()
        .and_then(|v3| v3.refunds.iter().find(|r| r.out_refund_no == out_refund_no))
        .ok_or_else(unknown)?;
    signed_json(
        &credentials,
        StatusCode::OK,
        &records::refund(&payment, refund),
    )
}
