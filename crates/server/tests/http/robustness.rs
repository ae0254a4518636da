//! Malformed input, concurrency and restarts: nothing accepted is lost, nothing refused is
//! stored.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::common::*;

async fn malformed_bodies_get_their_errcode_and_change_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let good = single_body(&shop, "M1", T0);
    server
        .client
        .upload_shopping_info(&shop.token, &good)
        .await
        .expect("stored first");
    let valid = good.to_string();

    let deep = format!("{{\"order_key\":{}1{}}}", "[".repeat(70), "]".repeat(70));
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let mut invalid_utf8 = valid.clone().into_bytes();
    let at = valid.find("MO-M1").expect("merchant_order_no");
    invalid_utf8[at] = 0xff;
    let cases: Vec<(&str, Vec<u8>, i64)> = vec![
        ("empty body", Vec::new(), 44002),
        (
            "truncated JSON",
            valid.as_bytes()[..valid.len() / 2].to_vec(),
            47001,
        ),
        ("a JSON array", b"[1,2]".to_vec(), 47001),
        ("a JSON string", b"\"x\"".to_vec(), 47001),
        (
            "string where an integer belongs",
            valid
                .replace("\"quantity\":2", "\"quantity\":\"2\"")
                .into_bytes(),
            47001,
        ),
        (
            "fraction where an integer belongs",
            valid
                .replace("\"quantity\":2", "\"quantity\":2.5")
                .into_bytes(),
            47001,
        ),
        (
            "integer past i64",
            valid
                .replace("\"quantity\":2", "\"quantity\":9223372036854775808")
                .into_bytes(),
            47001,
        ),
        (
            "object where a string belongs",
            valid
                .replace(
                    "\"merchant_order_no\":\"MO-M1\"",
                    "\"merchant_order_no\":{}",
                )
                .into_bytes(),
            47001,
        ),
        ("nesting deeper than 64", deep.into_bytes(), 47001),
        ("2 MiB body", big.into_bytes(), 45002),
        ("invalid UTF-8", invalid_utf8, 47001),
    ];
    for (case, bytes, code) in cases {
        let answer = server
            .raw_post("/user-order/orders", &shop.token, bytes)
            .await;
        assert_eq!(errcode(&answer), code, "{case}: {answer}");
        assert!(
            is_rid(
                text(&answer, "errmsg")
                    .rsplit(' ')
                    .next()
                    .unwrap_or_default()
            ),
            "{case}: {answer}"
        );
    }
    let orders = orders_json(&server.sandbox, &shop.appid).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["version"], 1);
    assert_eq!(orders[0]["order_list"][0]["merchant_order_no"], "MO-M1");
}

async fn bodies_parse_without_a_content_type_and_chinese_text_round_trips(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let mut body = single_body(&shop, "U1", T0);
    body["order_list"][0]["item_list"][0]["name"] = json!("腾讯公仔 🐧 «限量»");
    // raw_post sends bytes with no Content-Type, as wechatpy does.
    let answer = server
        .raw_post("/user-order/orders", &shop.token, body.to_string())
        .await;
    assert_eq!(answer, json!({"errcode": 0, "errmsg": "ok"}));
    let orders = orders_json(&server.sandbox, &shop.appid).await;
    assert_eq!(
        orders[0]["order_list"][0]["item_list"][0]["name"],
        "腾讯公仔 🐧 «限量»"
    );
}

async fn fifty_concurrent_uploads_of_one_order_keep_the_latest(backend: Backend) {
    let server = Arc::new(TestServer::start(backend).await);
    let shop = Arc::new(server.shop().await);
    let mut tasks = Vec::new();
    for i in 0..50u32 {
        let (server, shop) = (server.clone(), shop.clone());
        tasks.push(tokio::spawn(async move {
            let time = format!("2026-11-26T10:00:{:02}.{:03}+08:00", i / 10, i % 10);
            let mut body = single_body(&shop, "RACE", &time);
            body["order_list"][0]["merchant_order_no"] = json!(format!("V{i}"));
            server.client.upload_shopping_info(&shop.token, &body).await
        }));
    }
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => {}
            Err(e) => assert!(
                e.to_string().contains("upload_time is not later"),
                "every request is answered 0 or stale, got {e}"
            ),
        }
    }
    let orders = orders_json(&server.sandbox, &shop.appid).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["order_list"][0]["merchant_order_no"], "V49");
    assert_eq!(orders[0]["upload_time"], "2026-11-26T10:00:04.009+08:00");
}

