//! The fuzz targets' smoke run on stable Rust: every seed the corpus was made from is
//! accepted (so fuzzing starts deep inside validation), and every corpus file, every seed and
//! every prefix of every seed is answered — accepted or refused with a registry errcode —
//! without a panic. `USERORDER_WRITE_CORPUS=1 cargo test -p userorder-model --test
//! fuzz_corpus` rewrites the seed files in `fuzz/corpus/`.

use std::path::PathBuf;

use serde_json::{Value, json};
use userorder_model::inbound::{Endpoint, FUZZ_APPID, FUZZ_KEY, FUZZ_NOW, fuzz_one, read};
use userorder_model::openid::OpenIdCodec;
use userorder_model::validate::Acting;

const T0: &str = "2026-11-26T10:00:00.123+08:00";

fn corpus_dir(endpoint: Endpoint) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(endpoint.name())
}

fn key(out_trade_no: &str) -> Value {
    json!({"order_number_type": 1, "mchid": "1900000109", "out_trade_no": out_trade_no})
}

fn item(n: usize) -> Value {
    json!({
        "merchant_item_id": format!("sku-{n}"),
        "name": format!("有机绿茶 Organic green tea {n}"),
        "description": "明前采摘 Picked before Qingming",
        "unit_price": 12800,
        "quantity": 2,
        "image_url": ["https://img.example.com/tea.jpg"],
        "item_detail_jump_link": {"type": "MINI_PROGRAM", "appid": FUZZ_APPID, "path": "/pages/item/index?id=1"}
    })
}

/// Bodies shaped like the HTTP tests' (`tests/http/common.rs`, `shipping.rs`).
fn seeds() -> Vec<(Endpoint, Value)> {
    let openid = OpenIdCodec::new(FUZZ_KEY).encode(FUZZ_APPID, 42);
    let sec_parcel = json!({"tracking_no": "SF1234567890", "express_company": "SF",
                            "item_desc": "有机绿茶 x2", "contact": {"receiver_contact": "189****1234"}});
    let parcel = json!({"tracking_no": "SF1234567890", "express_company": "SF",
                        "item_list": [{"merchant_item_id": "sku-0"}],
                        "contact": {"receiver_contact": "138****0000"}});
    let sub_orders: Vec<Value> = [1, 2]
        .iter()
        .map(|s| {
            json!({
                "order_key": key(&format!("C1-{s}")),
                "merchant_order_no": format!("MO-C1-{s}"),
                "order_detail_jump_link": {"type": "URL", "url": format!("https://shop.example.com/o/{s}")},
                "item_list": [item(*s)],
                "logistics_type": "VIRTUAL_GOODS"
            })
        })
        .collect();
    vec![
        (
            Endpoint::UploadShoppingInfo,
            json!({
                "order_key": key("M1"),
                "order_list": [{
                    "merchant_order_no": "MO-M1",
                    "order_detail_jump_link": {"type": 1, "appid": FUZZ_APPID, "path": "/pages/order/index"},
                    "item_list": [item(0), item(1)]
                }],
                "payer": {"openid": openid},
                "logistics_type": 1,
                "upload_time": T0
            }),
        ),
        (
            Endpoint::UploadCombinedShoppingInfo,
            json!({
                "order_key": key("C1"),
                "sub_orders": sub_orders,
                "payer": {"openid": openid},
                "upload_time": T0
            }),
        ),
        (
            Endpoint::UploadShippingInfo,
            json!({"order_key": key("M1"), "delivery_mode": 1, "shipping_list": [parcel],
                   "payer": {"openid": openid}, "upload_time": T0}),
        ),
        (
            Endpoint::UploadCombinedShippingInfo,
            json!({"order_key": key("C1"), "payer": {"openid": openid}, "upload_time": T0,
                   "sub_orders": [{"order_key": key("C1-1"), "delivery_mode": "UNIFIED_DELIVERY",
                                   "shipping_list": [parcel]}]}),
        ),
        (
            Endpoint::VerifyShoppingInfo,
            json!({"order_key": {"order_number_type": 2, "transaction_id": "4200000000202611260000000001"},
                   "payer": {"openid": openid}}),
        ),
        (
            Endpoint::StableToken,
            json!({"grant_type": "client_credential", "appid": FUZZ_APPID, "secret": "s", "force_refresh": false}),
        ),
        (
            Endpoint::ComponentToken,
            json!({"component_appid": "wxcomponent", "component_appsecret": "s", "component_verify_ticket": "ticket@@@1"}),
        ),
        (
            Endpoint::QueryAuth,
            json!({"component_appid": "wxcomponent", "authorization_code": "queryauthcode@@@1"}),
        ),
        (
            Endpoint::AuthorizerToken,
            json!({"component_appid": "wxcomponent", "authorizer_appid": FUZZ_APPID, "authorizer_refresh_token": "refreshtoken@@@1"}),
        ),
        (
            Endpoint::RidGet,
            json!({"rid": "6b089c8d-0b3ce02d-00000005"}),
        ),
        (
            Endpoint::SecUploadShippingInfo,
            json!({"order_key": key("M1"), "logistics_type": 1, "delivery_mode": 1,
                   "shipping_list": [sec_parcel.clone()], "upload_time": T0,
                   "payer": {"openid": openid}}),
        ),
        (
            Endpoint::SecUploadCombinedShippingInfo,
            json!({"order_key": key("C1"), "upload_time": T0, "payer": {"openid": openid},
                   "sub_orders": [{"order_key": key("C1-1"), "logistics_type": 1,
                                   "delivery_mode": 1, "shipping_list": [sec_parcel]}]}),
        ),
        (
            Endpoint::SecNotifyConfirmReceive,
            json!({"merchant_id": "1900000109", "merchant_trade_no": "M1",
                   "received_time": 1_764_000_000}),
        ),
        (
            Endpoint::SecOpSpecialOrder,
            json!({"order_id": "4200000000202611260000000001", "type": 2}),
        ),
        (
            Endpoint::SecGetOrder,
            json!({"transaction_id": "4200000000202611260000000001"}),
        ),
        (
            Endpoint::V3Prepay,
            json!({"appid": FUZZ_APPID, "mchid": "1900000109", "description": "Tea 250g",
                   "out_trade_no": "V3-0001", "notify_url": "https://shop.example.com/notify",
                   "attach": "a1", "amount": {"total": 300, "currency": "CNY"},
                   "payer": {"openid": openid}, "scene_info": {"device_id": "D1"}}),
        ),
        (
            Endpoint::V3CombinePrepay,
            json!({"combine_appid": FUZZ_APPID, "combine_mchid": "1900000109",
                   "combine_out_trade_no": "C-0001", "combine_payer_info": {"openid": openid},
                   "notify_url": "https://shop.example.com/notify",
                   "sub_orders": [sub_order("1900000109", "S-0001"), sub_order("1900000110", "S-0002")]}),
        ),
        (
            Endpoint::V3Refund,
            json!({"out_trade_no": "V3-0001", "out_refund_no": "R-1",
                   "notify_url": "https://shop.example.com/notify", "reason": "broken",
                   "amount": {"refund": 100, "total": 300, "currency": "CNY"}}),
        ),
        (Endpoint::V3Close, json!({"mchid": "1900000109"})),
        (
            Endpoint::V3CombineClose,
            json!({"combine_appid": FUZZ_APPID, "sub_orders": [
                {"mchid": "1900000109", "out_trade_no": "S-0001"},
                {"mchid": "1900000110", "out_trade_no": "S-0002"}]}),
        ),
        (
            Endpoint::V3Authorization,
            json!(format!(
                "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\",nonce_str=\"n0nce\",\
                 signature=\"c2ln\",timestamp=\"{FUZZ_NOW}\",serial_no=\"5157F09EFDC096DE15EBE81A47057A72\""
            )),
        ),
    ]
}

