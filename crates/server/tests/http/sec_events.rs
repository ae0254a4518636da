//! Order shipping management after shipping (SPEC §10.8, §10.11–§10.13): the reminder to
//! confirm receipt, special orders, complaints, the sandbox's view of an order, and the
//! pushed events — recorded once, delivered with WeChat's signature and retried.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use userorder_model::sandbox::{Push, TradeManagementIn};

use crate::common::*;

const UPLOAD: &str = "/wxa/sec/order/upload_shipping_info";
const NOTIFY: &str = "/wxa/sec/order/notify_confirm_receive";
const SPECIAL: &str = "/wxa/sec/order/opspecialorder";
const GET_ORDER: &str = "/wxa/sec/order/get_order";
const DAY: i64 = 86_400;

async fn token(server: &TestServer, shop: &Shop) -> String {
    server
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token
}

async fn post(server: &TestServer, shop: &Shop, path: &str, body: Value) -> Value {
    let token = token(server, shop).await;
    server.raw_post(path, &token, body.to_string()).await
}

fn refused(answer: &Value, code: i64, prefix: &str, case: &str) {
    assert_eq!(errcode(answer), code, "{case}: {answer}");
    let errmsg = answer["errmsg"].as_str().unwrap_or_default();
    assert!(
        errmsg.starts_with(prefix),
        "{case}: {errmsg:?} should start with {prefix:?}"
    );
}

/// A paid payment of the shop (an order at once: no ingest delay); answers its
/// transaction_id and pay time.
async fn paid(server: &TestServer, shop: &Shop, out_trade_no: &str) -> (String, i64) {
    let txid = create_payment(server, shop, out_trade_no, &[]).await;
    let payment = server.sandbox.pay(&txid).await.expect("pay");
    (txid, payment.paid_at.expect("paid_at"))
}

/// Ships an order whole: by courier (`logistics_type` 1) or as virtual goods (3).
async fn ship(server: &TestServer, shop: &Shop, out_trade_no: &str, logistics_type: i64) {
    let parcel = if logistics_type == 1 {
        json!({"tracking_no": format!("SF{out_trade_no}"), "express_company": "SF", "item_desc": "书"})
    } else {
        json!({"item_desc": "会员卡"})
    };
    let body = json!({"order_key": merchant_key(shop, out_trade_no), "logistics_type": logistics_type,
        "delivery_mode": 1, "shipping_list": [parcel], "upload_time": "2026-11-26T10:00:00+08:00",
        "payer": {"openid": shop.openid}});
    let answer = post(server, shop, UPLOAD, body).await;
    assert_eq!(answer["errcode"], 0, "ship {out_trade_no}: {answer}");
}

async fn state_of(server: &TestServer, shop: &Shop, txid: &str) -> Value {
    let answer = post(server, shop, GET_ORDER, json!({"transaction_id": txid})).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
    answer["order"].clone()
}

async fn now(server: &TestServer) -> i64 {
    server.sandbox.clock().await.expect("clock").unix
}

