//! Several `userorder serve` processes on one PostgreSQL database (issue: scale past one
//! machine): every rule of SPEC §3 and §5.4 holds across processes, and a server survives
//! losing its database connections. Runs on the PostgreSQL server of
//! `userorder_store::testing::Backend::postgres` (the machine's own by default).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Process, shop, upload};
use serde_json::{Value, json};
use userorder_client::{Error, Sandbox};
use userorder_model::ErrCode;
use userorder_model::association::VerifyResult;
use userorder_store::testing::{Backend, TestDb};

async fn unix_now(sandbox: &Sandbox) -> i64 {
    sandbox.clock().await.expect("clock").unix
}

/// Two processes on a fresh PostgreSQL database.
async fn two_processes() -> (TestDb, Process, Process) {
    let db = TestDb::create(&Backend::postgres()).await;
    let first = Process::spawn(&db);
    let second = Process::spawn(&db);
    (db, first, second)
}

#[tokio::test]
#[cfg_attr(
    userorder_no_postgres,
    ignore = "built with --cfg userorder_no_postgres"
)]
async fn tokens_and_the_clock_are_shared_between_processes() {
    let (_db, one, two) = two_processes().await;
    let shop = shop(&one.sandbox, json!({})).await;
    let old = one
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token;
    two.client
        .upload_shopping_info(&old, &upload(&shop, "X1", "2026-11-26T10:00:00Z", "a"))
        .await
        .expect("process 1's token on process 2");

    let before = unix_now(&two.sandbox).await;
    one.sandbox
        .advance_clock(1000)
        .await
        .expect("advance through process 1");
    assert!(
        unix_now(&two.sandbox).await >= before + 1000,
        "process 2 reads the advanced clock"
    );

    let new = two
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("refresh through process 2")
        .access_token;
    one.client
        .upload_shopping_info(&old, &upload(&shop, "X2", "2026-11-26T10:00:00Z", "b"))
        .await
        .expect("inside the grace");
    two.sandbox.advance_clock(301).await.expect("advance");
    let result = one
        .client
        .upload_shopping_info(&old, &upload(&shop, "X3", "2026-11-26T10:00:00Z", "c"))
        .await;
    assert_eq!(
        result.err().and_then(|e| e.code()),
        Some(ErrCode::INVALID_CREDENTIAL),
        "superseded on process 1 too"
    );
    one.client
        .upload_shopping_info(&new, &upload(&shop, "X3", "2026-11-26T10:00:00Z", "c"))
        .await
        .expect("new token on process 1");
}

#[tokio::test]
#[cfg_attr(
    userorder_no_postgres,
    ignore = "built with --cfg userorder_no_postgres"
)]
async fn concurrent_uploads_across_processes_keep_the_latest() {
    let (_db, one, two) = two_processes().await;
    let shop = Arc::new(shop(&one.sandbox, json!({})).await);
    let token = one
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token;
    let clients = [one.client.clone(), two.client.clone()];
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let (client, shop, token) = (
            clients[(i % 2) as usize].clone(),
            shop.clone(),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let time = format!("2026-11-26T10:{:02}:{:02}.000+08:00", i / 60, i % 60);
            client
                .upload_shopping_info(&token, &upload(&shop, "RACE", &time, &format!("V{i}")))
                .await
        }));
    }
    let (mut accepted, mut stale) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => accepted += 1,
            Err(Error::WeChat {
                code: ErrCode::INVALID_PARAMETER,
                message,
                ..
            }) if message.contains("upload_time is not later") => stale += 1,
            Err(other) => panic!("every request answers 0 or stale, got {other}"),
        }
    }
    assert_eq!(accepted + stale, 200);
    let orders = two
        .sandbox
        .get::<Value>(&format!("/orders?appid={}&history=true", shop.appid))
        .await
        .expect("orders");
    let order = &orders["orders"][0];
    assert_eq!(order["order_list"][0]["merchant_order_no"], "V199");
    assert_eq!(order["upload_time"], "2026-11-26T10:03:19.000+08:00");
    assert_eq!(
        order["version"], accepted,
        "one version per accepted upload"
    );
    assert_eq!(
        order["versions"].as_array().map(Vec::len),
        Some(accepted as usize)
    );
}

