//! Redaction of secrets and personal data before anything is written. SCAFFOLD.

use std::borrow::Cow;

/// `text` with bearer tokens, API keys, passwords in URLs, JWTs, emails and session cookies
/// replaced by `[REDACTED:<kind>]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    Cow::Borrowed(text)
}

/// Redacts every string in a JSON value in place (SCAFFOLD).
pub fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            if let Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact_json),
        serde_json::Value::Object(o) => o.values_mut().for_each(redact_json),
        _ => {}
    }
}
