//! Connection timeouts: a client that sends its headers or body too slowly, or idles on a
//! keep-alive connection, is cut off; a request in flight is not, however long it takes.
//! Raw TCP, since an HTTP client cannot send half a request.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use userorder_server::Timeouts;

use crate::common::*;

const SHORT: Timeouts = Timeouts {
    header: Duration::from_millis(700),
    body: Duration::from_millis(700),
};

async fn connect(server: &TestServer) -> TcpStream {
    let addr = server.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("connect")
}

/// Everything the server sends until it closes the connection, and how long that took.
async fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    read.await
        .expect("the server closes the connection within 10 s")
        .expect("read");
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

async fn slow_headers_are_cut_off(backend: Backend) {
    let server = TestServer::start_with_timeouts(backend, SHORT).await;
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let (answer, after) = until_closed(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    assert!(after < Duration::from_secs(5), "closed after {after:?}");
}

async fn idle_keep_alive_connections_are_closed(backend: Backend) {
    let server = TestServer::start_with_timeouts(backend, SHORT).await;
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let (answer, after) = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("ok\n"), "{answer}");
    assert!(
        after >= Duration::from_millis(600) && after < Duration::from_secs(5),
        "an idle keep-alive connection closed after {after:?}"
    );
}

async fn a_slow_body_is_answered_408(backend: Backend) {
    let server = TestServer::start_with_timeouts(backend, SHORT).await;
    let shop = server.shop().await;
    let mut stream = connect(&server).await;
    let head = format!(
        "POST /user-order/orders?access_token={} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"order_key\":",
        shop.token
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let (answer, after) = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(after < Duration::from_secs(5), "answered after {after:?}");
    // Nothing reached a handler: the app's journal has no such call.
    assert!(
        journal_json(&server.sandbox, &shop.appid)
            .await
            .iter()
            .all(|e| e["request_url"]
                .as_str()
                .is_some_and(|url| !url.starts_with("/user-order/orders")))
    );
}

/// A request whose handler takes longer than both timeouts still gets its answer.
async fn requests_in_flight_are_not_cut_off(backend: Backend) {
    let server = TestServer::start_with_timeouts(backend, SHORT).await;
    let shop = server.shop().await;
    server
        .sandbox
        .script_faults(&shop.appid, Some("/user-order/orders"), &[45009], 2000)
        .await
        .expect("faults");
    let started = Instant::now();
    let refused = server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "T1", T0))
        .await;
    assert_eq!(
        refused.err().and_then(|e| e.code()).map(|c| c.0),
        Some(45009)
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
}

on_every_backend!(
    slow_headers_are_cut_off,
    idle_keep_alive_connections_are_closed,
    a_slow_body_is_answered_408,
    requests_in_flight_are_not_cut_off,
);
