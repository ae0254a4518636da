//! Calls on behalf of one app with its own access_token: fetched on first use (one fetch at
//! a time however many tasks call), dropped and refetched when WeChat says it is invalid
//! or expired (only if it is still the token that failed), and calls retried a bounded
//! number of times, with backoff on system errors.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use userorder_model::ErrCode;

use crate::{Client, Error};

#[derive(Debug)]
pub struct AppClient {
    client: Client,
    appid: String,
    secret: String,
    token: Mutex<Option<String>>,
    max_retries: u32,
    backoff: Duration,
}

impl AppClient {
    pub fn new(client: Client, appid: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            client,
            appid: appid.into(),
            secret: secret.into(),
            token: Mutex::new(None),
            max_retries: 3,
            backoff: Duration::from_millis(50),
        }
    }

    /// Retries after the first attempt (0 turns retrying off), and the first backoff.
    pub fn with_retries(mut self, max_retries: u32, backoff: Duration) -> Self {
        self.max_retries = max_retries;
        self.backoff = backoff;
        self
    }

    /// The current token, fetching one if there is none. The lock makes concurrent callers
    /// wait for one fetch instead of each superseding the others' tokens.
    pub async fn access_token(&self) -> Result<String, Error> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref() {
            return Ok(token.clone());
        }
        let fresh = self
            .client
            .token(&self.appid, &self.secret)
            .await?
            .access_token;
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forgets `failed` unless another task already replaced it.
    async fn expire(&self, failed: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_deref() == Some(failed) {
            *slot = None;
        }
    }

    /// POSTs `body` to a WeChat API path with the app's token, retrying as described above.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        let mut attempt = 0;
        loop {
            let result = match self.access_token().await {
                Ok(token) => {
                    let result = self.client.post(path, &token, body).await;
                    if matches!(
                        result.as_ref().err().and_then(Error::code),
                        Some(ErrCode::INVALID_CREDENTIAL | ErrCode::ACCESS_TOKEN_EXPIRED)
                    ) {
                        self.expire(&token).await;
                    }
                    result
                }
                Err(e) => Err(e),
            };
            let retry = match result.as_ref().err().and_then(Error::code) {
                Some(ErrCode::INVALID_CREDENTIAL | ErrCode::ACCESS_TOKEN_EXPIRED) => true,
                Some(ErrCode::SYSTEM_ERROR) => {
                    tokio::time::sleep(self.backoff * 2u32.saturating_pow(attempt)).await;
                    true
                }
                _ => false,
            };
            if !retry || attempt >= self.max_retries {
                return result;
            }
            attempt += 1;
        }
    }
}
