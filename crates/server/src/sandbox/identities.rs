//! Apps (with secrets and quotas), merchants bound to apps, and openids (SPEC §2).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use userorder_model::sandbox::{
    AppOut, AppsOut, Merchant, MerchantsOut, NewAppIn, NewAppOut, NewMerchantIn, NewMerchantOut,
    NewOpenIdIn, NewOpenIdOut, ProductState, Quota, QuotaOut,
};
use userorder_store::{App, Created, NewApp};

use super::SandboxJson;
use crate::clock;
use crate::error::SandboxError;
use crate::secrets::secret_hash;
use crate::secrets::{DIGITS, LOWER_HEX, random_of};
use crate::state::AppState;

/// A quota as asked for: no limit may be negative.
fn checked_quota(quota: Quota) -> Result<Quota, SandboxError> {
    for (name, value) in [
        ("daily", quota.daily),
        ("per_minute", quota.per_minute),
        ("token_daily", quota.token_daily),
    ] {
        if value.is_some_and(|v| v < 0) {
            return Err(SandboxError::BadRequest(format!(
                "quota.{name} must not be negative"
            )));
        }
    }
    Ok(quota)
}

/// An app as the sandbox lists it, with the product state in force at `now`.
fn app_out(app: App, now: i64) -> AppOut {
    AppOut {
        product_state: app.state_at(now),
        appid: app.appid,
        name: app.name,
        in_open_scope: app.in_open_scope,
        quota: app.quota,
        created_at: app.created_at,
        review_due_at: app.review_due_at,
        last_review_result: app.last_review_result,
        msg_jump_path: app.msg_jump_path,
    }
}

pub fn is_appid(s: &str) -> bool {
    s.len() == 18 && s.starts_with("wx") && s[2..].bytes().all(|b| LOWER_HEX.contains(&b))
}

pub async fn create_app(state: &AppState, raw: NewAppIn) -> Result<NewAppOut, SandboxError> {
    let appid = raw
        .appid
        .unwrap_or_else(|| format!("wx{}", random_of(LOWER_HEX, 16)));
    if !is_appid(&appid) {
        return Err(SandboxError::BadRequest(
            "appid must be wx followed by 16 lowercase hex digits".into(),
        ));
    }
    let secret = raw.secret.unwrap_or_else(|| random_of(LOWER_HEX, 32));
    if secret.len() != 32 || !secret.bytes().all(|b| LOWER_HEX.contains(&b)) {
        return Err(SandboxError::BadRequest(
            "secret must be 32 lowercase hex digits".into(),
        ));
    }
    let product_state = match raw.product_state.as_deref() {
        None => ProductState::Approved,
        Some(s) => ProductState::parse(s).ok_or_else(|| {
            SandboxError::BadRequest(
                "product_state must be NOT_OPEN, OPEN, IN_REVIEW or APPROVED".into(),
            )
        })?,
    };
    let name = raw.name.unwrap_or_else(|| format!("Sandbox app {appid}"));
    let created = state
        .store
        .create_app(&NewApp {
            appid: appid.clone(),
            secret_hash: secret_hash(&secret),
            name: name.clone(),
            product_state,
            in_open_scope: raw.in_open_scope.unwrap_or(true),
            quota: checked_quota(raw.quota.unwrap_or_default())?,
            created_at: clock::now(state.store.as_ref()).await?,
        })
        .await?;
    if created == Created::Conflict {
        return Err(SandboxError::Conflict(format!("app {appid} exists")));
    }
    Ok(NewAppOut {
        appid,
        secret,
        name,
        product_state,
    })
}

pub async fn post_app(
    State(state): State<AppState>,
    SandboxJson(raw): SandboxJson<NewAppIn>,
) -> Result<(StatusCode, Json<NewAppOut>), SandboxError> {
    Ok((StatusCode::CREATED, Json(create_app(&state, raw).await?)))
}

/// Apps with the product state in force now (a due review has completed).
pub async fn get_apps(State(state): State<AppState>) -> Result<Json<AppsOut>, SandboxError> {
    let now = clock::now(state.store.as_ref()).await?;
    let apps = state.store.apps().await?;
    Ok(Json(AppsOut {
        apps: apps.into_iter().map(|app| app_out(app, now)).collect(),
    }))
}

