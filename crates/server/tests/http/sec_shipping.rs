//! Order shipping management's shipping uploads (SPEC §10.4, §10.6): every errcode of
//! upload_shipping_info in check order, and the per-order state machine on the sandbox clock.

use serde_json::{Value, json};
use userorder_model::sandbox::TradeManagementIn;

use crate::common::*;

const UPLOAD: &str = "/wxa/sec/order/upload_shipping_info";
const GET_ORDER: &str = "/wxa/sec/order/get_order";
const T: [&str; 6] = [
    "2026-11-26T10:00:00+08:00",
    "2026-11-26T10:00:01+08:00",
    "2026-11-26T10:00:02+0800",
    "2026-11-26T10:00:03.5+08:00",
    "2026-11-26T10:00:04Z",
    "2026-11-26T10:00:05Z",
];

fn parcel(tracking_no: &str, item_desc: &str) -> Value {
    json!({"tracking_no": tracking_no, "express_company": "SF", "item_desc": item_desc,
           "contact": {"receiver_contact": "189****1234"}})
}

fn body(shop: &Shop, out_trade_no: &str, mode: Value, parcels: Vec<Value>, time: &str) -> Value {
    json!({"order_key": merchant_key(shop, out_trade_no), "logistics_type": 1,
           "delivery_mode": mode, "shipping_list": parcels, "upload_time": time,
           "payer": {"openid": shop.openid}})
}

