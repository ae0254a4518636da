//! Shipping uploads (SPEC §6.1) and verify (SPEC §6.2).

use serde_json::{Value, json};
use userorder_model::ErrCode;

use crate::common::*;

const SHIPPINGS: &str = "/user-order/orders/shippings";
const COMBINED_SHIPPINGS: &str = "/user-order/combine-orders/shippings";

fn parcel(tracking_no: &str, items: &[&str]) -> Value {
    let item_list: Vec<Value> = items
        .iter()
        .map(|id| json!({"merchant_item_id": id}))
        .collect();
    json!({"tracking_no": tracking_no, "express_company": "SF", "item_list": item_list,
           "contact": {"receiver_contact": "138****0000"}})
}

fn shipping_body(
    shop: &Shop,
    out_trade_no: &str,
    mode: Value,
    parcels: Vec<Value>,
    upload_time: &str,
) -> Value {
    json!({
        "order_key": merchant_key(shop, out_trade_no),
        "delivery_mode": mode,
        "shipping_list": parcels,
        "payer": {"openid": shop.openid},
        "upload_time": upload_time
    })
}

async fn ship(
    server: &TestServer,
    shop: &Shop,
    path: &str,
    body: &Value,
) -> Result<(), userorder_client::Error> {
    server
        .client
        .post::<Value>(path, &shop.token, body)
        .await
        .map(drop)
}

async fn verify(server: &TestServer, shop: &Shop, key: Value, openid: &str) -> String {
    let answer: Value = server
        .client
        .post(
            "/user-order/shoppinginfo/verify",
            &shop.token,
            &json!({"order_key": key, "payer": {"openid": openid}}),
        )
        .await
        .expect("verify");
    text(&answer, "verify_result")
}

async fn shipping_needs_shopping_details_and_a_completed_payment(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let body = shipping_body(&shop, "S1", json!(1), vec![parcel("SF100", &[])], T0);
    let result = ship(&server, &shop, SHIPPINGS, &body).await;
    assert_refused(
        result,
        ErrCode::INVALID_PARAMETER,
        "参数错误: no shopping details were uploaded for order_key",
        "before the upload",
    );

    let txid = create_payment(&server, &shop, "S1", &[]).await;
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "S1", T0))
        .await
        .expect("upload");
    let result = ship(&server, &shop, SHIPPINGS, &body).await;
    assert_refused(
        result,
        ErrCode::INVALID_PARAMETER,
        "参数错误: the payment of order_key (mchid",
        "before payment",
    );

    server.sandbox.pay(&txid).await.expect("pay");
    ship(&server, &shop, SHIPPINGS, &body)
        .await
        .expect("after payment");
    ship(&server, &shop, SHIPPINGS, &body)
        .await
        .expect("identical retry");
    let result = ship(&server, &shop, COMBINED_SHIPPINGS, &json!({
        "order_key": merchant_key(&shop, "S1"),
        "sub_orders": [{"order_key": merchant_key(&shop, "S1x"), "delivery_mode": 1, "shipping_list": [parcel("SF1", &[])]}],
        "upload_time": T1
    })).await;
    assert_refused(
        result,
        ErrCode::INVALID_PARAMETER,
        "参数错误: order_key (mchid",
        "a single order on the combined endpoint",
    );

    // Ordering is tracked apart from the shopping details: T0 again but another body is stale.
    let stale = shipping_body(&shop, "S1", json!(1), vec![parcel("SF999", &[])], T0);
    let result = ship(&server, &shop, SHIPPINGS, &stale).await;
    assert_refused(
        result,
        ErrCode::INVALID_PARAMETER,
        "参数错误: upload_time is not later",
        "stale shipping",
    );
    let split = shipping_body(
        &shop,
        "S1",
        json!("SPLIT_DELIVERY"),
        vec![parcel("SF200", &["item-0"]), parcel("SF201", &["item-1"])],
        T1,
    );
    ship(&server, &shop, SHIPPINGS, &split)
        .await
        .expect("a later split delivery");

    let orders = server
        .sandbox
        .get::<Value>(&format!("/orders?appid={}&history=true", shop.appid))
        .await
        .expect("orders");
    let order = &orders["orders"][0];
    assert_eq!(order["shipping"]["version"], 2);
    assert_eq!(
        order["shipping"]["orders"][0]["delivery_mode"],
        "SPLIT_DELIVERY"
    );
    assert_eq!(
        order["shipping"]["orders"][0]["shipping_list"][1]["tracking_no"],
        "SF201"
    );
    let history = order["shipping_versions"].as_array().expect("history");
    assert_eq!(history.len(), 2, "every accepted version is kept");
    assert_eq!(
        history[0]["info"]["orders"][0]["shipping_list"][0]["tracking_no"],
        "SF100"
    );
    assert_eq!(order["versions"].as_array().map(Vec::len), Some(1));
}

