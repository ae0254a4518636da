//! The harness: a spawned server, a ready-made shop (app, merchant, payer, token) and
//! valid request bodies to break one rule at a time.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use userorder_client::{Client, Error, Sandbox};
use userorder_model::ErrCode;
use userorder_server::{Config, JournalRetention, PushSettings, QuotaDefaults, Server, Timeouts};
pub use userorder_store::testing::{Backend, TestDb};

pub const ADMIN: &str = "test-admin-token";

pub use userorder_store::on_every_backend;

/// SPEC's push timing, shortened so that a test sees every retry in a second.
pub fn test_push() -> PushSettings {
    PushSettings {
        sweep_every: Duration::from_millis(500),
        retry_after: vec![Duration::from_millis(200); 3],
        timeout: Duration::from_secs(2),
    }
}

pub struct TestServer {
    pub base: String,
    pub client: Client,
    pub sandbox: Sandbox,
    pub db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, JournalRetention::default()).await
    }

    pub async fn start_with(backend: Backend, journal: JournalRetention) -> Self {
        let db = TestDb::create(&backend).await;
        Self::start_on(db, journal).await
    }

    /// Starts on an existing database (a restart).
    pub async fn start_on(db: TestDb, journal: JournalRetention) -> Self {
        Self::start_configured(db, journal, Timeouts::default()).await
    }

    pub async fn start_with_timeouts(backend: Backend, timeouts: Timeouts) -> Self {
        let db = TestDb::create(&backend).await;
        Self::start_configured(db, JournalRetention::default(), timeouts).await
    }

    async fn start_configured(db: TestDb, journal: JournalRetention, timeouts: Timeouts) -> Self {
        let server = Server::build(Config {
            timeouts,
            listen: "127.0.0.1:0".parse().expect("addr"),
            database_url: db.url.clone(),
            pool_size: 5,
            admin_token: ADMIN.into(),
            quotas: QuotaDefaults::default(),
            journal,
            push: test_push(),
        })
        .await
        .expect("server builds");
        let base = format!("http://{}", server.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
                .expect("server runs");
        });
        Self {
            client: Client::new(&base),
            sandbox: Sandbox::new(&base, ADMIN),
            base,
            db,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Graceful stop; answers the database for a restart.
    pub async fn stop(mut self) -> TestDb {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task ends");
        }
        self.db
    }

    /// Changes some of an app's trade-management settings (the rest keep theirs).
    pub async fn set_trade(
        &self,
        appid: &str,
        settings: userorder_model::sandbox::TradeManagementIn,
    ) {
        self.sandbox
            .set_trade_management(appid, &settings)
            .await
            .expect("trade-management settings");
    }

    /// A fresh app with a bound merchant, a payer and a token.
    pub async fn shop(&self) -> Shop {
        self.shop_with(json!({})).await
    }

    pub async fn shop_with(&self, app: Value) -> Shop {
        let created = self.sandbox.create_app(&app).await.expect("app");
        let appid = text(&created, "appid");
        let secret = text(&created, "secret");
        let mchid = self
            .sandbox
            .create_merchant(&[&appid])
            .await
            .expect("merchant");
        let openid = self
            .sandbox
            .create_openid(&appid, None)
            .await
            .expect("openid");
        let token = self
            .client
            .token(&appid, &secret)
            .await
            .expect("token")
            .access_token;
        Shop {
            appid,
            secret,
            mchid,
            openid,
            token,
        }
    }

    /// Answers the raw JSON of a POST with arbitrary bytes.
    pub async fn raw_post(&self, path: &str, token: &str, body: impl Into<reqwest::Body>) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}?access_token={token}", self.base))
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "WeChat APIs answer HTTP 200");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json; encoding=utf-8")
        );
        response.json().await.expect("json")
    }
}

pub struct Shop {
    pub appid: String,
    pub secret: String,
    pub mchid: String,
    pub openid: String,
    pub token: String,
}

/// A typed answer as JSON, for assertions that read it field by field.
pub fn json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("a typed answer serializes")
}

/// The stored orders of an app as JSON, newest first.
pub async fn orders_json(sandbox: &userorder_client::Sandbox, appid: &str) -> Vec<Value> {
    let orders = sandbox.orders(appid).await.expect("orders");
    orders.iter().map(json).collect()
}

/// The journal of an app as JSON, newest first.
pub async fn journal_json(sandbox: &userorder_client::Sandbox, appid: &str) -> Vec<Value> {
    let entries = sandbox.journal(appid).await.expect("journal");
    entries.iter().map(json).collect()
}

/// A string field of a JSON answer, typed or not.
pub fn text(value: &impl serde::Serialize, field: &str) -> String {
    let value = json(value);
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {field} in {value}"))
        .to_owned()
}

pub fn item(shop: &Shop, id: Option<&str>) -> Value {
    let mut item = json!({
        "name": "iPhoneX 256G 商品",
        "description": "Image形象店-深圳腾大-QQ公仔",
        "unit_price": 828800,
        "quantity": 2,
        "image_url": ["https://qpic.cn/xxx"],
        "item_detail_jump_link": {"type": 1, "appid": shop.appid, "path": "/pages/item/index"}
    });
    if let Some(id) = id {
        item["merchant_item_id"] = json!(id);
    }
    item
}