fn errcode_and_msg(answer: &Value) -> (i64, String) {
    (
        errcode(answer),
        answer["errmsg"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A token valid now, however far the sandbox clock has moved.
async fn token(server: &TestServer, shop: &Shop) -> String {
    server
        .client
        .token(&shop.appid, &shop.secret)
        .await
        .expect("token")
        .access_token
}

async fn order_of(server: &TestServer, shop: &Shop, out_trade_no: &str) -> Value {
    let key = json!({"merchant_id": shop.mchid, "merchant_trade_no": out_trade_no});
    let answer = server
        .raw_post(GET_ORDER, &token(server, shop).await, key.to_string())
        .await;
    assert_eq!(answer["errcode"], 0, "{answer}");
    answer["order"].clone()
}

/// Every body rule in the order SPEC §10.4 fixes, then the lookup, the payer and the state
/// rules; a refused upload stores nothing.
async fn every_rule_of_a_shipping_upload_answers_its_errcode(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let txid = create_payment(&server, &shop, "S1", &[]).await;
    server.sandbox.pay(&txid).await.expect("pay");
    let valid = || body(&shop, "S1", json!(1), vec![parcel("SF1", "T恤")], T[0]);
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, i64, &str)> = vec![
        (
            "no order_key",
            Box::new(|b| {
                b.as_object_mut().map(|o| o.remove("order_key"));
            }),
            268485194,
            "订单单号类型非法",
        ),
        (
            "type 2 without id",
            Box::new(|b| b["order_key"] = json!({"order_number_type": 2})),
            268485195,
            "微信支付单号形式下",
        ),
        (
            "a long out_trade_no",
            Box::new(|b| b["order_key"]["out_trade_no"] = json!("x".repeat(33))),
            10060014,
            "参数错误: order_key.out_trade_no",
        ),
        (
            "no payer",
            Box::new(|b| b["payer"] = json!({})),
            10060014,
            "参数错误: payer.openid is missing",
        ),
        (
            "a long openid",
            Box::new(|b| b["payer"]["openid"] = json!("o".repeat(129))),
            10060014,
            "参数错误: payer.openid is 129 bytes",
        ),
        (
            "no upload_time",
            Box::new(|b| b["upload_time"] = json!("")),
            268485216,
            "上传时间非法",
        ),
        (
            "a space for +",
            Box::new(|b| b["upload_time"] = json!("2026-11-26T10:00:00 08:00")),
            268485216,
            "上传时间非法",
        ),
        (
            "no delivery_mode",
            Box::new(|b| b["delivery_mode"] = json!(null)),
            268485224,
            "发货模式非法",
        ),
        (
            "delivery_mode 3",
            Box::new(|b| b["delivery_mode"] = json!(3)),
            268485224,
            "发货模式非法",
        ),
        (
            "no logistics_type",
            Box::new(|b| b["logistics_type"] = json!(null)),
            10060005,
            "物流类型有误",
        ),
        (
            "logistics_type 5",
            Box::new(|b| b["logistics_type"] = json!(5)),
            10060005,
            "物流类型有误",
        ),
        (
            "no parcels",
            Box::new(|b| b["shipping_list"] = json!([])),
            268485228,
            "统一发货模式下",
        ),
        (
            "16 parcels",
            Box::new(|b| b["shipping_list"] = json!(vec![parcel("SF1", "x"); 16])),
            10060024,
            "物流信息列表太长",
        ),
        (
            "unified with 2",
            Box::new(|b| b["shipping_list"] = json!([parcel("SF1", "a"), parcel("SF2", "b")])),
            268485228,
            "统一发货模式下",
        ),
        (
            "split, not courier",
            Box::new(|b| {
                b["delivery_mode"] = json!(2);
                b["logistics_type"] = json!(3);
            }),
            10060006,
            "非快递发货时不允许分拆发货",
        ),
        (
            "split without is_all_delivered",
            Box::new(|b| b["delivery_mode"] = json!("SPLIT_DELIVERY")),
            10060007,
            "分拆发货模式下",
        ),
        (
            "no item_desc",
            Box::new(|b| b["shipping_list"][0]["item_desc"] = json!(null)),
            10060008,
            "商品描述 item_desc 字段不能为空",
        ),
        (
            "a long item_desc",
            Box::new(|b| b["shipping_list"][0]["item_desc"] = json!("衣".repeat(121))),
            10060009,
            "商品描述 item_desc 字段太长",
        ),
        (
            "no tracking_no",
            Box::new(|b| b["shipping_list"][0]["tracking_no"] = json!("")),
            268485226,
            "物流单号不能为空",
        ),
        (
            "a long tracking_no",
            Box::new(|b| b["shipping_list"][0]["tracking_no"] = json!("1".repeat(129))),
            10060026,
            "物流单号太长",
        ),
        (
            "no express_company",
            Box::new(|b| b["shipping_list"][0]["express_company"] = json!(null)),
            268485227,
            "物流公司编码不能为空",
        ),
        (
            "a long express_company",
            Box::new(|b| b["shipping_list"][0]["express_company"] = json!("S".repeat(129))),
            10060025,
            "物流公司编码太长",
        ),
        (
            "a long contact",
            Box::new(|b| {
                b["shipping_list"][0]["contact"]["consignor_contact"] = json!("1".repeat(1025))
            }),
            10060014,
            "参数错误: shipping_list[0].contact.consignor_contact",
        ),
        (
            "an unknown order",
            Box::new(|b| b["order_key"]["out_trade_no"] = json!("NOPE")),
            10060001,
            "支付单不存在",
        ),
        (
            "another payer",
            Box::new(|b| b["payer"]["openid"] = json!("o_someone_else")),
            10060031,
            "该笔支付单不属于 openid 所指定的用户",
        ),
    ];
    for (case, edit, code, prefix) in cases {
        let mut b = valid();
        edit(&mut b);
        let (got, msg) =
            errcode_and_msg(&server.raw_post(UPLOAD, &shop.token, b.to_string()).await);
        assert_eq!(got, code, "{case}: {msg}");
        assert!(
            msg.starts_with(prefix),
            "{case}: {msg:?} should start with {prefix:?}"
        );
    }
    assert_eq!(
        order_of(&server, &shop, "S1").await["shipping"],
        json!({}),
        "nothing stored"
    );

    // Non-courier parcels need neither tracking_no nor express_company.
    let txid = create_payment(&server, &shop, "S2", &[]).await;
    server.sandbox.pay(&txid).await.expect("pay");
    let mut virtual_goods = body(
        &shop,
        "S2",
        json!(1),
        vec![json!({"item_desc": "会员月卡"})],
        T[0],
    );
    virtual_goods["logistics_type"] = json!("VIRTUAL_GOODS");
    assert_eq!(
        server
            .raw_post(UPLOAD, &shop.token, virtual_goods.to_string())
            .await["errcode"],
        0
    );
    let order = order_of(&server, &shop, "S2").await;
    assert_eq!(order["shipping"]["logistics_type"], 3);
    assert_eq!(order["description"], "会员月卡");
}

/// SPEC §10.6 on the sandbox clock: pay → 10060001 during the ingest delay → split upload
/// (state 1) → complete (2) → re-ship (count 2) → a second re-ship 10060003 → ten days → 3
/// → one more day → 4; a refund shows 5 from any state.
async fn an_order_walks_its_states_on_the_sandbox_clock(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    server
        .set_trade(
            &shop.appid,
            TradeManagementIn {
                ingest_delay_s: Some(60),
                ..TradeManagementIn::default()
            },
        )
        .await;
    let txid = create_payment(&server, &shop, "W1", &[]).await;
    server.sandbox.pay(&txid).await.expect("pay");
    let post = |b: Value| {
        let (server, shop) = (&server, &shop);
        async move {
            let token = token(server, shop).await;
            server.raw_post(UPLOAD, &token, b.to_string()).await
        }
    };
    let split = |parcels: Vec<Value>, all: bool, time: &str| {
        let mut b = body(&shop, "W1", json!(2), parcels, time);
        b["is_all_delivered"] = json!(all);
        b
    };
    let first = split(vec![parcel("SF1", "T恤")], false, T[0]);
    assert_eq!(
        errcode(&post(first.clone()).await),
        10060001,
        "during the ingest delay"
    );
    server.sandbox.advance_clock(60).await.expect("clock");

    assert_eq!(post(first.clone()).await["errcode"], 0, "a first part");
    let order = order_of(&server, &shop, "W1").await;
    assert_eq!(
        order["order_state"], 1,
        "split parts stay to-ship until complete"
    );
    assert_eq!(order["shipping"]["finish_shipping"], false);
    assert_eq!(
        errcode(&post(first.clone()).await),
        10060023,
        "an unchanged retry"
    );
    assert_eq!(
        errcode(
            &post(split(
                vec![parcel("SF1", "T恤"), parcel("SF2", "袜子")],
                false,
                T[0]
            ))
            .await
        ),
        268485216,
        "not later than the last"
    );

    assert_eq!(
        post(split(vec![parcel("SF2", "袜子")], true, T[1])).await["errcode"],
        0
    );
    let order = order_of(&server, &shop, "W1").await;
    assert_eq!(order["order_state"], 2, "complete: shipped");
    assert_eq!(order["description"], "T恤;袜子");
    assert_eq!(order["shipping"]["finish_shipping_count"], 1);
    assert_eq!(
        order["shipping"]["shipping_list"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(order["shipping"]["shipping_list"][1]["goods_desc"], "袜子");
    assert_eq!(order["shipping"]["upload_scene"], 2);

    // One re-ship, complete, replacing everything; a second is refused.
    assert_eq!(
        errcode(&post(split(vec![parcel("YT9", "T恤")], false, T[2])).await),
        10060002,
        "an incomplete re-ship"
    );
    let reship = body(
        &shop,
        "W1",
        json!("UNIFIED_DELIVERY"),
        vec![parcel("YT9", "T恤;袜子")],
        T[3],
    );
    assert_eq!(post(reship).await["errcode"], 0, "the re-ship");
    let order = order_of(&server, &shop, "W1").await;
    assert_eq!(order["shipping"]["finish_shipping_count"], 2);
    assert_eq!(order["shipping"]["delivery_mode"], 1);
    assert_eq!(
        order["shipping"]["shipping_list"].as_array().map(Vec::len),
        Some(1)
    );
    let again = body(&shop, "W1", json!(1), vec![parcel("ZT1", "T恤;袜子")], T[4]);
    assert_eq!(
        errcode(&post(again.clone()).await),
        10060003,
        "a second re-ship"
    );

    // Ten days after the re-ship completed: receipt confirmed automatically (3); one day
    // of settlement later: completed (4). Nothing more can be shipped.
    server
        .sandbox
        .advance_clock(10 * 86_400 - 10)
        .await
        .expect("clock");
    // (10 s short: the sandbox clock is real time plus an offset, and a second may tick.)
    assert_eq!(order_of(&server, &shop, "W1").await["order_state"], 2);
    server.sandbox.advance_clock(10).await.expect("clock");
    assert_eq!(order_of(&server, &shop, "W1").await["order_state"], 3);
    assert_eq!(
        errcode(&post(again).await),
        10060002,
        "confirmed: no more shipping"
    );
    server.sandbox.advance_clock(86_400).await.expect("clock");
    assert_eq!(order_of(&server, &shop, "W1").await["order_state"], 4);

    // A refund wins from any state, and then nothing ships.
    server.sandbox.refund(&txid).await.expect("refund");
    assert_eq!(order_of(&server, &shop, "W1").await["order_state"], 5);
    let txid = create_payment(&server, &shop, "W2", &[]).await;
    server.sandbox.pay(&txid).await.expect("pay");
    server.sandbox.advance_clock(60).await.expect("clock");
    server.sandbox.refund(&txid).await.expect("refund");
    let late = body(&shop, "W2", json!(1), vec![parcel("SF3", "x")], T[5]);
    assert_eq!(errcode(&post(late).await), 10060004, "refunded");
}

/// Non-courier deliveries confirm after the app's other auto-confirm days (2 by default).
async fn other_deliveries_confirm_sooner(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let txid = create_payment(&server, &shop, "V1", &[]).await;
    server.sandbox.pay(&txid).await.expect("pay");
    let mut b = body(
        &shop,
        "V1",
        json!(1),
        vec![json!({"item_desc": "到店自提"})],
        T[0],
    );
    b["logistics_type"] = json!(4);
    let app = userorder_client::AppClient::new(server.client.clone(), &shop.appid, &shop.secret);
    app.upload_order_shipping(&serde_json::from_value(b).expect("body"))
        .await
        .expect("self pick-up");
    server
        .sandbox
        .advance_clock(2 * 86_400)
        .await
        .expect("clock");
    assert_eq!(order_of(&server, &shop, "V1").await["order_state"], 3);
}

/// Uploads racing for one order are judged one at a time: every answer is 0 or the
/// ordering rule's 268485216, and the order holds exactly the parcels of the accepted ones.
async fn racing_uploads_for_one_order_are_judged_one_at_a_time(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let txid = create_payment(&server, &shop, "R1", &[]).await;
    server.sandbox.pay(&txid).await.expect("pay");
    let mut uploads = tokio::task::JoinSet::new();
    for i in 0..8 {
        let mut b = body(
            &shop,
            "R1",
            json!(2),
            vec![parcel(&format!("SF{i}"), "x")],
            &format!("2026-11-26T10:00:0{i}+08:00"),
        );
        b["is_all_delivered"] = json!(false);
        let url = format!("{}{UPLOAD}?access_token={}", server.base, shop.token);
        uploads.spawn(async move {
            let answer: Value = reqwest::Client::new()
                .post(url)
                .body(b.to_string())
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("json");
            errcode(&answer)
        });
    }
    let answers = uploads.join_all().await;
    assert!(
        answers.iter().all(|c| *c == 0 || *c == 268485216),
        "{answers:?}"
    );
    let accepted = answers.iter().filter(|c| **c == 0).count();
    assert!(accepted >= 1);
    let order = order_of(&server, &shop, "R1").await;
    assert_eq!(
        order["shipping"]["shipping_list"].as_array().map(Vec::len),
        Some(accepted),
        "{answers:?} {order}"
    );
}

const COMBINED: &str = "/wxa/sec/order/upload_combined_shipping_info";

fn sub(shop: &Shop, out_trade_no: &str, tracking_no: &str) -> Value {
    json!({"order_key": merchant_key(shop, out_trade_no), "logistics_type": 1, "delivery_mode": 1,
           "shipping_list": [parcel(tracking_no, "T恤")]})
}

fn combined(shop: &Shop, master: &str, subs: Vec<Value>, time: &str) -> Value {
    json!({"order_key": merchant_key(shop, master), "sub_orders": subs, "upload_time": time,
           "payer": {"openid": shop.openid}})
}

/// SPEC §10.5: the combined upload's rules in order, and all or nothing.
async fn a_combined_upload_ships_its_sub_orders_all_or_none(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let master = create_payment(&server, &shop, "C1", &["C1a", "C1b"]).await;
    server.sandbox.pay(&master).await.expect("pay");
    let single = create_payment(&server, &shop, "C2", &[]).await;
    server.sandbox.pay(&single).await.expect("pay");
    let other = create_payment(&server, &shop, "C3", &["C3a"]).await;
    server.sandbox.pay(&other).await.expect("pay");
    let post = |b: Value| {
        let (server, token) = (&server, shop.token.clone());
        async move { errcode_and_msg(&server.raw_post(COMBINED, &token, b.to_string()).await) }
    };
    let both = || vec![sub(&shop, "C1a", "SF1"), sub(&shop, "C1b", "SF2")];

    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, i64, &str)> = vec![
        (
            "no sub_orders",
            Box::new(|b| b["sub_orders"] = json!([])),
            10060014,
            "参数错误: sub_orders has 0 entries",
        ),
        (
            "51 sub_orders",
            Box::new(|b| b["sub_orders"] = json!(vec![json!({}); 51])),
            10060014,
            "参数错误: sub_orders has 51 entries",
        ),
        (
            "a sub without type",
            Box::new(|b| b["sub_orders"][1]["order_key"] = json!({})),
            268485194,
            "订单单号类型非法 (sub_orders[1].order_key.order_number_type)",
        ),
        (
            "a sub of the other type",
            Box::new(|b| {
                b["sub_orders"][1]["order_key"] =
                    json!({"order_number_type": 2, "transaction_id": "42"})
            }),
            268485253,
            "主单的订单单号类型与子单的单号类型不一致 (sub_orders[1].order_key)",
        ),
        (
            "a sub without out_trade_no",
            Box::new(|b| {
                b["sub_orders"][1]["order_key"]
                    .as_object_mut()
                    .map(|o| o.remove("out_trade_no"));
            }),
            268485197,
            "商户侧单号形式下 out_trade_no 字段必须设置",
        ),
        (
            "a repeated sub",
            Box::new(|b| b["sub_orders"][1]["order_key"]["out_trade_no"] = json!("C1a")),
            10060013,
            "子单单号重复 (sub_orders[1].order_key)",
        ),
        (
            "a sub without item_desc",
            Box::new(|b| b["sub_orders"][1]["shipping_list"][0]["item_desc"] = json!(null)),
            10060008,
            "商品描述 item_desc 字段不能为空 (sub_orders[1].shipping_list[0].item_desc)",
        ),
        (
            "a sub split, not courier",
            Box::new(|b| {
                b["sub_orders"][0]["delivery_mode"] = json!(2);
                b["sub_orders"][0]["logistics_type"] = json!(2);
            }),
            10060006,
            "非快递发货时不允许分拆发货 (sub_orders[0].delivery_mode)",
        ),
        (
            "a single payment as master",
            Box::new(|b| b["order_key"]["out_trade_no"] = json!("C2")),
            10060001,
            "支付单不存在",
        ),
        (
            "a sub-order as master",
            Box::new(|b| b["order_key"]["out_trade_no"] = json!("C1a")),
            10060001,
            "支付单不存在",
        ),
        (
            "another payer",
            Box::new(|b| b["payer"]["openid"] = json!("o_else")),
            10060031,
            "该笔支付单不属于",
        ),
        (
            "another master's sub",
            Box::new(|b| b["sub_orders"][1]["order_key"]["out_trade_no"] = json!("C3a")),
            10060014,
            "参数错误: sub_orders[1].order_key (mchid",
        ),
    ];
    for (case, edit, code, prefix) in cases {
        let mut b = combined(&shop, "C1", both(), T[0]);
        edit(&mut b);
        let (got, msg) = post(b).await;
        assert_eq!(got, code, "{case}: {msg}");
        assert!(
            msg.starts_with(prefix),
            "{case}: {msg:?} should start with {prefix:?}"
        );
    }
    assert_eq!(
        order_of(&server, &shop, "C1a").await["shipping"],
        json!({}),
        "nothing stored"
    );

    // One sub-order alone, then both: the shipped one is unchanged and skipped.
    assert_eq!(
        post(combined(&shop, "C1", vec![sub(&shop, "C1a", "SF1")], T[0]))
            .await
            .0,
        0
    );
    assert_eq!(order_of(&server, &shop, "C1a").await["order_state"], 2);
    assert_eq!(order_of(&server, &shop, "C1b").await["order_state"], 1);
    assert_eq!(post(combined(&shop, "C1", both(), T[1])).await.0, 0);
    assert_eq!(
        order_of(&server, &shop, "C1b").await["shipping"]["shipping_list"][0]["tracking_no"],
        "SF2"
    );
    assert_eq!(
        post(combined(&shop, "C1", both(), T[2])).await.0,
        10060023,
        "all unchanged"
    );

    // All or none: a refunded sub-order refuses the whole upload.
    let master = create_payment(&server, &shop, "C4", &["C4a", "C4b"]).await;
    let paid = server.sandbox.pay(&master).await.expect("pay");
    assert_eq!(paid.sub_orders.len(), 2);
    server.sandbox.refund(&master).await.expect("refund");
    let subs = vec![sub(&shop, "C4a", "SF4"), sub(&shop, "C4b", "SF5")];
    assert_eq!(post(combined(&shop, "C4", subs, T[0])).await.0, 10060004);
    assert_eq!(order_of(&server, &shop, "C4a").await["shipping"], json!({}));
}

const LIST: &str = "/wxa/sec/order/get_order_list";

fn ids(page: &Value) -> Vec<String> {
    page["order_list"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|o| {
                    o["merchant_trade_no"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// SPEC §10.7: pages by (pay_time, transaction_id) with last_index while new payments
/// arrive, every filter, and every refusal.
async fn the_order_list_pages_and_filters(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let list = |b: Value| {
        let (server, shop) = (&server, &shop);
        async move {
            server
                .raw_post(LIST, &token(server, shop).await, b.to_string())
                .await
        }
    };
    // L0..L4 paid a second apart; L2 shipped; a combined payment's master never listed.
    let mut paid_ids = Vec::new();
    for i in 0..5 {
        let txid = create_payment(&server, &shop, &format!("L{i}"), &[]).await;
        server.sandbox.pay(&txid).await.expect("pay");
        server.sandbox.advance_clock(1).await.expect("clock");
        paid_ids.push(txid);
    }
    let ship = body(&shop, "L2", json!(1), vec![parcel("SF1", "书")], T[0]);
    assert_eq!(
        server
            .raw_post(UPLOAD, &token(&server, &shop).await, ship.to_string())
            .await["errcode"],
        0
    );

    let first = list(json!({"page_size": 2})).await;
    assert_eq!(first["errcode"], 0, "{first}");
    assert_eq!(ids(&first), ["L0", "L1"]);
    assert_eq!(first["has_more"], true);
    let index = first["last_index"].as_str().expect("index").to_owned();
    assert!(
        index
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{index}"
    );

    // A payment arriving now comes after everything listed so far.
    let late = create_payment(&server, &shop, "L5", &[]).await;
    server.sandbox.pay(&late).await.expect("pay");
    let second = list(json!({"page_size": 2, "last_index": index})).await;
    assert_eq!(ids(&second), ["L2", "L3"]);
    assert_eq!(second["order_list"][0]["order_state"], 2);
    let third = list(json!({"page_size": 2, "last_index": second["last_index"]})).await;
    assert_eq!(ids(&third), ["L4", "L5"]);
    assert_eq!(third["has_more"], false);
    let empty = list(json!({"page_size": 2, "last_index": third["last_index"]})).await;
    assert_eq!(ids(&empty), Vec::<String>::new());
    assert_eq!(
        empty["last_index"], third["last_index"],
        "an empty page echoes the cursor"
    );
    assert_eq!(
        list(json!({})).await["order_list"].as_array().map(Vec::len),
        Some(6)
    );

    // Filters: state as of now, payer, pay time.
    assert_eq!(ids(&list(json!({"order_state": 2})).await), ["L2"]);
    assert_eq!(
        ids(&list(json!({"order_state": 0, "page_size": 0})).await).len(),
        6
    );
    assert_eq!(ids(&list(json!({"openid": "o_nobody"})).await).len(), 0);
    assert_eq!(ids(&list(json!({"openid": shop.openid})).await).len(), 6);
    // Bounds taken from L4's own pay time: L3 was paid at least a second before it, L5
    // at or after it, however many real seconds the calls between took.
    let paid = server
        .sandbox
        .payment(&paid_ids[4])
        .await
        .expect("payment")
        .paid_at
        .expect("paid");
    assert_eq!(
        ids(&list(json!({"pay_time_range": {"begin_time": paid}})).await),
        ["L4", "L5"]
    );
    assert_eq!(
        ids(&list(json!({"pay_time_range": {"end_time": paid - 1}})).await),
        ["L0", "L1", "L2", "L3"]
    );

    // Refusals, in order.
    for (b, code, prefix) in [
        (
            json!({"pay_time_range": {"begin_time": -1}}),
            10060014,
            "参数错误: pay_time_range.begin_time is -1",
        ),
        (
            json!({"order_state": 7}),
            10060014,
            "参数错误: order_state is 7",
        ),
        (
            json!({"openid": "o".repeat(129)}),
            10060014,
            "参数错误: openid is 129 bytes",
        ),
        (
            json!({"page_size": -1}),
            10060014,
            "参数错误: page_size is -1",
        ),
        (json!({"last_index": "zz"}), 10060011, "last_index不合法"),
        (
            json!({"last_index": format!("{}00", &index[..index.len() - 2])}),
            10060011,
            "last_index不合法",
        ),
    ] {
        let answer = list(b.clone()).await;
        let (got, msg) = errcode_and_msg(&answer);
        assert_eq!(got, code, "{b}: {msg}");
        assert!(msg.starts_with(prefix), "{b}: {msg}");
    }
    let other = server.shop().await;
    let stolen = json!({"last_index": index}).to_string();
    let answer = server.raw_post(LIST, &other.token, stolen).await;
    assert_eq!(errcode(&answer), 10060011, "another app's cursor: {answer}");
}

/// SPEC §10.12: the payer's confirm-receipt moves a shipped order to 3 at once; settlement
/// follows a day later (4). Another openid fails; an order not shipped cancels.
async fn the_payer_confirms_receipt(backend: Backend) {
    use userorder_model::sandbox::ConfirmStatus;
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let txid = create_payment(&server, &shop, "K1", &[]).await;
    server.sandbox.pay(&txid).await.expect("pay");
    let confirm = |openid: Option<String>| {
        let (server, txid) = (&server, txid.clone());
        async move {
            server
                .sandbox
                .confirm_receipt(&txid, openid.as_deref())
                .await
        }
    };
    assert_eq!(
        confirm(None).await.expect("confirm"),
        ConfirmStatus::Cancel,
        "not shipped"
    );
    let ship = body(&shop, "K1", json!(1), vec![parcel("SF1", "书")], T[0]);
    assert_eq!(
        server.raw_post(UPLOAD, &shop.token, ship.to_string()).await["errcode"],
        0
    );
    assert_eq!(
        confirm(Some("o_someone_else".into()))
            .await
            .expect("confirm"),
        ConfirmStatus::Fail
    );
    assert_eq!(order_of(&server, &shop, "K1").await["order_state"], 2);
    assert_eq!(
        confirm(Some(shop.openid.clone())).await.expect("confirm"),
        ConfirmStatus::Success
    );
    assert_eq!(order_of(&server, &shop, "K1").await["order_state"], 3);
    assert_eq!(
        confirm(None).await.expect("confirm"),
        ConfirmStatus::Cancel,
        "once"
    );
    server.sandbox.advance_clock(86_400).await.expect("clock");
    assert_eq!(order_of(&server, &shop, "K1").await["order_state"], 4);
    let missing = server
        .sandbox
        .confirm_receipt("4200000000000000000000000000", None)
        .await;
    assert!(
        matches!(
            missing,
            Err(userorder_client::Error::Sandbox { status: 404, .. })
        ),
        "{missing:?}"
    );
}

on_every_backend!(
    the_payer_confirms_receipt,
    the_order_list_pages_and_filters,
    a_combined_upload_ships_its_sub_orders_all_or_none,
    racing_uploads_for_one_order_are_judged_one_at_a_time,
    every_rule_of_a_shipping_upload_answers_its_errcode,
    an_order_walks_its_states_on_the_sandbox_clock,
    other_deliveries_confirm_sooner,
);
