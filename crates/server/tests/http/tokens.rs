//! Token life (SPEC §3.1, §3.2, §3.4): generations, the grace of a superseded token, the
//! lifetime, stable tokens, and every errcode of the token endpoints.

use serde_json::{Value, json};
use userorder_model::ErrCode;

use crate::common::*;

async fn upload_code(server: &TestServer, shop: &Shop, token: &str, n: u32) -> Option<ErrCode> {
    let body = single_body(shop, &format!("TOK{n}"), T0);
    server
        .client
        .upload_shopping_info(token, &body)
        .await
        .err()
        .map(|e| e.code().expect("a WeChat errcode"))
}

async fn a_superseded_token_works_for_five_minutes_then_answers_40001(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let old = shop.token.clone();
    let new = server
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token");
    assert_ne!(new.access_token, old);
    assert_eq!(new.expires_in, 7200);
    assert!(new.access_token.len() >= 64);
    assert_eq!(
        upload_code(&server, &shop, &old, 1).await,
        None,
        "inside the grace window"
    );
    // Real time moves too while the test runs: keep a margin on both sides.
    server.sandbox.advance_clock(285).await.expect("clock");
    assert_eq!(
        upload_code(&server, &shop, &old, 2).await,
        None,
        "still inside the grace window"
    );
    server.sandbox.advance_clock(15).await.expect("clock");
    assert_eq!(
        upload_code(&server, &shop, &old, 3).await,
        Some(ErrCode::INVALID_CREDENTIAL)
    );
    assert_eq!(
        upload_code(&server, &shop, &new.access_token, 4).await,
        None
    );
}

async fn a_token_past_its_lifetime_answers_42001(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    server.sandbox.advance_clock(7185).await.expect("clock");
    assert_eq!(upload_code(&server, &shop, &shop.token, 1).await, None);
    server.sandbox.advance_clock(15).await.expect("clock");
    let result = server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "X", T0))
        .await;
    assert_refused(
        result,
        ErrCode::ACCESS_TOKEN_EXPIRED,
        "access_token expired",
        "expired token",
    );
}

async fn stable_tokens_are_reused_and_independent_of_basic_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let first = server
        .client
        .stable_token(&shop.appid, &shop.secret, false)
        .await
        .expect("stable");
    assert_eq!(first.expires_in, 7200);
    server.sandbox.advance_clock(100).await.expect("clock");
    let again = server
        .client
        .stable_token(&shop.appid, &shop.secret, false)
        .await
        .expect("stable");
    assert_eq!(again.access_token, first.access_token, "reused while valid");
    assert!(
        (7085..=7100).contains(&again.expires_in),
        "remaining lifetime, got {}",
        again.expires_in
    );
    // A basic token fetch does not touch the stable token, nor the other way round.
    let basic = server
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token;
    assert_eq!(
        upload_code(&server, &shop, &first.access_token, 1).await,
        None
    );
    server.sandbox.advance_clock(301).await.expect("clock");
    assert_eq!(
        upload_code(&server, &shop, &first.access_token, 2).await,
        None
    );
    assert_eq!(upload_code(&server, &shop, &basic, 3).await, None);
    // Past its lifetime a new one is minted.
    server.sandbox.advance_clock(7200).await.expect("clock");
    let later = server
        .client
        .stable_token(&shop.appid, &shop.secret, false)
        .await
        .expect("stable");
    assert_ne!(later.access_token, first.access_token);
    assert_eq!(later.expires_in, 7200);
}

async fn force_refresh_revokes_at_once_and_is_limited(backend: Backend) {
    let server = TestServer::start(backend).await;
    start_of_a_day(&server).await;
    let shop = server.shop().await;
    let first = server
        .client
        .stable_token(&shop.appid, &shop.secret, false)
        .await
        .expect("stable");
    let forced = server
        .client
        .stable_token(&shop.appid, &shop.secret, true)
        .await
        .expect("forced");
    assert_ne!(forced.access_token, first.access_token);
    assert_eq!(
        upload_code(&server, &shop, &first.access_token, 1).await,
        Some(ErrCode::INVALID_CREDENTIAL),
        "revoked at once, no grace"
    );
    let too_soon = server
        .client
        .stable_token(&shop.appid, &shop.secret, true)
        .await;
    assert_eq!(
        too_soon.err().and_then(|e| e.code()),
        Some(ErrCode::DAILY_QUOTA),
        "30 s apart"
    );
    // 20 forced refreshes a day: one done, 19 more, then 45009.
    for _ in 0..19 {
        server.sandbox.advance_clock(30).await.expect("clock");
        server
            .client
            .stable_token(&shop.appid, &shop.secret, true)
            .await
            .expect("forced");
    }
    server.sandbox.advance_clock(30).await.expect("clock");
    let over = server
        .client
        .stable_token(&shop.appid, &shop.secret, true)
        .await;
    assert_eq!(
        over.err().and_then(|e| e.code()),
        Some(ErrCode::DAILY_QUOTA),
        "21st of the day"
    );
    let current = server
        .client
        .stable_token(&shop.appid, &shop.secret, false)
        .await
        .expect("stable");
    assert_eq!(
        upload_code(&server, &shop, &current.access_token, 2).await,
        None
    );
}

