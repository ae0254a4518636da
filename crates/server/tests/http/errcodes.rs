//! One row per rule of SPEC §4–§5.3: a valid body with one thing broken answers exactly
//! that rule's errcode and errmsg, and nothing is stored.

use serde_json::{Value, json};
use userorder_model::ErrCode;

use crate::common::*;

type Edit = Box<dyn Fn(&mut Value, &Shop)>;

fn set(pointer: &'static str, value: Value) -> Edit {
    Box::new(move |body, _| edit(body, pointer, Some(value.clone())))
}

fn remove(pointer: &'static str) -> Edit {
    Box::new(move |body, _| edit(body, pointer, None))
}

const ITEM: &str = "/order_list/0/item_list/0";

fn single_rules() -> Vec<(&'static str, Edit, i64, &'static str)> {
    let long = |n: usize| json!("x".repeat(n));
    vec![
        (
            "order_key absent",
            remove("/order_key"),
            268485194,
            "订单单号类型非法",
        ),
        (
            "order_number_type 3",
            set("/order_key/order_number_type", json!(3)),
            268485194,
            "订单单号类型非法",
        ),
        (
            "order_number_type unknown name",
            set("/order_key/order_number_type", json!("FOO")),
            268485194,
            "订单单号类型非法",
        ),
        (
            "order_number_type as a bool",
            set("/order_key/order_number_type", json!(true)),
            268485194,
            "订单单号类型非法",
        ),
        (
            "type 2 without transaction_id",
            set("/order_key/order_number_type", json!("WXPAY_TRADE_NUMBER")),
            268485195,
            "微信支付单号形式下 transaction_id 字段必须设置",
        ),
        (
            "type 1 without mchid",
            remove("/order_key/mchid"),
            268485196,
            "商户侧单号形式下 mchid 字段必须设置",
        ),
        (
            "type 1 with empty mchid",
            set("/order_key/mchid", json!("")),
            268485196,
            "商户侧单号形式下 mchid 字段必须设置",
        ),
        (
            "type 1 without out_trade_no",
            remove("/order_key/out_trade_no"),
            268485197,
            "商户侧单号形式下 out_trade_no 字段必须设置",
        ),
        (
            "out_trade_no alphabet",
            set("/order_key/out_trade_no", json!("a:b")),
            268435461,
            "参数错误: order_key.out_trade_no contains",
        ),
        (
            "out_trade_no 33 bytes",
            set("/order_key/out_trade_no", long(33)),
            268435461,
            "参数错误: order_key.out_trade_no is 33 bytes",
        ),
        (
            "mchid 33 bytes",
            set("/order_key/mchid", long(33)),
            268435461,
            "参数错误: order_key.mchid is 33 bytes",
        ),
        (
            "payer absent",
            remove("/payer"),
            268485192,
            "用户标识 openid 必须填写",
        ),
        (
            "openid empty",
            set("/payer/openid", json!("")),
            268485192,
            "用户标识 openid 必须填写",
        ),
        (
            "openid not decodable",
            set("/payer/openid", json!("oAbCdEfGhIjKlMnOpQrStUvWxYz_")),
            268457013,
            "openid 解码失败，请确认 openid 是否正确",
        ),
        (
            "openid too short",
            set("/payer/openid", json!("o123")),
            268457013,
            "openid 解码失败，请确认 openid 是否正确",
        ),
        (
            "upload_time absent",
            remove("/upload_time"),
            268485214,
            "上传时间必须填写",
        ),
        (
            "upload_time without offset",
            set("/upload_time", json!("2021-05-20T13:29:35")),
            268485216,
            "上传时间非法，请按照 RFC 3339 格式填写",
        ),
        (
            "upload_time with a space",
            set("/upload_time", json!("2021-05-20 13:29:35+08:00")),
            268485216,
            "上传时间非法，请按照 RFC 3339 格式填写",
        ),
        (
            "logistics_type 4",
            set("/logistics_type", json!(4)),
            268435461,
            "参数错误: logistics_type is illegal",
        ),
        (
            "order_list empty",
            set("/order_list", json!([])),
            268435461,
            "参数错误: order_list has 0 entries",
        ),
        (
            "merchant_order_no absent",
            remove("/order_list/0/merchant_order_no"),
            268485201,
            "商户交易订单编号必须填写",
        ),
        (
            "merchant_order_no 65 bytes",
            set("/order_list/0/merchant_order_no", long(65)),
            268435461,
            "参数错误: order_list[0].merchant_order_no is 65 bytes",
        ),
        (
            "order link absent",
            remove("/order_list/0/order_detail_jump_link"),
            268485202,
            "链接类型必须为小程序或 URL",
        ),
        (
            "order link type 3",
            set("/order_list/0/order_detail_jump_link/type", json!(3)),
            268485202,
            "链接类型必须为小程序或 URL",
        ),
        (
            "MINI_PROGRAM link without appid",
            remove("/order_list/0/order_detail_jump_link/appid"),
            268485204,
            "链接类型为小程序时必须设置 appid",
        ),
        (
            "MINI_PROGRAM link without path",
            remove("/order_list/0/order_detail_jump_link/path"),
            268485205,
            "链接类型为小程序时必须设置 path",
        ),
        (
            "URL link without url",
            set("/order_list/0/order_detail_jump_link", json!({"type": 2})),
            268485206,
            "链接类型为 URL 时必须设置 url",
        ),
        (
            "URL link not http",
            set(
                "/order_list/0/order_detail_jump_link",
                json!({"type": "URL", "url": "ftp://x.example"}),
            ),
            268435461,
            "参数错误: order_list[0].order_detail_jump_link.url must start with http",
        ),
        (
            "order link names another app",
            set(
                "/order_list/0/order_detail_jump_link/appid",
                json!("wx0000000000000000"),
            ),
            268435461,
            "参数错误: order_list[0].order_detail_jump_link.appid is wx0000000000000000",
        ),
        (
            "item_list empty",
            set("/order_list/0/item_list", json!([])),
            268485211,
            "订单购买的商品列表不能为空",
        ),
        (
            "merchant_item_id on some items only",
            remove("/order_list/0/item_list/1/merchant_item_id"),
            268485213,
            "订单购买的商品列表中商户侧商品 ID 必须全部设置或全部不设置",
        ),
        (
            "merchant_item_id repeated",
            set(
                "/order_list/0/item_list/1/merchant_item_id",
                json!("item-0"),
            ),
            268435461,
            "参数错误: order_list[0].item_list[1].merchant_item_id",
        ),
        (
            "item name empty",
            set("/order_list/0/item_list/0/name", json!("")),
            268485207,
            "商品名称必须填写",
        ),
        (
            "item unit_price absent",
            remove("/order_list/0/item_list/0/unit_price"),
            268485208,
            "商品单价必须填写",
        ),
        (
            "item quantity absent",
            remove("/order_list/0/item_list/0/quantity"),
            268485209,
            "购买数量必须填写",
        ),
        (
            "item quantity 0",
            set("/order_list/0/item_list/0/quantity", json!(0)),
            268485209,
            "购买数量必须填写",
        ),
        (
            "item image_url absent",
            remove("/order_list/0/item_list/0/image_url"),
            268485210,
            "商品图片链接至少填写一个",
        ),
        (
            "item image_url empty",
            set("/order_list/0/item_list/0/image_url", json!([])),
            268485210,
            "商品图片链接至少填写一个",
        ),
        (
            "item link absent",
            remove("/order_list/0/item_list/0/item_detail_jump_link"),
            268485272,
            "商品详情链接必须设置",
        ),
        (
            "item link type unknown",
            set(
                "/order_list/0/item_list/0/item_detail_jump_link/type",
                json!("BOGUS"),
            ),
            268485202,
            "链接类型必须为小程序或 URL",
        ),
        (
            "item name 257 chars",
            set("/order_list/0/item_list/0/name", json!("商".repeat(257))),
            268435461,
            "参数错误: order_list[0].item_list[0].name is 257 characters",
        ),
        (
            "item description 513 chars",
            set("/order_list/0/item_list/0/description", long(513)),
            268435461,
            "参数错误: order_list[0].item_list[0].description is 513 characters",
        ),
        (
            "item unit_price negative",
            set("/order_list/0/item_list/0/unit_price", json!(-1)),
            268435461,
            "参数错误: order_list[0].item_list[0].unit_price is -1",
        ),
        (
            "item quantity negative",
            set("/order_list/0/item_list/0/quantity", json!(-2)),
            268435461,
            "参数错误: order_list[0].item_list[0].quantity is -2",
        ),
        (
            "item has 4 images",
            set(
                "/order_list/0/item_list/0/image_url",
                json!([
                    "http://a.cn/1",
                    "http://a.cn/2",
                    "http://a.cn/3",
                    "http://a.cn/4"
                ]),
            ),
            268435461,
            "参数错误: order_list[0].item_list[0].image_url has 4 entries, at most 3",
        ),
        (
            "item image not a URL",
            set(
                "/order_list/0/item_list/0/image_url",
                json!(["qpic.cn/xxx"]),
            ),
            268435461,
            "参数错误: order_list[0].item_list[0].image_url[0] must start with http",
        ),
        (
            "item image without host",
            set("/order_list/0/item_list/0/image_url", json!(["https:///x"])),
            268435461,
            "参数错误: order_list[0].item_list[0].image_url[0] has no host",
        ),
        (
            "merchant_item_id 65 bytes",
            set("/order_list/0/item_list/0/merchant_item_id", long(65)),
            268435461,
            "参数错误: order_list[0].item_list[0].merchant_item_id is 65 bytes",
        ),
        (
            "item link path 513 bytes",
            set(
                "/order_list/0/item_list/0/item_detail_jump_link/path",
                long(513),
            ),
            268435461,
            "参数错误: order_list[0].item_list[0].item_detail_jump_link.path is 513 bytes",
        ),
        (
            "mchid not bound to the app",
            set("/order_key/mchid", json!("1999999999")),
            268485217,
            "商户号不合法，请确认后重试",
        ),
        // Precedence (SPEC §5.3): the first broken rule answers.
        (
            "key before payer",
            Box::new(|b: &mut Value, _: &Shop| {
                edit(b, "/order_key", None);
                edit(b, "/payer", None);
            }),
            268485194,
            "订单单号类型非法",
        ),
        (
            "payer before upload_time",
            Box::new(|b: &mut Value, _: &Shop| {
                edit(b, "/payer", None);
                edit(b, "/upload_time", None);
            }),
            268485192,
            "用户标识 openid 必须填写",
        ),
        (
            "name before unit_price",
            Box::new(|b: &mut Value, _: &Shop| {
                edit(b, &format!("{ITEM}/name"), None);
                edit(b, &format!("{ITEM}/unit_price"), None);
            }),
            268485207,
            "商品名称必须填写",
        ),
        (
            "presence before limits within an item",
            Box::new(|b: &mut Value, _: &Shop| {
                edit(b, &format!("{ITEM}/unit_price"), Some(json!(-5)));
                edit(b, &format!("{ITEM}/image_url"), None);
            }),
            268485210,
            "商品图片链接至少填写一个",
        ),
        (
            "field rules before the merchant check",
            Box::new(|b: &mut Value, _: &Shop| {
                edit(b, "/order_key/mchid", Some(json!("1999999999")));
                edit(b, &format!("{ITEM}/quantity"), None);
            }),
            268485209,
            "购买数量必须填写",
        ),
    ]
}

