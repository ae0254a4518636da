//! Group commit for SQLite's single writer.
//!
//! Every write is a *job* sent to one task that owns the write connection. The task takes
//! every job queued while the previous commit was being made durable (up to
//! [`MAX_BATCH`]), runs them in one `BEGIN IMMEDIATE` transaction — each inside its own
//! savepoint, so a job that fails or decides to roll back leaves no trace and does not
//! disturb its neighbours — and commits once. Only after that commit (one fsync with
//! `synchronous=FULL`) does any job of the batch learn its result, so "answered" still
//! means "durable"; the fsync is shared, not skipped.
//!
//! Jobs own their inputs (`'static`) because callers may be cancelled (a client hangs up)
//! while their job is queued or running; the writer finishes the batch regardless.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sqlx::sqlite::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

use crate::records::{BATCH_SIZE_BUCKETS, COMMIT_SECONDS_BUCKETS, WriteStats};
use crate::{Result, StoreError};

/// The most jobs one transaction carries; bounds the latency a batch adds to its first job.
pub const MAX_BATCH: usize = 256;
/// Jobs waiting beyond this make callers wait to enqueue (back-pressure, bounded memory).
const QUEUE: usize = 4096;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a job decides about its own writes.
pub enum Finish<T> {
    /// Keep the writes; the caller gets `T` once the batch is durable.
    Commit(T),
    /// Undo this job's writes (its savepoint) and answer `T` anyway.
    Rollback(T),
}

/// Called with the batch's fate: `None` when committed, the reason otherwise.
type Deliver = Box<dyn FnOnce(Option<Arc<str>>) + Send>;
type Run =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Deliver)> + Send>;

struct Job {
    run: Run,
    /// Early jobs are single statements, atomic by themselves: no savepoint needed.
    savepoint: bool,
}

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    writes: AtomicU64,
    commit_buckets: [AtomicU64; COMMIT_SECONDS_BUCKETS.len()],
    commit_micros: AtomicU64,
    batch_buckets: [AtomicU64; BATCH_SIZE_BUCKETS.len()],
}

#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

impl GroupCommit {
    /// Starts the writer task on `conn`; it ends when every `GroupCommit` clone is dropped.
    /// (A thread of its own with a one-thread runtime measured no faster: the time goes to
    /// SQLite's worker thread and the hand-offs to it, not to queueing behind requests.)
    pub fn start(conn: SqliteConnection) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let stats = Arc::new(Stats::default());
        tokio::spawn(run(conn, jobs, stats.clone()));
        Self { queue, stats }
    }

    /// Runs `job` in the next batch and answers its result once that batch is committed.
    pub async fn write<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<Finish<T>>>
            + Send
            + 'static,
    {
        self.enqueue(job, false).await
    }

    /// Like [`write`](Self::write), but answers as soon as the job has run, before its batch
    /// commits: for counters whose last few increments may be lost in a crash without harm
    /// (quota windows). The writes still commit with the batch, or roll back with it. The job
    /// runs without a savepoint, so its first statement must be the one that matters: a
    /// failure there writes nothing, and anything after it is best effort.
    pub async fn write_early<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<Finish<T>>>
            + Send
            + 'static,
    {
        self.enqueue(job, true).await
    }

    async fn enqueue<T, F>(&self, job: F, early: bool) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<Finish<T>>>
            + Send
            + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T>>();
        let run: Run = Box::new(move |conn| {
            Box::pin(async move {
                let (keep, outcome) = match job(conn).await {
                    Ok(Finish::Commit(value)) => (true, Ok(value)),
                    Ok(Finish::Rollback(value)) => (false, Ok(value)),
                    Err(e) => (false, Err(e)),
                };
                if early {
                    let _ = answer.send(outcome);
                    let deliver: Deliver = Box::new(|_| {});
                    return (keep, deliver);
                }
                let deliver: Deliver = Box::new(move |failed| {
                    let result = match failed {
                        None => outcome,
                        Some(reason) => Err(StoreError::Batch(reason.to_string())),
                    };
                    // The caller may have gone away; the write stands either way.
                    let _ = answer.send(result);
                });
                (keep, deliver)
            })
        });
        let job = Job {
            run,
            savepoint: !early,
        };
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::Batch("the SQLite writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Batch("the SQLite writer dropped this write".into()))?
    }

    pub fn stats(&self) -> WriteStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WriteStats {
            batches: load(&self.stats.batches),
            writes: load(&self.stats.writes),
            commit_buckets: self.stats.commit_buckets.iter().map(load).collect(),
            commit_seconds_sum: load(&self.stats.commit_micros) as f64 / 1e6,
            batch_size_buckets: self.stats.batch_buckets.iter().map(load).collect(),
        }
    }
}

async fn run(mut conn: SqliteConnection, mut jobs: mpsc::Receiver<Job>, stats: Arc<Stats>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let size = batch.len();
        let started = Instant::now();
        run_batch(&mut conn, &mut batch).await;
        let elapsed = started.elapsed();
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.writes.fetch_add(size as u64, Ordering::Relaxed);
        stats
            .commit_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        observe(
            &stats.commit_buckets,
            &COMMIT_SECONDS_BUCKETS,
            elapsed.as_secs_f64(),
        );
        observe(&stats.batch_buckets, &BATCH_SIZE_BUCKETS, size as f64);
    }
}

fn observe(buckets: &[AtomicU64], bounds: &[f64], value: f64) {
    for (bound, bucket) in bounds.iter().zip(buckets) {
        if value <= *bound {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One transaction for the whole batch. Jobs that never ran are dropped, which answers
/// their callers with an error; nobody hears "ok" before COMMIT has returned.
async fn run_batch(conn: &mut SqliteConnection, batch: &mut Vec<Job>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        tracing::warn!(error = %e, "cannot begin a write transaction");
        batch.clear();
        return;
    }
    let mut delivered = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        if !job.savepoint {
            let (_, deliver) = (job.run)(conn).await;
            delivered.push(deliver);
            continue;
        }
        if let Err(e) = exec(conn, "SAVEPOINT job").await {
            return abandon(conn, delivered, &e.to_string()).await;
        }
        let (keep, deliver) = (job.run)(conn).await;
        delivered.push(deliver);
        let undo = if keep {
            exec(conn, "RELEASE job").await
        } else {
            match exec(conn, "ROLLBACK TO job").await {
                Ok(()) => exec(conn, "RELEASE job").await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = undo {
            return abandon(conn, delivered, &e.to_string()).await;
        }
    }
    match exec(conn, "COMMIT").await {
        Ok(()) => delivered.into_iter().for_each(|deliver| deliver(None)),
        Err(e) => abandon(conn, delivered, &e.to_string()).await,
    }
}

async fn abandon(conn: &mut SqliteConnection, delivered: Vec<Deliver>, reason: &str) {
    tracing::warn!(error = reason, "write batch rolled back");
    // Fails harmlessly when SQLite already rolled the transaction back itself.
    let _ = exec(conn, "ROLLBACK").await;
    let reason: Arc<str> = Arc::from(format!("the write batch was rolled back: {reason}"));
    delivered
        .into_iter()
        .for_each(|deliver| deliver(Some(reason.clone())));
}

/// Boxed so the writer task's future stays `Send` for every lifetime (sqlx's executor
/// bounds otherwise defeat the compiler's higher-ranked inference inside `tokio::spawn`).
fn exec<'c>(
    conn: &'c mut SqliteConnection,
    sql: &'static str,
) -> BoxFuture<'c, Result<(), sqlx::Error>> {
    Box::pin(async move { sqlx::query(sql).execute(conn).await.map(|_| ()) })
}
