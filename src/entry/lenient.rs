//! The cold path of parsing an entry: one whose optional context field has the wrong JSON type
//! (`"insertId": 123`, `"labels": [1, 2]`, `"resource": "x"`) is read without that field and
//! counted with a field warning, never dropped: in the data model every one of them is
//! optional. So is valid JSON that the typed parse refuses: a key given twice (the last is
//! read, as `JSON.parse` and Python's `json` do), a field under its camelCase and snake_case
//! names both (the camelCase one is read) and a lone UTF-16 surrogate escape (`\ud800`,
//! what a string cut mid-pair by a JavaScript writer holds: read as U+FFFD). Runs only after
//! the typed parse failed, so well-formed entries pay nothing.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::FieldWarnings;

use super::model::{ErrorGroup, HttpRequest, Labels, MonitoredResource, Operation, SourceLocation};
use super::model::{Split, Str};

/// Whether a field's JSON text reads as the field's type.
type Fits = fn(&str) -> bool;

/// The [`Fits`] of a field of type `Option<$t>`.
macro_rules! fits {
    ($t:ty) => {
        |json| serde_json::from_str::<Option<$t>>(json).is_ok()
    };
}

/// The optional context fields, under every key the model reads them by. Not here: the
/// event time (without it an entry cannot be counted) and the payloads (already read
/// leniently, and they are the message).
const CONTEXT: &[(&[&str], Fits)] = &[
    (&["logName", "log_name"], fits!(Str)),
    (&["resource"], fits!(MonitoredResource)),
    (
        &[
            "receiveTimestamp",
            "receive_timestamp",
            "received_timestamp",
        ],
        fits!(Str),
    ),
    (&["insertId", "insert_id"], fits!(Str)),
    (&["httpRequest", "http_request"], fits!(HttpRequest)),
    (&["labels"], fits!(Labels)),
    (&["operation"], fits!(Operation)),
    (&["trace"], fits!(Str)),
    (&["spanId", "span_id"], fits!(Str)),
    (
        &["sourceLocation", "source_location"],
        fits!(SourceLocation),
    ),
    (&["split"], fits!(Split)),
    (&["errorGroups", "error_groups"], fits!(Vec<ErrorGroup>)),
];

/// Fields the model reads under a snake_case name too that [`CONTEXT`] does not check: an entry
/// with both spellings of one (the Python client's dump merged with the API's form) is read by
/// the camelCase one, the first of each list.
const OTHER_TWINS: &[&[&str]] = &[
    &["textPayload", "text_payload"],
    &["jsonPayload", "json_payload"],
    &["protoPayload", "proto_payload"],
    &["traceSampled", "trace_sampled"],
];

/// The same within `httpRequest`.
const HTTP_TWINS: &[&[&str]] = &[
    &["requestMethod", "request_method"],
    &["requestUrl", "request_url"],
];

/// The JSON text of `text`'s `timestamp` (cut to 64 bytes) when it is there but not a string:
/// the entry's problem is then its event time, which no other field stands in for.
pub(super) fn mistyped_time(text: &str) -> Option<String> {
    let entry: BTreeMap<&str, &RawValue> = serde_json::from_str(text).ok()?;
    let value = entry.get("timestamp")?.get();
    if value.starts_with('"') || value == "null" {
        return None;
    }
    let mut end = value.len().min(64);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Some(value[..end].to_owned())
}