async fn every_field_rule_of_a_single_upload_answers_its_errcode_and_stores_nothing(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    for (case, breaks, code, prefix) in single_rules() {
        let mut body = single_body(&shop, "T1001", T0);
        breaks(&mut body, &shop);
        let result = server.client.upload_shopping_info(&shop.token, &body).await;
        assert_refused(result, ErrCode(code), prefix, case);
    }
    let orders = orders_json(&server.sandbox, &shop.appid).await;
    assert!(
        orders.is_empty(),
        "refused uploads stored something: {orders:?}"
    );
    // The body every row started from is itself valid.
    let body = single_body(&shop, "T1001", T0);
    server
        .client
        .upload_shopping_info(&shop.token, &body)
        .await
        .expect("valid upload");
}

/// The SDK's pre-validation and the server agree on every row of the table; the rows the
/// SDK passes are exactly those only the server can judge (an openid's authenticity, a
/// merchant's binding).
async fn prevalidation_catches_every_rule_the_server_catches(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let server_only = [ErrCode::OPENID_UNDECODABLE, ErrCode::MCHID_NOT_VALID];
    let mut judged_locally = 0;
    for (case, breaks, code, _) in single_rules() {
        let mut body = single_body(&shop, "PV1", T0);
        breaks(&mut body, &shop);
        let bytes = body.to_string().into_bytes();
        let local = userorder_client::prevalidate::check("/user-order/orders", &shop.appid, &bytes)
            .map(|r| r.code);
        let answered = server
            .client
            .upload_shopping_info(&shop.token, &body)
            .await
            .err()
            .and_then(|e| e.code());
        assert_eq!(answered, Some(ErrCode(code)), "{case}: server");
        match local {
            Some(local) => {
                assert_eq!(
                    local,
                    ErrCode(code),
                    "{case}: the SDK refuses with the server's errcode"
                );
                judged_locally += 1;
            }
            None => assert!(
                server_only.contains(&ErrCode(code)),
                "{case}: the SDK let {code} through"
            ),
        }
    }
    assert!(
        judged_locally >= 50,
        "{judged_locally} rules judged locally"
    );
}

