//! Uploads one order's shopping details and verifies it, as a merchant's server would.
//!
//! Against `userorder serve --demo` (it prints the values):
//! USERORDER_BASE_URL=http://127.0.0.1:8080 USERORDER_APPID=wx… USERORDER_SECRET=… \
//! USERORDER_MCHID=… USERORDER_OPENID=o… cargo run -p userorder-client --example upload

use userorder_client::{AppClient, Client};
use userorder_model::wire::{UploadShoppingInfoIn, VerifyIn};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base =
        std::env::var("USERORDER_BASE_URL").unwrap_or_else(|_| "https://api.weixin.qq.com".into());
    let app = AppClient::new(
        Client::new(base),
        env("USERORDER_APPID"),
        env("USERORDER_SECRET"),
    );
    let (mchid, openid) = (env("USERORDER_MCHID"), env("USERORDER_OPENID"));
    let body: UploadShoppingInfoIn = serde_json::from_value(serde_json::json!({
        "order_key": {"order_number_type": "MERCHANT_TRADE_NUMBER", "mchid": mchid, "out_trade_no": "EXAMPLE-0001"},
        "order_list": [{
            "merchant_order_no": "EXAMPLE-0001",
            "order_detail_jump_link": {"type": "URL", "url": "https://shop.example.com/orders/EXAMPLE-0001"},
            "item_list": [{"name": "Example item", "unit_price": 1990, "quantity": 1,
                           "image_url": ["https://img.example.com/example.png"],
                           "item_detail_jump_link": {"type": "URL", "url": "https://shop.example.com/items/1"}}]
        }],
        "payer": {"openid": openid},
        "upload_time": "2026-11-26T10:00:00+08:00"
    }))?;
    app.upload_shopping_info(&body).await?;
    let verify: VerifyIn = serde_json::from_value(serde_json::json!({
        "order_key": body.order_key, "payer": {"openid": openid}
    }))?;
    println!("uploaded; verify_result = {:?}", app.verify(&verify).await?);
    Ok(())
}