async fn every_shipping_rule_answers_its_errcode(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let txid = create_payment(&server, &shop, "S2", &[]).await;
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "S2", T0))
        .await
        .expect("upload");
    server.sandbox.pay(&txid).await.expect("pay");
    let cases: Vec<(&str, Value, i64, &str)> = vec![
        (
            "delivery_mode absent",
            json!(null),
            268485224,
            "发货模式非法",
        ),
        ("delivery_mode 3", json!(3), 268485224, "发货模式非法"),
        (
            "delivery_mode unknown name",
            json!("DRONE"),
            268485224,
            "发货模式非法",
        ),
    ];
    for (case, mode, code, prefix) in cases {
        let body = shipping_body(&shop, "S2", mode, vec![parcel("SF1", &[])], T1);
        assert_refused(
            ship(&server, &shop, SHIPPINGS, &body).await,
            ErrCode(code),
            prefix,
            case,
        );
    }
    let rows: Vec<(&str, Value, Vec<Value>, i64, &str)> = vec![
        (
            "UNIFIED with two parcels",
            json!(1),
            vec![parcel("A", &[]), parcel("B", &[])],
            268485228,
            "统一发货模式下,物流信息列表长度必须为1",
        ),
        (
            "UNIFIED with none",
            json!(1),
            vec![],
            268485228,
            "统一发货模式下,物流信息列表长度必须为1",
        ),
        (
            "SPLIT with none",
            json!(2),
            vec![],
            268435461,
            "参数错误: shipping_list has 0 entries",
        ),
        (
            "SPLIT with 11 parcels",
            json!(2),
            (0..11)
                .map(|i| parcel(&format!("P{i}"), &["item-0"]))
                .collect(),
            268435461,
            "参数错误: shipping_list has 11 entries",
        ),
        (
            "tracking_no empty",
            json!(1),
            vec![json!({"tracking_no": "", "express_company": "SF"})],
            268485226,
            "物流单号不能为空",
        ),
        (
            "tracking_no over 128 bytes",
            json!(1),
            vec![json!({"tracking_no": "x".repeat(129), "express_company": "SF"})],
            268485226,
            "物流单号不能为空",
        ),
        (
            "express_company absent",
            json!(1),
            vec![json!({"tracking_no": "SF1"})],
            268485227,
            "物流公司编码不能为空",
        ),
        (
            "SPLIT parcel without items",
            json!(2),
            vec![parcel("A", &["item-0"]), parcel("B", &[])],
            268435461,
            "参数错误: shipping_list[1].item_list is empty",
        ),
        (
            "SPLIT with an unknown item",
            json!(2),
            vec![parcel("A", &["item-0"]), parcel("B", &["item-9"])],
            268435461,
            "参数错误: shipping_list[1].item_list[0].merchant_item_id \"item-9\" was not uploaded",
        ),
        (
            "empty merchant_item_id",
            json!(2),
            vec![json!({"tracking_no": "A", "express_company": "SF", "item_list": [{}]})],
            268435461,
            "参数错误: shipping_list[0].item_list[0].merchant_item_id is 0 bytes",
        ),
    ];
    for (case, mode, parcels, code, prefix) in rows {
        let body = shipping_body(&shop, "S2", mode, parcels, T1);
        assert_refused(
            ship(&server, &shop, SHIPPINGS, &body).await,
            ErrCode(code),
            prefix,
            case,
        );
    }
    let mut other_payer = shipping_body(&shop, "S2", json!(1), vec![parcel("A", &[])], T1);
    other_payer["payer"]["openid"] = json!(
        server
            .sandbox
            .create_openid(&shop.appid, None)
            .await
            .expect("openid")
    );
    assert_refused(
        ship(&server, &shop, SHIPPINGS, &other_payer).await,
        ErrCode::INVALID_PARAMETER,
        "参数错误: payer.openid differs",
        "payer differs",
    );
    let mut no_time = shipping_body(&shop, "S2", json!(1), vec![parcel("A", &[])], T1);
    no_time["upload_time"] = Value::Null;
    assert_refused(
        ship(&server, &shop, SHIPPINGS, &no_time).await,
        ErrCode::UPLOAD_TIME_NOT_SET,
        "上传时间必须填写",
        "no upload_time",
    );

    // The same order named by transaction_id: the shopping details used the merchant key.
    let mut by_txid = shipping_body(&shop, "S2", json!(1), vec![parcel("A", &[])], T1);
    by_txid["order_key"] = json!({"order_number_type": 2, "transaction_id": txid});
    assert_refused(
        ship(&server, &shop, SHIPPINGS, &by_txid).await,
        ErrCode::INVALID_PARAMETER,
        "参数错误: order_key is a WXPAY_TRADE_NUMBER key but the shopping details were uploaded with a MERCHANT_TRADE_NUMBER key",
        "key type differs",
    );
    let orders = orders_json(&server.sandbox, &shop.appid).await;
    assert!(
        orders[0]["shipping"].is_null(),
        "refused shipping stored nothing"
    );
}