async fn zero_openid_and_an_openid_of_another_app_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let other = server.shop().await;
    let zero = server
        .sandbox
        .create_openid(&shop.appid, Some(0))
        .await
        .expect("zero openid");
    let mut body = single_body(&shop, "T1", T0);
    body["payer"]["openid"] = json!(zero);
    let result = server.client.upload_shopping_info(&shop.token, &body).await;
    assert_refused(
        result,
        ErrCode(268457014),
        "openid 解码结果为 0，请确认 openid 是否正确",
        "zero openid",
    );
    body["payer"]["openid"] = json!(other.openid);
    let result = server.client.upload_shopping_info(&shop.token, &body).await;
    assert_refused(
        result,
        ErrCode(268457013),
        "openid 解码失败，请确认 openid 是否正确",
        "another app's openid",
    );
}

async fn every_rule_of_a_combined_upload_answers_its_errcode(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let other = server.shop().await;
    let other_mchid = other.mchid.clone();
    let rules: Vec<(&str, Edit, i64, &str)> = vec![
        (
            "sub_orders empty",
            set("/sub_orders", json!([])),
            268435461,
            "参数错误: sub_orders has 0 entries",
        ),
        (
            "sub-order of another number type",
            set(
                "/sub_orders/1/order_key",
                json!({"order_number_type": 2, "transaction_id": "4200000000000000000000000001"}),
            ),
            268485253,
            "主单的订单单号类型与子单的单号类型不一致",
        ),
        (
            "sub-order type mismatch before its other fields",
            set(
                "/sub_orders/0/order_key",
                json!({"order_number_type": "WXPAY_TRADE_NUMBER"}),
            ),
            268485253,
            "主单的订单单号类型与子单的单号类型不一致",
        ),
        (
            "sub-order without mchid",
            remove("/sub_orders/1/order_key/mchid"),
            268485196,
            "商户侧单号形式下 mchid 字段必须设置",
        ),
        (
            "sub-order key absent",
            remove("/sub_orders/0/order_key"),
            268485194,
            "订单单号类型非法",
        ),
        (
            "sub-order key repeated",
            set("/sub_orders/1/order_key/out_trade_no", json!("S1")),
            268435461,
            "参数错误: sub_orders[1].order_key",
        ),
        (
            "sub-order key equal to the master",
            set("/sub_orders/0/order_key/out_trade_no", json!("M1")),
            268435461,
            "参数错误: sub_orders[0].order_key",
        ),
        (
            "sub-order merchant_order_no empty",
            set("/sub_orders/0/merchant_order_no", json!("")),
            268485201,
            "商户交易订单编号必须填写",
        ),
        (
            "sub-order logistics_type illegal",
            set("/sub_orders/0/logistics_type", json!("DRONE")),
            268435461,
            "参数错误: sub_orders[0].logistics_type",
        ),
        (
            "sub-order item_list empty",
            set("/sub_orders/0/item_list", json!([])),
            268485211,
            "订单购买的商品列表不能为空",
        ),
        (
            "51 sub-orders",
            Box::new(|b: &mut Value, s: &Shop| {
                let subs: Vec<String> = (0..51).map(|i| format!("S{i}")).collect();
                let refs: Vec<&str> = subs.iter().map(String::as_str).collect();
                *b = combined_body(s, "M1", &refs, T0);
            }),
            268435461,
            "参数错误: sub_orders has 51 entries",
        ),
        (
            "sub-order mchid not bound",
            Box::new(move |b: &mut Value, _: &Shop| {
                b["sub_orders"][1]["order_key"]["mchid"] = json!(other_mchid.clone());
            }),
            268485217,
            "商户号不合法，请确认后重试",
        ),
    ];
    for (case, breaks, code, prefix) in rules {
        let mut body = combined_body(&shop, "M1", &["S1", "S2"], T0);
        breaks(&mut body, &shop);
        let result = server
            .client
            .upload_combined_shopping_info(&shop.token, &body)
            .await;
        assert_refused(result, ErrCode(code), prefix, case);
    }
    assert!(
        server
            .sandbox
            .orders(&shop.appid)
            .await
            .expect("orders")
            .is_empty()
    );
}

