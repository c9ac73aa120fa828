//! The cold path of parsing an entry: one whose optional context field has the wrong JSON type
//! (`"insertId": 123`, `"labels": [1, 2]`, `"resource": "x"`) is read without that field and
//! counted with a field warning, never dropped: in the data model every one of them is
//! optional. Runs only after the typed parse failed, so well-formed entries pay nothing.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

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

/// `text` without the optional context fields whose type is wrong; `None` if it is not a JSON
/// object or none of them was wrong (the entry's problem is elsewhere). Fields are kept as
/// their JSON text: a number too large for a double (`1e400`, valid JSON) in one of them makes
/// that field mistyped, not the entry unreadable.
pub(super) fn without_mistyped(text: &str) -> Option<String> {
    let mut entry: BTreeMap<String, Box<RawValue>> = serde_json::from_str(text).ok()?;
    let mut dropped = false;
    for (keys, fits) in CONTEXT {
        for key in *keys {
            if entry.get(*key).is_some_and(|v| !fits(v.get())) {
                entry.remove(*key);
                dropped = true;
            }
        }
    }
    dropped
        .then(|| serde_json::to_string(&entry).ok())
        .flatten()
}
