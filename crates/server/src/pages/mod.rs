//! Server-rendered pages: the payer's bill (`/bill`) and the merchant console (`/console`).
//! maud escapes every interpolated value, so item names and descriptions — text the
//! merchant controls — cannot inject markup. No scripts, no external assets.

mod bill;
mod console;
mod pay;
mod session;
mod trade;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use userorder_model::shopping::{JumpLink, LogisticsType, OrderKey};
use userorder_store::StoreError;

use crate::clock;
use crate::error::StoreFault;
use crate::state::AppState;

pub use session::{Admin, Payer, Session};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/static/style.css", get(style))
        .route("/bill", get(bill::list))
        .route("/bill/order", get(bill::order))
        .route("/bill/login", get(bill::login_form).post(bill::login))
        .route("/bill/logout", post(bill::logout))
        .route("/bill/pay", get(pay::show).post(pay::pay))
        .route(
            "/bill/payments/{transaction_id}/confirm-receipt",
            post(trade::confirm_receipt),
        )
        .route("/console", get(console::overview))
        .route("/console/order", get(console::order))
        .route(
            "/console/login",
            get(console::login_form).post(console::login),
        )
        .route("/console/logout", post(console::logout))
        .route("/console/payments/{transaction_id}/pay", post(console::pay))
        .route("/console/merchants/{mchid}/rotate", post(console::rotate))
        .route("/console/payments/{transaction_id}", get(console::payment))
}

async fn index() -> Markup {
    page(
        "userorder",
        html! {
            header { h1 { "userorder" } }
            main {
                div.card {
                    p { "WeChat's Shopping Order API, self-hosted, with a sandbox." }
                    p { a href="/bill/login" { "The payer's bill" } " · " a href="/console/login" { "The merchant console" } }
                }
            }
        },
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
}

/// Why a page cannot be shown.
#[derive(Debug)]
pub enum PageError {
    NotFound,
    /// Not signed in (or not as someone who may see this): go to this login page.
    Login(&'static str),
    Store(StoreError),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                page(
                    "Not found",
                    html! { p { "There is nothing here, or it is not yours to see." } },
                ),
            )
                .into_response(),
            Self::Login(to) => Redirect::to(to).into_response(),
            Self::Store(e) => StoreFault::of(&e).on((
                StatusCode::INTERNAL_SERVER_ERROR,
                page(
                    "Unavailable",
                    html! { p { "The store is unavailable; try again." } },
                ),
            )
                .into_response()),
        }
    }
}

/// The session a request carries, if its signature and age are good.
pub fn session_of(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    session::decode(&state.session_key, headers, clock::real_now())
}

/// A `Set-Cookie` value for a new session.
pub fn session_cookie(state: &AppState, session: &Session) -> axum::http::HeaderValue {
    session::set_cookie(&session::encode(
        &state.session_key,
        session,
        clock::real_now(),
    ))
}

pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · userorder" }
                link rel="stylesheet" href="/static/style.css";
            }
            body { (body) }
        }
    }
}

/// Fen as yuan: `¥8,288.00` without the grouping, as WeChat's bill shows it.
pub fn yuan(fen: i128) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.abs();
    format!("{sign}¥{}.{:02}", fen / 100, fen % 100)
}

pub fn logistics(kind: LogisticsType) -> &'static str {
    match kind {
        LogisticsType::PhysicalLogistics => "快递 courier",
        LogisticsType::LocationBasedLogistics => "同城配送 same-city",
        LogisticsType::VirtualGoods => "虚拟商品 no delivery",
    }
}

/// A jump link: a URL as a link; a Mini Program as its appid and path.
pub fn jump_link(link: &JumpLink, label: &str) -> Markup {
    match link {
        JumpLink::Url { url } => {
            html! { a href=(url) rel="noreferrer noopener" target="_blank" { (label) } }
        }
        JumpLink::MiniProgram { appid, path } => {
            html! { span.muted { (label) ": Mini Program " (appid) " " (path) } }
        }
    }
}

/// China Standard Time, the zone WeChat's payers and merchants live in (no daylight saving).
const CHINA: time::UtcOffset = time::macros::offset!(+8);
const SHOWN: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// A moment as the pages show it: China time, the zone named.
pub fn unix_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.to_offset(CHINA).format(SHOWN).ok())
        .map_or_else(|| clock::rfc3339(unix), |text| format!("{text} (UTC+8)"))
}

/// An RFC 3339 time the merchant sent (any offset), shown in China time; as sent if it
/// does not parse.
pub fn sent_time(rfc3339: &str) -> String {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map_or_else(|_| rfc3339.to_owned(), |at| unix_time(at.unix_timestamp()))
}

/// "1 item", "2 items".
pub fn items(n: usize) -> String {
    if n == 1 {
        "1 item".to_owned()
    } else {
        format!("{n} items")
    }
}

/// The query string that names an order on the detail pages.
pub fn key_query(appid: &str, key: &OrderKey) -> String {
    let (t, a, b) = match key {
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => (1, mchid.as_str(), out_trade_no.as_str()),
        OrderKey::WxPay { transaction_id } => (2, transaction_id.as_str(), ""),
    };
    format!(
        "appid={}&t={t}&a={}&b={}",
        encode(appid),
        encode(a),
        encode(b)
    )
}

/// The order key a detail page's query names.
pub fn key_from(t: u8, a: String, b: String) -> Option<OrderKey> {
    match t {
        1 => Some(OrderKey::Merchant {
            mchid: a,
            out_trade_no: b,
        }),
        2 => Some(OrderKey::WxPay { transaction_id: a }),
        _ => None,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, serde::Deserialize)]
pub struct KeyQuery {
    pub appid: String,
    pub t: u8,
    pub a: String,
    #[serde(default)]
    pub b: String,
}
