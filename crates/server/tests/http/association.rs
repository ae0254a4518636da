//! State rules (SPEC §5.4): ordering by upload_time, safe retry, association with a paid
//! payment whichever comes second, and the lock that follows.

use serde_json::{Value, json};
use userorder_model::ErrCode;

use crate::common::*;

async fn stored(server: &TestServer, shop: &Shop) -> Vec<Value> {
    orders_json(&server.sandbox, &shop.appid).await
}

async fn upload_then_pay_associates_and_locks(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let txid = create_payment(&server, &shop, "A1", &[]).await;
    let body = single_body(&shop, "A1", T0);
    server
        .client
        .upload_shopping_info(&shop.token, &body)
        .await
        .expect("upload");
    let before = stored(&server, &shop).await;
    assert_eq!(before[0]["verify_result"], "NOT_PAID");
    assert!(before[0]["associated_at"].is_null());

    let paid = server.sandbox.pay(&txid).await.expect("pay");
    assert_eq!(text(&paid, "state"), "SUCCESS");
    let after = stored(&server, &shop).await;
    assert_eq!(after[0]["verify_result"], "ASSOCIATED");
    assert_eq!(after[0]["transaction_id"], json!(txid));

    // Locked: a later upload is refused, the identical retry still answers 0.
    let later = single_body(&shop, "A1", T1);
    let result = server
        .client
        .upload_shopping_info(&shop.token, &later)
        .await;
    assert_refused(
        result,
        ErrCode::INVALID_PARAMETER,
        "参数错误: order is already associated with its payment and can no longer be modified",
        "locked",
    );
    server
        .client
        .upload_shopping_info(&shop.token, &body)
        .await
        .expect("identical retry after lock");
    assert_eq!(stored(&server, &shop).await[0]["version"], 1);
}

async fn pay_then_upload_associates_a_combined_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let txid = create_payment(&server, &shop, "C1", &["C1a", "C1b"]).await;
    server.sandbox.pay(&txid).await.expect("pay");
    // Different sub-order keys: not associated.
    let wrong = combined_body(&shop, "C1", &["C1a", "C1x"], T0);
    server
        .client
        .upload_combined_shopping_info(&shop.token, &wrong)
        .await
        .expect("upload");
    assert_eq!(
        stored(&server, &shop).await[0]["verify_result"],
        "ORDER_MISMATCH"
    );
    // The right ones, later: associated at once.
    let right = combined_body(&shop, "C1", &["C1b", "C1a"], T1);
    server
        .client
        .upload_combined_shopping_info(&shop.token, &right)
        .await
        .expect("upload");
    let order = &stored(&server, &shop).await[0];
    assert_eq!(order["verify_result"], "ASSOCIATED");
    assert_eq!(order["version"], 2);
    assert_eq!(order["sub_orders"].as_array().map(Vec::len), Some(2));
}

async fn a_payment_by_another_payer_does_not_associate(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let stranger = server
        .sandbox
        .create_openid(&shop.appid, None)
        .await
        .expect("openid");
    let created = server
        .sandbox
        .create_payment(&json!({"appid": shop.appid, "openid": stranger, "mchid": shop.mchid, "out_trade_no": "P1", "amount": 1}))
        .await
        .expect("payment");
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "P1", T0))
        .await
        .expect("upload");
    server
        .sandbox
        .pay(&text(&created, "transaction_id"))
        .await
        .expect("pay");
    let order = &stored(&server, &shop).await[0];
    assert_eq!(order["verify_result"], "PAYER_MISMATCH");
    assert!(order["associated_at"].is_null());
    // Not locked: the merchant can still correct it.
    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "P1", T1))
        .await
        .expect("still open");
}

async fn a_wxpay_key_upload_associates_by_transaction_id(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let txid = create_payment(&server, &shop, "W1", &[]).await;
    let mut body = single_body(&shop, "W1", T0);
    body["order_key"] = json!({"order_number_type": "WXPAY_TRADE_NUMBER", "transaction_id": txid});
    server
        .client
        .upload_shopping_info(&shop.token, &body)
        .await
        .expect("upload");
    server.sandbox.pay(&txid).await.expect("pay");
    assert_eq!(
        stored(&server, &shop).await[0]["verify_result"],
        "ASSOCIATED"
    );
}

async fn only_a_strictly_later_upload_replaces_and_an_identical_retry_answers_0(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let first = single_body(&shop, "O1", T1);
    server
        .client
        .upload_shopping_info(&shop.token, &first)
        .await
        .expect("first");
    server
        .client
        .upload_shopping_info(&shop.token, &first)
        .await
        .expect("identical retry");
    // The same body with enums by name is the same upload.
    let mut renamed = first.clone();
    renamed["logistics_type"] = json!("PHYSICAL_LOGISTICS");
    server
        .client
        .upload_shopping_info(&shop.token, &renamed)
        .await
        .expect("same upload, other spelling");

    let mut changed = first.clone();
    changed["order_list"][0]["merchant_order_no"] = json!("CHANGED");
    let same_time = server
        .client
        .upload_shopping_info(&shop.token, &changed)
        .await;
    assert_refused(
        same_time,
        ErrCode::INVALID_PARAMETER,
        "参数错误: upload_time is not later than the last accepted upload (2026-11-26T10:00:01.000+08:00)",
        "same time, other body",
    );
    changed["upload_time"] = json!(T0);
    let earlier = server
        .client
        .upload_shopping_info(&shop.token, &changed)
        .await;
    assert_refused(
        earlier,
        ErrCode::INVALID_PARAMETER,
        "参数错误: upload_time is not later",
        "earlier",
    );
    // The same instant written in another offset is not later either.
    changed["upload_time"] = json!("2026-11-26T02:00:01Z");
    let same_instant = server
        .client
        .upload_shopping_info(&shop.token, &changed)
        .await;
    assert_refused(
        same_instant,
        ErrCode::INVALID_PARAMETER,
        "参数错误: upload_time is not later",
        "same instant",
    );
    let order = &stored(&server, &shop).await[0];
    assert_eq!(order["order_list"][0]["merchant_order_no"], "MO-O1");
    assert_eq!(order["version"], 1);

    changed["upload_time"] = json!(T2);
    server
        .client
        .upload_shopping_info(&shop.token, &changed)
        .await
        .expect("later replaces");
    let order = &stored(&server, &shop).await[0];
    assert_eq!(order["order_list"][0]["merchant_order_no"], "CHANGED");
    assert_eq!(order["version"], 2);
}

on_every_backend!(
    upload_then_pay_associates_and_locks,
    pay_then_upload_associates_a_combined_order,
    a_payment_by_another_payer_does_not_associate,
    a_wxpay_key_upload_associates_by_transaction_id,
    only_a_strictly_later_upload_replaces_and_an_identical_retry_answers_0,
);
