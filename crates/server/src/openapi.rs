//! The OpenAPI 3.1 document, built from the endpoint table (`app::endpoints`) and the wire
//! types' own schemas (`utoipa::ToSchema` in `userorder_model`); served at
//! `GET /openapi.json` and committed as `docs/openapi.json` (a test keeps them equal).
//!
//! What it says beyond the types: WeChat APIs answer HTTP 200 with either their answer or
//! the `{"errcode","errmsg"}` envelope, and each operation lists the errcodes it can answer
//! in `x-errcodes` (in the order the server checks them) with their errmsg.

use std::collections::BTreeMap;

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use userorder_model::ErrCode;
use userorder_model::wire::EnvelopeOut;
use utoipa::openapi::content::Content;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::{Response, Responses};
use utoipa::openapi::schema::{Components, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{HttpMethod, Info, OpenApi, Paths, Ref, RefOr, Required, Tag as ApiTag};
use utoipa::{IntoParams, ToSchema};

use crate::app;

/// The schema of a type, registered in the document's components (with what it uses).
pub type SchemaFn = fn(&mut Components) -> RefOr<Schema>;

/// `T`'s schema as a reference, `T` and every schema it uses registered.
pub fn schema<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    let mut used = Vec::new();
    T::schemas(&mut used);
    for (name, schema) in used {
        components.schemas.entry(name).or_insert(schema);
    }
    let name = T::name().into_owned();
    components
        .schemas
        .entry(name.clone())
        .or_insert_with(T::schema);
    Ref::from_schema_name(name).into()
}

/// A request body of type `T`.
pub fn body<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    schema::<T>(components)
}

/// The query parameters of `T`.
pub fn params<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(ParameterIn::Query))
}

/// How an operation is grouped.
#[derive(Debug, Clone, Copy)]
pub enum Tag {
    Tokens,
    ShoppingOrders,
    ShippingManagement,
    Platforms,
    Debugging,
    Sandbox,
    WeChatPayV3,
}

impl Tag {
    fn name(self) -> &'static str {
        match self {
            Self::Tokens => "tokens",
            Self::ShoppingOrders => "shopping orders",
            Self::ShippingManagement => "order shipping management",
            Self::Platforms => "third-party platforms",
            Self::Debugging => "debugging",
            Self::Sandbox => "sandbox",
            Self::WeChatPayV3 => "wechat pay v3",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::Tokens => "access_token and stable_token (SPEC §3)",
            Self::ShoppingOrders => "WeChat's Shopping Order API, /user-order/ (SPEC §4–§7)",
            Self::ShippingManagement => {
                "发货信息管理服务, /wxa/sec/order/ (SPEC §10): the app-level calls so far"
            }
            Self::Platforms => "Third-party platform tokens (SPEC §3.3)",
            Self::Debugging => "rid/get (SPEC §8.1)",
            Self::Sandbox => {
                "userorder's sandbox (SPEC §8): what WeChat owns — apps, merchants, openids, \
                 payments, the clock, scripted faults, the journal. Plain REST behind the admin \
                 bearer token."
            }
            Self::WeChatPayV3 => {
                "WeChat Pay API v3, /v3/ (SPEC §11): JSAPI and combined payments, refunds, \
                 platform certificates — signed requests, signed answers, real HTTP statuses"
            }
        }
    }

    const ALL: [Tag; 7] = [
        Self::Tokens,
        Self::ShoppingOrders,
        Self::ShippingManagement,
        Self::Platforms,
        Self::Debugging,
        Self::Sandbox,
        Self::WeChatPayV3,
    ];
}

/// What a caller presents.
#[derive(Debug, Clone, Copy)]
pub enum Auth {
    /// The credentials are in the body or query (the token endpoints).
    None,
    /// `?access_token=` of an app (or an authorizer_access_token).
    AccessToken,
    /// `?component_access_token=` of a third-party platform.
    ComponentToken,
    /// `Authorization: Bearer <admin token>`.
    Admin,
}

/// What a successful call answers.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// HTTP 200 with this answer or WeChat's error envelope.
    WeChat(SchemaFn),
    /// HTTP 201 with this answer (the sandbox creates something).
    Created(SchemaFn),
    /// HTTP 200 with this answer.
    Rest(SchemaFn),
}

