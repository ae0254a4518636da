//! `userorder`: the one binary. `serve` runs the server; later subcommands drive the SDK.

mod demo;

use std::net::SocketAddr;

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
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
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
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
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
