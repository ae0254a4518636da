#![no_main]
//! Any bytes as the body of `sec_get_order`: answered, never a panic (see `inbound::fuzz_one`).

use libfuzzer_sys::fuzz_target;
use userorder_model::inbound::{Endpoint, fuzz_one};

fuzz_target!(|data: &[u8]| fuzz_one(Endpoint::SecGetOrder, data));