/// The errcodes an operation can answer, in the order the server checks them.
pub struct Errcodes;

/// The token checks of every call with an access_token (SPEC §3.4).
const CALLER: &[ErrCode] = &[
    ErrCode::ACCESS_TOKEN_MISSING,
    ErrCode::INVALID_CREDENTIAL,
    ErrCode::ACCESS_TOKEN_EXPIRED,
    ErrCode::API_UNAUTHORIZED,
    ErrCode::API_UNAUTHORIZED_TO_COMPONENT,
    ErrCode::DAILY_QUOTA,
    ErrCode::MINUTE_QUOTA,
];
/// The token checks alone (SPEC §3.4 steps 1–3), for endpoints without a gate.
const TOKEN_ONLY: &[ErrCode] = &[
    ErrCode::ACCESS_TOKEN_MISSING,
    ErrCode::INVALID_CREDENTIAL,
    ErrCode::ACCESS_TOKEN_EXPIRED,
];
const QUOTAS: &[ErrCode] = &[ErrCode::DAILY_QUOTA, ErrCode::MINUTE_QUOTA];
/// Reading the body (SPEC §1).
const BODY: &[ErrCode] = &[
    ErrCode::EMPTY_POST_DATA,
    ErrCode::CONTENT_SIZE_OUT_OF_LIMIT,
    ErrCode::DATA_FORMAT_ERROR,
];
const ORDER_KEY: &[ErrCode] = &[
    ErrCode::ILLEGAL_ORDER_NUMBER_TYPE,
    ErrCode::TRANSACTION_ID_REQUIRED,
    ErrCode::MCHID_REQUIRED,
    ErrCode::OUT_TRADE_NO_REQUIRED,
];
const ORDERS: &[ErrCode] = &[
    ErrCode::MERCHANT_ORDER_NO_EMPTY,
    ErrCode::ILLEGAL_LINK_TYPE,
    ErrCode::LINK_APPID_EMPTY,
    ErrCode::LINK_PATH_EMPTY,
    ErrCode::LINK_URL_EMPTY,
    ErrCode::ITEM_LIST_EMPTY,
    ErrCode::MERCHANT_ITEM_ID_ALL_OR_NONE,
    ErrCode::ITEM_NAME_EMPTY,
    ErrCode::ITEM_UNIT_PRICE_EMPTY,
    ErrCode::ITEM_QUANTITY_EMPTY,
    ErrCode::ITEM_IMAGE_URL_EMPTY,
    ErrCode::ITEM_DETAIL_JUMP_LINK_EMPTY,
];
const SHIPPINGS: &[ErrCode] = &[
    ErrCode::ILLEGAL_DELIVERY_MODE,
    ErrCode::UNIFIED_NEEDS_ONE_SHIPPING,
    ErrCode::TRACKING_NO_EMPTY,
    ErrCode::EXPRESS_COMPANY_EMPTY,
];
const PAYER: &[ErrCode] = &[
    ErrCode::PAYER_OPENID_EMPTY,
    ErrCode::OPENID_UNDECODABLE,
    ErrCode::OPENID_ZERO,
];
const UPLOAD_TIME: &[ErrCode] = &[ErrCode::UPLOAD_TIME_NOT_SET, ErrCode::UPLOAD_TIME_ILLEGAL];
/// What storing an upload can refuse: a merchant not bound to the app, then the state
/// rules (a stale upload_time, an associated order, a sub-order of another order).
const SAVE: &[ErrCode] = &[ErrCode::MCHID_NOT_VALID, ErrCode::INVALID_PARAMETER];
const CREDENTIALS: &[ErrCode] = &[
    ErrCode::INVALID_GRANT_TYPE,
    ErrCode::APPID_MISSING,
    ErrCode::APPSECRET_MISSING,
    ErrCode::INVALID_APPID,
    ErrCode::INVALID_APPSECRET,
    ErrCode::DAILY_QUOTA,
];
const COMPONENT_CALLER: &[ErrCode] = &[
    ErrCode::ACCESS_TOKEN_MISSING,
    ErrCode::INVALID_CREDENTIAL,
    ErrCode::ACCESS_TOKEN_EXPIRED,
    ErrCode::INVALID_COMPONENT,
];

