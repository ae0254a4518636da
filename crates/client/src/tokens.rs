//! Access tokens for one app: where they come from (`/cgi-bin/token` or
//! `/cgi-bin/stable_token`), where they are kept (a `TokenStore`: in memory by default; a
//! Redis or database store implements the same trait to share tokens between processes).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

/// Which endpoint mints the app's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenSource {
    /// `GET /cgi-bin/token`: every fetch starts a new generation.
    #[default]
    Basic,
    /// `POST /cgi-bin/stable_token`: the current token is reused while it is valid.
    Stable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub access_token: String,
    pub expires_at: SystemTime,
}

impl CachedToken {
    pub fn new(access_token: String, expires_in: i64) -> Self {
        let lifetime = Duration::from_secs(expires_in.max(0) as u64);
        Self {
            access_token,
            expires_at: SystemTime::now() + lifetime,
        }
    }

    /// Still usable for at least `margin` (tokens are refreshed before they expire).
    pub fn fresh_for(&self, margin: Duration) -> bool {
        SystemTime::now() + margin < self.expires_at
    }
}

/// Keeps one token per appid.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn load(&self, appid: &str) -> Option<CachedToken>;
    async fn save(&self, appid: &str, token: CachedToken);
    /// Drops the app's token only if it is still `failed` (compare-and-expire), so a token
    /// another task just fetched survives a late failure of the old one.
    async fn expire(&self, appid: &str, failed: &str);
}

/// The default store: this process's memory.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<HashMap<String, CachedToken>>,
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, appid: &str) -> Option<CachedToken> {
        self.tokens.lock().ok()?.get(appid).cloned()
    }

    async fn save(&self, appid: &str, token: CachedToken) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(appid.to_owned(), token);
        }
    }

    async fn expire(&self, appid: &str, failed: &str) {
        if let Ok(mut tokens) = self.tokens.lock()
            && tokens.get(appid).is_some_and(|t| t.access_token == failed)
        {
            tokens.remove(appid);
        }
    }
}
