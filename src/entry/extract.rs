//! From a parsed [`LogEntry`] to a [`Record`]: which text is the message, which service and
//! logger wrote it, when it happened.
//!
//! The message rules follow what the Cloud Console and Error Reporting show for each payload
//! kind, so a cluster reads like the entry a person would have looked at.

use std::borrow::Cow;

use super::json::{json_message, loose, PayloadMeta};
use super::model::{Labels, LogEntry, Str, TextField};
use super::payload::{minify, proto_message};
use super::request::request_line;
use super::{time, CodeLocation, EntryError, FieldWarnings, MessageKind, Record, Severity};

/// Resource labels that name the writer when there is no `service_name`, most specific first.
const SERVICE_LABELS: [&str; 10] = [
    "function_name",
    "job_name",
    "module_id",
    "container_name",
    "database_id",
    "backend_service_name",
    "service",
    "topic_id",
    "subscription_id",
    "bucket_name",
];

/// Builds the record; `raw` is the entry's JSON text.
pub fn to_record(entry: LogEntry<'_>, raw: &str) -> Result<Record, EntryError> {
    let when = entry
        .timestamp
        .as_ref()
        .or(entry.receive_timestamp.as_ref())
        .ok_or(EntryError::NoTime)?;
    let timestamp = time::parse_rfc3339(when.as_str()).ok_or_else(|| EntryError::BadTimestamp {
        value: when.as_str().chars().take(64).collect(),
    })?;
    // Beside a `timestamp`, `receiveTimestamp` only bounds it; one that is not RFC 3339
    // bounds nothing and is a field warning (without a `timestamp` it is the event time,
    // refused above as `bad_timestamp`).
    let beside = entry
        .timestamp
        .as_ref()
        .and(entry.receive_timestamp.as_ref());
    let received = beside.and_then(|r| time::parse_rfc3339(r.as_str()));
    if let Some(why) = time::implausible(timestamp, received) {
        return Err(EntryError::ImplausibleTime { why });
    }
    let (message, meta) = message(&entry)?;
    let mut warnings = FieldWarnings::default();
    if beside.is_some() && received.is_none() {
        warnings.add(FieldWarnings::CONTEXT);
    }
    if !entry.severity.1 {
        warnings.add(FieldWarnings::SEVERITY);
    }
    if entry.text_payload.as_ref().is_some_and(|t| t.mistyped) {
        warnings.add(FieldWarnings::TEXT_PAYLOAD);
    }
    let kind = if meta.request {
        MessageKind::Request
    } else {
        MessageKind::Text
    };
    let labels = entry.labels.as_ref();
    let resource_labels = entry.resource.as_ref().and_then(|r| r.labels.as_ref());
    let instance = label(labels, "instanceId")
        .or_else(|| label(resource_labels, "instance_id"))
        .or_else(|| label(resource_labels, "pod_name"));
    // Stdout/stderr without structured logging arrives as DEFAULT, and so does a JSON line
    // whose level field the agent did not lift: the payload or the text may say more. A stated
    // severity is the writer's own word and stays.
    let severity = match entry.severity.0 {
        Severity::Default => meta
            .level
            .or_else(|| (!meta.data).then(|| super::level::from_text(&message))?)
            .unwrap_or(Severity::Default),
        stated => stated,
    };
    Ok(Record {
        timestamp,
        severity,
        service: kept(service(&entry, &meta)),
        location: location(&entry, meta),
        message,
        kind,
        // Kept raw only in memory, to order lines and samples; what is stored is a hash of it
        // (`window::cell::order_key`).
        insert_id: owned(entry.insert_id.as_ref()),
        log_name: owned(entry.log_name.as_ref()),
        instance: instance.map(str::to_owned),
        revision: label(resource_labels, "revision_name").map(str::to_owned),
        trace: entry
            .trace
            .as_ref()
            .map(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        // Records quote one line of JSON; a pretty-printed export element is re-flowed.
        raw: if memchr::memchr(b'\n', raw.as_bytes()).is_some() {
            minify(raw)
        } else {
            raw.to_owned()
        },
        warnings,
        split_index: entry.split.as_ref().and_then(|s| s.index.0),
    })
}

/// `textPayload`, if it holds text (a mistyped one may not).
fn text_payload<'e>(entry: &'e LogEntry<'_>) -> Option<&'e Str<'e>> {
    entry.text_payload.as_ref()?.text.as_ref()
}

fn owned(s: Option<&Str<'_>>) -> String {
    s.map(|s| s.as_str().to_owned()).unwrap_or_default()
}

fn label<'l>(labels: Option<&'l Labels<'_>>, key: &str) -> Option<&'l str> {
    labels?.get(key).filter(|v| !v.is_empty())
}