impl Errcodes {
    pub const TOKEN: &[&[ErrCode]] = &[CREDENTIALS];
    pub const STABLE_TOKEN: &[&[ErrCode]] = &[BODY, CREDENTIALS];
    pub const UPLOAD_SHOPPING: &[&[ErrCode]] =
        &[CALLER, BODY, ORDER_KEY, ORDERS, PAYER, UPLOAD_TIME, SAVE];
    pub const UPLOAD_COMBINED_SHOPPING: &[&[ErrCode]] = &[
        CALLER,
        BODY,
        ORDER_KEY,
        &[ErrCode::SUB_ORDER_TYPE_DIFFERS],
        ORDERS,
        PAYER,
        UPLOAD_TIME,
        SAVE,
    ];
    pub const UPLOAD_SHIPPING: &[&[ErrCode]] =
        &[CALLER, BODY, ORDER_KEY, SHIPPINGS, PAYER, UPLOAD_TIME, SAVE];
    pub const UPLOAD_COMBINED_SHIPPING: &[&[ErrCode]] = &[
        CALLER,
        BODY,
        ORDER_KEY,
        &[ErrCode::SUB_ORDER_TYPE_DIFFERS],
        SHIPPINGS,
        PAYER,
        UPLOAD_TIME,
        SAVE,
    ];
    pub const VERIFY: &[&[ErrCode]] = &[CALLER, BODY, ORDER_KEY, PAYER];
    pub const PERMISSION_OPEN: &[&[ErrCode]] = &[
        CALLER,
        &[
            ErrCode::AGREEMENT_NOT_SIGNED,
            ErrCode::NOT_IN_OPEN_SCOPE,
            ErrCode::PERMISSION_STATE_FORBIDS_OPEN,
        ],
    ];
    pub const PERMISSION_CONFIRM: &[&[ErrCode]] = &[CALLER, &[ErrCode::PERMISSION_NOT_OPEN]];
    pub const COMPONENT_TOKEN: &[&[ErrCode]] = &[
        BODY,
        &[
            ErrCode::APPID_MISSING,
            ErrCode::INVALID_COMPONENT,
            ErrCode::APPSECRET_MISSING,
            ErrCode::INVALID_APPSECRET,
            ErrCode::COMPONENT_TICKET_INVALID,
        ],
    ];
    pub const QUERY_AUTH: &[&[ErrCode]] = &[
        BODY,
        COMPONENT_CALLER,
        &[ErrCode::AUTHORIZATION_CODE_INVALID],
    ];
    pub const AUTHORIZER_TOKEN: &[&[ErrCode]] = &[
        BODY,
        COMPONENT_CALLER,
        &[ErrCode::APPID_MISSING, ErrCode::REFRESH_TOKEN_INVALID],
    ];
    pub const RID_GET: &[&[ErrCode]] = &[CALLER, BODY, &[ErrCode::RID_NOT_FOUND]];
    /// SPEC §10.4, in its check order.
    pub const SEC_UPLOAD_SHIPPING: &[&[ErrCode]] = &[
        CALLER,
        BODY,
        ORDER_KEY,
        &[
            ErrCode::SEC_INVALID_PARAMETER,
            ErrCode::UPLOAD_TIME_ILLEGAL,
            ErrCode::ILLEGAL_DELIVERY_MODE,
            ErrCode::LOGISTICS_TYPE_ILLEGAL,
            ErrCode::UNIFIED_NEEDS_ONE_SHIPPING,
            ErrCode::TOO_MANY_PARCELS,
            ErrCode::SPLIT_NEEDS_COURIER,
            ErrCode::IS_ALL_DELIVERED_MISSING,
            ErrCode::ITEM_DESC_EMPTY,
            ErrCode::ITEM_DESC_TOO_LONG,
            ErrCode::TRACKING_NO_EMPTY,
            ErrCode::TRACKING_NO_TOO_LONG,
            ErrCode::EXPRESS_COMPANY_EMPTY,
            ErrCode::EXPRESS_COMPANY_TOO_LONG,
            ErrCode::PAYMENT_NOT_FOUND,
            ErrCode::PAYER_NOT_THE_ORDERS,
            ErrCode::SHIPPING_NOT_UPDATED,
            ErrCode::ORDER_NOT_SHIPPABLE,
            ErrCode::ORDER_ALREADY_SHIPPED,
            ErrCode::RESHIP_USED,
        ],
    ];
    /// SPEC §10.5, in its check order.
    pub const SEC_UPLOAD_COMBINED_SHIPPING: &[&[ErrCode]] = &[
        CALLER,
        BODY,
        ORDER_KEY,
        &[
            ErrCode::SEC_INVALID_PARAMETER,
            ErrCode::UPLOAD_TIME_ILLEGAL,
            ErrCode::SUB_ORDER_TYPE_DIFFERS,
            ErrCode::SUB_ORDER_REPEATED,
        ],
        Self::SEC_UPLOAD_SHIPPING[3],
    ];
    /// SPEC §10.7: the filters, then the cursor; no platform may call (61007).
    pub const ORDER_LIST: &[&[ErrCode]] = &[
        CALLER,
        BODY,
        &[ErrCode::SEC_INVALID_PARAMETER, ErrCode::LAST_INDEX_ILLEGAL],
    ];
    /// SPEC §10.7: PaymentRef, then the lookup.
    pub const GET_ORDER: &[&[ErrCode]] = &[
        CALLER,
        BODY,
        &[ErrCode::SEC_INVALID_PARAMETER, ErrCode::PAYMENT_NOT_FOUND],
    ];
    /// SPEC §10.8: PaymentRef, received_time, the lookup, then the reminder's rules.
    pub const NOTIFY_CONFIRM_RECEIVE: &[&[ErrCode]] = &[
        CALLER,
        BODY,
        &[
            ErrCode::SEC_INVALID_PARAMETER,
            ErrCode::PAYMENT_NOT_FOUND,
            ErrCode::ORDER_NOT_SHIPPED,
            ErrCode::REMIND_NOT_COURIER,
            ErrCode::REMINDER_USED,
            ErrCode::RECEIVED_TIME_ILLEGAL,
        ],
    ];
    /// SPEC §10.11: type, the order still to ship, then a pre-sale's delay_to.
    pub const SPECIAL_ORDER: &[&[ErrCode]] = &[
        CALLER,
        BODY,
        &[
            ErrCode::SPECIAL_TYPE_ILLEGAL,
            ErrCode::SPECIAL_ORDER_NOT_FOUND,
            ErrCode::SPECIAL_DELAY_TO_ILLEGAL,
        ],
    ];
    /// SPEC §10.9: the trade-management gate (48001); no platform may call (61007).
    pub const SET_MSG_JUMP_PATH: &[&[ErrCode]] = &[CALLER, BODY, &[ErrCode::SEC_INVALID_PARAMETER]];
    /// SPEC §10.10: no gate; a platform needs set 18 or 142 (61003).
    pub const TRADE_QUERY: &[&[ErrCode]] = &[
        TOKEN_ONLY,
        &[ErrCode::COMPONENT_NOT_AUTHORIZED],
        QUOTAS,
        BODY,
        &[ErrCode::INVALID_ARGS, ErrCode::INVALID_APPID],
    ];
    /// SPEC §10.12: no gate; a platform needs set 45, 120, 121 or 142.
    pub const DELIVERY_LIST: &[&[ErrCode]] = &[
        TOKEN_ONLY,
        &[ErrCode::API_UNAUTHORIZED_TO_COMPONENT],
        QUOTAS,
        BODY,
    ];
}

