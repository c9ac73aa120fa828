//! The Cloud Logging `LogEntry` model and what the pipeline takes from it: one [`Record`] per
//! entry (event time, severity, service, logger, message).
//!
//! [`parse_entry`] is the only way in: [`model`] reads the JSON without building a `Value` tree,
//! `extract` decides which text is the message and who wrote it (`payload` renders audit logs
//! and message-less JSON), `time` reads RFC 3339.
//! Anything wrong with an entry is an [`EntryError`] for the caller to count, never a panic.

mod extract;
mod json;
mod lenient;
mod level;
pub mod model;
mod payload;
mod request;
mod time;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use payload::render_json_compact;
pub use request::url_path;

/// Cloud Logging's `LogSeverity`, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    #[default]
    Default,
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl Severity {
    pub const ALL: [Severity; 9] = [
        Severity::Default,
        Severity::Debug,
        Severity::Info,
        Severity::Notice,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
        Severity::Alert,
        Severity::Emergency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Default => "DEFAULT",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Notice => "NOTICE",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
            Severity::Alert => "ALERT",
            Severity::Emergency => "EMERGENCY",
        }
    }

    /// Parses Cloud Logging's names (case-insensitive) and the numeric form (0, 100, …, 800).
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .or_else(|| {
                let n = s.parse::<u64>().ok()?;
                (n % 100 == 0 && n <= 800).then(|| Severity::from_number(n))
            })
    }

    /// The numeric form (0, 100, …, 800); a number between levels counts as the level below it,
    /// anything above 800 as EMERGENCY.
    pub fn from_number(n: u64) -> Severity {
        let level = usize::try_from(n / 100).unwrap_or(usize::MAX);
        Severity::ALL[level.min(Severity::ALL.len() - 1)]
    }

    /// The class that goes into a cluster key: a WARNING and an ERROR of the same text are two
    /// problems, an ERROR and a CRITICAL of the same text… also two; INFO and NOTICE are one.
    pub fn class(self) -> SeverityClass {
        match self {
            Severity::Default | Severity::Debug => SeverityClass::Debug,
            Severity::Info | Severity::Notice => SeverityClass::Info,
            Severity::Warning => SeverityClass::Warning,
            Severity::Error => SeverityClass::Error,
            Severity::Critical | Severity::Alert | Severity::Emergency => SeverityClass::Critical,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity as it takes part in a cluster key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityClass {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl SeverityClass {
    pub fn as_str(self) -> &'static str {
        match self {
            SeverityClass::Debug => "debug",
            SeverityClass::Info => "info",
            SeverityClass::Warning => "warning",
            SeverityClass::Error => "error",
            SeverityClass::Critical => "critical",
        }
    }
}

/// Where in the code an entry was written, from `sourceLocation` or the logger's labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeLocation {
    /// Logger or module name (`python_logger`, `labels.module`, `jsonPayload.context.name`, …).
    pub logger: Option<String>,
    /// `sourceLocation.file`.
    pub file: Option<String>,
    /// `sourceLocation.function` or `labels.function`.
    pub function: Option<String>,
    /// `sourceLocation.line` or `labels.line`.
    pub line: Option<String>,
}

/// Optional fields of an entry that were unusable and read leniently (counted, never a
/// reason to drop the entry). A set of [`FieldWarnings::ALL`] bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldWarnings(u8);

impl FieldWarnings {
    /// `severity` neither a name nor a non-negative integer (`1.5`, `true`, `{}`, `"loud"`):
    /// read as DEFAULT.
    pub const SEVERITY: FieldWarnings = FieldWarnings(1);
    /// `textPayload` not a string: a number or boolean read as its text, else absent.
    pub const TEXT_PAYLOAD: FieldWarnings = FieldWarnings(2);
    /// An optional context field of the wrong JSON type (`"insertId": 123`, `"labels": [..]`,
    /// `"resource": "x"`, …), or a `receiveTimestamp` beside the `timestamp` that is not
    /// RFC 3339 (`"garbage"`): read as absent.
    pub const CONTEXT: FieldWarnings = FieldWarnings(4);
    /// Valid JSON the typed parse refuses: a key given twice (the last one read), a field
    /// under both its camelCase and snake_case names (`insertId` and `insert_id`: the
    /// camelCase one read), or a lone UTF-16 surrogate escape (`"\ud800"`, read as U+FFFD).
    pub const REPAIRED: FieldWarnings = FieldWarnings(8);
    pub const ALL: [(FieldWarnings, &'static str); 4] = [
        (FieldWarnings::SEVERITY, "unknown_severity"),
        (FieldWarnings::TEXT_PAYLOAD, "text_payload_not_string"),
        (FieldWarnings::CONTEXT, "context_field_mistyped"),
        (FieldWarnings::REPAIRED, "json_repaired"),
    ];

    pub fn add(&mut self, w: FieldWarnings) {
        self.0 |= w.0;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The reasons to count them under.
    pub fn reasons(self) -> impl Iterator<Item = &'static str> {
        FieldWarnings::ALL
            .into_iter()
            .filter(move |(w, _)| self.0 & w.0 != 0)
            .map(|(_, r)| r)
    }
}

/// What the pipeline needs from one entry, extracted once at the edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Event time: `timestamp`, else `receiveTimestamp`.
    pub timestamp: DateTime<Utc>,
    pub severity: Severity,
    /// The backend service: `resource.labels.service_name`, `serviceContext.service`, … or
    /// the resource type when nothing better is known.
    pub service: String,
    pub location: CodeLocation,
    /// The text that is fingerprinted.
    pub message: String,
    /// How `message` is to be fingerprinted.
    pub kind: MessageKind,
    pub insert_id: String,
    pub log_name: String,
    /// `labels.instanceId` (Cloud Run): with `log_name` it names one output stream, which is
    /// what split tracebacks are stitched within.
    pub instance: Option<String>,
    /// `resource.labels.revision_name` (Cloud Run): the deployed version that wrote it. Ties a
    /// request that reached no instance to its revision's crash loop (`incident/revisions.rs`).
    pub revision: Option<String>,
    /// `trace` (`projects/P/traces/ID`): entries of one request, whatever instance wrote them.
    pub trace: Option<String>,
    /// The entry as it arrived (one line of JSON), kept to quote a real sample.
    pub raw: String,
    /// Fields read leniently.
    pub warnings: FieldWarnings,
    /// `split.index`: which part of an entry Cloud Logging cut in parts this is.
    pub split_index: Option<i64>,
}

/// Where a record's message came from, which decides how it is fingerprinted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Free text written by the program: variables are masked and templates mined.
    Text,
    /// Built from `httpRequest` alone: `METHOD /route → status`, with the route's id-like
    /// segments already `<*>`. Fingerprinted as it is: the route and the status are the
    /// problem (`POST /ws/beacon → 405`), not variables to mask.
    Request,
}

