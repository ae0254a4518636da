//! The application: every API endpoint once, with the handler that serves it and what the
//! OpenAPI document says about it, so the router and `GET /openapi.json` cannot disagree.
//! WeChat paths answer unknown paths with 40066 and a wrong method on a POST API with
//! 43002, both in WeChat's envelope; the pages, `/healthz` and `/metrics` sit beside.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use userorder_model::ErrCode;
use userorder_model::sandbox as sb;
use userorder_model::sec_order as sec;
use userorder_model::wire;

use crate::config::Timeouts;
use crate::connections;
use crate::envelope::{self, is_wechat_path};
use crate::error::ApiError;
use crate::openapi::{Answer, Auth, Doc, Errcodes, Tag, body, params, schema};
use crate::routes::{component, journal, permission, sec_order, shipping, shopping, token};
use crate::sandbox::{apiv3, debugging, events, identities, payer, payments, platforms, trade};
use crate::state::AppState;
use crate::{openapi, pages, sandbox};

/// One method on one path: how it is served and how it is documented.
pub struct Endpoint {
    /// OpenAPI's method names: `get`, `post`, …
    pub methods: &'static [&'static str],
    /// The path as both axum and OpenAPI write it (`{name}` for a segment).
    pub path: &'static str,
    pub route: MethodRouter<AppState>,
    pub doc: Doc,
}

