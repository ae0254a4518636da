//! SPEC §11.5's PARAM_ERROR: a request's parameters walked field by field in SPEC's order,
//! the first broken rule answered as `{field, value?, issue, location}`; and the requests
//! of §11.6 and §11.9 as the walk reads them.

use serde_json::{Map, Value};

/// The first broken rule of a request: 400 PARAM_ERROR with [`ParamError::message`] and
/// [`ParamError::detail`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    /// A JSON pointer (`/amount/total`); `""` for the body as a whole.
    pub field: String,
    /// As received; `None` when absent.
    pub value: Option<Value>,
    pub issue: String,
    /// `body`, or `uri_template` for path and query parameters.
    pub location: &'static str,
}

pub const BODY_NOT_OBJECT: &str = "body is not a JSON object";
pub const BODY_TOO_LARGE: &str = "body larger than 1 MiB";
/// The most a `/v3/` body may be.
pub const MAX_BODY: usize = 1 << 20;

impl ParamError {
    /// A body that is not a JSON object (or is too large): `请求体格式错误`.
    pub fn body(issue: &str) -> Self {
        Self {
            field: String::new(),
            value: None,
            issue: issue.to_owned(),
            location: "body",
        }
    }

    pub fn message(&self) -> String {
        if self.field.is_empty() {
            return "请求体格式错误".to_owned();
        }
        let dotted = self.field.trim_start_matches('/').replace('/', ".");
        let head = format!(
            "输入源“/{}{}”映射到字段“{dotted}”",
            self.location, self.field
        );
        match self.issue.as_str() {
            "required" => format!("{head}必填性规则校验失败，此字段为必填项"),
            issue => format!("{head}校验失败：{issue}"),
        }
    }

    pub fn detail(&self) -> Value {
        let mut detail = Map::new();
        if !self.field.is_empty() {
            detail.insert("field".into(), Value::String(self.field.clone()));
        }
        if let Some(value) = &self.value {
            detail.insert("value".into(), value.clone());
        }
        detail.insert("issue".into(), Value::String(self.issue.clone()));
        detail.insert("location".into(), Value::String(self.location.to_owned()));
        Value::Object(detail)
    }
}

pub type Checked<T> = Result<T, ParamError>;

/// A `/v3/` request body as JSON: at most [`MAX_BODY`] bytes, one JSON object.
pub fn body_json(bytes: &[u8]) -> Checked<Value> {
    if bytes.len() > MAX_BODY {
        return Err(ParamError::body(BODY_TOO_LARGE));
    }
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ParamError::body(BODY_NOT_OBJECT))
}

/// Reads a body's (or a query's) fields by JSON pointer. Absent = missing or `null`; `""`
/// is absent for an optional string and missing for a required one (SPEC §11.1).
pub struct Fields<'a> {
    root: &'a Value,
    location: &'static str,
}

/// OutTradeNo's characters (SPEC §11.5).
pub fn out_trade_no_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '|' | '*')
}

/// out_refund_no's characters (SPEC §11.9).
pub fn out_refund_no_char(c: char) -> bool {
    out_trade_no_char(c) || c == '@'
}

impl<'a> Fields<'a> {
    /// A request body: it must be a JSON object.
    pub fn body(root: &'a Value) -> Checked<Self> {
        if !root.is_object() {
            return Err(ParamError::body(BODY_NOT_OBJECT));
        }
        Ok(Self {
            root,
            location: "body",
        })
    }

    /// Path and query parameters, as an object of strings.
    pub fn uri(root: &'a Value) -> Self {
        Self {
            root,
            location: "uri_template",
        }
    }

