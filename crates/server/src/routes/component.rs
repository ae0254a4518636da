//! Third-party platform tokens (SPEC §3.3): the component_access_token, redeeming an
//! authorization code, and refreshing an authorizer_access_token.

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use userorder_model::ErrCode;
use userorder_model::wire::{
    AuthorizationInfoOut, AuthorizerTokenIn, AuthorizerTokenOut, ComponentTokenIn,
    ComponentTokenOut, FuncInfoOut, FuncscopeCategoryOut, QueryAuthIn, QueryAuthOut,
};
use userorder_store::{Authorization, NewToken, TokenKind, TokenRecord};

use super::token::TOKEN_LIFETIME;
use crate::clock;
use crate::error::ApiError;
use crate::extract::{Journaled, WeChatBody, query_param, scripted_fault, token_problem};
use crate::secrets::{mint_token, same, secret_hash};
use crate::state::AppState;

fn new_token(appid: &str, kind: TokenKind, component: Option<&str>, now: i64) -> NewToken {
    NewToken {
        token: mint_token(),
        appid: appid.to_owned(),
        kind,
        issued_at: now,
        expires_at: now + TOKEN_LIFETIME,
        forced: false,
        component_appid: component.map(str::to_owned),
    }
}

pub async fn component_token(
    State(state): State<AppState>,
    journaled: Journaled,
    WeChatBody(body): WeChatBody<ComponentTokenIn>,
) -> Result<Json<ComponentTokenOut>, ApiError> {
    let appid = body
        .component_appid
        .filter(|a| !a.is_empty())
        .ok_or(ErrCode::APPID_MISSING)?;
    let component = state
        .store
        .component(&appid)
        .await?
        .ok_or(ErrCode::INVALID_COMPONENT)?;
    let secret = body
        .component_appsecret
        .filter(|s| !s.is_empty())
        .ok_or(ErrCode::APPSECRET_MISSING)?;
    if !same(
        secret_hash(&secret).as_bytes(),
        component.secret_hash.as_bytes(),
    ) {
        return Err(ErrCode::INVALID_APPSECRET.into());
    }
    journaled.note_appid(&appid);
    scripted_fault(&state, &appid, "/cgi-bin/component/api_component_token").await?;
    let ticket = body.component_verify_ticket.unwrap_or_default();
    if !same(ticket.as_bytes(), component.verify_ticket.as_bytes()) {
        return Err(ErrCode::COMPONENT_TICKET_INVALID.into());
    }
    let now = clock::now(state.store.as_ref()).await?;
    let record = state
        .store
        .issue_token(&new_token(&appid, TokenKind::Component, None, now))
        .await?;
    Ok(Json(ComponentTokenOut {
        component_access_token: record.token,
        expires_in: record.expires_at - now,
    }))
}

/// The component a `component_access_token` query parameter stands for, after the same
/// checks as an access_token (41001 → 40001 → 42001), and its match with the body's
/// component_appid (61011).
async fn component_caller(
    state: &AppState,
    parts: &Parts,
    journaled: &Journaled,
    body_component: Option<&str>,
    path: &str,
) -> Result<(TokenRecord, i64), ApiError> {
    let token =
        query_param(parts, "component_access_token").ok_or(ErrCode::ACCESS_TOKEN_MISSING)?;
    let now = clock::now(state.store.as_ref()).await?;
    let record = state
        .store
        .token(&token)
        .await?
        .filter(|r| r.kind == TokenKind::Component);
    if let Some(record) = &record {
        journaled.note_appid(&record.appid);
        scripted_fault(state, &record.appid, path).await?;
    }
    if let Some(code) = token_problem(record.as_ref(), now) {
        return Err(code.into());
    }
    let record = record.ok_or(ErrCode::INVALID_CREDENTIAL)?;
    if body_component != Some(record.appid.as_str()) {
        return Err(ErrCode::INVALID_COMPONENT.into());
    }
    Ok((record, now))
}

fn func_info(authorization: &Authorization) -> Vec<FuncInfoOut> {
    authorization
        .funcscope
        .iter()
        .map(|&id| FuncInfoOut {
            funcscope_category: FuncscopeCategoryOut { id },
        })
        .collect()
}

pub async fn query_auth(
    State(state): State<AppState>,
    journaled: Journaled,
    parts: Parts,
    WeChatBody(body): WeChatBody<QueryAuthIn>,
) -> Result<Json<QueryAuthOut>, ApiError> {
    let path = "/cgi-bin/component/api_query_auth";
    let (component, now) = component_caller(
        &state,
        &parts,
        &journaled,
        body.component_appid.as_deref(),
        path,
    )
    .await?;
    let code = body.authorization_code.unwrap_or_default();
    let authorization = state
        .store
        .redeem_authorization_code(&component.appid, &code, now)
        .await?
        .ok_or(ErrCode::AUTHORIZATION_CODE_INVALID)?;
    let record = state
        .store
        .issue_token(&new_token(
            &authorization.authorizer_appid,
            TokenKind::Authorizer,
            Some(&component.appid),
            now,
        ))
        .await?;
    Ok(Json(QueryAuthOut {
        authorization_info: AuthorizationInfoOut {
            func_info: func_info(&authorization),
            authorizer_appid: authorization.authorizer_appid,
            authorizer_access_token: record.token,
            expires_in: record.expires_at - now,
            authorizer_refresh_token: authorization.refresh_token,
        },
    }))
}

pub async fn authorizer_token(
    State(state): State<AppState>,
    journaled: Journaled,
    parts: Parts,
    WeChatBody(body): WeChatBody<AuthorizerTokenIn>,
) -> Result<Json<AuthorizerTokenOut>, ApiError> {
    let path = "/cgi-bin/component/api_authorizer_token";
    let (component, now) = component_caller(
        &state,
        &parts,
        &journaled,
        body.component_appid.as_deref(),
        path,
    )
    .await?;
    let authorizer = body
        .authorizer_appid
        .filter(|a| !a.is_empty())
        .ok_or(ErrCode::APPID_MISSING)?;
    let refresh = body.authorizer_refresh_token.unwrap_or_default();
    // Refresh tokens stay valid until a re-authorization replaces them.
    let authorization = state
        .store
        .authorization(&component.appid, &authorizer)
        .await?
        .filter(|a| same(a.refresh_token.as_bytes(), refresh.as_bytes()))
        .ok_or(ErrCode::REFRESH_TOKEN_INVALID)?;
    let record = state
        .store
        .issue_token(&new_token(
            &authorizer,
            TokenKind::Authorizer,
            Some(&component.appid),
            now,
        ))
        .await?;
    Ok(Json(AuthorizerTokenOut {
        authorizer_access_token: record.token,
        expires_in: record.expires_at - now,
        authorizer_refresh_token: authorization.refresh_token,
    }))
}
