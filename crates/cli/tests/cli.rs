//! The `userorder` binary as a merchant's engineer runs it: against a spawned server (SQLite),
//! with exit codes that tell usage, WeChat refusals and transport failures apart.

mod common;

use std::io::Write;
use std::process::{Command, Output};

use common::{ADMIN, BIN, Process, Shop, shop, upload};
use serde_json::{Value, json};
use userorder_store::testing::{Backend, TestDb};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("USERORDER_BASE_URL")
        .env_remove("USERORDER_APPID")
        .env_remove("USERORDER_SECRET");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("userorder runs")
}

fn stdout_json(output: &Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text} / {}", String::from_utf8_lossy(&output.stderr)))
}

fn app_env<'a>(process: &'a Process, shop: &'a Shop) -> [(&'static str, &'a str); 3] {
    [
        ("USERORDER_BASE_URL", process.base.as_str()),
        ("USERORDER_APPID", shop.appid.as_str()),
        ("USERORDER_SECRET", shop.secret.as_str()),
    ]
}

/// `userorder sandbox create-payment` for the shop's payer: its transaction_id.
fn create_payment(process: &Process, shop: &Shop, out_trade_no: &str) -> String {
    let payment = run(
        &[
            "sandbox",
            "--json",
            "create-payment",
            "--appid",
            &shop.appid,
            "--openid",
            &shop.openid,
            "--mchid",
            &shop.mchid,
            "--amount",
            "100",
            "--out-trade-no",
            out_trade_no,
        ],
        &[
            ("USERORDER_BASE_URL", &process.base),
            ("USERORDER_ADMIN_TOKEN", ADMIN),
        ],
    );
    stdout_json(&payment)["transaction_id"]
        .as_str()
        .expect("txid")
        .to_owned()
}

#[test]
fn explain_tells_the_meaning_and_the_fix() {
    let output = run(&["explain", "268485216"], &[]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    // Both languages: WeChat's errmsg, then what it means.
    assert!(
        text.contains("上传时间非法，请按照 RFC 3339 格式填写"),
        "{text}"
    );
    assert!(text.contains("upload_time is illegal"), "{text}");
    assert!(text.contains("RFC 3339"), "{text}");
    let json = stdout_json(&run(&["explain", "-1", "--json"], &[]));
    assert_eq!(json["errmsg"], "system error");
    assert_eq!(run(&["explain", "12345"], &[]).status.code(), Some(1));
    assert_eq!(run(&["upload"], &[]).status.code(), Some(2), "usage error");
}

#[tokio::test]
async fn single_calls_and_their_exit_codes() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let process = Process::spawn(&db);
    let shop = shop(&process.sandbox, json!({})).await;
    let env = app_env(&process, &shop);
    let dir = tempfile::tempdir().expect("dir");

    let token = run(&["token", "--json"], &env);
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    assert!(
        stdout_json(&token)["access_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 64)
    );

    let txid = create_payment(&process, &shop, "C1");
    let file = dir.path().join("order.json");
    std::fs::write(
        &file,
        upload(&shop, "C1", "2026-11-26T10:00:00Z", "MO-C1").to_string(),
    )
    .expect("write");
    let uploaded = run(&["upload", file.to_str().expect("path"), "--json"], &env);
    assert!(
        uploaded.status.success(),
        "{}",
        String::from_utf8_lossy(&uploaded.stderr)
    );
    assert_eq!(stdout_json(&uploaded)["errcode"], 0);
    let paid = run(
        &["sandbox", "pay", &txid],
        &[
            ("USERORDER_BASE_URL", &process.base),
            ("USERORDER_ADMIN_TOKEN", ADMIN),
        ],
    );
    assert!(paid.status.success());
    let verified = run(
        &[
            "verify",
            "--mchid",
            &shop.mchid,
            "--out-trade-no",
            "C1",
            "--openid",
            &shop.openid,
        ],
        &env,
    );
    assert_eq!(
        String::from_utf8_lossy(&verified.stdout).trim(),
        "ASSOCIATED"
    );

    let shipping = dir.path().join("ship.json");
    std::fs::write(
        &shipping,
        json!({"order_key": {"order_number_type": 1, "mchid": shop.mchid, "out_trade_no": "C1"},
        "delivery_mode": 1, "shipping_list": [{"tracking_no": "SF1", "express_company": "SF"}],
        "upload_time": "2026-11-26T11:00:00Z"})
        .to_string(),
    )
    .expect("write");
    assert!(
        run(&["ship", shipping.to_str().expect("path")], &env)
            .status
            .success()
    );

    // A body WeChat would refuse: refused locally with its errcode (exit 3), or by the server.
    std::fs::write(
        &file,
        json!({"order_key": {"order_number_type": 9}}).to_string(),
    )
    .expect("write");
    let refused = run(&["upload", file.to_str().expect("path"), "--json"], &env);
    assert_eq!(refused.status.code(), Some(3));
    assert_eq!(stdout_json(&refused)["errcode"], 268485194);
    let sent = run(
        &["upload", file.to_str().expect("path"), "--no-prevalidate"],
        &env,
    );
    assert_eq!(sent.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&sent.stderr).contains("rid: "),
        "the server answered"
    );

    // Nobody listening: a transport failure (exit 4).
    let closed = run(
        &["token"],
        &[
            ("USERORDER_BASE_URL", "http://127.0.0.1:9"),
            ("USERORDER_APPID", &shop.appid),
            ("USERORDER_SECRET", &shop.secret),
        ],
    );
    assert_eq!(closed.status.code(), Some(4));
}

