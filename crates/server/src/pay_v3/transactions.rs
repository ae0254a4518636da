//! JSAPI payments (SPEC §11.6–§11.7): prepay (#1), query by transaction_id (#2) and by
//! out_trade_no (#3), close (#4). A prepay makes the same payment record
//! `POST /sandbox/payments` makes, with its v3 part.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use userorder_model::pay_v3::params::{self, PrepayRequest};
use userorder_model::pay_v3::records::{self, PaymentV3, china_digits};
use userorder_model::shopping::OrderKey;
use userorder_model::validate::OpenIdDecoder;
use userorder_store::payments::{Outcome, PREPAY_TTL_S, PaymentChange, Refusal};
use userorder_store::{Created, NewPayment, Payment};

use super::auth::Signed;
use super::{V3Error, signed_answer, signed_json};
use crate::clock;
use crate::sandbox::identities::first_unknown_merchant;
use crate::secrets::{LOWER_HEX, random_of};
use crate::state::AppState;

/// Longest and shortest time_expire from now (SPEC §11.6, Decision Q8).
pub(crate) const EXPIRE_DEFAULT_S: i64 = 7 * 86_400;
pub(crate) const EXPIRE_MIN_S: i64 = 60;
pub(crate) const EXPIRE_MAX_S: i64 = 90 * 86_400;

fn refused(status: StatusCode, code: &str, message: &str) -> V3Error {
    V3Error::new(status, code, message)
}

pub fn order_not_exist() -> V3Error {
    refused(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在")
}

/// SPEC §11.5 step 5: the request's mchid is the signer's, the appid is bound to it, and
/// the openid is one of the appid's.
pub async fn relations(
    state: &AppState,
    signer: &str,
    mchid: &str,
    appid: Option<&str>,
    openid: Option<(&str, &str)>,
) -> Result<(), V3Error> {
    if mchid != signer {
        let unknown = first_unknown_merchant(state, &[mchid]).await?.is_some();
        return Err(match unknown {
            true => refused(StatusCode::BAD_REQUEST, "MCH_NOT_EXISTS", "商户号不存在"),
            false => refused(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "请求中的商户号与签名商户号不一致",
            ),
        });
    }
    let Some(appid) = appid else {
        return Ok(());
    };
    let unbound = state.store.app(appid).await?.is_none()
        || state
            .store
            .first_unbound_mchid(appid, &[mchid])
            .await?
            .is_some();
    if unbound {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "APPID_MCHID_NOT_MATCH",
            "appid和mch_id不匹配",
        ));
    }
    if let Some((pointer, openid)) = openid
        && state.openids.decode(appid, openid).is_err()
    {
        return Err(V3Error::new(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "appid和openid不匹配",
        )
        .with_detail(json!({
            "field": pointer, "value": openid,
            "issue": "appid和openid不匹配", "location": "body",
        })));
    }
    Ok(())
}

/// `wx` + sandbox `yyyyMMddHHmmss` + 20 lowercase hex.
pub(crate) fn prepay_id(now: i64) -> String {
    format!("wx{}{}", china_digits(now, 14), random_of(LOWER_HEX, 20))
}

/// `POST /v3/pay/transactions/jsapi` (#1).
pub async fn prepay(
    State(state): State<AppState>,
    signed: Result<Signed, V3Error>,
) -> Result<Response, V3Error> {
    let signed = signed?;
    let request = params::prepay_request(&signed.json()?).map_err(V3Error::param)?;
    relations(
        &state,
        &signed.mchid,
        &request.mchid,
        Some(&request.appid),
        Some(("/payer/openid", &request.openid)),
    )
    .await?;
    let now = clock::now(state.store.as_ref()).await?;
    let key = OrderKey::Merchant {
        mchid: request.mchid.clone(),
        out_trade_no: request.out_trade_no.clone(),
    };
    let prepay_id = match prepaid(&state, &key, create(&state, &request, now)).await? {
        Prepaid::New(prepay_id) => prepay_id,
        Prepaid::Existing(payment) => repeat(&state, &payment, &request, now).await?,
    };
    answer(&signed.credentials, &prepay_id)
}

/// What a prepay's key names: a payment it just made, or one stored before.
pub(crate) enum Prepaid {
    New(String),
    Existing(Box<Payment>),
}

/// The stored payment of `key`, else the one `create` makes (answering its prepay_id, or
/// `None` when a key was taken meanwhile: then the stored payment, which a racing prepay
/// made, or 403 OUT_TRADE_NO_USED when the key is a sub-order's).
pub(crate) async fn prepaid(
    state: &AppState,
    key: &OrderKey,
    create: impl std::future::Future<Output = Result<Option<String>, V3Error>>,
) -> Result<Prepaid, V3Error> {
    if let Some(existing) = state.store.payment_for_key(key).await? {
        return Ok(Prepaid::Existing(Box::new(existing)));
    }
    if let Some(prepay_id) = create.await? {
        return Ok(Prepaid::New(prepay_id));
    }
    let stored = state.store.payment_for_key(key).await?;
    stored
        .map(|p| Prepaid::Existing(Box::new(p)))
        .ok_or_else(out_trade_no_used)
}

