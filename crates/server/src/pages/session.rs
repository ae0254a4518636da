//! Signed session cookies for the pages: a payer's (appid + openid) or the admin's. The
//! signature key lives in the store, so sessions survive restarts and work on every process.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

use super::PageError;
use crate::secrets::{mac, same};
use crate::state::AppState;

pub const COOKIE: &str = "uo_session";
/// Sessions last a day of real time.
const LIFETIME: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    Payer { appid: String, openid: String },
    Admin,
}

/// The cookie value: `kind:appid:openid:expires:signature` (appids and openids never hold
/// a `:`).
pub fn encode(key: &[u8; 32], session: &Session, now: i64) -> String {
    let payload = match session {
        Session::Payer { appid, openid } => format!("payer:{appid}:{openid}:{}", now + LIFETIME),
        Session::Admin => format!("admin:::{}", now + LIFETIME),
    };
    format!("{payload}:{}", mac(key, &payload))
}

pub fn decode(key: &[u8; 32], headers: &HeaderMap, now: i64) -> Option<Session> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&format!("{COOKIE}=")))?;
    let (payload, signature) = value.rsplit_once(':')?;
    if !same(mac(key, payload).as_bytes(), signature.as_bytes()) {
        return None;
    }
    let mut parts = payload.split(':');
    let (kind, appid, openid, expires) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if expires.parse::<i64>().ok()? < now {
        return None;
    }
    match kind {
        "payer" => Some(Session::Payer {
            appid: appid.to_owned(),
            openid: openid.to_owned(),
        }),
        "admin" => Some(Session::Admin),
        _ => None,
    }
}

/// The console's extractor: the admin is signed in, or the request goes to the login page.
/// A console handler takes it as an argument, so none can forget the check.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        match super::session_of(state, &parts.headers) {
            Some(Session::Admin) => Ok(Admin),
            _ => Err(PageError::Login("/console/login")),
        }
    }
}

/// The bill's extractor: whose bill this is. A payer signed in sees their own; the admin
/// (signed in on the console) may look as any payer.
pub enum Payer {
    Own { appid: String, openid: String },
    Admin,
}

impl FromRequestParts<AppState> for Payer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        match super::session_of(state, &parts.headers) {
            Some(Session::Payer { appid, openid }) => Ok(Payer::Own { appid, openid }),
            Some(Session::Admin) => Ok(Payer::Admin),
            None => Err(PageError::Login("/bill/login")),
        }
    }
}

pub fn set_cookie(value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("uo_session=; Path=/"))
}

pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("uo_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
}