#[tokio::test]
async fn a_bulk_upload_of_ten_thousand_orders_completes_and_accounts_for_every_line() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let process = Process::spawn(&db);
    let shop = shop(&process.sandbox, json!({})).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("orders.jsonl");
    let mut file = std::fs::File::create(&path).expect("create");
    let mut bad = Vec::new();
    for i in 0..10_000 {
        let line = match i {
            17 => String::new(),
            256 => "{not json".to_owned(),
            4_000 => json!({"order_key": {"order_number_type": 1, "mchid": shop.mchid, "out_trade_no": "BAD"}}).to_string(),
            7_777 => {
                let mut body = upload(&shop, "UNBOUND", "2026-11-26T10:00:00Z", "x");
                body["order_key"]["mchid"] = json!("1999999999");
                body.to_string()
            }
            _ => upload(&shop, &format!("B{i}"), "2026-11-26T10:00:00Z", &format!("M{i}")).to_string(),
        };
        if [17, 256, 4_000, 7_777].contains(&i) {
            bad.push(i + 1);
        }
        writeln!(file, "{line}").expect("write");
    }
    drop(file);
    let rejects = dir.path().join("rejects.jsonl");
    let output = run(
        &[
            "upload",
            "--jsonl",
            path.to_str().expect("path"),
            "--concurrency",
            "16",
            "--rejects",
            rejects.to_str().expect("path"),
            "--json",
        ],
        &app_env(&process, &shop),
    );
    assert_eq!(output.status.code(), Some(3), "some lines were refused");
    let summary = stdout_json(&output);
    assert_eq!(summary["total"], 10_000);
    assert_eq!(summary["accepted"], 9_996);
    assert_eq!(summary["by_errcode"]["44002"], 1);
    assert_eq!(summary["by_errcode"]["47001"], 1);
    assert_eq!(
        summary["by_errcode"]["268485192"], 1,
        "the body without a payer"
    );
    assert_eq!(
        summary["by_errcode"]["268485217"], 1,
        "the unbound merchant, refused by the server"
    );
    let lines: Vec<Value> = std::fs::read_to_string(&rejects)
        .expect("rejects")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["line"].as_u64().unwrap_or_default() as usize)
            .collect::<Vec<_>>(),
        bad
    );
    let unbound = lines
        .iter()
        .find(|l| l["errcode"] == 268485217)
        .expect("unbound line");
    assert!(
        unbound["rid"].as_str().is_some(),
        "server refusals carry their rid"
    );
    assert!(
        unbound["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("商户号不合法，请确认后重试"))
    );

    // The server stored exactly the accepted ones.
    let mut stored = 0;
    for page in 0.. {
        let orders = process
            .sandbox
            .get::<Value>(&format!(
                "/orders?appid={}&limit=1000&offset={}",
                shop.appid,
                page * 1000
            ))
            .await
            .expect("orders");
        let n = orders["orders"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default();
        stored += n;
        if n < 1000 {
            break;
        }
    }
    assert_eq!(stored, 9_996);
}

/// `serve --config FILE` takes its settings from TOML (flags and environment still win), logs
/// one JSON object per line with `log_format = "json"`, and refuses an unknown key by name.
#[tokio::test]
async fn serve_reads_a_toml_config_file_and_logs_json() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("userorder.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndatabase = \"sqlite://{}\"\nadmin_token = \"from-the-file\"\n\
             log_format = \"json\"\njournal_max_entries = 50\n",
            dir.path().join("c.db").display()
        ),
    )
    .expect("config written");
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("USERORDER_ADMIN_TOKEN")
        .env_remove("USERORDER_LISTEN")
        .env_remove("USERORDER_DATABASE_URL")
        .env_remove("USERORDER_LOG_FORMAT")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = lines.next().expect("a log line").expect("utf-8");
    let line: Value = serde_json::from_str(&first).expect("the log line is JSON");
    assert_eq!(line["message"], "userorder listening", "{first}");
    let addr = line["addr"].as_str().expect("addr field").to_owned();
    assert!(
        line["database"]
            .as_str()
            .is_some_and(|d| d.ends_with("c.db"))
    );

    // The admin token came from the file.
    let sandbox = userorder_client::Sandbox::new(format!("http://{addr}"), "from-the-file");
    sandbox
        .create_app(&json!({"name": "configured"}))
        .await
        .expect("the file's admin token opens the sandbox");
    let _ = child.kill();
    let _ = child.wait();

    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisten_port = 1\n").expect("written");
    let refused = run(&["serve", "--config", &config.to_string_lossy()], &[]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("unknown field `listen_port`"), "{stderr}");
}

