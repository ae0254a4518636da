//! userorder's sandbox API (`/sandbox/`, admin bearer token): apps, merchants, openids,
//! payments, the stored orders, the clock, scripted faults and the journal. The request
//! and answer types are the server's own (`userorder_model::sandbox`).

use serde::Serialize;
use serde::de::DeserializeOwned;
use userorder_model::sandbox::{
    AdvanceIn, AppOut, AppsOut, ClockOut, ConfirmReceiptIn, ConfirmReceiptOut, ConfirmStatus,
    FaultsIn, FaultsOut, JournalEntry, JournalOut, Merchant, NewAppOut, NewAuthorizationOut,
    NewComponentOut, NewMerchantIn, NewOpenIdIn, NewOpenIdOut, OrderOut, OrdersOut, Payment,
    PaymentView, SandboxErrorOut, TradeManagement, TradeManagementIn,
};
use userorder_model::sandbox::{ComplaintIn, Event, EventsOut, Push};

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
        let bytes = response.bytes().await?;
        if !status.is_success() {
            let message = serde_json::from_slice::<SandboxErrorOut>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(Error::Sandbox {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// `POST`s a JSON body to a sandbox path and reads the answer as `T`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        self.with_body(reqwest::Method::POST, path, body).await
    }

    /// `PUT`s a JSON body to a sandbox path and reads the answer as `T`.
    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        self.with_body(reqwest::Method::PUT, path, body).await
    }

    async fn with_body<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        let url = format!("{}/sandbox{path}", self.base);
        self.send(self.http.request(method, url).json(body)).await
    }

    /// `GET`s a sandbox path and reads the answer as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.send(self.http.get(format!("{}/sandbox{path}", self.base)))
            .await
    }

    /// `POST /sandbox/apps` with a [`NewAppIn`](userorder_model::sandbox::NewAppIn)-shaped
    /// body; the answer holds the only copy of the secret.
    pub async fn create_app(&self, body: &impl Serialize) -> Result<NewAppOut, Error> {
        self.post("/apps", body).await
    }

    /// The apps, with the product state in force now.
    pub async fn apps(&self) -> Result<Vec<AppOut>, Error> {
        Ok(self.get::<AppsOut>("/apps").await?.apps)
    }

    /// A merchant bound to `appids`; answers its mchid.
    pub async fn create_merchant(&self, appids: &[&str]) -> Result<String, Error> {
        let body = NewMerchantIn {
            mchid: None,
            appids: appids.iter().map(|a| (*a).to_owned()).collect(),
            apiv3: None,
        };
        Ok(self.post::<Merchant>("/merchants", &body).await?.mchid)
    }

    /// An openid of `appid` (for `user_id`, or a random user); answers the openid.
    pub async fn create_openid(&self, appid: &str, user_id: Option<u64>) -> Result<String, Error> {
        let out: NewOpenIdOut = self
            .post(&format!("/apps/{appid}/openids"), &NewOpenIdIn { user_id })
            .await?;
        Ok(out.openid)
    }

    /// `POST /sandbox/payments` with a [`NewPaymentIn`](userorder_model::sandbox::NewPaymentIn)-shaped body.
    pub async fn create_payment(&self, body: &impl Serialize) -> Result<Payment, Error> {
        self.post("/payments", body).await
    }

    pub async fn payment(&self, transaction_id: &str) -> Result<Payment, Error> {
        self.get(&format!("/payments/{transaction_id}")).await
    }

    /// A payment with what order shipping management holds of it (`sec_order`).
    pub async fn payment_view(&self, transaction_id: &str) -> Result<PaymentView, Error> {
        self.get(&format!("/payments/{transaction_id}")).await
    }

    /// The payer opens (`true`) or closes a complaint about an order.
    pub async fn set_complaint(
        &self,
        transaction_id: &str,
        open: bool,
    ) -> Result<PaymentView, Error> {
        self.put(
            &format!("/payments/{transaction_id}/complaint"),
            &ComplaintIn { open: Some(open) },
        )
        .await
    }

    /// Where an app's events are pushed (`url: None` stops pushing).
    pub async fn set_push(&self, appid: &str, push: &Push) -> Result<Push, Error> {
        self.put(&format!("/apps/{appid}/push"), push).await
    }

    /// The event log after `after` (an event id; 0 from the start), swept first.
    pub async fn events(&self, appid: Option<&str>, after: i64) -> Result<Vec<Event>, Error> {
        let mut path = format!("/events?after={after}&limit=1000");
        if let Some(appid) = appid {
            path.push_str(&format!("&appid={appid}"));
        }
        Ok(self.get::<EventsOut>(&path).await?.events)
    }

    /// The payer pays: the payment is `SUCCESS` and matching uploads associate.
    pub async fn pay(&self, transaction_id: &str) -> Result<Payment, Error> {
        self.post(
            &format!("/payments/{transaction_id}/pay"),
            &serde_json::Map::new(),
        )
        .await
    }

    /// Refunds a paid payment with its sub-payments (order shipping management's state 5).
    pub async fn refund(&self, transaction_id: &str) -> Result<Payment, Error> {
        self.post(
            &format!("/payments/{transaction_id}/refund"),
            &serde_json::Map::new(),
        )
        .await
    }

    /// The payer (or `openid`) confirms receipt of an order.
    pub async fn confirm_receipt(
        &self,
        transaction_id: &str,
        openid: Option<&str>,
    ) -> Result<ConfirmStatus, Error> {
        let body = ConfirmReceiptIn {
            openid: openid.map(str::to_owned),
        };
        let out: ConfirmReceiptOut = self
            .post(
                &format!("/payments/{transaction_id}/confirm-receipt"),
                &body,
            )
            .await?;
        Ok(out.status)
    }

    /// The stored orders of an app, newest first.
    pub async fn orders(&self, appid: &str) -> Result<Vec<OrderOut>, Error> {
        Ok(self
            .get::<OrdersOut>(&format!("/orders?appid={appid}"))
            .await?
            .orders)
    }

    pub async fn clock(&self) -> Result<ClockOut, Error> {
        self.get("/clock").await
    }

    pub async fn advance_clock(&self, seconds: i64) -> Result<ClockOut, Error> {
        self.post("/clock/advance", &AdvanceIn { seconds }).await
    }

    /// An app's order shipping management settings.
    pub async fn trade_management(&self, appid: &str) -> Result<TradeManagement, Error> {
        self.get(&format!("/apps/{appid}/trade-management")).await
    }

    /// Changes any of an app's order shipping management settings; answers them all.
    pub async fn set_trade_management(
        &self,
        appid: &str,
        settings: &TradeManagementIn,
    ) -> Result<TradeManagement, Error> {
        self.send(
            self.http
                .put(format!(
                    "{}/sandbox/apps/{appid}/trade-management",
                    self.base
                ))
                .json(settings),
        )
        .await
    }

    /// `POST /sandbox/components`: a third-party platform.
    pub async fn create_component(&self, body: &impl Serialize) -> Result<NewComponentOut, Error> {
        self.post("/components", body).await
    }

    /// `POST /sandbox/authorizations`: an app authorizes a platform.
    pub async fn authorize(&self, body: &impl Serialize) -> Result<NewAuthorizationOut, Error> {
        self.post("/authorizations", body).await
    }

    /// Queues errcodes that the next calls of `appid` (on `path`, or any) answer.
    pub async fn script_faults(
        &self,
        appid: &str,
        path: Option<&str>,
        errcodes: &[i64],
        delay_ms: u64,
    ) -> Result<FaultsOut, Error> {
        let body = FaultsIn {
            appid: Some(appid.to_owned()),
            path: path.map(str::to_owned),
            errcodes: errcodes.to_vec(),
            mchid: None,
            codes: Vec::new(),
            delay_ms: Some(i64::try_from(delay_ms).unwrap_or(i64::MAX)),
        };
        self.post("/faults", &body).await
    }

    /// Queues WeChat Pay codes (SYSTEM_ERROR, FREQUENCY_LIMITED, …) that a merchant's next
    /// `/v3/` calls (on `path`, or any) answer after their signature is checked.
    pub async fn script_v3_faults(
        &self,
        mchid: &str,
        path: Option<&str>,
        codes: &[&str],
    ) -> Result<FaultsOut, Error> {
        let body = FaultsIn {
            appid: None,
            path: path.map(str::to_owned),
            errcodes: Vec::new(),
            mchid: Some(mchid.to_owned()),
            codes: codes.iter().map(|c| (*c).to_owned()).collect(),
            delay_ms: None,
        };
        self.post("/faults", &body).await
    }

    /// The journal entries of an app, newest first.
    pub async fn journal(&self, appid: &str) -> Result<Vec<JournalEntry>, Error> {
        Ok(self
            .get::<JournalOut>(&format!("/journal?appid={appid}&limit=10000"))
            .await?
            .entries)
    }
}
