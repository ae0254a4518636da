//! HTTP tests: each test starts a real server on port 0 with a fresh SQLite file and talks
//! to it through the project's client (raw reqwest only for malformed input).

mod association;
mod common;
mod debugging;
mod errcodes;
mod platforms;
mod robustness;
mod shipping;
mod tokens;