async fn a_sub_order_key_serves_one_combined_order_only(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let first = combined_body(&shop, "M1", &["S1", "S2"], T0);
    server
        .client
        .upload_combined_shopping_info(&shop.token, &first)
        .await
        .expect("first");
    let second = combined_body(&shop, "M2", &["S2", "S3"], T0);
    let result = server
        .client
        .upload_combined_shopping_info(&shop.token, &second)
        .await;
    assert_refused(
        result,
        ErrCode::INVALID_PARAMETER,
        "参数错误: sub-order key (mchid",
        "reused sub-order key",
    );
    // The owner may move its sub-orders; then the freed key is available.
    let moved = combined_body(&shop, "M1", &["S1", "S4"], T1);
    server
        .client
        .upload_combined_shopping_info(&shop.token, &moved)
        .await
        .expect("owner changes sub-orders");
    server
        .client
        .upload_combined_shopping_info(&shop.token, &second)
        .await
        .expect("freed key reused");
}

async fn token_and_transport_errors_answer_in_the_wechat_envelope(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let body = single_body(&shop, "T1", T0);

    let cases: Vec<(&str, Option<&str>, i64, &str)> = vec![
        ("no access_token", None, 41001, "access_token missing"),
        (
            "empty access_token",
            Some(""),
            41001,
            "access_token missing",
        ),
        (
            "unknown access_token",
            Some("not-a-token"),
            40001,
            "invalid credential, access_token is invalid or not latest",
        ),
    ];
    let http = reqwest::Client::new();
    for (case, token, code, prefix) in cases {
        let url = match token {
            Some(t) => format!("{}/user-order/orders?access_token={t}", server.base),
            None => format!("{}/user-order/orders", server.base),
        };
        let answer: Value = http
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert_eq!(errcode(&answer), code, "{case}: {answer}");
        assert!(
            text(&answer, "errmsg").starts_with(prefix),
            "{case}: {answer}"
        );
    }

    for path in [
        "/user-order/nope",
        "/cgi-bin/nope",
        "/user-order/orders/extra",
    ] {
        let answer: Value = http
            .post(format!("{}{path}", server.base))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert_eq!(errcode(&answer), 40066, "{path}: {answer}");
        assert!(
            text(&answer, "errmsg").starts_with("invalid url rid: "),
            "{answer}"
        );
    }
    for path in [
        "/user-order/orders",
        "/user-order/combine-orders",
        "/cgi-bin/stable_token",
    ] {
        let response = http
            .get(format!("{}{path}?access_token={}", server.base, shop.token))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.expect("json");
        assert_eq!(errcode(&answer), 43002, "{path}: {answer}");
        assert!(
            text(&answer, "errmsg").starts_with("require POST method"),
            "{answer}"
        );
    }
}

