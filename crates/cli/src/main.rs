//! `userorder`: the one binary. `serve` runs the server; the other subcommands drive the
//! SDK against a userorder server or WeChat itself (`--base-url`).

mod bench;
mod commands;
mod demo;

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use userorder_server::{Config, JournalRetention, QuotaDefaults, Server};

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
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "USERORDER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Database URL: sqlite://PATH (created if missing) or postgres://USER@HOST:PORT/DB.
    #[arg(
        long,
        env = "USERORDER_DATABASE_URL",
        default_value = "sqlite://userorder.db"
    )]
    database: String,
    /// PostgreSQL connections per process.
    #[arg(long, env = "USERORDER_POOL_SIZE", default_value_t = 10)]
    pool_size: u32,
    /// Bearer token for /sandbox/ (minted and printed when absent).
    #[arg(long, env = "USERORDER_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Seed a demo app, merchant, payer and unpaid payment, and print curl lines that use them.
    #[arg(long)]
    demo: bool,
    /// Request journal: how many of the newest requests to keep.
    #[arg(long, env = "USERORDER_JOURNAL_MAX_ENTRIES", default_value_t = JournalRetention::default().max_entries)]
    journal_max_entries: i64,
    /// Request journal: how many seconds to keep a request.
    #[arg(long, env = "USERORDER_JOURNAL_MAX_AGE", default_value_t = JournalRetention::default().max_age_seconds)]
    journal_max_age: i64,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Serve(args) => {
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
        Command::Sandbox(args) => commands::sandbox::run(args, json).await,
        Command::Explain { errcode } => commands::explain(errcode, json),
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
    let server = Server::build(Config {
        listen: args.listen,
        database_url: args.database.clone(),
        pool_size: args.pool_size,
        admin_token: admin_token.clone(),
        quotas: QuotaDefaults::default(),
        journal: JournalRetention {
            max_entries: args.journal_max_entries.max(1),
            max_age_seconds: args.journal_max_age.max(1),
        },
    })
    .await
    .with_context(|| format!("starting on {}", args.database))?;
    let addr = server.local_addr()?;
    if args.demo {
        // The demo talks to the server over HTTP, so it runs once the server serves.
        let (state, admin) = (server.state().clone(), admin_token.clone());
        tokio::spawn(async move {
            if let Err(e) = demo::seed_and_print(state, addr, admin).await {
                tracing::error!(error = %e, "demo seeding failed");
            }
        });
    }
    tracing::info!(%addr, database = %args.database, "userorder listening");
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
