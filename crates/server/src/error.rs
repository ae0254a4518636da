//! One error type per face of the server. `ApiError` becomes WeChat's HTTP-200 envelope
//! (the envelope middleware adds the rid); `SandboxError` becomes a REST status with
//! `{"error": …}`. Store failures are logged once, here, with their cause chain.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use userorder_model::{ErrCode, Rejection};
use userorder_store::StoreError;

/// The refusal a WeChat API handler answers with; rendered by the envelope middleware.
#[derive(Debug, Clone)]
pub struct Failure(pub Rejection);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Rejected(Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        Self::Rejected(r)
    }
}

impl From<ErrCode> for ApiError {
    fn from(code: ErrCode) -> Self {
        Self::Rejected(Rejection::new(code))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let rejection = match self {
            Self::Rejected(r) => r,
            Self::Store(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "store failure");
                Rejection::new(ErrCode::SYSTEM_ERROR)
            }
        };
        failure_response(rejection)
    }
}

/// A response that carries only the `Failure`; the envelope writes the body.
pub fn failure_response(rejection: Rejection) -> Response {
    let mut response = StatusCode::OK.into_response();
    response.extensions_mut().insert(Failure(rejection));
    response
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("missing or wrong admin token: send Authorization: Bearer <admin token>")]
    Unauthorized,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for SandboxError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Store(e) => {
                tracing::error!(error = %e, "store failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}
