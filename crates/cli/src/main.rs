//! `userorder`: the one binary. `serve` runs the server; the other subcommands drive the
//! SDK against a userorder server or WeChat itself (`--base-url`).

mod bench;
mod commands;
mod demo;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use userorder_server::{Config, JournalRetention, PushSettings, QuotaDefaults, Server, Timeouts};

#[derive(Debug, Parser)]
#[command(
    name = "userorder",
    version,
    about = "WeChat Shopping Order API server and sandbox"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Machine-readable output (one JSON value per line).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Print an access_token of the app.
    Token {
        #[command(flatten)]
        app: commands::wechat::AppArgs,
    },
    /// Upload shopping details (single or combined, told by the body) from FILE or `-`; or
    /// many, one JSON body per line, with --jsonl.
    Upload {
        #[command(flatten)]
        app: commands::wechat::AppArgs,
        /// A JSON body, or `-` for standard input.
        #[arg(required_unless_present = "jsonl")]
        file: Option<String>,
        /// A file with one upload body per line.
        #[arg(long, conflicts_with = "file")]
        jsonl: Option<String>,
        /// Uploads in flight at once (with --jsonl).
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Where refused lines go (with --jsonl); default FILE.rejects.jsonl.
        #[arg(long)]
        rejects: Option<String>,
    },
    /// Upload shipping details (single or combined) from FILE or `-`.
    Ship {
        #[command(flatten)]
        app: commands::wechat::AppArgs,
        file: String,
    },
    /// Ask whether an order's shopping details are associated with its payment.
    Verify {
        #[command(flatten)]
        app: commands::wechat::AppArgs,
        #[command(flatten)]
        args: commands::wechat::VerifyArgs,
    },
    /// Order shipping management (/wxa/sec/order/): ship a payment, list orders by state.
    Trade {
        #[command(flatten)]
        app: commands::wechat::AppArgs,
        #[command(subcommand)]
        command: commands::trade::TradeCommand,
    },
    /// WeChat Pay API v3 as a merchant calls it: prepay, query, close, refund.
    Pay(commands::pay::PayArgs),
    /// The sandbox API of a userorder server, for scripts.
    Sandbox(commands::sandbox::SandboxArgs),
    /// Measure throughput, latency and memory against a floor server, with wrk.
    Bench(bench::BenchArgs),
    /// The benchmark's floor server (started by `bench`).
    #[command(hide = true)]
    BenchFloor {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// What an errcode means and how to fix it.
    Explain {
        #[arg(allow_negative_numbers = true)]
        errcode: i64,
    },
    /// Print the OpenAPI document the server serves at /openapi.json (docs/openapi.json).
    Openapi,
}

/// `serve`'s settings. Each comes from its flag, else its environment variable, else the
/// `--config` file, else the default named in its help.
#[derive(Debug, Default, clap::Args, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeArgs {
    /// A TOML file with any of these settings, named as the flags with `_` for `-`
    /// (e.g. `listen = "0.0.0.0:8080"`, `journal_max_entries = 50000`).
    #[arg(long, env = "USERORDER_CONFIG")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "USERORDER_LISTEN")]
    listen: Option<SocketAddr>,
    /// Database URL: sqlite://PATH (created if missing) or postgres://USER@HOST:PORT/DB
    /// [default: sqlite://userorder.db].
    #[arg(long, env = "USERORDER_DATABASE_URL")]
    database: Option<String>,
    /// PostgreSQL connections per process [default: 10].
    #[arg(long, env = "USERORDER_POOL_SIZE")]
    pool_size: Option<u32>,
    /// Bearer token for /sandbox/ (minted and printed when absent).
    #[arg(long, env = "USERORDER_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Seed a demo app, merchant, payer and unpaid payment, and print curl lines that use them.
    #[arg(long)]
    #[serde(default)]
    demo: bool,
    /// Request journal: how many of the newest requests to keep [default: 10000].
    #[arg(long, env = "USERORDER_JOURNAL_MAX_ENTRIES")]
    journal_max_entries: Option<i64>,
    /// Request journal: how many seconds to keep a request [default: 604800].
    #[arg(long, env = "USERORDER_JOURNAL_MAX_AGE")]
    journal_max_age: Option<i64>,
    /// Seconds a connection may take to send a request's headers, and may idle between
    /// requests on keep-alive, before it is closed [default: 30].
    #[arg(long, env = "USERORDER_HEADER_TIMEOUT")]
    header_timeout: Option<u64>,
    /// Seconds a request may take to send its body before it is answered 408 [default: 30].
    #[arg(long, env = "USERORDER_BODY_TIMEOUT")]
    body_timeout: Option<u64>,
    /// Seconds to wait before each retry of a failed event push, comma-separated; after the
    /// last, the delivery is failed [default: 5,30,120].
    #[arg(long, env = "USERORDER_PUSH_RETRY_AFTER", value_delimiter = ',')]
    push_retry_after: Option<Vec<f64>>,
    /// Log lines as `text` or `json` (one object per line) [default: text].
    #[arg(long, env = "USERORDER_LOG_FORMAT")]
    log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum LogFormat {
    Text,
    Json,
}

