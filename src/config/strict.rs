//! TOML values must have the type their key reads. The `config` crate's deserializer coerces:
//! it reads `"5"`, `true` and `1.5` as the integers 5, 1 and 1 (or 2). That is right for an
//! environment variable, whose every value is a string, and wrong in a file, where a quoted
//! number or a fraction is a mistake to name. So the file's and the defaults' values are
//! checked first, against the types [`RawConfig`]'s own `Deserialize` asks for (learnt by a
//! probe, so a new field is checked without a list to keep in step).

use std::collections::BTreeMap;
use std::fmt;

use config::{Map, Value, ValueKind};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::raw::RawConfig;
use super::source::{Origin, Provenance};
use super::ConfigError;

/// What a field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Float,
    String,
    Bool,
    Array,
    Table,
    /// Anything (not asked for by `RawConfig` today).
    Any,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Integer => "an integer",
            Kind::Float => "a number",
            Kind::String => "a string",
            Kind::Bool => "a boolean (true or false)",
            Kind::Array => "an array",
            Kind::Table => "a table",
            Kind::Any => "any value",
        }
    }

    fn admits(self, v: &ValueKind) -> bool {
        let integer = matches!(
            v,
            ValueKind::I64(_) | ValueKind::I128(_) | ValueKind::U64(_) | ValueKind::U128(_)
        );
        match self {
            Kind::Integer => integer,
            Kind::Float => integer || matches!(v, ValueKind::Float(_)),
            Kind::String => matches!(v, ValueKind::String(_)),
            Kind::Bool => matches!(v, ValueKind::Boolean(_)),
            Kind::Array => matches!(v, ValueKind::Array(_)),
            Kind::Table => matches!(v, ValueKind::Table(_)),
            Kind::Any => true,
        }
    }
}

/// Each key path → what its field reads; an array's elements are `key[]` (`rules[].adjust`).
fn schema() -> BTreeMap<String, Kind> {
    let mut kinds = BTreeMap::new();
    // The probe answers every request; an error here would only leave keys unchecked.
    let _ = RawConfig::deserialize(Probe {
        path: String::new(),
        kinds: &mut kinds,
    });
    kinds
}

/// The first value set in a file or the defaults whose type is not its key's, as an error
/// naming the key, the type found and the type expected. Values from the environment are
/// strings by nature and are parsed where the field wants a number or a boolean.
pub(super) fn check_types(prov: &Provenance) -> Result<(), ConfigError> {
    check_table(prov, &schema(), prov.values(), "")
}

fn check_table(
    prov: &Provenance,
    schema: &BTreeMap<String, Kind>,
    table: &Map<String, Value>,
    path: &str,
) -> Result<(), ConfigError> {
    for (name, value) in table {
        let key = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        check_value(prov, schema, value, key)?;
    }
    Ok(())
}

fn check_value(
    prov: &Provenance,
    schema: &BTreeMap<String, Kind>,
    value: &Value,
    key: String,
) -> Result<(), ConfigError> {
    // An unknown key is left to the deserializer, which names the keys it knows.
    let Some(kind) = schema.get(&shape(&key)).copied() else {
        return Ok(());
    };
    let origin = prov.origin_of(value);
    // A variable's string is parsed where a number or a boolean is wanted; a list or a
    // table (but `alerts.alertmanager_urls`, split at commas) cannot be one.
    let env = matches!(prov.classify(value.origin()), Origin::Env(_));
    if env && !matches!(kind, Kind::Array | Kind::Table) {
        return Ok(());
    }
    if !kind.admits(&value.kind) {
        return Err(ConfigError::Invalid {
            message: format!(
                "invalid type: {}, expected {}",
                found(&value.kind),
                kind.expected()
            ),
            key,
            origin: Some(origin),
            others: Vec::new(),
        });
    }
    match &value.kind {
        ValueKind::Table(t) => check_table(prov, schema, t, &key),
        ValueKind::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_value(prov, schema, v, format!("{key}[{i}]"))),
        _ => Ok(()),
    }
}

/// `rules[2].adjust` → `rules[].adjust`.
fn shape(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut in_index = false;
    for c in key.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
}

