//! The one registry of WeChat errcodes and their exact errmsg texts (SPEC §9), and
//! `Rejection`, the reason a request is refused.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A WeChat errcode, like `http::StatusCode`: a number with named constants.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct ErrCode(pub i64);

impl ErrCode {
    pub const OK: Self = Self(0);
    pub const SYSTEM_ERROR: Self = Self(-1);
    pub const INVALID_CREDENTIAL: Self = Self(40001);
    pub const INVALID_GRANT_TYPE: Self = Self(40002);
    pub const INVALID_APPID: Self = Self(40013);
    pub const INVALID_URL: Self = Self(40066);
    pub const INVALID_APPSECRET: Self = Self(40125);
    pub const ACCESS_TOKEN_MISSING: Self = Self(41001);
    pub const APPID_MISSING: Self = Self(41002);
    pub const APPSECRET_MISSING: Self = Self(41004);
    pub const ACCESS_TOKEN_EXPIRED: Self = Self(42001);
    pub const REQUIRE_POST_METHOD: Self = Self(43002);
    pub const EMPTY_POST_DATA: Self = Self(44002);
    pub const CONTENT_SIZE_OUT_OF_LIMIT: Self = Self(45002);
    pub const DAILY_QUOTA: Self = Self(45009);
    pub const MINUTE_QUOTA: Self = Self(45011);
    pub const DATA_FORMAT_ERROR: Self = Self(47001);
    pub const API_UNAUTHORIZED: Self = Self(48001);
    pub const COMPONENT_TICKET_INVALID: Self = Self(61006);
    pub const API_UNAUTHORIZED_TO_COMPONENT: Self = Self(61007);
    /// Not in SPEC §9: WeChat's open-platform code for a spent or unknown authorization code.
    pub const AUTHORIZATION_CODE_INVALID: Self = Self(61010);
    pub const INVALID_COMPONENT: Self = Self(61011);
    /// Not in SPEC §9: WeChat's open-platform code for a refresh token that is not current.
    pub const REFRESH_TOKEN_INVALID: Self = Self(61023);
    pub const RID_NOT_FOUND: Self = Self(76001);
    pub const INVALID_PARAMETER: Self = Self(268_435_461);
    pub const OPENID_UNDECODABLE: Self = Self(268_457_013);
    pub const OPENID_ZERO: Self = Self(268_457_014);
    pub const PAYER_OPENID_EMPTY: Self = Self(268_485_192);
    pub const ILLEGAL_ORDER_NUMBER_TYPE: Self = Self(268_485_194);
    pub const TRANSACTION_ID_REQUIRED: Self = Self(268_485_195);
    pub const MCHID_REQUIRED: Self = Self(268_485_196);
    pub const OUT_TRADE_NO_REQUIRED: Self = Self(268_485_197);
    pub const MERCHANT_ORDER_NO_EMPTY: Self = Self(268_485_201);
    pub const ILLEGAL_LINK_TYPE: Self = Self(268_485_202);
    pub const LINK_APPID_EMPTY: Self = Self(268_485_204);
    pub const LINK_PATH_EMPTY: Self = Self(268_485_205);
    pub const LINK_URL_EMPTY: Self = Self(268_485_206);
    pub const ITEM_NAME_EMPTY: Self = Self(268_485_207);
    pub const ITEM_UNIT_PRICE_EMPTY: Self = Self(268_485_208);
    pub const ITEM_QUANTITY_EMPTY: Self = Self(268_485_209);
    pub const ITEM_IMAGE_URL_EMPTY: Self = Self(268_485_210);
    pub const ITEM_LIST_EMPTY: Self = Self(268_485_211);
    pub const MERCHANT_ITEM_ID_ALL_OR_NONE: Self = Self(268_485_213);
    pub const UPLOAD_TIME_NOT_SET: Self = Self(268_485_214);
    pub const NOT_IN_OPEN_SCOPE: Self = Self(268_485_215);
    pub const UPLOAD_TIME_ILLEGAL: Self = Self(268_485_216);
    pub const MCHID_NOT_VALID: Self = Self(268_485_217);
    /// SPEC §10.15: one numbering with order shipping management (268485218 is retired).
    pub const SUB_ORDER_TYPE_DIFFERS: Self = Self(268_485_253);
    pub const ITEM_DETAIL_JUMP_LINK_EMPTY: Self = Self(268_485_272);
    pub const ILLEGAL_DELIVERY_MODE: Self = Self(268_485_224);
    pub const TRACKING_NO_EMPTY: Self = Self(268_485_226);
    pub const EXPRESS_COMPANY_EMPTY: Self = Self(268_485_227);
    pub const UNIFIED_NEEDS_ONE_SHIPPING: Self = Self(268_485_228);
    pub const PERMISSION_NOT_OPEN: Self = Self(268_486_570);
    pub const PERMISSION_STATE_FORBIDS_OPEN: Self = Self(268_486_612);
    pub const AGREEMENT_NOT_SIGNED: Self = Self(268_486_640);
    /// Order shipping management (SPEC §10.14): a request field that is missing or wrong.
    pub const INVALID_ARGS: Self = Self(40097);
    /// Order shipping management: the platform holds none of the endpoint's permission sets.
    pub const COMPONENT_NOT_AUTHORIZED: Self = Self(61003);
    /// Order shipping management's generic code: `参数错误: <path and rule>`.
    pub const SEC_INVALID_PARAMETER: Self = Self(10_060_014);
    /// Order shipping management: no such order of the app (yet) (SPEC §10.2).
    pub const PAYMENT_NOT_FOUND: Self = Self(10_060_001);
    pub const ORDER_ALREADY_SHIPPED: Self = Self(10_060_002);
    pub const RESHIP_USED: Self = Self(10_060_003);
    pub const ORDER_NOT_SHIPPABLE: Self = Self(10_060_004);
    pub const LOGISTICS_TYPE_ILLEGAL: Self = Self(10_060_005);
    pub const SPLIT_NEEDS_COURIER: Self = Self(10_060_006);
    pub const IS_ALL_DELIVERED_MISSING: Self = Self(10_060_007);
    pub const ITEM_DESC_EMPTY: Self = Self(10_060_008);
    pub const ITEM_DESC_TOO_LONG: Self = Self(10_060_009);
    pub const SUB_ORDER_REPEATED: Self = Self(10_060_013);
    pub const LAST_INDEX_ILLEGAL: Self = Self(10_060_011);
    pub const SHIPPING_NOT_UPDATED: Self = Self(10_060_023);
    pub const TOO_MANY_PARCELS: Self = Self(10_060_024);
    pub const EXPRESS_COMPANY_TOO_LONG: Self = Self(10_060_025);
    pub const TRACKING_NO_TOO_LONG: Self = Self(10_060_026);
    pub const PAYER_NOT_THE_ORDERS: Self = Self(10_060_031);
    /// notify_confirm_receive (SPEC §10.8).
    pub const ORDER_NOT_SHIPPED: Self = Self(10_060_028);
    pub const RECEIVED_TIME_ILLEGAL: Self = Self(10_060_029);
    pub const REMINDER_USED: Self = Self(10_060_030);
    pub const REMIND_NOT_COURIER: Self = Self(10_060_032);
    /// opspecialorder (SPEC §10.11).
    pub const SPECIAL_TYPE_ILLEGAL: Self = Self(268_546_000);
    pub const SPECIAL_DELAY_TO_ILLEGAL: Self = Self(268_546_001);
    pub const SPECIAL_ORDER_NOT_FOUND: Self = Self(268_546_002);

