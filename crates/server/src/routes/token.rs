//! `GET /cgi-bin/token` and `POST /cgi-bin/stable_token` (SPEC §3.1, §3.2).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::Uri;
use userorder_model::ErrCode;
use userorder_model::wire::{AccessTokenOut, StableTokenIn, TokenQuery};
use userorder_store::{App, NewToken, TokenKind, TokenRecord};

use crate::clock;
use crate::error::ApiError;
use crate::extract::{Journaled, WeChatBody, count_quota, scripted_fault};
use crate::secrets::{self, mint_token, secret_hash};
use crate::state::AppState;

/// Lifetime of every access token, in seconds.
pub const TOKEN_LIFETIME: i64 = 7200;

/// The checks both token endpoints share: grant_type, appid, secret, in WeChat's order;
/// then a scripted fault for the app, if one is queued. Answers the app and the sandbox
/// clock, read with it in one store call.
async fn authenticate(
    state: &AppState,
    journaled: &Journaled,
    path: &str,
    grant_type: Option<&str>,
    appid: Option<&str>,
    secret: Option<&str>,
) -> Result<(App, i64), ApiError> {
    if grant_type != Some("client_credential") {
        return Err(ErrCode::INVALID_GRANT_TYPE.into());
    }
    let appid = appid
        .filter(|a| !a.is_empty())
        .ok_or(ErrCode::APPID_MISSING)?;
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or(ErrCode::APPSECRET_MISSING)?;
    let facts = state.store.app_facts(appid, path).await?;
    let app = facts.app.ok_or(ErrCode::INVALID_APPID)?;
    if !secrets::same(secret_hash(secret).as_bytes(), app.secret_hash.as_bytes()) {
        return Err(ErrCode::INVALID_APPSECRET.into());
    }
    journaled.note_appid(&app.appid);
    if facts.fault_queued {
        scripted_fault(state, &app.appid, path).await?;
    }
    Ok((app, clock::real_now() + facts.clock_offset))
}

pub fn answer(record: &TokenRecord, now: i64) -> Json<AccessTokenOut> {
    Json(AccessTokenOut {
        access_token: record.token.clone(),
        expires_in: (record.expires_at - now).max(0),
    })
}

fn new_token(app: &App, kind: TokenKind, now: i64, forced: bool) -> NewToken {
    NewToken {
        token: mint_token(),
        appid: app.appid.clone(),
        kind,
        issued_at: now,
        expires_at: now + TOKEN_LIFETIME,
        forced,
        component_appid: None,
    }
}

pub async fn token(
    State(state): State<AppState>,
    journaled: Journaled,
    uri: Uri,
) -> Result<Json<AccessTokenOut>, ApiError> {
    // A query that does not parse is a query without the fields: WeChat's errcodes follow.
    let query: TokenQuery = Query::try_from_uri(&uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let (app, now) = authenticate(
        &state,
        &journaled,
        "/cgi-bin/token",
        query.grant_type.as_deref(),
        query.appid.as_deref(),
        query.secret.as_deref(),
    )
    .await?;
    let daily = app.quota.token_daily.unwrap_or(state.quotas.token_daily);
    count_quota(&state, &app, "/cgi-bin/token", daily, now).await?;
    let record = state
        .store
        .issue_token(&new_token(&app, TokenKind::Basic, now, false))
        .await?;
    Ok(answer(&record, now))
}

pub async fn stable_token(
    State(state): State<AppState>,
    journaled: Journaled,
    WeChatBody(body): WeChatBody<StableTokenIn>,
) -> Result<Json<AccessTokenOut>, ApiError> {
    let (app, now) = authenticate(
        &state,
        &journaled,
        "/cgi-bin/stable_token",
        body.grant_type.as_deref(),
        body.appid.as_deref(),
        body.secret.as_deref(),
    )
    .await?;
    let daily = app.quota.token_daily.unwrap_or(state.quotas.token_daily);
    count_quota(&state, &app, "/cgi-bin/stable_token", daily, now).await?;
    let record = if body.force_refresh == Some(true) {
        let (today, latest) = state
            .store
            .forced_refreshes_since(&app.appid, clock::day_start(now))
            .await?;
        let too_soon = latest.is_some_and(|at| now - at < state.quotas.force_refresh_interval);
        if today >= state.quotas.force_refresh_daily || too_soon {
            return Err(ErrCode::DAILY_QUOTA.into());
        }
        state
            .store
            .issue_token(&new_token(&app, TokenKind::Stable, now, true))
            .await?
    } else {
        state
            .store
            .stable_token(&new_token(&app, TokenKind::Stable, now, false))
            .await?
    };
    Ok(answer(&record, now))
}
