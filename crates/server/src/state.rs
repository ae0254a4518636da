//! What every handler shares.

use std::sync::Arc;

use userorder_model::openid::OpenIdCodec;
use userorder_store::Store;

use crate::config::QuotaDefaults;
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::rid::RidSource;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub openids: Arc<OpenIdCodec>,
    pub admin_token: Arc<str>,
    pub quotas: QuotaDefaults,
    pub rids: Arc<RidSource>,
    pub journal: Journal,
    pub metrics: Arc<Metrics>,
    /// Signs the pages' session cookies; read from the store once at start.
    pub session_key: [u8; 32],
    /// Sweeps and pushes order shipping management's events (SPEC §10.13).
    pub events: crate::push::Events,
}