async fn combined_shipping_names_sub_orders_of_the_combined_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let txid = create_payment(&server, &shop, "CM", &["CS1", "CS2"]).await;
    let mut upload = combined_body(&shop, "CM", &["CS1", "CS2"], T0);
    upload["sub_orders"][0]["item_list"][0]["merchant_item_id"] = json!("sku-a");
    server
        .client
        .upload_combined_shopping_info(&shop.token, &upload)
        .await
        .expect("upload");
    server.sandbox.pay(&txid).await.expect("pay");
    let body = |subs: Value| json!({"order_key": merchant_key(&shop, "CM"), "sub_orders": subs, "upload_time": T1});
    let stranger = body(
        json!([{"order_key": merchant_key(&shop, "CS9"), "delivery_mode": 1, "shipping_list": [parcel("A", &[])]}]),
    );
    assert_refused(
        ship(&server, &shop, COMBINED_SHIPPINGS, &stranger).await,
        ErrCode::INVALID_PARAMETER,
        "参数错误: sub_orders[0].order_key is not a sub-order",
        "unknown sub-order",
    );
    let other_type = body(
        json!([{"order_key": {"order_number_type": 2, "transaction_id": "1"}, "delivery_mode": 1, "shipping_list": [parcel("A", &[])]}]),
    );
    assert_refused(
        ship(&server, &shop, COMBINED_SHIPPINGS, &other_type).await,
        ErrCode::SUB_ORDER_TYPE_DIFFERS,
        "主单的订单单号类型与子单的单号类型不一致",
        "sub-order type",
    );
    let wrong_item = body(
        json!([{"order_key": merchant_key(&shop, "CS2"), "delivery_mode": 2, "shipping_list": [parcel("A", &["sku-a"])]}]),
    );
    assert_refused(
        ship(&server, &shop, COMBINED_SHIPPINGS, &wrong_item).await,
        ErrCode::INVALID_PARAMETER,
        "参数错误: sub_orders[0].shipping_list[0].item_list[0].merchant_item_id \"sku-a\" was not uploaded",
        "item of another sub-order",
    );
    let good = body(json!([
        {"order_key": merchant_key(&shop, "CS1"), "delivery_mode": "SPLIT_DELIVERY", "shipping_list": [parcel("YT1", &["sku-a"])]},
        {"order_key": merchant_key(&shop, "CS2"), "delivery_mode": "UNIFIED_DELIVERY", "shipping_list": [parcel("YT2", &[])]}
    ]));
    ship(&server, &shop, COMBINED_SHIPPINGS, &good)
        .await
        .expect("combined shipping");
    let orders = orders_json(&server.sandbox, &shop.appid).await;
    assert_eq!(
        orders[0]["shipping"]["orders"][1]["shipping_list"][0]["tracking_no"],
        "YT2"
    );
}

async fn verify_answers_every_result(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let key = merchant_key(&shop, "V1");
    assert_eq!(
        verify(&server, &shop, key.clone(), &shop.openid).await,
        "NOT_UPLOADED"
    );
    let txid = create_payment(&server, &shop, "V1", &[]).await;
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "V1", T0))
        .await
        .expect("upload");
    assert_eq!(
        verify(&server, &shop, key.clone(), &shop.openid).await,
        "NOT_PAID"
    );
    let stranger = server
        .sandbox
        .create_openid(&shop.appid, None)
        .await
        .expect("openid");
    assert_eq!(
        verify(&server, &shop, key.clone(), &stranger).await,
        "PAYER_MISMATCH"
    );
    server.sandbox.pay(&txid).await.expect("pay");
    assert_eq!(
        verify(&server, &shop, key.clone(), &shop.openid).await,
        "ASSOCIATED"
    );

    // A combined payment whose sub-orders differ from the upload's.
    let txid = create_payment(&server, &shop, "VM", &["VS1", "VS2"]).await;
    let upload = combined_body(&shop, "VM", &["VS1", "VS3"], T0);
    server
        .client
        .upload_combined_shopping_info(&shop.token, &upload)
        .await
        .expect("upload");
    server.sandbox.pay(&txid).await.expect("pay");
    assert_eq!(
        verify(&server, &shop, merchant_key(&shop, "VM"), &shop.openid).await,
        "ORDER_MISMATCH"
    );
    // The payment's payer differs from the upload's.
    let other = server
        .sandbox
        .create_payment(&json!({"appid": shop.appid, "openid": stranger, "mchid": shop.mchid, "out_trade_no": "V2", "amount": 1}))
        .await
        .expect("payment");
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "V2", T0))
        .await
        .expect("upload");
    server
        .sandbox
        .pay(&text(&other, "transaction_id"))
        .await
        .expect("pay");
    assert_eq!(
        verify(&server, &shop, merchant_key(&shop, "V2"), &shop.openid).await,
        "PAYER_MISMATCH"
    );

    let bad: Result<Value, _> = server
        .client
        .post(
            "/user-order/shoppinginfo/verify",
            &shop.token,
            &json!({"order_key": key}),
        )
        .await;
    assert_refused(
        bad.map(drop),
        ErrCode::PAYER_OPENID_EMPTY,
        "用户标识 openid 必须填写",
        "verify without payer",
    );
}

on_every_backend!(
    shipping_needs_shopping_details_and_a_completed_payment,
    every_shipping_rule_answers_its_errcode,
    combined_shipping_names_sub_orders_of_the_combined_order,
    verify_answers_every_result,
);