async fn an_app_that_has_not_opened_the_product_gets_48001(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop_with(json!({"product_state": "NOT_OPEN"})).await;
    let result = server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "T1", T0))
        .await;
    assert_refused(
        result,
        ErrCode::API_UNAUTHORIZED,
        "api unauthorized",
        "NOT_OPEN app",
    );
    let open = server.shop_with(json!({"product_state": "OPEN"})).await;
    server
        .client
        .upload_shopping_info(&open.token, &single_body(&open, "T1", T0))
        .await
        .expect("OPEN uploads");
}

async fn quotas_answer_45011_per_minute_and_45009_per_day(backend: Backend) {
    let server = TestServer::start(backend).await;
    start_of_a_day(&server).await;
    let minute = server.shop_with(json!({"quota": {"per_minute": 2}})).await;
    for i in 0..2 {
        let body = single_body(&minute, &format!("Q{i}"), T0);
        server
            .client
            .upload_shopping_info(&minute.token, &body)
            .await
            .expect("within the minute quota");
    }
    let result = server
        .client
        .upload_shopping_info(&minute.token, &single_body(&minute, "Q9", T0))
        .await;
    assert_refused(
        result,
        ErrCode::MINUTE_QUOTA,
        "api minute-quota reach limit",
        "per-minute quota",
    );
    server.sandbox.advance_clock(60).await.expect("clock");
    server
        .client
        .upload_shopping_info(&minute.token, &single_body(&minute, "Q9", T0))
        .await
        .expect("next minute");

    let daily = server.shop_with(json!({"quota": {"daily": 1}})).await;
    server
        .client
        .upload_shopping_info(&daily.token, &single_body(&daily, "D0", T0))
        .await
        .expect("first call");
    let result = server
        .client
        .upload_shopping_info(&daily.token, &single_body(&daily, "D1", T0))
        .await;
    assert_refused(
        result,
        ErrCode::DAILY_QUOTA,
        "reach max api daily quota limit",
        "daily quota",
    );
    // Another API has its own count.
    server
        .client
        .upload_combined_shopping_info(&daily.token, &combined_body(&daily, "DM", &["DS"], T0))
        .await
        .expect("own quota");
    server.sandbox.advance_clock(86_400).await.expect("clock");
    let token = server
        .client
        .token(&daily.appid, &daily.secret)
        .await
        .expect("token")
        .access_token;
    server
        .client
        .upload_shopping_info(&token, &single_body(&daily, "D1", T0))
        .await
        .expect("next day");
}

