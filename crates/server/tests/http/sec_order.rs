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

on_every_backend!(
    every_app_level_call_answers_its_errcodes,
    the_calls_count_against_the_quotas,
    platforms_call_within_their_permission_sets,
    settings_and_sdk_calls,
);