pub fn merchant_key(shop: &Shop, out_trade_no: &str) -> Value {
    json!({"order_number_type": 1, "mchid": shop.mchid, "out_trade_no": out_trade_no})
}

/// A valid uploadShoppingInfo body.
pub fn single_body(shop: &Shop, out_trade_no: &str, upload_time: &str) -> Value {
    json!({
        "order_key": merchant_key(shop, out_trade_no),
        "order_list": [{
            "merchant_order_no": format!("MO-{out_trade_no}"),
            "order_detail_jump_link": {"type": "MINI_PROGRAM", "appid": shop.appid, "path": "/pages/order/index"},
            "item_list": [item(shop, Some("item-0")), item(shop, Some("item-1"))]
        }],
        "payer": {"openid": shop.openid},
        "logistics_type": 1,
        "upload_time": upload_time
    })
}

/// A valid uploadCombinedShoppingInfo body with one sub-order per `subs` entry.
pub fn combined_body(shop: &Shop, master: &str, subs: &[&str], upload_time: &str) -> Value {
    let sub_orders: Vec<Value> = subs
        .iter()
        .map(|sub| {
            json!({
                "order_key": merchant_key(shop, sub),
                "merchant_order_no": format!("MO-{sub}"),
                "order_detail_jump_link": {"type": "URL", "url": format!("https://shop.example.com/o/{sub}")},
                "item_list": [item(shop, None)],
                "logistics_type": "VIRTUAL_GOODS"
            })
        })
        .collect();
    json!({
        "order_key": merchant_key(shop, master),
        "sub_orders": sub_orders,
        "payer": {"openid": shop.openid},
        "upload_time": upload_time
    })
}

/// Asserts a WeChat refusal: its code, its errmsg prefix and a well-formed rid.
pub fn assert_refused(result: Result<(), Error>, code: ErrCode, prefix: &str, case: &str) {
    match result {
        Err(Error::WeChat {
            code: got,
            message,
            rid,
        }) => {
            assert_eq!(got, code, "{case}: {message}");
            assert!(
                message.starts_with(prefix),
                "{case}: {message:?} should start with {prefix:?}"
            );
            let rid = rid.unwrap_or_else(|| panic!("{case}: no rid in {message:?}"));
            assert!(is_rid(&rid), "{case}: bad rid {rid:?}");
        }
        other => panic!("{case}: expected errcode {code}, got {other:?}"),
    }
}

/// Three groups of 8 lowercase hex digits joined by `-`.
pub fn is_rid(rid: &str) -> bool {
    let groups: Vec<&str> = rid.split('-').collect();
    groups.len() == 3
        && groups.iter().all(|g| {
            g.len() == 8
                && g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The `errcode` of a raw answer.
pub fn errcode(value: &Value) -> i64 {
    value.get("errcode").and_then(Value::as_i64).unwrap_or(0)
}

/// Sets or removes (with `Value::Null` meaning "remove") the field at a JSON pointer.
pub fn edit(body: &mut Value, pointer: &str, value: Option<Value>) {
    let (parent, last) = pointer.rsplit_once('/').expect("pointer");
    let target = body
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"));
    match (target, value) {
        (Value::Object(map), Some(v)) => {
            map.insert(last.to_owned(), v);
        }
        (Value::Object(map), None) => {
            map.remove(last);
        }
        (Value::Array(list), Some(v)) => {
            let i: usize = last.parse().expect("index");
            list[i] = v;
        }
        (Value::Array(list), None) => {
            let i: usize = last.parse().expect("index");
            list.remove(i);
        }
        (other, _) => panic!("cannot edit {other}"),
    }
}

pub const T0: &str = "2026-11-26T10:00:00.000+08:00";
pub const T1: &str = "2026-11-26T10:00:01.000+08:00";
pub const T2: &str = "2026-11-26T10:00:02.000+08:00";

/// Moves the sandbox clock to one second past the start of the next WeChat day (midnight
/// UTC+8), so that a test counting quotas has a whole fresh day and minute to itself.
pub async fn start_of_a_day(server: &TestServer) {
    let clock = server.sandbox.get::<Value>("/clock").await.expect("clock");
    let now = clock.get("unix").and_then(Value::as_i64).expect("unix");
    let china = now + 8 * 3600;
    let next_day = (china.div_euclid(86_400) + 1) * 86_400 - 8 * 3600;
    server
        .sandbox
        .advance_clock(next_day - now + 1)
        .await
        .expect("advance");
}

/// An unpaid payment of the shop's payer for `out_trade_no` (combined when `subs` is not
/// empty); answers its transaction_id.
pub async fn create_payment(
    server: &TestServer,
    shop: &Shop,
    out_trade_no: &str,
    subs: &[&str],
) -> String {
    let mut body = json!({
        "appid": shop.appid, "openid": shop.openid, "mchid": shop.mchid,
        "out_trade_no": out_trade_no, "amount": 100 * subs.len().max(1),
    });
    if !subs.is_empty() {
        body["sub_orders"] = subs
            .iter()
            .map(|s| json!({"mchid": shop.mchid, "out_trade_no": s, "amount": 100}))
            .collect();
    }
    let created = server.sandbox.create_payment(&body).await.expect("payment");
    assert_eq!(text(&created, "state"), "NOTPAY");
    text(&created, "transaction_id")
}
