//! The serde model of a Cloud Logging `LogEntry` as `gcloud logging read --format=json` and a
//! Pub/Sub Log Router sink write it.
//!
//! Every string borrows from the input when it holds no escapes ([`Str`]), payloads are kept as
//! `&RawValue` until extraction decides what it needs, and unknown fields are skipped, so parsing
//! an entry allocates only for escaped strings, label lists and error groups. Exports disagree on
//! how int64 fields are written (`"1024"` vs `1024`), so those accept both ([`Int64`]).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::Severity;

/// One `LogEntry`. Field docs name the JSON key where it is not the camelCase of the field.
/// The snake_case keys of the Python client's dict dumps (`entry.to_api_repr()` of older
/// versions, `LogEntry._asdict()`) are read as their camelCase equivalents.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry<'a> {
    #[serde(borrow, alias = "log_name")]
    pub log_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub resource: Option<MonitoredResource<'a>>,
    #[serde(borrow)]
    pub timestamp: Option<Str<'a>>,
    #[serde(borrow, alias = "receive_timestamp", alias = "received_timestamp")]
    pub receive_timestamp: Option<Str<'a>>,
    /// Missing means DEFAULT; a name or the numeric form; anything else DEFAULT with a warning.
    #[serde(default)]
    pub severity: SeverityField,
    #[serde(borrow, alias = "insert_id")]
    pub insert_id: Option<Str<'a>>,
    #[serde(borrow, alias = "http_request")]
    pub http_request: Option<HttpRequest<'a>>,
    #[serde(borrow)]
    pub labels: Option<Labels<'a>>,
    #[serde(borrow)]
    pub operation: Option<Operation<'a>>,
    #[serde(borrow)]
    pub trace: Option<Str<'a>>,
    #[serde(borrow, alias = "span_id")]
    pub span_id: Option<Str<'a>>,
    #[serde(default, alias = "trace_sampled", deserialize_with = "lenient_bool")]
    pub trace_sampled: Option<bool>,
    #[serde(borrow, alias = "source_location")]
    pub source_location: Option<SourceLocation<'a>>,
    #[serde(borrow)]
    pub split: Option<Split<'a>>,
    #[serde(borrow, alias = "error_groups")]
    pub error_groups: Option<Vec<ErrorGroup<'a>>>,
    /// A string; a number or boolean is read as its JSON text, anything else as absent (both
    /// with a warning).
    #[serde(borrow, alias = "text_payload")]
    pub text_payload: Option<TextField<'a>>,
    /// Read partly by extraction; kept raw so a payload without a message can be rendered.
    #[serde(borrow, alias = "json_payload")]
    pub json_payload: Option<&'a RawValue>,
    /// Audit logs and App Engine request logs; read partly by extraction.
    #[serde(borrow, alias = "proto_payload")]
    pub proto_payload: Option<&'a RawValue>,
    /// `payload` of the Python client's `LogEntry._asdict()`: text (a `TextEntry`) or an
    /// object (a `StructEntry`); read when none of the payloads above is there.
    #[serde(borrow)]
    pub payload: Option<&'a RawValue>,
}

/// `resource`: what wrote the entry (`cloud_run_revision`, `cloudsql_database`, …).
#[derive(Debug, Deserialize)]
pub struct MonitoredResource<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Option<Str<'a>>,
    #[serde(borrow)]
    pub labels: Option<Labels<'a>>,
}

/// `httpRequest`, all fields of the proto.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest<'a> {
    #[serde(borrow, alias = "request_method")]
    pub request_method: Option<Str<'a>>,
    #[serde(borrow, alias = "request_url")]
    pub request_url: Option<Str<'a>>,
    #[serde(default)]
    pub request_size: Int64,
    #[serde(default)]
    pub status: Int64,
    #[serde(default)]
    pub response_size: Int64,
    #[serde(borrow)]
    pub user_agent: Option<Str<'a>>,
    #[serde(borrow)]
    pub remote_ip: Option<Str<'a>>,
    #[serde(borrow)]
    pub server_ip: Option<Str<'a>>,
    #[serde(borrow)]
    pub referer: Option<Str<'a>>,
    /// A proto Duration as JSON: `"0.783137066s"`.
    #[serde(borrow)]
    pub latency: Option<Str<'a>>,
    pub cache_lookup: Option<bool>,
    pub cache_hit: Option<bool>,
    pub cache_validated_with_origin_server: Option<bool>,
    #[serde(default)]
    pub cache_fill_bytes: Int64,
    #[serde(borrow)]
    pub protocol: Option<Str<'a>>,
}

