//! The payer's bill (SPEC: "Me → Services → Wallet → Bill"): a sandbox login picks an app
//! and an openid; the list shows that payer's associated orders newest first, and an order
//! page shows what the merchant uploaded — items, totals, links, logistics.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use userorder_model::association::VerifyResult;
use userorder_model::shipping::OrderShipping;
use userorder_model::shopping::{Details, Item, JumpLink, LogisticsType, OrderKey};
use userorder_model::validate::OpenIdDecoder;
use userorder_store::{Payment, ProductState, StoredInfo, StoredShipping, UploadFilter};

use super::{
    KeyQuery, PageError, Payer, Session, items, jump_link, key_from, key_query, logistics, page,
    sent_time, session_cookie, unix_time, yuan,
};
use crate::clock;
use crate::state::AppState;

const PAGE_SIZE: i64 = 10;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub page: Option<i64>,
    /// The admin may look at any payer's bill.
    pub appid: Option<String>,
    pub openid: Option<String>,
}

/// Whose bill this request may see: the signed-in payer's, or (for the admin) the one the
/// query names.
fn whose(
    payer: Payer,
    appid: Option<String>,
    openid: Option<String>,
) -> Result<(String, String), PageError> {
    match payer {
        Payer::Own { appid, openid } => Ok((appid, openid)),
        Payer::Admin => match (appid, openid) {
            (Some(appid), Some(openid)) => Ok((appid, openid)),
            _ => Err(PageError::NotFound),
        },
    }
}

/// Orders appear in the bill only once the app's product is APPROVED (SPEC §7).
async fn approved(state: &AppState, appid: &str) -> Result<bool, PageError> {
    let now = clock::now(state.store.as_ref()).await?;
    Ok(state
        .store
        .app(appid)
        .await?
        .is_some_and(|app| app.state_at(now) == ProductState::Approved))
}

fn header_bar(title: &str) -> Markup {
    html! {
        header {
            h1 { (title) }
            form.inline method="post" action="/bill/logout" { button type="submit" { "退出 Sign out" } }
        }
    }
}

pub async fn list(
    payer: Payer,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let (appid, openid) = whose(payer, q.appid, q.openid)?;
    let page_no = q.page.unwrap_or(1).max(1);
    let orders = if approved(&state, &appid).await? {
        state
            .store
            .shopping_infos(&UploadFilter {
                appid: Some(appid.clone()),
                openid: Some(openid.clone()),
                associated_only: true,
                limit: PAGE_SIZE + 1,
                offset: (page_no - 1) * PAGE_SIZE,
            })
            .await?
    } else {
        Vec::new()
    };
    let more = orders.len() as i64 > PAGE_SIZE;
    let who = format!("&appid={appid}&openid={openid}");
    let body = html! {
        (header_bar("账单 Bill"))
        main {
            p.muted { "Payer " (openid) " in " (appid) }
            @if orders.is_empty() {
                div.card { p { "No paid orders with shopping details yet." } }
            }
            @for stored in orders.iter().take(PAGE_SIZE as usize) {
                a.order href={ "/bill/order?" (key_query(&stored.appid, &stored.info.order_key)) } {
                    div.card {
                        div.row {
                            strong { (order_numbers(stored)) }
                            span.amount { (yuan(stored.info.total_fen())) }
                        }
                        div.row.muted {
                            span { (items(item_count(stored))) }
                            span { @if let Some(at) = stored.associated_at { (unix_time(at)) } }
                        }
                    }
                }
            }
            div.pager {
                @if page_no > 1 { a href={ "/bill?page=" (page_no - 1) (who) } { "← Newer" } } @else { span {} }
                @if more { a href={ "/bill?page=" (page_no + 1) (who) } { "Older →" } }
            }
        }
    };
    Ok(page("Bill", body).into_response())
}

