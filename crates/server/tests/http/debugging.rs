//! The request journal (SPEC §8.1) and scripted faults (SPEC §8).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use userorder_client::AppClient;
use userorder_model::ErrCode;
use userorder_server::JournalRetention;

use crate::common::*;

async fn rid_get(
    server: &TestServer,
    token: &str,
    rid: &str,
) -> Result<Value, userorder_client::Error> {
    server
        .client
        .post("/cgi-bin/openapi/rid/get", token, &json!({"rid": rid}))
        .await
}

async fn a_failed_uploads_rid_returns_its_request_and_response_to_its_app_only(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let other = server.shop().await;
    let mut body = single_body(&shop, "J1", T0);
    body["order_list"][0]["item_list"][0]["name"] = json!("");
    let err = server
        .client
        .upload_shopping_info(&shop.token, &body)
        .await
        .expect_err("refused");
    let userorder_client::Error::WeChat {
        rid: Some(rid),
        message,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    let found = rid_get(&server, &shop.token, &rid)
        .await
        .expect("rid found");
    let request = &found["request"];
    assert_eq!(
        request["request_url"],
        "/user-order/orders?access_token=***"
    );
    let sent: Value =
        serde_json::from_str(request["request_body"].as_str().expect("body")).expect("json");
    assert_eq!(sent, body);
    let answered: Value =
        serde_json::from_str(request["response_body"].as_str().expect("body")).expect("json");
    assert_eq!(answered["errcode"], 268485207);
    assert_eq!(answered["errmsg"], json!(message));
    assert_eq!(request["client_ip"], "127.0.0.1");
    assert!(
        request["invoke_time"]
            .as_i64()
            .is_some_and(|t| t > 1_700_000_000)
    );

    let missing = rid_get(&server, &other.token, &rid).await;
    assert_eq!(
        missing.err().and_then(|e| e.code()),
        Some(ErrCode::RID_NOT_FOUND),
        "another app's rid"
    );
    let unknown = rid_get(&server, &shop.token, "00000000-00000000-00000000").await;
    assert_eq!(
        unknown.err().and_then(|e| e.code()),
        Some(ErrCode::RID_NOT_FOUND)
    );
}

async fn the_journal_keeps_its_bound_under_ten_times_its_size(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        JournalRetention {
            max_entries: 20,
            max_age_seconds: 3600,
        },
    )
    .await;
    let shop = server.shop().await;
    let mut first_rid = None;
    for i in 0..200 {
        let err = server
            .client
            .upload_shopping_info(&shop.token, &json!({"n": i}))
            .await
            .expect_err("refused");
        if let userorder_client::Error::WeChat { rid, .. } = err {
            first_rid = first_rid.or(rid);
        }
    }
    let entries = journal_json(&server.sandbox, &shop.appid).await;
    assert!(entries.len() <= 20, "{} entries kept", entries.len());
    assert!(
        entries.len() >= 10,
        "the newest are kept: {}",
        entries.len()
    );
    let first = first_rid.expect("a rid");
    let gone = rid_get(&server, &shop.token, &first).await;
    assert_eq!(
        gone.err().and_then(|e| e.code()),
        Some(ErrCode::RID_NOT_FOUND)
    );
}

async fn scripted_faults_answer_in_turn_change_nothing_and_are_journaled(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    server
        .sandbox
        .script_faults(&shop.appid, None, &[40001, 40001], 0)
        .await
        .expect("faults");
    let body = single_body(&shop, "F1", T0);
    for _ in 0..2 {
        let result = server.client.upload_shopping_info(&shop.token, &body).await;
        assert_refused(
            result,
            ErrCode::INVALID_CREDENTIAL,
            "invalid credential",
            "scripted 40001",
        );
    }
    assert!(
        server
            .sandbox
            .orders(&shop.appid)
            .await
            .expect("orders")
            .is_empty(),
        "faulted calls store nothing"
    );
    server
        .client
        .upload_shopping_info(&shop.token, &body)
        .await
        .expect("third call behaves normally");
    let journal = journal_json(&server.sandbox, &shop.appid).await;
    let codes: Vec<i64> = journal
        .iter()
        .filter_map(|e| e["errcode"].as_i64())
        .collect();
    assert_eq!(&codes[..3], &[0, 40001, 40001], "newest first");

    // A path-scoped fault with a delay leaves other paths alone.
    server
        .sandbox
        .script_faults(&shop.appid, Some("/user-order/combine-orders"), &[-1], 300)
        .await
        .expect("faults");
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "F2", T0))
        .await
        .expect("other path");
    let started = Instant::now();
    let result = server
        .client
        .upload_combined_shopping_info(&shop.token, &combined_body(&shop, "FM", &["FS"], T0))
        .await;
    assert_refused(result, ErrCode::SYSTEM_ERROR, "system error", "scripted -1");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "answered after the delay"
    );

    server
        .sandbox
        .script_faults(&shop.appid, None, &[45009, 45009], 0)
        .await
        .expect("faults");
    let cleared = server.sandbox.post::<Value>("/faults", &json!({})).await;
    assert!(cleared.is_err(), "a fault needs an appid and errcodes");
    let http = reqwest::Client::new();
    let removed: Value = http
        .delete(format!(
            "{}/sandbox/faults?appid={}",
            server.base, shop.appid
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(removed["removed"], 2);
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "F3", T0))
        .await
        .expect("faults cleared");
}

async fn a_retrying_client_recovers_from_scripted_faults(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    server
        .sandbox
        .script_faults(&shop.appid, None, &[40001, -1, 40001], 0)
        .await
        .expect("faults");
    let app = AppClient::new(server.client.clone(), &shop.appid, &shop.secret)
        .with_retries(4, Duration::from_millis(10));
    let answer: Value = app
        .post("/user-order/orders", &single_body(&shop, "R1", T0))
        .await
        .expect("recovered");
    assert_eq!(answer["errcode"], 0);
    assert_eq!(
        server
            .sandbox
            .orders(&shop.appid)
            .await
            .expect("orders")
            .len(),
        1
    );

    // Retrying is bounded: more faults than retries surface the last error.
    server
        .sandbox
        .script_faults(&shop.appid, None, &[-1, -1, -1], 0)
        .await
        .expect("faults");
    let app = AppClient::new(server.client.clone(), &shop.appid, &shop.secret)
        .with_retries(1, Duration::from_millis(1));
    let failed: Result<Value, _> = app
        .post("/user-order/orders", &single_body(&shop, "R2", T0))
        .await;
    assert_eq!(
        failed.err().and_then(|e| e.code()),
        Some(ErrCode::SYSTEM_ERROR)
    );
}

on_every_backend!(
    a_failed_uploads_rid_returns_its_request_and_response_to_its_app_only,
    the_journal_keeps_its_bound_under_ten_times_its_size,
    scripted_faults_answer_in_turn_change_nothing_and_are_journaled,
    a_retrying_client_recovers_from_scripted_faults,
);
