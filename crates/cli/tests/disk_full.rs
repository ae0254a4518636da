//! A full disk under the SQLite store: the server's file lives on a small tmpfs of its own.
//! Uploads run until the disk refuses them; every refusal is errcode -1 (never 0 for what
//! is not durable), `/healthz` and reads go on, writes resume once there is room again,
//! every upload answered 0 is stored, and the file passes `PRAGMA integrity_check`.
//!
//! Mounting a tmpfs needs root (CAP_SYS_ADMIN), as CI runs; elsewhere the test fails and
//! says so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Process, all_orders, shop, upload};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use userorder_model::ErrCode;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Disk(PathBuf);

impl Disk {
    fn mount(path: &Path, size: &str) -> Self {
        std::fs::create_dir_all(path).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "this test mounts a small tmpfs and needs root (CAP_SYS_ADMIN): run it as root"
        );
        Disk(path.to_owned())
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("running mount");
        assert!(status.success(), "remounting the tmpfs at {size}");
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_answers_minus_one_keeps_reading_and_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let disk = Disk::mount(&dir.path().join("disk"), "3m");
    let file = disk.0.join("userorder.db");
    let mut process = Process::spawn_on(&format!("sqlite://{}", file.display()));
    let shop = Arc::new(shop(&process.sandbox, json!({})).await);
    let token = process
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token;

    // Fill the disk: 8 writers until each has seen the disk refuse.
    let full = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (client, token, shop, full, acknowledged) = (
            process.client.clone(),
            token.clone(),
            shop.clone(),
            full.clone(),
            acknowledged.clone(),
        );
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let key = format!("W{writer}N{n}");
                let body = upload(&shop, &key, "2026-11-26T10:00:00Z", &key);
                match client.upload_shopping_info(&token, &body).await {
                    Ok(()) => acknowledged.lock().await.push(key),
                    Err(e) => {
                        assert_eq!(e.code(), Some(ErrCode::SYSTEM_ERROR), "a full disk: {e}");
                        full.store(true, Ordering::Relaxed);
                        return;
                    }
                }
                assert!(Instant::now() < deadline, "the disk never filled");
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    assert!(full.load(Ordering::Relaxed));
    let acknowledged = acknowledged.lock().await.clone();
    assert!(!acknowledged.is_empty(), "something was stored first");

    // Reads and the health check go on.
    let health = reqwest::get(format!("{}/healthz", process.base))
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    process
        .sandbox
        .get::<Value>(&format!("/orders?appid={}&limit=1", shop.appid))
        .await
        .expect("reads on a full disk");

    // Room again: writes resume without a restart.
    disk.resize("64m");
    let resumed = Instant::now() + Duration::from_secs(10);
    loop {
        let body = upload(&shop, "AFTER", "2026-11-26T10:00:00Z", "AFTER");
        match process.client.upload_shopping_info(&token, &body).await {
            Ok(()) => break,
            Err(e) if Instant::now() < resumed => eprintln!("not yet: {e}"),
            Err(e) => panic!("writes did not resume: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every upload answered 0 is there.
    let stored: std::collections::HashSet<String> =
        all_orders(&process.sandbox, &shop.appid, false)
            .await
            .iter()
            .map(|o| {
                o["order_key"]["out_trade_no"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
    for key in &acknowledged {
        assert!(stored.contains(key), "{key} was answered 0 but is missing");
    }
    eprintln!(
        "{} uploads answered 0 before the disk filled; all stored",
        acknowledged.len()
    );

    process.kill_hard();
    let conn = rusqlite::Connection::open(&file).expect("open the file");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
}