pub async fn put_quota(
    State(state): State<AppState>,
    Path(appid): Path<String>,
    SandboxJson(raw): SandboxJson<Quota>,
) -> Result<Json<QuotaOut>, SandboxError> {
    let quota = checked_quota(raw)?;
    if !state.store.set_app_quota(&appid, &quota).await? {
        return Err(SandboxError::NotFound(format!("no app {appid}")));
    }
    Ok(Json(QuotaOut { appid, quota }))
}

pub async fn create_merchant(
    state: &AppState,
    raw: NewMerchantIn,
) -> Result<Merchant, SandboxError> {
    let mchid = raw
        .mchid
        .unwrap_or_else(|| format!("1{}", random_of(DIGITS, 9)));
    if mchid.len() != 10 || !mchid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SandboxError::BadRequest("mchid must be 10 digits".into()));
    }
    if raw.appids.is_empty() {
        return Err(SandboxError::BadRequest(
            "appids must name at least one app".into(),
        ));
    }
    for appid in &raw.appids {
        if state.store.app(appid).await?.is_none() {
            return Err(SandboxError::BadRequest(format!("no app {appid}")));
        }
    }
    let now = clock::now(state.store.as_ref()).await?;
    if state
        .store
        .create_merchant(&mchid, &raw.appids, now)
        .await?
        == Created::Conflict
    {
        return Err(SandboxError::Conflict(format!("merchant {mchid} exists")));
    }
    Ok(Merchant {
        mchid,
        appids: raw.appids,
    })
}

/// Creates a merchant; with `apiv3`, its v3 credentials too — checked before anything is
/// stored.
pub async fn post_merchant(
    State(state): State<AppState>,
    SandboxJson(mut raw): SandboxJson<NewMerchantIn>,
) -> Result<(StatusCode, Json<NewMerchantOut>), SandboxError> {
    let Some(settings) = raw.apiv3.take() else {
        let merchant = create_merchant(&state, raw).await?;
        return Ok((
            StatusCode::CREATED,
            Json(NewMerchantOut {
                merchant,
                apiv3: None,
            }),
        ));
    };
    let mchid = raw
        .mchid
        .get_or_insert_with(|| format!("1{}", random_of(DIGITS, 9)))
        .clone();
    let now = clock::now(state.store.as_ref()).await?;
    let (record, generated) = super::apiv3::configured(&mchid, None, settings, now).await?;
    let merchant = create_merchant(&state, raw).await?;
    state.store.put_apiv3(&mchid, &record, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewMerchantOut {
            merchant,
            apiv3: Some(super::apiv3::shown(&mchid, &record, generated)),
        }),
    ))
}

/// The first of `mchids` that names no merchant, if any (one read of the merchants).
pub async fn first_unknown_merchant<'m>(
    state: &AppState,
    mchids: &[&'m str],
) -> Result<Option<&'m str>, userorder_store::StoreError> {
    let merchants = state.store.merchants().await?;
    Ok(mchids
        .iter()
        .copied()
        .find(|mchid| !merchants.iter().any(|m| m.mchid == *mchid)))
}

pub async fn get_merchants(
    State(state): State<AppState>,
) -> Result<Json<MerchantsOut>, SandboxError> {
    Ok(Json(MerchantsOut {
        merchants: state.store.merchants().await?,
    }))
}

/// Mints the openid of a user under an app. user_id 0 is allowed on purpose: it is the
/// openid that answers 268457014.
pub async fn create_openid(
    state: &AppState,
    appid: &str,
    raw: NewOpenIdIn,
) -> Result<NewOpenIdOut, SandboxError> {
    if state.store.app(appid).await?.is_none() {
        return Err(SandboxError::NotFound(format!("no app {appid}")));
    }
    // Below 2^53 so that every JSON client reads the id back exactly.
    let user_id = raw
        .user_id
        .unwrap_or_else(|| rand::Rng::gen_range(&mut rand::thread_rng(), 1..(1u64 << 53)));
    Ok(NewOpenIdOut {
        openid: state.openids.encode(appid, user_id),
        user_id,
    })
}

pub async fn post_openid(
    State(state): State<AppState>,
    Path(appid): Path<String>,
    SandboxJson(raw): SandboxJson<NewOpenIdIn>,
) -> Result<(StatusCode, Json<NewOpenIdOut>), SandboxError> {
    Ok((
        StatusCode::CREATED,
        Json(create_openid(&state, &appid, raw).await?),
    ))
}
