//! Messages for payloads that carry no text of their own: `protoPayload` (audit logs, App Engine
//! request logs) and a `jsonPayload` without a message key.

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::model::{Int64, LooseStr, Str};
use super::request::url_path;

/// Values longer than this are cut in a rendered payload: a blob adds nothing to a cluster key.
const MAX_RENDERED_VALUE: usize = 200;
/// Keys past this many are left out of a rendered payload.
const MAX_RENDERED_KEYS: usize = 24;

/// `google.rpc.Code` names, indexed by code.
const RPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The `protoPayload` keys read: `AuditLog` (methodName, status) and App Engine's `RequestLog`
/// (method, resource, and an HTTP `status` number in the same key).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProtoPayload<'a> {
    #[serde(borrow, default, rename = "@type")]
    kind: LooseStr<'a>,
    #[serde(borrow, default)]
    method_name: LooseStr<'a>,
    #[serde(borrow)]
    status: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: LooseStr<'a>,
    #[serde(borrow, default)]
    resource: LooseStr<'a>,
}

#[derive(Deserialize)]
struct RpcStatus<'a> {
    #[serde(default)]
    code: Int64,
    #[serde(borrow, default)]
    message: LooseStr<'a>,
}

/// `google.cloud.sql.v1.SqlInstancesService.Update → 7 PERMISSION_DENIED: <status message>`, or
/// the method alone when the call succeeded.
pub fn proto_message(raw: &RawValue) -> String {
    let Ok(p) = serde_json::from_str::<ProtoPayload<'_>>(raw.get()) else {
        return render_json_compact(raw.get());
    };
    let status = p.status.map(RawValue::get).unwrap_or("");
    if let Some(method) = p.method_name.0.as_deref().filter(|m| !m.is_empty()) {
        let rpc = serde_json::from_str::<RpcStatus<'_>>(status).ok();
        let mut out = method.to_owned();
        if let Some(code) = rpc.as_ref().and_then(|s| s.code.0).filter(|&c| c != 0) {
            let name = usize::try_from(code)
                .ok()
                .and_then(|c| RPC_CODES.get(c))
                .unwrap_or(&"UNKNOWN_CODE");
            let _ = write!(out, " → {code} {name}");
        }
        if let Some(msg) = rpc.as_ref().and_then(|s| s.message.0.as_deref()) {
            if !msg.is_empty() {
                let _ = write!(out, ": {msg}");
            }
        }
        return out;
    }
    if let (Some(method), Some(resource)) = (p.method.0.as_deref(), p.resource.0.as_deref()) {
        let http = serde_json::from_str::<Int64>(status).ok().and_then(|s| s.0);
        return match http {
            Some(code) => format!("{method} {} → {code}", url_path(resource)),
            None => format!("{method} {}", url_path(resource)),
        };
    }
    match p.kind.0.as_deref() {
        Some(kind) => kind.rsplit(['/', '.']).next().unwrap_or(kind).to_owned(),
        None => render_json_compact(raw.get()),
    }
}

/// A one-line rendering of a JSON object for a payload with no message: `key=value` pairs with
/// the keys sorted (so producers that order keys differently agree), strings bare unless they
/// hold spaces, nested values as minified JSON, long values cut. Not an object: minified JSON.
pub fn render_json_compact(json: &str) -> String {
    let Ok(PairList(mut pairs)) = serde_json::from_str::<PairList<'_>>(json) else {
        return cut(&minify(json)).to_owned();
    };
    pairs.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
    let mut out = String::new();
    for (key, value) in pairs.iter().take(MAX_RENDERED_KEYS) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(key.as_str());
        out.push('=');
        match serde_json::from_str::<Str<'_>>(value.get()) {
            Ok(s) if !s.as_str().contains(char::is_whitespace) => out.push_str(cut(s.as_str())),
            _ => out.push_str(cut(&minify(value.get()))),
        }
    }
    out
}

/// The pairs of a JSON object, in order.
struct PairList<'a>(Vec<(Str<'a>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for PairList<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PairList<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<Str<'de>, &'de RawValue>()? {
                    pairs.push(pair);
                }
                Ok(PairList(pairs))
            }
        }
        d.deserialize_map(V)
    }
}

/// `s` cut to at most [`MAX_RENDERED_VALUE`] bytes, on a character boundary.
fn cut(s: &str) -> &str {
    if s.len() <= MAX_RENDERED_VALUE {
        return s;
    }
    let mut end = MAX_RENDERED_VALUE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// JSON text without the whitespace between tokens (`gcloud` pretty-prints its exports).
/// `json` is valid JSON, so whitespace outside strings is ASCII; strings are copied a span
/// at a time up to their next quote or escape.
pub fn minify(json: &str) -> String {
    let b = json.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i] == b'"' {
            i += 1;
            loop {
                match memchr::memchr2(b'"', b'\\', &b[i..]) {
                    Some(k) if b[i + k] == b'"' => break i += k + 1,
                    // An escape: the byte after the backslash is the string's, whatever it is.
                    Some(k) => i = (i + k + 2).min(b.len()),
                    None => break i = b.len(),
                }
            }
        } else if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'"' {
                i += 1;
            }
        }
        out.extend_from_slice(&b[start..i]);
    }
    // Only ASCII bytes were left out, so the text is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod minify_tests {
    use super::minify;
    use proptest::prelude::*;

    /// What `minify` did before it went a span at a time: char by char.
    fn by_chars(json: &str) -> String {
        let mut out = String::new();
        let (mut in_string, mut escaped) = (false, false);
        for c in json.chars() {
            if in_string {
                in_string = escaped || c != '"';
                escaped = !escaped && c == '\\';
            } else if c.is_ascii_whitespace() {
                continue;
            } else {
                in_string = c == '"';
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn pretty_json_becomes_one_line() {
        let pretty = "{\n  \"a\": \"x \\\" y\\\\\",\n  \"b\": [ 1, 2 ]\n}";
        assert_eq!(minify(pretty), r#"{"a":"x \" y\\","b":[1,2]}"#);
    }

    proptest! {
        #[test]
        fn a_span_at_a_time_equals_char_by_char(json in r#"[ \t\r\n"\\a{}:,é1]{0,40}"#) {
            prop_assert_eq!(minify(&json), by_chars(&json));
        }
    }
}
