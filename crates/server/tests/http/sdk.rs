//! The Rust SDK against a real server: single-flight token refresh, recovery when the token
//! expires mid-run, bounded retries, and pre-validation that matches the server rule for rule.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;
use userorder_client::{AppClient, TokenSource};
use userorder_model::ErrCode;
use userorder_model::wire::UploadShoppingInfoIn;

use crate::common::*;

fn typed(body: Value) -> UploadShoppingInfoIn {
    serde_json::from_value(body).expect("a wire body")
}

async fn journal_count(server: &TestServer, appid: &str, prefix: &str) -> usize {
    let entries = journal_json(&server.sandbox, appid).await;
    entries
        .iter()
        .filter(|e| {
            e["request_url"]
                .as_str()
                .is_some_and(|u| u.starts_with(prefix))
        })
        .count()
}

async fn a_hundred_calls_with_an_expired_token_fetch_it_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let app = Arc::new(AppClient::new(
        server.client.clone(),
        &shop.appid,
        &shop.secret,
    ));
    app.access_token().await.expect("token");
    // The server's clock moves past the lifetime; the client still believes its token.
    server.sandbox.advance_clock(7200).await.expect("clock");
    let before = journal_count(&server, &shop.appid, "/cgi-bin/token").await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (app, body) = (
            app.clone(),
            typed(single_body(&shop, &format!("SF{i}"), T0)),
        );
        tasks.push(tokio::spawn(async move {
            app.upload_shopping_info(&body).await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("every call recovers");
    }
    let after = journal_count(&server, &shop.appid, "/cgi-bin/token").await;
    assert_eq!(after - before, 1, "exactly one token fetch");
    assert_eq!(
        server
            .sandbox
            .get::<Value>(&format!("/orders?appid={}&limit=1000", shop.appid))
            .await
            .expect("orders")["orders"]
            .as_array()
            .map(Vec::len),
        Some(100)
    );
}

async fn a_bulk_run_recovers_when_its_token_expires_midway(backend: Backend) {
    let server = Arc::new(TestServer::start(backend).await);
    let shop = Arc::new(server.shop().await);
    let app = Arc::new(
        AppClient::new(server.client.clone(), &shop.appid, &shop.secret)
            .with_token_source(TokenSource::Stable),
    );
    let done = Arc::new(AtomicUsize::new(0));
    let permits = Arc::new(Semaphore::new(8));
    let mut tasks = Vec::new();
    for i in 0..300 {
        let (app, shop, server, done, permits) = (
            app.clone(),
            shop.clone(),
            server.clone(),
            done.clone(),
            permits.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = app
                .upload_shopping_info(&typed(single_body(&shop, &format!("BK{i}"), T0)))
                .await;
            if done.fetch_add(1, Ordering::SeqCst) == 100 {
                server.sandbox.advance_clock(7200).await.expect("clock");
            }
            result
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("every upload succeeds");
    }
    let stored = server
        .sandbox
        .get::<Value>(&format!("/orders?appid={}&limit=1000", shop.appid))
        .await
        .expect("orders");
    assert_eq!(stored["orders"].as_array().map(Vec::len), Some(300));
    assert!(
        journal_count(&server, &shop.appid, "/cgi-bin/stable_token").await >= 2,
        "refetched after expiry"
    );
}

async fn retrying_stops_after_the_bound(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    server
        .sandbox
        .script_faults(&shop.appid, Some("/user-order/orders"), &[-1; 10], 0)
        .await
        .expect("faults");
    let app = AppClient::new(server.client.clone(), &shop.appid, &shop.secret)
        .with_retries(2, Duration::from_millis(1));
    let result = app
        .upload_shopping_info(&typed(single_body(&shop, "RB", T0)))
        .await;
    let err = result.expect_err("still failing");
    assert_eq!(err.code(), Some(ErrCode::SYSTEM_ERROR));
    assert!(err.rid().is_some() && err.hint().is_some_and(|h| h.contains("Retry")));
    assert_eq!(
        journal_count(&server, &shop.appid, "/user-order/orders").await,
        3,
        "one call and two retries"
    );
}

on_every_backend!(
    a_hundred_calls_with_an_expired_token_fetch_it_once,
    a_bulk_run_recovers_when_its_token_expires_midway,
    retrying_stops_after_the_bound,
);