fn order_numbers(stored: &StoredInfo) -> String {
    let numbers: Vec<&str> = match &stored.info.details {
        Details::Single { order_list, .. } => order_list
            .iter()
            .map(|o| o.merchant_order_no.as_str())
            .collect(),
        Details::Combined { sub_orders } => sub_orders
            .iter()
            .map(|o| o.merchant_order_no.as_str())
            .collect(),
    };
    numbers.join(" · ")
}

fn item_count(stored: &StoredInfo) -> usize {
    match &stored.info.details {
        Details::Single { order_list, .. } => order_list.iter().map(|o| o.item_list.len()).sum(),
        Details::Combined { sub_orders } => sub_orders.iter().map(|o| o.item_list.len()).sum(),
    }
}

pub async fn order(
    payer: Payer,
    State(state): State<AppState>,
    Query(q): Query<KeyQuery>,
) -> Result<Response, PageError> {
    let key = key_from(q.t, q.a, q.b).ok_or(PageError::NotFound)?;
    let stored = state
        .store
        .shopping_info(&q.appid, &key)
        .await?
        .ok_or(PageError::NotFound)?;
    // A payer sees their own associated orders of an approved app; nothing else exists.
    let allowed = match &payer {
        Payer::Admin => true,
        Payer::Own { appid, openid } => {
            *appid == stored.appid
                && *openid == stored.info.payer.openid
                && stored.associated_at.is_some()
                && approved(&state, appid).await?
        }
    };
    if !allowed {
        return Err(PageError::NotFound);
    }
    let shipping = state.store.shipping_info(&stored.appid, &key).await?;
    let payment = state.store.payment_for_key(&key).await?;
    let trade = match &payment {
        Some(payment) => super::trade::views_of(&state, payment).await?,
        None => Vec::new(),
    };
    let back = format!("/bill/order?{}", key_query(&stored.appid, &key));
    let body = html! {
        (header_bar("订单详情 Order"))
        main {
            p { a href="/bill" { "← 账单 Bill" } }
            (order_view(&stored, shipping.as_ref(), payment.as_ref()))
            @for view in &trade { (super::trade::order_card(view, Some(&back))) }
        }
    };
    Ok(page("Order", body).into_response())
}

pub fn verify_badge(result: VerifyResult) -> Markup {
    let (class, text) = match result {
        VerifyResult::Associated => ("badge ok", "ASSOCIATED"),
        VerifyResult::NotUploaded => ("badge warn", "NOT_UPLOADED"),
        VerifyResult::NotPaid => ("badge warn", "NOT_PAID"),
        VerifyResult::PayerMismatch => ("badge warn", "PAYER_MISMATCH"),
        VerifyResult::OrderMismatch => ("badge warn", "ORDER_MISMATCH"),
    };
    html! { span class=(class) { (text) } }
}

/// One uploaded order as the payer sees it; the console shows the same view.
pub fn order_view(
    stored: &StoredInfo,
    shipping: Option<&StoredShipping>,
    payment: Option<&Payment>,
) -> Markup {
    let info = &stored.info;
    html! {
        div.card {
            div.row {
                span.muted { "合计 Total" }
                span.amount data-testid="total" { (yuan(info.total_fen())) }
            }
            div.row.muted {
                span { (key_label(&info.order_key)) }
                (verify_badge(stored.verify_result))
            }
            @if let Some(p) = payment {
                div.muted {
                    "WeChat Pay " (p.keys.transaction_id) " · " (p.state)
                    @if let Some(at) = p.paid_at { " · paid " (unix_time(at)) }
                }
            }
        }
        @match &info.details {
            Details::Single { order_list, logistics_type } => {
                @for order in order_list {
                    (order_card(&order.merchant_order_no, &order.order_detail_jump_link, &order.item_list, *logistics_type,
                        shipping.and_then(|s| s.info.orders.first())))
                }
            }
            Details::Combined { sub_orders } => {
                p.muted { "合单支付 Combined payment of " (sub_orders.len()) " orders" }
                @for sub in sub_orders {
                    (order_card(&sub.merchant_order_no, &sub.order_detail_jump_link, &sub.item_list, sub.logistics_type,
                        shipping.and_then(|s| s.info.orders.iter().find(|o| o.order_key.as_ref() == Some(&sub.order_key)))))
                }
            }
        }
        @if let Some(shipping) = shipping {
            p.muted { "Shipping version " (shipping.version) ", uploaded " (sent_time(shipping.info.upload_time.as_str())) }
        }
    }
}

