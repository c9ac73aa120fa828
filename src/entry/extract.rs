//! From a parsed [`LogEntry`] to a [`Record`]: which text is the message, which service and
//! logger wrote it, when it happened.
//!
//! The message rules follow what the Cloud Console and Error Reporting show for each payload
//! kind, so a cluster reads like the entry a person would have looked at.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::model::{HttpRequest, Int64, Labels, LogEntry, LooseStr, Str};
use super::payload::{minify, proto_message, render_json_compact};
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

/// The `jsonPayload` keys extraction reads; everything else is skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonPayload<'a> {
    #[serde(borrow, default)]
    message: LooseStr<'a>,
    /// pino/zap and structlog name the message differently.
    #[serde(borrow, default)]
    msg: LooseStr<'a>,
    #[serde(borrow, default)]
    event: LooseStr<'a>,
    /// Error Reporting reads a stack trace from `message`, `stack_trace` or `exception`.
    #[serde(borrow, default, rename = "stack_trace")]
    stack_trace: LooseStr<'a>,
    #[serde(borrow, default)]
    exception: LooseStr<'a>,
    #[serde(borrow, default)]
    logger: LooseStr<'a>,
    /// A load balancer's account of how a request ended (`failed_to_pick_backend`,
    /// `backend_connection_closed_before_data_sent_to_client`), beside its `httpRequest`.
    #[serde(borrow, default)]
    status_details: LooseStr<'a>,
    /// The cause a structured logger writes beside a short message: zap/logrus `error`, pino
    /// `err` (an object with a `message`), ECS `error.message`.
    #[serde(borrow)]
    error: Option<&'a RawValue>,
    #[serde(borrow)]
    err: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "error.message")]
    error_message: LooseStr<'a>,
    /// The level fields structured loggers write, read when the entry's own severity is
    /// DEFAULT (`severity`: the Cloud Logging convention; `level`: zap, pino, bunyan, winston,
    /// logrus; `levelname`: python-json-logger; `log.level` and `log: {level}`: ECS).
    #[serde(borrow)]
    severity: Option<&'a RawValue>,
    #[serde(borrow)]
    level: Option<&'a RawValue>,
    #[serde(borrow)]
    levelname: Option<&'a RawValue>,
    #[serde(borrow, rename = "log.level")]
    log_level: Option<&'a RawValue>,
    #[serde(borrow)]
    log: Option<&'a RawValue>,
    /// pino and bunyan write the process id and host beside `msg` and a numeric `level`: the
    /// only payloads whose small numbers are levels.
    #[serde(borrow)]
    pid: Option<&'a RawValue>,
    #[serde(borrow)]
    hostname: Option<&'a RawValue>,
    #[serde(borrow)]
    service_context: Option<&'a RawValue>,
    #[serde(borrow)]
    context: Option<&'a RawValue>,
    /// Some Python handlers nest `labels` in the payload instead of the entry.
    #[serde(borrow)]
    labels: Option<&'a RawValue>,
}

/// `jsonPayload.context` as the Python structured loggers and Error Reporting write it.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadContext<'a> {
    #[serde(borrow, default)]
    name: LooseStr<'a>,
    #[serde(borrow, default)]
    service: LooseStr<'a>,
    #[serde(borrow)]
    report_location: Option<ReportLocation<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportLocation<'a> {
    #[serde(borrow, default)]
    file_path: LooseStr<'a>,
    #[serde(default)]
    line_number: Int64,
    #[serde(borrow, default)]
    function_name: LooseStr<'a>,
}

/// An error object (`{"message": …, "stack": …}`) under `error` or `err`.
#[derive(Default, Deserialize)]
struct ErrorObject<'a> {
    #[serde(borrow, default)]
    message: LooseStr<'a>,
}

/// ECS's `log: {"level": …}`.
#[derive(Default, Deserialize)]
struct EcsLog<'a> {
    #[serde(borrow)]
    level: Option<&'a RawValue>,
}

#[derive(Default, Deserialize)]
struct ServiceContext<'a> {
    #[serde(borrow, default)]
    service: LooseStr<'a>,
}

