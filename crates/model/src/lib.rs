//! Wire and domain types of WeChat's Shopping Order API as userorder implements it
//! (`../shared/SPEC.md`), the errcode registry, body parsing and validation. No IO.

pub mod association;
pub mod body;
pub mod errcode;
pub mod inbound;
pub mod openid;
pub mod pay_v3;
pub mod sandbox;
pub mod sec_order;
pub mod secret;
pub mod shipping;
pub mod shopping;
pub mod validate;
pub mod wire;

pub use errcode::{ErrCode, Rejection};
