//! Property: a valid domain value, serialized to its canonical wire form, parses and
//! validates back to the same value. The store relies on this: it keeps that form, and an
//! identical retry is recognised by comparing it.

use proptest::prelude::*;
use userorder_model::body;
use userorder_model::openid::OpenIdCodec;
use userorder_model::shopping::*;
use userorder_model::validate::{self, Acting};

const APP: &str = "wx0123456789abcdef";

fn link() -> impl Strategy<Value = JumpLink> {
    prop_oneof![
        ("wx[0-9a-f]{16}", "/[a-z/]{1,40}")
            .prop_map(|(appid, path)| JumpLink::MiniProgram { appid, path }),
        "https://[a-z]{1,20}\\.cn/[a-z0-9]{0,30}".prop_map(|url| JumpLink::Url { url }),
    ]
}

fn order_link() -> impl Strategy<Value = JumpLink> {
    prop_oneof![
        "/[a-z/]{1,40}".prop_map(|path| JumpLink::MiniProgram {
            appid: APP.into(),
            path
        }),
        "http://[a-z]{1,20}\\.com/[a-z0-9?=]{0,30}".prop_map(|url| JumpLink::Url { url }),
    ]
}

fn item(id: Option<String>) -> impl Strategy<Value = Item> {
    (
        "\\PC{1,40}",
        // "" is absent on the wire (SPEC §10.15), so a stored description is never empty.
        proptest::option::of("\\PC{1,60}"),
        0i64..=i64::MAX,
        1i64..=i64::MAX,
        proptest::collection::vec("https://img\\.[a-z]{1,10}\\.cn/[a-z0-9]{1,20}", 1..=3),
        link(),
    )
        .prop_map(
            move |(name, description, unit_price, quantity, image_url, link)| Item {
                merchant_item_id: id.clone(),
                name,
                description,
                unit_price,
                quantity,
                image_url,
                item_detail_jump_link: link,
            },
        )
}

fn items() -> impl Strategy<Value = Vec<Item>> {
    (1usize..=4, any::<bool>()).prop_flat_map(|(n, with_ids)| {
        (0..n)
            .map(|i| item(with_ids.then(|| format!("sku-{i}"))))
            .collect::<Vec<_>>()
    })
}

fn logistics() -> impl Strategy<Value = LogisticsType> {
    prop_oneof![
        Just(LogisticsType::PhysicalLogistics),
        Just(LogisticsType::LocationBasedLogistics),
        Just(LogisticsType::VirtualGoods),
    ]
}

fn merchant_key() -> impl Strategy<Value = OrderKey> {
    ("[0-9]{10}", "[0-9A-Za-z_*-]{1,32}").prop_map(|(mchid, out_trade_no)| OrderKey::Merchant {
        mchid,
        out_trade_no,
    })
}

fn upload_time() -> impl Strategy<Value = UploadTime> {
    (0i64..4_000_000_000, 0u32..1000, -12i32..=14).prop_filter_map(
        "valid time",
        |(secs, ms, tz)| {
            let at = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
            let offset = time::UtcOffset::from_hms(tz as i8, 0, 0).ok()?;
            let at = (at + time::Duration::milliseconds(ms.into())).to_offset(offset);
            let text = at
                .format(&time::format_description::well_known::Rfc3339)
                .ok()?;
            UploadTime::parse(&text)
        },
    )
}

fn single(openid: String) -> impl Strategy<Value = ShoppingInfo> {
    (
        merchant_key(),
        upload_time(),
        logistics(),
        proptest::collection::vec(("[A-Za-z0-9-]{1,64}", order_link(), items()), 1..=3),
    )
        .prop_map(
            move |(order_key, upload_time, logistics_type, orders)| ShoppingInfo {
                order_key,
                payer: Payer {
                    openid: openid.clone(),
                },
                upload_time,
                details: Details::Single {
                    order_list: orders
                        .into_iter()
                        .map(
                            |(merchant_order_no, order_detail_jump_link, item_list)| Order {
                                merchant_order_no,
                                order_detail_jump_link,
                                item_list,
                            },
                        )
                        .collect(),
                    logistics_type,
                },
            },
        )
}

fn combined(openid: String) -> impl Strategy<Value = ShoppingInfo> {
    (
        "[0-9]{10}",
        upload_time(),
        proptest::collection::vec(
            ("[A-Za-z0-9-]{1,64}", order_link(), items(), logistics()),
            1..=3,
        ),
    )
        .prop_map(move |(mchid, upload_time, subs)| ShoppingInfo {
            order_key: OrderKey::Merchant {
                mchid: mchid.clone(),
                out_trade_no: "MASTER".into(),
            },
            payer: Payer {
                openid: openid.clone(),
            },
            upload_time,
            details: Details::Combined {
                sub_orders: subs
                    .into_iter()
                    .enumerate()
                    .map(
                        |(i, (merchant_order_no, link, item_list, logistics_type))| SubOrder {
                            order_key: OrderKey::Merchant {
                                mchid: mchid.clone(),
                                out_trade_no: format!("SUB{i}"),
                            },
                            merchant_order_no,
                            order_detail_jump_link: link,
                            item_list,
                            logistics_type,
                        },
                    )
                    .collect(),
            },
        })
}

fn codec() -> OpenIdCodec {
    OpenIdCodec::new([9; 32])
}

proptest! {
    #[test]
    fn a_single_upload_round_trips(info in single(codec().encode(APP, 7))) {
        let bytes = serde_json::to_vec(&info).expect("serializes");
        let codec = codec();
        let caller = Acting { appid: APP, openids: &codec };
        let parsed = validate::upload_shopping_info(body::parse(&bytes).expect("parses"), &caller);
        prop_assert_eq!(parsed, Ok(info));
    }

    #[test]
    fn a_combined_upload_round_trips(info in combined(codec().encode(APP, 7))) {
        let bytes = serde_json::to_vec(&info).expect("serializes");
        let codec = codec();
        let caller = Acting { appid: APP, openids: &codec };
        let parsed = validate::upload_combined_shopping_info(body::parse(&bytes).expect("parses"), &caller);
        prop_assert_eq!(parsed, Ok(info));
    }

    #[test]
    fn any_body_gets_a_value_or_an_errcode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let codec = codec();
        let caller = Acting { appid: APP, openids: &codec };
        if let Ok(raw) = body::parse(&bytes) {
            let _ = validate::upload_combined_shopping_info(raw, &caller);
        }
    }
}
