//! HTTP tests: each test starts a real server on port 0 on a database of its own (a SQLite
//! file, and a PostgreSQL database when USERORDER_TEST_POSTGRES_URL is set) and talks to it
//! through the project's client (raw reqwest only for malformed input).

#[macro_use]
mod common;

mod association;
mod contract;
mod debugging;
mod errcodes;
mod ops;
mod pages;
mod pay_v3;
mod pay_v3_flow;
mod platforms;
mod robustness;
mod sdk;
mod sec_events;
mod sec_order;
mod sec_shipping;
mod sec_third_party;
mod shipping;
mod timeouts;
mod tokens;
