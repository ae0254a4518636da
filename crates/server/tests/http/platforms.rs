//! Third-party platforms (SPEC §3.3) and product permission (SPEC §7): a service provider
//! acting for a merchant's app from authorization to an associated order.

use serde_json::{Value, json};
use userorder_client::Error;
use userorder_model::ErrCode;

use crate::common::*;

pub struct Platform {
    appid: String,
    secret: String,
    ticket: String,
    token: String,
}

pub async fn platform(server: &TestServer) -> Platform {
    let created = server
        .sandbox
        .post::<Value>("/components", &json!({}))
        .await
        .expect("component");
    let (appid, secret, ticket) = (
        text(&created, "component_appid"),
        text(&created, "component_appsecret"),
        text(&created, "component_verify_ticket"),
    );
    let answer = component_token(server, &appid, &secret, &ticket)
        .await
        .expect("component token");
    Platform {
        token: text(&answer, "component_access_token"),
        appid,
        secret,
        ticket,
    }
}

async fn component_token(
    server: &TestServer,
    appid: &str,
    secret: &str,
    ticket: &str,
) -> Result<Value, Error> {
    let body = serde_json::from_value(
        json!({"component_appid": appid, "component_appsecret": secret, "component_verify_ticket": ticket}),
    )
    .expect("body");
    server.client.component_token(&body).await.map(|a| json(&a))
}

/// Authorizes an app (new unless given) and redeems the code: (appid, token, refresh token).
pub async fn authorized(
    server: &TestServer,
    platform: &Platform,
    authorization: Value,
) -> (String, String, String) {
    let mut body = authorization;
    body["component_appid"] = json!(platform.appid);
    let auth = server
        .sandbox
        .post::<Value>("/authorizations", &body)
        .await
        .expect("authorization");
    let info: Value = query_auth(server, platform, &text(&auth, "authorization_code"))
        .await
        .expect("query_auth");
    let info = &info["authorization_info"];
    assert_eq!(info["expires_in"], 7200);
    (
        text(info, "authorizer_appid"),
        text(info, "authorizer_access_token"),
        text(info, "authorizer_refresh_token"),
    )
}

async fn query_auth(server: &TestServer, platform: &Platform, code: &str) -> Result<Value, Error> {
    let body = serde_json::from_value(
        json!({"component_appid": platform.appid, "authorization_code": code}),
    )
    .expect("body");
    server
        .client
        .query_auth(&platform.token, &body)
        .await
        .map(|a| json(&a))
}

async fn post_json(url: &str, body: &Value) -> Result<Value, Error> {
    let answer: Value = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await?
        .json()
        .await?;
    match answer.get("errcode").and_then(Value::as_i64) {
        Some(code) if code != 0 => Err(Error::WeChat {
            code: ErrCode(code),
            message: text(&answer, "errmsg"),
            rid: None,
        }),
        _ => Ok(answer),
    }
}

fn code_of(result: Result<Value, Error>) -> Option<i64> {
    result.err().and_then(|e| e.code()).map(|c| c.0)
}

/// The authorized app as a shop: its merchant, a payer, and the authorizer token.
async fn shop_of(server: &TestServer, appid: String, token: String) -> Shop {
    let mchid = server
        .sandbox
        .create_merchant(&[&appid])
        .await
        .expect("merchant");
    let openid = server
        .sandbox
        .create_openid(&appid, None)
        .await
        .expect("openid");
    Shop {
        appid,
        secret: String::new(),
        mchid,
        openid,
        token,
    }
}

