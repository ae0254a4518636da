//! The connection layer: accepting TCP connections and serving HTTP/1.1 on them with the
//! timeouts of [`Timeouts`], and draining them on shutdown. axum::serve sets no timer, so
//! a client that never finishes its headers, or idles on a keep-alive connection, would
//! hold its connection forever; hyper's header timeout, running whenever a connection
//! waits for a request, closes both. A body that arrives too slowly is cut off by
//! [`body_deadline`].

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use userorder_model::body::MAX_BODY_BYTES;

pub use crate::config::Timeouts;

/// The most of a body the server reads: past WeChat's limit by one byte (so the limit's
/// errcode can be answered) and past axum's default limit for the sandbox and the pages.
const READ_AT_MOST: usize = if MAX_BODY_BYTES > 2 << 20 {
    MAX_BODY_BYTES + 1
} else {
    (2 << 20) + 1
};

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and waits
/// for the requests in flight (idle connections close at once).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.header);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: wait a
                    // moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            let mut router = router.clone();
            async move {
                let response: Result<Response, Infallible> =
                    tower_service::Service::call(&mut router, request).await;
                response
            }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // A header timeout, a reset, a malformed request: the connection ends.
                tracing::debug!(%remote, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Reads the whole request body within `timeout` (then hands it on as it came); a body
/// still arriving after it answers 408 and closes the connection. The outermost layer: a
/// request cut off here never reached a handler, so nothing of it was stored or journaled.
pub async fn body_deadline(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(timeout, read_at_most(body)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        // The client went away mid-body: nobody reads an answer.
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, format!("reading the body: {e}\n")).into_response(),
        Err(_) => {
            tracing::info!(method = %parts.method, path = %parts.uri.path(), ?timeout, "request body timed out");
            let mut response = (
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {timeout:?}\n"),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// The body, or its first bytes past [`READ_AT_MOST`]: enough for the handlers to see it is
/// longer than they take and answer their own limit's error.
async fn read_at_most(mut body: Body) -> Result<Bytes, axum::Error> {
    let mut first: Option<Bytes> = None;
    let mut joined = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue; // trailers
        };
        match first.take() {
            // Most bodies are one frame: hand it on without a copy.
            None if joined.is_empty() => first = Some(data),
            previous => {
                if let Some(previous) = previous {
                    joined.extend_from_slice(&previous);
                }
                joined.extend_from_slice(&data);
            }
        }
        if first.as_ref().map_or(joined.len(), Bytes::len) > READ_AT_MOST {
            break;
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(joined)))
}