/// What the document says about one endpoint.
pub struct Doc {
    tag: Tag,
    summary: &'static str,
    auth: Auth,
    params: fn() -> Vec<Parameter>,
    body: Option<SchemaFn>,
    answer: Answer,
    errcodes: &'static [&'static [ErrCode]],
}

impl Doc {
    /// A WeChat API called with an access_token that answers the bare envelope.
    pub fn new(tag: Tag, summary: &'static str) -> Self {
        Self {
            tag,
            summary,
            auth: Auth::AccessToken,
            params: Vec::new,
            body: None,
            answer: Answer::WeChat(schema::<EnvelopeOut>),
            errcodes: &[],
        }
    }

    /// A sandbox operation.
    pub fn sandbox(summary: &'static str) -> Self {
        Self {
            auth: Auth::Admin,
            ..Self::new(Tag::Sandbox, summary)
        }
    }

    pub fn auth(self, auth: Auth) -> Self {
        Self { auth, ..self }
    }

    pub fn params(self, params: fn() -> Vec<Parameter>) -> Self {
        Self { params, ..self }
    }

    pub fn body(self, body: SchemaFn) -> Self {
        Self {
            body: Some(body),
            ..self
        }
    }

    pub fn answer(self, answer: Answer) -> Self {
        Self { answer, ..self }
    }

