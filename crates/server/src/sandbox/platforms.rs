//! Third-party platforms in the sandbox (SPEC §8): components with their verify tickets,
//! and authorizations of apps to components with permission sets.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use userorder_model::sandbox::{
    NewAuthorizationIn, NewAuthorizationOut, NewComponentIn, NewComponentOut, ProductState, Quota,
};
use userorder_store::{Authorization, Component, Created, NewApp};

use super::SandboxJson;
use crate::clock;
use crate::error::SandboxError;
use crate::secrets::{LOWER_HEX, random_of};
use crate::secrets::{mint_token, secret_hash};
use crate::state::AppState;

/// Seconds an authorization code can be redeemed.
const CODE_LIFETIME: i64 = 3600;

pub async fn create_component(
    state: &AppState,
    raw: NewComponentIn,
) -> Result<NewComponentOut, SandboxError> {
    let appid = raw
        .component_appid
        .unwrap_or_else(|| format!("wx{}", random_of(LOWER_HEX, 16)));
    if !super::identities::is_appid(&appid) {
        return Err(SandboxError::BadRequest(
            "component_appid must be wx followed by 16 lowercase hex digits".into(),
        ));
    }
    let secret = raw
        .component_appsecret
        .unwrap_or_else(|| random_of(LOWER_HEX, 32));
    if secret.len() != 32 || !secret.bytes().all(|b| LOWER_HEX.contains(&b)) {
        return Err(SandboxError::BadRequest(
            "component_appsecret must be 32 lowercase hex digits".into(),
        ));
    }
    let ticket = format!("ticket@@@{}", mint_token());
    let created = state
        .store
        .create_component(&Component {
            component_appid: appid.clone(),
            secret_hash: secret_hash(&secret),
            verify_ticket: ticket.clone(),
            created_at: clock::now(state.store.as_ref()).await?,
        })
        .await?;
    if created == Created::Conflict {
        return Err(SandboxError::Conflict(format!("component {appid} exists")));
    }
    Ok(NewComponentOut {
        component_appid: appid,
        component_appsecret: secret,
        component_verify_ticket: ticket,
    })
}

pub async fn post_component(
    State(state): State<AppState>,
    SandboxJson(raw): SandboxJson<NewComponentIn>,
) -> Result<(StatusCode, Json<NewComponentOut>), SandboxError> {
    Ok((
        StatusCode::CREATED,
        Json(create_component(&state, raw).await?),
    ))
}

pub async fn authorize(
    state: &AppState,
    raw: NewAuthorizationIn,
) -> Result<NewAuthorizationOut, SandboxError> {
    if state.store.component(&raw.component_appid).await?.is_none() {
        return Err(SandboxError::NotFound(format!(
            "no component {}",
            raw.component_appid
        )));
    }
    let now = clock::now(state.store.as_ref()).await?;
    let authorizer = raw
        .authorizer_appid
        .unwrap_or_else(|| format!("wx{}", random_of(LOWER_HEX, 16)));
    if !super::identities::is_appid(&authorizer) {
        return Err(SandboxError::BadRequest(
            "authorizer_appid must be wx followed by 16 lowercase hex digits".into(),
        ));
    }
    if state.store.app(&authorizer).await?.is_none() {
        // Created here, the app has a secret nobody knows: it is used through the component.
        state
            .store
            .create_app(&NewApp {
                appid: authorizer.clone(),
                secret_hash: secret_hash(&random_of(LOWER_HEX, 32)),
                name: format!("Authorized app {authorizer}"),
                product_state: ProductState::NotOpen,
                in_open_scope: true,
                quota: Quota::default(),
                created_at: now,
            })
            .await?;
    }
    let code = format!("queryauthcode@@@{}", mint_token());
    state
        .store
        .authorize(
            &Authorization {
                component_appid: raw.component_appid,
                authorizer_appid: authorizer.clone(),
                funcscope: raw.funcscope,
                agreement_signed: raw.agreement_signed.unwrap_or(true),
                refresh_token: format!("refreshtoken@@@{}", mint_token()),
                authorized_at: now,
            },
            &code,
            now + CODE_LIFETIME,
        )
        .await?;
    Ok(NewAuthorizationOut {
        authorization_code: code,
        authorizer_appid: authorizer,
        expires_in: CODE_LIFETIME,
    })
}

pub async fn post_authorization(
    State(state): State<AppState>,
    SandboxJson(raw): SandboxJson<NewAuthorizationIn>,
) -> Result<(StatusCode, Json<NewAuthorizationOut>), SandboxError> {
    Ok((StatusCode::CREATED, Json(authorize(&state, raw).await?)))
}