/// `operation`: links the entries of one long-running operation.
#[derive(Debug, Deserialize)]
pub struct Operation<'a> {
    #[serde(borrow)]
    pub id: Option<Str<'a>>,
    #[serde(borrow)]
    pub producer: Option<Str<'a>>,
    pub first: Option<bool>,
    pub last: Option<bool>,
}

/// `sourceLocation`, written by the client libraries' structured loggers.
#[derive(Debug, Deserialize)]
pub struct SourceLocation<'a> {
    #[serde(borrow)]
    pub file: Option<Str<'a>>,
    #[serde(default)]
    pub line: Int64,
    #[serde(borrow)]
    pub function: Option<Str<'a>>,
}

/// `split`: one part of an entry that Cloud Logging cut because it was too large.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Split<'a> {
    #[serde(borrow)]
    pub uid: Option<Str<'a>>,
    #[serde(default)]
    pub index: Int64,
    #[serde(default)]
    pub total_splits: Int64,
}

/// One of `errorGroups`: the Error Reporting group the entry was counted in.
#[derive(Debug, Deserialize)]
pub struct ErrorGroup<'a> {
    #[serde(borrow)]
    pub id: Option<Str<'a>>,
}

/// A JSON string that borrows from the input unless it had escapes to undo.
///
/// serde's own `Cow<str>` only borrows as a direct `#[serde(borrow)]` field, not inside `Option`
/// or a map, hence this newtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str<'a>(pub Cow<'a, str>);

impl Str<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Str(Cow::Owned(v)))
    }
}

/// A string field inside a user's `jsonPayload`, where any JSON type may turn up: a string is
/// kept, anything else reads as absent rather than failing the whole entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LooseStr<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for LooseStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseStrVisitor)
    }
}

struct LooseStrVisitor;

impl<'de> Visitor<'de> for LooseStrVisitor {
    type Value = LooseStr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Owned(v))))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(LooseStr(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(LooseStr(None))
    }
}

/// A `map<string, string>` (`labels`, `resource.labels`) as a list: entries carry a handful of
/// labels, so a linear lookup beats hashing and costs one allocation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Labels<'a>(pub Vec<(Str<'a>, Str<'a>)>);

impl Labels<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.as_str())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Labels<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(LabelsVisitor)
    }
}

struct LabelsVisitor;

impl<'de> Visitor<'de> for LabelsVisitor {
    type Value = Labels<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of string labels")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut labels = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((k, v)) = map.next_entry::<Str<'de>, LooseStr<'de>>()? {
            // Cloud Logging only stores string labels; a stray non-string is dropped, not fatal.
            if let Some(v) = v.0 {
                labels.push((k, Str(v)));
            }
        }
        Ok(Labels(labels))
    }
}

/// An int64 field: `gcloud` writes `"1024"`, some exporters write `1024`. Anything unreadable
/// is `None`: these fields are context, never a reason to drop an entry.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Int64(pub Option<i64>);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Int64Visitor)
    }
}

struct Int64Visitor;

