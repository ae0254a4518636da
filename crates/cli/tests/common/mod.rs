//! Test support for the binary: a `userorder serve` child process and a ready-made shop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use userorder_client::{Client, Sandbox};
use userorder_store::testing::TestDb;

pub const BIN: &str = env!("CARGO_BIN_EXE_userorder");

pub const ADMIN: &str = "cross-process-admin";

/// A `userorder serve` child process, killed when dropped.
pub struct Process {
    child: Child,
    pub base: String,
    pub client: Client,
    pub sandbox: Sandbox,
}

impl Process {
    pub fn spawn(db: &TestDb) -> Self {
        Self::spawn_on(&db.url)
    }

    /// A server on the database `url` names.
    pub fn spawn_on(url: &str) -> Self {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                url,
                "--pool-size",
                "4",
            ])
            .env("USERORDER_ADMIN_TOKEN", ADMIN)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("userorder starts");
        let stderr = child.stderr.take().expect("stderr");
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        // Read the listening address from the log, then keep draining it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line
                    .split_whitespace()
                    .find_map(|word| word.strip_prefix("addr="))
                    .filter(|_| line.contains("listening"))
                {
                    let _ = addr_tx.send(addr.to_owned());
                }
            }
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server reports its address");
        let base = format!("http://{addr}");
        Self {
            child,
            client: Client::new(&base),
            sandbox: Sandbox::new(&base, ADMIN),
            base,
        }
    }
}

impl Process {
    /// SIGKILL, as a crash or an OOM kill would: no shutdown code runs.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Shop {
    pub appid: String,
    pub secret: String,
    pub mchid: String,
    pub openid: String,
}

pub async fn shop(sandbox: &Sandbox, app: Value) -> Shop {
    let created = sandbox.create_app(&app).await.expect("app");
    let (appid, secret) = (created.appid, created.secret);
    let mchid = sandbox.create_merchant(&[&appid]).await.expect("merchant");
    let openid = sandbox.create_openid(&appid, None).await.expect("openid");
    Shop {
        appid,
        secret,
        mchid,
        openid,
    }
}

pub fn upload(shop: &Shop, out_trade_no: &str, upload_time: &str, note: &str) -> Value {
    json!({
        "order_key": {"order_number_type": 1, "mchid": shop.mchid, "out_trade_no": out_trade_no},
        "order_list": [{
            "merchant_order_no": note,
            "order_detail_jump_link": {"type": "URL", "url": "https://shop.example.com/o"},
            "item_list": [{"name": "item", "unit_price": 100, "quantity": 1, "image_url": ["https://img.example.com/1.png"],
                           "item_detail_jump_link": {"type": "URL", "url": "https://shop.example.com/i"}}]
        }],
        "payer": {"openid": shop.openid},
        "upload_time": upload_time
    })
}

/// Every order of an app the sandbox lists (all pages), with each one's versions when
/// `history` is set.
pub async fn all_orders(sandbox: &Sandbox, appid: &str, history: bool) -> Vec<Value> {
    let mut orders = Vec::new();
    for page in 0.. {
        let listed = sandbox
            .get::<Value>(&format!(
                "/orders?appid={appid}&limit=1000&offset={}&history={history}",
                page * 1000
            ))
            .await
            .expect("orders");
        let listed = listed["orders"].as_array().cloned().unwrap_or_default();
        let last = listed.len() < 1000;
        orders.extend(listed);
        if last {
            return orders;
        }
    }
    orders
}