#[tokio::test]
#[cfg_attr(
    userorder_no_postgres,
    ignore = "built with --cfg userorder_no_postgres"
)]
async fn a_payment_paid_on_one_process_associates_an_upload_made_on_the_other() {
    let (_db, one, two) = two_processes().await;
    let shop = shop(&one.sandbox, json!({})).await;
    let token = two
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token;
    for (out_trade_no, pay_first) in [("P1", false), ("P2", true)] {
        let payment = one
            .sandbox
            .create_payment(&json!({"appid": shop.appid, "openid": shop.openid, "mchid": shop.mchid, "out_trade_no": out_trade_no, "amount": 100}))
            .await
            .expect("payment");
        let txid = payment.keys.transaction_id;
        if pay_first {
            one.sandbox.pay(&txid).await.expect("pay");
        }
        two.client
            .upload_shopping_info(
                &token,
                &upload(&shop, out_trade_no, "2026-11-26T10:00:00Z", "a"),
            )
            .await
            .expect("upload");
        if !pay_first {
            one.sandbox.pay(&txid).await.expect("pay");
        }
    }
    let orders = two.sandbox.orders(&shop.appid).await.expect("orders");
    assert_eq!(orders.len(), 2);
    assert!(
        orders
            .iter()
            .all(|o| o.stored.verify_result == VerifyResult::Associated),
        "{orders:?}"
    );
}

#[tokio::test]
#[cfg_attr(
    userorder_no_postgres,
    ignore = "built with --cfg userorder_no_postgres"
)]
async fn quotas_count_calls_on_every_process() {
    let (_db, one, two) = two_processes().await;
    // A whole fresh minute for the count.
    let now = unix_now(&one.sandbox).await;
    one.sandbox
        .advance_clock(60 - now.rem_euclid(60))
        .await
        .expect("align");
    let shop = shop(&one.sandbox, json!({"quota": {"per_minute": 4}})).await;
    let token = one
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token;
    for (i, process) in [&one, &two, &one, &two].into_iter().enumerate() {
        process
            .client
            .upload_shopping_info(
                &token,
                &upload(&shop, &format!("Q{i}"), "2026-11-26T10:00:00Z", "q"),
            )
            .await
            .expect("within quota");
    }
    let result = two
        .client
        .upload_shopping_info(&token, &upload(&shop, "Q9", "2026-11-26T10:00:00Z", "q"))
        .await;
    assert_eq!(
        result.err().and_then(|e| e.code()),
        Some(ErrCode::MINUTE_QUOTA)
    );
}

