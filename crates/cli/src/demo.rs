//! `serve --demo`: seeds one app, a merchant bound to it, a payer and an unpaid combined
//! payment through the sandbox's own functions, then prints curl lines that use them.

use std::net::SocketAddr;

use rand::Rng;
use serde_json::json;
use userorder_server::AppState;
use userorder_server::sandbox::{
    NewAppIn, NewMerchantIn, NewOpenIdIn, NewPaymentIn, SubPaymentIn, create_app, create_merchant,
    create_openid, create_payment,
};

pub fn random_hex(bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.r#gen::<u8>()))
        .collect()
}

pub async fn seed_and_print(state: &AppState, addr: SocketAddr, admin: &str) -> anyhow::Result<()> {
    let app = create_app(
        state,
        NewAppIn {
            name: Some("Demo shop".into()),
            ..NewAppIn::default()
        },
    )
    .await?;
    let merchant = create_merchant(
        state,
        NewMerchantIn {
            mchid: None,
            appids: vec![app.appid.clone()],
        },
    )
    .await?;
    let payer = create_openid(state, &app.appid, NewOpenIdIn::default()).await?;
    let payment = create_payment(
        state,
        NewPaymentIn {
            appid: app.appid.clone(),
            openid: payer.openid.clone(),
            mchid: merchant.mchid.clone(),
            out_trade_no: None,
            amount: 1_657_600 + 9_900,
            sub_orders: Some(vec![
                SubPaymentIn {
                    mchid: merchant.mchid.clone(),
                    out_trade_no: None,
                    amount: 1_657_600,
                },
                SubPaymentIn {
                    mchid: merchant.mchid.clone(),
                    out_trade_no: None,
                    amount: 9_900,
                },
            ]),
        },
    )
    .await?;

    let item = |name: &str, price: i64, quantity: i64, id: &str| {
        json!({
            "merchant_item_id": id,
            "name": name,
            "description": "演示商品 demo item",
            "unit_price": price,
            "quantity": quantity,
            "image_url": ["https://img.example.com/demo.png"],
            "item_detail_jump_link": {"type": "MINI_PROGRAM", "appid": app.appid, "path": "/pages/item/index"}
        })
    };
    let subs = &payment.sub_orders;
    let (first, second) = match subs.as_slice() {
        [a, b] => (a, b),
        _ => anyhow::bail!("the demo payment should have two sub-payments"),
    };
    let upload = json!({
        "order_key": {"order_number_type": 1, "mchid": payment.keys.mchid, "out_trade_no": payment.keys.out_trade_no},
        "sub_orders": [
            {
                "order_key": {"order_number_type": 1, "mchid": first.keys.mchid, "out_trade_no": first.keys.out_trade_no},
                "merchant_order_no": "DEMO-1",
                "order_detail_jump_link": {"type": 1, "appid": app.appid, "path": "/pages/order/index?id=DEMO-1"},
                "item_list": [item("iPhone 256G", 828_800, 2, "sku-1")],
                "logistics_type": "PHYSICAL_LOGISTICS"
            },
            {
                "order_key": {"order_number_type": 1, "mchid": second.keys.mchid, "out_trade_no": second.keys.out_trade_no},
                "merchant_order_no": "DEMO-2",
                "order_detail_jump_link": {"type": "URL", "url": "https://shop.example.com/orders/DEMO-2"},
                "item_list": [item("会员月卡 membership", 9_900, 1, "sku-2")],
                "logistics_type": "VIRTUAL_GOODS"
            }
        ],
        "payer": {"openid": payer.openid},
        "upload_time": time_now_rfc3339()
    });

    let base = format!("http://{addr}");
    println!("demo data (sandbox):");
    println!("  appid           {}", app.appid);
    println!("  secret          {}", app.secret);
    println!("  mchid           {}", merchant.mchid);
    println!("  payer openid    {}", payer.openid);
    println!(
        "  payment         {} (out_trade_no {}, state {}, {} sub-orders)",
        payment.keys.transaction_id,
        payment.keys.out_trade_no,
        payment.state,
        subs.len()
    );
    println!();
    println!("# 1. fetch an access_token");
    println!(
        "TOKEN=$(curl -s '{base}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}' | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
        app.appid, app.secret
    );
    println!("# 2. upload the combined order's shopping details");
    println!(
        "curl -s -X POST \"{base}/user-order/combine-orders?access_token=$TOKEN\" -d '{upload}'"
    );
    println!("# 3. pay it, then see the upload associated");
    println!(
        "curl -s -X POST -H 'Authorization: Bearer {admin}' {base}/sandbox/payments/{}/pay",
        payment.keys.transaction_id
    );
    println!(
        "curl -s -H 'Authorization: Bearer {admin}' '{base}/sandbox/orders?appid={}'",
        app.appid
    );
    Ok(())
}

fn time_now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
