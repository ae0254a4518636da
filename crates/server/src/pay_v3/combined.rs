//! Combined payments (SPEC §11.10): prepay (#7), query (#8), close (#9). The master is keyed
//! by (combine_mchid, combine_out_trade_no); the prepay makes a SPEC §8 combined payment whose
//! one prepay_id pays every sub-order.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use userorder_model::association::PaymentKeys;
use userorder_model::pay_v3::params::{self, CombineRequest};
use userorder_model::pay_v3::records::{self, PaymentV3, SubOrderV3};
use userorder_model::shopping::OrderKey;
use userorder_store::payments::PREPAY_TTL_S;
use userorder_store::{NewPayment, Payment};

use super::auth::Signed;
use super::transactions::{
    EXPIRE_DEFAULT_S, EXPIRE_MAX_S, EXPIRE_MIN_S, Prepaid, answer, closed, created,
    current_prepay_id, order_not_exist, out_trade_no_used, prepaid, prepay_id, relations,
    settled_now, still_open,
};
use super::{V3Error, signed_json};
use crate::clock;
use crate::sandbox::identities::first_unknown_merchant;
use crate::state::AppState;

/// `POST /v3/combine-transactions/jsapi` (#7).
pub async fn prepay(
    State(state): State<AppState>,
    signed: Result<Signed, V3Error>,
) -> Result<Response, V3Error> {
    let signed = signed?;
    let request = params::combine_request(&signed.json()?).map_err(V3Error::param)?;
    relations(
        &state,
        &signed.mchid,
        &request.combine_mchid,
        Some(&request.combine_appid),
        Some(("/combine_payer_info/openid", &request.openid)),
    )
    .await?;
    sub_merchants(&state, &request).await?;
    let now = clock::now(state.store.as_ref()).await?;
    let key = OrderKey::Merchant {
        mchid: request.combine_mchid.clone(),
        out_trade_no: request.combine_out_trade_no.clone(),
    };
    let prepay_id = match prepaid(&state, &key, create(&state, &request, now)).await? {
        Prepaid::New(prepay_id) => prepay_id,
        Prepaid::Existing(payment) => repeat(&state, &payment, &request, now).await?,
    };
    answer(&signed.credentials, &prepay_id)
}

/// Each sub-order's merchant exists and is bound to combine_appid. Bound implies it exists,
/// so the merchants are read only when one is not bound: any unknown one among them is
/// MCH_NOT_EXISTS, else APPID_MCHID_NOT_MATCH.
async fn sub_merchants(state: &AppState, request: &CombineRequest) -> Result<(), V3Error> {
    let mchids: Vec<&str> = request
        .sub_orders
        .iter()
        .map(|s| s.mchid.as_str())
        .collect();
    let unbound = state
        .store
        .first_unbound_mchid(&request.combine_appid, &mchids)
        .await?;
    if unbound.is_none() {
        return Ok(());
    }
    if first_unknown_merchant(state, &mchids).await?.is_some() {
        return Err(V3Error::new(
            StatusCode::BAD_REQUEST,
            "MCH_NOT_EXISTS",
            "商户号不存在",
        ));
    }
    Err(V3Error::new(
        StatusCode::BAD_REQUEST,
        "APPID_MCHID_NOT_MATCH",
        "appid和mch_id不匹配",
    ))
}

/// A new combined payment; `None` when a key was taken meanwhile.
async fn create(
    state: &AppState,
    request: &CombineRequest,
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
        description: String::new(),
        attach: None,
        notify_url: Some(request.notify_url.clone()),
        goods_tag: None,
        device_id: request.device_id.clone(),
        closed_at: None,
        refunded_amount: 0,
        refunds: Vec::new(),
        sub_orders: request
            .sub_orders
            .iter()
            .map(|s| SubOrderV3 {
                mchid: s.mchid.clone(),
                out_trade_no: s.out_trade_no.clone(),
                description: s.description.clone(),
                attach: s.attach.clone(),
                goods_tag: s.goods_tag.clone(),
            })
            .collect(),
    };
    let txid = crate::sandbox::payments::transaction_id;
    let new = NewPayment {
        appid: request.combine_appid.clone(),
        openid: request.openid.clone(),
        keys: PaymentKeys {
            transaction_id: txid(now),
            mchid: request.combine_mchid.clone(),
            out_trade_no: request.combine_out_trade_no.clone(),
        },
        amount: request.sub_orders.iter().map(|s| s.total).sum(),
        sub_payments: request
            .sub_orders
            .iter()
            .map(|s| {
                let keys = PaymentKeys {
                    transaction_id: txid(now),
                    mchid: s.mchid.clone(),
                    out_trade_no: s.out_trade_no.clone(),
                };
                (keys, s.total)
            })
            .collect(),
        created_at: now,
        excluded_from_shipping: false,
        v3: Some(v3),
    };
    created(state, &new).await
}