impl<'de> Visitor<'de> for Int64Visitor {
    type Value = Int64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a string holding one")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Int64(Some(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Int64(i64::try_from(v).ok()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        let fits = v.fract() == 0.0 && v.abs() < 9.0e15;
        Ok(Int64(fits.then_some(v as i64)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Int64(v.trim().parse().ok()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Int64(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Int64(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        LooseStrVisitor.visit_seq(seq).map(|_| Int64(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        LooseStrVisitor.visit_map(map).map(|_| Int64(None))
    }
}

/// `severity`: missing or unknown is DEFAULT, as Cloud Logging itself treats it; `known` is
/// false for a value that is neither a severity name nor a non-negative integer (counted as
/// a field warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeverityField(pub Severity, pub bool);

impl Default for SeverityField {
    fn default() -> SeverityField {
        SeverityField(Severity::Default, true)
    }
}

impl SeverityField {
    fn unknown() -> SeverityField {
        SeverityField(Severity::Default, false)
    }
}

impl<'de> Deserialize<'de> for SeverityField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Taken as its JSON text first: a value serde_json cannot hold as a number (`1e400`,
        // valid JSON) or nests past its recursion limit is an unknown severity, not an
        // unreadable entry.
        let raw = <&'de RawValue>::deserialize(d)?;
        if let Some(name) = plain_str(raw) {
            return SeverityVisitor.visit_str(name);
        }
        let mut de = serde_json::Deserializer::from_str(raw.get());
        Ok(de
            .deserialize_any(SeverityVisitor)
            .unwrap_or_else(|_| SeverityField::unknown()))
    }
}

struct SeverityVisitor;

impl<'de> Visitor<'de> for SeverityVisitor {
    type Value = SeverityField;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a severity name or number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Severity::parse(v).map_or_else(SeverityField::unknown, |s| SeverityField(s, true)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(SeverityField(Severity::from_number(v), true))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or_else(
            |_| SeverityField::unknown(),
            |n| SeverityField(Severity::from_number(n), true),
        ))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(SeverityField::unknown())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(SeverityField::unknown())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(SeverityField::default())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        LooseStrVisitor
            .visit_seq(seq)
            .map(|_| SeverityField::unknown())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        LooseStrVisitor
            .visit_map(map)
            .map(|_| SeverityField::unknown())
    }
}

/// `textPayload`: a string as it is; any other JSON value as its compact JSON text, and
/// `mistyped` (a field warning), never a reason to drop the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextField<'a> {
    pub text: Option<Str<'a>>,
    pub mistyped: bool,
}

impl<'de: 'a, 'a> Deserialize<'de> for TextField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        if let Some(text) = plain_str(raw) {
            return Ok(TextField {
                text: Some(Str(Cow::Borrowed(text))),
                mistyped: false,
            });
        }
        if raw.get().starts_with('"') {
            let text = serde_json::from_str::<Str<'de>>(raw.get()).map_err(de::Error::custom)?;
            return Ok(TextField {
                text: Some(text),
                mistyped: false,
            });
        }
        // Compact JSON text; as it came when serde_json cannot read it as a value (`1e400`,
        // or nested past its recursion limit).
        let text = serde_json::from_str::<serde_json::Value>(raw.get())
            .map_or(Cow::Borrowed(raw.get()), |v| Cow::Owned(v.to_string()));
        Ok(TextField {
            text: Some(Str(text)),
            mistyped: true,
        })
    }
}

/// The text of a JSON string with no escapes, as it stands between its quotes: what
/// deserializing it would give, without a second parse.
fn plain_str(raw: &RawValue) -> Option<&str> {
    let text = raw.get().strip_prefix('"')?.strip_suffix('"')?;
    (memchr::memchr(b'\\', text.as_bytes()).is_none()).then_some(text)
}

/// `traceSampled`: a boolean; anything else is absent (context only).
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<&'de RawValue>::deserialize(d)?;
    Ok(v.and_then(|raw| serde_json::from_str(raw.get()).ok()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Quotes, backslashes, control characters and non-ASCII: escaped or not, the text
        /// read is the text written, whether or not the unescaped shortcut takes it.
        #[test]
        fn a_text_payload_reads_as_written(text in "[a-z\"\\\\\n\t\u{1}\u{e9}\u{1F600} ]{0,24}") {
            let json = serde_json::to_string(&text).unwrap();
            let raw: &RawValue = serde_json::from_str(&json).unwrap();
            if let Some(plain) = plain_str(raw) {
                prop_assert_eq!(plain, text.as_str());
            }
            let field: TextField<'_> = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(field.text.as_ref().map(Str::as_str), Some(text.as_str()));
            prop_assert!(!field.mistyped);
        }
    }
}
