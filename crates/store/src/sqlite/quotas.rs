//! Quota counts in memory, written with every batch (issue: "quota counts can be kept in
//! memory and written with the batch"). A call is counted here at once, without a write;
//! the writer adds what each window gained to its row and learns the row's total, which
//! also takes in the calls other processes on the same file have written. A crash forgets
//! at most the calls of the last batch (README, "Durability").

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

use crate::records::{QuotaCall, QuotaCounts};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct WindowKey {
    appid: String,
    api: String,
    /// `d` (the WeChat day) or `m` (the minute).
    window: &'static str,
    start: i64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    /// Calls in the window as far as this process knows, its own unwritten ones included.
    count: i64,
    /// This process's calls not yet written.
    pending: i64,
}

#[derive(Default)]
pub struct QuotaBook {
    windows: Mutex<HashMap<WindowKey, Window>>,
}

impl QuotaBook {
    /// Whether calls were counted that no batch has written yet.
    pub fn has_pending(&self) -> bool {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows.values().any(|w| w.pending > 0)
    }

    /// Counts one call; a window this process has not seen yet starts from its stored row
    /// (`stored` reads it). Answers the counts, this call included.
    pub fn count(
        &self,
        call: &QuotaCall<'_>,
        stored: &Connection,
    ) -> rusqlite::Result<QuotaCounts> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let mut counts = [0i64; 2];
        for (slot, (window, start)) in [("d", call.day_start), ("m", call.minute_start)]
            .into_iter()
            .enumerate()
        {
            let key = WindowKey {
                appid: call.appid.to_owned(),
                api: call.api.to_owned(),
                window,
                start,
            };
            let entry = match windows.get_mut(&key) {
                Some(entry) => entry,
                None => {
                    let count = stored_count(stored, &key)?;
                    // Older windows of the same counter are never read again.
                    windows.retain(|k, w| {
                        w.pending > 0
                            || !(k.appid == key.appid
                                && k.api == key.api
                                && k.window == key.window
                                && k.start < key.start)
                    });
                    windows.entry(key).or_insert(Window { count, pending: 0 })
                }
            };
            entry.count += 1;
            entry.pending += 1;
            counts[slot] = entry.count;
        }
        Ok(QuotaCounts {
            day: counts[0],
            minute: counts[1],
        })
    }

    /// Writes the calls counted since the last batch (inside the writer's transaction) and
    /// takes in each window's stored total.
    pub fn persist(&self, conn: &Connection) -> rusqlite::Result<()> {
        let drained: Vec<(WindowKey, i64)> = {
            let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
            windows
                .iter_mut()
                .filter(|(_, w)| w.pending > 0)
                .map(|(k, w)| (k.clone(), std::mem::take(&mut w.pending)))
                .collect()
        };
        if drained.is_empty() {
            return Ok(());
        }
        let mut totals = Vec::with_capacity(drained.len());
        for (key, delta) in drained {
            let total: i64 = conn
                .prepare_cached(
                    "INSERT INTO quota_counters (appid, api, window, window_start, count)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO UPDATE SET count = count + excluded.count
                     RETURNING count",
                )?
                .query_row(
                    params![key.appid, key.api, key.window, key.start, delta],
                    |row| row.get(0),
                )?;
            if total == delta {
                // A new window's first row: the older ones will never be read again.
                conn.prepare_cached(
                    "DELETE FROM quota_counters
                     WHERE appid = ?1 AND api = ?2 AND window = ?3 AND window_start < ?4",
                )?
                .execute(params![key.appid, key.api, key.window, key.start])?;
            }
            totals.push((key, total));
        }
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, total) in totals {
            if let Some(window) = windows.get_mut(&key) {
                window.count = window.count.max(total + window.pending);
            }
        }
        Ok(())
    }
}

fn stored_count(conn: &Connection, key: &WindowKey) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count FROM quota_counters
             WHERE appid = ?1 AND api = ?2 AND window = ?3 AND window_start = ?4",
        )?
        .query_row(params![key.appid, key.api, key.window, key.start], |row| {
            row.get(0)
        })
        .optional()?
        .unwrap_or(0))
}