/// Entries longer than this are refused unread: Cloud Logging caps an entry at 256 KiB, so twice
/// that (escapes, pretty-printing) is not an entry but a broken line or a wrong file.
pub const MAX_ENTRY_BYTES: usize = 512 * 1024;

/// Why one input entry produced no [`Record`]. Every variant means the same thing next: the
/// caller counts it under [`EntryError::reason`], logs the line once, and goes on with the next
/// entry. None of them is retryable: the same bytes fail the same way.
#[derive(Debug, Error)]
pub enum EntryError {
    /// The bytes are not JSON (a torn line, a banner in the file, not UTF-8).
    #[error("not JSON: {detail}")]
    NotJson { detail: String },
    /// JSON, but not a LogEntry object: an array or scalar, or a LogEntry field of the wrong type.
    #[error("not a LogEntry: {detail}")]
    NotLogEntry { detail: String },
    /// Neither `timestamp` nor `receiveTimestamp`: the entry cannot be placed in a window.
    #[error("entry has neither timestamp nor receiveTimestamp")]
    NoTime,
    /// No `textPayload`, `jsonPayload`, `protoPayload` or `httpRequest`: nothing to fingerprint.
    #[error("entry has no payload and no httpRequest")]
    NoPayload,
    /// The event time is not RFC 3339 (the value, cut to 64 characters).
    #[error("timestamp {value:?} is not RFC 3339")]
    BadTimestamp { value: String },
    /// The event time cannot be right (see `time::implausible`): counted as `bad_timestamp`
    /// rather than opening windows decades away.
    #[error("implausible timestamp: {why}")]
    ImplausibleTime { why: String },
    /// Longer than the limit; refused before parsing.
    #[error("entry is {len} bytes, over the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
}