#[tokio::test]
#[cfg_attr(
    userorder_no_postgres,
    ignore = "built with --cfg userorder_no_postgres"
)]
async fn losing_the_database_answers_system_error_writes_nothing_half_and_recovers() {
    let db = TestDb::create(&Backend::postgres()).await;
    let one = Process::spawn(&db);
    let shop = Arc::new(shop(&one.sandbox, json!({})).await);
    let token = one
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token;
    let name = db.url.rsplit('/').next().expect("database name").to_owned();
    let kill = format!(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = '{name}' AND pid <> pg_backend_pid()) AS killed"
    );

    let mut tasks = Vec::new();
    for i in 0..120u32 {
        let (client, shop, token) = (one.client.clone(), shop.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(u64::from(i) * 2)).await;
            let body = upload(
                &shop,
                &format!("K{i}"),
                "2026-11-26T10:00:00Z",
                &format!("N{i}"),
            );
            let started = Instant::now();
            let answer = client.upload_shopping_info(&token, &body).await;
            (i, answer, started.elapsed())
        }));
    }
    let mut killed = 0;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        killed += db.postgres_scalar(&kill).await;
    }
    assert!(killed > 0, "the server's connections were cut");
    let (mut answered_ok, mut failed) = (Vec::new(), 0);
    for task in tasks {
        let (i, answer, took) = task.await.expect("task");
        assert!(took < Duration::from_secs(2), "K{i} took {took:?}");
        match answer {
            Ok(()) => answered_ok.push(i),
            Err(e) => {
                assert_eq!(
                    e.code(),
                    Some(ErrCode::SYSTEM_ERROR),
                    "only -1 when the database is lost: {e}"
                );
                failed += 1;
            }
        }
    }
    eprintln!(
        "{killed} connections cut: {} uploads answered 0, {failed} answered -1",
        answered_ok.len()
    );
    // The server reconnects by itself, within 5 s.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match one
            .client
            .upload_shopping_info(
                &token,
                &upload(&shop, "AFTER", "2026-11-26T10:00:00Z", "after"),
            )
            .await
        {
            Ok(()) => break,
            Err(e) if Instant::now() < deadline => eprintln!("not yet: {e}"),
            Err(e) => panic!("the server did not recover: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let orders = one
        .sandbox
        .get::<Value>(&format!(
            "/orders?appid={}&history=true&limit=1000",
            shop.appid
        ))
        .await
        .expect("orders");
    let orders = orders["orders"].as_array().expect("orders");
    for i in answered_ok {
        let order = orders
            .iter()
            .find(|o| o["order_key"]["out_trade_no"] == json!(format!("K{i}")))
            .unwrap_or_else(|| panic!("K{i} was answered 0 but is missing"));
        assert_eq!(
            order["order_list"][0]["merchant_order_no"],
            json!(format!("N{i}"))
        );
    }
    for order in orders {
        assert_eq!(order["version"], 1);
        assert_eq!(
            order["versions"].as_array().map(Vec::len),
            Some(1),
            "no half-written upload: {order}"
        );
    }
}

/// 40 token fetches of one app at once, half through each process (each batching its own):
/// once the grace period has passed, exactly one of the 40 tokens still works — one newest
/// generation across both processes (SPEC §3.1).
#[tokio::test]
#[cfg_attr(
    userorder_no_postgres,
    ignore = "built with --cfg userorder_no_postgres"
)]
async fn racing_token_fetches_on_two_processes_leave_one_current_token() {
    let (_db, one, two) = two_processes().await;
    let shop = Arc::new(shop(&one.sandbox, json!({})).await);
    let clients = [one.client.clone(), two.client.clone()];
    let mut fetches = Vec::new();
    for i in 0..40usize {
        let (client, shop) = (clients[i % 2].clone(), shop.clone());
        fetches.push(tokio::spawn(async move {
            client.token(&shop.appid, &shop.secret).await
        }));
    }
    let mut tokens = Vec::new();
    for fetch in fetches {
        tokens.push(fetch.await.expect("joined").expect("token").access_token);
    }
    one.sandbox
        .advance_clock(301)
        .await
        .expect("past the grace");
    let mut working = 0;
    for (i, token) in tokens.iter().enumerate() {
        let body = upload(&shop, &format!("T{i}"), "2026-11-26T10:00:00Z", "t");
        match clients[i % 2].upload_shopping_info(token, &body).await {
            Ok(()) => working += 1,
            Err(e) => assert_eq!(e.code(), Some(ErrCode::INVALID_CREDENTIAL), "{e}"),
        }
    }
    assert_eq!(working, 1, "one current token after the grace period");
}

