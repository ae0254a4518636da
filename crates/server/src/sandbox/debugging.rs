//! What integrators debug with (SPEC §8): scripted faults and the request journal.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use userorder_model::sandbox::{
    ClearFaultsIn, FaultsClearedOut, FaultsIn, FaultsOut, JournalOut, JournalQuery,
};
use userorder_store::JournalFilter;

use super::{SandboxJson, SandboxQuery};
use crate::error::SandboxError;
use crate::state::AppState;

pub async fn post_faults(
    State(state): State<AppState>,
    SandboxJson(raw): SandboxJson<FaultsIn>,
) -> Result<(StatusCode, Json<FaultsOut>), SandboxError> {
    if state.store.app(&raw.appid).await?.is_none()
        && state.store.component(&raw.appid).await?.is_none()
    {
        return Err(SandboxError::NotFound(format!(
            "no app or component {}",
            raw.appid
        )));
    }
    if raw.errcodes.is_empty() || raw.errcodes.len() > 100 || raw.errcodes.contains(&0) {
        return Err(SandboxError::BadRequest(
            "errcodes must list 1 to 100 non-zero errcodes".into(),
        ));
    }
    if let Some(path) = &raw.path
        && !crate::envelope::is_wechat_path(path)
    {
        return Err(SandboxError::BadRequest(
            "path must be a WeChat API path such as /user-order/combine-orders".into(),
        ));
    }
    let delay_ms = raw.delay_ms.unwrap_or(0);
    if !(0..=60_000).contains(&delay_ms) {
        return Err(SandboxError::BadRequest(
            "delay_ms must be 0 to 60000".into(),
        ));
    }
    state
        .store
        .add_faults(&raw.appid, raw.path.as_deref(), &raw.errcodes, delay_ms)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(FaultsOut {
            queued: raw.errcodes.len(),
            appid: raw.appid,
            path: raw.path,
            delay_ms,
        }),
    ))
}

/// `DELETE /sandbox/faults` with `{appid, path?}` as body or query.
pub async fn delete_faults(
    State(state): State<AppState>,
    SandboxQuery(query): SandboxQuery<ClearFaultsIn>,
    SandboxJson(body): SandboxJson<ClearFaultsIn>,
) -> Result<Json<FaultsClearedOut>, SandboxError> {
    let appid = body
        .appid
        .or(query.appid)
        .ok_or_else(|| SandboxError::BadRequest("appid is required".into()))?;
    let path = body.path.or(query.path);
    let removed = state.store.clear_faults(&appid, path.as_deref()).await?;
    Ok(Json(FaultsClearedOut { appid, removed }))
}

pub async fn get_journal(
    State(state): State<AppState>,
    SandboxQuery(q): SandboxQuery<JournalQuery>,
) -> Result<Json<JournalOut>, SandboxError> {
    state.journal.flush().await;
    let entries = state
        .store
        .journal(&JournalFilter {
            appid: q.appid.filter(|a| !a.is_empty()),
            rid: q.rid.filter(|r| !r.is_empty()),
            limit: q.limit.unwrap_or(100).clamp(1, 10_000),
        })
        .await?;
    Ok(Json(JournalOut { entries }))
}
