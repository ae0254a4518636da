//! Order shipping management (SPEC §10), the app-level calls: set_msg_jump_path,
//! is_trade_managed, is_trade_management_confirmation_completed and get_delivery_list, with
//! every errcode they answer, in the check order of SPEC §10.1 and §10.9–§10.12; and the
//! sandbox's trade-management settings.

use serde_json::{Value, json};
use userorder_model::sandbox::{AutoConfirmDaysIn, TradeManagementIn};

use crate::common::*;
use crate::platforms::{authorized, platform};

const JUMP: &str = "/wxa/sec/order/set_msg_jump_path";
const MANAGED: &str = "/wxa/sec/order/is_trade_managed";
const COMPLETED: &str = "/wxa/sec/order/is_trade_management_confirmation_completed";
const CARRIERS: &str = "/cgi-bin/express/delivery/open_msg/get_delivery_list";

fn refused(answer: &Value, code: i64, prefix: &str, case: &str) {
    assert_eq!(errcode(answer), code, "{case}: {answer}");
    let errmsg = answer["errmsg"].as_str().unwrap_or_default();
    assert!(
        errmsg.starts_with(prefix),
        "{case}: {errmsg:?} should start with {prefix:?}"
    );
    assert!(errmsg.contains(" rid: "), "{case}: {errmsg}");
}

async fn untrade(server: &TestServer, appid: &str) {
    let off = TradeManagementIn {
        trade_managed: Some(false),
        ..TradeManagementIn::default()
    };
    server
        .sandbox
        .set_trade_management(appid, &off)
        .await
        .expect("settings");
}