fn key_label(key: &OrderKey) -> String {
    match key {
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => format!("商户 {mchid} · 订单号 {out_trade_no}"),
        OrderKey::WxPay { transaction_id } => format!("微信支付单号 {transaction_id}"),
    }
}

fn order_card(
    merchant_order_no: &str,
    link: &JumpLink,
    items: &[Item],
    logistics_type: LogisticsType,
    shipping: Option<&OrderShipping>,
) -> Markup {
    let subtotal: i128 = items.iter().map(Item::line_total).sum();
    html! {
        div.card.order-card {
            div.row {
                h2 { "商户订单号 " span data-testid="merchant-order-no" { (merchant_order_no) } }
                (jump_link(link, "订单详情 Details"))
            }
            @for item in items {
                div.item {
                    div.thumb title="image" {
                        @if let Some(url) = item.image_url.first() {
                            a href=(url) rel="noreferrer noopener" target="_blank" { "图" }
                        }
                    }
                    div.body {
                        div.name data-testid="item-name" { (item.name) }
                        @if let Some(d) = &item.description { div.muted { (d) } }
                        div.row {
                            span.muted { (yuan(item.unit_price.into())) " × " (item.quantity) }
                            strong { (yuan(item.line_total())) }
                        }
                        (jump_link(&item.item_detail_jump_link, "商品详情 Item"))
                    }
                }
            }
            div.row { span.muted { (logistics(logistics_type)) } strong { "小计 " (yuan(subtotal)) } }
            @if let Some(shipping) = shipping {
                @for parcel in &shipping.shipping_list {
                    div.parcel {
                        strong { (parcel.express_company) " " span data-testid="tracking-no" { (parcel.tracking_no) } }
                        @if !parcel.item_list.is_empty() { div.muted { "Items: " (parcel.item_list.join(", ")) } }
                    }
                }
            } @else if logistics_type != LogisticsType::VirtualGoods {
                div.muted { "Not shipped yet" }
            }
        }
    }
}

fn login_page(error: Option<&str>) -> Markup {
    page(
        "Sign in",
        html! {
            header { h1 { "账单 Bill · sandbox sign-in" } }
            main {
                div.card {
                    p.muted { "The sandbox has no passwords: pick an app and one of its payers' openids (POST /sandbox/apps/{appid}/openids mints one)." }
                    @if let Some(error) = error { p.badge.warn { (error) } }
                    form method="post" action="/bill/login" {
                        label for="appid" { "appid" }
                        input #appid name="appid" required placeholder="wx…";
                        label for="openid" { "openid" }
                        input #openid name="openid" required placeholder="o…";
                        p { button type="submit" { "Open my bill" } }
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
    pub appid: String,
    pub openid: String,
}

pub async fn login(
    State(state): State<AppState>,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let known = state.store.app(&form.appid).await?.is_some();
    let decodes = matches!(state.openids.decode(&form.appid, &form.openid), Ok(user) if user != 0);
    if !known || !decodes {
        let page = login_page(Some("That openid does not belong to that app."));
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let cookie = session_cookie(
        &state,
        &Session::Payer {
            appid: form.appid,
            openid: form.openid,
        },
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/bill")).into_response())
}

pub async fn logout() -> Response {
    (
        [(header::SET_COOKIE, super::session::clear_cookie())],
        Redirect::to("/bill/login"),
    )
        .into_response()
}
