//! Order shipping management (`/wxa/sec/order/*`, SPEC §10): the app-level calls — the
//! confirm-receipt page, whether the app is under trade management, and the carriers.
//! Each handler's `Caller<…>` states its gate and which platforms may call (SPEC §10.1).

use axum::Json;
use axum::extract::State;
use userorder_model::sec_order::{
    AppidIn, CARRIERS, ConfirmationCompletedOut, DeliveryListIn, DeliveryListOut, DeliveryOut,
    IsTradeManagedOut, SetMsgJumpPathIn,
};
use userorder_model::wire::EnvelopeOut;
use userorder_model::{ErrCode, Rejection};
use userorder_store::App;

use crate::error::ApiError;
use crate::extract::needs::{DeliveryList, SecOrderNoPlatform, TradeQuery};
use crate::extract::{Caller, WeChatBody};
use crate::state::AppState;

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
