//! The cold path of parsing an entry: one whose optional context field has the wrong JSON type
//! (`"insertId": 123`, `"labels": [1, 2]`, `"resource": "x"`) is read without that field and
//! counted with a field warning, never dropped: in the data model every one of them is
//! optional. Runs only after the typed parse failed, so well-formed entries pay nothing.

use serde_json::{Map, Value};

use super::model::{ErrorGroup, HttpRequest, Labels, MonitoredResource, Operation, SourceLocation};
use super::model::{Split, Str};

/// Whether a field's JSON text reads as the field's type.
type Fits = fn(&str) -> bool;

/// The optional context fields, under every key the model reads them by. Not here: the
/// event time (without it an entry cannot be counted) and the payloads (already read
/// leniently, and they are the message).
const CONTEXT: &[(&[&str], Fits)] = &[
    (&["logName", "log_name"], |j| {
        serde_json::from_str::<Option<Str>>(j).is_ok()
    }),
    (&["resource"], |j| {
        serde_json::from_str::<Option<MonitoredResource>>(j).is_ok()
    }),
    (
        &[
            "receiveTimestamp",
            "receive_timestamp",
            "received_timestamp",
        ],
        |j| serde_json::from_str::<Option<Str>>(j).is_ok(),
    ),
    (&["insertId", "insert_id"], |j| {
        serde_json::from_str::<Option<Str>>(j).is_ok()
    }),
    (&["httpRequest", "http_request"], |j| {
        serde_json::from_str::<Option<HttpRequest>>(j).is_ok()
    }),
    (&["labels"], |j| {
        serde_json::from_str::<Option<Labels>>(j).is_ok()
    }),
    (&["operation"], |j| {
        serde_json::from_str::<Option<Operation>>(j).is_ok()
    }),
    (&["trace"], |j| {
        serde_json::from_str::<Option<Str>>(j).is_ok()
    }),
    (&["spanId", "span_id"], |j| {
        serde_json::from_str::<Option<Str>>(j).is_ok()
    }),
    (&["sourceLocation", "source_location"], |j| {
        serde_json::from_str::<Option<SourceLocation>>(j).is_ok()
    }),
    (&["split"], |j| {
        serde_json::from_str::<Option<Split>>(j).is_ok()
    }),
    (&["errorGroups", "error_groups"], |j| {
        serde_json::from_str::<Option<Vec<ErrorGroup>>>(j).is_ok()
    }),
];

/// `text` without the optional context fields whose type is wrong; `None` if it is not a JSON
/// object or none of them was wrong (the entry's problem is elsewhere).
pub(super) fn without_mistyped(text: &str) -> Option<String> {
    let mut entry: Map<String, Value> = serde_json::from_str(text).ok()?;
    let mut dropped = false;
    for (keys, fits) in CONTEXT {
        for key in *keys {
            if entry.get(*key).is_some_and(|v| !fits(&v.to_string())) {
                entry.remove(*key);
                dropped = true;
            }
        }
    }
    dropped.then(|| Value::Object(entry).to_string())
}