async fn a_service_provider_runs_the_whole_flow_for_a_merchant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let platform = platform(&server).await;
    let (appid, token, refresh) = authorized(
        &server,
        &platform,
        json!({"funcscope": [120, 142], "agreement_signed": true}),
    )
    .await;
    let shop = shop_of(&server, appid.clone(), token.clone()).await;

    // Authorized apps start NOT_OPEN: uploads are refused until the product is opened.
    let result = server
        .client
        .upload_shopping_info(&token, &single_body(&shop, "TP1", T0))
        .await;
    assert_refused(
        result,
        ErrCode::API_UNAUTHORIZED,
        "api unauthorized",
        "not open yet",
    );
    let confirm_early: Result<Value, _> = server
        .client
        .post("/user-order/orders-permission/confirm", &token, &json!({}))
        .await;
    assert_eq!(code_of(confirm_early), Some(268486570));
    let opened: Value = server
        .client
        .post("/user-order/orders-permission/open", &token, &json!({}))
        .await
        .expect("open");
    assert_eq!(opened["errcode"], 0);
    let again: Result<Value, _> = server
        .client
        .post("/user-order/orders-permission/open", &token, &json!({}))
        .await;
    assert_eq!(code_of(again), Some(268486612));
    let confirmed: Value = server
        .client
        .post("/user-order/orders-permission/confirm", &token, &json!({}))
        .await
        .expect("confirm");
    assert_eq!(confirmed["last_result"], "NONE");
    let twice: Result<Value, _> = server
        .client
        .post("/user-order/orders-permission/confirm", &token, &json!({}))
        .await;
    assert_eq!(code_of(twice), Some(268486570), "already in review");
    let apps = server.sandbox.get::<Value>("/apps").await.expect("apps");
    let state = |apps: &Value| {
        apps["apps"].as_array().and_then(|a| {
            a.iter()
                .find(|x| x["appid"] == json!(appid))
                .map(|x| x["product_state"].clone())
        })
    };
    assert_eq!(state(&apps), Some(json!("IN_REVIEW")));
    server.sandbox.advance_clock(6 * 3600).await.expect("clock");
    assert_eq!(
        state(&server.sandbox.get::<Value>("/apps").await.expect("apps")),
        Some(json!("APPROVED"))
    );

    // The authorizer token is now past its lifetime: refresh it as a platform does.
    let url = format!(
        "{}/cgi-bin/component/api_authorizer_token?component_access_token={}",
        server.base, platform.token
    );
    let expired = post_json(&url, &json!({"component_appid": platform.appid, "authorizer_appid": appid, "authorizer_refresh_token": refresh})).await;
    assert_eq!(
        code_of(expired),
        Some(42001),
        "the component token expired too"
    );
    let answer = component_token(&server, &platform.appid, &platform.secret, &platform.ticket)
        .await
        .expect("component token");
    let platform = Platform {
        token: text(&answer, "component_access_token"),
        ..platform
    };
    let body = serde_json::from_value(json!({"component_appid": platform.appid, "authorizer_appid": appid, "authorizer_refresh_token": refresh})).expect("body");
    let refreshed = server
        .client
        .authorizer_token(&platform.token, &body)
        .await
        .expect("refresh");
    assert_eq!(
        text(&refreshed, "authorizer_refresh_token"),
        refresh,
        "the refresh token stays valid"
    );
    let token = text(&refreshed, "authorizer_access_token");

    // An order's Mini Program link must name the authorizer app, which it does.
    let txid = create_payment(&server, &shop, "TP1", &[]).await;
    server
        .client
        .upload_shopping_info(&token, &single_body(&shop, "TP1", T0))
        .await
        .expect("upload for the merchant");
    server.sandbox.pay(&txid).await.expect("pay");
    let verified: Value = server
        .client
        .post(
            "/user-order/shoppinginfo/verify",
            &token,
            &json!({"order_key": merchant_key(&shop, "TP1"), "payer": {"openid": shop.openid}}),
        )
        .await
        .expect("verify");
    assert_eq!(verified["verify_result"], "ASSOCIATED");
    let orders = orders_json(&server.sandbox, &appid).await;
    assert_eq!(orders[0]["appid"], json!(appid));
}

