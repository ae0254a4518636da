//! WeChat Pay notifications (SPEC §11.12): each recorded with its payment's change, built
//! and encrypted at its first attempt, POSTed with fresh `Wechatpay-*` headers to its
//! notify_url, retried at slots on the sandbox clock until a 200 or 204.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use userorder_model::pay_v3::answer_message;
use userorder_model::pay_v3::records::{china_digits, china_time, next_slot, summary};
use userorder_store::events::real_ms;
use userorder_store::{DeliveryState, NotifyAttempt, NotifyClaim, NotifyJob, Store, StoreError};

use super::keys;
use crate::{clock, secrets};

/// A delivery counts only when answered within this (SPEC §11.12).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Notifications one pass claims.
const BATCH: i64 = 16;

/// The client notifications go out with: no redirects, 5 s, `userorder-notify`.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("userorder-notify")
        .build()
        .unwrap_or_default()
}

/// Claims what `claim` names and attempts each once, all at once, at sandbox time `now`;
/// answers the ids attempted. A pass of the background worker claims what is due by `now`.
pub async fn deliver(
    store: &Arc<dyn Store>,
    http: &reqwest::Client,
    claim: &NotifyClaim,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let jobs = store.claim_notifications(claim, real_ms()).await?;
    let mut sending = JoinSet::new();
    let ids = jobs.iter().map(|j| j.id).collect();
    for job in jobs {
        let (store, http) = (store.clone(), http.clone());
        sending.spawn(async move {
            let attempt = attempt(store.as_ref(), &http, &job, now).await?;
            store.finish_notification(job.id, &attempt).await
        });
    }
    while let Some(done) = sending.join_next().await {
        match done {
            Ok(result) => result?,
            Err(e) => tracing::warn!(error = %e, "a notification task failed"),
        }
    }
    Ok(ids)
}

/// Every notification due by sandbox time `now`, batch after batch, until none is due.
pub async fn deliver_due(
    store: &Arc<dyn Store>,
    http: &reqwest::Client,
    now: i64,
) -> Result<(), StoreError> {
    let claim = NotifyClaim {
        due_by: Some(now),
        limit: BATCH,
        ..NotifyClaim::default()
    };
    while !deliver(store, http, &claim, now).await?.is_empty() {}
    Ok(())
}

/// The notification as sent (SPEC §11.12): `id` from the event's time and log id, the
/// resource encrypted with the APIv3 key under AAD `transaction` or `refund`.
fn build(job: &NotifyJob, apiv3_key: &str) -> Result<String, String> {
    let payload: Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
    let original_type = match job.event.starts_with("REFUND.") {
        true => "refund",
        false => "transaction",
    };
    let plaintext = serde_json::to_vec(&payload["resource"]).map_err(|e| e.to_string())?;
    let nonce = secrets::random_of(secrets::ALNUM, 12);
    let ciphertext = keys::encrypt(apiv3_key, &nonce, original_type, &plaintext)
        .map_err(|e| format!("apiv3 key: {e}"))?;
    let notification = json!({
        "id": format!("EV-{}{:05}", china_digits(job.at, 14), job.id.rem_euclid(100_000)),
        "create_time": china_time(job.at),
        "resource_type": "encrypt-resource",
        "event_type": job.event,
        "summary": summary(&job.event),
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": original_type,
            "nonce": nonce,
        },
    });
    serde_json::to_string(&notification).map_err(|e| e.to_string())
}

/// One POST at sandbox time `now`; the attempt's outcome with the notification and the log to
/// keep.
async fn attempt(
    store: &dyn Store,
    http: &reqwest::Client,
    job: &NotifyJob,
    now: i64,
) -> Result<NotifyAttempt, StoreError> {
    let credentials = store.apiv3(&job.mchid).await?;
    let started = Instant::now();
    let built = match (&job.notification, &credentials) {
        (Some(sent), _) => Ok(sent.clone()),
        (None, Some(c)) => build(job, &c.apiv3_key),
        (None, None) => Err(format!("merchant {} has no v3 credentials", job.mchid)),
    };
    let (status, error) = match (&built, &credentials) {
        (Ok(body), Some(c)) => post(http, &job.url, body, c).await,
        (Err(e), _) => (None, Some(e.clone())),
        (Ok(_), None) => (
            None,
            Some(format!("merchant {} has no v3 credentials", job.mchid)),
        ),
    };
    let delivered = matches!(status, Some(200 | 204));
    let mut log: Vec<Value> = serde_json::from_str(&job.log).unwrap_or_default();
    log.push(json!({
        "at": now,
        "status": status,
        "error": error,
        "ms": started.elapsed().as_millis() as i64,
    }));
    let next_at = match delivered {
        true => None,
        false => next_slot(job.at, now),
    };
    let state = match (delivered, next_at) {
        (true, _) => DeliveryState::Delivered,
        (false, Some(_)) => DeliveryState::Pending,
        (false, None) => DeliveryState::Failed,
    };
    Ok(NotifyAttempt {
        state,
        status,
        next_at,
        notification: built.unwrap_or_default(),
        log: serde_json::to_string(&log).unwrap_or_else(|_| "[]".into()),
    })
}

/// POSTs the body signed like an answer (SPEC §11.4): (HTTP status, error).
async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &str,
    credentials: &userorder_store::Apiv3Record,
) -> (Option<i64>, Option<String>) {
    let (serial, _) = credentials.signer();
    let timestamp = clock::real_now().to_string();
    let nonce = secrets::random_of(secrets::LOWER_HEX, 32);
    let message = answer_message(&timestamp, &nonce, body.as_bytes());
    let signature = match keys::platform_signature(credentials, &message) {
        Ok(signature) => signature,
        Err(e) => return (None, Some(format!("platform key: {e}"))),
    };
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in [
        ("wechatpay-timestamp", timestamp.as_str()),
        ("wechatpay-nonce", nonce.as_str()),
        ("wechatpay-serial", serial),
        ("wechatpay-signature", signature.as_str()),
        ("wechatpay-signature-type", "WECHATPAY2-SHA256-RSA2048"),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => (Some(i64::from(response.status().as_u16())), None),
        Err(e) if e.is_timeout() => (None, Some("timeout".into())),
        Err(e) => (None, Some(cause(&e))),
    }
}

/// The innermost cause of a failed request ("Connection refused (os error 111)"), which
/// reqwest's own message leaves out.
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}
