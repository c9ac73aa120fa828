//! The Cloud Logging `LogEntry` model and what the pipeline takes from it: one [`Record`] per
//! entry (event time, severity, service, logger, message).
//!
//! SCAFFOLD: the full model and message extraction are being written; the types below are the
//! contract the rest of the pipeline relies on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Cloud Logging's `LogSeverity`, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
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
            .or_else(|| match s.parse::<u32>().ok()? {
                0 => Some(Severity::Default),
                100 => Some(Severity::Debug),
                200 => Some(Severity::Info),
                300 => Some(Severity::Notice),
                400 => Some(Severity::Warning),
                500 => Some(Severity::Error),
                600 => Some(Severity::Critical),
                700 => Some(Severity::Alert),
                800 => Some(Severity::Emergency),
                _ => None,
            })
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
    pub insert_id: String,
    pub log_name: String,
    /// `labels.instanceId` (Cloud Run): with `log_name` it names one output stream, which is
    /// what split tracebacks are stitched within.
    pub instance: Option<String>,
    /// The entry as it arrived (one line of JSON), kept to quote a real sample.
    pub raw: String,
}

/// Why a piece of input is not a usable LogEntry (SCAFFOLD). The caller counts and reports it.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a LogEntry: {0}")]
    NotLogEntry(String),
}

impl EntryError {
    pub fn reason(&self) -> &'static str {
        match self {
            EntryError::NotJson(_) => "not_json",
            EntryError::NotLogEntry(_) => "not_log_entry",
        }
    }
}

/// SCAFFOLD parse.
pub fn parse_entry(bytes: &[u8]) -> Result<Record, EntryError> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| EntryError::NotJson(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| EntryError::NotLogEntry("not an object".into()))?;
    let ts = obj
        .get("timestamp")
        .or_else(|| obj.get("receiveTimestamp"))
        .and_then(|t| t.as_str())
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .ok_or_else(|| EntryError::NotLogEntry("no timestamp".into()))?;
    let sev = obj
        .get("severity")
        .and_then(|s| s.as_str())
        .and_then(Severity::parse)
        .unwrap_or(Severity::Default);
    let message = obj
        .get("textPayload")
        .and_then(|t| t.as_str())
        .map(str::to_owned)
        .or_else(|| {
            obj.get("jsonPayload")
                .and_then(|j| j.get("message"))
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .or_else(|| {
            let h = obj.get("httpRequest")?;
            Some(format!(
                "{} {} → {}",
                h.get("requestMethod")?.as_str()?,
                h.get("requestUrl")?.as_str()?,
                h.get("status")?
            ))
        })
        .ok_or_else(|| EntryError::NotLogEntry("no payload".into()))?;
    let service = obj
        .get("resource")
        .and_then(|r| r.get("labels"))
        .and_then(|l| l.get("service_name"))
        .and_then(|s| s.as_str())
        .unwrap_or("unknown")
        .to_owned();
    Ok(Record {
        timestamp: ts,
        severity: sev,
        service,
        location: CodeLocation::default(),
        message,
        insert_id: obj
            .get("insertId")
            .and_then(|s| s.as_str())
            .unwrap_or("")
            .to_owned(),
        log_name: obj
            .get("logName")
            .and_then(|s| s.as_str())
            .unwrap_or("")
            .to_owned(),
        instance: None,
        raw: String::from_utf8_lossy(bytes).into_owned(),
    })
}
