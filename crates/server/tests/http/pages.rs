//! The payer's bill and the console as HTML: what a seeded order shows, that merchant text is
//! escaped, and that nothing of another payer is reachable without their session.

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::json;

use crate::common::*;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// Signs in on a login form; answers the session cookie.
async fn sign_in(server: &TestServer, path: &str, form: &[(&str, &str)]) -> Option<String> {
    let response = http()
        .post(format!("{}{path}", server.base))
        .form(form)
        .send()
        .await
        .expect("sent");
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

async fn get(server: &TestServer, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut request = http().get(format!("{}{path}", server.base));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("sent");
    (response.status(), response.text().await.expect("text"))
}

/// Another payer of the shop, signed in on the bill: their openid and session cookie.
async fn another_payer(server: &TestServer, shop: &Shop) -> (String, String) {
    let other = server
        .sandbox
        .create_openid(&shop.appid, None)
        .await
        .expect("openid");
    let cookie = sign_in(
        server,
        "/bill/login",
        &[("appid", &shop.appid), ("openid", &other)],
    )
    .await
    .expect("session");
    (other, cookie)
}

/// A paid, shipped order whose merchant text tries to inject markup.
async fn seeded(server: &TestServer, shop: &Shop) -> String {
    let txid = create_payment(server, shop, "H1", &[]).await;
    let mut body = single_body(shop, "H1", T0);
    body["order_list"][0]["item_list"][0]["name"] = json!("<img src=x onerror=alert(1)>");
    body["order_list"][0]["item_list"][1]["description"] = json!("\"><script>alert('d')</script>");
    server
        .client
        .upload_shopping_info(&shop.token, &body)
        .await
        .expect("upload");
    server.sandbox.pay(&txid).await.expect("pay");
    let shipping = json!({"order_key": merchant_key(shop, "H1"), "delivery_mode": 2, "upload_time": T1,
        "shipping_list": [{"tracking_no": "SF777", "express_company": "SF", "item_list": [{"merchant_item_id": "item-0"}]},
                          {"tracking_no": "YT888", "express_company": "YTO", "item_list": [{"merchant_item_id": "item-1"}]}]});
    server
        .client
        .post::<serde_json::Value>("/user-order/orders/shippings", &shop.token, &shipping)
        .await
        .expect("ship");
    format!("/bill/order?appid={}&t=1&a={}&b=H1", shop.appid, shop.mchid)
}

async fn a_payer_sees_items_totals_and_shipping_with_merchant_text_escaped(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let order = seeded(&server, &shop).await;
    let cookie = sign_in(
        &server,
        "/bill/login",
        &[("appid", &shop.appid), ("openid", &shop.openid)],
    )
    .await
    .expect("session");

    let (status, list) = get(&server, "/bill", Some(&cookie)).await;
    assert_eq!(status, 200);
    assert!(list.contains("MO-H1"), "{list}");
    assert!(list.contains("¥33152.00"), "4 × ¥8288.00: {list}");
    assert!(list.contains("2 items"), "{list}");
    assert!(
        list.contains("(UTC+8)"),
        "times in China time, the zone named: {list}"
    );

    // An order of one item says so.
    let txid = create_payment(&server, &shop, "H2", &[]).await;
    let mut one = single_body(&shop, "H2", T0);
    one["order_list"][0]["item_list"]
        .as_array_mut()
        .expect("items")
        .truncate(1);
    server
        .client
        .upload_shopping_info(&shop.token, &one)
        .await
        .expect("upload");
    server.sandbox.pay(&txid).await.expect("pay");
    let (_, list) = get(&server, "/bill", Some(&cookie)).await;
    assert!(list.contains("1 item<"), "{list}");

    let (status, html) = get(&server, &order, Some(&cookie)).await;
    assert_eq!(status, 200);
    for expected in [
        "¥33152.00",
        "¥8288.00 × 2",
        "¥16576.00",
        "SF777",
        "YT888",
        "Items: item-1",
        // T1 is 10:00:01 at +08:00: shown as sent, in China time.
        "uploaded 2026-11-26 10:00:01 (UTC+8)",
        "ASSOCIATED",
        "MO-H1",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the name is escaped"
    );
    assert!(!html.contains("<img src=x"), "no injected element");
    assert!(
        html.contains("&quot;&gt;&lt;script&gt;alert('d')&lt;/script&gt;"),
        "the description is escaped"
    );
    assert!(!html.contains("<script>"), "no script at all");
    // A Mini Program link is shown as its appid and path, not as a link.
    assert!(html.contains(&format!("Mini Program {} /pages/item/index", shop.appid)));
}

async fn nothing_of_another_payer_is_reachable_without_their_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let order = seeded(&server, &shop).await;
    let (status, _) = get(&server, &order, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "no session: to the sign-in");
    let (status, _) = get(&server, "/bill", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (stranger, cookie) = another_payer(&server, &shop).await;
    let (status, _) = get(&server, &order, Some(&cookie)).await;
    assert_eq!(
        status, 404,
        "another payer's order does not exist for this payer"
    );
    let (status, list) = get(
        &server,
        &format!("/bill?appid={}&openid={}", shop.appid, shop.openid),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        !list.contains("MO-H1"),
        "query parameters do not switch payers"
    );

    let forged = cookie.replace(&stranger, &shop.openid);
    let (status, _) = get(&server, &order, Some(&forged)).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "an edited cookie is no session"
    );
    let refused = sign_in(
        &server,
        "/bill/login",
        &[
            ("appid", &shop.appid),
            ("openid", "oAbCdEfGhIjKlMnOpQrStUvWxYz_"),
        ],
    )
    .await;
    assert!(
        refused.is_none(),
        "an openid that does not decode cannot sign in"
    );

    // The admin sees any payer's bill and the console; a wrong token gets neither.
    assert!(
        sign_in(&server, "/console/login", &[("token", "wrong")])
            .await
            .is_none()
    );
    let (status, _) = get(&server, "/console", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let admin = sign_in(&server, "/console/login", &[("token", ADMIN)])
        .await
        .expect("admin");
    let (status, html) = get(&server, &order, Some(&admin)).await;
    assert_eq!(status, 200);
    assert!(html.contains("SF777"));
    let (status, console) = get(&server, "/console", Some(&admin)).await;
    assert_eq!(status, 200);
    assert!(console.contains(&shop.appid), "the app is listed");
    assert!(console.contains("out_trade_no H1"), "the upload is listed");
    let (status, detail) = get(
        &server,
        &order.replace("/bill/order", "/console/order"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        detail.contains("Shipping: 1 accepted versions")
            && detail.contains("Shopping details: 1 accepted versions")
    );
}

async fn orders_of_an_app_not_yet_approved_stay_out_of_the_bill(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop_with(json!({"product_state": "OPEN"})).await;
    let order = seeded(&server, &shop).await;
    let cookie = sign_in(
        &server,
        "/bill/login",
        &[("appid", &shop.appid), ("openid", &shop.openid)],
    )
    .await
    .expect("session");
    let (_, list) = get(&server, "/bill", Some(&cookie)).await;
    assert!(!list.contains("MO-H1"), "{list}");
    let (status, _) = get(&server, &order, Some(&cookie)).await;
    assert_eq!(status, 404);
}

/// Order shipping management on the pages: the bill shows the order's state and shipping
/// with a Confirm receipt button once shipped, which only the payer's own click acts on; the
/// console shows each payment's order state and the events.
async fn the_payer_confirms_receipt_on_the_bill(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let order = seeded(&server, &shop).await;
    let txid = server
        .sandbox
        .orders(&shop.appid)
        .await
        .expect("orders")
        .first()
        .and_then(|o| o.stored.transaction_id.clone())
        .expect("associated");
    let cookie = sign_in(
        &server,
        "/bill/login",
        &[("appid", &shop.appid), ("openid", &shop.openid)],
    )
    .await
    .expect("session");
    let (_, page) = get(&server, &order, Some(&cookie)).await;
    assert!(page.contains("待发货 to ship"), "{page}");
    assert!(
        !page.contains("data-testid=\"confirm-receipt\""),
        "not shipped yet"
    );

    let ship = json!({"order_key": merchant_key(&shop, "H1"), "logistics_type": 1, "delivery_mode": 1,
        "shipping_list": [{"tracking_no": "SF4242", "express_company": "SF", "item_desc": "书"}],
        "upload_time": T2, "payer": {"openid": shop.openid}});
    let shipped = server
        .raw_post(
            "/wxa/sec/order/upload_shipping_info",
            &shop.token,
            ship.to_string(),
        )
        .await;
    assert_eq!(shipped["errcode"], 0, "{shipped}");
    let (_, page) = get(&server, &order, Some(&cookie)).await;
    assert!(page.contains("已发货 shipped"), "{page}");
    assert!(page.contains("SF4242"), "{page}");
    assert!(page.contains("data-testid=\"confirm-receipt\""), "{page}");

    // Another payer's session cannot confirm it.
    let (_, stranger) = another_payer(&server, &shop).await;
    let confirm = |cookie: String| {
        let url = format!("{}/bill/payments/{txid}/confirm-receipt", server.base);
        let back = order.clone();
        async move {
            http()
                .post(url)
                .header("cookie", cookie)
                .form(&[("back", back.as_str())])
                .send()
                .await
                .expect("sent")
        }
    };
    let answer = confirm(stranger).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(&server, &order, Some(&cookie)).await;
    assert!(
        page.contains("已发货 shipped"),
        "a stranger's click changes nothing"
    );

    let answer = confirm(cookie.clone()).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        answer
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(order.as_str())
    );
    let (_, page) = get(&server, &order, Some(&cookie)).await;
    assert!(page.contains("确认收货 receipt confirmed"), "{page}");
    assert!(
        !page.contains("data-testid=\"confirm-receipt\""),
        "confirmed once"
    );

    let admin = sign_in(&server, "/console/login", &[("token", ADMIN)])
        .await
        .expect("admin");
    let (_, console) = get(&server, "/console", Some(&admin)).await;
    assert!(
        console.contains("trade_manage_order_settlement"),
        "{console}"
    );
    let (status, detail) = get(&server, &format!("/console/payments/{txid}"), Some(&admin)).await;
    assert_eq!(status, 200);
    assert!(detail.contains("确认收货 receipt confirmed"), "{detail}");
    assert!(detail.contains("trade_manage_order_settlement"), "{detail}");
}

/// The payer's Pay page for a v3 prepay: amount, merchant, description; the Pay button pays
/// as the signed-in payer (notification recorded); another payer cannot see it.
async fn the_payer_pays_a_prepay_on_its_pay_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let (merchant, _) = crate::pay_v3::merchant_of(&server, &shop).await;
    let body = crate::pay_v3_flow::prepay_body(&shop, "PAGE-0001", "http://127.0.0.1:9/n");
    let prepay_id = crate::pay_v3_flow::prepay(&server, &merchant, &body).await;
    let path = format!("/bill/pay?prepay_id={prepay_id}");
    let (status, _) = get(&server, &path, None).await;
    assert!(status.is_redirection(), "sign in first: {status}");
    let (_, stranger) = another_payer(&server, &shop).await;
    let (status, _) = get(&server, &path, Some(&stranger)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another payer's prepay");
    let cookie = sign_in(
        &server,
        "/bill/login",
        &[("appid", &shop.appid), ("openid", &shop.openid)],
    )
    .await
    .expect("session");
    let (status, page) = get(&server, &path, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "¥3.00",
        shop.mchid.as_str(),
        "Tea 250g",
        "NOTPAY",
        "id=\"pay\"",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let paid = http()
        .post(format!("{}/bill/pay", server.base))
        .header("cookie", &cookie)
        .form(&[("prepay_id", prepay_id.as_str())])
        .send()
        .await
        .expect("sent");
    assert!(paid.status().is_redirection());
    let (_, page) = get(&server, &path, Some(&cookie)).await;
    assert!(page.contains("SUCCESS 支付成功"), "{page}");
    assert!(!page.contains("id=\"pay\""), "paid: no button");
    let events = server
        .sandbox
        .get::<serde_json::Value>(&format!("/events?mchid={}", merchant.mchid))
        .await
        .expect("events");
    assert_eq!(events["events"][0]["event"], "TRANSACTION.SUCCESS");

    // The console shows the merchant's v3 credentials and rotates its certificate.
    let admin = sign_in(&server, "/console/login", &[("token", ADMIN)])
        .await
        .expect("admin");
    let (_, console) = get(&server, "/console", Some(&admin)).await;
    assert!(console.contains(&merchant.serial_no), "{console}");
    assert!(
        console.contains("platform public_key: PUB_KEY_ID_01"),
        "{console}"
    );
    let rotated = http()
        .post(format!(
            "{}/console/merchants/{}/rotate",
            server.base, merchant.mchid
        ))
        .header("cookie", &admin)
        .send()
        .await
        .expect("sent");
    assert!(rotated.status().is_redirection());
    let credentials: serde_json::Value = server
        .sandbox
        .get(&format!("/merchants/{}/apiv3", merchant.mchid))
        .await
        .expect("apiv3");
    assert_eq!(
        credentials["platform_certificates"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

on_every_backend!(
    the_payer_pays_a_prepay_on_its_pay_page,
    the_payer_confirms_receipt_on_the_bill,
    a_payer_sees_items_totals_and_shipping_with_merchant_text_escaped,
    nothing_of_another_payer_is_reachable_without_their_session,
    orders_of_an_app_not_yet_approved_stay_out_of_the_bill,
);
