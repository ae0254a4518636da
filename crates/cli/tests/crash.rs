//! Crash safety: uploads run while the server is killed with SIGKILL at random moments and
//! restarted on the same database, five times — a SQLite file (its one writer's batches) and
//! a PostgreSQL database (its upload batches). Every upload answered errcode 0 is there with
//! its exact content, none is half-written, and the server starts cleanly each time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Process, all_orders, shop, upload};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use userorder_client::Client;
use userorder_store::testing::{Backend, TestDb};

#[tokio::test]
async fn uploads_answered_zero_survive_kill_dash_nine_on_sqlite() {
    uploads_answered_zero_survive_kill_dash_nine(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    userorder_no_postgres,
    ignore = "built with --cfg userorder_no_postgres"
)]
async fn uploads_answered_zero_survive_kill_dash_nine_on_postgres() {
    uploads_answered_zero_survive_kill_dash_nine(Backend::postgres()).await;
}

async fn uploads_answered_zero_survive_kill_dash_nine(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let mut process = Process::spawn(&db);
    let shop = Arc::new(shop(&process.sandbox, json!({})).await);
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();

    for round in 0..5 {
        let client = process.client.clone();
        let token = client
            .token(&shop.appid, &shop.secret)
            .await
            .expect("token")
            .access_token;
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for writer in 0..8 {
            let (client, token, shop, stop, acknowledged) = (
                client.clone(),
                token.clone(),
                shop.clone(),
                stop.clone(),
                acknowledged.clone(),
            );
            writers.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("R{round}W{writer}N{n}");
                    let note = format!("content of {key}");
                    let body = upload(&shop, &key, "2026-11-26T10:00:00Z", &note);
                    if send(&client, &token, &body).await {
                        acknowledged.lock().await.push((key, note));
                    }
                    n += 1;
                }
            }));
        }
        let run_for = rand::thread_rng().gen_range(200..1200);
        tokio::time::sleep(Duration::from_millis(run_for)).await;
        process.kill_hard();
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.await.expect("writer");
        }
        // Starting again on the same database must work every time.
        process = Process::spawn(&db);
    }

    let acknowledged = acknowledged.lock().await.clone();
    assert!(
        acknowledged.len() > 50,
        "the test uploaded something: {}",
        acknowledged.len()
    );
    let mut stored = std::collections::HashMap::new();
    for order in all_orders(&process.sandbox, &shop.appid, true).await {
        assert_eq!(order["version"], 1, "no half-written upload: {order}");
        assert_eq!(
            order["versions"].as_array().map(Vec::len),
            Some(1),
            "every version row is there: {order}"
        );
        let key = order["order_key"]["out_trade_no"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        stored.insert(key, order["order_list"][0]["merchant_order_no"].clone());
    }
    for (key, note) in &acknowledged {
        assert_eq!(
            stored.get(key),
            Some(&Value::from(note.as_str())),
            "{key} was answered 0 and must be stored exactly"
        );
    }
    eprintln!(
        "{} uploads acknowledged across 5 kills; {} stored",
        acknowledged.len(),
        stored.len()
    );
}

/// True when the server answered errcode 0; connection failures during the kill are false.
async fn send(client: &Client, token: &str, body: &Value) -> bool {
    client.upload_shopping_info(token, body).await.is_ok()
}
