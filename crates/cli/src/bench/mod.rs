//! `userorder bench`: measures userorder against a floor server with wrk.
//!
//! It starts two child processes of this binary on 127.0.0.1 — `serve` on a fresh store and
//! the floor server (`bench-floor`, which only parses the JSON and answers ok) — sets up a
//! shop through the sandbox API, then drives each scenario from wrk (a separate process, so
//! the load generator's work is not the server's) for the same time against both. It
//! reports requests/s, p50/p99 latency, how many answers were errcode 0 (read back from the
//! server's `/metrics`, so a fast run of refusals cannot pass for throughput), the ratio to
//! the floor, and the server's peak RSS. With `--stored N` it then fills the store to N
//! orders and measures uploads and the payer's order list again.

mod floor;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};
use userorder_client::{Client, Sandbox};

pub use floor::serve as serve_floor;

const ADMIN: &str = "bench-admin-token";
const SCRIPT: &str = include_str!("load.lua");

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// uploadCombinedShoppingInfo: 3 sub-orders × 3 items (~4.5 KB), a new order each time.
    Combined,
    /// uploadShoppingInfo: one order of 3 items, a new order each time.
    Single,
    /// GET /cgi-bin/token: a new token generation each time.
    Token,
    /// GET /bill: the signed-in payer's order list (first page).
    List,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The server's store: `sqlite` (a fresh file in a temporary directory) or the URL of an
    /// empty PostgreSQL database.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Open connections wrk keeps.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Fill the store to this many orders, then measure uploads and the order list again
    /// (0: skip that round).
    #[arg(long, default_value_t = 0)]
    stored: u64,
    /// Which scenarios to measure.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "combined,single,token,list"
    )]
    scenarios: Vec<Scenario>,
    /// Keep the store's directory instead of deleting it.
    #[arg(long)]
    keep: bool,
}

/// One wrk run against one server.
#[derive(Debug, Clone, Serialize)]
struct Measured {
    scenario: Scenario,
    target: &'static str,
    stored_orders: u64,
    /// `max` (as fast as wrk can), or the paced rate aimed at.
    load: String,
    requests: u64,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Requests answered errcode 0 (or HTTP 200 for pages), per the server's /metrics.
    ok: u64,
    socket_errors: u64,
    non_2xx: u64,
    /// userorder's rate over the floor server's, same scenario and load.
    floor_ratio: Option<f64>,
    /// Where the time went, per request answered: CPU of the server and of the database's
    /// processes (PostgreSQL; SQLite runs inside the server), and the batched statements.
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<Cost>,
}

/// CPU and database work per request of one run (Linux /proc and the server's /metrics).
#[derive(Debug, Clone, Serialize)]
struct Cost {
    server_cpu_ms: f64,
    /// `None` on SQLite, which runs inside the server.
    database_cpu_ms: Option<f64>,
    /// Statements the batched operations sent, per request (PostgreSQL only).
    statements: f64,
    /// Requests per batch, per batched operation that ran (PostgreSQL only).
    batch_sizes: Vec<(String, f64)>,
}

/// CPU seconds (user + system) a process has used (Linux /proc; 100 ticks a second).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which may hold spaces, in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of every PostgreSQL process on this machine (its backends among them).
fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

/// Each batched operation's (batches, requests, statements), from `/metrics`.
async fn batch_counts(base: &str) -> anyhow::Result<Vec<(String, [f64; 3])>> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await?
        .text()
        .await?;
    let mut counts: Vec<(String, [f64; 3])> = Vec::new();
    let names = [
        "userorder_store_batches_total{operation=\"",
        "userorder_store_batched_requests_total{operation=\"",
        "userorder_store_statements_total{operation=\"",
    ];
    for line in text.lines() {
        for (i, name) in names.iter().enumerate() {
            let Some((operation, value)) = line
                .strip_prefix(name)
                .and_then(|rest| rest.split_once("\"} "))
            else {
                continue;
            };
            let value: f64 = value.parse().unwrap_or(0.0);
            match counts.iter_mut().find(|(o, _)| o == operation) {
                Some((_, c)) => c[i] = value,
                None => {
                    let mut c = [0.0; 3];
                    c[i] = value;
                    counts.push((operation.to_owned(), c));
                }
            }
        }
    }
    Ok(counts)
}