/// notify_confirm_receive's checks in SPEC §10.8's order; the reminder is kept once.
async fn the_reminder_to_confirm_receipt_answers_its_errcodes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (txid, _) = paid(&server, &shop, "N1").await;
    let remind = |body: Value| {
        let (server, shop) = (&server, &shop);
        async move { post(server, shop, NOTIFY, body).await }
    };
    refused(
        &server.raw_post(NOTIFY, "", "{}").await,
        41001,
        "access_token missing",
        "no token",
    );
    refused(
        &remind(json!({"received_time": 1})).await,
        10060014,
        "参数错误: transaction_id is missing",
        "no PaymentRef",
    );
    refused(
        &remind(json!({"transaction_id": txid})).await,
        10060014,
        "参数错误: received_time is missing",
        "no received_time",
    );
    refused(
        &remind(json!({"transaction_id": "4200000000000000000000000000", "received_time": 1}))
            .await,
        10060001,
        "支付单不存在",
        "unknown",
    );
    refused(
        &remind(json!({"transaction_id": txid, "received_time": 1})).await,
        10060028,
        "支付单不是已发货状态",
        "not shipped",
    );
    let (virtual_txid, _) = paid(&server, &shop, "N2").await;
    ship(&server, &shop, "N2", 3).await;
    refused(
        &remind(json!({"transaction_id": virtual_txid, "received_time": 1})).await,
        10060032,
        "只有物流快递发货时允许提醒用户确认收货",
        "not by courier",
    );
    ship(&server, &shop, "N1", 1).await;
    let shipped_at = now(&server).await;
    for (received, case) in [
        (shipped_at - 60, "before shipping"),
        (shipped_at + 3600, "in the future"),
    ] {
        refused(
            &remind(json!({"merchant_id": shop.mchid, "merchant_trade_no": "N1", "received_time": received})).await,
            10060029,
            "签收时间非法 (received_time)",
            case,
        );
    }
    server.sandbox.advance_clock(7200).await.expect("clock");
    let received = shipped_at + 3600;
    let ok = remind(json!({"transaction_id": txid, "received_time": received})).await;
    assert_eq!(ok["errcode"], 0, "{ok}");
    refused(
        &remind(json!({"transaction_id": txid, "received_time": received})).await,
        10060030,
        "支付单已使用提醒收货机会",
        "once per order",
    );
    let view = server.sandbox.payment_view(&txid).await.expect("view");
    let sec = view.sec_order.expect("an order");
    assert_eq!(sec.reminder.map(|r| r.received_time), Some(received));
    assert_eq!(
        sec.order.map(|o| o.order_state),
        Some(2),
        "the state does not change"
    );

    // Confirmed (state 3): no reminder.
    let (late, _) = paid(&server, &shop, "N3").await;
    ship(&server, &shop, "N3", 1).await;
    server
        .sandbox
        .confirm_receipt(&late, None)
        .await
        .expect("confirm");
    refused(
        &remind(json!({"transaction_id": late, "received_time": now(&server).await})).await,
        10060028,
        "支付单不是已发货状态",
        "confirmed",
    );
    // The SDK's typed call.
    let app = userorder_client::AppClient::new(server.client.clone(), &shop.appid, &shop.secret);
    let key = userorder_model::sec_order::PaymentRefIn {
        transaction_id: Some(virtual_txid),
        ..Default::default()
    };
    let err = app
        .notify_confirm_receive(&key, 1)
        .await
        .expect_err("not courier");
    assert_eq!(err.code().map(|c| c.0), Some(10060032), "{err}");
}

/// opspecialorder's checks in SPEC §10.11's order; a new report replaces the last.
async fn special_orders_answer_their_errcodes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (txid, pay_time) = paid(&server, &shop, "P1").await;
    let report = |body: Value| {
        let (server, shop) = (&server, &shop);
        async move { post(server, shop, SPECIAL, body).await }
    };
    for (body, case) in [
        (json!({"order_id": txid}), "no type"),
        (json!({"order_id": txid, "type": 3}), "type 3"),
    ] {
        refused(&report(body).await, 268546000, "type非法 (type)", case);
    }
    for (body, case) in [
        (json!({"type": 2}), "no order_id"),
        (json!({"type": 2, "order_id": "nothing"}), "unknown"),
    ] {
        refused(
            &report(body).await,
            268546002,
            "账户不存在这个待发货单号",
            case,
        );
    }
    for (delay_to, case) in [
        (None, "pre-sale without delay_to"),
        (Some(pay_time + 15 * DAY), "15 days"),
        (Some(pay_time + 330 * DAY + 1), "past 330 days"),
    ] {
        refused(
            &report(json!({"order_id": txid, "type": 1, "delay_to": delay_to})).await,
            268546001,
            "delay_to非法",
            case,
        );
    }
    let presale = json!({"order_id": "P1", "type": 1, "delay_to": pay_time + 20 * DAY});
    assert_eq!(report(presale).await["errcode"], 0, "by out_trade_no");
    let view = server.sandbox.payment_view(&txid).await.expect("view");
    let special = view.sec_order.and_then(|s| s.special).expect("reported");
    assert_eq!(
        (special.kind, special.delay_to),
        (1, Some(pay_time + 20 * DAY))
    );
    let app = userorder_client::AppClient::new(server.client.clone(), &shop.appid, &shop.secret);
    app.op_special_order(&txid, 2, None)
        .await
        .expect("a test order");
    let view = server.sandbox.payment_view(&txid).await.expect("view");
    let special = view.sec_order.and_then(|s| s.special).expect("reported");
    assert_eq!((special.kind, special.delay_to), (2, None), "replaced");
    ship(&server, &shop, "P1", 1).await;
    refused(
        &report(json!({"order_id": txid, "type": 2})).await,
        268546002,
        "账户不存在这个待发货单号",
        "shipped",
    );
    server
        .set_trade(
            &shop.appid,
            TradeManagementIn {
                trade_managed: Some(false),
                ..TradeManagementIn::default()
            },
        )
        .await;
    refused(
        &report(json!({"order_id": txid, "type": 2})).await,
        48001,
        "api unauthorized",
        "not under trade management",
    );
}