    /// Every code this project defines, for tables and `explain`.
    pub const ALL: &'static [Self] = &[
        Self::OK,
        Self::SYSTEM_ERROR,
        Self::INVALID_CREDENTIAL,
        Self::INVALID_GRANT_TYPE,
        Self::INVALID_APPID,
        Self::INVALID_URL,
        Self::INVALID_APPSECRET,
        Self::ACCESS_TOKEN_MISSING,
        Self::APPID_MISSING,
        Self::APPSECRET_MISSING,
        Self::ACCESS_TOKEN_EXPIRED,
        Self::REQUIRE_POST_METHOD,
        Self::EMPTY_POST_DATA,
        Self::CONTENT_SIZE_OUT_OF_LIMIT,
        Self::DAILY_QUOTA,
        Self::MINUTE_QUOTA,
        Self::DATA_FORMAT_ERROR,
        Self::API_UNAUTHORIZED,
        Self::COMPONENT_TICKET_INVALID,
        Self::API_UNAUTHORIZED_TO_COMPONENT,
        Self::AUTHORIZATION_CODE_INVALID,
        Self::INVALID_COMPONENT,
        Self::REFRESH_TOKEN_INVALID,
        Self::RID_NOT_FOUND,
        Self::INVALID_PARAMETER,
        Self::OPENID_UNDECODABLE,
        Self::OPENID_ZERO,
        Self::PAYER_OPENID_EMPTY,
        Self::ILLEGAL_ORDER_NUMBER_TYPE,
        Self::TRANSACTION_ID_REQUIRED,
        Self::MCHID_REQUIRED,
        Self::OUT_TRADE_NO_REQUIRED,
        Self::MERCHANT_ORDER_NO_EMPTY,
        Self::ILLEGAL_LINK_TYPE,
        Self::LINK_APPID_EMPTY,
        Self::LINK_PATH_EMPTY,
        Self::LINK_URL_EMPTY,
        Self::ITEM_NAME_EMPTY,
        Self::ITEM_UNIT_PRICE_EMPTY,
        Self::ITEM_QUANTITY_EMPTY,
        Self::ITEM_IMAGE_URL_EMPTY,
        Self::ITEM_LIST_EMPTY,
        Self::MERCHANT_ITEM_ID_ALL_OR_NONE,
        Self::UPLOAD_TIME_NOT_SET,
        Self::NOT_IN_OPEN_SCOPE,
        Self::UPLOAD_TIME_ILLEGAL,
        Self::MCHID_NOT_VALID,
        Self::SUB_ORDER_TYPE_DIFFERS,
        Self::ITEM_DETAIL_JUMP_LINK_EMPTY,
        Self::ILLEGAL_DELIVERY_MODE,
        Self::TRACKING_NO_EMPTY,
        Self::EXPRESS_COMPANY_EMPTY,
        Self::UNIFIED_NEEDS_ONE_SHIPPING,
        Self::PERMISSION_NOT_OPEN,
        Self::PERMISSION_STATE_FORBIDS_OPEN,
        Self::AGREEMENT_NOT_SIGNED,
        Self::INVALID_ARGS,
        Self::COMPONENT_NOT_AUTHORIZED,
        Self::SEC_INVALID_PARAMETER,
        Self::PAYMENT_NOT_FOUND,
        Self::ORDER_ALREADY_SHIPPED,
        Self::RESHIP_USED,
        Self::ORDER_NOT_SHIPPABLE,
        Self::LOGISTICS_TYPE_ILLEGAL,
        Self::SPLIT_NEEDS_COURIER,
        Self::IS_ALL_DELIVERED_MISSING,
        Self::ITEM_DESC_EMPTY,
        Self::ITEM_DESC_TOO_LONG,
        Self::SHIPPING_NOT_UPDATED,
        Self::SUB_ORDER_REPEATED,
        Self::LAST_INDEX_ILLEGAL,
        Self::TOO_MANY_PARCELS,
        Self::EXPRESS_COMPANY_TOO_LONG,
        Self::TRACKING_NO_TOO_LONG,
        Self::PAYER_NOT_THE_ORDERS,
        Self::ORDER_NOT_SHIPPED,
        Self::RECEIVED_TIME_ILLEGAL,
        Self::REMINDER_USED,
        Self::REMIND_NOT_COURIER,
        Self::SPECIAL_TYPE_ILLEGAL,
        Self::SPECIAL_DELAY_TO_ILLEGAL,
        Self::SPECIAL_ORDER_NOT_FOUND,
    ];

    /// The errmsg WeChat sends for this code (without the ` rid: …` suffix): Chinese for
    /// the product codes (2684xxxxx, SPEC §10.15 point 5), English for the cgi-bin and
    /// transport codes, as WeChat sends them.
    pub fn default_message(self) -> &'static str {
        self.chinese().unwrap_or_else(|| self.english())
    }

    /// WeChat's Chinese errmsg of a product code; `None` for the codes WeChat answers in
    /// English.
    pub fn chinese(self) -> Option<&'static str> {
        Some(match self.0 {
            268_435_461 | 10_060_014 => "参数错误",
            10_060_001 => "支付单不存在",
            10_060_002 => "支付单已完成发货，无法继续发货",
            10_060_003 => "支付单已使用重新发货机会",
            10_060_004 => "支付单处于不可发货的状态",
            10_060_005 => "物流类型有误",
            10_060_006 => "非快递发货时不允许分拆发货",
            10_060_007 => "分拆发货模式下必须填写 is_all_delivered 字段",
            10_060_008 => "商品描述 item_desc 字段不能为空",
            10_060_009 => "商品描述 item_desc 字段太长",
            10_060_023 => "发货信息未更新",
            10_060_013 => "子单单号重复",
            10_060_011 => "last_index不合法",
            10_060_024 => "物流信息列表太长",
            10_060_025 => "物流公司编码太长",
            10_060_026 => "物流单号太长",
            10_060_031 => "该笔支付单不属于 openid 所指定的用户",
            10_060_028 => "支付单不是已发货状态",
            10_060_029 => "签收时间非法",
            10_060_030 => "支付单已使用提醒收货机会",
            10_060_032 => "只有物流快递发货时允许提醒用户确认收货",
            268_546_000 => "type非法",
            268_546_001 => "delay_to非法",
            268_546_002 => "账户不存在这个待发货单号",
            268_457_013 => "openid 解码失败，请确认 openid 是否正确",
            268_457_014 => "openid 解码结果为 0，请确认 openid 是否正确",
            268_485_192 => "用户标识 openid 必须填写",
            268_485_194 => "订单单号类型非法",
            268_485_195 => "微信支付单号形式下 transaction_id 字段必须设置",
            268_485_196 => "商户侧单号形式下 mchid 字段必须设置",
            268_485_197 => "商户侧单号形式下 out_trade_no 字段必须设置",
            268_485_201 => "商户交易订单编号必须填写",
            268_485_202 => "链接类型必须为小程序或 URL",
            268_485_204 => "链接类型为小程序时必须设置 appid",
            268_485_205 => "链接类型为小程序时必须设置 path",
            268_485_206 => "链接类型为 URL 时必须设置 url",
            268_485_207 => "商品名称必须填写",
            268_485_208 => "商品单价必须填写",
            268_485_209 => "购买数量必须填写",
            268_485_210 => "商品图片链接至少填写一个",
            268_485_211 => "订单购买的商品列表不能为空",
            268_485_213 => "订单购买的商品列表中商户侧商品 ID 必须全部设置或全部不设置",
            268_485_214 => "上传时间必须填写",
            268_485_215 => "经营类目不在购物订单开放范围内",
            268_485_216 => "上传时间非法，请按照 RFC 3339 格式填写",
            268_485_217 => "商户号不合法，请确认后重试",
            268_485_224 => "发货模式非法",
            268_485_226 => "物流单号不能为空",
            268_485_227 => "物流公司编码不能为空",
            268_485_228 => "统一发货模式下,物流信息列表长度必须为1",
            268_485_253 => "主单的订单单号类型与子单的单号类型不一致",
            268_485_272 => "商品详情链接必须设置",
            268_486_570 => "购物订单权限未开通",
            268_486_612 => "当前权限状态不允许开通",
            268_486_640 => "未签署购物订单协议",
            _ => return None,
        })
    }

    /// What the code means, in English (for `explain` and the hints; the errmsg of the codes
    /// WeChat answers in English).
    pub fn english(self) -> &'static str {
        match self.0 {
            0 => "ok",
            -1 => "system error",
            40001 => "invalid credential, access_token is invalid or not latest",
            40002 => "invalid grant_type",
            40013 => "invalid appid",
            40066 => "invalid url",
            40125 => "invalid appsecret",
            41001 => "access_token missing",
            41002 => "appid missing",
            41004 => "appsecret missing",
            42001 => "access_token expired",
            43002 => "require POST method",
            44002 => "empty post data",
            45002 => "content size out of limit",
            45009 => "reach max api daily quota limit",
            45011 => "api minute-quota reach limit  mustslower  retry next minute",
            47001 => "data format error",
            48001 => "api unauthorized",
            61006 => "component ticket is invalid",
            61007 => "api is unauthorized to component",
            61010 => "authorization code is invalid or expired",
            61011 => "invalid component",
            61023 => "refresh_token is invalid",
            76001 => "rid not found",
            40097 => "invalid args",
            61003 => "component is not authorized by this account",
            10_060_014 => "invalid parameter (order shipping management)",
            10_060_001 => "no such payment",
            10_060_002 => "the order is already shipped and cannot be shipped again",
            10_060_003 => "the order has used its one re-ship",
            10_060_004 => "the order cannot be shipped (refunded)",
            10_060_005 => "logistics_type is illegal",
            10_060_006 => "split delivery needs courier logistics",
            10_060_007 => "split delivery needs is_all_delivered",
            10_060_008 => "item_desc is empty",
            10_060_009 => "item_desc is too long",
            10_060_023 => "the shipping is unchanged",
            10_060_013 => "a sub-order key is repeated",
            10_060_011 => "last_index is illegal",
            10_060_024 => "too many parcels",
            10_060_025 => "express_company is too long",
            10_060_026 => "tracking_no is too long",
            10_060_031 => "the payment does not belong to the openid's user",
            10_060_028 => "the order is not in state shipped",
            10_060_029 => "received_time is illegal",
            10_060_030 => "the order's reminder was used",
            10_060_032 => "only courier orders can be reminded",
            268_546_000 => "type is illegal",
            268_546_001 => "delay_to is illegal",
            268_546_002 => "no order to ship with this order_id",
            268_435_461 => "invalid parameter",
            268_457_013 => "failed to decode openid",
            268_457_014 => "openid decoded to 0",
            268_485_192 => "payer openid is empty",
            268_485_194 => "order_number_type is illegal",
            268_485_195 => {
                "transaction_id must be set when order_number_type is WXPAY_TRADE_NUMBER"
            }
            268_485_196 => "mchid must be set when order_number_type is MERCHANT_TRADE_NUMBER",
            268_485_197 => {
                "out_trade_no must be set when order_number_type is MERCHANT_TRADE_NUMBER"
            }
            268_485_201 => "merchant_order_no is empty",
            268_485_202 => "link type is illegal, must be MINI_PROGRAM or URL",
            268_485_204 => "appid is empty for a MINI_PROGRAM link",
            268_485_205 => "path is empty for a MINI_PROGRAM link",
            268_485_206 => "url is empty for a URL link",
            268_485_207 => "item name is empty",
            268_485_208 => "item unit_price is empty",
            268_485_209 => "item quantity is empty",
            268_485_210 => "item image_url is empty",
            268_485_211 => "item_list is empty",
            268_485_213 => "merchant_item_id must be set on all items or on none",
            268_485_214 => "upload_time is not set",
            268_485_215 => "appid is not in the open scope of shopping orders",
            268_485_216 => {
                "upload_time is illegal, use RFC 3339 such as 2021-05-20T13:29:35.120+08:00"
            }
            268_485_217 => "mchid is not valid",
            268_485_253 => "order_number_type of a sub-order differs from the combined order's",
            268_485_224 => "delivery_mode is illegal",
            268_485_226 => "tracking_no is empty",
            268_485_227 => "express_company is empty",
            268_485_228 => "UNIFIED_DELIVERY needs exactly one shipping",
            268_485_272 => "item_detail_jump_link is empty",
            268_486_570 => "product permission is not open",
            268_486_612 => "product permission state does not allow opening",
            268_486_640 => "agreement is not signed",
            _ => "unknown error",
        }
    }

    /// What usually causes this code and how to fix it (for SDK errors and `explain`).
    pub fn hint(self) -> &'static str {
        match self.0 {
            0 => "Success.",
            -1 => {
                "A server fault (or a scripted one). Retry with backoff; the request changed nothing."
            }
            40001 => {
                "The access_token is unknown, superseded more than 5 minutes ago, or revoked. Fetch a new one and retry; make sure only one process refreshes it."
            }
            40002 => "grant_type must be client_credential.",
            40013 => {
                "The appid is not known. Check it against the app's settings (or the sandbox's apps)."
            }
            40066 => "The path is not a WeChat API path. Check the URL.",
            40125 => "The secret does not match the appid.",
            41001 => "Pass access_token as a query parameter.",
            41002 => "Pass appid.",
            41004 => "Pass secret.",
            42001 => "The access_token is past its 7200 s lifetime. Fetch a new one and retry.",
            43002 => "This API takes POST.",
            44002 => "The body is empty. Send the JSON object.",
            45002 => "The body is over 1 MiB.",
            45009 => {
                "The daily quota of this API (or of forced stable-token refreshes: 20 a day, 30 s apart) is used up."
            }
            45011 => "Too many calls this minute. Slow down and retry next minute.",
            47001 => {
                "The body is not a JSON object with the right field types (string vs integer, integers in range, nesting ≤ 64)."
            }
            48001 => {
                "The app has not opened the Shopping Order product (orders-permission/open, then confirm)."
            }
            61006 => "The component_verify_ticket is not the current one.",
            61007 => {
                "The authorization does not grant this API's permission sets (120/121 for shopping orders, 142 for shipping)."
            }
            61010 => {
                "The authorization code was already redeemed, is unknown, or expired (1 hour)."
            }
            61011 => "The component_appid is unknown or does not match the component_access_token.",
            61023 => {
                "The authorizer_refresh_token is not current: a re-authorization replaced it. Use the one api_query_auth returned last."
            }
            76001 => {
                "No request with this rid for this app is in the journal (another app's, or past the retention)."
            }
            268_435_461 => {
                "A field breaks a rule without a code of its own; the errmsg names the JSON path and the rule. Also: an upload_time not later than the stored one, an order locked after association, shipping before payment."
            }
            268_457_013 => {
                "The payer openid is not an openid of this app (wrong app, typo, or made up)."
            }
            268_457_014 => "The payer openid belongs to no user (user id 0).",
            268_485_192 => "Set payer.openid.",
            268_485_194 => {
                "order_number_type must be 1/MERCHANT_TRADE_NUMBER or 2/WXPAY_TRADE_NUMBER."
            }
            268_485_195 => "order_number_type 2 needs transaction_id.",
            268_485_196 => "order_number_type 1 needs mchid.",
            268_485_197 => "order_number_type 1 needs out_trade_no.",
            268_485_201 => "Set merchant_order_no (1-64 bytes).",
            268_485_202 => "A jump link needs type 1/MINI_PROGRAM or 2/URL.",
            268_485_204 => "A MINI_PROGRAM link needs appid.",
            268_485_205 => "A MINI_PROGRAM link needs path.",
            268_485_206 => "A URL link needs url.",
            268_485_207 => "Every item needs a name (1-256 characters).",
            268_485_208 => "Every item needs unit_price in fen (0 for a gift).",
            268_485_209 => "Every item needs a positive quantity.",
            268_485_210 => "Every item needs 1-3 image_url entries.",
            268_485_211 => "Every order needs 1-50 items.",
            268_485_213 => "Set merchant_item_id on every item of an order, or on none.",
            268_485_214 => "Set upload_time.",
            268_485_215 => "The app is outside the open scope of Shopping Orders.",
            268_485_216 => {
                "upload_time must be RFC 3339 with an offset, e.g. 2021-05-20T13:29:35.120+08:00."
            }
            268_485_217 => {
                "Every mchid in an order key must be a merchant bound to the calling app."
            }
            268_485_253 => "Every sub-order must use the combined order's order_number_type.",
            268_485_224 => "delivery_mode must be 1/UNIFIED_DELIVERY or 2/SPLIT_DELIVERY.",
            268_485_226 => "Every parcel needs tracking_no (1-128 bytes).",
            268_485_227 => "Every parcel needs express_company (1-128 bytes).",
            268_485_228 => {
                "UNIFIED_DELIVERY takes exactly one parcel; use SPLIT_DELIVERY for several."
            }
            268_485_272 => "Every item needs item_detail_jump_link.",
            268_486_570 => {
                "confirm works only in state OPEN (call open first; not again while in review)."
            }
            268_486_612 => "open works only in state NOT_OPEN.",
            268_486_640 => "The authorization's agreement is not signed.",
            40097 => "Send the body's required field (the appid to ask about).",
            61003 => {
                "The third-party platform holds none of the permission sets this API needs (18 or 142); have the merchant authorize them."
            }
            10_060_002 => {
                "Receipt is confirmed or the order completed (states 3, 4, 6), or a re-ship was not complete; nothing more can be shipped."
            }
            10_060_003 => "An order can be re-shipped once; this one was.",
            10_060_004 => "The payment was refunded (state 5).",
            10_060_005 => {
                "logistics_type must be 1 PHYSICAL_LOGISTICS, 2 LOCATION_BASED_LOGISTICS, 3 VIRTUAL_GOODS or 4 SELF_PICKUP."
            }
            10_060_006 => "Only courier delivery (logistics_type 1) can be split into parcels.",
            10_060_007 => {
                "With SPLIT_DELIVERY say whether this upload completes the shipping: is_all_delivered."
            }
            10_060_008 => "Every parcel needs item_desc.",
            10_060_009 => "item_desc takes at most 120 characters.",
            10_060_023 => {
                "Nothing changed since the last upload: a safe retry. Change a parcel to update it."
            }
            10_060_024 => "An order holds at most 15 parcels.",
            10_060_013 => "Each sub-order of a combined upload appears once.",
            10_060_011 => {
                "Send back last_index exactly as the previous answer gave it, to the same app (or \"\" for the first page)."
            }
            10_060_025 => "express_company takes at most 128 bytes.",
            10_060_026 => "tracking_no takes at most 128 bytes.",
            10_060_031 => "payer.openid must be the openid of the order's payer.",
            10_060_028 => "Only a shipped order (state 2) can be reminded.",
            10_060_029 => {
                "received_time must be after the shipping completed and not in the future (Unix seconds, sandbox clock)."
            }
            10_060_030 => "An order can be reminded once; this one was.",
            10_060_032 => "Only courier orders (logistics_type 1) can be reminded.",
            268_546_000 => "type must be 1 (pre-sale) or 2 (test order).",
            268_546_001 => {
                "A pre-sale needs delay_to, more than 15 and at most 330 days after pay_time (Unix seconds)."
            }
            268_546_002 => {
                "order_id must name an order of this app still to ship (state 1): its transaction_id or out_trade_no."
            }
            10_060_001 => {
                "No paid payment of this app by that key, or not yet: WeChat learns of a payment a short while after it is paid (the sandbox's ingest_delay_s), and the master of a combined payment is not an order (its sub-orders are). Payments excluded from shipping never appear."
            }
            10_060_014 => {
                "A field of an order shipping management call breaks its rule; the errmsg names the field and the rule."
            }
            _ => "Not a code this project knows.",
        }
    }

    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for ErrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a request is refused: a code and the errmsg to send (the envelope appends ` rid: …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: ErrCode,
    pub message: Cow<'static, str>,
}

impl Rejection {
    /// The code with its registry message.
    pub fn new(code: ErrCode) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.default_message()),
        }
    }

    /// 268435461 `参数错误: <path> <rule>`; the path names the JSON field, the rule is ours
    /// (English).
    pub fn invalid(path: impl fmt::Display, rule: impl fmt::Display) -> Self {
        Self {
            code: ErrCode::INVALID_PARAMETER,
            message: Cow::Owned(format!("参数错误: {path} {rule}")),
        }
    }

    /// 10060014 `参数错误: <path> <rule>`: order shipping management's generic code.
    pub fn sec_invalid(path: impl fmt::Display, rule: impl fmt::Display) -> Self {
        Self {
            code: ErrCode::SEC_INVALID_PARAMETER,
            message: Cow::Owned(format!("参数错误: {path} {rule}")),
        }
    }

    /// 268435461 with a free sentence after `参数错误: `.
    pub fn invalid_because(reason: impl fmt::Display) -> Self {
        Self {
            code: ErrCode::INVALID_PARAMETER,
            message: Cow::Owned(format!("参数错误: {reason}")),
        }
    }

    /// A registry code whose message also names the JSON path, e.g.
    /// `商品名称必须填写 (order_list[0].item_list[1].name)`.
    pub fn at(code: ErrCode, path: impl fmt::Display) -> Self {
        Self {
            code,
            message: Cow::Owned(format!("{} ({path})", code.default_message())),
        }
    }
}

impl From<ErrCode> for Rejection {
    fn from(code: ErrCode) -> Self {
        Self::new(code)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

impl std::error::Error for Rejection {}
