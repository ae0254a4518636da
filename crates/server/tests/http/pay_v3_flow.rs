//! WeChat Pay v3 payments end to end (SPEC §11.6–§11.13): prepay, the payer's
//! `requestPayment` with its paySign, the signed and encrypted notification on the sandbox
//! clock's retry slots, queries, close and refunds — and every refusal with its status and
//! code, through HTTP as a merchant's SDK calls.

use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::*;
use crate::pay_v3::{Merchant, merchant_of, now, refused, verified_signer};

/// A `/v3/` call signed as SDKs sign, with the headers SDKs send.
pub(crate) async fn call(
    server: &TestServer,
    merchant: &Merchant,
    method: &str,
    target: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let body = body.map(Value::to_string).unwrap_or_default();
    let client = reqwest::Client::new();
    let url = format!("{}{target}", server.base);
    let request = match method {
        "POST" => client.post(url).body(body.clone()),
        _ => client.get(url),
    };
    request
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .header("user-agent", "userorder-tests")
        .header(
            "authorization",
            merchant.authorization(method, target, &body, now()),
        )
        .send()
        .await
        .expect("sent")
}

/// A 2xx answer: its status, its signature checked under the platform's public key, its
/// JSON (`null` for a 204).
async fn answered(response: reqwest::Response, status: u16, platform: &Value) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let key = json!({"public_key_pem": platform["pem"]});
    assert_eq!(verified_signer(&headers, &text, &key), platform["id"]);
    match text.as_str() {
        "" => Value::Null,
        text => serde_json::from_str(text).expect("json"),
    }
}

/// The Rust SDK's client for the merchant, trusting the platform's public key.
fn sdk_client(
    server: &TestServer,
    merchant: &Merchant,
    credentials: &Value,
) -> userorder_client::pay_v3::PayClient {
    let platform = &credentials["platform_public_key"];
    userorder_client::pay_v3::PayClient::new(
        &server.base,
        &merchant.mchid,
        &merchant.serial_no,
        &merchant.private_key_pem,
    )
    .expect("client")
    .trust(
        platform["id"].as_str().expect("id"),
        platform["pem"].as_str().expect("pem"),
    )
    .expect("trust")
}

/// `paySign` over `appId\ntimeStamp\nnonceStr\npackage\n` with the merchant's key.
fn pay_sign(merchant: &Merchant, app_id: &str, package: &str) -> Value {
    let time_stamp = now().to_string();
    let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
    let message = format!("{app_id}\n{time_stamp}\n{nonce}\n{package}\n");
    let key = RsaPrivateKey::from_pkcs8_pem(&merchant.private_key_pem).expect("key");
    let signature = STANDARD.encode(
        SigningKey::<Sha256>::new(key)
            .sign(message.as_bytes())
            .to_bytes(),
    );
    json!({"appId": app_id, "timeStamp": time_stamp, "nonceStr": nonce,
           "package": package, "signType": "RSA", "paySign": signature})
}

async fn request_payment(server: &TestServer, body: &Value) -> Value {
    server
        .sandbox
        .post("/request-payment", body)
        .await
        .expect("request-payment")
}

pub(crate) fn prepay_body(shop: &Shop, out_trade_no: &str, notify_url: &str) -> Value {
    json!({
        "appid": shop.appid, "mchid": shop.mchid, "description": "Tea 250g",
        "out_trade_no": out_trade_no, "notify_url": notify_url, "attach": "a1",
        "amount": {"total": 300, "currency": "CNY"}, "payer": {"openid": shop.openid},
        "scene_info": {"device_id": "D1"}
    })
}