    fn at(&self, pointer: &str) -> Option<&'a Value> {
        self.root.pointer(pointer).filter(|v| !v.is_null())
    }

    fn refuse(&self, pointer: &str, value: Option<&Value>, issue: impl Into<String>) -> ParamError {
        ParamError {
            field: pointer.to_owned(),
            value: value.cloned(),
            issue: issue.into(),
            location: self.location,
        }
    }

    /// An optional string of `min`–`max` bytes.
    pub fn string(&self, pointer: &str, min: usize, max: usize) -> Checked<Option<String>> {
        let Some(value) = self.at(pointer) else {
            return Ok(None);
        };
        let Some(text) = value.as_str() else {
            return Err(self.refuse(pointer, Some(value), "type must be string"));
        };
        if text.is_empty() {
            return Ok(None);
        }
        if text.len() < min || text.len() > max {
            return Err(self.refuse(
                pointer,
                Some(value),
                format!("length must be {min}-{max} bytes"),
            ));
        }
        Ok(Some(text.to_owned()))
    }

    pub fn required_string(&self, pointer: &str, min: usize, max: usize) -> Checked<String> {
        self.string(pointer, min, max)?
            .ok_or_else(|| self.refuse(pointer, self.at(pointer), "required"))
    }

    /// A string of `min`–`max` characters of a charset (`label` names it).
    pub fn coded(
        &self,
        pointer: &str,
        (min, max): (usize, usize),
        allowed: fn(char) -> bool,
        label: &str,
    ) -> Checked<Option<String>> {
        let Some(text) = self.string(pointer, 1, usize::MAX)? else {
            return Ok(None);
        };
        let value = self.at(pointer);
        if !text.chars().all(allowed) {
            return Err(self.refuse(pointer, value, format!("must match {label}")));
        }
        let n = text.chars().count();
        if n < min || n > max {
            return Err(self.refuse(pointer, value, format!("length must be {min}-{max} bytes")));
        }
        Ok(Some(text))
    }

    pub fn out_trade_no(&self, pointer: &str) -> Checked<Option<String>> {
        self.coded(pointer, (6, 32), out_trade_no_char, r"[0-9A-Za-z_\-|*]")
    }

    pub fn required<T>(&self, pointer: &str, value: Option<T>) -> Checked<T> {
        value.ok_or_else(|| self.refuse(pointer, self.at(pointer), "required"))
    }

    /// An optional amount in fen: an integer from 1 to 2^31 − 1.
    pub fn amount(&self, pointer: &str) -> Checked<Option<i64>> {
        let Some(value) = self.at(pointer) else {
            return Ok(None);
        };
        let Some(n) = value.as_i64() else {
            return Err(self.refuse(pointer, Some(value), "type must be integer"));
        };
        if !(1..=i64::from(i32::MAX)).contains(&n) {
            return Err(self.refuse(pointer, Some(value), "must be 1-2147483647"));
        }
        Ok(Some(n))
    }

    pub fn boolean(&self, pointer: &str) -> Checked<Option<bool>> {
        match self.at(pointer) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.refuse(pointer, Some(other), "type must be boolean")),
        }
    }

    pub fn object(&self, pointer: &str) -> Checked<Option<&'a Value>> {
        match self.at(pointer) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v)),
            Some(other) => Err(self.refuse(pointer, Some(other), "type must be object")),
        }
    }

    pub fn array(&self, pointer: &str) -> Checked<Option<&'a Vec<Value>>> {
        match self.at(pointer) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.refuse(pointer, Some(other), "type must be array")),
        }
    }

    /// `CNY`, or absent when `required` is false.
    pub fn currency(&self, pointer: &str, required: bool) -> Checked<()> {
        match self.string(pointer, 1, 16)? {
            None if required => Err(self.refuse(pointer, self.at(pointer), "required")),
            None => Ok(()),
            Some(c) if c == "CNY" => Ok(()),
            Some(_) => Err(self.refuse(pointer, self.at(pointer), "must be CNY")),
        }
    }

    /// An RFC 3339 time (SPEC §10.3's forms), as Unix seconds.
    pub fn time(&self, pointer: &str) -> Checked<Option<i64>> {
        let Some(text) = self.string(pointer, 1, 64)? else {
            return Ok(None);
        };
        crate::sec_order::upload_time(Some(text))
            .map(|t| Some(t.unix_nanos().div_euclid(1_000_000_000)))
            .map_err(|_| self.refuse(pointer, self.at(pointer), "must be an RFC 3339 time"))
    }

    /// NotifyUrl: `http(s)://host…`, no query or fragment, at most `max` bytes.
    pub fn notify_url(&self, pointer: &str, max: usize) -> Checked<Option<String>> {
        let Some(url) = self.string(pointer, 1, max)? else {
            return Ok(None);
        };
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        let host = rest.map(|r| r.split('/').next().unwrap_or_default());
        let ok = host.is_some_and(|h| !h.is_empty()) && !url.contains(['?', '#', ' ']);
        if !ok {
            return Err(self.refuse(
                pointer,
                self.at(pointer),
                "must be an http(s) URL without query",
            ));
        }
        Ok(Some(url))
    }

    pub fn duplicate(&self, pointer: &str) -> ParamError {
        self.refuse(pointer, self.at(pointer), "duplicate")
    }

    pub fn entries(&self, pointer: &str, min: usize, max: usize) -> ParamError {
        self.refuse(
            pointer,
            self.at(pointer),
            format!("must have {min}-{max} entries"),
        )
    }
}