async fn token_endpoints_answer_every_field_error(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let http = reqwest::Client::new();
    let wrong_secret = "0".repeat(32);
    let cases: Vec<(String, i64, &str)> = vec![
        (
            format!(
                "grant_type=password&appid={}&secret={}",
                shop.appid, shop.secret
            ),
            40002,
            "invalid grant_type",
        ),
        (
            format!("appid={}&secret={}", shop.appid, shop.secret),
            40002,
            "invalid grant_type",
        ),
        (
            format!("grant_type=client_credential&secret={}", shop.secret),
            41002,
            "appid missing",
        ),
        (
            format!("grant_type=client_credential&appid={}", shop.appid),
            41004,
            "appsecret missing",
        ),
        (
            format!(
                "grant_type=client_credential&appid=wx0000000000000000&secret={}",
                shop.secret
            ),
            40013,
            "invalid appid",
        ),
        (
            format!(
                "grant_type=client_credential&appid={}&secret={wrong_secret}",
                shop.appid
            ),
            40125,
            "invalid appsecret",
        ),
    ];
    for (query, code, prefix) in cases {
        let response = http
            .get(format!("{}/cgi-bin/token?{query}", server.base))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.expect("json");
        assert_eq!(errcode(&answer), code, "{query}: {answer}");
        let errmsg = text(&answer, "errmsg");
        assert!(errmsg.starts_with(&format!("{prefix} rid: ")), "{errmsg}");
        assert!(
            is_rid(errmsg.rsplit(' ').next().unwrap_or_default()),
            "{errmsg}"
        );
    }
    let stable_cases = vec![
        (
            json!({"grant_type": "x", "appid": shop.appid, "secret": shop.secret}),
            40002,
        ),
        (
            json!({"grant_type": "client_credential", "secret": shop.secret}),
            41002,
        ),
        (
            json!({"grant_type": "client_credential", "appid": shop.appid}),
            41004,
        ),
        (
            json!({"grant_type": "client_credential", "appid": "wx0000000000000000", "secret": shop.secret}),
            40013,
        ),
        (
            json!({"grant_type": "client_credential", "appid": shop.appid, "secret": wrong_secret}),
            40125,
        ),
    ];
    for (body, code) in stable_cases {
        let answer = server
            .raw_post("/cgi-bin/stable_token", "", body.to_string())
            .await;
        assert_eq!(errcode(&answer), code, "{body}: {answer}");
    }
    // A success body carries no errcode, as WeChat's does.
    let ok: Value = http
        .get(format!(
            "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            server.base, shop.appid, shop.secret
        ))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(ok.get("errcode").is_none(), "{ok}");
}

async fn token_fetches_are_limited_per_day(backend: Backend) {
    let server = TestServer::start(backend).await;
    start_of_a_day(&server).await;
    let shop = server.shop_with(json!({"quota": {"token_daily": 3}})).await;
    // shop() fetched one token already.
    for _ in 0..2 {
        server
            .client
            .token(&shop.appid, &shop.secret)
            .await
            .expect("within quota");
    }
    let over = server.client.token(&shop.appid, &shop.secret).await;
    assert_eq!(
        over.err().and_then(|e| e.code()),
        Some(ErrCode::DAILY_QUOTA)
    );
    server.sandbox.advance_clock(86_400).await.expect("clock");
    server
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("a new day");
}

on_every_backend!(
    a_superseded_token_works_for_five_minutes_then_answers_40001,
    a_token_past_its_lifetime_answers_42001,
    stable_tokens_are_reused_and_independent_of_basic_tokens,
    force_refresh_revokes_at_once_and_is_limited,
    token_endpoints_answer_every_field_error,
    token_fetches_are_limited_per_day,
);
