//! Group batching on PostgreSQL: requests that queue together are answered by one
//! statement.
//!
//! What the cores spend on PostgreSQL is round trips — a pool checkout, a backend woken,
//! the driver's encode and decode — not the statements themselves. So the calls made on
//! every request (an authenticated call's facts, its quota count, an upload) go through a
//! [`Batcher`]: a queue and one worker task. The worker takes the first request waiting and
//! every request queued behind it (up to [`MAX_BATCH`]), runs *one* operation for all of
//! them over arrays (`unnest`, `= ANY`), and hands each caller its own answer. A request
//! that arrives while the worker is idle is run at once, alone: nothing waits for company.
//! Under load, requests queue while the worker is busy, and it then takes them all: the
//! busier the server, the fewer round trips per request. (One worker, measured: a second
//! one halved the upload batches, raised PostgreSQL's CPU per upload by half and lowered the
//! upload rate by about a sixth at 32 connections.)
//!
//! An operation that fails as a whole (the connection dropped, a deadlock) fails each of
//! its requests with the same message; a panic in one is caught and answered the same way,
//! and the worker goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::{BatchStats, Result, StoreError};

/// The most requests one operation carries.
pub const MAX_BATCH: usize = 64;
/// Requests waiting beyond this make callers wait to enqueue (bounded memory).
const QUEUE: usize = 4096;

/// One kind of request, answered a batch at a time.
#[async_trait]
pub trait Operation: Send + Sync + 'static {
    type Request: Send + Sync + 'static;
    type Answer: Send + 'static;
    /// One answer per request, in the requests' order; counts its statements in `counts`.
    async fn run(
        &self,
        requests: &[Self::Request],
        counts: &Counts,
    ) -> Result<Vec<Result<Self::Answer>>>;
}

type Queued<O> = (
    <O as Operation>::Request,
    oneshot::Sender<Result<<O as Operation>::Answer>>,
);

/// How many batches ran, how many requests they answered, and the statements they took.
#[derive(Debug, Default)]
pub struct Counts {
    batches: AtomicU64,
    requests: AtomicU64,
    statements: AtomicU64,
}

impl Counts {
    /// Counts `n` statements sent to the database.
    pub fn sent(&self, n: u64) {
        self.statements.fetch_add(n, Ordering::Relaxed);
    }

    pub fn stats(&self, operation: &'static str) -> BatchStats {
        BatchStats {
            operation,
            batches: self.batches.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            statements: self.statements.load(Ordering::Relaxed),
        }
    }
}

pub struct Batcher<O: Operation> {
    queue: mpsc::Sender<Queued<O>>,
    counts: Arc<Counts>,
}

impl<O: Operation> Batcher<O> {
    /// Starts the worker that runs `operation`; it ends when the batcher is dropped.
    pub fn start(operation: O) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        tokio::spawn(work(Arc::new(operation), receiver, Arc::clone(&counts)));
        Self { queue, counts }
    }

    pub fn stats(&self, operation: &'static str) -> BatchStats {
        self.counts.stats(operation)
    }

    /// Queues one request and waits for its answer.
    pub async fn call(&self, request: O::Request) -> Result<O::Answer> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send((request, answer))
            .await
            .map_err(|_| StoreError::Batch("the store is shutting down".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Batch("the batch was dropped unanswered".into()))?
    }
}

async fn work<O: Operation>(
    operation: Arc<O>,
    mut receiver: mpsc::Receiver<Queued<O>>,
    counts: Arc<Counts>,
) {
    loop {
        let mut batch = Vec::new();
        match receiver.recv().await {
            Some(first) => batch.push(first),
            None => return,
        }
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        counts.batches.fetch_add(1, Ordering::Relaxed);
        counts
            .requests
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let (requests, answers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        // Its own task, so that a panic fails this batch and not the worker.
        let operation = Arc::clone(&operation);
        let counted = Arc::clone(&counts);
        let ran = tokio::spawn(async move { operation.run(&requests, &counted).await }).await;
        let results = match ran {
            Ok(Ok(results)) if results.len() == answers.len() => results,
            Ok(Ok(results)) => {
                failed_all(answers, &format!("{} answers to a batch", results.len()));
                continue;
            }
            Ok(Err(e)) => {
                failed_all(answers, &e.to_string());
                continue;
            }
            Err(panic) => {
                failed_all(answers, &format!("a batch panicked: {panic}"));
                continue;
            }
        };
        for (answer, result) in answers.into_iter().zip(results) {
            // The caller may have gone away; what was written stands either way.
            let _ = answer.send(result);
        }
    }
}

fn failed_all<T>(answers: Vec<oneshot::Sender<Result<T>>>, reason: &str) {
    for answer in answers {
        let _ = answer.send(Err(StoreError::Batch(reason.to_owned())));
    }
}
