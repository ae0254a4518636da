//! The sandbox's side of pushed events (SPEC §10.12, §10.13): where an app's events go,
//! and the event log with each event's delivery.

use axum::Json;
use axum::extract::{Path, State};
use userorder_model::sandbox::{EventsOut, EventsQuery, Push};
use userorder_store::EventFilter;

use super::{SandboxJson, SandboxQuery};
use crate::error::SandboxError;
use crate::state::AppState;

/// Sets (or with `url: null` clears) an app's push URL and token.
pub async fn put_push(
    State(state): State<AppState>,
    Path(appid): Path<String>,
    SandboxJson(raw): SandboxJson<Push>,
) -> Result<Json<Push>, SandboxError> {
    if let Some(url) = &raw.url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(SandboxError::BadRequest(format!(
            "url {url:?} is not an http(s) URL"
        )));
    }
    let push = Push {
        token: raw.token.filter(|_| raw.url.is_some()),
        url: raw.url,
    };
    let set = push.url.is_some().then_some(&push);
    if !state.store.set_push(&appid, set).await? {
        return Err(SandboxError::NotFound(format!("no app {appid}")));
    }
    state.events.wake();
    Ok(Json(push))
}

/// The event log, after a sweep so that it shows everything due by now.
pub async fn get_events(
    State(state): State<AppState>,
    SandboxQuery(q): SandboxQuery<EventsQuery>,
) -> Result<Json<EventsOut>, SandboxError> {
    state.events.sweep().await?;
    let events = state
        .store
        .events(&EventFilter {
            appid: q.appid,
            event: q.event,
            after: q.after.unwrap_or(0),
            mchid: q.mchid,
            limit: userorder_store::events::list_limit(q.limit.unwrap_or(0)),
        })
        .await?;
    Ok(Json(EventsOut { events }))
}