impl EntryError {
    /// A short, bounded label to count the error under (a metric label, a report line).
    pub fn reason(&self) -> &'static str {
        match self {
            EntryError::NotJson { .. } => "not_json",
            EntryError::NotLogEntry { .. } => "not_log_entry",
            EntryError::NoTime => "no_time",
            EntryError::NoPayload => "no_payload",
            EntryError::BadTimestamp { .. } | EntryError::ImplausibleTime { .. } => "bad_timestamp",
            EntryError::TooLarge { .. } => "too_large",
        }
    }
}

/// One LogEntry's JSON (a line of a `.jsonl` export, an element of a `gcloud` JSON array, or a
/// Pub/Sub message body) → its [`Record`], refusing entries over [`MAX_ENTRY_BYTES`].
pub fn parse_entry(bytes: &[u8]) -> Result<Record, EntryError> {
    parse_entry_max(bytes, MAX_ENTRY_BYTES)
}

/// [`parse_entry`] with the size limit given.
pub fn parse_entry_max(bytes: &[u8], max_bytes: usize) -> Result<Record, EntryError> {
    if bytes.len() > max_bytes {
        return Err(EntryError::TooLarge {
            len: bytes.len(),
            max: max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| EntryError::NotJson {
        detail: e.to_string(),
    })?;
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if !text.starts_with('{') {
        return Err(not_an_object(text));
    }
    let entry = match serde_json::from_str::<model::LogEntry<'_>>(text) {
        Ok(entry) => entry,
        // A type the model does not take, or a number beyond a double (`1e400`: valid JSON,
        // which the skipping parse accepts) in a field: maybe an optional field, read without;
        // a repeated key or a lone surrogate: read repaired.
        Err(e)
            if e.classify() == serde_json::error::Category::Data
                || serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() =>
        {
            return read_repaired(text).unwrap_or_else(|| {
                Err(match lenient::mistyped_time(text) {
                    // Epoch seconds, `{"seconds": …}`: named as the time it fails to be.
                    Some(value) => EntryError::BadTimestamp { value },
                    None => EntryError::NotLogEntry {
                        detail: e.to_string(),
                    },
                })
            });
        }
        Err(e) => {
            return Err(EntryError::NotJson {
                detail: e.to_string(),
            })
        }
    };
    extract::to_record(entry, text)
}

/// The event time [`parse_entry`] would give the entry in `bytes` (its `timestamp`, else its
/// `receiveTimestamp`), read without the rest of it: what a replay sorts a large file by.
/// `None` where parsing would fail on the time or on the JSON.
pub fn event_time(bytes: &[u8]) -> Option<DateTime<Utc>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Times<'a> {
        #[serde(borrow)]
        timestamp: Option<model::Str<'a>>,
        #[serde(borrow, alias = "receive_timestamp", alias = "received_timestamp")]
        receive_timestamp: Option<model::Str<'a>>,
    }
    let times: Times<'_> = serde_json::from_slice(bytes).ok()?;
    let when = times.timestamp.or(times.receive_timestamp)?;
    time::parse_rfc3339(when.as_str())
}

/// An entry whose only problems are what [`lenient::repaired`] mends (an optional context
/// field of the wrong type, a repeated key, a lone surrogate), read mended and marked with
/// the warnings it says; `None` if those were not its problems.
fn read_repaired(text: &str) -> Option<Result<Record, EntryError>> {
    let (fixed, warnings) = lenient::repaired(text)?;
    let entry = serde_json::from_str::<model::LogEntry<'_>>(&fixed).ok()?;
    Some(extract::to_record(entry, text).map(|mut r| {
        r.warnings.add(warnings);
        r
    }))
}

/// The error for input that does not start like an object: is it JSON of another shape?
fn not_an_object(text: &str) -> EntryError {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => EntryError::NotLogEntry {
            detail: "not a JSON object".to_owned(),
        },
        Err(e) => EntryError::NotJson {
            detail: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
