//! The merchant console, behind the admin token: apps, merchants, payments (with a Pay
//! button that runs the sandbox's own `pay`), uploads with their association, verify and
//! shipping state and every accepted version, and the request journal with a rid search.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use userorder_store::{JournalFilter, PaymentFilter, UploadFilter};

use super::bill::{order_view, verify_badge};
use super::{
    Admin, KeyQuery, PageError, Session, key_from, key_query, page, sent_time, session_cookie,
    unix_time, yuan,
};
use crate::clock;
use crate::sandbox;
use crate::secrets;
use crate::state::AppState;

fn header_bar() -> Markup {
    html! {
        header {
            h1 { "userorder console" }
            nav {
                a href="/console#apps" { "Apps" }
                a href="/console#payments" { "Payments" }
                a href="/console#uploads" { "Uploads" }
                a href="/console#events" { "Events" }
                a href="/console#journal" { "Journal" }
                form.inline method="post" action="/console/logout" { button type="submit" { "Sign out" } }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct OverviewQuery {
    pub rid: Option<String>,
}

pub async fn overview(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<OverviewQuery>,
) -> Result<Response, PageError> {
    let now = clock::now(state.store.as_ref()).await?;
    let apps = state.store.apps().await?;
    let merchants = state.store.merchants().await?;
    let mut apiv3 = Vec::with_capacity(merchants.len());
    for m in &merchants {
        apiv3.push(state.store.apiv3(&m.mchid).await?);
    }
    let payments = state
        .store
        .payments(&PaymentFilter {
            appid: None,
            limit: 100,
        })
        .await?;
    let uploads = state
        .store
        .shopping_infos(&UploadFilter {
            limit: 100,
            ..UploadFilter::default()
        })
        .await?;
    let mut shipped = Vec::with_capacity(uploads.len());
    for stored in &uploads {
        shipped.push(
            state
                .store
                .shipping_info(&stored.appid, &stored.info.order_key)
                .await?,
        );
    }
    let mut order_states = Vec::with_capacity(payments.len());
    for p in &payments {
        let states: Vec<i64> = super::trade::views_of(&state, p)
            .await?
            .iter()
            .filter_map(|v| v.sec_order.as_ref()?.order.as_ref().map(|o| o.order_state))
            .collect();
        order_states.push(states);
    }
    let events = super::trade::latest_events(&state, None).await?;
    state.journal.flush().await;
    let rid = q.rid.filter(|r| !r.is_empty());
    let journal = state
        .store
        .journal(&JournalFilter {
            appid: None,
            rid: rid.clone(),
            limit: if rid.is_some() { 1 } else { 20 },
        })
        .await?;
    let body = html! {
        (header_bar())
        main.wide {
            section #apps.card {
                h2 { "Apps" }
                table {
                    tr { th { "appid" } th { "name" } th { "product state" } th { "quota" } }
                    @for app in &apps {
                        tr {
                            td { (app.appid) } td { (app.name) } td { (app.state_at(now).as_str()) }
                            td.muted { (quota_text(&app.quota)) }
                        }
                    }
                }
            }
            section #merchants.card {
                h2 { "Merchants" }
                table {
                    tr { th { "mchid" } th { "bound appids" } th { "WeChat Pay v3" } }
                    @for (m, v3) in merchants.iter().zip(&apiv3) {
                        tr {
                            td { (m.mchid) } td { (m.appids.join(", ")) }
                            td.muted {
                                @if let Some(v3) = v3 {
                                    "platform " (v3.platform_mode) ": " (v3.signer().0)
                                    " · merchant keys "
                                    (v3.merchant_keys.iter().map(|k| k.serial_no.as_str()).collect::<Vec<_>>().join(", "))
                                    " · refunds " (v3.refunds.refund_outcome) " after " (v3.refunds.refund_delay_s) " s "
                                    form.inline method="post" action={ "/console/merchants/" (m.mchid) "/rotate" } {
                                        button type="submit" { "Rotate certificate" }
                                    }
                                } @else {
                                    "not configured"
                                }
                            }
                        }
                    }
                }
            }
            section #payments.card {
                h2 { "Payments" }
                table {
                    tr { th { "transaction_id" } th { "appid" } th { "mchid · out_trade_no" } th { "amount" } th { "state" } th { "order_state" } th {} }
                    @for (p, states) in payments.iter().zip(&order_states) {
                        tr data-transaction-id=(p.keys.transaction_id) {
                            td { a href={ "/console/payments/" (p.keys.transaction_id) } { (p.keys.transaction_id) } }
                            td { (p.appid) }
                            td { (p.keys.mchid) " · " (p.keys.out_trade_no)
                                @if !p.sub_orders.is_empty() { div.muted { (p.sub_orders.len()) " sub-orders" } } }
                            td { (yuan(p.amount.into())) }
                            td.state { (p.state) }
                            td.order-state { @for s in states { span title=(super::trade::state_name(*s)) { (s) " " } } }
                            td {
                                @if !p.is_paid() {
                                    form.inline method="post" action={ "/console/payments/" (p.keys.transaction_id) "/pay" } {
                                        button type="submit" { "Pay" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section #uploads.card {
                h2 { "Uploads" }
                table {
                    tr { th { "appid" } th { "order" } th { "payer" } th { "version" } th { "verify" } th { "shipping" } }
                    @for (stored, shipping) in uploads.iter().zip(&shipped) {
                        tr.upload {
                            td { (stored.appid) }
                            td { a href={ "/console/order?" (key_query(&stored.appid, &stored.info.order_key)) } { (stored.info.order_key.to_string()) } }
                            td.muted { (stored.info.payer.openid) }
                            td { (stored.version) " · " (sent_time(stored.info.upload_time.as_str())) }
                            td.verify { (verify_badge(stored.verify_result)) }
                            td { @match shipping { Some(s) => { "v" (s.version) }, None => { "—" } } }
                        }
                    }
                }
            }
            section #events.card {
                h2 { "Events (order shipping management, newest first)" }
                (super::trade::events_table(&events[..events.len().min(50)]))
            }
            section #journal.card {
                h2 { "Request journal" }
                form method="get" action="/console#journal" {
                    input name="rid" placeholder="rid, e.g. 6745f1a0-1b2c3d4e-00000001" value=[rid.as_deref()];
                    " " button type="submit" { "Find" }
                }
                table {
                    tr { th { "rid · time" } th { "url" } th { "errcode" } th { "request → response" } }
                    @for e in &journal {
                        tr.journal {
                            td.nowrap { (e.rid) br; span.muted { (unix_time(e.invoke_time)) " · " (e.cost_in_ms) " ms" } }
                            td { (e.request_url) }
                            td { (e.errcode) }
                            td {
                                details open[rid.is_some()] {
                                    summary { (e.request_body.chars().take(80).collect::<String>()) }
                                    pre { (e.request_body) }
                                    pre { (e.response_body) }
                                }
                            }
                        }
                    }
                }
                @if rid.is_some() && journal.is_empty() { p.muted { "No such rid in the journal." } }
            }
        }
    };
    Ok(page("Console", body).into_response())
}

pub async fn order(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<KeyQuery>,
) -> Result<Response, PageError> {
    let appid = q.appid.clone();
    let key = key_from(q.t, q.a, q.b).ok_or(PageError::NotFound)?;
    let stored = state
        .store
        .shopping_info(&appid, &key)
        .await?
        .ok_or(PageError::NotFound)?;
    let shipping = state.store.shipping_info(&appid, &key).await?;
    let payment = state.store.payment_for_key(&key).await?;
    let versions = state.store.shopping_info_versions(&appid, &key).await?;
    let shipping_versions = state.store.shipping_info_versions(&appid, &key).await?;
    let body = html! {
        (header_bar())
        main.wide {
            p {
                a href="/console#uploads" { "← Uploads" } " · "
                a href={ "/bill?appid=" (appid) "&openid=" (stored.info.payer.openid) } { "the payer's bill" }
            }
            (order_view(&stored, shipping.as_ref(), payment.as_ref()))
            section.card {
                h2 { "Shopping details: " (versions.len()) " accepted versions" }
                @for v in &versions {
                    details {
                        summary { "v" (v.version) " · upload_time " (sent_time(&v.upload_time)) " · accepted " (unix_time(v.accepted_at)) }
                        pre { (serde_json::to_string_pretty(&v.info).unwrap_or_default()) }
                    }
                }
            }
            section.card {
                h2 { "Shipping: " (shipping_versions.len()) " accepted versions" }
                @for v in &shipping_versions {
                    details {
                        summary { "v" (v.version) " · upload_time " (sent_time(&v.upload_time)) " · accepted " (unix_time(v.accepted_at)) }
                        pre { (serde_json::to_string_pretty(&v.info).unwrap_or_default()) }
                    }
                }
            }
        }
    };
    Ok(page("Order", body).into_response())
}

/// A payment with its orders in order shipping management: state, shipping, reminder,
/// report, complaints, and their events.
pub async fn payment(
    _: Admin,
    State(state): State<AppState>,
    Path(transaction_id): Path<String>,
) -> Result<Response, PageError> {
    let payment = state
        .store
        .payment(&transaction_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let views = super::trade::views_of(&state, &payment).await?;
    let ids: Vec<&str> = views
        .iter()
        .map(|v| v.payment.keys.transaction_id.as_str())
        .collect();
    let events: Vec<_> = super::trade::latest_events(&state, Some(&payment.appid))
        .await?
        .into_iter()
        .filter(|e| {
            e.payload["transaction_id"]
                .as_str()
                .is_some_and(|t| ids.contains(&t))
        })
        .collect();
    let body = html! {
        (header_bar())
        main.wide {
            p { a href="/console#payments" { "← Payments" } }
            div.card {
                h2 { "Payment " (payment.keys.transaction_id) }
                p.muted { (payment.appid) " · " (payment.keys.mchid) " · " (payment.keys.out_trade_no) " · "
                    (yuan(payment.amount.into())) " · " (payment.state)
                    @if let Some(at) = payment.paid_at { " · paid " (unix_time(at)) } }
            }
            @for view in &views { (super::trade::order_card(view, None)) }
            section.card {
                h2 { "Events" }
                (super::trade::events_table(&events))
            }
        }
    };
    Ok(page("Payment", body).into_response())
}

/// A new platform certificate that signs from now, as
/// `POST /sandbox/merchants/{mchid}/apiv3/platform-certificates` makes.
pub async fn rotate(
    _: Admin,
    State(state): State<AppState>,
    Path(mchid): Path<String>,
) -> Result<Response, PageError> {
    let body = crate::sandbox::SandboxJson(userorder_model::pay_v3::RotateIn::default());
    match crate::sandbox::apiv3::post_platform_certificate(State(state), Path(mchid), body).await {
        Ok(_) => Ok(Redirect::to("/console#merchants").into_response()),
        Err(crate::error::SandboxError::Store(e)) => Err(PageError::Store(e)),
        Err(_) => Err(PageError::NotFound),
    }
}

pub async fn pay(
    _: Admin,
    State(state): State<AppState>,
    Path(transaction_id): Path<String>,
) -> Result<Response, PageError> {
    // The same operation as POST /sandbox/payments/{id}/pay, associations included.
    match sandbox::pay(&state, &transaction_id).await {
        Ok(_) => Ok(Redirect::to("/console#payments").into_response()),
        Err(crate::error::SandboxError::Store(e)) => Err(PageError::Store(e)),
        Err(_) => Err(PageError::NotFound),
    }
}

fn quota_text(quota: &userorder_store::Quota) -> String {
    let parts: Vec<String> = [
        ("daily", quota.daily),
        ("per minute", quota.per_minute),
        ("token daily", quota.token_daily),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| format!("{name} {v}")))
    .collect();
    if parts.is_empty() {
        "defaults".into()
    } else {
        parts.join(", ")
    }
}

fn login_page(error: Option<&str>) -> Markup {
    page(
        "Console sign-in",
        html! {
            header { h1 { "userorder console" } }
            main {
                div.card {
                    @if let Some(error) = error { p.badge.warn { (error) } }
                    form method="post" action="/console/login" {
                        label for="token" { "Admin token" }
                        input #token type="password" name="token" required;
                        p { button type="submit" { "Sign in" } }
                    }
                }
            }
        },
    )
}

pub async fn login_form() -> Markup {
    login_page(None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub token: String,
}

pub async fn login(
    State(state): State<AppState>,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    if !secrets::same(form.token.as_bytes(), state.admin_token.as_bytes()) {
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_page(Some("Wrong admin token.")),
        )
            .into_response());
    }
    let cookie = session_cookie(&state, &Session::Admin);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/console")).into_response())
}

pub async fn logout() -> Response {
    (
        [(header::SET_COOKIE, super::session::clear_cookie())],
        Redirect::to("/console/login"),
    )
        .into_response()
}
