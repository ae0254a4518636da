//! The WeChat Pay v3 payer and the sandbox's hand on what follows (SPEC §11.8, §11.13):
//! `wx.requestPayment` with its paySign, a refund's outcome, and delivering notifications
//! now.

use axum::Json;
use axum::extract::{Path, State};
use userorder_model::pay_v3::records;
use userorder_model::pay_v3::{
    DeliverIn, RefundResultIn, RequestPaymentIn, RequestPaymentOut, pay_sign_message,
};
use userorder_model::sandbox::EventsOut;
use userorder_store::payments::{self, Outcome, PaymentChange, Refusal};
use userorder_store::{EventFilter, NotifyClaim, RefundKey};

use super::SandboxJson;
use crate::clock;
use crate::error::SandboxError;
use crate::pay_v3::{keys, notify};
use crate::state::AppState;

fn fail(reason: &str) -> Json<RequestPaymentOut> {
    Json(RequestPaymentOut {
        err_msg: format!("requestPayment:fail {reason}"),
        transaction_id: None,
    })
}

/// `wx.requestPayment` as the payer's device runs it: checks in SPEC §11.8's order, each
/// failure a 200 with `requestPayment:fail …`; then pays.
pub async fn post_request_payment(
    State(state): State<AppState>,
    SandboxJson(raw): SandboxJson<RequestPaymentIn>,
) -> Result<Json<RequestPaymentOut>, SandboxError> {
    let required = |value: Option<String>, name: &str| {
        value.ok_or_else(|| SandboxError::BadRequest(format!("{name} is required")))
    };
    let time_stamp = required(raw.time_stamp, "timeStamp")?;
    let nonce_str = required(raw.nonce_str, "nonceStr")?;
    let package = required(raw.package, "package")?;
    let sign_type = required(raw.sign_type, "signType")?;
    let pay_sign = required(raw.pay_sign, "paySign")?;
    let result = raw.result.unwrap_or_else(|| "SUCCESS".into());
    if !matches!(result.as_str(), "SUCCESS" | "CANCEL" | "PAYERROR") {
        return Err(SandboxError::BadRequest(format!(
            "result is {result:?}; use SUCCESS, CANCEL or PAYERROR"
        )));
    }
    let now = clock::now(state.store.as_ref()).await?;

    let prepay_id = package.strip_prefix("prepay_id=").unwrap_or_default();
    let found = match prepay_id {
        "" => None,
        id => state.store.payment_by_prepay(id).await?,
    };
    let Some((payment, v3)) = found.and_then(|p| p.v3.clone().map(|v3| (p, v3))) else {
        return Ok(fail("prepay_id无效"));
    };
    if now >= v3.prepay_expires_at {
        return Ok(fail("prepay_id已过期"));
    }
    let app_id = raw.app_id.unwrap_or_else(|| payment.appid.clone());
    let message = pay_sign_message(&app_id, &time_stamp, &nonce_str, &package);
    let signer_keys = state
        .store
        .apiv3(&payment.keys.mchid)
        .await?
        .map(|c| c.merchant_keys)
        .unwrap_or_default();
    let verified = sign_type == "RSA"
        && signer_keys.iter().any(|k| {
            keys::public_key(&k.public_key_pem)
                .is_ok_and(|public| keys::verifies(&public, &message, &pay_sign))
        });
    if !verified {
        return Ok(fail("支付验证签名失败"));
    }
    if app_id != payment.appid {
        return Ok(fail("appid不一致"));
    }
    if raw.openid.is_some_and(|openid| openid != payment.openid) {
        return Ok(fail("下单账号与支付账号不一致"));
    }
    match payments::payable(&payment, now) {
        Err(Refusal::Paid) => return Ok(fail("订单已支付")),
        Err(_) => return Ok(fail("订单已关闭")),
        Ok(()) => {}
    }
    let change = match result.as_str() {
        "CANCEL" => return Ok(fail("cancel")),
        "PAYERROR" => PaymentChange::Fail,
        _ => PaymentChange::Pay,
    };
    let txid = payment.keys.transaction_id.clone();
    let changed = state.store.change_payment(&txid, &change, now).await?;
    match changed {
        Some((Outcome::Done, _)) if change == PaymentChange::Fail => Ok(fail("支付失败")),
        Some((Outcome::Done, _)) => {
            state.events.wake();
            Ok(Json(RequestPaymentOut {
                err_msg: "requestPayment:ok".into(),
                transaction_id: Some(txid),
            }))
        }
        // Paid or closed by a concurrent call.
        Some((Outcome::Refused(Refusal::Paid), _)) => Ok(fail("订单已支付")),
        _ => Ok(fail("订单已关闭")),
    }
}

