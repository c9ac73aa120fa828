//! Redaction of secrets and personal data before anything is written: worklogs and GitHub issues
//! may be public, and they quote real messages and sample entries.
//!
//! [`redact`] rewrites text; [`redact_json`] rewrites a sample entry, also dropping the values of
//! keys that name a secret whatever those values look like. Text with nothing to redact costs one
//! scan by a combined regex set and comes back borrowed.

mod patterns;

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};
use serde_json::Value;

use patterns::Pattern;

struct Redactor {
    /// All patterns at once: one scan tells which (if any) need a replacing pass.
    any: RegexSet,
    patterns: Vec<Pattern>,
}

static REDACTOR: LazyLock<Redactor> = LazyLock::new(|| {
    let sources = patterns::sources();
    let compiled: Vec<String> = sources.iter().map(|(p, _)| patterns::ascii(p)).collect();
    Redactor {
        // The patterns are constants covered by the tests; failing here is a build defect.
        any: RegexSet::new(&compiled).expect("redaction patterns compile"),
        patterns: sources
            .into_iter()
            .zip(&compiled)
            .map(|((_, replace), p)| Pattern {
                regex: Regex::new(p).expect("redaction patterns compile"),
                replace,
            })
            .collect(),
    }
});

/// `text` with bearer tokens, `Authorization:` values, API keys and vendor tokens, passwords in
/// URLs, `password=`/`secret=`/`token=` values, JWTs, emails, cookies and session ids replaced
/// by `[REDACTED:<kind>]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let r = &*REDACTOR;
    let hits = r.any.matches(text);
    if !hits.matched_any() {
        return Cow::Borrowed(text);
    }
    let mut out = Cow::Borrowed(text);
    for i in hits.iter() {
        let p = &r.patterns[i];
        if let Cow::Owned(s) = p
            .regex
            .replace_all(&out, |c: &regex::Captures<'_>| p.rewrite(c))
        {
            out = Cow::Owned(s);
        }
    }
    out
}

/// Redacts a JSON value in place for quoting: every string through [`redact`], and the whole
/// value of any key that names a secret (`authorization`, `cookie`, `password`, `*_token`,
/// `api_key`, `session`…), whatever its type.
pub fn redact_json(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match secret_key_kind(key) {
                    Some(kind) if !value.is_null() => {
                        *value = Value::String(format!("[REDACTED:{kind}]"));
                    }
                    _ => redact_json(value),
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Normalised key endings that mark a secret value (`X-Api-Key` → `xapikey`).
const SECRET_KEY_ENDINGS: [&str; 16] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "authorization",
    "cookie",
    "credential",
    "credentials",
    "session",
    "sessionid",
    "sessid",
    "signature",
];

/// The redaction kind for a JSON key that names a secret, `None` for any other key.
fn secret_key_kind(key: &str) -> Option<&'static str> {
    let norm: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let secret = SECRET_KEY_ENDINGS.iter().any(|e| norm.ends_with(e))
        || matches!(norm.as_str(), "auth" | "sid");
    secret.then(|| patterns::key_kind(&norm))
}

#[cfg(test)]
mod tests;
