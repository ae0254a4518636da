//! Extractors for the WeChat APIs. Their order in a handler's arguments is the spec's
//! precedence (SPEC §3.4, §1): first `Caller` (41001 → 40001 → 42001 → 48001, then the
//! quotas 45009/45011), then `WeChatBody` (44002 → 45002 → 47001).

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use userorder_model::ErrCode;
use userorder_model::body::{self, MAX_BODY_BYTES};
use userorder_store::{App, ProductState, QuotaCall, TokenRecord};

use crate::clock;
use crate::error::ApiError;
use crate::state::AppState;

/// Seconds a superseded token keeps working (SPEC §3.1).
pub const SUPERSEDED_GRACE: i64 = 300;

/// The app an access_token acts for, after every token check and the quota count.
pub struct Caller {
    pub app: App,
    /// The sandbox clock when the request was checked.
    pub now: i64,
}

/// Why a token does not authorize a call, or `None` when it does.
pub fn token_problem(record: Option<&TokenRecord>, now: i64) -> Option<ErrCode> {
    let Some(record) = record else {
        return Some(ErrCode::INVALID_CREDENTIAL);
    };
    let past_grace = record
        .superseded_at
        .is_some_and(|at| now >= at + SUPERSEDED_GRACE);
    if record.revoked || past_grace {
        Some(ErrCode::INVALID_CREDENTIAL)
    } else if now >= record.expires_at {
        Some(ErrCode::ACCESS_TOKEN_EXPIRED)
    } else {
        None
    }
}

/// Counts the call against the app's quotas: 45009 past the daily limit, 45011 past the
/// per-minute one.
pub async fn count_quota(
    state: &AppState,
    app: &App,
    api: &str,
    daily_limit: i64,
    now: i64,
) -> Result<(), ApiError> {
    let counts = state
        .store
        .count_call(&QuotaCall {
            appid: &app.appid,
            api,
            day_start: clock::day_start(now),
            minute_start: clock::minute_start(now),
        })
        .await?;
    let per_minute = app.quota.per_minute.unwrap_or(state.quotas.per_minute);
    if counts.day > daily_limit {
        Err(ErrCode::DAILY_QUOTA.into())
    } else if counts.minute > per_minute {
        Err(ErrCode::MINUTE_QUOTA.into())
    } else {
        Ok(())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let query: HashMap<String, String> = Query::try_from_uri(&parts.uri)
            .map(|Query(q)| q)
            .unwrap_or_default();
        let token = query
            .get("access_token")
            .filter(|t| !t.is_empty())
            .ok_or(ErrCode::ACCESS_TOKEN_MISSING)?;
        let now = clock::now(state.store.as_ref()).await?;
        let record = state.store.token(token).await?;
        if let Some(code) = token_problem(record.as_ref(), now) {
            return Err(code.into());
        }
        let appid = record.map(|r| r.appid).unwrap_or_default();
        let app = state
            .store
            .app(&appid)
            .await?
            .ok_or(ErrCode::INVALID_CREDENTIAL)?;
        if app.product_state == ProductState::NotOpen {
            return Err(ErrCode::API_UNAUTHORIZED.into());
        }
        let daily = app.quota.daily.unwrap_or(state.quotas.daily);
        count_quota(state, &app, parts.uri.path(), daily, now).await?;
        Ok(Caller { app, now })
    }
}

/// A POST body parsed into a lenient wire struct, whatever the Content-Type says.
pub struct WeChatBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for WeChatBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &AppState) -> Result<Self, ApiError> {
        // One byte past the limit is enough to know the body is too large.
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES + 1)
            .await
            .map_err(|_| ErrCode::CONTENT_SIZE_OUT_OF_LIMIT)?;
        Ok(Self(body::parse(&bytes)?))
    }
}
