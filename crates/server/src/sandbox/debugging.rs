//! What integrators debug with (SPEC §8): scripted faults and the request journal.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use userorder_model::pay_v3::{FAULTS, fault_owner};
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
    let Some(appid) = raw.appid.clone() else {
        return merchant_faults(&state, raw).await;
    };
    if state.store.app(&appid).await?.is_none() && state.store.component(&appid).await?.is_none() {
        return Err(SandboxError::NotFound(format!(
            "no app or component {appid}"
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
        .add_faults(&appid, raw.path.as_deref(), &raw.errcodes, delay_ms)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(FaultsOut {
            queued: raw.errcodes.len(),
            appid,
            path: raw.path,
            delay_ms,
        }),
    ))
}

/// `{mchid, path?, codes, delay_ms?}`: the merchant's next `/v3/` calls (on `path`, or any)
/// answer these WeChat Pay codes in turn, after their signature is checked.
async fn merchant_faults(
    state: &AppState,
    raw: FaultsIn,
) -> Result<(StatusCode, Json<FaultsOut>), SandboxError> {
    let mchid = raw.mchid.ok_or_else(|| {
        SandboxError::BadRequest("give appid and errcodes, or mchid and codes".into())
    })?;
    if super::identities::first_unknown_merchant(state, &[&mchid])
        .await?
        .is_some()
    {
        return Err(SandboxError::NotFound(format!("no merchant {mchid}")));
    }
    if raw.codes.is_empty() || raw.codes.len() > 100 {
        return Err(SandboxError::BadRequest(
            "codes must list 1 to 100 WeChat Pay codes".into(),
        ));
    }
    let mut positions = Vec::with_capacity(raw.codes.len());
    for code in &raw.codes {
        let position = FAULTS.iter().position(|(c, ..)| c == code).ok_or_else(|| {
            let known: Vec<&str> = FAULTS.iter().map(|(c, ..)| *c).collect();
            SandboxError::BadRequest(format!("code {code} is not one of {}", known.join(", ")))
        })?;
        positions.push(position as i64 + 1);
    }
    if let Some(path) = &raw.path
        && !path.starts_with("/v3/")
    {
        return Err(SandboxError::BadRequest(
            "a merchant's path is a /v3/ path such as /v3/pay/transactions/jsapi".into(),
        ));
    }
    let delay_ms = raw.delay_ms.unwrap_or(0);
    if !(0..=60_000).contains(&delay_ms) {
        return Err(SandboxError::BadRequest(
            "delay_ms must be 0 to 60000".into(),
        ));
    }
    let owner = fault_owner(&mchid);
    state
        .store
        .add_faults(&owner, raw.path.as_deref(), &positions, delay_ms)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(FaultsOut {
            queued: positions.len(),
            appid: owner,
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
