//! SQLite's one writer: an OS thread that owns the write connection.
//!
//! Every write is a *job*, a closure over the connection, sent to the thread. The thread
//! takes every job queued while the previous commit was being made durable (up to
//! [`MAX_BATCH`]), runs them in one `BEGIN IMMEDIATE` transaction, writes the quota counts
//! of the calls since the last batch, and commits once. Only after that commit (one fsync
//! with `synchronous=FULL`) does any job of the batch learn its result, so "answered" still
//! means "durable"; the fsync is shared, not skipped.
//!
//! A job that fails, panics or decides to undo its writes must leave no trace and must not
//! disturb its neighbours. A savepoint per job would give that, but SQLite then copies every
//! page a job touches into a statement journal first, which measured ~15 % of the upload
//! rate. So a batch first runs without savepoints; only when one of its jobs does not keep
//! its writes is the whole transaction rolled back and the batch run again with a savepoint
//! per job. Jobs are therefore `Fn`: running one again against the same database state
//! decides the same way. Jobs keep their writes in the common case — an upload that is
//! refused by the ordering rule has written nothing and says `Commit`.
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
    /// Keep the writes (or there were none); the caller gets `T` once the batch is durable.
    Commit(T),
    /// Undo this job's writes and answer `T` anyway.
    Rollback(T),
}

/// A queued write: run (perhaps twice, see the module), then told the batch's fate.
trait Job: Send {
    /// Runs against the transaction; whether its writes are kept.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: `None` when the batch committed, the reason otherwise.
    fn deliver(self: Box<Self>, failed: Option<Arc<str>>);
}

struct Typed<T, F> {
    job: F,
    outcome: Option<Result<T>>,
    answer: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send,
    F: Fn(&Connection) -> Result<Finish<T>> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let (keep, outcome) = match catch_unwind(AssertUnwindSafe(|| (self.job)(conn))) {
            Ok(Ok(Finish::Commit(value))) => (true, Ok(value)),
            Ok(Ok(Finish::Rollback(value))) => (false, Ok(value)),
            Ok(Err(e)) => (false, Err(e)),
            Err(panic) => (false, Err(StoreError::Batch(panic_message(&panic)))),
        };
        self.outcome = Some(outcome);
        keep
    }

    fn deliver(self: Box<Self>, failed: Option<Arc<str>>) {
        let result = match (failed, self.outcome) {
            (None, Some(outcome)) => outcome,
            (Some(reason), _) => Err(StoreError::Batch(reason.to_string())),
            (None, None) => Err(StoreError::Batch("the write job never ran".into())),
        };
        // The caller may have gone away; the write stands either way.
        let _ = self.answer.send(result);
    }
}

/// Asks for a batch without writing anything (the quota flush).
struct Empty;

impl Job for Empty {
    fn run(&mut self, _: &Connection) -> bool {
        true
    }

    fn deliver(self: Box<Self>, _: Option<Arc<str>>) {}
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
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
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
        // Small and often: a checkpoint's fsync of the database file delays the writer's
        // WAL fsync on the same disk, and at 100 ms apart each one copied enough to show in
        // the p99 (half-rate p99 ~15 ms at 100 ms, ~9 ms at 25 ms; `userorder bench`).
        writer.checkpoint_every(Duration::from_millis(25), checkpoints)?;
        writer.flush_quotas_every(Duration::from_millis(500), quotas);
        Ok(writer)
    }

    /// Runs `job` in the next batch and answers its result once that batch is committed.
    /// A job that fails or panics answers an error and leaves no trace.
    pub async fn write<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<Finish<T>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T>>();
        let job = Box::new(Typed {
            job,
            outcome: None,
            answer,
        });
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::Batch("the SQLite writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Batch("the SQLite writer dropped this write".into()))?
    }

    /// Copies committed WAL frames into the database file every `period` in which the
    /// writer committed (a PASSIVE checkpoint never waits for the writer or readers), so
    /// the writer's commits never run one.
    fn checkpoint_every(&self, period: Duration, conn: Connection) -> std::io::Result<()> {
        let queue = self.queue.downgrade();
        let stats = self.stats.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut checkpointed = 0;
                while queue.strong_count() > 0 {
                    std::thread::sleep(period);
                    let batches = stats.batches.load(Ordering::Relaxed);
                    if batches == checkpointed {
                        continue;
                    }
                    checkpointed = batches;
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
                    // A full queue runs a batch soon anyway.
                    let _ = queue.try_send(Box::new(Empty));
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

fn run(
    conn: Connection,
    mut jobs: mpsc::Receiver<Box<dyn Job>>,
    stats: &Stats,
    quotas: &QuotaBook,
) {
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

/// One transaction for the whole batch: first without savepoints, again with one per job
/// if a job does not keep its writes. Every job is answered after COMMIT returns, or with
/// the reason the batch failed; nobody hears "ok" before that.
fn run_batch(conn: &Connection, batch: &mut Vec<Box<dyn Job>>, quotas: &QuotaBook) {
    let mut outcome = attempt(conn, batch, quotas, false);
    if matches!(outcome, Ok(false)) {
        outcome = attempt(conn, batch, quotas, true);
    }
    let failed = match outcome {
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "write batch rolled back");
            Some(Arc::from(format!("the write batch was rolled back: {e}")))
        }
    };
    for job in batch.drain(..) {
        job.deliver(failed.clone());
    }
}

/// Runs the batch in one transaction. Without savepoints, a job that does not keep its
/// writes rolls the whole transaction back and answers `Ok(false)`; with savepoints, only
/// its own writes are undone. `Ok(true)` once committed.
fn attempt(
    conn: &Connection,
    batch: &mut [Box<dyn Job>],
    quotas: &QuotaBook,
    savepoints: bool,
) -> rusqlite::Result<bool> {
    exec(conn, "BEGIN IMMEDIATE")?;
    let ran = run_jobs(conn, batch, savepoints).and_then(|all_kept| {
        if !all_kept {
            return Ok(false);
        }
        // The quota counts ride along; a failure there must not cost the batch its jobs.
        if let Err(e) = exec(conn, "SAVEPOINT quotas")
            .and_then(|()| quotas.persist(conn))
            .and_then(|()| exec(conn, "RELEASE quotas"))
        {
            tracing::warn!(error = %e, "quota counts not written");
            exec(conn, "ROLLBACK TO quotas").and_then(|()| exec(conn, "RELEASE quotas"))?;
        }
        exec(conn, "COMMIT").map(|()| true)
    });
    if !matches!(ran, Ok(true)) {
        // Fails harmlessly when SQLite already rolled the transaction back itself.
        let _ = exec(conn, "ROLLBACK");
    }
    ran
}

/// Runs every job; false as soon as one (without savepoints) does not keep its writes.
fn run_jobs(
    conn: &Connection,
    batch: &mut [Box<dyn Job>],
    savepoints: bool,
) -> rusqlite::Result<bool> {
    for job in batch.iter_mut() {
        if !savepoints {
            if !job.run(conn) {
                return Ok(false);
            }
            continue;
        }
        exec(conn, "SAVEPOINT job")?;
        if job.run(conn) {
            exec(conn, "RELEASE job")?;
        } else {
            exec(conn, "ROLLBACK TO job")?;
            exec(conn, "RELEASE job")?;
        }
    }
    Ok(true)
}
