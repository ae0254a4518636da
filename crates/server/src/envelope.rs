//! The outermost middleware. It gives every request a rid, renders WeChat API failures as
//! `{"errcode","errmsg":"… rid: …"}` with HTTP 200 and WeChat's Content-Type, and logs one
//! line per request (rid, method, path, errcode or status, latency).

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use userorder_model::{ErrCode, Rejection};

use crate::error::{Failure, failure_response};
use crate::state::AppState;

pub const JSON_UTF8: &str = "application/json; encoding=utf-8";

/// Paths that follow WeChat's conventions (HTTP 200 envelopes).
pub fn is_wechat_path(path: &str) -> bool {
    path.starts_with("/cgi-bin/") || path.starts_with("/user-order/")
}

pub async fn envelope(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let rid = state.rids.next();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();

    let mut response = next.run(request).await;

    let wechat = is_wechat_path(&path);
    let errcode = match response.extensions_mut().remove::<Failure>() {
        Some(Failure(rejection)) => {
            let code = rejection.code;
            let body = json!({
                "errcode": code,
                "errmsg": format!("{} rid: {rid}", rejection.message),
            });
            let status = response.status();
            response = (status, body.to_string()).into_response();
            Some(code)
        }
        None if wechat => Some(ErrCode::OK),
        None => None,
    };
    if wechat || errcode.is_some() {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    }
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match errcode {
        Some(code) => tracing::info!(
            %rid, %method, %path, errcode = code.0, latency_ms = format_args!("{latency_ms:.2}"), "request"
        ),
        None => tracing::info!(
            %rid, %method, %path, status = response.status().as_u16(),
            latency_ms = format_args!("{latency_ms:.2}"), "request"
        ),
    }
    response
}

/// What a panic in a handler becomes: errcode -1 for WeChat paths, like any server fault.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("handler panicked");
    failure_response(Rejection::new(ErrCode::SYSTEM_ERROR))
}