/// A complaint open after receipt holds the order in state 6 and its settlement until it
/// closes; one opened after settlement only shows as in_complaint; none on a refund.
async fn complaints_hold_settlement(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (txid, _) = paid(&server, &shop, "C1").await;
    let complain = |open: bool| {
        let (server, txid) = (&server, txid.clone());
        async move { server.sandbox.set_complaint(&txid, open).await }
    };
    complain(true).await.expect("open before shipping");
    assert_eq!(state_of(&server, &shop, &txid).await["order_state"], 1);
    assert_eq!(state_of(&server, &shop, &txid).await["in_complaint"], true);
    ship(&server, &shop, "C1", 1).await;
    server
        .sandbox
        .confirm_receipt(&txid, None)
        .await
        .expect("confirm");
    let order = state_of(&server, &shop, &txid).await;
    assert_eq!(
        order["order_state"], 6,
        "confirmed with a complaint open: {order}"
    );
    server.sandbox.advance_clock(3 * DAY).await.expect("clock");
    assert_eq!(
        state_of(&server, &shop, &txid).await["order_state"],
        6,
        "settlement waits"
    );
    let view = complain(false).await.expect("close");
    assert_eq!(view.sec_order.as_ref().map(|s| s.complaints.len()), Some(1));
    let order = state_of(&server, &shop, &txid).await;
    assert_eq!(
        (order["order_state"].clone(), order["in_complaint"].clone()),
        (json!(4), json!(false))
    );
    complain(false).await.expect("closing again is a no-op");
    server.sandbox.advance_clock(10).await.expect("clock"); // after settlement, not at it
    complain(true).await.expect("open after settlement");
    let order = state_of(&server, &shop, &txid).await;
    assert_eq!(
        (order["order_state"].clone(), order["in_complaint"].clone()),
        (json!(4), json!(true))
    );
    let view = complain(true).await.expect("idempotent");
    assert_eq!(view.sec_order.map(|s| s.complaints.len()), Some(2));

    // A complaint open at settlement time pushes settlement to when it closes.
    let (other, _) = paid(&server, &shop, "C2").await;
    ship(&server, &shop, "C2", 1).await;
    server
        .sandbox
        .confirm_receipt(&other, None)
        .await
        .expect("confirm");
    server.sandbox.advance_clock(DAY / 2).await.expect("clock");
    server
        .sandbox
        .set_complaint(&other, true)
        .await
        .expect("open");
    server.sandbox.advance_clock(DAY).await.expect("clock");
    assert_eq!(state_of(&server, &shop, &other).await["order_state"], 6);
    server
        .sandbox
        .set_complaint(&other, false)
        .await
        .expect("close");
    assert_eq!(state_of(&server, &shop, &other).await["order_state"], 4);

    server.sandbox.refund(&other).await.expect("refund");
    let refused = server.sandbox.set_complaint(&other, true).await;
    assert!(
        matches!(
            refused,
            Err(userorder_client::Error::Sandbox { status: 409, .. })
        ),
        "{refused:?}"
    );
    let missing = server
        .sandbox
        .set_complaint("4200000000000000000000000000", true)
        .await;
    assert!(
        matches!(
            missing,
            Err(userorder_client::Error::Sandbox { status: 404, .. })
        ),
        "{missing:?}"
    );
    // Not an order: the view's sec_order is null.
    let unpaid = create_payment(&server, &shop, "C3", &[]).await;
    let view = server.sandbox.payment_view(&unpaid).await.expect("view");
    assert!(view.sec_order.is_none());
}

type QueryMap = std::collections::HashMap<String, String>;

/// What a local push receiver saw: each request's query and body.
#[derive(Clone, Default)]
struct Received {
    requests: Arc<Mutex<Vec<(QueryMap, Value)>>>,
    /// Requests to answer 500 before answering `success`.
    failures: Arc<Mutex<usize>>,
}

async fn receive(
    State(received): State<Received>,
    Query(query): Query<QueryMap>,
    body: String,
) -> (StatusCode, &'static str) {
    let body = serde_json::from_str(&body).unwrap_or(Value::Null);
    received.requests.lock().expect("lock").push((query, body));
    let mut failures = received.failures.lock().expect("lock");
    if *failures > 0 {
        *failures -= 1;
        (StatusCode::INTERNAL_SERVER_ERROR, "busy")
    } else {
        (StatusCode::OK, "success")
    }
}