#[derive(Default, Deserialize)]
struct PayloadLabels<'a> {
    #[serde(borrow, default)]
    module: LooseStr<'a>,
    #[serde(borrow, default)]
    function: LooseStr<'a>,
    #[serde(default)]
    line: Int64,
}

/// What a `jsonPayload` contributes besides the message.
#[derive(Default)]
struct PayloadMeta<'a> {
    context: PayloadContext<'a>,
    service_context: ServiceContext<'a>,
    logger: Option<Cow<'a, str>>,
    labels: PayloadLabels<'a>,
    /// The level a payload field states (see [`JsonPayload::severity`]).
    level: Option<Severity>,
    /// The payload is data, not a log record (see [`log_record`]): the message is its fields
    /// rendered, and a `level=` among them is the data's, not the entry's.
    data: bool,
    /// The message is the entry's request line (see [`request_line`]).
    request: bool,
}

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
        trace: entry
            .trace
            .as_ref()
            .map(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        // Records quote one line of JSON; a pretty-printed export element is re-flowed.
        raw: if raw.contains('\n') {
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

fn loose<'s>(s: &'s LooseStr<'_>) -> Option<&'s str> {
    s.0.as_deref().filter(|v| !v.is_empty())
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

/// `POST /api/orders/<*>/pay → 502`: method, route and status, the way a request is one
/// problem whatever ids its URL carries; with the load balancer's `details` when it gave them
/// (`→ 502 (backend_connection_closed_before_data_sent_to_client)`: the backend closed the
/// connection, not a 502 the backend sent).
fn request_line(req: &HttpRequest<'_>, details: Option<&str>) -> String {
    let method = req.request_method.as_ref().map_or("?", Str::as_str);
    let url = req.request_url.as_ref().map_or("", Str::as_str);
    let mut text = format!("{method} {}", route(url_path(url)));
    if let Some(status) = req.status.0 {
        text.push_str(&format!(" → {status}"));
    }
    if let Some(details) = details {
        text.push_str(&format!(" ({details})"));
    }
    text
}

/// `statusDetails` when it is what load balancers write there: one lower-case identifier.
/// Anything else is not fingerprinted exactly (it could carry a value, or a secret).
fn status_details<'p>(p: &'p JsonPayload<'_>) -> Option<&'p str> {
    loose(&p.status_details).filter(|d| {
        d.len() <= 80
            && d.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

/// The message of a `jsonPayload`; beside an `httpRequest`, a payload with no message of its
/// own (a load balancer's, Cloud Armor's) is the request's details, and the message is the
/// request line.
fn json_message<'a>(
    raw: &'a RawValue,
    http: Option<&HttpRequest<'_>>,
) -> (String, PayloadMeta<'a>) {
    let Ok(p) = serde_json::from_str::<JsonPayload<'_>>(raw.get()) else {
        return (render_json_compact(raw.get()), PayloadMeta::default());
    };
    let text = loose(&p.message)
        .or_else(|| loose(&p.msg))
        .or_else(|| loose(&p.event));
    let trace = loose(&p.stack_trace).or_else(|| loose(&p.exception));
    let with_cause;
    let text = match (text, cause(&p)) {
        (Some(text), Some(cause)) if short(text) && !text.contains(cause.as_ref()) => {
            with_cause = format!("{text}: {cause}");
            Some(with_cause.as_str())
        }
        (text, _) => text,
    };
    let mut request = false;
    let message = match (text, trace, http) {
        // Loggers often repeat the trace in the message; keep it once.
        (Some(text), Some(trace), _) if text.contains(trace) => text.to_owned(),
        (Some(text), Some(trace), _) => format!("{text}\n{trace}"),
        (Some(one), None, _) | (None, Some(one), _) => one.to_owned(),
        (None, None, Some(req)) => {
            request = true;
            request_line(req, status_details(&p))
        }
        (None, None, None) => render_json_compact(raw.get()),
    };
    let record = log_record(&p);
    let level = payload_level(&p, record);
    let meta = PayloadMeta {
        context: sub(p.context),
        service_context: sub(p.service_context),
        logger: p.logger.0.filter(|l| !l.is_empty()),
        labels: sub(p.labels),
        level,
        data: !record,
        request,
    };
    (message, meta)
}

/// A message short enough that a cause beside it is the part that says what went wrong
/// (`failed to connect to database` + `error`): one line, at most this many bytes.
const SHORT_MESSAGE: usize = 160;

fn short(text: &str) -> bool {
    text.len() <= SHORT_MESSAGE && !text.contains('\n')
}

/// The error a structured logger wrote beside the message, if it is text.
fn cause<'p>(p: &'p JsonPayload<'_>) -> Option<Cow<'p, str>> {
    let field = |raw: Option<&'p RawValue>| -> Option<Cow<'p, str>> {
        let raw = raw?;
        let text = match serde_json::from_str::<LooseStr<'p>>(raw.get()) {
            Ok(LooseStr(Some(s))) => s,
            _ => sub::<ErrorObject<'p>>(Some(raw)).message.0?,
        };
        let text = match text {
            Cow::Borrowed(t) => Cow::Borrowed(t.trim()),
            Cow::Owned(t) => Cow::Owned(t.trim().to_owned()),
        };
        (!text.is_empty()).then_some(text)
    };
    loose(&p.error_message)
        .map(|m| Cow::Borrowed(m.trim()))
        .filter(|m| !m.is_empty())
        .or_else(|| field(p.error))
        .or_else(|| field(p.err))
}

/// The first level field that names a level (see [`JsonPayload::severity`]). `severity` and
/// `level` are the entry's only in a log record: a scanner's finding
/// (`{"severity":"CRITICAL","cve":…,"package":"openssl"}`) or a check's result has a severity
/// of its own, which says nothing about how urgent the entry is. `levelname` and ECS's
/// `log.level` are names only logging libraries write.
fn payload_level(p: &JsonPayload<'_>, record: bool) -> Option<Severity> {
    let pino = p.msg.0.is_some() && (p.pid.is_some() || p.hostname.is_some());
    let ecs = sub::<EcsLog<'_>>(p.log).level;
    let generic = [p.severity, p.level].into_iter().filter(|_| record);
    generic
        .chain([p.levelname, p.log_level, ecs])
        .flatten()
        .find_map(|raw| super::level::from_field(raw.get(), pino))
}

/// Whether a `jsonPayload` reads as a log record: it has a message (`message`, `msg`,
/// `event`, a `log` line as Docker and Fluent Bit write it, a stack trace), or a field only a
/// logging library writes (`logger`, `levelname`, ECS's `log.level` or `log: {level}`).
fn log_record(p: &JsonPayload<'_>) -> bool {
    let text = |s: &LooseStr<'_>| s.0.is_some();
    let line = p.log.is_some_and(|raw| raw.get().starts_with('"'));
    [&p.message, &p.msg, &p.event, &p.stack_trace, &p.exception]
        .into_iter()
        .any(text)
        || line
        || p.logger.0.is_some()
        || p.levelname.is_some()
        || p.log_level.is_some()
        || sub::<EcsLog<'_>>(p.log).level.is_some()
}

/// A nested payload object, or its default when it is absent or shaped unexpectedly.
fn sub<'a, T: Deserialize<'a> + Default>(raw: Option<&'a RawValue>) -> T {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default()
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

/// The path of a request URL: no scheme or host (they add nothing to a problem) and no query or
/// fragment (they hold ids and, too often, secrets).
/// A URL path as a route: segments that carry ids (numbers, UUIDs, hashes, tokens) become
/// `<*>`; short versioned words like `v2` stay.
pub fn route(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let digits = seg.bytes().filter(u8::is_ascii_digit).count();
            let id_like = digits > 0 && (seg.len() > 3 || digits == seg.len());
            if id_like {
                "<*>"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub fn url_path(url: &str) -> &str {
    let after_host = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find(['/', '?', '#']).map_or("", |j| &rest[j..])
        }
        None => url,
    };
    let path = after_host
        .find(['?', '#'])
        .map_or(after_host, |j| &after_host[..j]);
    if path.is_empty() {
        "/"
    } else {
        path
    }
}