/// Every endpoint of the WeChat API and of the sandbox.
pub fn endpoints() -> Vec<Endpoint> {
    use Errcodes as E;
    let wechat = |path, route, doc| Endpoint {
        methods: &["post"],
        path,
        route: post_only(route),
        doc,
    };
    let admin = |methods, path, route, doc| Endpoint {
        methods,
        path,
        route,
        doc,
    };
    vec![
        Endpoint {
            methods: &["get", "post"],
            path: "/cgi-bin/token",
            route: get(token::token).post(token::token),
            doc: Doc::new(Tag::Tokens, "getAccessToken: an access_token for an app")
                .auth(Auth::None)
                .params(params::<wire::TokenQuery>)
                .answer(Answer::WeChat(schema::<wire::AccessTokenOut>))
                .errcodes(E::TOKEN),
        },
        wechat(
            "/cgi-bin/stable_token",
            post(token::stable_token),
            Doc::new(
                Tag::Tokens,
                "getStableAccessToken: the app's stable access_token",
            )
            .auth(Auth::None)
            .body(body::<wire::StableTokenIn>)
            .answer(Answer::WeChat(schema::<wire::AccessTokenOut>))
            .errcodes(E::STABLE_TOKEN),
        ),
        wechat(
            "/user-order/orders",
            post(shopping::upload_shopping_info),
            Doc::new(
                Tag::ShoppingOrders,
                "uploadShoppingInfo: the shopping details of a single payment",
            )
            .body(body::<wire::UploadShoppingInfoIn>)
            .errcodes(E::UPLOAD_SHOPPING),
        ),
        wechat(
            "/user-order/combine-orders",
            post(shopping::upload_combined_shopping_info),
            Doc::new(
                Tag::ShoppingOrders,
                "uploadCombinedShoppingInfo: the shopping details of a combined payment",
            )
            .body(body::<wire::UploadCombinedShoppingInfoIn>)
            .errcodes(E::UPLOAD_COMBINED_SHOPPING),
        ),
        wechat(
            "/user-order/orders/shippings",
            post(shipping::upload_shipping_info),
            Doc::new(
                Tag::ShoppingOrders,
                "uploadShippingInfo: the shipping of a single payment",
            )
            .body(body::<wire::UploadShippingInfoIn>)
            .errcodes(E::UPLOAD_SHIPPING),
        ),
        wechat(
            "/user-order/combine-orders/shippings",
            post(shipping::upload_combined_shipping_info),
            Doc::new(
                Tag::ShoppingOrders,
                "uploadCombinedShippingInfo: the shipping of a combined payment's sub-orders",
            )
            .body(body::<wire::UploadCombinedShippingInfoIn>)
            .errcodes(E::UPLOAD_COMBINED_SHIPPING),
        ),
        wechat(
            "/user-order/shoppinginfo/verify",
            post(shipping::verify),
            Doc::new(
                Tag::ShoppingOrders,
                "verifyUploadResult: whether an order's details are uploaded and associated",
            )
            .body(body::<wire::VerifyIn>)
            .answer(Answer::WeChat(schema::<wire::VerifyOut>))
            .errcodes(E::VERIFY),
        ),
        wechat(
            "/user-order/orders-permission/open",
            post(permission::open),
            Doc::new(
                Tag::ShoppingOrders,
                "openShoppingOrderProductPermission: open the product (takes no body)",
            )
            .errcodes(E::PERMISSION_OPEN),
        ),
        wechat(
            "/user-order/orders-permission/confirm",
            post(permission::confirm),
            Doc::new(
                Tag::ShoppingOrders,
                "confirmProductPermission: submit the product for review (takes no body)",
            )
            .answer(Answer::WeChat(schema::<wire::PermissionConfirmOut>))
            .errcodes(E::PERMISSION_CONFIRM),
        ),
        wechat(
            "/cgi-bin/component/api_component_token",
            post(component::component_token),
            Doc::new(
                Tag::Platforms,
                "A third-party platform's component_access_token",
            )
            .auth(Auth::None)
            .body(body::<wire::ComponentTokenIn>)
            .answer(Answer::WeChat(schema::<wire::ComponentTokenOut>))
            .errcodes(E::COMPONENT_TOKEN),
        ),
        wechat(
            "/cgi-bin/component/api_query_auth",
            post(component::query_auth),
            Doc::new(
                Tag::Platforms,
                "Redeem an authorization code for the authorizer's tokens",
            )
            .auth(Auth::ComponentToken)
            .body(body::<wire::QueryAuthIn>)
            .answer(Answer::WeChat(schema::<wire::QueryAuthOut>))
            .errcodes(E::QUERY_AUTH),
        ),
        wechat(
            "/cgi-bin/component/api_authorizer_token",
            post(component::authorizer_token),
            Doc::new(Tag::Platforms, "A fresh authorizer_access_token")
                .auth(Auth::ComponentToken)
                .body(body::<wire::AuthorizerTokenIn>)
                .answer(Answer::WeChat(schema::<wire::AuthorizerTokenOut>))
                .errcodes(E::AUTHORIZER_TOKEN),
        ),
        wechat(
            "/cgi-bin/openapi/rid/get",
            post(journal::rid_get),
            Doc::new(
                Tag::Debugging,
                "getRidInfo: one of the app's requests, by the rid of its answer",
            )
            .body(body::<wire::RidGetIn>)
            .answer(Answer::WeChat(schema::<wire::RidGetOut>))
            .errcodes(E::RID_GET),
        ),
        // ---- order shipping management (SPEC §10) ----------------------------------------
        wechat(
            "/wxa/sec/order/upload_shipping_info",
            post(sec_order::upload_shipping_info),
            Doc::new(
                Tag::ShippingManagement,
                "upload_shipping_info: how a paid order is shipped, in parts or whole, with one re-ship",
            )
            .body(body::<sec::UploadShippingIn>)
            .errcodes(E::SEC_UPLOAD_SHIPPING),
        ),
        wechat(
            "/wxa/sec/order/upload_combined_shipping_info",
            post(sec_order::upload_combined_shipping_info),
            Doc::new(
                Tag::ShippingManagement,
                "upload_combined_shipping_info: the shipping of a combined payment's sub-orders, all or none",
            )
            .body(body::<sec::UploadCombinedShippingIn>)
            .errcodes(E::SEC_UPLOAD_COMBINED_SHIPPING),
        ),
        wechat(
            "/wxa/sec/order/get_order",
            post(sec_order::get_order),
            Doc::new(
                Tag::ShippingManagement,
                "get_order: an order (a paid payment or sub-payment) by transaction_id or merchant_id + merchant_trade_no",
            )
            .body(body::<sec::PaymentRefIn>)
            .answer(Answer::WeChat(schema::<sec::GetOrderOut>))
            .errcodes(E::GET_ORDER),
        ),
        wechat(
            "/wxa/sec/order/get_order_list",
            post(sec_order::get_order_list),
            Doc::new(
                Tag::ShippingManagement,
                "get_order_list: the app's orders by pay time, filtered, in pages",
            )
            .body(body::<sec::OrderListIn>)
            .answer(Answer::WeChat(schema::<sec::OrderListOut>))
            .errcodes(E::ORDER_LIST),
        ),
        wechat(
            "/wxa/sec/order/notify_confirm_receive",
            post(sec_order::notify_confirm_receive),
            Doc::new(
                Tag::ShippingManagement,
                "notify_confirm_receive: remind the payer to confirm receipt of a delivered courier order, once",
            )
            .body(body::<sec::NotifyConfirmReceiveIn>)
            .errcodes(E::NOTIFY_CONFIRM_RECEIVE),
        ),
        wechat(
            "/wxa/sec/order/opspecialorder",
            post(sec_order::opspecialorder),
            Doc::new(
                Tag::ShippingManagement,
                "opspecialorder: report an order still to ship as a pre-sale (ships by delay_to) or a test order",
            )
            .body(body::<sec::OpSpecialOrderIn>)
            .errcodes(E::SPECIAL_ORDER),
        ),
        wechat(
            "/wxa/sec/order/set_msg_jump_path",
            post(sec_order::set_msg_jump_path),
            Doc::new(
                Tag::ShippingManagement,
                "set_msg_jump_path: the page the payer's confirm-receipt message opens",
            )
            .body(body::<sec::SetMsgJumpPathIn>)
            .errcodes(E::SET_MSG_JUMP_PATH),
        ),
        wechat(
            "/wxa/sec/order/is_trade_managed",
            post(sec_order::is_trade_managed),
            Doc::new(
                Tag::ShippingManagement,
                "is_trade_managed: whether the app's payments are under trade management",
            )
            .body(body::<sec::AppidIn>)
            .answer(Answer::WeChat(schema::<sec::IsTradeManagedOut>))
            .errcodes(E::TRADE_QUERY),
        ),
        wechat(
            "/wxa/sec/order/is_trade_management_confirmation_completed",
            post(sec_order::is_trade_management_confirmation_completed),
            Doc::new(
                Tag::ShippingManagement,
                "is_trade_management_confirmation_completed: whether the app confirmed trade management",
            )
            .body(body::<sec::AppidIn>)
            .answer(Answer::WeChat(schema::<sec::ConfirmationCompletedOut>))
            .errcodes(E::TRADE_QUERY),
        ),
        wechat(
            "/cgi-bin/express/delivery/open_msg/get_delivery_list",
            post(sec_order::get_delivery_list),
            Doc::new(
                Tag::ShippingManagement,
                "get_delivery_list: the carriers and their codes (takes any JSON object)",
            )
            .body(body::<sec::DeliveryListIn>)
            .answer(Answer::WeChat(schema::<sec::DeliveryListOut>))
            .errcodes(E::DELIVERY_LIST),
        ),
        // ---- the sandbox ----------------------------------------------------------------
        admin(
            &["post"],
            "/sandbox/apps",
            post(identities::post_app),
            Doc::sandbox("Create an app (its secret is shown once)")
                .body(body::<sb::NewAppIn>)
                .answer(Answer::Created(schema::<sb::NewAppOut>)),
        ),
        admin(
            &["get"],
            "/sandbox/apps",
            get(identities::get_apps),
            Doc::sandbox("The apps, with the product state in force now")
                .answer(Answer::Rest(schema::<sb::AppsOut>)),
        ),
        admin(
            &["put"],
            "/sandbox/apps/{appid}/quota",
            put(identities::put_quota),
            Doc::sandbox("Set an app's quotas (null: the server's default)")
                .body(body::<sb::Quota>)
                .answer(Answer::Rest(schema::<sb::QuotaOut>)),
        ),
        admin(
            &["get"],
            "/sandbox/apps/{appid}/trade-management",
            get(trade::get_trade_management),
            Doc::sandbox("An app's order shipping management settings")
                .answer(Answer::Rest(schema::<sb::TradeManagement>)),
        ),
        admin(
            &["put"],
            "/sandbox/apps/{appid}/trade-management",
            put(trade::put_trade_management),
            Doc::sandbox("Change any of an app's order shipping management settings")
                .body(body::<sb::TradeManagementIn>)
                .answer(Answer::Rest(schema::<sb::TradeManagement>)),
        ),
        admin(
            &["post"],
            "/sandbox/apps/{appid}/openids",
            post(identities::post_openid),
            Doc::sandbox("Mint an openid of a user under an app")
                .body(body::<sb::NewOpenIdIn>)
                .answer(Answer::Created(schema::<sb::NewOpenIdOut>)),
        ),
        admin(
            &["post"],
            "/sandbox/merchants",
            post(identities::post_merchant),
            Doc::sandbox("Create a merchant bound to apps, with WeChat Pay v3 credentials if given")
                .body(body::<sb::NewMerchantIn>)
                .answer(Answer::Created(schema::<sb::NewMerchantOut>)),
        ),
        admin(
            &["get"],
            "/sandbox/merchants/{mchid}/apiv3",
            get(apiv3::get_apiv3),
            Doc::sandbox("A merchant's WeChat Pay v3 credentials (SPEC §11.2)")
                .answer(Answer::Rest(schema::<userorder_model::pay_v3::Apiv3Out>)),
        ),
        admin(
            &["put"],
            "/sandbox/merchants/{mchid}/apiv3",
            put(apiv3::put_apiv3),
            Doc::sandbox("Set a merchant's WeChat Pay v3 credentials: API keys (or a generated one, shown once), the APIv3 key, the platform mode")
                .body(body::<userorder_model::pay_v3::Apiv3In>)
                .answer(Answer::Rest(schema::<userorder_model::pay_v3::Apiv3Out>)),
        ),
        admin(
            &["post"],
            "/sandbox/merchants/{mchid}/apiv3/platform-certificates",
            post(apiv3::post_platform_certificate),
            Doc::sandbox("A new platform certificate that signs from now (rotation)")
                .body(body::<userorder_model::pay_v3::RotateIn>)
                .answer(Answer::Rest(schema::<userorder_model::pay_v3::Apiv3Out>)),
        ),
        admin(
            &["get"],
            "/sandbox/merchants",
            get(identities::get_merchants),
            Doc::sandbox("The merchants").answer(Answer::Rest(schema::<sb::MerchantsOut>)),
        ),
        admin(
            &["post"],
            "/sandbox/payments",
            post(payments::post_payment),
            Doc::sandbox("Create a payment (NOTPAY), single or combined")
                .body(body::<sb::NewPaymentIn>)
                .answer(Answer::Created(schema::<sb::Payment>)),
        ),
        admin(
            &["get"],
            "/sandbox/payments",
            get(payments::get_payment_lookup),
            Doc::sandbox("A payment by mchid + out_trade_no, or by prepay_id")
                .params(params::<sb::PaymentLookup>)
                .answer(Answer::Rest(schema::<sb::PaymentView>)),
        ),
        admin(
            &["get"],
            "/sandbox/payments/{transaction_id}",
            get(payments::get_payment),
            Doc::sandbox("A payment, with its order in order shipping management (sec_order)")
                .answer(Answer::Rest(schema::<sb::PaymentView>)),
        ),
        admin(
            &["post"],
            "/sandbox/payments/{transaction_id}/pay",
            post(payments::post_pay),
            Doc::sandbox("The payer pays: SUCCESS, and matching uploads associate")
                .answer(Answer::Rest(schema::<sb::Payment>)),
        ),
        admin(
            &["post"],
            "/sandbox/payments/{transaction_id}/refund",
            post(payments::post_refund),
            Doc::sandbox("Refund a paid payment with its sub-payments (order_state 5)")
                .answer(Answer::Rest(schema::<sb::Payment>)),
        ),
        admin(
            &["post"],
            "/sandbox/payments/{transaction_id}/confirm-receipt",
            post(payments::post_confirm_receipt),
            Doc::sandbox("The payer confirms receipt of a shipped order (order_state 3)")
                .body(body::<sb::ConfirmReceiptIn>)
                .answer(Answer::Rest(schema::<sb::ConfirmReceiptOut>)),
        ),
        admin(
            &["put"],
            "/sandbox/payments/{transaction_id}/complaint",
            put(payments::put_complaint),
            Doc::sandbox("The payer opens or closes a complaint (order_state 6 after receipt; settlement waits)")
                .body(body::<sb::ComplaintIn>)
                .answer(Answer::Rest(schema::<sb::PaymentView>)),
        ),
        admin(
            &["put"],
            "/sandbox/apps/{appid}/push",
            put(events::put_push),
            Doc::sandbox("Where an app's order shipping management events are pushed (url null: nowhere)")
                .body(body::<sb::Push>)
                .answer(Answer::Rest(schema::<sb::Push>)),
        ),
        admin(
            &["get"],
            "/sandbox/events",
            get(events::get_events),
            Doc::sandbox("The event log (swept first), with each event's delivery")
                .params(params::<sb::EventsQuery>)
                .answer(Answer::Rest(schema::<sb::EventsOut>)),
        ),
        admin(
            &["post"],
            "/sandbox/request-payment",
            post(payer::post_request_payment),
            Doc::sandbox("wx.requestPayment for a v3 prepay: checks paySign, then pays (SPEC §11.8); failures answer 200 requestPayment:fail …")
                .body(body::<userorder_model::pay_v3::RequestPaymentIn>)
                .answer(Answer::Rest(schema::<userorder_model::pay_v3::RequestPaymentOut>)),
        ),
        admin(
            &["post"],
            "/sandbox/refunds/{refund_id}/result",
            post(payer::post_refund_result),
            Doc::sandbox("Decide a v3 refund's outcome (PROCESSING or ABNORMAL only); answers the Refund")
                .body(body::<userorder_model::pay_v3::RefundResultIn>)
                .answer(Answer::Rest(schema::<serde_json::Value>)),
        ),
        admin(
            &["post"],
            "/sandbox/events/deliver",
            post(payer::post_deliver),
            Doc::sandbox("Attempt WeChat Pay notifications now: the named ones (any state), else the pending ones of an app or merchant")
                .body(body::<userorder_model::pay_v3::DeliverIn>)
                .answer(Answer::Rest(schema::<sb::EventsOut>)),
        ),
        admin(
            &["get"],
            "/sandbox/orders",
            get(payments::get_orders),
            Doc::sandbox("The stored orders, newest first")
                .params(params::<sb::OrdersQuery>)
                .answer(Answer::Rest(schema::<sb::OrdersOut>)),
        ),
        admin(
            &["get"],
            "/sandbox/clock",
            get(payments::get_clock),
            Doc::sandbox("The sandbox clock").answer(Answer::Rest(schema::<sb::ClockOut>)),
        ),
        admin(
            &["post"],
            "/sandbox/clock/advance",
            post(payments::post_clock_advance),
            Doc::sandbox("Move the sandbox clock forward")
                .body(body::<sb::AdvanceIn>)
                .answer(Answer::Rest(schema::<sb::ClockOut>)),
        ),
        admin(
            &["post"],
            "/sandbox/components",
            post(platforms::post_component),
            Doc::sandbox("Create a third-party platform")
                .body(body::<sb::NewComponentIn>)
                .answer(Answer::Created(schema::<sb::NewComponentOut>)),
        ),
        admin(
            &["post"],
            "/sandbox/authorizations",
            post(platforms::post_authorization),
            Doc::sandbox("An app authorizes a platform: an authorization code")
                .body(body::<sb::NewAuthorizationIn>)
                .answer(Answer::Created(schema::<sb::NewAuthorizationOut>)),
        ),
        admin(
            &["post"],
            "/sandbox/faults",
            post(debugging::post_faults),
            Doc::sandbox("Queue errcodes that an app's next calls answer")
                .body(body::<sb::FaultsIn>)
                .answer(Answer::Created(schema::<sb::FaultsOut>)),
        ),
        admin(
            &["delete"],
            "/sandbox/faults",
            delete(debugging::delete_faults),
            Doc::sandbox("Drop an app's queued faults (appid and path as body or query)")
                .params(params::<sb::ClearFaultsIn>)
                .body(body::<sb::ClearFaultsIn>)
                .answer(Answer::Rest(schema::<sb::FaultsClearedOut>)),
        ),
        admin(
            &["get"],
            "/sandbox/journal",
            get(debugging::get_journal),
            Doc::sandbox("The request journal, newest first")
                .params(params::<sb::JournalQuery>)
                .answer(Answer::Rest(schema::<sb::JournalOut>)),
        ),
    ]
}