    pub fn errcodes(self, errcodes: &'static [&'static [ErrCode]]) -> Self {
        Self { errcodes, ..self }
    }

    /// Every errcode in check order, each once, then -1 (any call can meet a server fault).
    pub fn errcode_list(&self) -> Vec<ErrCode> {
        let mut list: Vec<ErrCode> = Vec::new();
        for code in self.errcodes.iter().flat_map(|group| group.iter()) {
            if !list.contains(code) {
                list.push(*code);
            }
        }
        if matches!(self.answer, Answer::WeChat(_)) {
            list.push(ErrCode::SYSTEM_ERROR);
        }
        list
    }

    fn operation(&self, path: &str, post_only: bool, components: &mut Components) -> Operation {
        let mut parameters: Vec<Parameter> = path_params(path);
        parameters.extend((self.params)());

        let mut operation = Operation::builder()
            .tag(self.tag.name())
            .summary(Some(self.summary))
            .operation_id(Some(operation_id(path, self.answer)))
            .parameters(Some(parameters));
        if let Some(body) = self.body {
            operation = operation.request_body(Some(
                RequestBody::builder()
                    .content(JSON, Content::new(Some(body(components))))
                    .required(Some(Required::False))
                    .build(),
            ));
        }
        let errcodes = self.errcode_list();
        let (status, answer) = match self.answer {
            Answer::WeChat(answer) => {
                let answer = answer(components);
                let envelope = schema::<EnvelopeOut>(components);
                let any = if answer == envelope {
                    answer
                } else {
                    utoipa::openapi::schema::AnyOfBuilder::new()
                        .item(answer)
                        .item(envelope)
                        .into()
                };
                ("200", any)
            }
            Answer::Created(answer) => ("201", answer(components)),
            Answer::Rest(answer) => ("200", answer(components)),
        };
        let mut responses = Responses::builder().response(
            status,
            Response::builder()
                .description(match self.answer {
                    Answer::WeChat(_) => {
                        "The answer, or the errcode envelope (WeChat answers refusals with \
                         HTTP 200 too)"
                    }
                    _ => "The answer",
                })
                .content(JSON, Content::new(Some(answer))),
        );
        if matches!(self.auth, Auth::Admin) {
            let error = schema::<userorder_model::sandbox::SandboxErrorOut>(components);
            for (status, why) in [
                (
                    "400",
                    "The body or a query parameter is not what the sandbox takes",
                ),
                ("401", "Missing or wrong admin token"),
                ("404", "No such app, payment or path"),
                ("409", "It exists already"),
                ("500", "The store failed"),
            ] {
                responses = responses.response(
                    status,
                    Response::builder()
                        .description(why)
                        .content(JSON, Content::new(Some(error.clone()))),
                );
            }
        }
        let scheme = match self.auth {
            Auth::AccessToken => Some("access_token"),
            Auth::ComponentToken => Some("component_access_token"),
            Auth::Admin => Some("admin"),
            Auth::None => None,
        };
        if let Some(scheme) = scheme {
            operation = operation.security(SecurityRequirement::new(scheme, Vec::<String>::new()));
        }
        let mut description = String::new();
        if post_only {
            description.push_str(
                "Any other method answers errcode 43002. An unknown path under /cgi-bin/, \
                 /user-order/ or /wxa/ answers 40066. ",
            );
        }
        if !errcodes.is_empty() {
            description.push_str(
                "The errcodes it answers, in the order the checks run, are in `x-errcodes`; \
                 a scripted fault (`POST /sandbox/faults`) can answer any errcode.",
            );
            operation = operation.extensions(Some(
                Extensions::builder()
                    .add(
                        "x-errcodes",
                        Value::Array(
                            errcodes
                                .iter()
                                .map(|code| {
                                    json!({"errcode": code.0, "errmsg": code.default_message()})
                                })
                                .collect(),
                        ),
                    )
                    .build(),
            ));
        }
        if !description.is_empty() {
            operation = operation.description(Some(description));
        }
        operation.responses(responses.build()).build()
    }
}

