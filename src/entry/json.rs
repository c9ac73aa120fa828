//! What a `jsonPayload` says: which of its fields is the message (`message`, `msg`, `event`, a
//! Docker/Fluent Bit `log` line, a stack trace, a cause beside a short message), whether it is
//! a log record or data, the level it states, and the writer's names (context, logger,
//! labels) that `extract.rs` reads the service and code location from.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::model::{HttpRequest, Int64, LooseStr};
use super::payload::render_json_compact;
use super::request::request_line;
use super::Severity;

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
pub(super) struct PayloadContext<'a> {
    #[serde(borrow, default)]
    pub(super) name: LooseStr<'a>,
    #[serde(borrow, default)]
    pub(super) service: LooseStr<'a>,
    #[serde(borrow)]
    pub(super) report_location: Option<ReportLocation<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportLocation<'a> {
    #[serde(borrow, default)]
    pub(super) file_path: LooseStr<'a>,
    #[serde(default)]
    pub(super) line_number: Int64,
    #[serde(borrow, default)]
    pub(super) function_name: LooseStr<'a>,
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
pub(super) struct ServiceContext<'a> {
    #[serde(borrow, default)]
    pub(super) service: LooseStr<'a>,
}

#[derive(Default, Deserialize)]
pub(super) struct PayloadLabels<'a> {
    #[serde(borrow, default)]
    pub(super) module: LooseStr<'a>,
    #[serde(borrow, default)]
    pub(super) function: LooseStr<'a>,
    #[serde(default)]
    pub(super) line: Int64,
}

/// What a `jsonPayload` contributes besides the message.
#[derive(Default)]
pub(super) struct PayloadMeta<'a> {
    pub(super) context: PayloadContext<'a>,
    pub(super) service_context: ServiceContext<'a>,
    pub(super) logger: Option<Cow<'a, str>>,
    pub(super) labels: PayloadLabels<'a>,
    /// The level a payload field states (see [`JsonPayload::severity`]).
    pub(super) level: Option<Severity>,
    /// The payload is data, not a log record (see [`log_record`]): the message is its fields
    /// rendered, and a `level=` among them is the data's, not the entry's.
    pub(super) data: bool,
    /// The message is the entry's request line (see [`request_line`]).
    pub(super) request: bool,
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
pub(super) fn json_message<'a>(
    raw: &'a RawValue,
    http: Option<&HttpRequest<'_>>,
) -> (String, PayloadMeta<'a>) {
    let Ok(p) = serde_json::from_str::<JsonPayload<'_>>(raw.get()) else {
        return (render_json_compact(raw.get()), PayloadMeta::default());
    };
    let line = log_line(&p);
    let text = loose(&p.message)
        .or_else(|| loose(&p.msg))
        .or_else(|| loose(&p.event))
        .or(line.as_deref());
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

/// The line of a Docker or Fluent Bit record (`{"log": "ERROR …\\n", "stream": "stderr"}`): what
/// the process printed, without the line break the runtime keeps. Read as a textPayload's text
/// is, its level included (`to_record` reads it from the text of a log record). An object
/// under `log` is ECS's (`log: {level}`), not a line.
fn log_line<'a>(p: &JsonPayload<'a>) -> Option<Cow<'a, str>> {
    let raw = p.log.filter(|raw| raw.get().starts_with('"'))?;
    let LooseStr(Some(line)) = serde_json::from_str::<LooseStr<'a>>(raw.get()).ok()? else {
        return None;
    };
    let line = match line {
        Cow::Borrowed(t) => Cow::Borrowed(t.trim_end()),
        Cow::Owned(t) => Cow::Owned(t.trim_end().to_owned()),
    };
    (!line.is_empty()).then_some(line)
}

/// A nested payload object, or its default when it is absent or shaped unexpectedly.
fn sub<'a, T: Deserialize<'a> + Default>(raw: Option<&'a RawValue>) -> T {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default()
}

/// A text field, unless absent or empty.
pub(super) fn loose<'s>(s: &'s LooseStr<'_>) -> Option<&'s str> {
    s.0.as_deref().filter(|v| !v.is_empty())
}