async fn permission_sets_agreement_and_scope_are_enforced(backend: Backend) {
    let server = TestServer::start(backend).await;
    let platform = platform(&server).await;
    // Only shipping (142): shopping uploads and verify answer 61007.
    let (appid, token, _) = authorized(&server, &platform, json!({"funcscope": [142]})).await;
    let opened: Value = server
        .client
        .post("/user-order/orders-permission/open", &token, &json!({}))
        .await
        .expect("open");
    assert_eq!(opened["errcode"], 0);
    let shop = shop_of(&server, appid, token.clone()).await;
    let result = server
        .client
        .upload_shopping_info(&token, &single_body(&shop, "P1", T0))
        .await;
    assert_refused(
        result,
        ErrCode::API_UNAUTHORIZED_TO_COMPONENT,
        "api is unauthorized to component",
        "no 120/121",
    );
    let shipping: Result<Value, _> = server.client.post("/user-order/orders/shippings", &token, &json!({"order_key": merchant_key(&shop, "P1"), "delivery_mode": 1, "shipping_list": [{"tracking_no": "A", "express_company": "B"}], "upload_time": T0})).await;
    assert_eq!(
        code_of(shipping),
        Some(268435461),
        "142 lets shipping through to its own rules"
    );

    let (_, unsigned, _) = authorized(
        &server,
        &platform,
        json!({"funcscope": [120], "agreement_signed": false}),
    )
    .await;
    let open: Result<Value, _> = server
        .client
        .post("/user-order/orders-permission/open", &unsigned, &json!({}))
        .await;
    assert_eq!(code_of(open), Some(268486640));

    let outside = server
        .sandbox
        .create_app(&json!({"product_state": "NOT_OPEN", "in_open_scope": false}))
        .await
        .expect("app");
    let (_, scoped, _) = authorized(
        &server,
        &platform,
        json!({"funcscope": [120], "authorizer_appid": outside.appid}),
    )
    .await;
    let open: Result<Value, _> = server
        .client
        .post("/user-order/orders-permission/open", &scoped, &json!({}))
        .await;
    assert_eq!(code_of(open), Some(268485215));
}

async fn component_token_codes_and_refresh_tokens_fail_with_their_errcodes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let platform = platform(&server).await;
    assert_eq!(
        code_of(
            component_token(
                &server,
                &platform.appid,
                &platform.secret,
                "ticket@@@forged"
            )
            .await
        ),
        Some(61006)
    );
    assert_eq!(
        code_of(
            component_token(
                &server,
                "wx0000000000000000",
                &platform.secret,
                &platform.ticket
            )
            .await
        ),
        Some(61011)
    );
    assert_eq!(
        code_of(component_token(&server, &platform.appid, &"0".repeat(32), &platform.ticket).await),
        Some(40125)
    );

    let auth = server
        .sandbox
        .post::<Value>(
            "/authorizations",
            &json!({"component_appid": platform.appid, "funcscope": [120]}),
        )
        .await
        .expect("auth");
    let code = text(&auth, "authorization_code");
    query_auth(&server, &platform, &code)
        .await
        .expect("first redemption");
    assert_eq!(
        code_of(query_auth(&server, &platform, &code).await),
        Some(61010),
        "a code is spent once"
    );
    let appid = text(&auth, "authorizer_appid");
    let first = server.sandbox.post::<Value>("/authorizations", &json!({"component_appid": platform.appid, "authorizer_appid": appid, "funcscope": [120]})).await.expect("re-auth");
    let info = query_auth(&server, &platform, &text(&first, "authorization_code"))
        .await
        .expect("redeem");
    let old_refresh = text(&info["authorization_info"], "authorizer_refresh_token");
    server.sandbox.post::<Value>("/authorizations", &json!({"component_appid": platform.appid, "authorizer_appid": appid, "funcscope": [121]})).await.expect("re-auth again");
    let url = format!(
        "{}/cgi-bin/component/api_authorizer_token?component_access_token={}",
        server.base, platform.token
    );
    let stale = post_json(&url, &json!({"component_appid": platform.appid, "authorizer_appid": appid, "authorizer_refresh_token": old_refresh})).await;
    assert_eq!(
        code_of(stale),
        Some(61023),
        "re-authorization replaced the refresh token"
    );
    let wrong_component = post_json(&url, &json!({"component_appid": "wx1111111111111111", "authorizer_appid": appid, "authorizer_refresh_token": old_refresh})).await;
    assert_eq!(code_of(wrong_component), Some(61011));
    let no_token = post_json(
        &format!("{}/cgi-bin/component/api_query_auth", server.base),
        &json!({"component_appid": platform.appid}),
    )
    .await;
    assert_eq!(code_of(no_token), Some(41001));
    // A component_access_token is not an access_token.
    let result = server
        .client
        .upload_shopping_info(&platform.token, &json!({}))
        .await;
    assert_eq!(
        result.err().and_then(|e| e.code()),
        Some(ErrCode::INVALID_CREDENTIAL)
    );
}

on_every_backend!(
    a_service_provider_runs_the_whole_flow_for_a_merchant,
    permission_sets_agreement_and_scope_are_enforced,
    component_token_codes_and_refresh_tokens_fail_with_their_errcodes,
);
