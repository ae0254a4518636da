//! Prometheus text metrics (`GET /metrics`): requests by path and errcode (or HTTP status),
//! a latency histogram per path, access-token fetches, and the store's group commits
//! (batch sizes and commit times, SQLite). Counters are atomics; the maps
//! that hold them take a write lock only the first time a (path, code) pair is seen.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use userorder_store::{BATCH_SIZE_BUCKETS, BatchStats, COMMIT_SECONDS_BUCKETS, WriteStats};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

#[derive(Default)]
pub struct Metrics {
    requests: RwLock<BTreeMap<(String, String), AtomicU64>>,
    latency: RwLock<BTreeMap<String, Histogram>>,
}

/// Paths are labels: unknown ones collapse into one series and paths with ids in them
/// into their first two segments, so no request can grow the map without bound.
fn label(path: &str, known: bool) -> String {
    if !known {
        return "other".to_owned();
    }
    if path.starts_with("/cgi-bin/") || path.starts_with("/user-order/") {
        return path.to_owned();
    }
    let mut segments = path.split('/').filter(|s| !s.is_empty()).take(2);
    match (segments.next(), segments.next()) {
        (Some(a), Some(b)) => format!("/{a}/{b}"),
        (Some(a), None) => format!("/{a}"),
        _ => "/".to_owned(),
    }
}

impl Metrics {
    /// `outcome` is the errcode for WeChat APIs and the HTTP status elsewhere.
    pub fn observe(&self, path: &str, known: bool, outcome: &str, elapsed: Duration) {
        let path = label(path, known);
        let key = (path.clone(), outcome.to_owned());
        let counted = self
            .requests
            .read()
            .ok()
            .and_then(|map| map.get(&key).map(|c| c.fetch_add(1, Ordering::Relaxed)))
            .is_some();
        if !counted && let Ok(mut map) = self.requests.write() {
            map.entry(key).or_default().fetch_add(1, Ordering::Relaxed);
        }
        let record = |h: &Histogram| {
            let seconds = elapsed.as_secs_f64();
            for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
                if seconds <= *bound {
                    bucket.fetch_add(1, Ordering::Relaxed);
                }
            }
            h.count.fetch_add(1, Ordering::Relaxed);
            h.sum_micros
                .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        };
        let recorded = self
            .latency
            .read()
            .ok()
            .and_then(|map| map.get(&path).map(record))
            .is_some();
        if !recorded && let Ok(mut map) = self.latency.write() {
            record(map.entry(path).or_default());
        }
    }

    pub fn render(&self, writes: Option<&WriteStats>, batches: &[BatchStats]) -> String {
        let mut out = String::new();
        out.push_str("# HELP userorder_requests_total Requests by path and errcode (WeChat APIs) or HTTP status.\n");
        out.push_str("# TYPE userorder_requests_total counter\n");
        if let Ok(map) = self.requests.read() {
            for ((path, outcome), count) in map.iter() {
                let _ = writeln!(
                    out,
                    "userorder_requests_total{{path=\"{path}\",outcome=\"{outcome}\"}} {}",
                    count.load(Ordering::Relaxed)
                );
            }
        }
        out.push_str("# HELP userorder_request_seconds Request latency by path.\n");
        out.push_str("# TYPE userorder_request_seconds histogram\n");
        if let Ok(map) = self.latency.read() {
            for (path, h) in map.iter() {
                for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
                    let _ = writeln!(
                        out,
                        "userorder_request_seconds_bucket{{path=\"{path}\",le=\"{bound}\"}} {}",
                        bucket.load(Ordering::Relaxed)
                    );
                }
                let count = h.count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "userorder_request_seconds_bucket{{path=\"{path}\",le=\"+Inf\"}} {count}"
                );
                let _ = writeln!(
                    out,
                    "userorder_request_seconds_sum{{path=\"{path}\"}} {}",
                    h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
                );
                let _ = writeln!(
                    out,
                    "userorder_request_seconds_count{{path=\"{path}\"}} {count}"
                );
            }
        }
        if let Some(writes) = writes {
            render_writes(&mut out, writes);
        }
        render_batches(&mut out, batches);
        out
    }
}

/// The SQLite writer's group commits: how long each batch took from BEGIN to COMMIT and
/// how many writes it carried.
fn render_writes(out: &mut String, writes: &WriteStats) {
    let histogram =
        |out: &mut String, name: &str, help: &str, bounds: &[f64], counts: &[u64], sum: f64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} histogram");
            for (bound, count) in bounds.iter().zip(counts) {
                let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", writes.batches);
            let _ = writeln!(out, "{name}_sum {sum}");
            let _ = writeln!(out, "{name}_count {}", writes.batches);
        };
    histogram(
        out,
        "userorder_store_commit_seconds",
        "Time from BEGIN to COMMIT of each group-committed write batch.",
        &COMMIT_SECONDS_BUCKETS,
        &writes.commit_buckets,
        writes.commit_seconds_sum,
    );
    histogram(
        out,
        "userorder_store_batch_size",
        "Writes carried by each group-committed transaction.",
        &BATCH_SIZE_BUCKETS,
        &writes.batch_size_buckets,
        writes.writes as f64,
    );
}

/// A counter of the batched operations: its name, its help, and how it reads a batcher.
type Counter = (&'static str, &'static str, fn(&BatchStats) -> u64);

/// PostgreSQL's batched operations: batches run, requests they answered, statements sent.
fn render_batches(out: &mut String, batches: &[BatchStats]) {
    if batches.is_empty() {
        return;
    }
    let counters: [Counter; 3] = [
        (
            "userorder_store_batches_total",
            "Batches each batched operation ran.",
            |b| b.batches,
        ),
        (
            "userorder_store_batched_requests_total",
            "Requests the batches of each batched operation answered.",
            |b| b.requests,
        ),
        (
            "userorder_store_statements_total",
            "Statements the batches of each batched operation sent to the database.",
            |b| b.statements,
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for batch in batches {
            let _ = writeln!(
                out,
                "{name}{{operation=\"{}\"}} {}",
                batch.operation,
                value(batch)
            );
        }
    }
}