async fn a_store_failure_answers_system_error_with_a_rid(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    // Break the database under the running server, as a failing disk would.
    server.db.execute("DROP TABLE shopping_info_versions").await;
    let result = server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "T1", T0))
        .await;
    assert_refused(
        result,
        ErrCode::SYSTEM_ERROR,
        "system error",
        "store failure",
    );
    // Nothing half-written: the transaction rolled back.
    assert!(
        server
            .sandbox
            .orders(&shop.appid)
            .await
            .expect("orders")
            .is_empty()
    );
}

/// The exact bytes a WeChat client sees, rid redacted.
async fn error_bodies_are_exactly_wechats(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let redact = |v: Value| {
        let text = v.to_string();
        match text.rsplit_once(" rid: ") {
            Some((head, _)) => format!("{head} rid: [rid]\"}}"),
            None => text,
        }
    };
    let missing = server
        .raw_post("/user-order/combine-orders", "", "{}")
        .await;
    insta::assert_snapshot!(redact(missing), @r#"{"errcode":41001,"errmsg":"access_token missing rid: [rid]"}"#);
    let empty = server
        .raw_post("/user-order/combine-orders", &shop.token, "")
        .await;
    insta::assert_snapshot!(redact(empty), @r#"{"errcode":44002,"errmsg":"empty post data rid: [rid]"}"#);
    let mut body = combined_body(&shop, "M1", &["S1"], T0);
    body["sub_orders"][0]["item_list"][0]["image_url"] = json!([
        "http://a.cn/1",
        "http://a.cn/2",
        "http://a.cn/3",
        "http://a.cn/4"
    ]);
    let images = server
        .raw_post("/user-order/combine-orders", &shop.token, body.to_string())
        .await;
    insta::assert_snapshot!(redact(images), @r#"{"errcode":268435461,"errmsg":"参数错误: sub_orders[0].item_list[0].image_url has 4 entries, at most 3 rid: [rid]"}"#);
    body["sub_orders"][0]["item_list"][0]["name"] = json!("");
    let name = server
        .raw_post("/user-order/combine-orders", &shop.token, body.to_string())
        .await;
    insta::assert_snapshot!(redact(name), @r#"{"errcode":268485207,"errmsg":"商品名称必须填写 (sub_orders[0].item_list[0].name) rid: [rid]"}"#);
    let ok = server
        .raw_post(
            "/user-order/combine-orders",
            &shop.token,
            combined_body(&shop, "M1", &["S1"], T0).to_string(),
        )
        .await;
    insta::assert_snapshot!(ok.to_string(), @r#"{"errcode":0,"errmsg":"ok"}"#);
}

/// SPEC §10.15 point 3: `""` is absent, like `null`, for every string and enum: an optional
/// field sent as `""` is accepted and stored as absent; a required one is missing.
async fn empty_strings_are_absent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let mut body = single_body(&shop, "E1", T0);
    for item in body["order_list"][0]["item_list"]
        .as_array_mut()
        .expect("items")
    {
        item["description"] = json!("");
        item["merchant_item_id"] = json!("");
    }
    body["logistics_type"] = json!("");
    server
        .client
        .upload_shopping_info(&shop.token, &body)
        .await
        .expect("optional fields sent as \"\" are absent");
    let stored = orders_json(&server.sandbox, &shop.appid).await;
    let item = &stored[0]["order_list"][0]["item_list"][0];
    assert!(item.get("description").is_none(), "{item}");
    assert!(item.get("merchant_item_id").is_none(), "{item}");
    assert_eq!(stored[0]["logistics_type"], "PHYSICAL_LOGISTICS");

    // Required fields sent as "" are missing: their own errcodes, not a format error.
    let mut body = single_body(&shop, "E2", T0);
    body["upload_time"] = json!("");
    assert_refused(
        server.client.upload_shopping_info(&shop.token, &body).await,
        ErrCode::UPLOAD_TIME_NOT_SET,
        "上传时间必须填写",
        "upload_time \"\"",
    );
    let mut body = single_body(&shop, "E2", T0);
    body["order_key"]["order_number_type"] = json!("");
    assert_refused(
        server.client.upload_shopping_info(&shop.token, &body).await,
        ErrCode::ILLEGAL_ORDER_NUMBER_TYPE,
        "订单单号类型非法 (order_key.order_number_type)",
        "order_number_type \"\"",
    );
}

on_every_backend!(
    empty_strings_are_absent,
    prevalidation_catches_every_rule_the_server_catches,
    every_field_rule_of_a_single_upload_answers_its_errcode_and_stores_nothing,
    zero_openid_and_an_openid_of_another_app_are_refused,
    every_rule_of_a_combined_upload_answers_its_errcode,
    a_sub_order_key_serves_one_combined_order_only,
    token_and_transport_errors_answer_in_the_wechat_envelope,
    an_app_that_has_not_opened_the_product_gets_48001,
    quotas_answer_45011_per_minute_and_45009_per_day,
    a_store_failure_answers_system_error_with_a_rid,
    error_bodies_are_exactly_wechats,
);
