//! Quota counts in memory, written with every batch (issue: "quota counts can be kept in
//! memory and written with the batch"). A call is counted here at once, without a write;
//! the writer adds what each window gained to its row and learns the row's total, which
//! also takes in the calls other processes on the same file have written. A crash forgets
//! at most the calls of the last batch (README, "Durability").

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rusqlite::Connection;

use super::statements as sql;
use crate::Result;
use crate::records::{QuotaCall, QuotaCounts};

/// One counter's window: a row of `quota_counters`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaWindow {
    pub appid: String,
    pub api: String,
    /// `d` (the WeChat day) or `m` (the minute).
    pub window: &'static str,
    pub start: i64,
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
    windows: Mutex<HashMap<QuotaWindow, Window>>,
}

impl QuotaBook {
    /// Whether calls were counted that no batch has written yet.
    pub fn has_pending(&self) -> bool {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows.values().any(|w| w.pending > 0)
    }

    /// Counts one call; a window this process has not seen yet starts from its stored row
    /// (`stored` reads it, the only time a count touches the file). Answers the counts,
    /// this call included.
    pub fn count(
        &self,
        call: &QuotaCall<'_>,
        mut stored: impl FnMut(&QuotaWindow) -> Result<i64>,
    ) -> Result<QuotaCounts> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let mut counts = [0i64; 2];
        for (slot, (window, start)) in [("d", call.day_start), ("m", call.minute_start)]
            .into_iter()
            .enumerate()
        {
            let key = QuotaWindow {
                appid: call.appid.to_owned(),
                api: call.api.to_owned(),
                window,
                start,
            };
            let entry = match windows.get_mut(&key) {
                Some(entry) => entry,
                None => {
                    let count = stored(&key)?;
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
        let drained: Vec<(QuotaWindow, i64)> = {
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
        for (window, delta) in drained {
            let total = sql::add_quota_count(conn, &window, delta)?;
            if total == delta {
                // A new window's first row: the older ones will never be read again.
                sql::delete_quota_windows_before(conn, &window)?;
            }
            totals.push((window, total));
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