/// A merchant's push endpoint on 127.0.0.1, failing its first `failures` requests.
async fn receiver(failures: usize) -> (String, Received) {
    let received = Received::default();
    *received.failures.lock().expect("lock") = failures;
    let app = axum::Router::new()
        .route("/wechat/push", axum::routing::post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        format!("http://{addr}/wechat/push?from=userorder"),
        received,
    )
}

/// Polls the event log until every pushed event of the app (SPEC §10.13; not WeChat Pay's
/// notifications, which share the log) is delivered or failed.
async fn settled_events(server: &TestServer, appid: &str) -> Vec<userorder_model::sandbox::Event> {
    for _ in 0..100 {
        let mut events = server.sandbox.events(Some(appid), 0).await.expect("events");
        events.retain(|e| e.event.starts_with("trade_manage_"));
        if events.iter().all(|e| {
            !matches!(
                e.delivery.state,
                userorder_model::sandbox::DeliveryState::Pending
            )
        }) {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("deliveries did not finish");
}

fn sha1_signature(token: &str, timestamp: &str, nonce: &str) -> String {
    use sha1::{Digest, Sha1};
    let mut parts = [token, timestamp, nonce];
    parts.sort_unstable();
    Sha1::digest(parts.concat().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SPEC §10.13 on the sandbox clock: the access reminder at the first order, a settlement
/// event at F and at Z, a shipping reminder 48 h after an unshipped payment (none for a
/// test order) — each recorded once however often swept, pushed signed, retried after
/// failures.
async fn events_are_recorded_once_and_pushed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (url, received) = receiver(2).await;
    let push = Push {
        url: Some(url.clone()),
        token: Some("push-token".into()),
    };
    assert_eq!(
        server
            .sandbox
            .set_push(&shop.appid, &push)
            .await
            .expect("push"),
        push
    );

    let (first, pay_time) = paid(&server, &shop, "E1").await;
    let (waiting, _) = paid(&server, &shop, "E2").await;
    let (test_order, _) = paid(&server, &shop, "E3").await;
    let app = userorder_client::AppClient::new(server.client.clone(), &shop.appid, &shop.secret);
    app.op_special_order(&test_order, 2, None)
        .await
        .expect("a test order");
    let events = settled_events(&server, &shop.appid).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let access = &events[0];
    assert_eq!(access.event, "trade_manage_remind_access_api");
    assert_eq!(access.payload["merchant_id"], json!(shop.mchid));
    assert_eq!(access.payload["FromUserName"], "");
    assert_eq!(
        access.payload["ToUserName"],
        json!(format!("gh_{}", &shop.appid[shop.appid.len() - 12..]))
    );
    assert_eq!(
        access.delivery.attempts, 3,
        "failed twice, then delivered: {access:?}"
    );
    assert_eq!(
        access.delivery.state,
        userorder_model::sandbox::DeliveryState::Delivered
    );
    assert_eq!(access.delivery.last_status, Some(200));
    {
        let requests = received.requests.lock().expect("lock");
        assert_eq!(requests.len(), 3);
        for (query, body) in requests.iter() {
            assert_eq!(body, &access.payload);
            assert_eq!(query.get("from").map(String::as_str), Some("userorder"));
            let (timestamp, nonce) = (&query["timestamp"], &query["nonce"]);
            assert_eq!(
                query["signature"],
                sha1_signature("push-token", timestamp, nonce)
            );
        }
    }

    ship(&server, &shop, "E1", 1).await;
    let shipped_at = now(&server).await;
    // Two more days: E2 is reminded (48 h unshipped, the app had shipped before); E3, a
    // test order, is not; the access reminder stopped with the first shipping.
    server
        .sandbox
        .advance_clock(2 * DAY + 60)
        .await
        .expect("clock");
    // Ten days after F: confirmed; one more: settled.
    server.sandbox.advance_clock(9 * DAY).await.expect("clock");
    server.sandbox.advance_clock(DAY).await.expect("clock");
    for _ in 0..3 {
        server.sandbox.advance_clock(1).await.expect("clock");
        server.sandbox.events(None, 0).await.expect("sweep again");
    }
    let events = settled_events(&server, &shop.appid).await;
    let kinds: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.event.as_str(), e.payload["transaction_id"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("trade_manage_remind_access_api", None),
            ("trade_manage_order_settlement", Some(first.as_str())),
            ("trade_manage_remind_shipping", Some(waiting.as_str())),
            ("trade_manage_order_settlement", Some(first.as_str())),
        ],
        "{events:#?}"
    );
    let at_f = &events[1].payload;
    assert_eq!(at_f["shipped_time"], shipped_at);
    assert_eq!(at_f["estimated_settlement_time"], shipped_at + 11 * DAY);
    assert_eq!(at_f["pay_time"], pay_time);
    assert_eq!(at_f["FromUserName"], json!(shop.openid));
    let reminder = &events[2];
    assert_eq!(reminder.at, pay_time + 2 * DAY);
    assert_eq!(reminder.payload["msg"], "订单超过48小时未发货，请尽快发货");
    let at_z = &events[3].payload;
    assert_eq!(at_z["confirm_receive_method"], 2, "automatic");
    assert_eq!(at_z["confirm_receive_time"], shipped_at + 10 * DAY);
    assert_eq!(at_z["settlement_time"], shipped_at + 11 * DAY);
    assert_eq!(events[3].at, shipped_at + 11 * DAY);
    assert!(
        events
            .iter()
            .all(|e| e.delivery.state == userorder_model::sandbox::DeliveryState::Delivered)
    );
    assert_eq!(
        received.requests.lock().expect("lock").len(),
        3 + 3,
        "each delivered once"
    );

    // Without a push URL, events are recorded but not pushed.
    let quiet = server.shop().await;
    paid(&server, &quiet, "Q1").await;
    let mut events = server
        .sandbox
        .events(Some(&quiet.appid), 0)
        .await
        .expect("events");
    events.retain(|e| e.event.starts_with("trade_manage_"));
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].delivery.state,
        userorder_model::sandbox::DeliveryState::None
    );
    let bad = server
        .sandbox
        .set_push(
            &quiet.appid,
            &Push {
                url: Some("ftp://x".into()),
                token: None,
            },
        )
        .await;
    assert!(
        matches!(
            bad,
            Err(userorder_client::Error::Sandbox { status: 400, .. })
        ),
        "{bad:?}"
    );
}

