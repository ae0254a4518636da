//! The route table. WeChat paths answer unknown paths with 40066 and a wrong method on a
//! POST API with 43002, both in WeChat's envelope.

mod component;
mod journal;
mod permission;
mod shipping;
mod shopping;
mod token;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use tower_http::catch_panic::CatchPanicLayer;
use userorder_model::ErrCode;

use crate::envelope::{self, is_wechat_path};
use crate::error::ApiError;
use crate::pages;
use crate::sandbox;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let wechat = Router::new()
        .route("/cgi-bin/token", get(token::token).post(token::token))
        .route(
            "/cgi-bin/stable_token",
            post_only(post(token::stable_token)),
        )
        .route(
            "/user-order/orders",
            post_only(post(shopping::upload_shopping_info)),
        )
        .route(
            "/user-order/combine-orders",
            post_only(post(shopping::upload_combined_shopping_info)),
        )
        .route(
            "/user-order/orders/shippings",
            post_only(post(shipping::upload_shipping_info)),
        )
        .route(
            "/user-order/combine-orders/shippings",
            post_only(post(shipping::upload_combined_shipping_info)),
        )
        .route(
            "/user-order/shoppinginfo/verify",
            post_only(post(shipping::verify)),
        )
        .route(
            "/user-order/orders-permission/open",
            post_only(post(permission::open)),
        )
        .route(
            "/user-order/orders-permission/confirm",
            post_only(post(permission::confirm)),
        )
        .route(
            "/cgi-bin/component/api_component_token",
            post_only(post(component::component_token)),
        )
        .route(
            "/cgi-bin/component/api_query_auth",
            post_only(post(component::query_auth)),
        )
        .route(
            "/cgi-bin/component/api_authorizer_token",
            post_only(post(component::authorizer_token)),
        )
        .route(
            "/cgi-bin/openapi/rid/get",
            post_only(post(journal::rid_get)),
        );
    Router::new()
        .merge(wechat)
        .merge(pages::router())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .nest("/sandbox", sandbox::router(state.clone()))
        .fallback(unknown_path)
        .layer(CatchPanicLayer::custom(envelope::panic_response))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            envelope::envelope,
        ))
        .with_state(state)
}

/// A POST API answers any other method with 43002.
fn post_only(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async { ApiError::from(ErrCode::REQUIRE_POST_METHOD) })
}

/// 200 when the store answers, 503 when it does not (for load balancers and orchestrators).
async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.clock_offset().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {e}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(state.store.write_stats().as_ref()),
    )
        .into_response()
}

async fn unknown_path(request: Request) -> Response {
    if is_wechat_path(request.uri().path()) {
        ApiError::from(ErrCode::INVALID_URL).into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found\n").into_response()
    }
}
