//! The userorder HTTP server: WeChat's `/cgi-bin/` and `/user-order/` APIs with WeChat's
//! transport conventions, and the `/sandbox/` API that mints the identities, payments and
//! clock those APIs read.
//!
//! `Server::build` connects the store, migrates and binds; `Server::run_until` serves until
//! the shutdown future resolves, then drains in-flight requests.

mod app;
mod clock;
mod config;
mod connections;
mod envelope;
mod error;
mod extract;
mod journal;
mod metrics;
mod openapi;
mod pages;
mod pay_v3;
mod push;
mod rid;
mod routes;
mod sandbox;
mod secrets;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use userorder_model::openid::OpenIdCodec;

pub use config::{Config, JournalRetention, PushSettings, QuotaDefaults, Timeouts};
use state::AppState;

/// The OpenAPI document `GET /openapi.json` serves, pretty-printed (`docs/openapi.json`).
pub fn openapi_json() -> String {
    openapi::document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] userorder_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

pub struct Server {
    listener: TcpListener,
    router: Router,
    state: AppState,
    timeouts: Timeouts,
    journal_writer: tokio::task::JoinHandle<()>,
    pusher: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Connects and migrates the store and binds the listener (port 0 picks a free port).
    pub async fn build(config: Config) -> Result<Self, ServerError> {
        let store = userorder_store::connect(&config.database_url, config.pool_size).await?;
        let openid_key = store.server_key("openid").await?;
        let session_key = store.server_key("session").await?;
        let (journal, journal_writer) = journal::Journal::start(store.clone(), config.journal);
        let (events, pusher) = push::start(store.clone(), config.push);
        let state = AppState {
            journal,
            metrics: Arc::new(metrics::Metrics::default()),
            session_key,
            store,
            openids: Arc::new(OpenIdCodec::new(openid_key)),
            admin_token: Arc::from(config.admin_token.as_str()),
            quotas: config.quotas,
            rids: Arc::new(rid::RidSource::new()),
            events,
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let router = app::router(state.clone(), config.timeouts);
        Ok(Self {
            listener,
            router,
            state,
            timeouts: config.timeouts,
            journal_writer,
            pusher,
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` resolves, then stops accepting and drains open requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        connections::serve(self.listener, self.router, self.timeouts, shutdown).await;
        // A delivery cut off here is sent again once its lease runs out.
        self.pusher.abort();
        // Every sender is gone with the router and the state: the writer drains and ends.
        drop(self.state);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.journal_writer).await;
        Ok(())
    }
}