pub(crate) fn answer(
    credentials: &userorder_store::Apiv3Record,
    prepay_id: &str,
) -> Result<Response, V3Error> {
    signed_json(
        credentials,
        StatusCode::OK,
        &json!({ "prepay_id": prepay_id }),
    )
}

/// A new NOTPAY payment with its v3 part; `None` when its key was taken meanwhile.
async fn create(
    state: &AppState,
    request: &PrepayRequest,
    now: i64,
) -> Result<Option<String>, V3Error> {
    let time_expire = request
        .time_expire
        .unwrap_or(now + EXPIRE_DEFAULT_S)
        .clamp(now + EXPIRE_MIN_S, now + EXPIRE_MAX_S);
    let v3 = PaymentV3 {
        prepay_id: prepay_id(now),
        prepay_expires_at: now + PREPAY_TTL_S,
        time_expire,
        description: request.description.clone(),
        attach: request.attach.clone(),
        notify_url: Some(request.notify_url.clone()),
        goods_tag: request.goods_tag.clone(),
        device_id: request.device_id.clone(),
        closed_at: None,
        refunded_amount: 0,
        refunds: Vec::new(),
        sub_orders: Vec::new(),
    };
    let new = NewPayment {
        appid: request.appid.clone(),
        openid: request.openid.clone(),
        keys: userorder_model::association::PaymentKeys {
            transaction_id: crate::sandbox::payments::transaction_id(now),
            mchid: request.mchid.clone(),
            out_trade_no: request.out_trade_no.clone(),
        },
        amount: request.total,
        sub_payments: Vec::new(),
        created_at: now,
        excluded_from_shipping: false,
        v3: Some(v3.clone()),
    };
    created(state, &new).await
}

/// Stores a prepay's new payment: its prepay_id, or `None` when a key was taken.
pub(crate) async fn created(state: &AppState, new: &NewPayment) -> Result<Option<String>, V3Error> {
    Ok(match state.store.create_payment(new).await? {
        Created::Created => new.v3.as_ref().map(|v3| v3.prepay_id.clone()),
        Created::Conflict => None,
    })
}

/// SPEC §11.6 rules 1–2 for a repeated prepay: paid → ORDERPAID; closed, failed or past
/// time_expire → ORDER_CLOSED; else its v3 part (none: not a prepay's → OUT_TRADE_NO_USED).
pub(crate) fn still_open(payment: &Payment, now: i64) -> Result<&PaymentV3, V3Error> {
    match payment.state.as_str() {
        "SUCCESS" | "REFUND" => return Err(order_paid()),
        "CLOSED" | "PAYERROR" => return Err(order_closed()),
        _ => {}
    }
    let v3 = payment.v3.as_ref().ok_or_else(out_trade_no_used)?;
    if now >= v3.time_expire {
        return Err(order_closed());
    }
    Ok(v3)
}

/// SPEC §11.6 rules 1–4 for a prepay whose (mchid, out_trade_no) exists.
async fn repeat(
    state: &AppState,
    payment: &Payment,
    request: &PrepayRequest,
    now: i64,
) -> Result<String, V3Error> {
    let v3 = still_open(payment, now)?;
    let same = payment.sub_orders.is_empty()
        && payment.appid == request.appid
        && v3.description == request.description
        && payment.amount == request.total
        && payment.openid == request.openid
        && v3.attach == request.attach
        && v3.goods_tag == request.goods_tag;
    if !same {
        return Err(out_trade_no_used());
    }
    current_prepay_id(state, payment, v3, now).await
}

/// The payment's prepay_id, or a new one once it is 2 h old (SPEC §11.6 rule 4).
pub(crate) async fn current_prepay_id(
    state: &AppState,
    payment: &Payment,
    v3: &PaymentV3,
    now: i64,
) -> Result<String, V3Error> {
    if now < v3.prepay_expires_at {
        return Ok(v3.prepay_id.clone());
    }
    let renewed = PaymentChange::RenewPrepay {
        prepay_id: prepay_id(now),
        expires_at: now + PREPAY_TTL_S,
    };
    match state
        .store
        .change_payment(&payment.keys.transaction_id, &renewed, now)
        .await?
    {
        Some((Outcome::Done, payment)) => payment
            .v3
            .map(|v3| v3.prepay_id)
            .ok_or_else(order_not_exist),
        _ => Err(order_not_exist()),
    }
}

