//! Pushed events (SPEC §10.13): the sweep that records due events, and their delivery to
//! each app's push URL.
//!
//! One background task per process sweeps every few seconds (and whenever a clock advance
//! or an event read asks) and delivers what is due. What is recorded and when is the
//! store's (`userorder_store::events`); several processes sweeping one database record each
//! event once, and a delivery is claimed under a lease, so one process sends it.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sha1::{Digest, Sha1};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use userorder_store::events::real_ms;
use userorder_store::{Delivered, DeliveryJob, Store, StoreError};

use crate::clock;
use crate::config::PushSettings;

/// Deliveries one pass claims (and sends at once).
const BATCH: i64 = 16;
/// How often due deliveries (retries) are looked for between sweeps.
const POLL: Duration = Duration::from_millis(250);

/// The handle handlers use: sweep now, and wake the sender.
#[derive(Clone)]
pub struct Events {
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
}

impl Events {
    /// Records every event due by the sandbox clock now; answers how many were new.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        let now = clock::now(self.store.as_ref()).await?;
        let recorded = self.store.sweep_events(now, real_ms()).await?;
        if recorded > 0 {
            self.wake.notify_one();
        }
        Ok(recorded)
    }

    /// Something may be due for delivery (an upload recorded an event).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Starts the sweeping and sending task; it runs until aborted.
pub fn start(
    store: Arc<dyn Store>,
    settings: PushSettings,
) -> (Events, tokio::task::JoinHandle<()>) {
    let events = Events {
        store,
        wake: Arc::new(Notify::new()),
    };
    let http = reqwest::Client::builder()
        .timeout(settings.timeout)
        .user_agent("Mozilla/4.0 (userorder push)")
        .build()
        .unwrap_or_default();
    let task = tokio::spawn(run(
        events.clone(),
        settings,
        http,
        crate::pay_v3::notify::client(),
    ));
    (events, task)
}

async fn run(
    events: Events,
    settings: PushSettings,
    http: reqwest::Client,
    notify_http: reqwest::Client,
) {
    let mut next_sweep = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_sweep {
            if let Err(e) = events.sweep().await {
                tracing::warn!(error = %e, "event sweep failed");
            }
            next_sweep = tokio::time::Instant::now() + settings.sweep_every;
        }
        if let Err(e) = deliver_due(&events.store, &settings, &http).await {
            tracing::warn!(error = %e, "event delivery failed");
        }
        if let Err(e) = payments_due(&events.store, &notify_http).await {
            tracing::warn!(error = %e, "refund outcomes or notifications failed");
        }
        let wait = POLL.min(next_sweep.saturating_duration_since(tokio::time::Instant::now()));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = events.wake.notified() => {}
        }
    }
}

/// WeChat Pay's part (SPEC §11.9, §11.12): refund outcomes due by the sandbox clock, then
/// the notifications due.
async fn payments_due(store: &Arc<dyn Store>, http: &reqwest::Client) -> Result<(), StoreError> {
    let now = clock::now(store.as_ref()).await?;
    store.settle_refunds(now).await?;
    crate::pay_v3::notify::deliver_due(store, http, now).await
}

/// Claims what is due and sends it, all of a batch at once, until nothing is due.
async fn deliver_due(
    store: &Arc<dyn Store>,
    settings: &PushSettings,
    http: &reqwest::Client,
) -> Result<(), StoreError> {
    loop {
        let jobs = store.claim_deliveries(real_ms(), BATCH).await?;
        if jobs.is_empty() {
            return Ok(());
        }
        let mut sending = JoinSet::new();
        for job in jobs {
            let (store, http, retry_after) =
                (store.clone(), http.clone(), settings.retry_after.clone());
            sending.spawn(async move {
                let outcome = attempt(&http, &job, &retry_after).await;
                store.finish_delivery(job.id, outcome).await
            });
        }
        while let Some(done) = sending.join_next().await {
            match done {
                Ok(result) => result?,
                Err(e) => tracing::warn!(error = %e, "a delivery task failed"),
            }
        }
    }
}

/// One POST of an event: delivered on a 2xx whose body is empty or `success`; otherwise a
/// retry after the next wait, or failed after the last.
async fn attempt(http: &reqwest::Client, job: &DeliveryJob, retry_after: &[Duration]) -> Delivered {
    let url = match &job.token {
        Some(token) => signed_url(&job.url, token),
        None => job.url.clone(),
    };
    let answer = http
        .post(&url)
        .header("content-type", "application/json")
        .body(job.payload.clone())
        .send()
        .await;
    let status = match answer {
        Ok(response) => {
            let status = i64::from(response.status().as_u16());
            let ok = response.status().is_success();
            let body = response.text().await.unwrap_or_default();
            if ok && matches!(body.trim(), "" | "success") {
                return Delivered::Delivered { status };
            }
            Some(status)
        }
        Err(_) => None,
    };
    let attempt = usize::try_from(job.attempts).unwrap_or(usize::MAX);
    match retry_after.get(attempt) {
        Some(wait) => Delivered::Retry {
            status,
            at_ms: real_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
        },
        None => Delivered::Failed { status },
    }
}

/// WeChat's message signature: `signature` is the SHA-1 of the token, timestamp and nonce
/// sorted and joined, sent with both in the query.
pub fn signed_url(url: &str, token: &str) -> String {
    let timestamp = clock::real_now().to_string();
    let nonce = rand::thread_rng()
        .gen_range(100_000_000u64..10_000_000_000)
        .to_string();
    let signature = signature(token, &timestamp, &nonce);
    let glue = if url.contains('?') { '&' } else { '?' };
    format!("{url}{glue}signature={signature}&timestamp={timestamp}&nonce={nonce}")
}

pub fn signature(token: &str, timestamp: &str, nonce: &str) -> String {
    let mut parts = [token, timestamp, nonce];
    parts.sort_unstable();
    crate::secrets::hex(&Sha1::digest(parts.concat().as_bytes()))
}