/// `POST /sandbox/refunds/{refund_id}/result`: PROCESSING → SUCCESS | ABNORMAL | CLOSED,
/// ABNORMAL → SUCCESS | CLOSED; answers the Refund; 409 otherwise.
pub async fn post_refund_result(
    State(state): State<AppState>,
    Path(refund_id): Path<String>,
    SandboxJson(raw): SandboxJson<RefundResultIn>,
) -> Result<Json<serde_json::Value>, SandboxError> {
    let status = raw
        .status
        .filter(|s| matches!(s.as_str(), "SUCCESS" | "ABNORMAL" | "CLOSED"))
        .ok_or_else(|| {
            SandboxError::BadRequest("status must be SUCCESS, ABNORMAL or CLOSED".into())
        })?;
    let now = clock::now(state.store.as_ref()).await?;
    state.store.settle_refunds(now).await?;
    let unknown = || SandboxError::NotFound(format!("no refund {refund_id}"));
    let owner = state
        .store
        .refund_owner(&RefundKey::Id(refund_id.clone()))
        .await?
        .ok_or_else(unknown)?;
    let change = PaymentChange::RefundResult {
        refund_id: refund_id.clone(),
        status: status.clone(),
    };
    let (outcome, payment) = state
        .store
        .change_payment(&owner, &change, now)
        .await?
        .ok_or_else(unknown)?;
    match outcome {
        Outcome::Refund(refund) => {
            state.events.wake();
            Ok(Json(records::refund(&payment, &refund)))
        }
        Outcome::Refused(Refusal::OutcomeNotAllowed) => Err(SandboxError::Conflict(format!(
            "refund {refund_id} cannot become {status} now"
        ))),
        _ => Err(unknown()),
    }
}

/// `POST /sandbox/events/deliver`: one attempt now per named notification (any state; a
/// re-send is a duplicate), else per pending one of the app or merchant; answers when done.
pub async fn post_deliver(
    State(state): State<AppState>,
    SandboxJson(raw): SandboxJson<DeliverIn>,
) -> Result<Json<EventsOut>, SandboxError> {
    let http = notify::client();
    let now = clock::now(state.store.as_ref()).await?;
    let mut attempted = Vec::new();
    match &raw.ids {
        Some(ids) => {
            for id in ids {
                let claim = NotifyClaim {
                    id: Some(*id),
                    limit: 1,
                    ..NotifyClaim::default()
                };
                attempted.extend(notify::deliver(&state.store, &http, &claim, now).await?);
            }
        }
        None => {
            if raw.appid.is_none() && raw.mchid.is_none() {
                return Err(SandboxError::BadRequest(
                    "name ids, or an appid or mchid whose pending notifications to send".into(),
                ));
            }
            let claim = NotifyClaim {
                appid: raw.appid.clone(),
                mchid: raw.mchid.clone(),
                limit: 1000,
                ..NotifyClaim::default()
            };
            attempted = notify::deliver(&state.store, &http, &claim, now).await?;
        }
    }
    let after = attempted.iter().min().map_or(0, |first| first - 1);
    let mut events = state
        .store
        .events(&EventFilter {
            after,
            limit: userorder_store::events::list_limit(1000),
            ..EventFilter::default()
        })
        .await?;
    events.retain(|e| attempted.contains(&e.id));
    Ok(Json(EventsOut { events }))
}