/// Order shipping management from the terminal: ship a paid payment, list orders by state,
/// move the clock and read the event log.
#[tokio::test]
async fn trade_commands_ship_list_and_read_events() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let process = Process::spawn(&db);
    let shop = shop(&process.sandbox, json!({})).await;
    let env = app_env(&process, &shop);
    let admin = [
        ("USERORDER_BASE_URL", process.base.as_str()),
        ("USERORDER_ADMIN_TOKEN", ADMIN),
    ];
    let mut paid = Vec::new();
    for no in ["T1", "T2"] {
        let txid = create_payment(&process, &shop, no);
        assert!(run(&["sandbox", "pay", &txid], &admin).status.success());
        paid.push(txid);
    }
    let shipped = run(
        &[
            "trade",
            "ship",
            "--transaction-id",
            &paid[0],
            "--openid",
            &shop.openid,
            "--json",
        ],
        &env,
    );
    assert_eq!(stdout_json(&shipped)["errcode"], 0, "{shipped:?}");
    let again = run(
        &[
            "trade",
            "ship",
            "--mchid",
            &shop.mchid,
            "--out-trade-no",
            "T1",
            "--openid",
            &shop.openid,
            "--tracking-no",
            "SF999",
        ],
        &env,
    );
    assert_eq!(again.status.code(), Some(0), "the one re-ship: {again:?}");
    let list = |state: &str| {
        let output = run(&["trade", "list", "--state", state, "--json"], &env);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json")["transaction_id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(list("1"), vec![json!(paid[1])]);
    assert_eq!(list("2"), vec![json!(paid[0])]);
    let refused = run(
        &[
            "trade",
            "ship",
            "--transaction-id",
            &paid[0],
            "--openid",
            &shop.openid,
            "--tracking-no",
            "SF1000",
        ],
        &env,
    );
    assert_eq!(refused.status.code(), Some(3), "10060003: {refused:?}");
    assert!(
        run(&["sandbox", "advance", "--days", "11"], &admin)
            .status
            .success()
    );
    assert_eq!(list("4"), vec![json!(paid[0])]);
    let events = run(
        &["sandbox", "--json", "events", "--appid", &shop.appid],
        &admin,
    );
    let events = stdout_json(&events)["events"].clone();
    let mut names: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .filter(|name| name.starts_with("trade_manage_"))
        .collect();
    // Ids follow recording: the access reminder of this very second may come from a sweep
    // after the uploads recorded theirs.
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "trade_manage_order_settlement",
            "trade_manage_order_settlement",
            "trade_manage_order_settlement",
            "trade_manage_remind_access_api",
            "trade_manage_remind_shipping",
        ],
        "access, F, F again (re-ship), T2's reminder at 48 h, settlement: {events}"
    );
    let table = run(&["sandbox", "events", "--appid", &shop.appid], &admin);
    assert!(String::from_utf8_lossy(&table.stdout).contains("trade_manage_remind_shipping"));
}

