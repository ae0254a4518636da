//! An app's order shipping management settings (SPEC §10.12): whether the gated APIs
//! answer at all, the ingest delay, auto-confirm days and the settlement delay.

use axum::Json;
use axum::extract::{Path, State};
use userorder_model::sandbox::{AutoConfirmDays, TradeManagement, TradeManagementIn};
use userorder_store::App;

use super::SandboxJson;
use crate::error::SandboxError;
use crate::state::AppState;

/// The longest delay or period a setting takes: a year of seconds, 3650 days.
const MAX_SECONDS: i64 = 365 * 86_400;
const MAX_DAYS: i64 = 3650;

async fn app(state: &AppState, appid: &str) -> Result<App, SandboxError> {
    state
        .store
        .app(appid)
        .await?
        .ok_or_else(|| SandboxError::NotFound(format!("no app {appid}")))
}

pub async fn get_trade_management(
    State(state): State<AppState>,
    Path(appid): Path<String>,
) -> Result<Json<TradeManagement>, SandboxError> {
    Ok(Json(app(&state, &appid).await?.trade))
}

/// A value within its range, or a 400 naming the field.
fn within(name: &str, value: Option<i64>, max: i64, current: i64) -> Result<i64, SandboxError> {
    match value {
        None => Ok(current),
        Some(v) if (0..=max).contains(&v) => Ok(v),
        Some(v) => Err(SandboxError::BadRequest(format!(
            "{name} is {v}; must be 0 to {max}"
        ))),
    }
}

/// Any subset of the settings; the rest keep their values.
pub async fn put_trade_management(
    State(state): State<AppState>,
    Path(appid): Path<String>,
    SandboxJson(raw): SandboxJson<TradeManagementIn>,
) -> Result<Json<TradeManagement>, SandboxError> {
    let current = app(&state, &appid).await?.trade;
    let days = raw.auto_confirm_days.unwrap_or_default();
    let trade = TradeManagement {
        trade_managed: raw.trade_managed.unwrap_or(current.trade_managed),
        confirmation_completed: raw
            .confirmation_completed
            .unwrap_or(current.confirmation_completed),
        ingest_delay_s: within(
            "ingest_delay_s",
            raw.ingest_delay_s,
            MAX_SECONDS,
            current.ingest_delay_s,
        )?,
        auto_confirm_days: AutoConfirmDays {
            courier: within(
                "auto_confirm_days.courier",
                days.courier,
                MAX_DAYS,
                current.auto_confirm_days.courier,
            )?,
            other: within(
                "auto_confirm_days.other",
                days.other,
                MAX_DAYS,
                current.auto_confirm_days.other,
            )?,
        },
        settle_delay_s: within(
            "settle_delay_s",
            raw.settle_delay_s,
            MAX_SECONDS,
            current.settle_delay_s,
        )?,
    };
    if !state.store.set_trade_management(&appid, &trade).await? {
        return Err(SandboxError::NotFound(format!("no app {appid}")));
    }
    Ok(Json(trade))
}
