//! The two shopping-detail uploads (SPEC §5): token checks and body parsing happen in the
//! extractors, the field rules in `model::validate`, then the merchant check and the state
//! rules, which the store enforces and reports as facts.

use axum::Json;
use axum::extract::State;
use userorder_model::shopping::ShoppingInfo;
use userorder_model::validate::{self, Acting};
use userorder_model::wire::{EnvelopeOut, UploadCombinedShoppingInfoIn, UploadShoppingInfoIn};
use userorder_model::{ErrCode, Rejection};
use userorder_store::Saved;

use crate::error::ApiError;
use crate::extract::needs::Shopping;
use crate::extract::{Caller, WeChatBody};
use crate::state::AppState;

pub async fn upload_shopping_info(
    State(state): State<AppState>,
    caller: Caller<Shopping>,
    WeChatBody(body): WeChatBody<UploadShoppingInfoIn>,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let info = validate::upload_shopping_info(body, &acting(&state, &caller))?;
    save(&state, &caller, &info).await
}

pub async fn upload_combined_shopping_info(
    State(state): State<AppState>,
    caller: Caller<Shopping>,
    WeChatBody(body): WeChatBody<UploadCombinedShoppingInfoIn>,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let info = validate::upload_combined_shopping_info(body, &acting(&state, &caller))?;
    save(&state, &caller, &info).await
}

pub fn acting<'a, N>(state: &'a AppState, caller: &'a Caller<N>) -> Acting<'a> {
    Acting {
        appid: &caller.app.appid,
        openids: state.openids.as_ref(),
    }
}

/// Merchant check, then the state rules of SPEC §5.4.
async fn save(
    state: &AppState,
    caller: &Caller<Shopping>,
    info: &ShoppingInfo,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let appid = &caller.app.appid;
    // Each mchid once, in the order the upload names them (the first unbound is named).
    let mut seen = std::collections::HashSet::new();
    let mchids: Vec<&str> = info
        .all_keys()
        .filter_map(|k| k.mchid())
        .filter(|m| seen.insert(*m))
        .collect();
    if let Some(mchid) = state.store.first_unbound_mchid(appid, &mchids).await? {
        return Err(Rejection::at(
            ErrCode::MCHID_NOT_VALID,
            format!("{mchid} is not bound to {appid}"),
        )
        .into());
    }
    saved_answer(
        state
            .store
            .save_shopping_info(appid, info, caller.now)
            .await?,
    )
}

/// What a fact of the store means to the caller (SPEC §5.4, §6.1).
pub fn saved_answer(saved: Saved) -> Result<Json<EnvelopeOut>, ApiError> {
    match saved {
        Saved::Accepted { .. } | Saved::Identical => Ok(Json(EnvelopeOut::ok())),
        Saved::Stale { stored_upload_time } => Err(Rejection::invalid_because(format!(
            "upload_time is not later than the last accepted upload ({stored_upload_time})"
        ))
        .into()),
        Saved::Locked => Err(Rejection::invalid_because(
            "order is already associated with its payment and can no longer be modified",
        )
        .into()),
        Saved::SubOrderTaken { key } => Err(Rejection::invalid_because(format!(
            "sub-order key ({key}) already belongs to another combined order"
        ))
        .into()),
    }
}