impl ServeArgs {
    /// Fills what flags and environment left unset from the `--config` file.
    fn with_config_file(mut self) -> anyhow::Result<Self> {
        let Some(path) = &self.config else {
            return Ok(self);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        let file: ServeArgs = toml::from_str(&text)
            .with_context(|| format!("in the config file {}", path.display()))?;
        self.listen = self.listen.or(file.listen);
        self.database = self.database.or(file.database);
        self.pool_size = self.pool_size.or(file.pool_size);
        self.admin_token = self.admin_token.or(file.admin_token);
        self.demo |= file.demo;
        self.journal_max_entries = self.journal_max_entries.or(file.journal_max_entries);
        self.journal_max_age = self.journal_max_age.or(file.journal_max_age);
        self.log_format = self.log_format.or(file.log_format);
        self.header_timeout = self.header_timeout.or(file.header_timeout);
        self.body_timeout = self.body_timeout.or(file.body_timeout);
        Ok(self)
    }
}

fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging(LogFormat::Text);
    }
    let result = match cli.command {
        Command::Serve(args) => {
            let args = match args.with_config_file() {
                Ok(args) => args,
                Err(e) => {
                    eprintln!("userorder: {e:#}");
                    return ExitCode::from(commands::USAGE);
                }
            };
            init_logging(args.log_format.unwrap_or(LogFormat::Text));
            return match serve(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("userorder: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Token { app } => commands::wechat::token(&app, json).await,
        Command::Upload {
            app,
            file,
            jsonl,
            concurrency,
            rejects,
        } => match (jsonl, file) {
            (Some(jsonl), _) => match app.app_client() {
                Ok(client) => {
                    commands::bulk::run(client, &jsonl, concurrency, rejects.as_deref(), json).await
                }
                Err(e) => Err(e),
            },
            (None, Some(file)) => commands::wechat::upload(&app, &file, json).await,
            (None, None) => Err(commands::Failure::Usage("give FILE or --jsonl FILE".into())),
        },
        Command::Ship { app, file } => commands::wechat::ship(&app, &file, json).await,
        Command::Verify { app, args } => commands::wechat::verify(&app, &args, json).await,
        Command::Trade { app, command } => commands::trade::run(&app, command, json).await,
        Command::Pay(args) => commands::pay::run(args, json).await,
        Command::Sandbox(args) => commands::sandbox::run(args, json).await,
        Command::Explain { errcode } => commands::explain(errcode, json),
        Command::Openapi => {
            println!("{}", userorder_server::openapi_json());
            Ok(())
        }
        Command::Bench(args) => bench::run(args, json)
            .await
            .map_err(|e| commands::Failure::Other(format!("{e:#}"))),
        Command::BenchFloor { listen } => bench::serve_floor(listen)
            .await
            .map_err(|e| commands::Failure::Other(format!("{e:#}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if json && matches!(failure, commands::Failure::Partial(_)) {
                // The JSON summary already went to standard output.
            } else if json {
                let code = match &failure {
                    commands::Failure::Sdk(e) => e.code().map(|c| c.0),
                    _ => None,
                };
                println!(
                    "{}",
                    serde_json::json!({"error": failure.to_string(), "errcode": code})
                );
            } else {
                eprintln!("userorder: {failure}");
            }
            failure.exit_code()
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let admin_token = match args.admin_token {
        Some(token) if !token.is_empty() => token,
        _ => {
            let token = demo::random_hex(32);
            println!("admin token (Authorization: Bearer …): {token}");
            token
        }
    };
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| "sqlite://userorder.db".to_owned());
    let defaults = JournalRetention::default();
    let server = Server::build(Config {
        listen: args
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        database_url: database.clone(),
        pool_size: args.pool_size.unwrap_or(10),
        admin_token: admin_token.clone(),
        quotas: QuotaDefaults::default(),
        journal: JournalRetention {
            max_entries: args
                .journal_max_entries
                .unwrap_or(defaults.max_entries)
                .max(1),
            max_age_seconds: args
                .journal_max_age
                .unwrap_or(defaults.max_age_seconds)
                .max(1),
        },
        timeouts: {
            let defaults = Timeouts::default();
            let seconds = |s: Option<u64>, default| s.map_or(default, Duration::from_secs);
            Timeouts {
                header: seconds(args.header_timeout.filter(|s| *s > 0), defaults.header),
                body: seconds(args.body_timeout.filter(|s| *s > 0), defaults.body),
            }
        },
        push: {
            let mut push = PushSettings::default();
            if let Some(waits) = &args.push_retry_after {
                push.retry_after = waits
                    .iter()
                    .filter(|s| s.is_finite())
                    .map(|s| Duration::from_secs_f64(s.clamp(0.0, 86_400.0)))
                    .collect();
            }
            push
        },
    })
    .await
    .with_context(|| format!("starting on {database}"))?;
    let addr = server.local_addr()?;
    if args.demo {
        // The demo talks to the server over HTTP, so it runs once the server serves.
        let admin = admin_token.clone();
        tokio::spawn(async move {
            if let Err(e) = demo::seed_and_print(addr, admin).await {
                tracing::error!(error = %e, "demo seeding failed");
            }
        });
    }
    tracing::info!(%addr, %database, "userorder listening");
    server.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