pub fn order_paid() -> V3Error {
    refused(StatusCode::BAD_REQUEST, "ORDERPAID", "订单已支付")
}

fn order_closed() -> V3Error {
    refused(StatusCode::BAD_REQUEST, "ORDER_CLOSED", "订单已关闭")
}

pub(crate) fn out_trade_no_used() -> V3Error {
    refused(StatusCode::FORBIDDEN, "OUT_TRADE_NO_USED", "商户订单号重复")
}

/// `?mchid=` checked, then its relation to the signer.
pub(crate) async fn query_mchid(
    state: &AppState,
    signer: &str,
    query: Option<&str>,
) -> Result<(), V3Error> {
    let mchid = params::mchid_query(&params::query_object(query)).map_err(V3Error::param)?;
    relations(state, signer, &mchid, None, None).await
}

/// An ordinary v3 payment of the merchant (SPEC §11.7: combined ones are not seen here).
fn seen(payment: Option<Payment>, signer: &str) -> Option<(Payment, PaymentV3)> {
    let payment = payment?;
    if payment.keys.mchid != signer || !payment.sub_orders.is_empty() {
        return None;
    }
    let v3 = payment.v3.clone()?;
    Some((payment, v3))
}

/// Applies refund outcomes due by now, so a read shows them (SPEC §11.9).
pub async fn settled_now(state: &AppState) -> Result<i64, V3Error> {
    let now = clock::now(state.store.as_ref()).await?;
    state.store.settle_refunds(now).await?;
    Ok(now)
}

/// `GET /v3/pay/transactions/id/{transaction_id}?mchid=` (#2): paid payments only.
pub async fn by_transaction_id(
    State(state): State<AppState>,
    Path(transaction_id): Path<String>,
    RawQuery(query): RawQuery,
    signed: Result<Signed, V3Error>,
) -> Result<Response, V3Error> {
    let Signed {
        mchid, credentials, ..
    } = signed?;
    query_mchid(&state, &mchid, query.as_deref()).await?;
    settled_now(&state).await?;
    let found = seen(state.store.payment(&transaction_id).await?, &mchid)
        .filter(|(payment, _)| payment.is_paid());
    let (payment, v3) = found.ok_or_else(order_not_exist)?;
    signed_json(
        &credentials,
        StatusCode::OK,
        &records::transaction(&payment, &v3),
    )
}

/// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=` (#3): any state.
pub async fn by_out_trade_no(
    State(state): State<AppState>,
    Path(out_trade_no): Path<String>,
    RawQuery(query): RawQuery,
    signed: Result<Signed, V3Error>,
) -> Result<Response, V3Error> {
    let Signed {
        mchid, credentials, ..
    } = signed?;
    query_mchid(&state, &mchid, query.as_deref()).await?;
    settled_now(&state).await?;
    let key = OrderKey::Merchant {
        mchid: mchid.clone(),
        out_trade_no,
    };
    let (payment, v3) =
        seen(state.store.payment_for_key(&key).await?, &mchid).ok_or_else(order_not_exist)?;
    signed_json(
        &credentials,
        StatusCode::OK,
        &records::transaction(&payment, &v3),
    )
}

/// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close` (#4): 204, also when
/// already closed.
pub async fn close(
    State(state): State<AppState>,
    Path(out_trade_no): Path<String>,
    signed: Result<Signed, V3Error>,
) -> Result<Response, V3Error> {
    let signed = signed?;
    let body_mchid = params::close_request(&signed.json()?).map_err(V3Error::param)?;
    relations(&state, &signed.mchid, &body_mchid, None, None).await?;
    let key = OrderKey::Merchant {
        mchid: signed.mchid.clone(),
        out_trade_no,
    };
    let (payment, _) = seen(state.store.payment_for_key(&key).await?, &signed.mchid)
        .ok_or_else(order_not_exist)?;
    closed(&state, &signed.credentials, &payment).await
}

/// Closes a payment (SPEC §11.7, §11.10): 204 signed, or 400 ORDERPAID once paid.
pub(crate) async fn closed(
    state: &AppState,
    credentials: &userorder_store::Apiv3Record,
    payment: &Payment,
) -> Result<Response, V3Error> {
    let now = clock::now(state.store.as_ref()).await?;
    match state
        .store
        .change_payment(&payment.keys.transaction_id, &PaymentChange::Close, now)
        .await?
    {
        Some((Outcome::Refused(Refusal::Paid), _)) => Err(order_paid()),
        Some((Outcome::Done, _)) => signed_answer(credentials, StatusCode::NO_CONTENT, Vec::new()),
        _ => Err(order_not_exist()),
    }
}