/// A merchant's v3 flow from the command line: credentials written to files, a prepay, the
/// payer's requestPayment with a paySign, queries, a refund, a refused close (exit code 3).
#[tokio::test]
async fn pay_commands_prepay_pay_query_and_refund() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let process = Process::spawn(&db);
    let shop = shop(&process.sandbox, json!({})).await;
    let dir = tempfile::tempdir().expect("dir");
    let key = dir.path().join("apiclient_key.pem");
    let platform = dir.path().join("pub_key.pem");
    let (key, platform) = (
        key.to_str().expect("path"),
        platform.to_str().expect("path"),
    );
    let admin = [
        ("USERORDER_BASE_URL", process.base.as_str()),
        ("USERORDER_ADMIN_TOKEN", ADMIN),
    ];
    let setup = run(
        &[
            "sandbox",
            "--json",
            "apiv3",
            "--mchid",
            &shop.mchid,
            "--private-key-out",
            key,
            "--platform-key-out",
            platform,
        ],
        &admin,
    );
    assert!(setup.status.success(), "{setup:?}");
    let setup = stdout_json(&setup);
    let serial = setup["serial_no"].as_str().expect("serial").to_owned();
    let key_id = setup["platform_key_id"].as_str().expect("id").to_owned();
    let merchant = [
        ("USERORDER_PAY_BASE_URL", process.base.as_str()),
        ("USERORDER_MCHID", shop.mchid.as_str()),
        ("USERORDER_SERIAL_NO", serial.as_str()),
        ("USERORDER_PRIVATE_KEY", key),
        ("USERORDER_PLATFORM_KEY_ID", key_id.as_str()),
        ("USERORDER_PLATFORM_KEY", platform),
    ];
    let prepay = run(
        &[
            "pay",
            "prepay",
            "--appid",
            &shop.appid,
            "--openid",
            &shop.openid,
            "--out-trade-no",
            "C|1001",
            "--amount",
            "300",
            "--description",
            "Tea",
            "--notify-url",
            "http://127.0.0.1:9/notify",
        ],
        &merchant,
    );
    assert!(prepay.status.success(), "{prepay:?}");
    let prepay_id = String::from_utf8_lossy(&prepay.stdout).trim().to_owned();
    assert!(prepay_id.starts_with("wx"), "{prepay_id}");
    let paid = run(
        &[
            "sandbox",
            "--json",
            "request-payment",
            "--prepay-id",
            &prepay_id,
            "--appid",
            &shop.appid,
            "--mchid",
            &shop.mchid,
            "--serial-no",
            &serial,
            "--private-key",
            key,
        ],
        &admin,
    );
    assert!(paid.status.success(), "{paid:?}");
    assert_eq!(stdout_json(&paid)["errMsg"], "requestPayment:ok");
    let queried = run(
        &["pay", "--json", "query", "--out-trade-no", "C|1001"],
        &merchant,
    );
    assert_eq!(stdout_json(&queried)["trade_state"], "SUCCESS");
    let refund = [
        "pay",
        "--json",
        "refund",
        "--out-trade-no",
        "C|1001",
        "--out-refund-no",
        "R1",
        "--amount",
        "300",
        "--total",
        "300",
    ];
    assert_eq!(
        stdout_json(&run(&refund, &merchant))["status"],
        "PROCESSING"
    );
    let refund_query = run(
        &["pay", "--json", "refund-query", "--out-refund-no", "R1"],
        &merchant,
    );
    assert_eq!(stdout_json(&refund_query)["status"], "SUCCESS");
    let closed = run(&["pay", "close", "--out-trade-no", "C|1001"], &merchant);
    assert_eq!(closed.status.code(), Some(3), "{closed:?}");
    assert!(String::from_utf8_lossy(&closed.stderr).contains("ORDERPAID"));
}
