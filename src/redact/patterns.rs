//! The secret shapes [`super::redact`] looks for, most specific first: a later pattern must not
//! see half of a secret an earlier one should have taken whole (a URL's `user:pass@host` would
//! otherwise read as an email).

use regex::{Captures, Regex};

/// How a match is rewritten.
pub enum Replace {
    /// The whole match becomes `[REDACTED:<kind>]`.
    Whole(&'static str),
    /// Group 1 (the key, the scheme, `user:`) and group 2 if any (`@`) stay; what lies between
    /// becomes `[REDACTED:<kind>]`.
    KeepPrefix(&'static str),
    /// Like `KeepPrefix`, with the kind named after the key in group 1 (`password`, `token`…).
    KeepKey,
    /// A header whose value may be quoted: group 1 stays, a quoted value keeps its quotes.
    Header(&'static str),
}

pub struct Pattern {
    pub regex: Regex,
    pub replace: Replace,
}

/// Key names whose value is a secret. A key must *end* with one of these, so `tokenizer` and
/// `max_tokens` are not secrets while `csrf_token` and `dbPassword` are.
const SECRET_KEYS: &str = r"[\w.-]*?(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|signature|auth)";

/// (pattern, replacement), applied in this order.
pub fn sources() -> Vec<(String, Replace)> {
    let kv_eq = format!(r#"(?i)\b({SECRET_KEYS}=)[^\s&,;"'<>]+"#);
    let kv_quoted = format!(r#"(?i)(["']{SECRET_KEYS}["']\s*:\s*["'])[^"'\\]+"#);
    vec![
        (
            r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)".into(),
            Replace::Whole("private_key"),
        ),
        (
            r#"(?i)\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|digest|negotiate)\s+)?)[^\s"',;]+"#.into(),
            Replace::KeepPrefix("authorization"),
        ),
        (r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*".into(), Replace::KeepPrefix("bearer")),
        (
            r"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@]*:)[^\s/?#@]+(@)".into(),
            Replace::KeepPrefix("password"),
        ),
        (r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*".into(), Replace::Whole("jwt")),
        (
            r#"(?i)\b((?:set-)?cookie["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\r\n]+)"#.into(),
            Replace::Header("cookie"),
        ),
        (
            r#"(?i)\b((?:[\w.-]*[_.-])?(?:session(?:[_-]?(?:id|key|token))?|sessid|jsessionid|phpsessid|sid)=)[^\s;&,"'<>]+"#.into(),
            Replace::KeepPrefix("session"),
        ),
        (kv_quoted, Replace::KeepKey),
        (kv_eq, Replace::KeepKey),
        (
            r"(?i)\b((?:[\w.-]*?)(?:password|passwd|pwd|secret)\s*:\s*)[^\s,;]+".into(),
            Replace::KeepKey,
        ),
        (
            r"\b(?:sk-(?:proj-|ant-|live-)?[A-Za-z0-9_-]{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|xox[abposr]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,}|ya29\.[A-Za-z0-9_-]{20,})".into(),
            Replace::Whole("token"),
        ),
        (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b".into(), Replace::Whole("aws_key")),
        (r"\bAIza[0-9A-Za-z_-]{35}".into(), Replace::Whole("api_key")),
        (
            r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b".into(),
            Replace::Whole("email"),
        ),
    ]
}

/// ASCII word boundaries and classes: log text is mostly ASCII, and Unicode `\b` would push the
/// regex engine off its fast DFA path for every message.
pub fn ascii(pattern: &str) -> String {
    pattern
        .replace(r"\b", r"(?-u:\b)")
        .replace(r"\w", r"[0-9A-Za-z_]")
}

impl Pattern {
    /// The replacement for one match.
    pub fn rewrite(&self, caps: &Captures<'_>) -> String {
        let keep = caps.get(1).map_or("", |m| m.as_str());
        match self.replace {
            Replace::Whole(kind) => format!("[REDACTED:{kind}]"),
            Replace::KeepPrefix(kind) => {
                let after = caps.get(2).map_or("", |m| m.as_str());
                format!("{keep}[REDACTED:{kind}]{after}")
            }
            Replace::KeepKey => format!("{keep}[REDACTED:{}]", key_kind(keep)),
            Replace::Header(kind) => {
                let value = caps.get(2).map_or("", |m| m.as_str());
                match value.chars().next() {
                    Some(q @ ('"' | '\'')) => format!("{keep}{q}[REDACTED:{kind}]{q}"),
                    _ => format!("{keep}[REDACTED:{kind}]"),
                }
            }
        }
    }
}

/// The kind a secret's key name suggests: `dbPassword` → `password`, `api_key` → `api_key`.
pub fn key_kind(key: &str) -> &'static str {
    let k = key.to_ascii_lowercase();
    let rules: [(&[&str], &'static str); 8] = [
        (&["cookie"], "cookie"),
        (&["authorization"], "authorization"),
        (&["pass", "pwd"], "password"),
        (&["session", "sessid", "sid"], "session"),
        (
            &[
                "apikey",
                "api_key",
                "api-key",
                "accesskey",
                "access_key",
                "access-key",
            ],
            "api_key",
        ),
        (&["token", "auth"], "token"),
        (&["sig"], "signature"),
        (&["secret", "credential", "private"], "secret"),
    ];
    rules
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| k.contains(n)))
        .map_or("secret", |(_, kind)| kind)
}
