//! userorder's sandbox API (`/sandbox/`, admin bearer token): apps, merchants, openids,
//! payments, the stored orders and the clock.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::Error;

#[derive(Debug, Clone)]
pub struct Sandbox {
    http: reqwest::Client,
    base: String,
    admin_token: String,
}

impl Sandbox {
    pub fn new(base_url: impl Into<String>, admin_token: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base_url.into().trim_end_matches('/').to_owned(),
            admin_token: admin_token.into(),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Error> {
        let response = request.bearer_auth(&self.admin_token).send().await?;
        let status = response.status();
        let value: Value = response.json().await?;
        if !status.is_success() {
            return Err(Error::Sandbox {
                status: status.as_u16(),
                message: value
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
    }

    /// `POST` a JSON body to a sandbox path, answering the JSON it returns.
    pub async fn post(&self, path: &str, body: &impl Serialize) -> Result<Value, Error> {
        self.send(
            self.http
                .post(format!("{}/sandbox{path}", self.base))
                .json(body),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Result<Value, Error> {
        self.send(self.http.get(format!("{}/sandbox{path}", self.base)))
            .await
    }

    /// Creates an app; answers `{appid, secret, …}`.
    pub async fn create_app(&self, body: Value) -> Result<Value, Error> {
        self.post("/apps", &body).await
    }

    pub async fn create_merchant(&self, appids: &[&str]) -> Result<String, Error> {
        let out = self
            .post("/merchants", &json!({ "appids": appids }))
            .await?;
        field(&out, "mchid")
    }

    pub async fn create_openid(&self, appid: &str, user_id: Option<u64>) -> Result<String, Error> {
        let out = self
            .post(
                &format!("/apps/{appid}/openids"),
                &json!({ "user_id": user_id }),
            )
            .await?;
        field(&out, "openid")
    }

    pub async fn create_payment(&self, body: Value) -> Result<Value, Error> {
        self.post("/payments", &body).await
    }

    pub async fn pay(&self, transaction_id: &str) -> Result<Value, Error> {
        self.post(&format!("/payments/{transaction_id}/pay"), &json!({}))
            .await
    }

    pub async fn orders(&self, appid: &str) -> Result<Vec<Value>, Error> {
        let out = self.get(&format!("/orders?appid={appid}")).await?;
        Ok(out
            .get("orders")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    pub async fn advance_clock(&self, seconds: i64) -> Result<Value, Error> {
        self.post("/clock/advance", &json!({ "seconds": seconds }))
            .await
    }
}

impl Sandbox {
    /// Queues errcodes that the next calls of `appid` (on `path`, or any) answer.
    pub async fn script_faults(
        &self,
        appid: &str,
        path: Option<&str>,
        errcodes: &[i64],
        delay_ms: u64,
    ) -> Result<Value, Error> {
        self.post(
            "/faults",
            &json!({"appid": appid, "path": path, "errcodes": errcodes, "delay_ms": delay_ms}),
        )
        .await
    }

    /// The journal entries of an app, newest first.
    pub async fn journal(&self, appid: &str) -> Result<Vec<Value>, Error> {
        let out = self
            .get(&format!("/journal?appid={appid}&limit=10000"))
            .await?;
        Ok(out
            .get("entries")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }
}

fn field(value: &Value, name: &str) -> Result<String, Error> {
    value
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::Decode(format!("no {name} in {value}")))
}
