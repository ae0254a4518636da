//! The request journal's writer (SPEC §8.1). Requests never wait for it: entries go through
//! a bounded channel to one task that commits them in batches and prunes to the retention
//! bound. `flush` waits until everything sent before it is committed and pruned, which is what
//! `rid/get` needs to find a request this process answered a moment ago.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use userorder_store::{JournalEntry, Retention, Store};

use crate::clock;

/// How much journal to keep (count and age), for `serve`'s flags.
#[derive(Debug, Clone, Copy)]
pub struct JournalRetention {
    pub max_entries: i64,
    pub max_age_seconds: i64,
}

impl Default for JournalRetention {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_age_seconds: 7 * 86_400,
        }
    }
}

/// Journal bodies are cut here so a full journal stays a bounded size on disk.
pub const MAX_BODY_CHARS: usize = 64 * 1024;

enum Message {
    Entry(Box<JournalEntry>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Journal {
    sender: mpsc::Sender<Message>,
}

const BATCH: usize = 512;
/// How long the writer waits for more entries to share a batch with the first.
const LINGER: Duration = Duration::from_millis(10);
/// How often the journal is pruned to its bound (and before every read).
const PRUNE_EVERY: Duration = Duration::from_secs(1);

impl Journal {
    pub fn start(store: Arc<dyn Store>, retention: JournalRetention) -> (Self, JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(4096);
        let task = tokio::spawn(write_batches(store, retention, receiver));
        (Self { sender }, task)
    }

    /// Queues an entry; when the queue is full the entry is dropped and logged rather than
    /// slowing the request down.
    pub fn record(&self, entry: JournalEntry) {
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.sender.try_send(Message::Entry(Box::new(entry)))
        {
            tracing::warn!("journal queue full; an entry was dropped");
        }
    }

    /// Waits until every entry queued before this call is committed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
        }
    }
}

async fn write_batches(
    store: Arc<dyn Store>,
    retention: JournalRetention,
    mut receiver: mpsc::Receiver<Message>,
) {
    let mut entries = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    let mut pruned_at = Instant::now();
    let mut unpruned = false;
    while let Some(first) = receiver.recv().await {
        // Entries that arrive within `LINGER` of the first share its transaction.
        let deadline = tokio::time::Instant::now() + LINGER;
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Entry(entry) => entries.push(*entry),
                Message::Flush(done) => flushes.push(done),
            }
            next = if entries.len() < BATCH && flushes.is_empty() {
                tokio::time::timeout_at(deadline, receiver.recv())
                    .await
                    .ok()
                    .flatten()
            } else {
                None
            };
        }
        if !entries.is_empty() {
            if let Err(e) = store.record_requests(&entries).await {
                tracing::error!(error = %e, lost = entries.len(), "journal write failed");
            }
            entries.clear();
            unpruned = true;
        }
        // Pruning walks the oldest end of the journal, so it runs at most once per
        // `PRUNE_EVERY`, and before a reader is let in: what is read is always within the
        // bound, and what is on disk never exceeds it by more than `PRUNE_EVERY` of entries.
        if unpruned && (!flushes.is_empty() || pruned_at.elapsed() >= PRUNE_EVERY) {
            // The journal is about real requests, so it runs on real time, not the sandbox
            // clock (like the rid's time group).
            let bound = Retention {
                max_entries: retention.max_entries,
                oldest: clock::real_now() - retention.max_age_seconds,
            };
            if let Err(e) = store.prune_journal(bound).await {
                tracing::error!(error = %e, "journal prune failed");
            }
            pruned_at = Instant::now();
            unpruned = false;
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// At most `MAX_BODY_CHARS` of a body, as text.
pub fn clip(bytes: &[u8]) -> String {
    // Every request passes here: validate with the fast check first, and count characters
    // only when there may be more of them than the cut (never more than there are bytes).
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    if bytes.len() <= MAX_BODY_CHARS {
        return text.into_owned();
    }
    match text.char_indices().nth(MAX_BODY_CHARS) {
        Some((cut, _)) => format!("{}…[{} bytes in all]", &text[..cut], bytes.len()),
        None => text.into_owned(),
    }
}

/// The request URL with credentials masked: the journal is readable by the admin too.
pub fn masked_url(path_and_query: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return path_and_query.to_owned();
    };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _))
                if matches!(
                    name,
                    "access_token" | "secret" | "component_access_token" | "component_appsecret"
                ) =>
            {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", masked.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_bodies_and_cuts_long_ones_at_a_character() {
        assert_eq!(clip("{\"名\":1}".as_bytes()), "{\"名\":1}");
        assert_eq!(clip(b"a\xffb"), "a\u{fffd}b");
        let long = "名".repeat(MAX_BODY_CHARS + 1);
        let clipped = clip(long.as_bytes());
        assert!(clipped.starts_with(&"名".repeat(MAX_BODY_CHARS)));
        assert!(clipped.ends_with(&format!("…[{} bytes in all]", long.len())));
        assert_eq!(
            clip("x".repeat(MAX_BODY_CHARS).as_bytes()).len(),
            MAX_BODY_CHARS
        );
    }
}