async fn every_app_level_call_answers_its_errcodes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let token = shop.token.as_str();

    // The transport and token checks of SPEC §1 and §3.4, on each of the four.
    for path in [JUMP, MANAGED, COMPLETED, CARRIERS] {
        refused(
            &server.raw_post(path, "", "{}").await,
            41001,
            "access_token missing",
            path,
        );
        refused(
            &server.raw_post(path, "nope", "{}").await,
            40001,
            "invalid credential",
            path,
        );
        refused(
            &server.raw_post(path, token, "").await,
            44002,
            "empty post data",
            path,
        );
        refused(
            &server
                .raw_post(path, token, "x".repeat(1024 * 1024 + 1))
                .await,
            45002,
            "content size out of limit",
            path,
        );
        refused(
            &server.raw_post(path, token, "[1]").await,
            47001,
            "data format error",
            path,
        );
        let get = reqwest::get(format!("{}{path}?access_token={token}", server.base))
            .await
            .expect("GET")
            .json::<Value>()
            .await
            .expect("json");
        refused(&get, 43002, "require POST method", path);
    }
    let unknown = server
        .raw_post("/wxa/sec/order/upload_nothing", token, "{}")
        .await;
    refused(&unknown, 40066, "invalid url", "an unknown /wxa/ path");

    // set_msg_jump_path: at most 512 bytes; absent clears it.
    let long = json!({"path": format!("/pages/{}", "a".repeat(506))}).to_string();
    refused(
        &server.raw_post(JUMP, token, long).await,
        10060014,
        "参数错误: path is 513 bytes, at most 512",
        "a long path",
    );
    let set = server
        .raw_post(JUMP, token, r#"{"path": "/pages/confirm/index?from=wx"}"#)
        .await;
    assert_eq!(set, json!({"errcode": 0, "errmsg": "ok"}));
    let apps = server.sandbox.apps().await.expect("apps");
    let app = apps
        .iter()
        .find(|a| a.appid == shop.appid)
        .expect("the app");
    assert_eq!(
        app.msg_jump_path.as_deref(),
        Some("/pages/confirm/index?from=wx")
    );
    assert_eq!(
        server.raw_post(JUMP, token, r#"{"path": ""}"#).await["errcode"],
        0
    );
    let apps = server.sandbox.apps().await.expect("apps");
    let app = apps
        .iter()
        .find(|a| a.appid == shop.appid)
        .expect("the app");
    assert_eq!(app.msg_jump_path, None, "\"\" is absent: cleared");

    // is_trade_managed and its sibling: the body's appid, present and the caller's own.
    for path in [MANAGED, COMPLETED] {
        refused(
            &server.raw_post(path, token, "{}").await,
            40097,
            "invalid args (appid)",
            path,
        );
        let other = json!({"appid": "wx0000000000000001"}).to_string();
        refused(
            &server.raw_post(path, token, other).await,
            40013,
            "invalid appid (appid)",
            path,
        );
    }
    let own = json!({"appid": shop.appid}).to_string();
    assert_eq!(
        server.raw_post(MANAGED, token, own.clone()).await,
        json!({"errcode": 0, "errmsg": "ok", "is_trade_managed": true})
    );
    assert_eq!(
        server.raw_post(COMPLETED, token, own.clone()).await,
        json!({"errcode": 0, "errmsg": "ok", "completed": true})
    );

    // The carriers: any JSON object, 30 of them, no errmsg (as WeChat answers).
    let carriers = server.raw_post(CARRIERS, token, r#"{"anything": 1}"#).await;
    assert_eq!(carriers["errcode"], 0);
    assert_eq!(carriers["count"], 30);
    assert!(carriers.get("errmsg").is_none(), "{carriers}");
    assert_eq!(
        carriers["delivery_list"][0],
        json!({"delivery_id": "SF", "delivery_name": "顺丰速运"})
    );

    // Trade management off: the gated call answers 48001, the others still answer.
    untrade(&server, &shop.appid).await;
    refused(
        &server.raw_post(JUMP, token, "{}").await,
        48001,
        "api unauthorized",
        "not trade-managed",
    );
    assert_eq!(
        server.raw_post(MANAGED, token, own).await["is_trade_managed"],
        false
    );
    assert_eq!(server.raw_post(CARRIERS, token, "{}").await["errcode"], 0);

    // An expired token.
    server.sandbox.advance_clock(7200).await.expect("clock");
    for path in [JUMP, MANAGED, COMPLETED, CARRIERS] {
        refused(
            &server.raw_post(path, token, "{}").await,
            42001,
            "access_token expired",
            path,
        );
    }
}

/// Quotas count these calls like any other (SPEC §1).
async fn the_calls_count_against_the_quotas(backend: Backend) {
    let server = TestServer::start(backend).await;
    let minute = server.shop_with(json!({"quota": {"per_minute": 1}})).await;
    assert_eq!(
        server.raw_post(CARRIERS, &minute.token, "{}").await["errcode"],
        0
    );
    refused(
        &server.raw_post(CARRIERS, &minute.token, "{}").await,
        45011,
        "api minute-quota reach limit",
        "per minute",
    );
    let daily = server.shop_with(json!({"quota": {"daily": 1}})).await;
    assert_eq!(
        server.raw_post(JUMP, &daily.token, "{}").await["errcode"],
        0
    );
    refused(
        &server.raw_post(JUMP, &daily.token, "{}").await,
        45009,
        "reach max api daily quota limit",
        "per day",
    );
}

/// Which third-party platforms may call (SPEC §10.1): set_msg_jump_path none (61007);
/// the trade-management queries with set 18 or 142 (else 61003); the carriers with 45,
/// 120, 121 or 142.
async fn platforms_call_within_their_permission_sets(backend: Backend) {
    let server = TestServer::start(backend).await;
    let platform = platform(&server).await;
    let (appid, with_142, _) = authorized(
        &server,
        &platform,
        json!({"funcscope": [142], "agreement_signed": true}),
    )
    .await;
    let (other, with_1, _) = authorized(
        &server,
        &platform,
        json!({"funcscope": [1], "agreement_signed": true}),
    )
    .await;

    refused(
        &server.raw_post(JUMP, &with_142, "{}").await,
        61007,
        "api is unauthorized to component",
        "set_msg_jump_path by a platform",
    );
    let own = json!({"appid": appid}).to_string();
    assert_eq!(server.raw_post(MANAGED, &with_142, own).await["errcode"], 0);
    let own = json!({"appid": other}).to_string();
    refused(
        &server.raw_post(MANAGED, &with_1, own.clone()).await,
        61003,
        "component is not authorized by this account",
        "is_trade_managed without 18 or 142",
    );
    refused(
        &server.raw_post(COMPLETED, &with_1, own).await,
        61003,
        "component is not authorized by this account",
        "confirmation_completed without 18 or 142",
    );
    assert_eq!(
        server.raw_post(CARRIERS, &with_142, "{}").await["errcode"],
        0
    );
    refused(
        &server.raw_post(CARRIERS, &with_1, "{}").await,
        61007,
        "api is unauthorized to component",
        "carriers without 45, 120, 121 or 142",
    );
}

/// The SDK's typed calls, and the sandbox's settings: defaults, any subset, limits.
async fn settings_and_sdk_calls(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let app = userorder_client::AppClient::new(server.client.clone(), &shop.appid, &shop.secret);
    assert!(app.is_trade_managed().await.expect("managed"));
    assert!(
        app.is_trade_management_confirmation_completed()
            .await
            .expect("completed")
    );
    assert_eq!(app.get_delivery_list().await.expect("carriers").len(), 30);
    app.set_msg_jump_path(Some("/pages/receipt"))
        .await
        .expect("jump path");

    let defaults = server
        .sandbox
        .trade_management(&shop.appid)
        .await
        .expect("settings");
    assert_eq!(
        json(&defaults),
        json!({"trade_managed": true, "confirmation_completed": true, "ingest_delay_s": 0,
               "auto_confirm_days": {"courier": 10, "other": 2}, "settle_delay_s": 86400})
    );
    let changed = server
        .sandbox
        .set_trade_management(
            &shop.appid,
            &TradeManagementIn {
                confirmation_completed: Some(false),
                ingest_delay_s: Some(60),
                auto_confirm_days: Some(AutoConfirmDaysIn {
                    courier: None,
                    other: Some(3),
                }),
                ..TradeManagementIn::default()
            },
        )
        .await
        .expect("settings");
    assert_eq!(
        json(&changed),
        json!({"trade_managed": true, "confirmation_completed": false, "ingest_delay_s": 60,
               "auto_confirm_days": {"courier": 10, "other": 3}, "settle_delay_s": 86400})
    );
    assert!(
        !app.is_trade_management_confirmation_completed()
            .await
            .expect("completed")
    );
    let negative = server
        .sandbox
        .set_trade_management(
            &shop.appid,
            &TradeManagementIn {
                settle_delay_s: Some(-1),
                ..TradeManagementIn::default()
            },
        )
        .await;
    assert!(
        matches!(&negative, Err(userorder_client::Error::Sandbox { status: 400, message }) if message.contains("settle_delay_s")),
        "{negative:?}"
    );
    let unknown = server.sandbox.trade_management("wx0000000000000009").await;
    assert!(
        matches!(
            unknown,
            Err(userorder_client::Error::Sandbox { status: 404, .. })
        ),
        "{unknown:?}"
    );
    // Settings survive a restart (they are the app's).
    let db = server.stop().await;
    let server = TestServer::start_on(db, userorder_server::JournalRetention::default()).await;
    assert_eq!(
        server
            .sandbox
            .trade_management(&shop.appid)
            .await
            .expect("settings"),
        changed
    );
}

const GET_ORDER: &str = "/wxa/sec/order/get_order";

/// SPEC §10.2 and §10.7: an order is a paid (or refunded) payment of the app, or a sub-order
/// of a combined one, once WeChat has learnt of it; get_order finds it by either key.
async fn get_order_finds_paid_payments_and_their_sub_orders(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let token = shop.token.as_str();
    let by_id = |id: &str| json!({"transaction_id": id}).to_string();
    let by_key = |no: &str| json!({"merchant_id": shop.mchid, "merchant_trade_no": no}).to_string();

    // PaymentRef rules: one of the two forms, within limits (10060014).
    for (body, expected, case) in [
        (
            "{}".to_owned(),
            "参数错误: transaction_id is missing",
            "neither form",
        ),
        (
            json!({"merchant_id": shop.mchid}).to_string(),
            "参数错误: transaction_id is missing",
            "merchant_id alone",
        ),
        (
            by_id(&"4".repeat(33)),
            "参数错误: transaction_id is 33 bytes",
            "a long id",
        ),
        (
            by_key("bad no"),
            "参数错误: merchant_trade_no contains ' '",
            "a bad charset",
        ),
        (
            json!({"merchant_id": "1".repeat(33), "merchant_trade_no": "X"}).to_string(),
            "参数错误: merchant_id is 33 bytes",
            "a long merchant_id",
        ),
    ] {
        refused(
            &server.raw_post(GET_ORDER, token, body).await,
            10060014,
            expected,
            case,
        );
    }

    // Unknown, unpaid: 10060001.
    refused(
        &server
            .raw_post(GET_ORDER, token, by_id("4200000000000000000000000000"))
            .await,
        10060001,
        "支付单不存在",
        "unknown",
    );
    let single = create_payment(&server, &shop, "G1", &[]).await;
    refused(
        &server.raw_post(GET_ORDER, token, by_id(&single)).await,
        10060001,
        "支付单不存在",
        "unpaid",
    );

    // Paid: found by either key, with every field.
    let paid = server.sandbox.pay(&single).await.expect("pay");
    let answer = server.raw_post(GET_ORDER, token, by_key("G1")).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert_eq!(
        answer["order"],
        json!({"transaction_id": single, "merchant_id": shop.mchid, "sub_merchant_id": "0",
               "merchant_trade_no": "G1", "description": "", "paid_amount": 100,
               "openid": shop.openid, "trade_create_time": paid.created_at,
               "pay_time": paid.paid_at, "order_state": 1, "in_complaint": false, "shipping": {}})
    );
    assert_eq!(
        server.raw_post(GET_ORDER, token, by_id(&single)).await,
        answer
    );

    // A combined payment: its sub-orders are orders, its master is not.
    let master = create_payment(&server, &shop, "GM", &["GS0", "GS1"]).await;
    let combined = server.sandbox.pay(&master).await.expect("pay");
    refused(
        &server.raw_post(GET_ORDER, token, by_id(&master)).await,
        10060001,
        "支付单不存在",
        "a master",
    );
    let sub = &combined.sub_orders[1].keys;
    let answer = server.raw_post(GET_ORDER, token, by_key("GS1")).await;
    assert_eq!(
        answer["order"]["transaction_id"],
        sub.transaction_id.as_str()
    );
    assert_eq!(answer["order"]["openid"], shop.openid.as_str());
    assert_eq!(answer["order"]["pay_time"], json!(combined.paid_at));

    // Another app's order is not this app's.
    let other = server.shop().await;
    refused(
        &server
            .raw_post(GET_ORDER, &other.token, by_id(&single))
            .await,
        10060001,
        "支付单不存在",
        "another app's",
    );

    // Refunded: state 5; a refund needs a SUCCESS payment (409), an existing one (404).
    let refunded = server.sandbox.refund(&master).await.expect("refund");
    assert_eq!(refunded.state, "REFUND");
    assert!(refunded.refunded_at.is_some());
    assert_eq!(
        server.raw_post(GET_ORDER, token, by_key("GS0")).await["order"]["order_state"],
        5
    );
    assert_eq!(
        server.raw_post(GET_ORDER, token, by_id(&single)).await["order"]["order_state"],
        1
    );
    let again = server.sandbox.refund(&master).await;
    assert!(
        matches!(&again, Err(userorder_client::Error::Sandbox { status: 409, message }) if message.contains("REFUND")),
        "{again:?}"
    );
    let unpaid = create_payment(&server, &shop, "G2", &[]).await;
    let early = server.sandbox.refund(&unpaid).await;
    assert!(
        matches!(&early, Err(userorder_client::Error::Sandbox { status: 409, message }) if message.contains("NOTPAY")),
        "{early:?}"
    );
    let missing = server.sandbox.refund("4200000000000000000000000000").await;
    assert!(
        matches!(
            missing,
            Err(userorder_client::Error::Sandbox { status: 404, .. })
        ),
        "{missing:?}"
    );
    // The Shopping Order family still treats a refunded payment as paid.
    assert!(
        server
            .sandbox
            .payment(&master)
            .await
            .expect("payment")
            .is_paid()
    );

    // Kept out of the API, like DevTools payments: never an order.
    let excluded = server
        .sandbox
        .create_payment(&json!({"appid": shop.appid, "openid": shop.openid, "mchid": shop.mchid,
                                "out_trade_no": "GX", "amount": 100, "excluded_from_shipping": true}))
        .await
        .expect("payment");
    assert!(excluded.excluded_from_shipping);
    server
        .sandbox
        .pay(&excluded.keys.transaction_id)
        .await
        .expect("pay");
    refused(
        &server.raw_post(GET_ORDER, token, by_key("GX")).await,
        10060001,
        "支付单不存在",
        "excluded",
    );

    // The gate and the platform rule.
    untrade(&server, &shop.appid).await;
    refused(
        &server.raw_post(GET_ORDER, token, by_id(&single)).await,
        48001,
        "api unauthorized",
        "not trade-managed",
    );
}

/// SPEC §10.2: WeChat learns of a payment ingest_delay_s after it is paid (the delay in
/// force at pay time); until then 10060001, the way merchants meet it for about a minute.
async fn a_payment_is_an_order_only_after_the_ingest_delay(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let delay = TradeManagementIn {
        ingest_delay_s: Some(60),
        ..TradeManagementIn::default()
    };
    server
        .sandbox
        .set_trade_management(&shop.appid, &delay)
        .await
        .expect("settings");
    let txid = create_payment(&server, &shop, "D1", &[]).await;
    let paid = server.sandbox.pay(&txid).await.expect("pay");
    assert_eq!(paid.visible_at, paid.paid_at.map(|at| at + 60));
    // A later change of the delay does not move a payment already paid.
    server
        .sandbox
        .set_trade_management(&shop.appid, &TradeManagementIn::default())
        .await
        .expect("settings");
    let app = userorder_client::AppClient::new(server.client.clone(), &shop.appid, &shop.secret);
    let key = userorder_model::sec_order::PaymentRefIn {
        transaction_id: Some(txid.clone()),
        ..Default::default()
    };
    let early = app.get_order(&key).await;
    assert_eq!(
        early.err().and_then(|e| e.code()).map(|c| c.0),
        Some(10060001)
    );
    // The sandbox clock is real time plus an offset: a real second may pass between the
    // payment and this check, so the last read before the delay keeps a margin.
    server.sandbox.advance_clock(50).await.expect("clock");
    assert!(
        app.get_order(&key).await.is_err(),
        "before the delay is over"
    );
    server.sandbox.advance_clock(10).await.expect("clock");
    let order = app.get_order(&key).await.expect("visible now");
    assert_eq!(order.transaction_id, txid);
    assert_eq!(order.order_state, 1);
}

async fn only_platforms_with_set_142_read_orders(backend: Backend) {
    let server = TestServer::start(backend).await;
    let platform = platform(&server).await;
    let (_, with_142, _) = authorized(
        &server,
        &platform,
        json!({"funcscope": [142], "agreement_signed": true}),
    )
    .await;
    let (_, with_120, _) = authorized(
        &server,
        &platform,
        json!({"funcscope": [120], "agreement_signed": true}),
    )
    .await;
    let unknown = json!({"transaction_id": "4200000000000000000000000000"}).to_string();
    refused(
        &server.raw_post(GET_ORDER, &with_142, unknown.clone()).await,
        10060001,
        "支付单不存在",
        "with 142",
    );
    refused(
        &server.raw_post(GET_ORDER, &with_120, unknown).await,
        61007,
        "api is unauthorized to component",
        "without 142",
    );
}

on_every_backend!(
    get_order_finds_paid_payments_and_their_sub_orders,
    a_payment_is_an_order_only_after_the_ingest_delay,
    only_platforms_with_set_142_read_orders,
    every_app_level_call_answers_its_errcodes,
    the_calls_count_against_the_quotas,
    platforms_call_within_their_permission_sets,
    settings_and_sdk_calls,
);
