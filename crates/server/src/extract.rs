//! Extractors for the WeChat APIs. Their order in a handler's arguments is the spec's
//! precedence (SPEC §3.4, §1): first `Caller` (41001 → 40001 → 42001 → 48001 → 61007,
//! then the quotas 45009/45011), then `WeChatBody` (44002 → 45002 → 47001).
//!
//! What an endpoint demands of its caller is in the handler's signature: `Caller<Shopping>`,
//! `Caller<Shipping>`, `Caller<TradeQuery>`, … (see [`needs`]).

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use userorder_model::body::{self, MAX_BODY_BYTES};
use userorder_model::{ErrCode, Rejection};
use userorder_store::{App, ProductState, QuotaCall, TokenKind, TokenRecord};

use crate::clock;
use crate::envelope::Scope;
use crate::error::ApiError;
use crate::state::AppState;

/// Seconds a superseded token keeps working (SPEC §3.1).
pub const SUPERSEDED_GRACE: i64 = 300;

/// What an endpoint demands of its caller beyond a valid token, as a marker type.
pub trait Needs {
    /// What the app itself must have done first (48001 otherwise).
    const GATE: Gate;
    /// Which third-party platforms may call with an authorizer_access_token.
    const AUTHORIZERS: Authorizers;
}

/// The app-level condition of a family (SPEC §7, §10.1).
pub enum Gate {
    /// `/user-order/`: the app has opened the product.
    ProductOpen,
    /// `/wxa/sec/order/`: the app is under trade management.
    TradeManaged,
    /// Nothing.
    None,
}

/// Which authorizers may call (SPEC §3.3, §10.1).
pub enum Authorizers {
    /// One holding any of these permission sets; otherwise this errcode.
    AnyOf(&'static [i64], ErrCode),
    /// Any authorizer.
    Any,
    /// None: 61007.
    Never,
}

pub mod needs {
    use userorder_model::ErrCode;

    use super::{Authorizers, Gate, Needs};

    /// The shopping APIs: an opened product; an authorizer holds set 120 or 121.
    pub struct Shopping;
    /// The shipping uploads: an opened product; an authorizer holds set 120, 121 or 142.
    pub struct Shipping;
    /// Opening the product and reading the journal: any state, any authorizer.
    pub struct Anytime;
    /// Order shipping management's gated APIs: trade management on; set 142.
    pub struct SecOrder;
    /// Order shipping management's gated APIs that no third party may call (61007).
    pub struct SecOrderNoPlatform;
    /// is_trade_managed and its sibling: no gate; set 18 or 142, else 61003.
    pub struct TradeQuery;
    /// get_delivery_list: no gate; set 45, 120, 121 or 142.
    pub struct DeliveryList;

    const DENIED: ErrCode = ErrCode::API_UNAUTHORIZED_TO_COMPONENT;

    impl Needs for Shopping {
        const GATE: Gate = Gate::ProductOpen;
        const AUTHORIZERS: Authorizers = Authorizers::AnyOf(&[120, 121], DENIED);
    }
    impl Needs for Shipping {
        const GATE: Gate = Gate::ProductOpen;
        const AUTHORIZERS: Authorizers = Authorizers::AnyOf(&[120, 121, 142], DENIED);
    }
    impl Needs for Anytime {
        const GATE: Gate = Gate::None;
        const AUTHORIZERS: Authorizers = Authorizers::Any;
    }
    impl Needs for SecOrder {
        const GATE: Gate = Gate::TradeManaged;
        const AUTHORIZERS: Authorizers = Authorizers::AnyOf(&[142], DENIED);
    }
    impl Needs for SecOrderNoPlatform {
        const GATE: Gate = Gate::TradeManaged;
        const AUTHORIZERS: Authorizers = Authorizers::Never;
    }
    impl Needs for TradeQuery {
        const GATE: Gate = Gate::None;
        const AUTHORIZERS: Authorizers =
            Authorizers::AnyOf(&[18, 142], ErrCode::COMPONENT_NOT_AUTHORIZED);
    }
    impl Needs for DeliveryList {
        const GATE: Gate = Gate::None;
        const AUTHORIZERS: Authorizers = Authorizers::AnyOf(&[45, 120, 121, 142], DENIED);
    }
}

/// The app an access_token acts for, after every token check, what the endpoint `N`
/// needs, and the quota count.
pub struct Caller<N> {
    pub app: App,
    /// The sandbox clock when the request was checked.
    pub now: i64,
    /// Set when a third-party platform calls with an authorizer_access_token.
    pub component_appid: Option<String>,
    needs: std::marker::PhantomData<N>,
}

/// Why a token does not authorize a call, or `None` when it does.
pub fn token_problem(record: Option<&TokenRecord>, now: i64) -> Option<ErrCode> {
    let Some(record) = record else {
        return Some(ErrCode::INVALID_CREDENTIAL);
    };
    let past_grace = record
        .superseded_at
        .is_some_and(|at| now >= at + SUPERSEDED_GRACE);
    if record.revoked || past_grace {
        Some(ErrCode::INVALID_CREDENTIAL)
    } else if now >= record.expires_at {
        Some(ErrCode::ACCESS_TOKEN_EXPIRED)
    } else {
        None
    }
}

/// The value of a query parameter; absent and empty are the same.
pub fn query_param(parts: &Parts, name: &str) -> Option<String> {
    let query: HashMap<String, String> = Query::try_from_uri(&parts.uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    query.get(name).filter(|v| !v.is_empty()).cloned()
}

/// Notes the acting appid for the journal.
pub fn note_appid(parts: &Parts, appid: &str) {
    Journaled(Scope::of(&parts.extensions).cloned()).note_appid(appid);
}

/// For handlers that learn the acting appid themselves (the token endpoints): lets them
/// tell the journal whose request this was.
pub struct Journaled(Option<std::sync::Arc<Scope>>);

impl Journaled {
    pub fn note_appid(&self, appid: &str) {
        if let Some(scope) = &self.0 {
            let _ = scope.appid.set(appid.to_owned());
        }
    }
}

impl FromRequestParts<AppState> for Journaled {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(Scope::of(&parts.extensions).cloned()))
    }
}

