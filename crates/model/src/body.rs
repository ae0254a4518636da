//! Request bodies (SPEC §1): empty → 44002, over 1 MiB → 45002, anything that is not a
//! JSON object of the right field types, or nested deeper than 64 → 47001.

use serde::de::DeserializeOwned;

use crate::errcode::{ErrCode, Rejection};

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const MAX_DEPTH: usize = 64;

/// Parses a POST body into a lenient wire struct, whatever the Content-Type said.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::new(ErrCode::EMPTY_POST_DATA));
    }
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Rejection::new(ErrCode::CONTENT_SIZE_OUT_OF_LIMIT));
    }
    if nesting_depth(bytes) > MAX_DEPTH {
        return Err(format_error("nesting deeper than 64"));
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(format_error("the body must be a JSON object"));
    }
    serde_json::from_slice(bytes).map_err(format_error)
}

fn format_error(detail: impl std::fmt::Display) -> Rejection {
    Rejection {
        code: ErrCode::DATA_FORMAT_ERROR,
        message: format!("{}: {detail}", ErrCode::DATA_FORMAT_ERROR.default_message()).into(),
    }
}

/// The deepest nesting of objects and arrays, ignoring brackets inside strings. Counted
/// before parsing so a hostile body cannot make the parser recurse.
pub fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::UploadShoppingInfoIn;

    fn code(bytes: &[u8]) -> i64 {
        match parse::<UploadShoppingInfoIn>(bytes) {
            Ok(_) => 0,
            Err(r) => r.code.0,
        }
    }

    #[test]
    fn each_malformed_body_gets_its_code() {
        assert_eq!(code(b""), 44002);
        assert_eq!(code(b"  \n"), 44002);
        assert_eq!(code(b"{\"order_key\":"), 47001);
        assert_eq!(code(b"[]"), 47001);
        assert_eq!(code(b"{\"upload_time\": 5}"), 47001);
        assert_eq!(
            code(b"{\"order_list\":[{\"item_list\":[{\"unit_price\":1.5}]}]}"),
            47001
        );
        assert_eq!(
            code(b"{\"order_list\":[{\"item_list\":[{\"quantity\":99999999999999999999}]}]}"),
            47001
        );
        assert_eq!(code(b"{\"payer\":{\"openid\":\"\xff\"}}"), 47001);
        assert_eq!(code(b"{\"unknown\":1,\"payer\":null}"), 0);
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(nesting_depth(br#"{"a":"[[[[\"{{"}"#), 1);
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(nesting_depth(deep.as_bytes()), 65);
        let body = format!("{{\"x\":{}1{}}}", "[".repeat(64), "]".repeat(64));
        assert_eq!(code(body.as_bytes()), 47001);
    }
}
