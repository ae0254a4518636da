//! A real third-party client of order shipping management: the `wechat-mp-trade` crate
//! (with `wechat-mp-core`, base URL pointed at the spawned server), unmodified, uploads,
//! queries, lists, reminds and reports — and sees WeChat's errcodes as its own errors.

use wechat_mp_core::{Config, MpClient, MpError};
use wechat_mp_trade::{
    GetOrderListRequest, GetOrderRequest, NotifyConfirmReceiveRequest, OpSpecialOrderRequest,
    OrderKey, ShippingItem, TradeApi, UploadShippingInfoRequest, now_upload_time,
};

use crate::common::*;

async fn wechat_mp_trade_runs_unmodified(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let shipped = create_payment(&server, &shop, "M1", &[]).await;
    server.sandbox.pay(&shipped).await.expect("pay");
    let waiting = create_payment(&server, &shop, "M2", &[]).await;
    server.sandbox.pay(&waiting).await.expect("pay");

    let config = Config::new(&shop.appid, &shop.secret).with_base_url(&server.base);
    let trade = TradeApi::new(MpClient::new(config).expect("client"));
    assert!(trade.is_trade_managed(&shop.appid).await.expect("managed"));
    assert!(
        trade
            .is_trade_management_confirmation_completed(&shop.appid)
            .await
            .expect("completed")
    );

    let upload = UploadShippingInfoRequest::unified_express(
        OrderKey::by_transaction_id(&shipped),
        ShippingItem::express("SF1001", "SF", "书*1"),
        &shop.openid,
        now_upload_time(),
    );
    trade.upload_shipping_info(&upload).await.expect("upload");
    match trade.upload_shipping_info(&upload).await {
        Err(MpError::Api { code, message }) => {
            assert_eq!(code, 10060023, "{message}");
            assert!(message.starts_with("发货信息未更新"), "{message}");
        }
        other => panic!("a retry should answer 10060023: {other:?}"),
    }

    let order = trade
        .get_order(&GetOrderRequest::by_transaction_id(&shipped))
        .await
        .expect("get_order")
        .order;
    assert_eq!(order.order_state, Some(2));
    let shipping = order.shipping.expect("shipping");
    assert_eq!(shipping.finish_shipping, Some(true));
    assert_eq!(shipping.shipping_list.len(), 1);

    let list = trade
        .get_order_list(&GetOrderListRequest {
            order_state: Some(1),
            ..GetOrderListRequest::default()
        })
        .await
        .expect("list");
    let ids: Vec<_> = list
        .order_list
        .iter()
        .filter_map(|o| o.transaction_id.clone())
        .collect();
    assert_eq!(ids, vec![waiting.clone()], "only the order still to ship");
    assert_eq!(list.has_more, Some(false));

    trade
        .op_special_order(&OpSpecialOrderRequest::test_order(&waiting))
        .await
        .expect("a test order");
    let shipped_at = server.sandbox.clock().await.expect("clock").unix;
    server.sandbox.advance_clock(3600).await.expect("clock");
    trade
        .notify_confirm_receive(&NotifyConfirmReceiveRequest::by_transaction_id(
            &shipped,
            shipped_at + 60,
        ))
        .await
        .expect("remind");
    match trade
        .notify_confirm_receive(&NotifyConfirmReceiveRequest::by_transaction_id(
            &shipped,
            shipped_at + 60,
        ))
        .await
    {
        Err(MpError::Api { code, .. }) => assert_eq!(code, 10060030),
        other => panic!("a second reminder should answer 10060030: {other:?}"),
    }
}

on_every_backend!(wechat_mp_trade_runs_unmodified);