/// `text` repaired for the typed parse, and how (a set of warnings): a lone surrogate escape
/// replaced, a repeated key's last value kept, a field's snake_case twin dropped beside its
/// camelCase name, the same within a context object ([`FieldWarnings::REPAIRED`]); optional
/// context fields of the wrong type dropped ([`FieldWarnings::CONTEXT`]). `None` if it is not a JSON
/// object or nothing needed repair (the entry's problem is elsewhere). Fields are kept as
/// their JSON text: a number too large for a double (`1e400`, valid JSON) in one of them makes
/// that field mistyped, not the entry unreadable.
pub(super) fn repaired(text: &str) -> Option<(String, FieldWarnings)> {
    let mut warnings = FieldWarnings::default();
    let paired = lone_surrogates_replaced(text);
    if paired.is_some() {
        warnings.add(FieldWarnings::REPAIRED);
    }
    let Members { mut map, repeated } =
        serde_json::from_str(paired.as_deref().unwrap_or(text)).ok()?;
    let groups = CONTEXT
        .iter()
        .map(|(keys, _)| *keys)
        .chain(OTHER_TWINS.iter().copied());
    if repeated || twins_dropped(&mut map, groups) {
        warnings.add(FieldWarnings::REPAIRED);
    }
    for (keys, fits) in CONTEXT {
        for key in *keys {
            let Some(v) = map.get_mut(*key).filter(|v| !fits(v.get())) else {
                continue;
            };
            match mended_object(v.get()).filter(|m| fits(m.get())) {
                Some(mended) => {
                    *v = mended;
                    warnings.add(FieldWarnings::REPAIRED);
                }
                None => {
                    map.remove(*key);
                    warnings.add(FieldWarnings::CONTEXT);
                }
            }
        }
    }
    if warnings.is_empty() {
        return None;
    }
    Some((serde_json::to_string(&map).ok()?, warnings))
}

/// Drops, for each group of names one field is read by, every name after the first present
/// (serde refuses an object with two of them as a duplicate field); whether any was dropped.
fn twins_dropped<'k>(
    map: &mut BTreeMap<String, Box<RawValue>>,
    groups: impl Iterator<Item = &'k [&'k str]>,
) -> bool {
    let mut dropped = false;
    for names in groups {
        if let Some(first) = names.iter().position(|n| map.contains_key(*n)) {
            for name in &names[first + 1..] {
                dropped |= map.remove(*name).is_some();
            }
        }
    }
    dropped
}

/// A context object (`httpRequest`, `resource`, …) with a repeated key's last value kept and
/// `httpRequest`'s snake_case twins dropped; `None` if it is no object or nothing changed.
fn mended_object(json: &str) -> Option<Box<RawValue>> {
    let Members { mut map, repeated } = serde_json::from_str(json).ok()?;
    let twins = twins_dropped(&mut map, HTTP_TWINS.iter().copied());
    (repeated || twins)
        .then(|| serde_json::value::to_raw_value(&map).ok())
        .flatten()
}

/// A JSON object's members by key, a repeated key's last value kept, and whether a key was
/// repeated (a map alone cannot tell).
struct Members {
    map: BTreeMap<String, Box<RawValue>>,
    repeated: bool,
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Members, A::Error> {
                let (mut map, mut repeated) = (BTreeMap::new(), false);
                while let Some((k, v)) = members.next_entry::<String, Box<RawValue>>()? {
                    repeated |= map.insert(k, v).is_some();
                }
                Ok(Members { map, repeated })
            }
        }
        d.deserialize_map(Object)
    }
}

/// `text` with every `\uD800`–`\uDFFF` escape that is not half of a surrogate pair written as
/// `\uFFFD` (serde_json refuses a lone one in a string it decodes); `None` when there is none.
/// A backslash stands only inside JSON strings, so no string tracking is needed.
fn lone_surrogates_replaced(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let hex = |at: usize| -> Option<u16> {
        let digits = b.get(at..at + 4)?;
        digits.iter().try_fold(0u16, |acc, &c| {
            Some(acc * 16 + u16::try_from(char::from(c).to_digit(16)?).ok()?)
        })
    };
    let escape = |at: usize| {
        (b.get(at + 1) == Some(&b'u'))
            .then(|| hex(at + 2))
            .flatten()
    };
    let (mut out, mut copied, mut i) = (None::<String>, 0, 0);
    while let Some(at) = b.get(i..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        let at = i + at;
        let Some(unit) = escape(at) else {
            i = at + 2; // `\\`, `\"`, …: the escaped byte is no backslash of its own
            continue;
        };
        let paired = b.get(at + 6) == Some(&b'\\')
            && matches!(escape(at + 6), Some(0xDC00..=0xDFFF))
            && (0xD800..=0xDBFF).contains(&unit);
        if paired {
            i = at + 12;
            continue;
        }
        let lone = (0xD800..=0xDFFF).contains(&unit);
        if lone {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..at]);
            o.push_str("\\ufffd");
            copied = at + 6;
        }
        i = at + 6;
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}
