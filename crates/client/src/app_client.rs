//! Calls on behalf of one app. The token comes from a `TokenStore` and is refreshed before
//! it expires; one refresh runs at a time however many tasks call (single-flight); on 40001
//! or 42001 the token is expired only if it is still the one that failed, refetched, and the
//! call retried a bounded number of times, with exponential backoff on -1. Requests are
//! pre-validated with the server's own rules unless that is turned off.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Mutex;
use userorder_model::ErrCode;
use userorder_model::association::VerifyResult;
use userorder_model::sec_order::{
    AppidIn, ConfirmationCompletedOut, DeliveryListIn, DeliveryListOut, DeliveryOut, GetOrderOut,
    IsTradeManagedOut, NotifyConfirmReceiveIn, OpSpecialOrderIn, OrderListIn, OrderListOut,
    OrderOut, PaymentRefIn, SetMsgJumpPathIn, UploadCombinedShippingIn, UploadShippingIn,
};
use userorder_model::wire::{
    EnvelopeOut, PermissionConfirmOut, RidGetIn, RidGetOut, RidRequestOut,
    UploadCombinedShippingInfoIn, UploadCombinedShoppingInfoIn, UploadShippingInfoIn,
    UploadShoppingInfoIn, VerifyIn, VerifyOut,
};

use crate::tokens::{CachedToken, MemoryTokenStore, TokenSource, TokenStore};
use crate::{Client, Error, prevalidate};

/// Tokens are refreshed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

pub struct AppClient {
    client: Client,
    appid: String,
    secret: String,
    source: TokenSource,
    store: Arc<dyn TokenStore>,
    refresh: Mutex<()>,
    max_retries: u32,
    backoff: Duration,
    prevalidate: bool,
}

impl std::fmt::Debug for AppClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppClient")
            .field("base", &self.client.base_url())
            .field("appid", &self.appid)
            .finish()
    }
}