/// A JSAPI prepay (SPEC §11.6), as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepayRequest {
    pub appid: String,
    pub mchid: String,
    pub description: String,
    pub out_trade_no: String,
    pub time_expire: Option<i64>,
    pub attach: Option<String>,
    pub notify_url: String,
    pub goods_tag: Option<String>,
    pub total: i64,
    pub openid: String,
    pub device_id: Option<String>,
}

/// SPEC §11.6's fields, in order.
pub fn prepay_request(body: &Value) -> Checked<PrepayRequest> {
    let f = Fields::body(body)?;
    let appid = f.required_string("/appid", 1, 32)?;
    let mchid = f.required_string("/mchid", 1, 32)?;
    let description = f.required_string("/description", 1, 127)?;
    let out_trade_no = f.out_trade_no("/out_trade_no")?;
    let out_trade_no = f.required("/out_trade_no", out_trade_no)?;
    let time_expire = f.time("/time_expire")?;
    let attach = f.string("/attach", 1, 128)?;
    let notify_url = f.notify_url("/notify_url", 255)?;
    let notify_url = f.required("/notify_url", notify_url)?;
    let goods_tag = f.string("/goods_tag", 1, 32)?;
    f.boolean("/support_fapiao")?;
    let amount = f.object("/amount")?;
    f.required("/amount", amount)?;
    let total = f.amount("/amount/total")?;
    let total = f.required("/amount/total", total)?;
    f.currency("/amount/currency", false)?;
    let payer = f.object("/payer")?;
    f.required("/payer", payer)?;
    let openid = f.required_string("/payer/openid", 1, 128)?;
    f.object("/detail")?;
    let device_id = match f.object("/scene_info")? {
        Some(_) => f.string("/scene_info/device_id", 1, 32)?,
        None => None,
    };
    f.object("/settle_info")?;
    Ok(PrepayRequest {
        appid,
        mchid,
        description,
        out_trade_no,
        time_expire,
        attach,
        notify_url,
        goods_tag,
        total,
        openid,
        device_id,
    })
}

/// A combined prepay's sub-order (SPEC §11.10), as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubOrderRequest {
    pub mchid: String,
    pub attach: String,
    pub total: i64,
    pub out_trade_no: String,
    pub description: String,
    pub goods_tag: Option<String>,
}

/// A combined JSAPI prepay (SPEC §11.10), as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CombineRequest {
    pub combine_appid: String,
    pub combine_mchid: String,
    pub combine_out_trade_no: String,
    pub device_id: Option<String>,
    pub sub_orders: Vec<SubOrderRequest>,
    pub openid: String,
    pub time_expire: Option<i64>,
    pub notify_url: String,
}

