//! What `userorder serve` is told.

use std::net::SocketAddr;
use std::time::Duration;

pub use crate::journal::JournalRetention;

/// Limits every app gets unless the sandbox sets its own (SPEC §1, §3.1).
#[derive(Debug, Clone, Copy)]
pub struct QuotaDefaults {
    /// `/cgi-bin/token` and `/cgi-bin/stable_token` calls per app per day (45009).
    pub token_daily: i64,
    /// Calls per app and API per day (45009), high enough for bulk tests and benchmarks.
    pub daily: i64,
    /// Calls per app and API per minute (45011).
    pub per_minute: i64,
    /// Forced stable-token refreshes per app per day, and the least seconds between two.
    pub force_refresh_daily: i64,
    pub force_refresh_interval: i64,
}

impl Default for QuotaDefaults {
    fn default() -> Self {
        Self {
            token_daily: 2000,
            daily: 100_000_000,
            per_minute: 10_000_000,
            force_refresh_daily: 20,
            force_refresh_interval: 30,
        }
    }
}

/// How long a client may take to send what the server waits for. Neither bounds a request
/// in flight: a handler (a scripted fault's delay, a slow store) takes what it takes.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From the moment a connection waits for a request until its headers are in: a client
    /// sending headers slowly, or idling on a keep-alive connection, is cut off after this.
    pub header: Duration,
    /// From the headers until the whole body is in (HTTP 408 and the connection closed).
    pub body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header: Duration::from_secs(30),
            body: Duration::from_secs(30),
        }
    }
}

/// How events are swept and pushed (SPEC §10.13). The defaults are SPEC's; tests shorten
/// them.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// How often the event sweep runs besides clock advances and event reads.
    pub sweep_every: Duration,
    /// The wait before each retry of a failed delivery; after the last, `failed`.
    pub retry_after: Vec<Duration>,
    /// How long one delivery may take.
    pub timeout: Duration,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            sweep_every: Duration::from_secs(5),
            retry_after: [5, 30, 120].map(Duration::from_secs).to_vec(),
            timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `sqlite://PATH` (created if missing) or `postgres://…`.
    pub database_url: String,
    /// Connections per process to a PostgreSQL database.
    pub pool_size: u32,
    pub admin_token: String,
    pub quotas: QuotaDefaults,
    pub journal: JournalRetention,
    pub timeouts: Timeouts,
    pub push: PushSettings,
}