/// SPEC §11.6 rules 1–4, comparing the combined terms.
async fn repeat(
    state: &AppState,
    payment: &Payment,
    request: &CombineRequest,
    now: i64,
) -> Result<String, V3Error> {
    let v3 = still_open(payment, now)?;
    if payment.sub_orders.is_empty() {
        return Err(out_trade_no_used());
    }
    let same_subs = payment.sub_orders.len() == request.sub_orders.len()
        && payment
            .sub_orders
            .iter()
            .zip(&v3.sub_orders)
            .zip(&request.sub_orders)
            .all(|((stored, terms), asked)| {
                stored.keys.mchid == asked.mchid
                    && stored.keys.out_trade_no == asked.out_trade_no
                    && stored.amount == asked.total
                    && terms.description == asked.description
                    && terms.attach == asked.attach
            });
    if !same_subs || payment.appid != request.combine_appid || payment.openid != request.openid {
        return Err(out_trade_no_used());
    }
    current_prepay_id(state, payment, v3, now).await
}

/// The merchant's combined payment of that number, or 404 ORDER_NOT_EXIST.
async fn combined_of(
    state: &AppState,
    mchid: &str,
    combine_out_trade_no: String,
) -> Result<(Payment, PaymentV3), V3Error> {
    let key = OrderKey::Merchant {
        mchid: mchid.to_owned(),
        out_trade_no: combine_out_trade_no,
    };
    let payment = state
        .store
        .payment_for_key(&key)
        .await?
        .filter(|p| !p.sub_orders.is_empty())
        .ok_or_else(order_not_exist)?;
    let v3 = payment.v3.clone().ok_or_else(order_not_exist)?;
    Ok((payment, v3))
}

/// `GET /v3/combine-transactions/out-trade-no/{combine_out_trade_no}` (#8).
pub async fn query(
    State(state): State<AppState>,
    Path(combine_out_trade_no): Path<String>,
    signed: Result<Signed, V3Error>,
) -> Result<Response, V3Error> {
    let Signed {
        mchid, credentials, ..
    } = signed?;
    settled_now(&state).await?;
    let (payment, v3) = combined_of(&state, &mchid, combine_out_trade_no).await?;
    let mut sub_states = Vec::with_capacity(payment.sub_orders.len());
    for sub in &payment.sub_orders {
        let key = OrderKey::WxPay {
            transaction_id: sub.keys.transaction_id.clone(),
        };
        let own = state.store.payment_any(&key).await?;
        sub_states.push(own.map_or_else(|| payment.state.clone(), |p| p.state));
    }
    signed_json(
        &credentials,
        StatusCode::OK,
        &records::combined(&payment, &v3, &sub_states),
    )
}

/// `POST /v3/combine-transactions/out-trade-no/{combine_out_trade_no}/close` (#9).
pub async fn close(
    State(state): State<AppState>,
    Path(combine_out_trade_no): Path<String>,
    signed: Result<Signed, V3Error>,
) -> Result<Response, V3Error> {
    let signed = signed?;
    let (appid, keys) = params::combine_close_request(&signed.json()?).map_err(V3Error::param)?;
    let (payment, _) = combined_of(&state, &signed.mchid, combine_out_trade_no).await?;
    let stored: Vec<(String, String)> = payment
        .sub_orders
        .iter()
        .map(|s| (s.keys.mchid.clone(), s.keys.out_trade_no.clone()))
        .collect();
    let (mut asked, mut stored) = (keys, stored);
    asked.sort();
    stored.sort();
    if appid != payment.appid || asked != stored {
        return Err(V3Error::new(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "您的请求参数与订单信息不一致",
        ));
    }
    closed(&state, &signed.credentials, &payment).await
}