const JSON: &str = "application/json";

fn string_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .into()
}

/// `{name}` segments as required path parameters.
fn path_params(path: &str) -> Vec<Parameter> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            Parameter::builder()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(string_schema()))
                .build()
        })
        .collect()
}

/// A stable, readable id: the path's words, then what the operation does.
fn operation_id(path: &str, answer: Answer) -> String {
    let verb = match answer {
        Answer::Created(_) => "create_",
        _ => "",
    };
    format!("{verb}{}", path_words(path))
}

/// A path's words joined by `_`, parameters left out.
fn path_words(path: &str) -> String {
    let words: Vec<&str> = path
        .split(['/', '-', '_'])
        .filter(|w| !w.is_empty() && !w.starts_with('{') && *w != "cgi" && *w != "bin")
        .collect();
    words.join("_")
}

fn method(name: &str) -> HttpMethod {
    match name {
        "get" => HttpMethod::Get,
        "put" => HttpMethod::Put,
        "delete" => HttpMethod::Delete,
        _ => HttpMethod::Post,
    }
}

/// The whole document.
pub fn document() -> OpenApi {
    let mut components = Components::new();
    let mut paths: BTreeMap<String, PathItem> = BTreeMap::new();
    let endpoints = app::endpoints();
    // Operation ids must be unique: a path served by several methods names the method.
    let mut methods_of: BTreeMap<&str, usize> = BTreeMap::new();
    for endpoint in &endpoints {
        *methods_of.entry(endpoint.path).or_default() += endpoint.methods.len();
    }
    for endpoint in &endpoints {
        let post_only = endpoint.methods == ["post"] && !endpoint.path.starts_with("/sandbox/");
        for name in endpoint.methods {
            let mut operation = endpoint
                .doc
                .operation(endpoint.path, post_only, &mut components);
            if methods_of.get(endpoint.path).copied().unwrap_or(0) > 1 {
                operation.operation_id = operation.operation_id.map(|id| format!("{id}_{name}"));
            }
            let item = PathItem::new(method(name), operation);
            match paths.get_mut(endpoint.path) {
                Some(existing) => existing.merge_operations(item),
                None => {
                    paths.insert(endpoint.path.to_owned(), item);
                }
            }
        }
    }
    components.security_schemes.insert(
        "admin".into(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The sandbox's admin token (`--admin-token` / USERORDER_ADMIN_TOKEN).",
                ))
                .build(),
        ),
    );
    // The WeChat tokens travel in the query string.
    components.security_schemes.insert(
        "access_token".into(),
        SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
            "access_token",
            "`?access_token=`: an app's access_token (from /cgi-bin/token or \
             /cgi-bin/stable_token) or an authorizer_access_token. Missing: 41001; unknown or \
             superseded: 40001; expired: 42001.",
        ))),
    );
    components.security_schemes.insert(
        "component_access_token".into(),
        SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
            "component_access_token",
            "`?component_access_token=`: a third-party platform's token, from \
             /cgi-bin/component/api_component_token.",
        ))),
    );
    wechat_pay_v3(&mut paths, &mut components);
    let mut paths_object = Paths::new();
    for (path, item) in paths {
        paths_object.paths.insert(path, item);
    }
    let mut info = Info::new("userorder", env!("CARGO_PKG_VERSION"));
    info.description = Some(
        "WeChat's Shopping Order API (购物订单, /user-order/) with the token APIs it depends \
         on, as userorder serves it, and userorder's sandbox API. WeChat APIs answer HTTP 200 \
         with `Content-Type: application/json; encoding=utf-8` whether they succeed or \
         refuse: a refusal is `{\"errcode\": N, \"errmsg\": \"… rid: …\"}`. Request fields \
         are lenient on the wire (a missing or mistyped field is an errcode, not an HTTP \
         error); the schemas state the rules. Where SPEC counts bytes, `maxLength` here \
         counts characters, the same for ASCII: the description of such a field says bytes."
            .into(),
    );
    let mut document = OpenApi::new(info, paths_object);
    document.components = Some(components);
    document.tags = Some(
        Tag::ALL
            .iter()
            .map(|tag| {
                let mut api_tag = ApiTag::new(tag.name());
                api_tag.description = Some(tag.description().into());
                api_tag
            })
            .collect(),
    );
    document
}

