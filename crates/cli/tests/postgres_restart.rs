//! PostgreSQL itself crashes and comes back (`pg_ctl restart -m immediate`: no shutdown
//! checkpoint, crash recovery at start) while uploads run against a userorder server that
//! stays up. The cluster is the test's own (initdb into a temporary directory, on a port
//! of its own), so the machine's server and the other tests are not disturbed. Needs the
//! PostgreSQL server programs (`/usr/lib/postgresql/<version>/bin`, Debian's
//! postgresql package) and root, to run them as the `postgres` user; without them it fails
//! and says so.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Process, all_orders, shop, upload};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use userorder_model::ErrCode;

/// A PostgreSQL cluster of the test's own, stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .filter_map(|v| Some(v.ok()?.path().join("bin")))
                    .filter(|bin| bin.join("initdb").exists())
                    .max()
            })
            .expect(
                "this test runs a PostgreSQL cluster of its own and needs the server programs \
                 in /usr/lib/postgresql/<version>/bin (apt-get install postgresql)",
            );
        let dir = tempfile::tempdir().expect("temp dir");
        run(
            "chown",
            &[std::ffi::OsStr::new("postgres"), dir.path().as_os_str()],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Cluster { dir, bin, port };
        cluster.as_postgres(
            "initdb",
            &["-D", &cluster.data(), "-A", "trust", "-U", "postgres"],
        );
        cluster.pg_ctl(&["start"]);
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl ACTION`, waiting until it is done.
    fn pg_ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let data = self.data();
        let mut args = vec!["-D", &data, "-l", &log, "-o", &options, "-w"];
        args.extend_from_slice(action);
        self.as_postgres("pg_ctl", &args);
    }

    /// Runs one of the server programs as the `postgres` user (they refuse root).
    fn as_postgres(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut all: Vec<&std::ffi::OsStr> = vec![
            "-u".as_ref(),
            "postgres".as_ref(),
            "--".as_ref(),
            program.as_os_str(),
        ];
        all.extend(args.iter().map(std::ffi::OsStr::new));
        run("runuser", &all);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(["-D", &data, "-m", "immediate", "stop"])
            .status();
    }
}

fn run(program: &str, args: &[&std::ffi::OsStr]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program} (the test needs root): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed (the test needs root and the PostgreSQL server programs): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An upload's key, whether it was answered 0, when it was sent and how long it took.
type Answer = (String, bool, Duration, Duration);

#[tokio::test]
#[cfg_attr(
    userorder_no_postgres,
    ignore = "built with --cfg userorder_no_postgres"
)]
async fn postgres_crashing_and_restarting_under_uploads_loses_nothing_answered_zero() {
    let cluster = Arc::new(
        tokio::task::spawn_blocking(Cluster::start)
            .await
            .expect("initdb"),
    );
    let process = Process::spawn_on(&cluster.url());
    let shop = Arc::new(shop(&process.sandbox, json!({})).await);
    let token = process
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token;

    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (client, token, shop, stop, answers) = (
            process.client.clone(),
            token.clone(),
            shop.clone(),
            stop.clone(),
            answers.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("W{writer}N{n}");
                let body = upload(&shop, &key, "2026-11-26T10:00:00Z", &key);
                let sent = started.elapsed();
                let answer = client.upload_shopping_info(&token, &body).await;
                if let Err(e) = &answer {
                    assert_eq!(e.code(), Some(ErrCode::SYSTEM_ERROR), "{key}: {e}");
                    // As a client would: a short backoff after a system error.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let took = started.elapsed() - sent;
                answers.lock().await.push((key, answer.is_ok(), sent, took));
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restart = cluster.clone();
    tokio::task::spawn_blocking(move || restart.pg_ctl(&["-m", "immediate", "restart"]))
        .await
        .expect("restart");
    let back = started.elapsed();
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer");
    }

    let answers = answers.lock().await.clone();
    let failed = answers.iter().filter(|(_, ok, ..)| !ok).count();
    let slowest = answers
        .iter()
        .map(|(.., took)| *took)
        .max()
        .unwrap_or_default();
    let recovered = answers
        .iter()
        .filter(|(_, ok, sent, _)| *ok && *sent >= back)
        .map(|(_, _, sent, took)| *sent + *took - back)
        .min()
        .expect("uploads succeed again after the restart");
    eprintln!(
        "{} uploads: {failed} answered -1; slowest answer {slowest:?}; first success {recovered:?} \
         after PostgreSQL was back",
        answers.len()
    );
    assert!(
        slowest < Duration::from_secs(2),
        "an answer took {slowest:?}"
    );
    assert!(
        recovered < Duration::from_secs(5),
        "recovered after {recovered:?}"
    );

    let orders = all_orders(&process.sandbox, &shop.appid, false).await;
    let stored: std::collections::HashMap<String, Value> = orders
        .iter()
        .map(|o| {
            let key = o["order_key"]["out_trade_no"].as_str().unwrap_or_default();
            (key.to_owned(), o.clone())
        })
        .collect();
    for (key, ok, ..) in &answers {
        if *ok {
            let order = stored
                .get(key)
                .unwrap_or_else(|| panic!("{key} was answered 0 but is missing"));
            assert_eq!(order["order_list"][0]["merchant_order_no"], json!(key));
        }
    }
    for order in &orders {
        assert_eq!(order["version"], 1, "no half-written upload: {order}");
    }
}
