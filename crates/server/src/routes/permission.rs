//! Product permission (SPEC §7): `open` then `confirm`; the sandbox's review approves six
//! sandbox hours after confirm. Neither call takes a body.

use axum::Json;
use axum::extract::State;
use userorder_model::ErrCode;
use userorder_model::wire::{EnvelopeOut, PermissionConfirmOut};
use userorder_store::ProductState;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::extract::needs::Anytime;
use crate::state::AppState;

/// Seconds from confirm until the review completes.
pub const REVIEW_SECONDS: i64 = 6 * 3600;

pub async fn open(
    State(state): State<AppState>,
    caller: Caller<Anytime>,
) -> Result<Json<EnvelopeOut>, ApiError> {
    let app = &caller.app;
    if let Some(component) = &caller.component_appid {
        let signed = state
            .store
            .authorization(component, &app.appid)
            .await?
            .is_some_and(|a| a.agreement_signed);
        if !signed {
            return Err(ErrCode::AGREEMENT_NOT_SIGNED.into());
        }
    }
    if !app.in_open_scope {
        return Err(ErrCode::NOT_IN_OPEN_SCOPE.into());
    }
    // The transition is conditional, so two racing opens cannot both succeed.
    let opened = app.state_at(caller.now) == ProductState::NotOpen
        && state
            .store
            .transition_product_state(
                &app.appid,
                ProductState::NotOpen,
                ProductState::Open,
                None,
                None,
            )
            .await?;
    if !opened {
        return Err(ErrCode::PERMISSION_STATE_FORBIDS_OPEN.into());
    }
    Ok(Json(EnvelopeOut::ok()))
}

/// **Decision:** `last_result` is the previous review's result, `"NONE"` before the first
/// one; the sandbox's reviews always approve, so the result of this one is recorded as
/// `APPROVED` now and becomes visible when it completes.
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller<Anytime>,
) -> Result<Json<PermissionConfirmOut>, ApiError> {
    let app = &caller.app;
    let last_result = app
        .last_review_result
        .clone()
        .unwrap_or_else(|| "NONE".into());
    let confirmed = app.state_at(caller.now) == ProductState::Open
        && state
            .store
            .transition_product_state(
                &app.appid,
                ProductState::Open,
                ProductState::InReview,
                Some(caller.now + REVIEW_SECONDS),
                Some("APPROVED"),
            )
            .await?;
    if !confirmed {
        return Err(ErrCode::PERMISSION_NOT_OPEN.into());
    }
    Ok(Json(PermissionConfirmOut {
        errcode: ErrCode::OK,
        errmsg: "ok".into(),
        last_result,
    }))
}