/// The `/v3/` operations (SPEC §11): WeChat Pay's own conventions — real HTTP statuses,
/// `{"code","message","detail"?}` refusals, every request signed with the merchant's key.
fn wechat_pay_v3(paths: &mut BTreeMap<String, PathItem>, components: &mut Components) {
    let error = schema::<userorder_model::pay_v3::V3ErrorOut>(components);
    let object: RefOr<Schema> = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .into();
    for crate::pay_v3::Documented {
        method: name,
        path,
        summary,
        success,
        refusals,
        has_body,
    } in crate::pay_v3::DOCUMENTED
    {
        let mut parameters = path_params(path);
        if path.starts_with("/v3/pay/transactions/") && !path.ends_with("/close") {
            parameters.push(
                Parameter::builder()
                    .name("mchid")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::True)
                    .schema(Some(string_schema()))
                    .build(),
            );
        }
        let mut responses = Responses::builder();
        responses = match success {
            "204" => responses.response(
                "204",
                Response::builder().description("Done (signed over an empty body)"),
            ),
            _ => responses.response(
                success,
                Response::builder()
                    .description("The answer, signed with the Wechatpay-* headers")
                    .content(JSON, Content::new(Some(object.clone()))),
            ),
        };
        for status in refusals {
            let why = match *status {
                "400" => "PARAM_ERROR (with detail), INVALID_REQUEST, ORDERPAID, ORDER_CLOSED, …",
                "401" => {
                    "SIGN_ERROR: the Authorization header is missing, malformed or does not verify"
                }
                "403" => "OUT_TRADE_NO_USED, or a scripted fault",
                "404" => "ORDER_NOT_EXIST or RESOURCE_NOT_EXISTS",
                "429" => "FREQUENCY_LIMITED",
                _ => "SYSTEM_ERROR",
            };
            responses = responses.response(
                *status,
                Response::builder()
                    .description(why)
                    .content(JSON, Content::new(Some(error.clone()))),
            );
        }
        let mut operation = Operation::builder()
            .tag(Tag::WeChatPayV3.name())
            .summary(Some(summary))
            .operation_id(Some(format!("{}_{name}", path_words(path))))
            .parameters(Some(parameters))
            .responses(responses.build())
            .description(Some(
                "WeChat Pay's conventions (SPEC §11): real HTTP statuses; refusals are \
                 `{\"code\",\"message\",\"detail\"?}` without Wechatpay-* headers; an unknown \
                 path answers 404 and a wrong method 405, both with empty bodies.",
            ));
        if has_body {
            operation = operation.request_body(Some(
                RequestBody::builder()
                    .content(JSON, Content::new(Some(object.clone())))
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        let operation = operation
            .security(SecurityRequirement::new("wechatpay", Vec::<String>::new()))
            .build();
        let item = PathItem::new(method(name), operation);
        match paths.get_mut(path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                paths.insert(path.to_owned(), item);
            }
        }
    }
    components.security_schemes.insert(
        "wechatpay".into(),
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Authorization",
            "`WECHATPAY2-SHA256-RSA2048 mchid=\"…\",nonce_str=\"…\",signature=\"…\",timestamp=\"…\",serial_no=\"…\"`: \
             SHA256withRSA with the merchant API key over `METHOD\\nTARGET\\ntimestamp\\nnonce\\nBODY\\n`, \
             the target and body exactly as sent (SPEC §11.3). Register the key with \
             `PUT /sandbox/merchants/{mchid}/apiv3`.",
        ))),
    );
}

/// `GET /openapi.json`.
pub async fn serve() -> impl IntoResponse {
    Json(document())
}