/// Order shipping management on two processes (SPEC §10.13): uploads on either, one clock;
/// both read the same states, and each event is recorded once and pushed once although
/// both processes sweep and deliver.
#[tokio::test]
#[cfg_attr(
    userorder_no_postgres,
    ignore = "built with --cfg userorder_no_postgres"
)]
async fn order_states_and_events_are_shared_between_processes() {
    use std::sync::Mutex;
    let (_db, one, two) = two_processes().await;
    let shop = shop(&one.sandbox, json!({})).await;

    // The merchant's push endpoint: every body it is sent.
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/push",
            axum::routing::post(
                |axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<Value>>>>,
                 body: String| async move {
                    let body = serde_json::from_str(&body).unwrap_or(Value::Null);
                    seen.lock().expect("lock").push(body);
                    "success"
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/push", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let push = userorder_model::sandbox::Push {
        url: Some(url),
        token: Some("t".into()),
    };
    two.sandbox
        .set_push(&shop.appid, &push)
        .await
        .expect("push");

    let mut orders = Vec::new();
    for i in 0..6 {
        let body = json!({"appid": shop.appid, "openid": shop.openid, "mchid": shop.mchid,
                          "amount": 100, "out_trade_no": format!("XP{i}")});
        let payment = one.sandbox.create_payment(&body).await.expect("payment");
        let txid = payment.keys.transaction_id;
        two.sandbox.pay(&txid).await.expect("pay");
        orders.push(txid);
    }
    // Ship four: each upload sent to both processes at once (one stores it, the other
    // answers 0 too or 10060023 for the unchanged retry).
    let tokens = [one
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token];
    let ship = |process: &Process, txid: &str| {
        let body = json!({"order_key": {"order_number_type": 2, "transaction_id": txid},
            "logistics_type": 1, "delivery_mode": 1, "upload_time": "2026-11-26T10:00:00+08:00",
            "shipping_list": [{"tracking_no": format!("SF{txid}"), "express_company": "SF", "item_desc": "书"}],
            "payer": {"openid": shop.openid}});
        let (client, token) = (process.client.clone(), tokens[0].clone());
        async move {
            client
                .post::<Value>("/wxa/sec/order/upload_shipping_info", &token, &body)
                .await
        }
    };
    for txid in &orders[..4] {
        let (a, b) = tokio::join!(ship(&one, txid), ship(&two, txid));
        let codes: Vec<Option<i64>> = [a, b]
            .into_iter()
            .map(|r| r.err().and_then(|e| e.code()).map(|c| c.0))
            .collect();
        assert!(codes.contains(&None), "one stores it: {codes:?}");
        assert!(
            codes.iter().all(|c| c.is_none() || *c == Some(10060023)),
            "the other is an unchanged retry: {codes:?}"
        );
    }
    // Eleven days on: shipped orders settle; the two unshipped ones are reminded.
    one.sandbox.advance_clock(11 * 86_400).await.expect("clock");
    let (a, b) = tokio::join!(
        one.sandbox.events(Some(&shop.appid), 0),
        two.sandbox.events(Some(&shop.appid), 0)
    );
    assert_eq!(a.expect("events").len(), b.expect("events").len());

    let token = two
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token;
    for process in [&one, &two] {
        for (i, txid) in orders.iter().enumerate() {
            let order: Value = process
                .client
                .post(
                    "/wxa/sec/order/get_order",
                    &token,
                    &json!({"transaction_id": txid}),
                )
                .await
                .expect("get_order");
            let want = if i < 4 { 4 } else { 1 };
            assert_eq!(
                order["order"]["order_state"], want,
                "{txid} on {}",
                process.base
            );
        }
    }

    // Wait for every delivery, then count.
    let deadline = Instant::now() + Duration::from_secs(30);
    let events = loop {
        let mut events = two
            .sandbox
            .events(Some(&shop.appid), 0)
            .await
            .expect("events");
        // The payments' WeChat Pay notifications share the log, undelivered (no notify_url).
        events.retain(|e| e.event.starts_with("trade_manage_"));
        let pending = events
            .iter()
            .any(|e| e.delivery.state != userorder_model::sandbox::DeliveryState::Delivered);
        if !pending || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // 1 access reminder, 4 × (F and Z), 2 shipping reminders.
    assert_eq!(events.len(), 1 + 8 + 2, "{events:#?}");
    assert!(
        events.iter().all(|e| e.delivery.attempts == 1),
        "{events:#?}"
    );
    let mut seen: Vec<String> = received
        .lock()
        .expect("lock")
        .iter()
        .map(|b| format!("{}/{}/{}", b["Event"], b["transaction_id"], b["CreateTime"]))
        .collect();
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(
        (total, seen.len()),
        (11, 11),
        "each event pushed once: {seen:?}"
    );
}

/// WeChat Pay notifications across processes (SPEC §11.12): prepays paid through either
/// process, each notification sent once to the merchant's notify_url although both
/// processes' workers look for due notifications.
#[tokio::test]
#[cfg_attr(
    userorder_no_postgres,
    ignore = "built with --cfg userorder_no_postgres"
)]
async fn each_notification_is_sent_once_by_one_of_the_processes() {
    use std::sync::Mutex;
    use userorder_client::pay_v3::PayClient;
    let (_db, one, two) = two_processes().await;
    let shop = shop(&one.sandbox, json!({})).await;
    let credentials: Value = one
        .sandbox
        .put(
            &format!("/merchants/{}/apiv3", shop.mchid),
            &json!({"generate_merchant_key": true}),
        )
        .await
        .expect("credentials");
    let generated = &credentials["generated"];
    let merchant = |process: &common::Process| {
        PayClient::new(
            &process.base,
            &shop.mchid,
            generated["serial_no"].as_str().expect("serial"),
            generated["private_key_pem"].as_str().expect("key"),
        )
        .expect("client")
        .trust(
            credentials["platform_public_key"]["id"]
                .as_str()
                .expect("id"),
            credentials["platform_public_key"]["pem"]
                .as_str()
                .expect("pem"),
        )
        .expect("trust")
    };

    // The notify_url: every body it is sent.
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/notify",
            axum::routing::post(
                |axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<Value>>>>,
                 body: String| async move {
                    let body = serde_json::from_str(&body).unwrap_or(Value::Null);
                    seen.lock().expect("lock").push(body);
                    axum::http::StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/notify", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    for i in 0..8 {
        let (payer, other) = if i % 2 == 0 {
            (&one, &two)
        } else {
            (&two, &one)
        };
        let body = json!({"appid": shop.appid, "mchid": shop.mchid, "description": "Tea",
                          "out_trade_no": format!("XN-{i:04}"), "notify_url": url,
                          "amount": {"total": 100}, "payer": {"openid": shop.openid}});
        let answer = merchant(payer)
            .call(
                reqwest::Method::POST,
                "/v3/pay/transactions/jsapi",
                Some(&body.to_string()),
            )
            .await
            .expect("prepay");
        let prepay: Value = serde_json::from_str(&answer.body).expect("json");
        let params = merchant(other).payment_params(
            &shop.appid,
            prepay["prepay_id"].as_str().expect("prepay_id"),
        );
        let paid: Value = other
            .sandbox
            .post("/request-payment", &params)
            .await
            .expect("paid");
        assert_eq!(paid["errMsg"], "requestPayment:ok");
    }

    let deadline = Instant::now() + Duration::from_secs(20);
    while received.lock().expect("lock").len() < 8 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both workers have had time to look again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut ids: Vec<String> = received
        .lock()
        .expect("lock")
        .iter()
        .map(|n| n["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (total, ids.len()),
        (8, 8),
        "each notification once: {ids:?}"
    );
    let events: Value = two
        .sandbox
        .get(&format!("/events?mchid={}", shop.mchid))
        .await
        .expect("events");
    let events = events["events"].as_array().expect("events");
    assert_eq!(events.len(), 8);
    assert!(
        events
            .iter()
            .all(|e| e["delivery"]["state"] == "delivered" && e["delivery"]["attempts"] == 1),
        "{events:#?}"
    );
}
