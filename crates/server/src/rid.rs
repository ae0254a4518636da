//! Request ids (SPEC §1): `<unix time hex>-<process hex>-<counter hex>`, unique across
//! processes sharing a database because the middle group is random per process.

use std::sync::atomic::{AtomicU32, Ordering};

use rand::Rng;

use crate::clock::real_now;

pub struct RidSource {
    process: u32,
    counter: AtomicU32,
}

impl RidSource {
    pub fn new() -> Self {
        Self {
            process: rand::thread_rng().r#gen(),
            counter: AtomicU32::new(0),
        }
    }

    pub fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        format!("{:08x}-{:08x}-{n:08x}", real_now() as u32, self.process)
    }
}

impl Default for RidSource {
    fn default() -> Self {
        Self::new()
    }
}
