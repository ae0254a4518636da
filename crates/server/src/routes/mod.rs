//! The WeChat API handlers, one module per family; `app` routes and documents them.

pub mod component;
pub mod journal;
pub mod permission;
pub mod sec_order;
pub mod shipping;
pub mod shopping;
pub mod token;
