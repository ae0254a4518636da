//! `serve --demo`: seeds an app, a merchant, a payer and three payments through the
//! sandbox API, and drives the running server through its WeChat API (both with the
//! project's SDK, as any integrator would) so that the bill and the console show real orders: a paid, shipped combined order, a paid single order, and an
//! unpaid combined payment whose upload and payment the printed curl lines perform.

use std::net::SocketAddr;

use anyhow::Context;
use rand::Rng;
use serde_json::{Value, json};
use userorder_client::{Client, Sandbox};
use userorder_model::sandbox::{NewAppIn, NewPaymentIn, SubPaymentIn};
use userorder_model::wire::EnvelopeOut;

pub fn random_hex(bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.r#gen::<u8>()))
        .collect()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn item(appid: &str, id: &str, name: &str, description: &str, price: i64, quantity: i64) -> Value {
    json!({
        "merchant_item_id": id,
        "name": name,
        "description": description,
        "unit_price": price,
        "quantity": quantity,
        "image_url": [format!("https://img.example.com/{id}.png")],
        "item_detail_jump_link": {"type": "MINI_PROGRAM", "appid": appid, "path": format!("/pages/item/index?id={id}")}
    })
}

fn key(mchid: &str, out_trade_no: &str) -> Value {
    json!({"order_number_type": 1, "mchid": mchid, "out_trade_no": out_trade_no})
}

/// Seeds the identities and payments, uploads, pays and ships, all over HTTP once the
/// server answers; prints what to open and what to paste.
pub async fn seed_and_print(addr: SocketAddr, admin: String) -> anyhow::Result<()> {
    let base = format!("http://{addr}");
    let sandbox = Sandbox::new(&base, &admin);
    let app = sandbox
        .create_app(&NewAppIn {
            name: Some("Demo shop 演示商城".into()),
            ..NewAppIn::default()
        })
        .await
        .context("demo app")?;
    let appid = app.appid.clone();
    let mchid = sandbox.create_merchant(&[&appid]).await?;
    let payer = sandbox.create_openid(&appid, None).await?;
    let combined = |subs: Vec<i64>| NewPaymentIn {
        appid: appid.clone(),
        openid: payer.clone(),
        mchid: mchid.clone(),
        out_trade_no: None,
        amount: subs.iter().sum(),
        sub_orders: Some(
            subs.into_iter()
                .map(|amount| SubPaymentIn {
                    mchid: mchid.clone(),
                    out_trade_no: None,
                    amount,
                })
                .collect(),
        ),
        excluded_from_shipping: false,
    };
    let shipped = sandbox
        .create_payment(&combined(vec![1_657_600 + 5_900, 9_900]))
        .await?;
    let single = sandbox
        .create_payment(&NewPaymentIn {
            sub_orders: None,
            amount: 12_800,
            ..combined(vec![12_800])
        })
        .await?;
    let unpaid = sandbox
        .create_payment(&combined(vec![25_800, 3_900]))
        .await?;

    let client = Client::new(&base);
    let token = client
        .token(&appid, &app.secret)
        .await
        .context("demo token")?
        .access_token;
    let [s1, s2] = shipped.sub_orders.as_slice() else {
        anyhow::bail!("the demo payment has two sub-payments");
    };
    let (s1, s2) = (&s1.keys, &s2.keys);
    let upload = json!({
        "order_key": key(&mchid, &shipped.keys.out_trade_no),
        "sub_orders": [
            {
                "order_key": key(&mchid, &s1.out_trade_no),
                "merchant_order_no": "DEMO-1001",
                "order_detail_jump_link": {"type": 1, "appid": appid, "path": "/pages/order/index?id=DEMO-1001"},
                "item_list": [
                    item(&appid, "sku-phone", "iPhone 256G 星光色", "Image形象店-深圳腾大", 828_800, 2),
                    item(&appid, "sku-case", "硅胶保护壳 Silicone case", "MagSafe", 5_900, 1)
                ],
                "logistics_type": "PHYSICAL_LOGISTICS"
            },
            {
                "order_key": key(&mchid, &s2.out_trade_no),
                "merchant_order_no": "DEMO-1002",
                "order_detail_jump_link": {"type": "URL", "url": "https://shop.example.com/orders/DEMO-1002"},
                "item_list": [item(&appid, "sku-vip", "会员月卡 Monthly membership", "30 days", 9_900, 1)],
                "logistics_type": "VIRTUAL_GOODS"
            }
        ],
        "payer": {"openid": payer},
        "upload_time": now_rfc3339()
    });
    client
        .upload_combined_shopping_info(&token, &upload)
        .await
        .context("demo upload")?;
    sandbox.pay(&shipped.keys.transaction_id).await?;
    let shipping = json!({
        "order_key": key(&mchid, &shipped.keys.out_trade_no),
        "sub_orders": [{
            "order_key": key(&mchid, &s1.out_trade_no),
            "delivery_mode": "SPLIT_DELIVERY",
            "shipping_list": [
                {"tracking_no": "SF1402837465", "express_company": "SF", "item_list": [{"merchant_item_id": "sku-phone"}]},
                {"tracking_no": "YT8800231177", "express_company": "YTO", "item_list": [{"merchant_item_id": "sku-case"}]}
            ]
        }],
        "upload_time": now_rfc3339()
    });
    client
        .post::<EnvelopeOut>("/user-order/combine-orders/shippings", &token, &shipping)
        .await
        .context("demo shipping")?;
    let single_upload = json!({
        "order_key": key(&mchid, &single.keys.out_trade_no),
        "order_list": [{
            "merchant_order_no": "DEMO-1003",
            "order_detail_jump_link": {"type": "URL", "url": "https://shop.example.com/orders/DEMO-1003"},
            "item_list": [item(&appid, "sku-beans", "咖啡豆 Coffee beans 1kg", "Yunnan, medium roast", 12_800, 1)]
        }],
        "payer": {"openid": payer},
        "logistics_type": "LOCATION_BASED_LOGISTICS",
        "upload_time": now_rfc3339()
    });
    client
        .upload_shopping_info(&token, &single_upload)
        .await
        .context("demo single upload")?;
    sandbox.pay(&single.keys.transaction_id).await?;

    let [u1, u2] = unpaid.sub_orders.as_slice() else {
        anyhow::bail!("the demo payment has two sub-payments");
    };
    let (u1, u2) = (&u1.keys, &u2.keys);
    let unpaid_upload = json!({
        "order_key": key(&mchid, &unpaid.keys.out_trade_no),
        "sub_orders": [
            {"order_key": key(&mchid, &u1.out_trade_no), "merchant_order_no": "DEMO-2001",
             "order_detail_jump_link": {"type": "URL", "url": "https://shop.example.com/orders/DEMO-2001"},
             "item_list": [item(&appid, "sku-tea", "龙井茶 Longjing tea", "250 g", 25_800, 1)]},
            {"order_key": key(&mchid, &u2.out_trade_no), "merchant_order_no": "DEMO-2002",
             "order_detail_jump_link": {"type": "URL", "url": "https://shop.example.com/orders/DEMO-2002"},
             "item_list": [item(&appid, "sku-cup", "茶杯 Tea cup", "Porcelain", 3_900, 1)]}
        ],
        "payer": {"openid": payer},
        "upload_time": now_rfc3339()
    });

    println!("demo data (sandbox):");
    println!("  appid           {appid}");
    println!("  secret          {}", app.secret);
    println!("  mchid           {mchid}");
    println!("  payer openid    {payer}");
    println!(
        "  paid + shipped  {} (combined, 2 sub-orders)",
        shipped.keys.transaction_id
    );
    println!("  paid            {} (single)", single.keys.transaction_id);
    println!(
        "  unpaid          {} (combined, NOTPAY; the curls below upload and pay it)",
        unpaid.keys.transaction_id
    );
    println!();
    println!(
        "# the payer's bill: open {base}/bill/login and sign in with the appid and openid above"
    );
    println!("# the console:      open {base}/console/login and sign in with the admin token");
    println!();
    println!("# 1. fetch an access_token");
    println!(
        "TOKEN=$(curl -s '{base}/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={}' | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
        app.secret
    );
    println!("# 2. upload the unpaid combined order's shopping details");
    println!(
        "curl -s -X POST \"{base}/user-order/combine-orders?access_token=$TOKEN\" -d '{unpaid_upload}'"
    );
    println!("# 3. pay it, then see the upload associated");
    println!(
        "curl -s -X POST -H 'Authorization: Bearer {admin}' {base}/sandbox/payments/{}/pay",
        unpaid.keys.transaction_id
    );
    println!("curl -s -H 'Authorization: Bearer {admin}' '{base}/sandbox/orders?appid={appid}'");
    Ok(())
}