fn sub_order(mchid: &str, out_trade_no: &str) -> Value {
    json!({"mchid": mchid, "attach": "a", "out_trade_no": out_trade_no, "description": "Tea",
           "amount": {"total_amount": 100, "currency": "CNY"}})
}

/// A seed's bytes: the JSON body, or a header's text as it is sent.
fn seed_bytes(body: &Value) -> Vec<u8> {
    match body {
        Value::String(text) => text.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

#[test]
fn every_seed_is_accepted_so_fuzzing_starts_past_the_first_refusal() {
    let codec = OpenIdCodec::new(FUZZ_KEY);
    let caller = Acting {
        appid: FUZZ_APPID,
        openids: &codec,
    };
    for (endpoint, body) in seeds() {
        let bytes = seed_bytes(&body);
        if let Err(refused) = read(endpoint, &bytes, &caller) {
            panic!("{endpoint:?} seed refused: {refused:?}");
        }
    }
}

#[test]
fn corpus_seeds_and_their_prefixes_are_all_answered_without_a_panic() {
    let write = std::env::var_os("USERORDER_WRITE_CORPUS").is_some();
    let mut replayed = 0;
    for (endpoint, body) in seeds() {
        let bytes = seed_bytes(&body);
        let dir = corpus_dir(endpoint);
        if write {
            std::fs::create_dir_all(&dir).expect("corpus dir");
            std::fs::write(dir.join("seed.json"), &bytes).expect("seed written");
        }
        for end in 0..=bytes.len() {
            fuzz_one(endpoint, &bytes[..end]);
        }
        let files = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for file in files {
            let path = file.expect("corpus entry").path();
            fuzz_one(endpoint, &std::fs::read(&path).expect("corpus file"));
            replayed += 1;
        }
    }
    assert!(
        replayed >= Endpoint::ALL.len(),
        "every endpoint has a corpus"
    );
}