pub(crate) async fn prepay(server: &TestServer, merchant: &Merchant, body: &Value) -> String {
    let response = call(
        server,
        merchant,
        "POST",
        "/v3/pay/transactions/jsapi",
        Some(body),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.expect("json");
    answer["prepay_id"].as_str().expect("prepay_id").to_owned()
}

/// Prepays and pays; answers the transaction_id.
async fn paid(server: &TestServer, merchant: &Merchant, shop: &Shop, body: &Value) -> String {
    let prepay_id = prepay(server, merchant, body).await;
    let answer = request_payment(
        server,
        &pay_sign(merchant, &shop.appid, &format!("prepay_id={prepay_id}")),
    )
    .await;
    assert_eq!(answer["errMsg"], "requestPayment:ok");
    answer["transaction_id"].as_str().expect("txid").to_owned()
}

/// What a merchant's notify_url saw: each request's headers and body.
#[derive(Clone, Default)]
struct Received {
    requests: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    /// Requests to answer 500 before answering 200.
    failures: Arc<Mutex<usize>>,
}

impl Received {
    fn count(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }

    fn get(&self, i: usize) -> (HeaderMap, String) {
        self.requests.lock().expect("lock")[i].clone()
    }

    async fn wait_for(&self, n: usize) {
        for _ in 0..100 {
            if self.count() >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{n} notifications did not arrive (got {})", self.count());
    }
}

async fn receive(
    State(received): State<Received>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, &'static str) {
    received
        .requests
        .lock()
        .expect("lock")
        .push((headers, body));
    let mut failures = received.failures.lock().expect("lock");
    if *failures > 0 {
        *failures -= 1;
        (StatusCode::INTERNAL_SERVER_ERROR, r#"{"code":"FAIL"}"#)
    } else {
        (StatusCode::OK, "")
    }
}

/// A merchant's notify_url on 127.0.0.1, failing its first `failures` requests.
async fn receiver(failures: usize) -> (String, Received) {
    let received = Received::default();
    *received.failures.lock().expect("lock") = failures;
    let app = axum::Router::new()
        .route("/pay/notify", axum::routing::post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/pay/notify"), received)
}

/// A notification as its handler reads it: the signature verified under the platform key,
/// the resource decrypted with the APIv3 key.
fn opened(request: &(HeaderMap, String), credentials: &Value) -> (Value, Value) {
    let (headers, body) = request;
    let headers: reqwest::header::HeaderMap = headers
        .iter()
        .map(|(k, v)| {
            (
                reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()).expect("name"),
                reqwest::header::HeaderValue::from_bytes(v.as_bytes()).expect("value"),
            )
        })
        .collect();
    let platform = &credentials["platform_public_key"];
    let key = json!({"public_key_pem": platform["pem"]});
    assert_eq!(verified_signer(&headers, body, &key), platform["id"]);
    assert_eq!(
        headers.get("user-agent").and_then(|v| v.to_str().ok()),
        Some("userorder-notify")
    );
    let notification: Value = serde_json::from_str(body).expect("json");
    let resource = &notification["resource"];
    assert_eq!(resource["algorithm"], "AEAD_AES_256_GCM");
    let apiv3_key = credentials["apiv3_key"].as_str().expect("key");
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(apiv3_key.as_bytes()).expect("key");
    let nonce = resource["nonce"].as_str().expect("nonce");
    let plaintext = cipher
        .decrypt(
            aes_gcm::Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: &STANDARD
                    .decode(resource["ciphertext"].as_str().expect("ct"))
                    .expect("base64"),
                aad: resource["associated_data"]
                    .as_str()
                    .expect("aad")
                    .as_bytes(),
            },
        )
        .expect("decrypts under the APIv3 key");
    (
        notification.clone(),
        serde_json::from_slice(&plaintext).expect("json"),
    )
}

async fn notifications(server: &TestServer, mchid: &str) -> Vec<Value> {
    let out: Value = server
        .sandbox
        .get(&format!("/events?mchid={mchid}"))
        .await
        .expect("events");
    out["events"].as_array().expect("events").clone()
}

/// The whole flow a merchant's code runs, with a notify_url that fails twice: retried at
/// the sandbox clock's slots, delivered once, kept across a restart.
async fn a_payment_is_prepaid_paid_notified_queried_and_refunded(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (merchant, credentials) = merchant_of(&server, &shop).await;
    let platform = credentials["platform_public_key"].clone();
    let (url, received) = receiver(2).await;
    let body = prepay_body(&shop, "V3|0001", &url);

    let response = call(
        &server,
        &merchant,
        "POST",
        "/v3/pay/transactions/jsapi",
        Some(&body),
    )
    .await;
    let prepay_id = answered(response, 200, &platform).await["prepay_id"]
        .as_str()
        .expect("prepay_id")
        .to_owned();
    assert!(
        prepay_id.starts_with("wx") && prepay_id.len() == 36,
        "{prepay_id}"
    );
    assert_eq!(
        prepay(&server, &merchant, &body).await,
        prepay_id,
        "a repeat"
    );
    let target = format!(
        "/v3/pay/transactions/out-trade-no/V3%7C0001?mchid={}",
        merchant.mchid
    );
    let unpaid = answered(
        call(&server, &merchant, "GET", &target, None).await,
        200,
        &platform,
    )
    .await;
    assert_eq!(unpaid["trade_state"], "NOTPAY");
    assert_eq!(unpaid["trade_state_desc"], "订单未支付");
    assert!(unpaid.get("transaction_id").is_none(), "{unpaid}");
    assert_eq!(unpaid["scene_info"]["device_id"], "D1");

    let paid = request_payment(
        &server,
        &pay_sign(&merchant, &shop.appid, &format!("prepay_id={prepay_id}")),
    )
    .await;
    assert_eq!(paid["errMsg"], "requestPayment:ok");
    let txid = paid["transaction_id"].as_str().expect("txid").to_owned();
    assert!(txid.len() == 28 && txid.starts_with("42000"), "{txid}");

    // Attempt 1 right after paying; the next slots are 15 s and 30 s on the sandbox clock.
    received.wait_for(1).await;
    let events = notifications(&server, &merchant.mchid).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let at = events[0]["at"].as_i64().expect("at");
    assert_eq!(events[0]["delivery"]["state"], "pending");
    assert_eq!(events[0]["delivery"]["next_at"], at + 15);
    assert_eq!(events[0]["delivery"]["log"][0]["status"], 500);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(received.count(), 1, "nothing before the next slot");
    server.sandbox.advance_clock(15).await.expect("clock");
    received.wait_for(2).await;
    // A restart between attempts loses nothing: the next slot still comes.
    let db = server.stop().await;
    let server = TestServer::start_on(db, userorder_server::JournalRetention::default()).await;
    server.sandbox.advance_clock(15).await.expect("clock");
    received.wait_for(3).await;
    let first = opened(&received.get(0), &credentials);
    let last = opened(&received.get(2), &credentials);
    // The Rust SDK opens it the same way.
    let sdk = sdk_client(&server, &merchant, &credentials);
    let (headers, body) = received.get(2);
    let apiv3_key = credentials["apiv3_key"].as_str().expect("key");
    let notice = sdk
        .open_notification(
            |name| headers.get(name).and_then(|v| v.to_str().ok()),
            &body,
            apiv3_key,
        )
        .expect("the SDK verifies and decrypts it");
    assert_eq!(notice.event_type, "TRANSACTION.SUCCESS");
    assert_eq!(notice.resource["transaction_id"], txid.as_str());
    let forged = body.replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCEED");
    let refused = sdk.open_notification(
        |name| headers.get(name).and_then(|v| v.to_str().ok()),
        &forged,
        apiv3_key,
    );
    assert!(refused.is_err(), "a changed body does not verify");
    assert_eq!(
        first.0["id"], last.0["id"],
        "the same notification each time"
    );
    assert_eq!(last.0["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(last.0["summary"], "支付成功");
    assert!(
        last.0["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("EV-"))
    );
    let transaction = last.1;
    assert_eq!(transaction["trade_state"], "SUCCESS");
    assert_eq!(transaction["transaction_id"], txid.as_str());
    assert_eq!(transaction["out_trade_no"], "V3|0001");
    assert_eq!(transaction["amount"]["payer_total"], 300);
    assert_eq!(transaction["attach"], "a1");

    // Delivered once: a restart and more time send nothing again.
    let db = server.stop().await;
    let server = TestServer::start_on(db, userorder_server::JournalRetention::default()).await;
    server.sandbox.advance_clock(3_600).await.expect("clock");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(received.count(), 3);
    let events = notifications(&server, &merchant.mchid).await;
    assert_eq!(events[0]["delivery"]["state"], "delivered");
    assert_eq!(events[0]["delivery"]["attempts"], 3);
    assert_eq!(events[0]["payload"]["notification"]["id"], first.0["id"]);

    let by_id = format!("/v3/pay/transactions/id/{txid}?mchid={}", merchant.mchid);
    let queried = answered(
        call(&server, &merchant, "GET", &by_id, None).await,
        200,
        &platform,
    )
    .await;
    assert_eq!(queried["trade_state"], "SUCCESS");
    assert_eq!(queried["bank_type"], "OTHERS");

    // A partial refund: PROCESSING, then SUCCESS at once (refund_delay_s 0), notified.
    let refund = json!({"out_trade_no": "V3|0001", "out_refund_no": "R-1",
                        "notify_url": url, "reason": "broken",
                        "amount": {"refund": 100, "total": 300, "currency": "CNY"}});
    let created = answered(
        call(
            &server,
            &merchant,
            "POST",
            "/v3/refund/domestic/refunds",
            Some(&refund),
        )
        .await,
        200,
        &platform,
    )
    .await;
    assert_eq!(created["status"], "PROCESSING");
    assert_eq!(created["transaction_id"], txid.as_str());
    assert_eq!(created["refund_id"].as_str().map(str::len), Some(29));
    let refund_query = answered(
        call(
            &server,
            &merchant,
            "GET",
            "/v3/refund/domestic/refunds/R-1",
            None,
        )
        .await,
        200,
        &platform,
    )
    .await;
    assert_eq!(refund_query["status"], "SUCCESS");
    assert!(refund_query["success_time"].is_string());
    received.wait_for(4).await;
    let (notice, plain) = opened(&received.get(3), &credentials);
    assert_eq!(notice["event_type"], "REFUND.SUCCESS");
    assert_eq!(notice["resource"]["original_type"], "refund");
    assert_eq!(plain["refund_status"], "SUCCESS");
    assert_eq!(plain["amount"]["refund"], 100);
    let queried = answered(
        call(&server, &merchant, "GET", &by_id, None).await,
        200,
        &platform,
    )
    .await;
    assert_eq!(queried["trade_state"], "REFUND");
    assert_eq!(queried["trade_state_desc"], "转入退款");
    let view: Value = server
        .sandbox
        .get(&format!("/payments/{txid}"))
        .await
        .expect("payment");
    assert_eq!(view["v3"]["refunded_amount"], 100);
    assert_eq!(
        view["refunded_at"],
        Value::Null,
        "a partial refund leaves §10 alone"
    );

    // The sandbox refunds the remainder as a v3 refund: whole now, §10's state 5.
    let rest: Value = server
        .sandbox
        .post(&format!("/payments/{txid}/refund"), &json!({}))
        .await
        .expect("sandbox refund");
    assert_eq!(rest["v3"]["refunded_amount"], 300);
    assert!(rest["refunded_at"].is_i64(), "{rest}");
    let sandbox_refund = &rest["v3"]["refunds"][1];
    assert_eq!(sandbox_refund["status"], "SUCCESS");
    assert!(
        sandbox_refund["out_refund_no"]
            .as_str()
            .is_some_and(|no| no.starts_with("SANDBOX50"))
    );
    let again = server
        .sandbox
        .post::<Value>(&format!("/payments/{txid}/refund"), &json!({}))
        .await;
    assert!(format!("{again:?}").contains("409"), "{again:?}");
}

/// Prepay, query and close refusals in SPEC §11.5's order, each with its status and code.
async fn payments_refuse_in_spec_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (merchant, credentials) = merchant_of(&server, &shop).await;
    let platform = credentials["platform_public_key"].clone();
    let other = server.shop().await;
    let jsapi = "/v3/pay/transactions/jsapi";
    let post = |body: Value| {
        let (server, merchant) = (&server, &merchant);
        async move { call(server, merchant, "POST", jsapi, Some(&body)).await }
    };
    let with = |field: &str, value: Value| {
        let mut body = prepay_body(&shop, "E-0001", "https://m.example/notify");
        match field.split_once('/') {
            Some((outer, inner)) => body[outer][inner] = value,
            None => body[field] = value,
        }
        body
    };

    let missing = post(with("appid", json!(""))).await;
    assert_eq!(missing.status().as_u16(), 400);
    let error: Value = missing.json().await.expect("json");
    assert_eq!(error["code"], "PARAM_ERROR");
    assert_eq!(
        error["message"],
        "输入源“/body/appid”映射到字段“appid”必填性规则校验失败，此字段为必填项"
    );
    assert_eq!(
        error["detail"],
        json!({"field": "/appid", "value": "", "issue": "required", "location": "body"})
    );
    let zero: Value = post(with("amount/total", json!(0)))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(zero["detail"]["field"], "/amount/total");
    assert_eq!(zero["detail"]["value"], 0);
    let not_object = call(&server, &merchant, "POST", jsapi, Some(&json!([1]))).await;
    let error: Value = not_object.json().await.expect("json");
    assert_eq!(
        (error["code"].as_str(), error["message"].as_str()),
        (Some("PARAM_ERROR"), Some("请求体格式错误"))
    );
    for (body, status, code, message) in [
        (
            with("mchid", json!(other.mchid)),
            400,
            "INVALID_REQUEST",
            "请求中的商户号与签名商户号不一致",
        ),
        (
            with("mchid", json!("1999999999")),
            400,
            "MCH_NOT_EXISTS",
            "商户号不存在",
        ),
        (
            with("appid", json!(other.appid)),
            400,
            "APPID_MCHID_NOT_MATCH",
            "appid和mch_id不匹配",
        ),
        (
            with("payer/openid", json!(other.openid)),
            400,
            "PARAM_ERROR",
            "appid和openid不匹配",
        ),
    ] {
        refused(post(body).await, status, code, message).await;
    }

    let prepay_id = prepay(&server, &merchant, &with("attach", json!("a1"))).await;
    refused(
        post(with("amount/total", json!(301))).await,
        403,
        "OUT_TRADE_NO_USED",
        "商户订单号重复",
    )
    .await;
    let no_mchid = call(
        &server,
        &merchant,
        "GET",
        "/v3/pay/transactions/out-trade-no/E-0001",
        None,
    )
    .await;
    assert_eq!(no_mchid.status().as_u16(), 400);
    let error: Value = no_mchid.json().await.expect("json");
    assert_eq!(error["detail"]["location"], "uri_template");
    assert_eq!(error["detail"]["field"], "/mchid");
    let q = format!("?mchid={}", merchant.mchid);
    let unknown = format!("/v3/pay/transactions/out-trade-no/E-9999{q}");
    refused(
        call(&server, &merchant, "GET", &unknown, None).await,
        404,
        "ORDER_NOT_EXIST",
        "订单不存在",
    )
    .await;
    let view: Value = server
        .sandbox
        .get(&format!("/payments?prepay_id={prepay_id}"))
        .await
        .expect("by prepay_id");
    let unpaid_id = format!(
        "/v3/pay/transactions/id/{}{q}",
        view["transaction_id"].as_str().expect("txid")
    );
    refused(
        call(&server, &merchant, "GET", &unpaid_id, None).await,
        404,
        "ORDER_NOT_EXIST",
        "订单不存在",
    )
    .await;

    let close = "/v3/pay/transactions/out-trade-no/E-0001/close";
    let closing = json!({"mchid": merchant.mchid});
    for _ in 0..2 {
        let closed = call(&server, &merchant, "POST", close, Some(&closing)).await;
        assert_eq!(
            answered(closed, 204, &platform).await,
            Value::Null,
            "idempotent"
        );
    }
    refused(
        post(with("attach", json!("a1"))).await,
        400,
        "ORDER_CLOSED",
        "订单已关闭",
    )
    .await;

    let mut second = with("out_trade_no", json!("E-0002"));
    second["attach"] = json!("a1");
    paid(&server, &merchant, &shop, &second).await;
    refused(post(second).await, 400, "ORDERPAID", "订单已支付").await;
    let close2 = "/v3/pay/transactions/out-trade-no/E-0002/close";
    refused(
        call(&server, &merchant, "POST", close2, Some(&closing)).await,
        400,
        "ORDERPAID",
        "订单已支付",
    )
    .await;

    // A prepay past its time_expire stays NOTPAY but is closed to repeats.
    let mut third = with("out_trade_no", json!("E-0003"));
    third["attach"] = json!("a1");
    prepay(&server, &merchant, &third).await;
    server
        .sandbox
        .advance_clock(8 * 86_400)
        .await
        .expect("clock");
    refused(post(third).await, 400, "ORDER_CLOSED", "订单已关闭").await;
}

/// Refund refusals (SPEC §11.9) and outcomes decided by the sandbox.
async fn refunds_refuse_in_spec_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (merchant, _) = merchant_of(&server, &shop).await;
    paid(
        &server,
        &merchant,
        &shop,
        &prepay_body(&shop, "F-0001", "https://m.example/n"),
    )
    .await;
    let refunds = "/v3/refund/domestic/refunds";
    let refund = |no: &str, amount: i64, total: i64| {
        json!({"out_trade_no": "F-0001", "out_refund_no": no,
               "amount": {"refund": amount, "total": total, "currency": "CNY"}})
    };
    let post = |body: Value| {
        let (server, merchant) = (&server, &merchant);
        async move { call(server, merchant, "POST", refunds, Some(&body)).await }
    };

    let no_agent = reqwest::Client::new()
        .post(format!("{}{refunds}", server.base))
        .body(refund("R1", 1, 300).to_string())
        .send()
        .await
        .expect("sent");
    refused(
        no_agent,
        400,
        "INVALID_REQUEST",
        "Http头缺少Accept或User-Agent",
    )
    .await;
    let mut unknown = refund("R1", 1, 300);
    unknown["out_trade_no"] = json!("F-9999");
    refused(
        post(unknown).await,
        404,
        "RESOURCE_NOT_EXISTS",
        "订单不存在",
    )
    .await;
    let missing = post(
        json!({"out_refund_no": "R1", "amount": {"refund": 1, "total": 300, "currency": "CNY"}}),
    )
    .await;
    let error: Value = missing.json().await.expect("json");
    assert_eq!(
        (error["code"].as_str(), error["detail"]["field"].as_str()),
        (Some("PARAM_ERROR"), Some("/out_trade_no"))
    );
    refused(
        post(refund("R1", 1, 299)).await,
        400,
        "INVALID_REQUEST",
        "您的请求参数与订单信息不一致",
    )
    .await;
    let first: Value = post(refund("R1", 100, 300))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(first["status"], "PROCESSING");
    let again: Value = post(refund("R1", 100, 300))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        again["refund_id"], first["refund_id"],
        "a retry answers the same refund"
    );
    refused(
        post(refund("R1", 50, 300)).await,
        400,
        "INVALID_REQUEST",
        "商户退款单号已被使用",
    )
    .await;
    refused(
        post(refund("R2", 50, 300)).await,
        429,
        "FREQUENCY_LIMITED",
        "同一笔订单的退款请求需相隔1分钟",
    )
    .await;
    server.sandbox.advance_clock(60).await.expect("clock");
    refused(
        post(refund("R2", 201, 300)).await,
        400,
        "INVALID_REQUEST",
        "申请退款金额超过订单可退金额",
    )
    .await;
    let unknown_refund = call(
        &server,
        &merchant,
        "GET",
        &format!("{refunds}/R-none"),
        None,
    )
    .await;
    refused(unknown_refund, 404, "RESOURCE_NOT_EXISTS", "退款单不存在").await;

    // MANUAL outcomes wait for the sandbox: PROCESSING → ABNORMAL → SUCCESS; then 409.
    let path = format!("/merchants/{}/apiv3", merchant.mchid);
    let _: Value = server
        .sandbox
        .put(
            &path,
            &json!({"refund_outcome": "MANUAL", "refund_min_interval_s": 0}),
        )
        .await
        .expect("settings");
    let manual: Value = post(refund("R2", 200, 300))
        .await
        .json()
        .await
        .expect("json");
    let result = format!(
        "/refunds/{}/result",
        manual["refund_id"].as_str().expect("id")
    );
    let abnormal: Value = server
        .sandbox
        .post(&result, &json!({"status": "ABNORMAL"}))
        .await
        .expect("abnormal");
    assert_eq!(abnormal["status"], "ABNORMAL");
    refused(
        post(refund("R3", 1, 300)).await,
        400,
        "INVALID_REQUEST",
        "申请退款金额超过订单可退金额",
    )
    .await;
    let success: Value = server
        .sandbox
        .post(&result, &json!({"status": "SUCCESS"}))
        .await
        .expect("success");
    assert_eq!(success["status"], "SUCCESS");
    let twice = server
        .sandbox
        .post::<Value>(&result, &json!({"status": "CLOSED"}))
        .await;
    assert!(format!("{twice:?}").contains("409"), "{twice:?}");
    let view: Value = server
        .sandbox
        .get(&format!(
            "/payments?mchid={}&out_trade_no=F-0001",
            merchant.mchid
        ))
        .await
        .expect("payment");
    assert_eq!(view["state"], "REFUND");
    assert!(
        view["refunded_at"].is_i64(),
        "refunded whole: §10's state 5"
    );

    // 50 refunds at most; none after 365 days.
    paid(
        &server,
        &merchant,
        &shop,
        &prepay_body(&shop, "F-0002", "https://m.example/n"),
    )
    .await;
    let many = |no: String| {
        let mut body = refund(&no, 1, 300);
        body["out_trade_no"] = json!("F-0002");
        body
    };
    for i in 0..50 {
        let answer = post(many(format!("M{i}"))).await;
        assert_eq!(answer.status().as_u16(), 200, "refund {i}");
    }
    refused(
        post(many("M50".into())).await,
        400,
        "INVALID_REQUEST",
        "订单退款次数超过50次",
    )
    .await;
    paid(
        &server,
        &merchant,
        &shop,
        &prepay_body(&shop, "F-0003", "https://m.example/n"),
    )
    .await;
    server
        .sandbox
        .advance_clock(366 * 86_400)
        .await
        .expect("clock");
    let mut late = refund("L1", 1, 300);
    late["out_trade_no"] = json!("F-0003");
    refused(post(late).await, 400, "TRADE_OVERDUE", "订单已超过退款期限").await;
}

/// `wx.requestPayment` (SPEC §11.8): each failure's errMsg in check order.
async fn request_payment_answers_in_spec_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (merchant, _) = merchant_of(&server, &shop).await;
    let prepay_id = prepay(
        &server,
        &merchant,
        &prepay_body(&shop, "G-0001", "https://m.example/n"),
    )
    .await;
    let package = format!("prepay_id={prepay_id}");
    let fails = |body: Value, reason: &'static str| {
        let server = &server;
        async move {
            let answer = request_payment(server, &body).await;
            assert_eq!(
                answer["errMsg"],
                format!("requestPayment:fail {reason}"),
                "{body}"
            );
        }
    };
    fails(
        pay_sign(&merchant, &shop.appid, "prepay_id=wx0"),
        "prepay_id无效",
    )
    .await;
    let mut forged = pay_sign(&merchant, &shop.appid, &package);
    forged["nonceStr"] = json!("changed");
    fails(forged, "支付验证签名失败").await;
    let mut md5 = pay_sign(&merchant, &shop.appid, &package);
    md5["signType"] = json!("MD5");
    fails(md5, "支付验证签名失败").await;
    fails(pay_sign(&merchant, "wx_other", &package), "appid不一致").await;
    let mut stranger = pay_sign(&merchant, &shop.appid, &package);
    stranger["openid"] = json!("o-someone-else");
    fails(stranger, "下单账号与支付账号不一致").await;
    let mut cancel = pay_sign(&merchant, &shop.appid, &package);
    cancel["result"] = json!("CANCEL");
    fails(cancel, "cancel").await;
    let mut error = pay_sign(&merchant, &shop.appid, &package);
    error["result"] = json!("PAYERROR");
    fails(error, "支付失败").await;
    fails(pay_sign(&merchant, &shop.appid, &package), "订单已关闭").await;

    let second = prepay(
        &server,
        &merchant,
        &prepay_body(&shop, "G-0002", "https://m.example/n"),
    )
    .await;
    let package = format!("prepay_id={second}");
    let ok = request_payment(&server, &pay_sign(&merchant, &shop.appid, &package)).await;
    assert_eq!(ok["errMsg"], "requestPayment:ok");
    fails(pay_sign(&merchant, &shop.appid, &package), "订单已支付").await;
    let txid = ok["transaction_id"].as_str().expect("txid");
    let again = server
        .sandbox
        .post::<Value>(&format!("/payments/{txid}/pay"), &json!({}))
        .await;
    assert!(format!("{again:?}").contains("409"), "{again:?}");

    let third = prepay(
        &server,
        &merchant,
        &prepay_body(&shop, "G-0003", "https://m.example/n"),
    )
    .await;
    server.sandbox.advance_clock(7_201).await.expect("clock");
    fails(
        pay_sign(&merchant, &shop.appid, &format!("prepay_id={third}")),
        "prepay_id已过期",
    )
    .await;
}

