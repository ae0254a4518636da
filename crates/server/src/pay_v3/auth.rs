//! Request authentication (SPEC §11.3): `Signed` is a request whose `Authorization` names a
//! merchant with v3 credentials and one of its keys, and whose signature over the request as
//! sent — method, raw target, timestamp, nonce, raw body — verifies under that key.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use userorder_model::pay_v3::{SignFailure, parse_authorization, request_message, timestamp_fresh};
use userorder_store::Apiv3Record;

use super::{V3Error, keys};
use crate::clock;
use crate::state::AppState;

/// A signed request: the merchant that signed it, its credentials, and the body as sent.
#[derive(Debug)]
pub struct Signed {
    pub mchid: String,
    pub credentials: Apiv3Record,
    pub body: Bytes,
}

impl Signed {
    /// The body as JSON (SPEC §11.5): not a JSON object, or over 1 MiB → PARAM_ERROR.
    pub fn json(&self) -> Result<serde_json::Value, V3Error> {
        userorder_model::pay_v3::params::body_json(&self.body).map_err(V3Error::param)
    }
}

fn refused(failure: SignFailure) -> V3Error {
    V3Error::new(StatusCode::UNAUTHORIZED, "SIGN_ERROR", failure.message())
}

impl FromRequest<AppState> for Signed {
    type Rejection = V3Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, V3Error> {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        // The request-target as sent: hyper keeps its percent-encoding.
        let target = request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |pq| pq.as_str().to_owned(),
        );
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| V3Error::new(StatusCode::BAD_REQUEST, "PARAM_ERROR", "请求体格式错误"))?;

        let auth = parse_authorization(&header).map_err(refused)?;
        timestamp_fresh(&auth.timestamp, clock::real_now()).map_err(refused)?;
        let credentials = state
            .store
            .apiv3(&auth.mchid)
            .await?
            .ok_or_else(|| refused(SignFailure::Merchant))?;
        let key = credentials
            .merchant_keys
            .iter()
            .find(|k| k.serial_no.eq_ignore_ascii_case(&auth.serial_no))
            .ok_or_else(|| refused(SignFailure::Serial))?;
        let message = request_message(&method, &target, &auth.timestamp, &auth.nonce_str, &body);
        let verified = keys::public_key(&key.public_key_pem)
            .is_ok_and(|public| keys::verifies(&public, &message, &auth.signature));
        if !verified {
            let error = refused(SignFailure::Signature);
            return Err(match HeaderValue::from_str(&STANDARD.encode(&message)) {
                Ok(value) => error.with_header("userorder-expected-message", value),
                Err(_) => error,
            });
        }
        // Scripted faults answer after the signature (SPEC §11.5 step 3).
        let owner = userorder_model::pay_v3::fault_owner(&auth.mchid);
        if let Some(fault) = state.store.take_fault(&owner, &path).await? {
            if fault.delay_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(fault.delay_ms as u64)).await;
            }
            let position = usize::try_from(fault.errcode - 1).unwrap_or(0);
            let (code, status, message) = userorder_model::pay_v3::FAULTS
                .get(position)
                .copied()
                .unwrap_or(userorder_model::pay_v3::FAULTS[0]);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(V3Error::new(status, code, message));
        }
        Ok(Signed {
            mchid: auth.mchid,
            credentials,
            body,
        })
    }
}
