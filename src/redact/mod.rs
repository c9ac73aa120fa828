//! Secrets and personal data recognised in any text, before anything is fingerprinted or
//! written: worklogs and GitHub issues may be public, alerts go to chat rooms.
//!
//! One recogniser ([`patterns`], [`check`]) with two renderings: [`redact`] writes
//! `[REDACTED:<kind>]` for output, [`mask_secrets`] writes the fingerprint variable `<*>` so no
//! template ever holds a secret, constant or not. [`redact_json`] rewrites a sample entry, also
//! dropping the values of keys that name a secret whatever those values look like. Text with
//! nothing to recognise costs one scan by a combined regex set and comes back borrowed.

mod check;
mod inert;
mod patterns;
mod writer;

pub use inert::{neutralise, Inert, InertJson};
pub use writer::InertWriter;

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};
use serde_json::Value;

use check::Check;
use patterns::Kind;

struct Rule {
    regex: Regex,
    kind: Kind,
    check: Check,
}

struct Recogniser {
    /// All rules at once: one scan tells which (if any) need a replacing pass.
    any: RegexSet,
    rules: Vec<Rule>,
}

static RECOGNISER: LazyLock<Recogniser> = LazyLock::new(|| {
    let sources = patterns::sources();
    let compiled: Vec<String> = sources
        .iter()
        .map(|s| patterns::ascii(&s.pattern))
        .collect();
    Recogniser {
        // The patterns are constants covered by the tests; failing here is a build defect.
        any: RegexSet::new(&compiled).expect("redaction patterns compile"),
        rules: sources
            .into_iter()
            .zip(&compiled)
            .map(|(s, p)| Rule {
                regex: Regex::new(p).expect("redaction patterns compile"),
                kind: s.kind,
                check: s.check,
            })
            .collect(),
    }
});

/// `text` with every secret recognised replaced by `[REDACTED:<kind>]`: keyed values in any
/// syntax (`k=v`, `k: v`, `"k": "v"`, headers, query strings, env dumps, XML), DSN passwords,
/// vendor tokens, JWTs, bearer tokens, private keys, random tokens, emails and card numbers.
/// Keys, schemes and hosts stay, so the text still reads.
pub fn redact(text: &str) -> Cow<'_, str> {
    recognise(text, |kind, out| {
        out.push_str("[REDACTED:");
        out.push_str(kind);
        out.push(']');
    })
}

/// `text` with every secret [`redact`] would replace written as the fingerprint variable
/// `<*>` instead: the template of a message never holds one, and a message's cluster does not
/// depend on the secret's value.
pub fn mask_secrets(text: &str) -> Cow<'_, str> {
    recognise(text, |_, out| out.push_str("<*>"))
}

fn recognise(text: &str, render: impl Fn(&str, &mut String) + Copy) -> Cow<'_, str> {
    let r = &*RECOGNISER;
    let hits = r.any.matches(text);
    if !hits.matched_any() {
        return Cow::Borrowed(text);
    }
    let mut out = Cow::Borrowed(text);
    for i in hits.iter() {
        if let Some(s) = r.rules[i].rewrite(&out, render) {
            out = Cow::Owned(s);
        }
    }
    out
}

impl Rule {
    /// `text` with this rule's secrets rendered, `None` when it has none.
    fn rewrite(&self, text: &str, render: impl Fn(&str, &mut String)) -> Option<String> {
        let mut out: Option<String> = None;
        let (mut at, mut copied) = (0, 0);
        while at <= text.len() {
            let Some(caps) = self.regex.captures_at(text, at) else {
                break;
            };
            let whole = caps.get(0).expect("group 0 is the match");
            let v = caps.name("v").unwrap_or(whole);
            let key = caps.name("k").map(|k| k.range());
            // Go on from the end of the value: a boundary character after it may start the next.
            let next = v.end().max(next_char(text, whole.start()));
            if let Some(range) = self.check.accept(text, v.range(), key.clone()) {
                let kind = match self.kind {
                    Kind::Fixed(kind) => kind,
                    Kind::FromKey => patterns::key_kind(key.map_or("", |k| &text[k])),
                };
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..range.start]);
                render(kind, o);
                copied = range.end;
            }
            at = next;
        }
        let mut o = out?;
        o.push_str(&text[copied..]);
        Some(o)
    }
}

/// The byte index of the character after the one at `i`.
fn next_char(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(i + 1, |c| i + c.len_utf8())
}

/// Redacts a JSON value in place for quoting: every string (and object key) through
/// [`redact`], and the whole value of any key that names a secret (`authorization`, `cookie`,
/// `password`, `*_token`, `api_key`, `session`…), whatever its type.
pub fn redact_json(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            if map.keys().any(|k| matches!(redact(k), Cow::Owned(_))) {
                let old = std::mem::take(map);
                for (k, value) in old {
                    map.insert(redact(&k).into_owned(), value);
                }
            }
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
const SECRET_KEY_ENDINGS: [&str; 24] = [
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "privatekeyid",
    "accountkey",
    "signingkey",
    "encryptionkey",
    "authorization",
    "cookie",
    "credential",
    "credentials",
    "session",
    "sessionid",
    "sessid",
    "signature",
    "clientsecret",
    "jwt",
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
