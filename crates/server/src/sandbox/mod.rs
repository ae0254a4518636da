//! The sandbox API (SPEC §8): what WeChat would otherwise own — apps, merchants, openids,
//! payments and the clock — as REST under `/sandbox/`, behind the admin token (`app`
//! routes and documents the handlers).

pub mod apiv3;
pub mod debugging;
pub mod events;
pub mod identities;
pub mod payer;
pub mod payments;
pub mod platforms;
pub mod trade;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::error::SandboxError;
use crate::secrets;
use crate::state::AppState;

pub(crate) use payments::pay;

/// The sandbox answers only the admin token.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, SandboxError> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if secrets::same(presented.as_bytes(), state.admin_token.as_bytes()) {
        Ok(next.run(request).await)
    } else {
        Err(SandboxError::Unauthorized)
    }
}

/// A JSON body whatever the Content-Type; an empty body is `{}`.
pub struct SandboxJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for SandboxJson<T> {
    type Rejection = SandboxError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, SandboxError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| SandboxError::BadRequest(e.body_text()))?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes)
            .map(Self)
            .map_err(|e| SandboxError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

/// A query string; one that does not parse is a 400 in the sandbox's JSON, like a body.
pub struct SandboxQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for SandboxQuery<T> {
    type Rejection = SandboxError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, SandboxError> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(q)| Self(q))
            .map_err(|e| SandboxError::BadRequest(format!("invalid query: {}", e.body_text())))
    }
}
