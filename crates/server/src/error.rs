//! One error type per face of the server. `ApiError` becomes WeChat's HTTP-200 envelope
//! (the envelope middleware adds the rid); `SandboxError` becomes a REST status with
//! `{"error": …}`. A store failure rides on the response as a [`StoreFault`], which the
//! envelope logs once, with the request's rid and the failure's cause chain.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use userorder_model::{ErrCode, Rejection};
use userorder_store::StoreError;

/// A store failure behind a response, for the envelope to log (once, with the rid).
#[derive(Debug, Clone)]
pub struct StoreFault(pub String);

impl StoreFault {
    /// The failure and every cause under it, outermost first.
    pub fn of(error: &StoreError) -> Self {
        let mut chain = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        Self(chain)
    }

    /// `response`, carrying this fault.
    pub fn on(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }
}

/// The refusal a WeChat API handler answers with; rendered by the envelope middleware.
#[derive(Debug, Clone)]
pub struct Refused(pub Rejection);

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
        match self {
            Self::Rejected(r) => failure_response(r),
            Self::Store(e) => {
                StoreFault::of(&e).on(failure_response(Rejection::new(ErrCode::SYSTEM_ERROR)))
            }
        }
    }
}

/// A response that carries only the `Refused`; the envelope writes the body.
pub fn failure_response(rejection: Rejection) -> Response {
    let mut response = StatusCode::OK.into_response();
    response.extensions_mut().insert(Refused(rejection));
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
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        match &self {
            Self::Store(e) => StoreFault::of(e).on(response),
            _ => response,
        }
    }
}
