//! A minimal Rust SDK for WeChat's Shopping Order API and userorder's sandbox. It speaks to
//! any base URL — userorder in tests, `https://api.weixin.qq.com` in production — and turns
//! WeChat's HTTP-200 error envelopes into `Error::WeChat` with the errcode and rid.
//!
//! `AppClient` is what a merchant's server uses: it keeps the app's access_token fresh,
//! retries what can be retried, and checks every request against the server's own rules
//! before sending it. The same code runs against userorder (in CI) and WeChat (in
//! production): only the base URL differs. A runnable version of this example is
//! `cargo run -p userorder-client --example upload` (see the README).
//!
//! ```no_run
//! use userorder_client::{AppClient, Client};
//! use userorder_model::wire::UploadShoppingInfoIn;
//!
//! # async fn run() -> Result<(), userorder_client::Error> {
//! let base = std::env::var("USERORDER_BASE_URL").unwrap_or("https://api.weixin.qq.com".into());
//! let app = AppClient::new(Client::new(base), "wx0123456789abcdef", "0123456789abcdef0123456789abcdef");
//! let body: UploadShoppingInfoIn = serde_json::from_str(r#"{"order_key": {"order_number_type": 3}}"#)
//!     .expect("a JSON body");
//! match app.upload_shopping_info(&body).await {
//!     Ok(()) => println!("stored"),
//!     // Refused locally with WeChat's errcode: 268485194, order_number_type is illegal.
//!     Err(e) => eprintln!("{e}"),
//! }
//! # Ok(()) }
//! ```

mod app_client;
pub mod pay_v3;
pub mod prevalidate;
mod sandbox;
mod tokens;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use userorder_model::ErrCode;
use userorder_model::wire::{
    AccessTokenOut, AuthorizerTokenIn, AuthorizerTokenOut, ComponentTokenIn, ComponentTokenOut,
    EnvelopeOut, QueryAuthIn, QueryAuthOut, StableTokenIn,
};

pub use app_client::AppClient;
pub use sandbox::Sandbox;
pub use tokens::{CachedToken, MemoryTokenStore, TokenSource, TokenStore};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// WeChat (or userorder) refused the call.
    #[error("errcode {code}: {message} (hint: {})", code.hint())]
    WeChat {
        code: ErrCode,
        message: String,
        rid: Option<String>,
    },
    /// Refused before sending: WeChat would answer this errcode.
    #[error("errcode {code} (not sent): {message} (hint: {})", code.hint())]
    PreValidation { code: ErrCode, message: String },
    /// The sandbox API refused the call.
    #[error("sandbox answered {status}: {message}")]
    Sandbox { status: u16, message: String },
    /// WeChat Pay v3 refused the call: its HTTP status and `{code, message}`.
    #[error("WeChat Pay answered {status} {code}: {message}")]
    PayV3 {
        status: u16,
        code: String,
        message: String,
    },
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl Error {
    /// The rid of a refusal WeChat answered, for `rid/get` and support tickets.
    pub fn rid(&self) -> Option<&str> {
        match self {
            Self::WeChat { rid, .. } => rid.as_deref(),
            _ => None,
        }
    }

    /// What usually causes the errcode and how to fix it.
    pub fn hint(&self) -> Option<&'static str> {
        self.code().map(ErrCode::hint)
    }

    /// The errcode of a refusal: WeChat's, or the one pre-validation predicts.
    pub fn code(&self) -> Option<ErrCode> {
        match self {
            Self::WeChat { code, .. } | Self::PreValidation { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Calls WeChat's APIs on one base URL.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base_url.into().trim_end_matches('/').to_owned(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /cgi-bin/token`.
    pub async fn token(&self, appid: &str, secret: &str) -> Result<AccessTokenOut, Error> {
        let response = self
            .http
            .get(format!("{}/cgi-bin/token", self.base))
            .query(&[
                ("grant_type", "client_credential"),
                ("appid", appid),
                ("secret", secret),
            ])
            .send()
            .await?;
        decode(response).await
    }

    /// `POST /cgi-bin/stable_token`.
    pub async fn stable_token(
        &self,
        appid: &str,
        secret: &str,
        force_refresh: bool,
    ) -> Result<AccessTokenOut, Error> {
        let body = StableTokenIn {
            grant_type: Some("client_credential".into()),
            appid: Some(appid.into()),
            secret: Some(secret.into()),
            force_refresh: Some(force_refresh),
        };
        let response = self
            .http
            .post(format!("{}/cgi-bin/stable_token", self.base))
            .json(&body)
            .send()
            .await?;
        decode(response).await
    }

    /// `POST /cgi-bin/component/api_component_token`: a third-party platform's token.
    pub async fn component_token(
        &self,
        body: &ComponentTokenIn,
    ) -> Result<ComponentTokenOut, Error> {
        let response = self
            .http
            .post(format!(
                "{}/cgi-bin/component/api_component_token",
                self.base
            ))
            .json(body)
            .send()
            .await?;
        decode(response).await
    }

    /// `POST /cgi-bin/component/api_query_auth`: redeems an authorization code; the answer's
    /// `authorization_info` holds the authorizer's tokens and permission sets.
    pub async fn query_auth(
        &self,
        component_access_token: &str,
        body: &QueryAuthIn,
    ) -> Result<QueryAuthOut, Error> {
        self.post_with(
            "/cgi-bin/component/api_query_auth",
            "component_access_token",
            component_access_token,
            body,
        )
        .await
    }

    /// `POST /cgi-bin/component/api_authorizer_token`: a fresh authorizer_access_token.
    pub async fn authorizer_token(
        &self,
        component_access_token: &str,
        body: &AuthorizerTokenIn,
    ) -> Result<AuthorizerTokenOut, Error> {
        self.post_with(
            "/cgi-bin/component/api_authorizer_token",
            "component_access_token",
            component_access_token,
            body,
        )
        .await
    }

    async fn post_with<T: DeserializeOwned>(
        &self,
        path: &str,
        token_name: &str,
        token: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .query(&[(token_name, token)])
            .json(body)
            .send()
            .await?;
        decode(response).await
    }

    /// `POST /user-order/orders` (uploadShoppingInfo).
    pub async fn upload_shopping_info(
        &self,
        access_token: &str,
        body: &impl Serialize,
    ) -> Result<(), Error> {
        self.post::<EnvelopeOut>("/user-order/orders", access_token, body)
            .await
            .map(drop)
    }

    /// `POST /user-order/combine-orders` (uploadCombinedShoppingInfo).
    pub async fn upload_combined_shopping_info(
        &self,
        access_token: &str,
        body: &impl Serialize,
    ) -> Result<(), Error> {
        self.post::<EnvelopeOut>("/user-order/combine-orders", access_token, body)
            .await
            .map(drop)
    }

    /// Any WeChat POST API with an access_token.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        access_token: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        self.post_with(path, "access_token", access_token, body)
            .await
    }
}

/// WeChat answers HTTP 200 with `{"errcode": N, ...}` on failure; errcode 0 or none is
/// success.
async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, Error> {
    let value: Value = response.json().await?;
    if let Some(code) = value.get("errcode").and_then(Value::as_i64)
        && code != 0
    {
        let message = value
            .get("errmsg")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let rid = message.rsplit_once(" rid: ").map(|(_, rid)| rid.to_owned());
        return Err(Error::WeChat {
            code: ErrCode(code),
            message,
            rid,
        });
    }
    serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
}