/// The message and, for a `jsonPayload`, what else it says about the writer.
fn message<'a>(entry: &LogEntry<'a>) -> Result<(String, PayloadMeta<'a>), EntryError> {
    if let Some(text) = text_payload(entry) {
        return Ok((text.as_str().to_owned(), PayloadMeta::default()));
    }
    if let Some(raw) = entry.json_payload {
        return Ok(json_message(raw, entry.http_request.as_ref()));
    }
    if let Some(raw) = entry.proto_payload {
        return Ok((proto_message(raw), PayloadMeta::default()));
    }
    if let Some(raw) = entry.payload {
        if raw.get().starts_with('{') {
            return Ok(json_message(raw, entry.http_request.as_ref()));
        }
        if let Ok(TextField { text: Some(t), .. }) = serde_json::from_str(raw.get()) {
            return Ok((t.as_str().to_owned(), PayloadMeta::default()));
        }
    }
    match &entry.http_request {
        Some(req) => {
            let meta = PayloadMeta {
                request: true,
                ..PayloadMeta::default()
            };
            Ok((request_line(req, None), meta))
        }
        None => Err(EntryError::NoPayload),
    }
}

fn service(entry: &LogEntry<'_>, meta: &PayloadMeta<'_>) -> String {
    let resource_labels = entry.resource.as_ref().and_then(|r| r.labels.as_ref());
    label(resource_labels, "service_name")
        .or_else(|| loose(&meta.service_context.service))
        .or_else(|| loose(&meta.context.service))
        .or_else(|| {
            SERVICE_LABELS
                .iter()
                .find_map(|k| label(resource_labels, k))
        })
        .or_else(|| entry.resource.as_ref()?.kind.as_ref().map(Str::as_str))
        .unwrap_or("unknown")
        .to_owned()
}

fn location(entry: &LogEntry<'_>, meta: PayloadMeta<'_>) -> CodeLocation {
    let labels = entry.labels.as_ref();
    let src = entry.source_location.as_ref();
    let report = meta.context.report_location.as_ref();
    let logger = label(labels, "python_logger")
        .or_else(|| loose(&meta.context.name))
        .or(meta.logger.as_deref())
        .or_else(|| label(labels, "module"))
        .or_else(|| loose(&meta.labels.module));
    let file = src
        .and_then(|s| s.file.as_ref().map(Str::as_str))
        .or_else(|| report.and_then(|r| loose(&r.file_path)));
    let function = src
        .and_then(|s| s.function.as_ref().map(Str::as_str))
        .or_else(|| label(labels, "function"))
        .or_else(|| loose(&meta.labels.function))
        .or_else(|| report.and_then(|r| loose(&r.function_name)));
    let line = src
        .and_then(|s| s.line.0)
        .map(|n| n.to_string())
        .or_else(|| label(labels, "line").map(str::to_owned))
        .or_else(|| meta.labels.line.0.map(|n| n.to_string()))
        .or_else(|| report.and_then(|r| r.line_number.0).map(|n| n.to_string()));
    CodeLocation {
        logger: logger.map(|l| kept(l.to_owned())),
        file: file.filter(|f| !f.is_empty()).map(|f| kept(f.to_owned())),
        function: function
            .filter(|f| !f.is_empty())
            .map(|f| kept(f.to_owned())),
        line,
    }
}

/// A field as the pipeline may keep it: with any secret redacted. Service and code location are
/// not quoted output but state: cluster key parts, held in window cells, the fingerprint
/// families and the checkpoint file, and named in logs and alerts. A secret in one (a
/// misconfigured label) must not be stored, nor make a cluster per value. The message is masked
/// where it is fingerprinted, the raw entry where it is kept as a sample, the insertId stored
/// only as a hash.
///
/// These names repeat on nearly every entry, so the ones found clean are remembered (per
/// thread, up to [`CLEAN_NAMES`] of at most [`CLEAN_NAME_BYTES`], then forgotten all at once):
/// the same text, so the same answer, without a pass of the recogniser.
fn kept(field: String) -> String {
    let short = field.len() <= CLEAN_NAME_BYTES;
    if short && CLEAN.with(|c| c.borrow().contains(field.as_str())) {
        return field;
    }
    match crate::redact::redact(&field) {
        Cow::Borrowed(_) => {
            if short {
                CLEAN.with(|c| {
                    let mut c = c.borrow_mut();
                    if c.len() >= CLEAN_NAMES {
                        c.clear();
                    }
                    c.insert(field.as_str().into());
                });
            }
            field
        }
        Cow::Owned(redacted) => redacted,
    }
}

const CLEAN_NAMES: usize = 4096;
const CLEAN_NAME_BYTES: usize = 256;

thread_local! {
    static CLEAN: std::cell::RefCell<std::collections::HashSet<Box<str>>> =
        std::cell::RefCell::default();
}