/// SPEC §11.10's fields, in order (each sub-order's in its own order).
pub fn combine_request(body: &Value) -> Checked<CombineRequest> {
    let f = Fields::body(body)?;
    let combine_appid = f.required_string("/combine_appid", 1, 32)?;
    let combine_mchid = f.required_string("/combine_mchid", 1, 32)?;
    let no = f.out_trade_no("/combine_out_trade_no")?;
    let combine_out_trade_no = f.required("/combine_out_trade_no", no)?;
    let device_id = match f.object("/scene_info")? {
        Some(_) => f.string("/scene_info/device_id", 1, 32)?,
        None => None,
    };
    let subs = f.array("/sub_orders")?;
    let subs = f.required("/sub_orders", subs)?;
    if !(2..=10).contains(&subs.len()) {
        return Err(f.entries("/sub_orders", 2, 10));
    }
    let mut sub_orders: Vec<SubOrderRequest> = Vec::with_capacity(subs.len());
    for i in 0..subs.len() {
        let at = |field: &str| format!("/sub_orders/{i}/{field}");
        let object = f.object(&format!("/sub_orders/{i}"))?;
        f.required(&format!("/sub_orders/{i}"), object)?;
        let mchid = f.required_string(&at("mchid"), 1, 32)?;
        let attach = f.required_string(&at("attach"), 1, 128)?;
        let amount = f.object(&at("amount"))?;
        f.required(&at("amount"), amount)?;
        let total = f.amount(&at("amount/total_amount"))?;
        let total = f.required(&at("amount/total_amount"), total)?;
        f.currency(&at("amount/currency"), false)?;
        let no = f.out_trade_no(&at("out_trade_no"))?;
        let out_trade_no = f.required(&at("out_trade_no"), no)?;
        if sub_orders
            .iter()
            .any(|s| s.mchid == mchid && s.out_trade_no == out_trade_no)
        {
            return Err(f.duplicate(&at("out_trade_no")));
        }
        let description = f.required_string(&at("description"), 1, 127)?;
        f.object(&at("detail"))?;
        let goods_tag = f.string(&at("goods_tag"), 1, 32)?;
        f.object(&at("settle_info"))?;
        sub_orders.push(SubOrderRequest {
            mchid,
            attach,
            total,
            out_trade_no,
            description,
            goods_tag,
        });
    }
    let payer = f.object("/combine_payer_info")?;
    f.required("/combine_payer_info", payer)?;
    let openid = f.required_string("/combine_payer_info/openid", 1, 128)?;
    f.string("/time_start", 1, 64)?;
    let time_expire = f.time("/time_expire")?;
    let notify_url = f.notify_url("/notify_url", 255)?;
    let notify_url = f.required("/notify_url", notify_url)?;
    Ok(CombineRequest {
        combine_appid,
        combine_mchid,
        combine_out_trade_no,
        device_id,
        sub_orders,
        openid,
        time_expire,
        notify_url,
    })
}

/// A combined close (#9): `combine_appid` and the sub-orders' (mchid, out_trade_no).
pub fn combine_close_request(body: &Value) -> Checked<(String, Vec<(String, String)>)> {
    let f = Fields::body(body)?;
    let appid = f.required_string("/combine_appid", 1, 32)?;
    let subs = f.array("/sub_orders")?;
    let subs = f.required("/sub_orders", subs)?;
    if !(2..=10).contains(&subs.len()) {
        return Err(f.entries("/sub_orders", 2, 10));
    }
    let mut keys = Vec::with_capacity(subs.len());
    for i in 0..subs.len() {
        let mchid = f.required_string(&format!("/sub_orders/{i}/mchid"), 1, 32)?;
        let no = f.out_trade_no(&format!("/sub_orders/{i}/out_trade_no"))?;
        let no = f.required(&format!("/sub_orders/{i}/out_trade_no"), no)?;
        keys.push((mchid, no));
    }
    Ok((appid, keys))
}

/// Which payment a refund names: a transaction_id wins over an out_trade_no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOf {
    TransactionId(String),
    OutTradeNo(String),
}

/// A refund (SPEC §11.9), as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub of: RefundOf,
    pub out_refund_no: String,
    pub reason: Option<String>,
    pub notify_url: Option<String>,
    pub refund: i64,
    pub total: i64,
}

/// SPEC §11.9's fields, in order.
pub fn refund_request(body: &Value) -> Checked<RefundRequest> {
    let f = Fields::body(body)?;
    let transaction_id = f.string("/transaction_id", 1, 32)?;
    let out_trade_no = f.out_trade_no("/out_trade_no")?;
    let of = match (transaction_id, out_trade_no) {
        (Some(id), _) => RefundOf::TransactionId(id),
        (None, Some(no)) => RefundOf::OutTradeNo(no),
        (None, None) => return Err(f.refuse("/out_trade_no", None, "required")),
    };
    let out_refund_no = f.coded(
        "/out_refund_no",
        (1, 64),
        out_refund_no_char,
        r"[0-9A-Za-z_\-|*@]",
    )?;
    let out_refund_no = f.required("/out_refund_no", out_refund_no)?;
    let reason = f.string("/reason", 1, 80)?;
    let notify_url = f.notify_url("/notify_url", 256)?;
    f.string("/funds_account", 1, 32)?;
    let amount = f.object("/amount")?;
    f.required("/amount", amount)?;
    let refund = f.amount("/amount/refund")?;
    let refund = f.required("/amount/refund", refund)?;
    let total = f.amount("/amount/total")?;
    let total = f.required("/amount/total", total)?;
    f.currency("/amount/currency", true)?;
    f.array("/amount/from")?;
    f.array("/goods_detail")?;
    Ok(RefundRequest {
        of,
        out_refund_no,
        reason,
        notify_url,
        refund,
        total,
    })
}