/// A receiver that never succeeds: the delivery is retried after each wait, then failed.
async fn a_receiver_that_keeps_failing_is_given_up(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (url, received) = receiver(usize::MAX).await;
    server
        .sandbox
        .set_push(
            &shop.appid,
            &Push {
                url: Some(url),
                token: None,
            },
        )
        .await
        .expect("push");
    paid(&server, &shop, "F1").await;
    let events = settled_events(&server, &shop.appid).await;
    assert_eq!(
        events[0].delivery.state,
        userorder_model::sandbox::DeliveryState::Failed
    );
    assert_eq!(
        events[0].delivery.attempts, 4,
        "the first try and three retries"
    );
    assert_eq!(events[0].delivery.last_status, Some(500));
    let requests = received.requests.lock().expect("lock");
    assert_eq!(requests.len(), 4);
    assert!(
        requests
            .iter()
            .all(|(query, _)| !query.contains_key("signature")),
        "no token, no signature"
    );
}

/// The moment passes while no server runs; the next one records the event once, however
/// many sweeps and restarts follow.
async fn an_event_due_during_a_restart_fires_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    server
        .set_trade(
            &shop.appid,
            TradeManagementIn {
                settle_delay_s: Some(2),
                ..TradeManagementIn::default()
            },
        )
        .await;
    let (txid, _) = paid(&server, &shop, "R1").await;
    ship(&server, &shop, "R1", 1).await;
    server
        .sandbox
        .confirm_receipt(&txid, None)
        .await
        .expect("confirm");
    let db = server.stop().await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await; // settlement passes
    let server = TestServer::start_on(db, userorder_server::JournalRetention::default()).await;
    let settled = |events: &[userorder_model::sandbox::Event]| {
        events
            .iter()
            .filter(|e| e.payload.get("settlement_time").is_some())
            .count()
    };
    let events = server
        .sandbox
        .events(Some(&shop.appid), 0)
        .await
        .expect("events");
    assert_eq!(settled(&events), 1, "{events:#?}");
    let at_z = events
        .iter()
        .find(|e| e.payload.get("settlement_time").is_some())
        .expect("z");
    assert_eq!(
        at_z.payload["confirm_receive_method"], 1,
        "the payer confirmed"
    );
    let db = server.stop().await;
    let server = TestServer::start_on(db, userorder_server::JournalRetention::default()).await;
    server.sandbox.advance_clock(DAY).await.expect("clock");
    let events = server
        .sandbox
        .events(Some(&shop.appid), 0)
        .await
        .expect("events");
    assert_eq!(settled(&events), 1, "still once");
}

on_every_backend!(
    the_reminder_to_confirm_receipt_answers_its_errcodes,
    special_orders_answer_their_errcodes,
    complaints_hold_settlement,
    events_are_recorded_once_and_pushed,
    a_receiver_that_keeps_failing_is_given_up,
    an_event_due_during_a_restart_fires_once,
);
