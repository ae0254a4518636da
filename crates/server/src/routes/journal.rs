//! `POST /cgi-bin/openapi/rid/get` (SPEC §8.1): a request of the same app, by rid.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use userorder_model::ErrCode;
use userorder_model::wire::{RidGetIn, RidGetOut, RidRequestOut};
use userorder_store::JournalFilter;

use crate::clock;
use crate::error::ApiError;
use crate::extract::needs::Anytime;
use crate::extract::{Caller, WeChatBody};
use crate::state::AppState;

pub async fn rid_get(
    State(state): State<AppState>,
    caller: Caller<Anytime>,
    WeChatBody(body): WeChatBody<RidGetIn>,
) -> Result<Json<RidGetOut>, ApiError> {
    let rid = body
        .rid
        .filter(|r| !r.is_empty())
        .ok_or(ErrCode::RID_NOT_FOUND)?;
    let filter = JournalFilter {
        appid: Some(caller.app.appid.clone()),
        rid: Some(rid.clone()),
        limit: 1,
    };
    // This process's entries are committed by a flush; another process's may still be on
    // their way for a moment after it answered, so a recent rid is looked up a few times.
    state.journal.flush().await;
    let recent = rid
        .get(..8)
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .is_some_and(|at| (clock::real_now() as u32 as i64 - at).abs() <= 2);
    let attempts = if recent { 10 } else { 1 };
    for attempt in 0..attempts {
        if let Some(entry) = state.store.journal(&filter).await?.into_iter().next() {
            return Ok(Json(RidGetOut {
                errcode: ErrCode::OK,
                errmsg: "ok".into(),
                request: RidRequestOut {
                    invoke_time: entry.invoke_time,
                    cost_in_ms: entry.cost_in_ms,
                    request_url: entry.request_url,
                    request_body: entry.request_body,
                    response_body: entry.response_body,
                    client_ip: entry.client_ip,
                },
            }));
        }
        if attempt + 1 < attempts {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Err(ErrCode::RID_NOT_FOUND.into())
}