pub fn router(state: AppState, timeouts: Timeouts) -> Router {
    let (mut wechat, mut admin) = (Router::new(), Router::new());
    for endpoint in endpoints() {
        if endpoint.path.starts_with("/sandbox/") {
            admin = admin.route(endpoint.path, endpoint.route);
        } else {
            wechat = wechat.route(endpoint.path, endpoint.route);
        }
    }
    let admin = admin.layer(middleware::from_fn_with_state(
        state.clone(),
        sandbox::require_admin,
    ));
    Router::new()
        .merge(wechat)
        .merge(admin)
        .merge(pages::router())
        .merge(crate::pay_v3::router())
        .route("/openapi.json", get(openapi::serve))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(unknown_path)
        .layer(CatchPanicLayer::custom(envelope::panic_response))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            envelope::envelope,
        ))
        .layer(middleware::from_fn_with_state(
            timeouts.body,
            connections::body_deadline,
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
        state.metrics.render(
            state.store.write_stats().as_ref(),
            &state.store.batch_stats(),
        ),
    )
        .into_response()
}

async fn unknown_path(request: Request) -> Response {
    if is_wechat_path(request.uri().path()) {
        ApiError::from(ErrCode::INVALID_URL).into_response()
    } else if request.uri().path().starts_with("/v3/") {
        // WeChat Pay answers an unknown path 404 with an empty body (SPEC §11.1).
        StatusCode::NOT_FOUND.into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found\n").into_response()
    }
}