impl AppClient {
    pub fn new(client: Client, appid: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            client,
            appid: appid.into(),
            secret: secret.into(),
            source: TokenSource::Basic,
            store: Arc::new(MemoryTokenStore::default()),
            refresh: Mutex::new(()),
            max_retries: 3,
            backoff: Duration::from_millis(50),
            prevalidate: true,
        }
    }

    /// Retries after the first attempt (0 turns retrying off), and the first backoff.
    pub fn with_retries(mut self, max_retries: u32, backoff: Duration) -> Self {
        self.max_retries = max_retries;
        self.backoff = backoff;
        self
    }

    pub fn with_token_source(mut self, source: TokenSource) -> Self {
        self.source = source;
        self
    }

    /// Keeps tokens somewhere else than this process's memory.
    pub fn with_token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = store;
        self
    }

    /// Sends requests without checking them locally first.
    pub fn without_prevalidation(mut self) -> Self {
        self.prevalidate = false;
        self
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// A token that is valid for a while yet, fetching one if needed. Concurrent callers
    /// wait for a single fetch.
    pub async fn access_token(&self) -> Result<String, Error> {
        if let Some(token) = self
            .store
            .load(&self.appid)
            .await
            .filter(|t| t.fresh_for(REFRESH_MARGIN))
        {
            return Ok(token.access_token);
        }
        let _one_at_a_time = self.refresh.lock().await;
        // Whoever held the lock before may have fetched one already.
        if let Some(token) = self
            .store
            .load(&self.appid)
            .await
            .filter(|t| t.fresh_for(REFRESH_MARGIN))
        {
            return Ok(token.access_token);
        }
        let fresh = match self.source {
            TokenSource::Basic => self.client.token(&self.appid, &self.secret).await?,
            TokenSource::Stable => {
                self.client
                    .stable_token(&self.appid, &self.secret, false)
                    .await?
            }
        };
        let token = fresh.access_token.clone();
        self.store
            .save(
                &self.appid,
                CachedToken::new(fresh.access_token, fresh.expires_in),
            )
            .await;
        Ok(token)
    }

    /// POSTs `body` to a WeChat API path with the app's token: pre-validated, retried.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Decode(e.to_string()))?;
        if self.prevalidate
            && let Some(rejection) = prevalidate::check(path, &self.appid, &bytes)
        {
            return Err(Error::PreValidation {
                code: rejection.code,
                message: rejection.message.into_owned(),
            });
        }
        let body: Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))?;
        let mut attempt = 0;
        loop {
            let result = match self.access_token().await {
                Ok(token) => {
                    let result = self.client.post(path, &token, &body).await;
                    if is_token_error(&result) {
                        self.store.expire(&self.appid, &token).await;
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

    async fn ok(&self, path: &str, body: &impl Serialize) -> Result<(), Error> {
        self.post::<EnvelopeOut>(path, body).await.map(drop)
    }

    pub async fn upload_shopping_info(&self, body: &UploadShoppingInfoIn) -> Result<(), Error> {
        self.ok("/user-order/orders", body).await
    }

    pub async fn upload_combined_shopping_info(
        &self,
        body: &UploadCombinedShoppingInfoIn,
    ) -> Result<(), Error> {
        self.ok("/user-order/combine-orders", body).await
    }

    pub async fn upload_shipping_info(&self, body: &UploadShippingInfoIn) -> Result<(), Error> {
        self.ok("/user-order/orders/shippings", body).await
    }

    pub async fn upload_combined_shipping_info(
        &self,
        body: &UploadCombinedShippingInfoIn,
    ) -> Result<(), Error> {
        self.ok("/user-order/combine-orders/shippings", body).await
    }

    pub async fn verify(&self, body: &VerifyIn) -> Result<VerifyResult, Error> {
        let answer: VerifyOut = self.post("/user-order/shoppinginfo/verify", body).await?;
        Ok(answer.verify_result)
    }

    /// `orders-permission/open`.
    pub async fn open_permission(&self) -> Result<(), Error> {
        self.ok(
            "/user-order/orders-permission/open",
            &serde_json::Map::new(),
        )
        .await
    }

    /// `orders-permission/confirm`; answers the previous review's result.
    pub async fn confirm_permission(&self) -> Result<String, Error> {
        let answer: PermissionConfirmOut = self
            .post(
                "/user-order/orders-permission/confirm",
                &serde_json::Map::new(),
            )
            .await?;
        Ok(answer.last_result)
    }

    /// `/wxa/sec/order/set_msg_jump_path`: the page the payer's confirm-receipt message
    /// opens (`None`: WeChat's own).
    pub async fn set_msg_jump_path(&self, path: Option<&str>) -> Result<(), Error> {
        let body = SetMsgJumpPathIn {
            path: path.map(str::to_owned),
        };
        self.ok("/wxa/sec/order/set_msg_jump_path", &body).await
    }

    /// `/wxa/sec/order/upload_shipping_info`: how a paid order is shipped.
    pub async fn upload_order_shipping(&self, body: &UploadShippingIn) -> Result<(), Error> {
        self.ok("/wxa/sec/order/upload_shipping_info", body).await
    }

    /// `/wxa/sec/order/upload_combined_shipping_info`: a combined payment's sub-orders,
    /// all or none.
    pub async fn upload_combined_order_shipping(
        &self,
        body: &UploadCombinedShippingIn,
    ) -> Result<(), Error> {
        self.ok("/wxa/sec/order/upload_combined_shipping_info", body)
            .await
    }

    /// `/wxa/sec/order/get_order`: an order by transaction_id, or merchant_id with
    /// merchant_trade_no.
    pub async fn get_order(&self, key: &PaymentRefIn) -> Result<OrderOut, Error> {
        let answer: GetOrderOut = self.post("/wxa/sec/order/get_order", key).await?;
        Ok(answer.order)
    }

    /// `/wxa/sec/order/get_order_list`: a page of the app's orders; pass the answer's
    /// `last_index` back for the next.
    pub async fn get_order_list(&self, filter: &OrderListIn) -> Result<OrderListOut, Error> {
        self.post("/wxa/sec/order/get_order_list", filter).await
    }

    /// `/wxa/sec/order/notify_confirm_receive`: remind the payer of a delivered courier
    /// order to confirm receipt (once per order).
    pub async fn notify_confirm_receive(
        &self,
        key: &PaymentRefIn,
        received_time: i64,
    ) -> Result<(), Error> {
        let body = NotifyConfirmReceiveIn {
            payment: key.clone(),
            received_time: Some(received_time),
        };
        self.ok("/wxa/sec/order/notify_confirm_receive", &body)
            .await
    }

    /// `/wxa/sec/order/opspecialorder`: report an order still to ship as a pre-sale
    /// (`kind` 1, shipping due by `delay_to`) or a test order (`kind` 2).
    pub async fn op_special_order(
        &self,
        order_id: &str,
        kind: i64,
        delay_to: Option<i64>,
    ) -> Result<(), Error> {
        let body = OpSpecialOrderIn {
            order_id: Some(order_id.to_owned()),
            kind: Some(kind),
            delay_to,
        };
        self.ok("/wxa/sec/order/opspecialorder", &body).await
    }

    /// `/wxa/sec/order/is_trade_managed` for this app.
    pub async fn is_trade_managed(&self) -> Result<bool, Error> {
        let answer: IsTradeManagedOut = self
            .post("/wxa/sec/order/is_trade_managed", &self.appid_body())
            .await?;
        Ok(answer.is_trade_managed)
    }

    /// `/wxa/sec/order/is_trade_management_confirmation_completed` for this app.
    pub async fn is_trade_management_confirmation_completed(&self) -> Result<bool, Error> {
        let answer: ConfirmationCompletedOut = self
            .post(
                "/wxa/sec/order/is_trade_management_confirmation_completed",
                &self.appid_body(),
            )
            .await?;
        Ok(answer.completed)
    }

    /// `get_delivery_list`: the carriers and their codes.
    pub async fn get_delivery_list(&self) -> Result<Vec<DeliveryOut>, Error> {
        let answer: DeliveryListOut = self
            .post(
                "/cgi-bin/express/delivery/open_msg/get_delivery_list",
                &DeliveryListIn {},
            )
            .await?;
        Ok(answer.delivery_list)
    }

    fn appid_body(&self) -> AppidIn {
        AppidIn {
            appid: Some(self.appid.clone()),
        }
    }

    /// `openapi/rid/get`: the journaled request and response of one of this app's calls.
    pub async fn rid_get(&self, rid: &str) -> Result<RidRequestOut, Error> {
        let body = RidGetIn {
            rid: Some(rid.to_owned()),
        };
        let answer: RidGetOut = self.post("/cgi-bin/openapi/rid/get", &body).await?;
        Ok(answer.request)
    }
}

fn is_token_error<T>(result: &Result<T, Error>) -> bool {
    matches!(
        result.as_ref().err().and_then(Error::code),
        Some(ErrCode::INVALID_CREDENTIAL | ErrCode::ACCESS_TOKEN_EXPIRED)
    )
}
