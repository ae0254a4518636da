//! The floor server: the least a server can do with the benchmark's requests — parse the
//! JSON body and answer `{"errcode":0,"errmsg":"ok"}` — on the same runtime, HTTP stack and
//! allocator as userorder. Its rate is what this machine allows at all; userorder's rate
//! divided by it is a figure that survives a noisy or slower machine.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let app = Router::new().fallback(answer);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    // Same log line as `serve`, so the bench finds either address the same way.
    tracing::info!(addr = %listener.local_addr()?, "floor server listening");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn answer(body: Bytes) -> impl IntoResponse {
    let answer: &'static str =
        if body.is_empty() || serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
            r#"{"errcode":0,"errmsg":"ok"}"#
        } else {
            r#"{"errcode":47001,"errmsg":"data format error"}"#
        };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        answer,
    )
}