/// A scripted fault for this call (SPEC §8), answered after its delay.
pub async fn scripted_fault(state: &AppState, appid: &str, path: &str) -> Result<(), ApiError> {
    let Some(fault) = state.store.take_fault(appid, path).await? else {
        return Ok(());
    };
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms as u64)).await;
    }
    Err(Rejection::new(ErrCode(fault.errcode)).into())
}

/// Counts the call against the app's quotas: 45009 past the daily limit, 45011 past the
/// per-minute one.
pub async fn count_quota(
    state: &AppState,
    app: &App,
    api: &str,
    daily_limit: i64,
    now: i64,
) -> Result<(), ApiError> {
    let counts = state
        .store
        .count_call(&QuotaCall {
            appid: &app.appid,
            api,
            day_start: clock::day_start(now),
            minute_start: clock::minute_start(now),
        })
        .await?;
    let per_minute = app.quota.per_minute.unwrap_or(state.quotas.per_minute);
    if counts.day > daily_limit {
        Err(ErrCode::DAILY_QUOTA.into())
    } else if counts.minute > per_minute {
        Err(ErrCode::MINUTE_QUOTA.into())
    } else {
        Ok(())
    }
}

impl<N: Needs> FromRequestParts<AppState> for Caller<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let path = parts.uri.path().to_owned();
        let token = query_param(parts, "access_token").ok_or(ErrCode::ACCESS_TOKEN_MISSING)?;
        // The clock, the token, its app and the fault check in one read.
        let facts = state.store.call_facts(&token, &path).await?;
        let now = clock::real_now() + facts.clock_offset;
        // A component_access_token is not an access_token.
        let record = facts.token.filter(|r| r.kind != TokenKind::Component);
        if let Some(record) = &record {
            note_appid(parts, &record.appid);
            if facts.fault_queued {
                scripted_fault(state, &record.appid, &path).await?;
            }
        }
        if let Some(code) = token_problem(record.as_ref(), now) {
            return Err(code.into());
        }
        let Some(record) = record else {
            return Err(ErrCode::INVALID_CREDENTIAL.into());
        };
        let app = facts.app.ok_or(ErrCode::INVALID_CREDENTIAL)?;
        let gated = match N::GATE {
            Gate::ProductOpen => app.state_at(now) == ProductState::NotOpen,
            Gate::TradeManaged => !app.trade.trade_managed,
            Gate::None => false,
        };
        if gated {
            return Err(ErrCode::API_UNAUTHORIZED.into());
        }
        if let Some(component) = &record.component_appid {
            // The authorization as it stands now: re-authorization can narrow it.
            let authorization = state
                .store
                .authorization(component, &app.appid)
                .await?
                .ok_or(ErrCode::INVALID_CREDENTIAL)?;
            match N::AUTHORIZERS {
                Authorizers::Any => {}
                Authorizers::Never => {
                    return Err(ErrCode::API_UNAUTHORIZED_TO_COMPONENT.into());
                }
                Authorizers::AnyOf(sets, denied) => {
                    if !sets.iter().any(|set| authorization.funcscope.contains(set)) {
                        return Err(denied.into());
                    }
                }
            }
        }
        let daily = app.quota.daily.unwrap_or(state.quotas.daily);
        count_quota(state, &app, &path, daily, now).await?;
        Ok(Caller {
            app,
            now,
            component_appid: record.component_appid,
            needs: std::marker::PhantomData,
        })
    }
}

/// A POST body parsed into a lenient wire struct, whatever the Content-Type says.
pub struct WeChatBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for WeChatBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &AppState) -> Result<Self, ApiError> {
        let scope = Scope::of(request.extensions()).cloned();
        // One byte past the limit is enough to know the body is too large.
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES + 1)
            .await
            .map_err(|_| ErrCode::CONTENT_SIZE_OUT_OF_LIMIT)?;
        if let Some(scope) = scope {
            let _ = scope.body.set(bytes.clone());
        }
        Ok(Self(body::parse(&bytes)?))
    }
}