/// Combined payments (SPEC §11.10): one prepay_id pays every sub-order; refusals in order.
async fn combined_payments_are_prepaid_paid_queried_and_closed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (merchant, credentials) = merchant_of(&server, &shop).await;
    let platform = credentials["platform_public_key"].clone();
    let second: Value = server
        .sandbox
        .post("/merchants", &json!({"appids": [shop.appid]}))
        .await
        .expect("merchant");
    let second = second["mchid"].as_str().expect("mchid").to_owned();
    let stranger = server.shop().await;
    let (url, received) = receiver(0).await;
    let combine = |no: &str, subs: Value| {
        json!({"combine_appid": shop.appid, "combine_mchid": shop.mchid,
               "combine_out_trade_no": no, "sub_orders": subs,
               "combine_payer_info": {"openid": shop.openid}, "notify_url": url})
    };
    let sub = |mchid: &str, no: &str, total: i64| {
        json!({"mchid": mchid, "attach": "a", "out_trade_no": no, "description": "Tea",
               "amount": {"total_amount": total, "currency": "CNY"}})
    };
    let subs = json!([sub(&shop.mchid, "S-0001", 100), sub(&second, "S-0002", 200)]);
    let jsapi = "/v3/combine-transactions/jsapi";
    let post = |body: Value| {
        let (server, merchant) = (&server, &merchant);
        async move { call(server, merchant, "POST", jsapi, Some(&body)).await }
    };

    let one: Value = post(combine("C-0001", json!([sub(&shop.mchid, "S-0001", 100)])))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["detail"]["issue"], "must have 2-10 entries", "{one}");
    let twice: Value = post(combine(
        "C-0001",
        json!([sub(&second, "S-0001", 1), sub(&second, "S-0001", 1)]),
    ))
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(
        (
            twice["detail"]["field"].as_str(),
            twice["detail"]["issue"].as_str()
        ),
        (Some("/sub_orders/1/out_trade_no"), Some("duplicate"))
    );
    let unknown = json!([
        sub(&shop.mchid, "S-0001", 100),
        sub("1999999999", "S-0002", 200)
    ]);
    refused(
        post(combine("C-0001", unknown)).await,
        400,
        "MCH_NOT_EXISTS",
        "商户号不存在",
    )
    .await;
    let unbound = json!([
        sub(&shop.mchid, "S-0001", 100),
        sub(&stranger.mchid, "S-0002", 200)
    ]);
    refused(
        post(combine("C-0001", unbound)).await,
        400,
        "APPID_MCHID_NOT_MATCH",
        "appid和mch_id不匹配",
    )
    .await;
    prepay(
        &server,
        &merchant,
        &prepay_body(&shop, "S-0009", "https://m.example/n"),
    )
    .await;
    let taken = json!([sub(&shop.mchid, "S-0009", 100), sub(&second, "S-0002", 200)]);
    refused(
        post(combine("C-0001", taken)).await,
        403,
        "OUT_TRADE_NO_USED",
        "商户订单号重复",
    )
    .await;
    refused(
        post(combine("S-0009", subs.clone())).await,
        403,
        "OUT_TRADE_NO_USED",
        "商户订单号重复",
    )
    .await;

    let first: Value = answered(post(combine("C-0001", subs.clone())).await, 200, &platform).await;
    let prepay_id = first["prepay_id"].as_str().expect("prepay_id").to_owned();
    let again: Value = post(combine("C-0001", subs.clone()))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(again["prepay_id"], prepay_id.as_str(), "a repeat");
    let query = "/v3/combine-transactions/out-trade-no/C-0001";
    let unpaid = answered(
        call(&server, &merchant, "GET", query, None).await,
        200,
        &platform,
    )
    .await;
    assert_eq!(unpaid["sub_orders"][1]["trade_state"], "NOTPAY");
    assert!(unpaid["sub_orders"][1].get("transaction_id").is_none());
    let q = format!("?mchid={}", merchant.mchid);
    for no in ["C-0001", "S-0001"] {
        let ordinary = format!("/v3/pay/transactions/out-trade-no/{no}{q}");
        refused(
            call(&server, &merchant, "GET", &ordinary, None).await,
            404,
            "ORDER_NOT_EXIST",
            "订单不存在",
        )
        .await;
    }
    let close = "/v3/combine-transactions/out-trade-no/C-0001/close";
    let wrong = json!({"combine_appid": shop.appid, "sub_orders": [
        {"mchid": shop.mchid, "out_trade_no": "S-0001"}, {"mchid": second, "out_trade_no": "S-0003"}]});
    refused(
        call(&server, &merchant, "POST", close, Some(&wrong)).await,
        400,
        "INVALID_REQUEST",
        "您的请求参数与订单信息不一致",
    )
    .await;

    // A sub-order is paid with its combined payment, never alone.
    let view: Value = server
        .sandbox
        .get(&format!("/payments?prepay_id={prepay_id}"))
        .await
        .expect("by prepay_id");
    let sub_txid = view["sub_orders"][0]["transaction_id"]
        .as_str()
        .expect("sub-order")
        .to_owned();
    let alone = server
        .sandbox
        .post::<Value>(&format!("/payments/{sub_txid}/pay"), &json!({}))
        .await;
    assert!(format!("{alone:?}").contains("409"), "{alone:?}");

    let paid = request_payment(
        &server,
        &pay_sign(&merchant, &shop.appid, &format!("prepay_id={prepay_id}")),
    )
    .await;
    assert_eq!(paid["errMsg"], "requestPayment:ok");
    received.wait_for(1).await;
    let (notice, resource) = opened(&received.get(0), &credentials);
    assert_eq!(notice["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(resource["combine_out_trade_no"], "C-0001");
    assert_eq!(resource["sub_orders"][1]["trade_state"], "SUCCESS");
    assert!(
        resource.get("transaction_id").is_none(),
        "no master transaction_id"
    );
    let queried = answered(
        call(&server, &merchant, "GET", query, None).await,
        200,
        &platform,
    )
    .await;
    assert_eq!(queried["sub_orders"][0]["amount"]["payer_amount"], 100);
    assert_eq!(queried["sub_orders"][1]["mchid"], second.as_str());
    assert_eq!(
        queried["sub_orders"][1]["transaction_id"]
            .as_str()
            .map(str::len),
        Some(28)
    );
    let right = json!({"combine_appid": shop.appid, "sub_orders": [
        {"mchid": second, "out_trade_no": "S-0002"}, {"mchid": shop.mchid, "out_trade_no": "S-0001"}]});
    refused(
        call(&server, &merchant, "POST", close, Some(&right)).await,
        400,
        "ORDERPAID",
        "订单已支付",
    )
    .await;

    // Each sub-order is refunded by its own merchant; the master is not refundable.
    let second_merchant: Value = server
        .sandbox
        .put(
            &format!("/merchants/{second}/apiv3"),
            &json!({"generate_merchant_key": true}),
        )
        .await
        .expect("second merchant's credentials");
    let second_merchant = Merchant {
        mchid: second.clone(),
        serial_no: second_merchant["generated"]["serial_no"]
            .as_str()
            .expect("serial")
            .into(),
        private_key_pem: second_merchant["generated"]["private_key_pem"]
            .as_str()
            .expect("key")
            .into(),
    };
    let refund = |no: &str| {
        json!({"out_trade_no": no, "out_refund_no": format!("R{no}"),
               "amount": {"refund": 200, "total": 200, "currency": "CNY"}})
    };
    let refunds = "/v3/refund/domestic/refunds";
    let by_first = call(&server, &merchant, "POST", refunds, Some(&refund("S-0002"))).await;
    refused(by_first, 404, "RESOURCE_NOT_EXISTS", "订单不存在").await;
    let mut master = refund("C-0001");
    master["amount"] = json!({"refund": 300, "total": 300, "currency": "CNY"});
    let of_master = call(&server, &merchant, "POST", refunds, Some(&master)).await;
    refused(of_master, 404, "RESOURCE_NOT_EXISTS", "订单不存在").await;
    let created: Value = call(
        &server,
        &second_merchant,
        "POST",
        refunds,
        Some(&refund("S-0002")),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(created["status"], "PROCESSING", "{created}");
    let query = call(
        &server,
        &second_merchant,
        "GET",
        &format!("{refunds}/RS-0002"),
        None,
    )
    .await;
    let queried: Value = query.json().await.expect("json");
    assert_eq!(queried["status"], "SUCCESS");
    assert_eq!(queried["out_trade_no"], "S-0002");
    let combined_query = "/v3/combine-transactions/out-trade-no/C-0001";
    let states = |c: &Value| {
        [0, 1].map(|i| {
            c["sub_orders"][i]["trade_state"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
    };
    let after = answered(
        call(&server, &merchant, "GET", combined_query, None).await,
        200,
        &platform,
    )
    .await;
    assert_eq!(
        states(&after),
        ["SUCCESS", "REFUND"],
        "each sub-order its own state"
    );

    // The sandbox refunds what remains of each sub-order; then nothing is left.
    let view: Value = server
        .sandbox
        .get(&format!("/payments?prepay_id={prepay_id}"))
        .await
        .expect("by prepay_id");
    let master_txid = view["transaction_id"].as_str().expect("txid").to_owned();
    let _: Value = server
        .sandbox
        .post(&format!("/payments/{master_txid}/refund"), &json!({}))
        .await
        .expect("sandbox refund");
    let after = answered(
        call(&server, &merchant, "GET", combined_query, None).await,
        200,
        &platform,
    )
    .await;
    assert_eq!(states(&after), ["REFUND", "REFUND"]);
    let again = server
        .sandbox
        .post::<Value>(&format!("/payments/{master_txid}/refund"), &json!({}))
        .await;
    assert!(format!("{again:?}").contains("409"), "{again:?}");

    let subs = json!([sub(&shop.mchid, "S-0011", 100), sub(&second, "S-0012", 200)]);
    post(combine("C-0002", subs.clone())).await;
    let close = "/v3/combine-transactions/out-trade-no/C-0002/close";
    let keys = json!({"combine_appid": shop.appid, "sub_orders": [
        {"mchid": shop.mchid, "out_trade_no": "S-0011"}, {"mchid": second, "out_trade_no": "S-0012"}]});
    for _ in 0..2 {
        let closed = call(&server, &merchant, "POST", close, Some(&keys)).await;
        assert_eq!(answered(closed, 204, &platform).await, Value::Null);
    }
    refused(
        post(combine("C-0002", subs)).await,
        400,
        "ORDER_CLOSED",
        "订单已关闭",
    )
    .await;
}

/// Scripted faults (SPEC §11.13): every code of §11.14's fault list answers in turn, after
/// the signature is checked and only on its path; then the call goes through.
async fn scripted_faults_answer_every_wechat_pay_code(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (merchant, _) = merchant_of(&server, &shop).await;
    let jsapi = "/v3/pay/transactions/jsapi";
    let codes: Vec<&str> = userorder_model::pay_v3::FAULTS
        .iter()
        .map(|f| f.0)
        .collect();
    server
        .sandbox
        .script_v3_faults(&merchant.mchid, Some(jsapi), &codes)
        .await
        .expect("faults");
    let body = prepay_body(&shop, "H-0001", "https://m.example/n");
    // A bad signature is answered first and takes no fault.
    let forged = reqwest::Client::new()
        .post(format!("{}{jsapi}", server.base))
        .header(
            "authorization",
            merchant.authorization("POST", jsapi, "{}", now()),
        )
        .body(body.to_string())
        .send()
        .await
        .expect("sent");
    refused(forged, 401, "SIGN_ERROR", "签名错误，请检查后再试").await;
    // Another path is not scripted.
    let other = format!(
        "/v3/pay/transactions/out-trade-no/H-0001?mchid={}",
        merchant.mchid
    );
    refused(
        call(&server, &merchant, "GET", &other, None).await,
        404,
        "ORDER_NOT_EXIST",
        "订单不存在",
    )
    .await;
    for (code, status, message) in userorder_model::pay_v3::FAULTS {
        let answer = call(&server, &merchant, "POST", jsapi, Some(&body)).await;
        refused(answer, status, code, message).await;
    }
    prepay(&server, &merchant, &body).await;
    let unknown = server
        .sandbox
        .script_v3_faults(&merchant.mchid, None, &["ORDER_PAID"])
        .await;
    assert!(format!("{unknown:?}").contains("400"), "{unknown:?}");
}

/// `sign_probe` (SPEC §11.2): answers carry WeChat Pay's probe signature, which a client
/// that verifies (the Rust SDK here) refuses.
async fn probe_signatures_are_refused_by_a_verifying_client(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (merchant, credentials) = merchant_of(&server, &shop).await;
    let path = format!("/merchants/{}/apiv3", merchant.mchid);
    let set: Value = server
        .sandbox
        .put(&path, &json!({"sign_probe": true}))
        .await
        .expect("probe");
    assert_eq!(set["sign_probe"], true);
    let body = prepay_body(&shop, "K-0001", "https://m.example/n");
    let answer = call(
        &server,
        &merchant,
        "POST",
        "/v3/pay/transactions/jsapi",
        Some(&body),
    )
    .await;
    assert_eq!(answer.status().as_u16(), 200);
    let signature = answer
        .headers()
        .get("wechatpay-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let noise = signature
        .strip_prefix("WECHATPAY/SIGNTEST/")
        .and_then(|b64| STANDARD.decode(b64).ok())
        .expect("a probe signature");
    assert_eq!(noise.len(), 256);
    let client = sdk_client(&server, &merchant, &credentials);
    let target = format!(
        "/v3/pay/transactions/out-trade-no/K-0001?mchid={}",
        merchant.mchid
    );
    let refused = client.call(reqwest::Method::GET, &target, None).await;
    assert!(
        matches!(&refused, Err(userorder_client::Error::Decode(m)) if m.contains("WECHATPAY/SIGNTEST/")),
        "{refused:?}"
    );
    let _: Value = server
        .sandbox
        .put(&path, &json!({"sign_probe": false}))
        .await
        .expect("off");
    let queried = client
        .call(reqwest::Method::GET, &target, None)
        .await
        .expect("verified");
    assert_eq!(queried.status, 200);
}

on_every_backend!(
    probe_signatures_are_refused_by_a_verifying_client,
    scripted_faults_answer_every_wechat_pay_code,
    combined_payments_are_prepaid_paid_queried_and_closed,
    a_payment_is_prepaid_paid_notified_queried_and_refunded,
    payments_refuse_in_spec_order,
    refunds_refuse_in_spec_order,
    request_payment_answers_in_spec_order,
);
