//! SQLite's one writer: an OS thread that owns the write connection.
//!
//! Every write is a *job*, a closure over the connection, sent to the thread. The thread
//! takes every job queued while the previous commit was being made durable (up to
//! [`MAX_BATCH`]), runs them in one `BEGIN IMMEDIATE` transaction — each inside its own
//! savepoint, so a job that fails, panics or decides to roll back leaves no trace and does
//! not disturb its neighbours — writes the quota counts of the calls since the last batch,
//! and commits once. Only after that commit (one fsync with `synchronous=FULL`) does any job
//! of the batch learn its result, so "answered" still means "durable"; the fsync is shared,
//! not skipped.
//!
//! Statements run on the thread itself through rusqlite's prepared-statement cache: a
//! batch costs no hand-off per statement, only one per job (the queue in, the answer out).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::quotas::QuotaBook;
use crate::records::{BATCH_SIZE_BUCKETS, COMMIT_SECONDS_BUCKETS, WriteStats};
use crate::{Result, StoreError};

/// The most jobs one transaction carries; bounds the latency a batch adds to its first job.
pub const MAX_BATCH: usize = 256;
/// Jobs waiting beyond this make callers wait to enqueue (back-pressure, bounded memory).
const QUEUE: usize = 4096;

/// What a job decides about its own writes.
pub enum Finish<T> {
    /// Keep the writes; the caller gets `T` once the batch is durable.
    Commit(T),
    /// Undo this job's writes (its savepoint) and answer `T` anyway.
    Rollback(T),
}

/// Called with the batch's fate: `None` when committed, the reason otherwise.
type Deliver = Box<dyn FnOnce(Option<Arc<str>>) + Send>;
/// Runs a job: whether to keep its writes, and how to tell its caller.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Deliver) + Send>;

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    writes: AtomicU64,
    commit_buckets: [AtomicU64; COMMIT_SECONDS_BUCKETS.len()],
    commit_micros: AtomicU64,
    batch_buckets: [AtomicU64; BATCH_SIZE_BUCKETS.len()],
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

impl Writer {
    /// Starts the writer thread on `conn`, the checkpoint thread on `checkpoints` and the
    /// quota flush task. All three end when every `Writer` clone is dropped; the writer
    /// first commits what is queued and the counts not yet written.
    pub fn start(
        conn: Connection,
        checkpoints: Connection,
        quotas: Arc<QuotaBook>,
    ) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let stats = Arc::new(Stats::default());
        let thread_stats = stats.clone();
        let thread_quotas = quotas.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, jobs, &thread_stats, &thread_quotas))?;
        let writer = Self { queue, stats };
        writer.checkpoint_every(Duration::from_millis(100), checkpoints)?;
        writer.flush_quotas_every(Duration::from_millis(500), quotas);
        Ok(writer)
    }

    /// Runs `job` in the next batch and answers its result once that batch is committed.
    /// A job that fails or panics answers an error and leaves no trace.
    pub async fn write<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<Finish<T>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let (keep, outcome) = match catch_unwind(AssertUnwindSafe(|| job(conn))) {
                Ok(Ok(Finish::Commit(value))) => (true, Ok(value)),
                Ok(Ok(Finish::Rollback(value))) => (false, Ok(value)),
                Ok(Err(e)) => (false, Err(e)),
                Err(panic) => (false, Err(StoreError::Batch(panic_message(&panic)))),
            };
            let deliver: Deliver = Box::new(move |failed| {
                let result = match failed {
                    None => outcome,
                    Some(reason) => Err(StoreError::Batch(reason.to_string())),
                };
                // The caller may have gone away; the write stands either way.
                let _ = answer.send(result);
            });
            (keep, deliver)
        });
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::Batch("the SQLite writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Batch("the SQLite writer dropped this write".into()))?
    }

    /// Copies committed WAL frames into the database file every `period` (a PASSIVE
    /// checkpoint never waits for the writer or readers), so the writer's commits never
    /// run one.
    fn checkpoint_every(&self, period: Duration, conn: Connection) -> std::io::Result<()> {
        let queue = self.queue.downgrade();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while queue.strong_count() > 0 {
                    std::thread::sleep(period);
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            })
            .map(|_| ())
    }

    /// Quota counts ride on every batch; when calls are counted but nothing is written
    /// (say, every call answers 45011), this task asks for a batch every `period` so the
    /// counts reach the file anyway.
    fn flush_quotas_every(&self, period: Duration, quotas: Arc<QuotaBook>) {
        let queue = self.queue.downgrade();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let Some(queue) = queue.upgrade() else {
                    break;
                };
                if quotas.has_pending() {
                    let empty: Job = Box::new(|_| (true, Box::new(|_| {})));
                    // A full queue runs a batch soon anyway.
                    let _ = queue.try_send(empty);
                }
            }
        });
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

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned());
    tracing::error!(panic = %what, "a write job panicked; its writes were rolled back");
    format!("the write job panicked: {what}")
}

fn run(conn: Connection, mut jobs: mpsc::Receiver<Job>, stats: &Stats, quotas: &QuotaBook) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let size = batch.len();
        let started = Instant::now();
        run_batch(&conn, &mut batch, quotas);
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
    // The store is gone: write the calls counted since the last batch.
    run_batch(&conn, &mut batch, quotas);
}

fn observe(buckets: &[AtomicU64], bounds: &[f64], value: f64) {
    for (bound, bucket) in bounds.iter().zip(buckets) {
        if value <= *bound {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// One transaction for the whole batch. Jobs that never ran are dropped, which answers
/// their callers with an error; nobody hears "ok" before COMMIT has returned.
fn run_batch(conn: &Connection, batch: &mut Vec<Job>, quotas: &QuotaBook) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        tracing::warn!(error = %e, "cannot begin a write transaction");
        batch.clear();
        return;
    }
    let mut delivered = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        if let Err(e) = exec(conn, "SAVEPOINT job") {
            return abandon(conn, delivered, &e.to_string());
        }
        let (keep, deliver) = job(conn);
        delivered.push(deliver);
        let undo = if keep {
            exec(conn, "RELEASE job")
        } else {
            exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job"))
        };
        if let Err(e) = undo {
            return abandon(conn, delivered, &e.to_string());
        }
    }
    // The quota counts ride along; a failure there must not cost the batch its uploads.
    if let Err(e) = exec(conn, "SAVEPOINT quotas")
        .and_then(|()| quotas.persist(conn))
        .and_then(|()| exec(conn, "RELEASE quotas"))
    {
        tracing::warn!(error = %e, "quota counts not written");
        let _ = exec(conn, "ROLLBACK TO quotas").and_then(|()| exec(conn, "RELEASE quotas"));
    }
    match exec(conn, "COMMIT") {
        Ok(()) => delivered.into_iter().for_each(|deliver| deliver(None)),
        Err(e) => abandon(conn, delivered, &e.to_string()),
    }
}

fn abandon(conn: &Connection, delivered: Vec<Deliver>, reason: &str) {
    tracing::warn!(error = reason, "write batch rolled back");
    // Fails harmlessly when SQLite already rolled the transaction back itself.
    let _ = exec(conn, "ROLLBACK");
    let reason: Arc<str> = Arc::from(format!("the write batch was rolled back: {reason}"));
    delivered
        .into_iter()
        .for_each(|deliver| deliver(Some(reason.clone())));
}