/// The `?mchid=` of #2–#4 (a query, `uri_template`), then nothing else.
pub fn mchid_query(query: &Value) -> Checked<String> {
    Fields::uri(query).required_string("/mchid", 1, 32)
}

/// Close's body `{mchid}` (#4).
pub fn close_request(body: &Value) -> Checked<String> {
    Fields::body(body)?.required_string("/mchid", 1, 32)
}

/// A query string's parameters as a JSON object of strings (the last of a repeated name).
pub fn query_object(query: Option<&str>) -> Value {
    let mut map = Map::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(percent_decode(name), Value::String(percent_decode(value)));
    }
    Value::Object(map)
}

/// `%XX` and `+` decoded (invalid escapes kept as they are).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prepay() -> Value {
        json!({
            "appid": "wx1", "mchid": "1900000001", "description": "Tea",
            "out_trade_no": "order-0001", "notify_url": "https://m.example/notify",
            "amount": {"total": 100}, "payer": {"openid": "o1"}
        })
    }

    #[test]
    fn a_prepay_is_read_in_spec_order() {
        let ok = prepay_request(&prepay()).expect("valid");
        assert_eq!(ok.total, 100);
        let mut body = prepay();
        body["appid"] = json!("");
        body["amount"]["total"] = json!(0);
        let e = prepay_request(&body).expect_err("appid first");
        assert_eq!((e.field.as_str(), e.issue.as_str()), ("/appid", "required"));
        assert_eq!(
            e.message(),
            "输入源“/body/appid”映射到字段“appid”必填性规则校验失败，此字段为必填项"
        );
        body["appid"] = json!("wx1");
        let e = prepay_request(&body).expect_err("amount");
        assert_eq!(e.field, "/amount/total");
        assert_eq!(e.detail()["value"], json!(0));
        assert_eq!(
            e.message(),
            "输入源“/body/amount/total”映射到字段“amount.total”校验失败：must be 1-2147483647"
        );
        body["amount"]["total"] = json!(1);
        body["out_trade_no"] = json!("a b c d e");
        assert_eq!(
            prepay_request(&body).expect_err("charset").issue,
            r"must match [0-9A-Za-z_\-|*]"
        );
        body["out_trade_no"] = json!("a|b*c-d");
        body["notify_url"] = json!("https://m.example/n?x=1");
        assert_eq!(
            prepay_request(&body).expect_err("query").issue,
            "must be an http(s) URL without query"
        );
        assert_eq!(
            prepay_request(&json!([])).expect_err("array").message(),
            "请求体格式错误"
        );
    }

    #[test]
    fn a_refund_needs_one_of_its_payment_keys() {
        let body =
            json!({"out_refund_no": "r1", "amount": {"refund": 1, "total": 1, "currency": "CNY"}});
        let e = refund_request(&body).expect_err("neither key");
        assert_eq!(
            (e.field.as_str(), e.issue.as_str()),
            ("/out_trade_no", "required")
        );
        let mut body = body;
        body["transaction_id"] = json!("4200");
        body["out_trade_no"] = json!("x");
        assert_eq!(
            refund_request(&body).expect_err("still checked").issue,
            "length must be 6-32 bytes"
        );
        body["out_trade_no"] = json!(null);
        body["amount"]["currency"] = json!("USD");
        assert_eq!(refund_request(&body).expect_err("cny").issue, "must be CNY");
    }

    #[test]
    fn queries_decode_percent_escapes() {
        assert_eq!(
            query_object(Some("mchid=19%30&x")),
            json!({"mchid": "190", "x": ""})
        );
        assert_eq!(percent_decode("a%7Cb%zz%"), "a|b%zz%");
    }
}