/// Concurrent writes share transactions on SQLite (group commit): a write refused halfway
/// through — its sub-order key is already another order's — must leave no trace, and its
/// neighbours in the same batch must be kept whole.
async fn colliding_combined_uploads_keep_winners_whole_and_losers_traceless(backend: Backend) {
    let server = Arc::new(TestServer::start(backend).await);
    let shop = Arc::new(server.shop().await);
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let (server, shop) = (server.clone(), shop.clone());
        tasks.push(tokio::spawn(async move {
            // Orders 2k and 2k+1 both claim SHARED-k besides a sub-order of their own.
            let own = format!("OWN-{i}");
            let shared = format!("SHARED-{}", i / 2);
            let body = combined_body(&shop, &format!("C-{i}"), &[&own, &shared], T0);
            let result = server
                .client
                .upload_combined_shopping_info(&shop.token, &body)
                .await;
            (i, result)
        }));
    }
    let mut winners = std::collections::BTreeSet::new();
    let mut losers = Vec::new();
    for task in tasks {
        let (i, result) = task.await.expect("task");
        match result {
            Ok(()) => {
                winners.insert(i);
            }
            Err(e) => {
                assert_eq!(e.code().map(|c| c.0), Some(268435461), "{e}");
                losers.push(i);
            }
        }
    }
    for pair in 0..20 {
        let won = [2 * pair, 2 * pair + 1]
            .iter()
            .filter(|i| winners.contains(i))
            .count();
        assert_eq!(
            won, 1,
            "exactly one order of pair {pair} holds SHARED-{pair}"
        );
    }
    let orders = orders_json(&server.sandbox, &shop.appid).await;
    assert_eq!(orders.len(), 20);
    for order in &orders {
        assert_eq!(
            order["sub_orders"].as_array().map(Vec::len),
            Some(2),
            "{order}"
        );
    }
    // A loser's own sub-order key was rolled back with it: a new order can claim it.
    for i in losers {
        let body = combined_body(&shop, &format!("RETRY-{i}"), &[&format!("OWN-{i}")], T0);
        server
            .client
            .upload_combined_shopping_info(&shop.token, &body)
            .await
            .expect("the loser's own sub-order key is free");
    }
}

async fn a_restart_keeps_uploads_tokens_payments_and_association(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let created = server
        .sandbox
        .create_payment(&json!({"appid": shop.appid, "openid": shop.openid, "mchid": shop.mchid, "out_trade_no": "R1", "amount": 5}))
        .await
        .expect("payment");
    let txid = text(&created, "transaction_id");
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "R1", T0))
        .await
        .expect("upload");
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "R2", T0))
        .await
        .expect("upload");
    server.sandbox.pay(&txid).await.expect("pay");
    let before: Vec<Value> = orders_json(&server.sandbox, &shop.appid).await;

    let db = server.stop().await;
    let server = TestServer::start_on(db, userorder_server::JournalRetention::default()).await;

    let after: Vec<Value> = orders_json(&server.sandbox, &shop.appid).await;
    assert_eq!(after, before);
    // The token from before the restart still works, and so do the openid and merchant.
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "R3", T0))
        .await
        .expect("old token");
    let locked = server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "R1", T1))
        .await;
    assert!(locked.is_err(), "association survived the restart");
    let payment = server
        .sandbox
        .get::<Value>(&format!("/payments/{txid}"))
        .await
        .expect("payment");
    assert_eq!(text(&payment, "state"), "SUCCESS");
}

async fn the_sandbox_requires_the_admin_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let http = reqwest::Client::new();
    for auth in [None, Some("Bearer wrong")] {
        let mut request = http
            .post(format!("{}/sandbox/apps", server.base))
            .json(&json!({}));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.expect("json");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("admin token")),
            "{body}"
        );
    }
    let bad = server.sandbox.create_app(&json!({"appid": "nope"})).await;
    assert!(
        matches!(
            bad,
            Err(userorder_client::Error::Sandbox { status: 400, .. })
        ),
        "{bad:?}"
    );
    let app = server.sandbox.create_app(&json!({})).await.expect("app");
    let again = server
        .sandbox
        .create_app(&json!({"appid": app.appid}))
        .await;
    assert!(
        matches!(
            again,
            Err(userorder_client::Error::Sandbox { status: 409, .. })
        ),
        "{again:?}"
    );
    let missing = server
        .sandbox
        .get::<Value>("/payments/4200000000000000000000000000")
        .await;
    assert!(
        matches!(
            missing,
            Err(userorder_client::Error::Sandbox { status: 404, .. })
        ),
        "{missing:?}"
    );
}

on_every_backend!(
    malformed_bodies_get_their_errcode_and_change_nothing,
    bodies_parse_without_a_content_type_and_chinese_text_round_trips,
    fifty_concurrent_uploads_of_one_order_keep_the_latest,
    colliding_combined_uploads_keep_winners_whole_and_losers_traceless,
    a_restart_keeps_uploads_tokens_payments_and_association,
    the_sandbox_requires_the_admin_token,
);
