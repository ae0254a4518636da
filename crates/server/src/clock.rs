//! The sandbox clock: real time plus an offset kept in the store, so every process
//! sharing a database reads the same time and every time-based rule can be tested by
//! advancing it (SPEC §8).

use std::time::{SystemTime, UNIX_EPOCH};

use userorder_store::{Store, StoreError};

pub fn real_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Unix seconds on the sandbox clock.
pub async fn now(store: &dyn Store) -> Result<i64, StoreError> {
    Ok(real_now() + store.clock_offset().await?)
}

/// Start of the WeChat day (midnight in China, UTC+8) that contains `now`.
pub fn day_start(now: i64) -> i64 {
    const CHINA: i64 = 8 * 3600;
    (now + CHINA).div_euclid(86_400) * 86_400 - CHINA
}

pub fn minute_start(now: i64) -> i64 {
    now.div_euclid(60) * 60
}

pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub use userorder_model::pay_v3::records::china_time as rfc3339_china;