#[derive(Debug, serde::Deserialize)]
struct WrkSummary {
    requests: u64,
    duration_us: u64,
    socket_errors: u64,
    non_2xx: u64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

struct ChildProcess {
    child: Child,
    base: String,
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChildProcess {
    /// Starts this binary with `args` and waits for its "listening … addr=" log line.
    fn spawn(args: &[&str]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating this binary")?;
        let mut child = Command::new(exe)
            .args(args)
            .env("USERORDER_ADMIN_TOKEN", ADMIN)
            .env("RUST_LOG", "warn,userorder=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting a child process")?;
        let stderr = child.stderr.take().context("child stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let addr = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .filter(|_| line.contains("listening"));
                match addr {
                    Some(addr) => {
                        let _ = tx.send(addr.to_owned());
                    }
                    None if line.contains("ERROR") => eprintln!("{line}"),
                    None => {}
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .context("the child process did not report its address within 60 s")?;
        Ok(Self {
            child,
            base: format!("http://{addr}"),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Peak and current resident memory of a process, in MiB (Linux /proc).
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The shop the scenarios use.
struct Shop {
    appid: String,
    secret: String,
    mchid: String,
    token: String,
    openids: Vec<String>,
    /// Session cookie of `openids[0]`, whose bill has paid orders.
    cookie: String,
}

fn item(appid: &str, n: usize) -> Value {
    json!({
        "merchant_item_id": format!("sku-{n:04}"),
        "name": format!("有机高山绿茶 Organic highland green tea, gift tin {n}"),
        "description": "明前采摘，一芽一叶，手工炒制。Picked before Qingming, one bud and one leaf, pan-fired by hand.",
        "unit_price": 12_800 + n as i64,
        "quantity": 1 + (n % 3) as i64,
        "image_url": [
            format!("https://img.example.com/catalog/tea/{n:04}/front.jpg"),
            format!("https://img.example.com/catalog/tea/{n:04}/back.jpg")
        ],
        "item_detail_jump_link": {"type": "MINI_PROGRAM", "appid": appid, "path": format!("/pages/item/detail?sku=sku-{n:04}&from=order")}
    })
}

fn order_key(mchid: &str, out_trade_no: &str) -> Value {
    json!({"order_number_type": 1, "mchid": mchid, "out_trade_no": out_trade_no})
}

fn upload_time() -> String {
    time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+8))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A single order of three items under `out_trade_no`, paid by `openid`.
fn single_body(shop: &Shop, out_trade_no: &str, openid: &str, at: &str) -> Value {
    json!({
        "order_key": order_key(&shop.mchid, out_trade_no),
        "order_list": [{
            "merchant_order_no": format!("SO-{out_trade_no}"),
            "order_detail_jump_link": {"type": "MINI_PROGRAM", "appid": shop.appid, "path": format!("/pages/order/detail?no={out_trade_no}")},
            "item_list": (0..3).map(|n| item(&shop.appid, n)).collect::<Vec<_>>()
        }],
        "payer": {"openid": openid},
        "logistics_type": "PHYSICAL_LOGISTICS",
        "upload_time": at
    })
}

/// Three sub-orders of three items each under `master` (~4.5 KB).
fn combined_body(shop: &Shop, master: &str, openid: &str, at: &str) -> Value {
    let sub_orders: Vec<Value> = (1..=3)
        .map(|s| {
            let key = format!("{master}s{s}");
            json!({
                "order_key": order_key(&shop.mchid, &key),
                "merchant_order_no": format!("SO-{key}"),
                "order_detail_jump_link": {"type": "MINI_PROGRAM", "appid": shop.appid, "path": format!("/pages/order/detail?no={key}&combined=1")},
                "item_list": (0..3).map(|n| item(&shop.appid, s * 10 + n)).collect::<Vec<_>>(),
                "logistics_type": "PHYSICAL_LOGISTICS"
            })
        })
        .collect();
    json!({
        "order_key": order_key(&shop.mchid, master),
        "sub_orders": sub_orders,
        "payer": {"openid": openid},
        "upload_time": at
    })
}

async fn set_up(base: &str) -> anyhow::Result<Shop> {
    let sandbox = Sandbox::new(base, ADMIN);
    let app = sandbox
        .create_app(&json!({
            "name": "bench shop",
            "product_state": "APPROVED",
            "quota": {"token_daily": 1_000_000_000i64, "daily": 1_000_000_000i64, "per_minute": 1_000_000_000i64}
        }))
        .await?;
    let (appid, secret) = (app.appid, app.secret);
    let mchid = sandbox.create_merchant(&[&appid]).await?;
    let mut openids = Vec::new();
    for _ in 0..100 {
        openids.push(sandbox.create_openid(&appid, None).await?);
    }
    let client = Client::new(base);
    let token = client.token(&appid, &secret).await?.access_token;
    let mut shop = Shop {
        appid,
        secret,
        mchid,
        token,
        openids,
        cookie: String::new(),
    };

    // The first payer has 30 paid orders, so the bill's first page is full.
    let payer = shop.openids[0].clone();
    let at = upload_time();
    for n in 0..30 {
        let out_trade_no = format!("bill{n}");
        let payment = sandbox
            .create_payment(&json!({
                "appid": shop.appid, "openid": payer, "mchid": shop.mchid,
                "out_trade_no": out_trade_no, "amount": 77_000
            }))
            .await?;
        client
            .upload_shopping_info(&shop.token, &single_body(&shop, &out_trade_no, &payer, &at))
            .await?;
        sandbox.pay(&payment.keys.transaction_id).await?;
    }
    let login = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(format!("{base}/bill/login"))
        .form(&[("appid", shop.appid.as_str()), ("openid", payer.as_str())])
        .send()
        .await?;
    shop.cookie = login
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("the bill login set no cookie")?
        .to_owned();
    Ok(shop)
}

/// What a scenario sends: method, path, body template (with `__KEY__` and `__OPENID__`).
fn request_of(scenario: Scenario, shop: &Shop, at: &str) -> (&'static str, String, String) {
    match scenario {
        Scenario::Combined => (
            "POST",
            format!("/user-order/combine-orders?access_token={}", shop.token),
            combined_body(shop, "__KEY__", "__OPENID__", at).to_string(),
        ),
        Scenario::Single => (
            "POST",
            format!("/user-order/orders?access_token={}", shop.token),
            single_body(shop, "__KEY__", "__OPENID__", at).to_string(),
        ),
        Scenario::Token => (
            "GET",
            format!(
                "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                shop.appid, shop.secret
            ),
            String::new(),
        ),
        Scenario::List => ("GET", "/bill".to_owned(), String::new()),
    }
}

/// The server's count of successful answers for a scenario, from `/metrics`.
async fn ok_count(base: &str, scenario: Scenario) -> anyhow::Result<u64> {
    let (path, outcome) = match scenario {
        Scenario::Combined => ("/user-order/combine-orders", "0"),
        Scenario::Single => ("/user-order/orders", "0"),
        Scenario::Token => ("/cgi-bin/token", "0"),
        Scenario::List => ("/bill", "200"),
    };
    let text = reqwest::get(format!("{base}/metrics"))
        .await?
        .text()
        .await?;
    let series = format!("userorder_requests_total{{path=\"{path}\",outcome=\"{outcome}\"}} ");
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

struct Load {
    duration: Duration,
    connections: u32,
    threads: u32,
    /// Milliseconds each connection waits between requests (0: none).
    pace_ms: u64,
}

/// Runs wrk once; `run` makes this run's order keys unique.
fn wrk(
    dir: &Path,
    base: &str,
    run: &str,
    request: &(&str, String, String),
    shop: &Shop,
    load: &Load,
) -> anyhow::Result<WrkSummary> {
    let openids: Vec<String> = shop.openids.iter().map(|o| format!("\"{o}\"")).collect();
    let script = SCRIPT
        .replace("{{METHOD}}", request.0)
        .replace("{{PATH}}", &request.1)
        .replace("{{BODY}}", &request.2)
        .replace("{{COOKIE}}", &shop.cookie)
        .replace("{{OPENIDS}}", &openids.join(", "))
        .replace("{{RUN}}", run)
        .replace("{{PACE_MS}}", &load.pace_ms.to_string());
    let path = dir.join(format!("{run}.lua"));
    std::fs::write(&path, script)?;
    let output = Command::new("wrk")
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .args(["--timeout", "10s", "-s"])
        .arg(&path)
        .arg(base)
        .output()
        .context("running wrk (install it: apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("wrk printed no summary")?;
    Ok(serde_json::from_str(line)?)
}

struct Bench {
    args: BenchArgs,
    dir: PathBuf,
    server: ChildProcess,
    floor: ChildProcess,
    shop: Shop,
    at: String,
    runs: u32,
    stored: u64,
    results: Vec<Measured>,
}

impl Bench {
    /// One wrk run against the floor server, or against userorder (with the floor's rate
    /// for the same scenario, when there is one, to report the ratio).
    async fn measure(
        &mut self,
        scenario: Scenario,
        pace_ms: u64,
        floor_rate: Option<f64>,
        floor: bool,
    ) -> anyhow::Result<Measured> {
        if !floor && matches!(scenario, Scenario::Combined | Scenario::Single) {
            self.refresh_token().await?;
        }
        let (target, base) = if floor {
            ("floor", self.floor.base.clone())
        } else {
            ("userorder", self.server.base.clone())
        };
        self.runs += 1;
        let run = format!("r{}", self.runs);
        let request = request_of(scenario, &self.shop, &self.at);
        let before = if floor {
            0
        } else {
            ok_count(&base, scenario).await?
        };
        let cpu_before = (cpu_seconds(self.server.pid()), postgres_cpu_seconds());
        let batches_before = match floor {
            true => Vec::new(),
            false => batch_counts(&base).await?,
        };
        let load = Load {
            duration: Duration::from_secs(self.args.duration),
            connections: self.args.connections,
            threads: self.args.threads,
            pace_ms,
        };
        let summary = wrk(&self.dir, &base, &run, &request, &self.shop, &load)?;
        let cpu_after = (cpu_seconds(self.server.pid()), postgres_cpu_seconds());
        let ok = if floor {
            summary.requests - summary.non_2xx
        } else {
            ok_count(&base, scenario).await? - before
        };
        let cost = match floor {
            true => None,
            false => {
                let answered = summary.requests.max(1) as f64;
                let after = batch_counts(&base).await?;
                let mut statements = 0.0;
                let mut batch_sizes = Vec::new();
                for (operation, [batches, requests, sent]) in &after {
                    let [b0, r0, s0] = batches_before
                        .iter()
                        .find(|(o, _)| o == operation)
                        .map_or([0.0; 3], |(_, c)| *c);
                    statements += sent - s0;
                    if batches - b0 > 0.0 {
                        batch_sizes.push((operation.clone(), (requests - r0) / (batches - b0)));
                    }
                }
                Some(Cost {
                    server_cpu_ms: (cpu_after.0 - cpu_before.0) * 1e3 / answered,
                    // SQLite runs inside the server.
                    database_cpu_ms: (self.args.database != "sqlite")
                        .then(|| (cpu_after.1 - cpu_before.1) * 1e3 / answered),
                    statements: statements / answered,
                    batch_sizes,
                })
            }
        };
        if !floor && matches!(scenario, Scenario::Combined | Scenario::Single) {
            self.stored += ok;
        }
        let requests_per_second = summary.requests as f64 / (summary.duration_us as f64 / 1e6);
        let measured = Measured {
            scenario,
            target,
            stored_orders: self.stored,
            load: if pace_ms == 0 {
                "max".to_owned()
            } else {
                format!("{pace_ms} ms mean pause per connection")
            },
            requests: summary.requests,
            requests_per_second,
            p50_ms: summary.p50_us as f64 / 1e3,
            p99_ms: summary.p99_us as f64 / 1e3,
            max_ms: summary.max_us as f64 / 1e3,
            ok,
            socket_errors: summary.socket_errors,
            non_2xx: summary.non_2xx,
            floor_ratio: floor_rate.map(|floor| requests_per_second / floor),
            cost,
        };
        print_row(&measured);
        self.results.push(measured.clone());
        Ok(measured)
    }

    /// Measures a scenario on the floor and on userorder; answers userorder's row.
    async fn compare(&mut self, scenario: Scenario) -> anyhow::Result<Measured> {
        let floor = self.measure(scenario, 0, None, true).await?;
        let ours = self
            .measure(scenario, 0, Some(floor.requests_per_second), false)
            .await?;
        println!(
            "    → userorder/floor = {:.2}",
            ours.floor_ratio.unwrap_or(f64::NAN)
        );
        Ok(ours)
    }

    /// The pause per connection that makes all connections together send half of
    /// `max_rate` (wrk's `delay()`, in whole milliseconds).
    fn half_rate_pause(&self, max_rate: f64) -> u64 {
        let pause = (f64::from(self.args.connections) * 1000.0) / (max_rate / 2.0);
        (pause.round() as u64).max(1)
    }

    /// Fetches a fresh access_token: the token scenario supersedes the one in hand, and a
    /// superseded token stops working after five minutes, as on WeChat.
    async fn refresh_token(&mut self) -> anyhow::Result<()> {
        self.shop.token = Client::new(&self.server.base)
            .token(&self.shop.appid, &self.shop.secret)
            .await?
            .access_token;
        Ok(())
    }

    /// Uploads combined orders as fast as possible, a minute of wrk at a time, until the
    /// store holds at least `target` orders.
    async fn fill_to(&mut self, target: u64) -> anyhow::Result<()> {
        let started = Instant::now();
        while self.stored < target {
            println!("filling the store: {} → {target} orders …", self.stored);
            self.refresh_token().await?;
            self.runs += 1;
            let run = format!("fill{}", self.runs);
            let request = request_of(Scenario::Combined, &self.shop, &self.at);
            let before = ok_count(&self.server.base, Scenario::Combined).await?;
            let load = Load {
                duration: Duration::from_secs(60),
                connections: self.args.connections,
                threads: self.args.threads,
                pace_ms: 0,
            };
            let summary = wrk(
                &self.dir,
                &self.server.base,
                &run,
                &request,
                &self.shop,
                &load,
            )?;
            let accepted = ok_count(&self.server.base, Scenario::Combined).await? - before;
            if accepted == 0 {
                bail!("filling the store stalled: no upload accepted in a minute ({summary:?})");
            }
            self.stored += accepted;
        }
        let secs = started.elapsed().as_secs_f64();
        println!("filled to {} orders in {secs:.0} s", self.stored);
        Ok(())
    }
}

fn print_row(m: &Measured) {
    print_summary(m);
    if let Some(cost) = &m.cost {
        let batches: Vec<String> = cost
            .batch_sizes
            .iter()
            .map(|(operation, size)| format!("{operation} {size:.1}"))
            .collect();
        match cost.database_cpu_ms {
            Some(database) => println!(
                "    per request: userorder {:.3} ms CPU, PostgreSQL {database:.3} ms CPU, \
                 {:.2} batched statements; requests per batch: {}",
                cost.server_cpu_ms,
                cost.statements,
                batches.join(", ")
            ),
            None => println!(
                "    per request: userorder {:.3} ms CPU (SQLite included)",
                cost.server_cpu_ms
            ),
        }
    }
}

fn print_summary(m: &Measured) {
    println!(
        "{:<9} {:<10} {:>9} stored  {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ok {:>8}/{:<8} {}",
        format!("{:?}", m.scenario).to_lowercase(),
        m.target,
        m.stored_orders,
        m.requests_per_second,
        m.p50_ms,
        m.p99_ms,
        m.ok,
        m.requests,
        m.load
    );
}

pub async fn run(args: BenchArgs, json_out: bool) -> anyhow::Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is not installed: apt-get install wrk");
    }
    let tmp = tempfile_dir()?;
    let database = if args.database == "sqlite" {
        format!("sqlite://{}", tmp.join("bench.db").display())
    } else {
        args.database.clone()
    };
    let server =
        ChildProcess::spawn(&["serve", "--listen", "127.0.0.1:0", "--database", &database])?;
    let floor = ChildProcess::spawn(&["bench-floor", "--listen", "127.0.0.1:0"])?;
    println!(
        "userorder {} (pid {}, {database}) · floor {} (pid {}) · wrk -t{} -c{} for {} s each",
        server.base,
        server.pid(),
        floor.base,
        floor.pid(),
        args.threads,
        args.connections,
        args.duration
    );
    let shop = set_up(&server.base).await?;
    let mut bench = Bench {
        dir: tmp.clone(),
        server,
        floor,
        shop,
        at: upload_time(),
        runs: 0,
        stored: 30,
        results: Vec::new(),
        args,
    };
    let scenarios = bench.args.scenarios.clone();
    let mut max_rates = Vec::new();
    for scenario in &scenarios {
        let ours = bench.compare(*scenario).await?;
        max_rates.push((*scenario, ours.requests_per_second));
    }
    // Latency at half the maximum rate, for uploads and the order list.
    for (scenario, max_rate) in &max_rates {
        if matches!(scenario, Scenario::Combined | Scenario::List) {
            let pace_ms = bench.half_rate_pause(*max_rate);
            bench.measure(*scenario, pace_ms, None, false).await?;
        }
    }
    let rate_of = |wanted: Scenario| {
        max_rates
            .iter()
            .find(|(scenario, _)| *scenario == wanted)
            .map(|(_, rate)| *rate)
    };
    let empty_combined = rate_of(Scenario::Combined);
    let (peak_empty, _) = memory_mib(bench.server.pid());
    println!("userorder peak RSS so far: {peak_empty:.1} MiB");

    if bench.args.stored > bench.stored {
        bench.fill_to(bench.args.stored).await?;
        for scenario in [Scenario::Combined, Scenario::List] {
            if scenarios.contains(&scenario) {
                let ours = bench.measure(scenario, 0, None, false).await?;
                if let (Scenario::Combined, Some(empty)) = (scenario, empty_combined) {
                    println!(
                        "    → rate at {} orders / rate when nearly empty = {:.2}",
                        ours.stored_orders,
                        ours.requests_per_second / empty
                    );
                }
                if let Some(empty_rate) = rate_of(scenario) {
                    // The same paced load as on the nearly empty store, for comparable p99s.
                    let pace_ms = bench.half_rate_pause(empty_rate);
                    bench.measure(scenario, pace_ms, None, false).await?;
                }
            }
        }
    }
    let (peak, current) = memory_mib(bench.server.pid());
    let db_mib = dir_size(&bench.dir) as f64 / (1024.0 * 1024.0);
    println!(
        "userorder RSS: peak {peak:.1} MiB, now {current:.1} MiB, {} orders stored; store files {db_mib:.0} MiB",
        bench.stored
    );
    if json_out {
        println!(
            "{}",
            json!({
                "results": bench.results,
                "server_peak_rss_mib": peak,
                "server_rss_mib": current,
                "stored_orders": bench.stored,
            })
        );
    }
    drop(bench.server);
    if bench.args.keep {
        println!("store kept in {}", bench.dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&bench.dir);
    }
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "userorder-bench-{}-{}",
        std::process::id(),
        crate::demo::random_hex(4)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