/// The value as the deserializer's messages show one (`string "5"`), cut short.
fn found(v: &ValueKind) -> String {
    match v {
        ValueKind::String(s) => {
            let cut: String = s.chars().take(40).collect();
            format!("string {cut:?}")
        }
        ValueKind::Float(f) => format!("floating point `{f}`"),
        ValueKind::Boolean(b) => format!("boolean `{b}`"),
        ValueKind::I64(_) | ValueKind::I128(_) | ValueKind::U64(_) | ValueKind::U128(_) => {
            format!("integer `{v}`")
        }
        ValueKind::Array(_) => "an array".into(),
        ValueKind::Table(_) => "a table".into(),
        ValueKind::Nil => "nothing".into(),
    }
}

/// A deserializer that answers every request with an empty value of the type asked for and
/// notes, per key path, what was asked.
struct Probe<'a> {
    path: String,
    kinds: &'a mut BTreeMap<String, Kind>,
}

impl Probe<'_> {
    fn note(&mut self, kind: Kind) {
        self.kinds.entry(self.path.clone()).or_insert(kind);
    }
}

#[derive(Debug)]
struct ProbeError(String);

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProbeError {}

impl de::Error for ProbeError {
    fn custom<T: fmt::Display>(msg: T) -> ProbeError {
        ProbeError(msg.to_string())
    }
}

macro_rules! integers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ProbeError> {
            self.note(Kind::Integer);
            visitor.visit_u8(0)
        }
    )*};
}

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = ProbeError;

    integers!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128);

    // Kinds a config value is never checked as: what any value is.
    serde::forward_to_deserialize_any! { bytes byte_buf unit unit_struct enum }

    fn deserialize_any<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::Any);
        visitor.visit_unit()
    }

    fn deserialize_bool<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::Bool);
        visitor.visit_bool(false)
    }

    fn deserialize_f32<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::Float);
        visitor.visit_f32(0.0)
    }

    fn deserialize_f64<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::Float);
        visitor.visit_f64(0.0)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::String);
        visitor.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::Array);
        let path = format!("{}[]", self.path);
        visitor.visit_seq(One(Some(Probe {
            path,
            kinds: self.kinds,
        })))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::Table);
        visitor.visit_map(Fields {
            fields: &[],
            next: 0,
            probe: self,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.note(Kind::Table);
        visitor.visit_map(Fields {
            fields,
            next: 0,
            probe: self,
        })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_str("")
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_unit()
    }
}

/// A struct's fields, each once, each value a probe at its path.
struct Fields<'a> {
    fields: &'static [&'static str],
    next: usize,
    probe: Probe<'a>,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = ProbeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ProbeError> {
        let Some(field) = self.fields.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize(de::value::StrDeserializer::<ProbeError>::new(field))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ProbeError> {
        let field = self.fields[self.next];
        self.next += 1;
        let path = if self.probe.path.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.probe.path)
        };
        seed.deserialize(Probe {
            path,
            kinds: &mut *self.probe.kinds,
        })
    }
}

/// An array of one element, a probe at `key[]`.
struct One<'a>(Option<Probe<'a>>);

impl<'de> SeqAccess<'de> for One<'_> {
    type Error = ProbeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ProbeError> {
        self.0.take().map(|p| seed.deserialize(p)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_learns_every_kind_of_field() {
        let s = schema();
        let kind = |k: &str| s.get(k).copied();
        assert_eq!(kind("window"), Some(Kind::Table));
        assert_eq!(kind("window.history"), Some(Kind::Integer));
        assert_eq!(kind("window.hop"), Some(Kind::String));
        assert_eq!(kind("escalation.spike"), Some(Kind::Table));
        assert_eq!(kind("escalation.spike.factor"), Some(Kind::Float));
        assert_eq!(kind("escalation.count[].raise"), Some(Kind::Integer));
        assert_eq!(kind("rules"), Some(Kind::Array));
        assert_eq!(kind("rules[].adjust"), Some(Kind::Integer));
        assert_eq!(kind("rules[].thresholds"), Some(Kind::Bool));
        assert_eq!(kind("pubsub.endpoint"), Some(Kind::String));
        assert_eq!(kind("live.flush_on_shutdown"), Some(Kind::Bool));
        assert_eq!(kind("alerts.alertmanager_urls[]"), Some(Kind::String));
        assert!(!s.values().any(|k| *k == Kind::Any), "{s:?}");
    }

    #[test]
    fn index_paths_take_the_shape_of_their_array() {
        assert_eq!(shape("rules[12].adjust"), "rules[].adjust");
        assert_eq!(shape("a[1][2]"), "a[][]");
        assert_eq!(shape("window.hop"), "window.hop");
    }
}
