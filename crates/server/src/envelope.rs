//! The outermost middleware. It gives every request a rid, renders WeChat API failures as
//! `{"errcode","errmsg":"… rid: …"}` with HTTP 200 and WeChat's Content-Type, journals
//! WeChat API calls (SPEC §8.1) and logs one line per request (rid, method, path, errcode
//! or status, latency).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;
use userorder_model::{ErrCode, Rejection};
use userorder_store::JournalEntry;

use crate::clock;
use crate::error::{Refused, StoreFault, failure_response};
use crate::journal::{clip, masked_url};
use crate::state::AppState;

pub const JSON_UTF8: &str = "application/json; encoding=utf-8";

/// What the extractors learn about a request that the envelope journals afterwards: the
/// appid the call acts for and the body as received.
#[derive(Debug, Default)]
pub struct Scope {
    pub appid: OnceLock<String>,
    pub body: OnceLock<Bytes>,
}

impl Scope {
    pub fn of(extensions: &axum::http::Extensions) -> Option<&Arc<Scope>> {
        extensions.get::<Arc<Scope>>()
    }
}

/// Paths that follow WeChat's conventions (HTTP 200 envelopes).
pub fn is_wechat_path(path: &str) -> bool {
    path.starts_with("/cgi-bin/") || path.starts_with("/user-order/") || path.starts_with("/wxa/")
}

pub async fn envelope(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let rid = state.rids.next();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let url = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    let client_ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_default();
    let scope = Arc::new(Scope::default());
    request.extensions_mut().insert(scope.clone());

    // Whatever the request logs on its way carries its rid.
    let mut response = next
        .run(request)
        .instrument(tracing::info_span!("request", %rid))
        .await;
    let fault = response.extensions_mut().remove::<StoreFault>();

    let wechat = is_wechat_path(&path);
    let mut response_body = None;
    let errcode = match response.extensions_mut().remove::<Refused>() {
        Some(Refused(rejection)) => {
            let code = rejection.code;
            let body = json!({
                "errcode": code,
                "errmsg": format!("{} rid: {rid}", rejection.message),
            })
            .to_string();
            let status = response.status();
            response_body = Some(Bytes::from(body.clone()));
            response = (status, body).into_response();
            Some(code)
        }
        None if wechat => Some(ErrCode::OK),
        None => None,
    };
    if path.starts_with("/v3/") && response.extensions().get::<Panicked>().is_some() {
        // WeChat Pay's convention for a server fault (SPEC §11.14).
        response = crate::pay_v3::V3Error::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "系统错误",
        )
        .into_response();
    }
    if path.starts_with("/v3/")
        && let Ok(value) = HeaderValue::from_str(&rid)
    {
        // WeChat Pay's answers name their request (SPEC §11.1).
        response.headers_mut().insert("request-id", value);
    }
    if wechat || errcode.is_some() {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    }
    let cost = started.elapsed();
    if wechat {
        // Success bodies are small JSON; read them to journal them, then send them on.
        let body = match response_body {
            Some(body) => body,
            None => {
                let (parts, body) = response.into_parts();
                let bytes = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                response = Response::from_parts(parts, Body::from(bytes.clone()));
                bytes
            }
        };
        if let Some(appid) = scope.appid.get() {
            state.journal.record(JournalEntry {
                rid: rid.clone(),
                appid: Some(appid.clone()),
                invoke_time: clock::real_now(),
                cost_in_ms: cost.as_millis() as i64,
                request_url: masked_url(&url),
                request_body: scope.body.get().map(|b| clip(b)).unwrap_or_default(),
                response_body: clip(&body),
                client_ip,
                errcode: errcode.map(|c| c.0).unwrap_or_default(),
            });
        }
    }
    let known =
        !(errcode == Some(ErrCode::INVALID_URL) || response.status() == StatusCode::NOT_FOUND);
    let outcome = match errcode {
        Some(code) => code.0.to_string(),
        None => response.status().as_u16().to_string(),
    };
    state.metrics.observe(&path, known, &outcome, cost);
    let latency_ms = cost.as_secs_f64() * 1000.0;
    if let Some(StoreFault(cause)) = fault {
        tracing::error!(%rid, %method, %path, %cause, "store failure");
    }
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
    let mut response = failure_response(Rejection::new(ErrCode::SYSTEM_ERROR));
    response.extensions_mut().insert(Panicked);
    response
}

/// Marks the answer to a panic, which `/v3/` rewrites in its own convention.
#[derive(Debug, Clone, Copy)]
pub struct Panicked;
