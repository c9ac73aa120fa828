//! Making a document inert while it is serialised: a [`Serializer`] adapter that hands every
//! string and map key through the neutraliser and the redactor on its way to the inner
//! serializer, and drops the values of keys naming a secret — what [`super::redact_json`]
//! and the neutraliser do to a `serde_json::Value`, without building one. A worklog of 20,000
//! clusters is written straight to its text instead of first being copied into a tree.

use std::borrow::Cow;

use serde::ser::{self, Serialize, Serializer};

use super::inert::{neutralise, neutralise_keeping};
use super::{
    kept_under_secret_key, may_be_personal_value, personal_value_kind, redact, secret_key_kind,
    secret_named_by, NAME_VALUE_KEYS,
};

/// A string value as it may leave: neutralised (zero-width joiners kept, as rendered markdown
/// inside a document needs them), then redacted.
fn inert_value(s: &str) -> Cow<'_, str> {
    redacted(neutralise_keeping(s, true))
}

/// A map key as it may leave: neutralised, then redacted.
fn inert_key(s: &str) -> Cow<'_, str> {
    redacted(neutralise(s))
}

fn redacted(neutral: Cow<'_, str>) -> Cow<'_, str> {
    match neutral {
        Cow::Borrowed(b) => redact(b),
        Cow::Owned(n) => Cow::Owned(redact(&n).into_owned()),
    }
}

/// A number as it may leave: a card number written as a JSON number (`"card":
/// 4111111111111111`) is personal data as much as the same digits quoted. Its JSON text goes
/// through the redactor; when that finds something the number becomes the redacted text (a
/// string). Numbers under 10⁹ have too few digits to hold anything the redactor recognises,
/// so counts and sizes are written as they are without a look. `text` is the JSON text.
pub(super) fn number_redacted(magnitude: f64, text: impl FnOnce() -> String) -> Option<String> {
    if magnitude < 1e9 {
        return None;
    }
    let text = text();
    // The digits alone: a card rule does not match digits glued to a sign.
    let (sign, digits) = text.split_at(usize::from(text.starts_with('-')));
    match redact(digits) {
        Cow::Owned(r) => Some(format!("{sign}{r}")),
        Cow::Borrowed(_) => None,
    }
}

impl<S: Serializer> Inerting<S> {
    /// A number of `magnitude` whose JSON text is `text`: as the redacted text when the
    /// redactor finds something in it (see [`number_redacted`]), else as `plain` writes it.
    fn number(
        self,
        magnitude: f64,
        text: impl FnOnce() -> String,
        plain: impl FnOnce(S) -> Result<S::Ok, S::Error>,
    ) -> Result<S::Ok, S::Error> {
        match number_redacted(magnitude, text) {
            Some(redacted) => self.0.serialize_str(&redacted),
            None => plain(self.0),
        }
    }
}

/// `value` with every string made inert, serialised by `inner`.
pub fn inert<S: Serializer, T: Serialize + ?Sized>(value: &T, inner: S) -> Result<S::Ok, S::Error> {
    value.serialize(Inerting(inner))
}

/// The adapter: a serializer, or one of its compound states, whose output is inert.
pub struct Inerting<S>(S);

/// A value to be serialised through the adapter.
struct Wrap<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for Wrap<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Inerting(s))
    }
}

/// What stands in for the value of `key` naming a secret (`password`, `X-Api-Key`), unless
/// the value stays ([`super::kept_under_secret_key`]: null, a number under `pass`).
fn secret_stand_in<T: Serialize + ?Sized>(key: &str, kind: &str, value: &T) -> Option<String> {
    let kept = serde_json::to_value(value).is_ok_and(|v| kept_under_secret_key(key, &v));
    (!kept).then(|| format!("[REDACTED:{kind}]"))
}

/// A map key as text, the way `serde_json` writes one (strings, numbers, booleans, unit
/// variants).
fn key_text<K: Serialize + ?Sized, E: ser::Error>(key: &K) -> Result<String, E> {
    match serde_json::to_value(key) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Ok(serde_json::Value::Bool(b)) => Ok(b.to_string()),
        Ok(_) => Err(E::custom(
            "a map key must be a string, a number or a boolean",
        )),
        Err(e) => Err(E::custom(e)),
    }
}

/// The struct name under which `serde_json::value::RawValue` hands its text to a serializer.
const RAW_VALUE: &str = "$serde_json::private::RawValue";

macro_rules! forward {
    ($($f:ident($t:ty)),* $(,)?) => {
        $(fn $f(self, v: $t) -> Result<S::Ok, S::Error> {
            self.0.$f(v)
        })*
    };
}

impl<S: Serializer> Serializer for Inerting<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Inerting<S::SerializeSeq>;
    type SerializeTuple = Inerting<S::SerializeTuple>;
    type SerializeTupleStruct = Inerting<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Inerting<S::SerializeTupleVariant>;
    type SerializeMap = InertMap<S::SerializeMap>;
    type SerializeStruct = Inerting<S::SerializeStruct>;
    type SerializeStructVariant = Inerting<S::SerializeStructVariant>;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_f32(f32),
        serialize_bytes(&[u8]),
    );

    fn serialize_i64(self, v: i64) -> Result<S::Ok, S::Error> {
        self.serialize_i128(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<S::Ok, S::Error> {
        self.serialize_u128(v.into())
    }

    fn serialize_i128(self, v: i128) -> Result<S::Ok, S::Error> {
        self.number(
            v.unsigned_abs() as f64,
            || v.to_string(),
            |s| s.serialize_i128(v),
        )
    }

    fn serialize_u128(self, v: u128) -> Result<S::Ok, S::Error> {
        self.number(v as f64, || v.to_string(), |s| s.serialize_u128(v))
    }

    fn serialize_f64(self, v: f64) -> Result<S::Ok, S::Error> {
        let text = || serde_json::Value::from(v).to_string();
        self.number(v.abs(), text, |s| s.serialize_f64(v))
    }

    fn serialize_char(self, v: char) -> Result<S::Ok, S::Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<S::Ok, S::Error> {
        self.0.serialize_str(&inert_value(v))
    }

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Wrap(v))
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit()
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_struct(name)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        // JSON writes a unit variant as its name: a string like any other.
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Wrap(v))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Wrap(v))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Inerting)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(Inerting)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(Inerting)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        let inner = self.0.serialize_tuple_variant(name, index, variant, len);
        inner.map(Inerting)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        let inner = self.0.serialize_map(len)?;
        Ok(InertMap {
            inner,
            secret: None,
            key: String::new(),
            named: None,
            held: Vec::new(),
        })
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        if name == RAW_VALUE {
            // serde_json's raw JSON text, which its serializer would write unread.
            return Err(ser::Error::custom("raw JSON cannot be made inert"));
        }
        self.0.serialize_struct(name, len).map(Inerting)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        let inner = self.0.serialize_struct_variant(name, index, variant, len);
        inner.map(Inerting)
    }
}

macro_rules! elements {
    ($($tr:ident :: $f:ident),* $(,)?) => {
        $(impl<S: ser::$tr> ser::$tr for Inerting<S> {
            type Ok = S::Ok;
            type Error = S::Error;

            fn $f<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
                self.0.$f(&Wrap(v))
            }

            fn end(self) -> Result<S::Ok, S::Error> {
                self.0.end()
            }
        })*
    };
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

macro_rules! fields {
    ($($tr:ident),* $(,)?) => {
        $(impl<S: ser::$tr> ser::$tr for Inerting<S> {
            type Ok = S::Ok;
            type Error = S::Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), S::Error> {
                // Field names are the program's own; a field named like a secret is still
                // dropped, as in a map.
                match secret_key_kind(key).and_then(|kind| secret_stand_in(key, kind, v)) {
                    Some(stand_in) => self.0.serialize_field(key, &stand_in),
                    None => self.0.serialize_field(key, &Wrap(v)),
                }
            }

            fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
                self.0.skip_field(key)
            }

            fn end(self) -> Result<S::Ok, S::Error> {
                self.0.end()
            }
        })*
    };
}

fields!(SerializeStruct, SerializeStructVariant);

/// A map being serialised: keys made inert, and whether the key just written names a secret.
/// The value keys of a name/value pair (`{"name": "DB_PASSWORD", "value": …}`) wait until a
/// name key names a secret, or the map ends: then they are written, as the stand-in or as
/// they were (so in a map that has no name key they move to its end).
pub struct InertMap<S> {
    inner: S,
    secret: Option<&'static str>,
    /// The inert text of the key whose value comes next.
    key: String,
    /// The kind of secret the map's first name key named.
    named: Option<&'static str>,
    /// Value keys and their inert values, waiting for a name key.
    held: Vec<(String, serde_json::Value)>,
}

impl<S: ser::SerializeMap> ser::SerializeMap for InertMap<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), S::Error> {
        let text = key_text::<_, S::Error>(key)?;
        self.key = inert_key(&text).into_owned();
        self.secret = secret_key_kind(&self.key);
        if NAME_VALUE_KEYS.1.contains(&self.key.as_str()) {
            self.secret = self.named;
            if self.named.is_none() {
                return Ok(());
            }
        }
        self.inner.serialize_key(&self.key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
        if self.named.is_none() {
            if NAME_VALUE_KEYS.1.contains(&self.key.as_str()) {
                let inert = serde_json::to_value(Wrap(v)).map_err(ser::Error::custom)?;
                self.held.push((std::mem::take(&mut self.key), inert));
                return Ok(());
            }
            if NAME_VALUE_KEYS.0.contains(&self.key.as_str()) {
                if let Ok(serde_json::Value::String(name)) = serde_json::to_value(v) {
                    self.named = secret_named_by(&self.key, &neutralise_keeping(&name, true));
                }
            }
        }
        let key = &self.key;
        if self.secret.is_none() && may_be_personal_value(key) {
            // A person or an address as an object: known by what it holds.
            if let Ok(value) = serde_json::to_value(v) {
                self.secret = personal_value_kind(key, &value);
            }
        }
        match self
            .secret
            .take()
            .and_then(|kind| secret_stand_in(key, kind, v))
        {
            Some(stand_in) => self.inner.serialize_value(&stand_in),
            None => self.inner.serialize_value(&Wrap(v)),
        }
    }

    fn end(mut self) -> Result<S::Ok, S::Error> {
        for (key, value) in std::mem::take(&mut self.held) {
            match self
                .named
                .and_then(|kind| secret_stand_in(&key, kind, &value))
            {
                Some(stand_in) => self.inner.serialize_entry(&key, &stand_in)?,
                None => self.inner.serialize_entry(&key, &value)?,
            }
        }
        self.inner.end()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::{json, Value};

    use super::*;
    use crate::redact::{redact_json, InertJson};

    /// What the adapter must equal: the document copied into a tree, every string and key
    /// neutralised, then the tree redacted (how `InertJson` was made before the adapter).
    fn reference(value: &impl Serialize) -> Value {
        fn neutralise_tree(v: &mut Value) {
            match v {
                Value::String(s) => *s = neutralise_keeping(s, true).into_owned(),
                Value::Array(items) => items.iter_mut().for_each(neutralise_tree),
                Value::Object(map) => {
                    let old = std::mem::take(map);
                    for (k, mut value) in old {
                        neutralise_tree(&mut value);
                        map.insert(neutralise(&k).into_owned(), value);
                    }
                }
                Value::Null | Value::Bool(_) | Value::Number(_) => {}
            }
        }
        let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
        neutralise_tree(&mut v);
        redact_json(&mut v);
        v
    }

    fn both_ways(value: &impl Serialize) -> (Value, Value, Value) {
        let pretty = InertJson::pretty(value);
        let read_back = serde_json::from_str(&pretty).unwrap_or(Value::Null);
        (
            InertJson::new(value).value().clone(),
            read_back,
            reference(value),
        )
    }

    #[derive(Serialize)]
    struct Report<'a> {
        title: &'a str,
        count: u64,
        sample: Option<Value>,
        password: Option<&'a str>,
        token: Option<&'a str>,
        tags: Vec<(&'a str, char)>,
        by_level: std::collections::BTreeMap<u8, &'a str>,
        level: Level,
    }

    #[derive(Serialize)]
    enum Level {
        Error,
    }

    #[test]
    fn equals_the_tree_made_inert_for_hostile_documents() {
        let report = Report {
            title: "db down for bob@example.com\u{202E} Bearer abcDEF123456.xyz now",
            count: 3,
            sample: Some(json!({
                "textPayload": "\u{1b}[31mpassword=hunter2\u{1b}[0m",
                "X-Api-Key": "Zx9Yw8Vu7Ts6",
                "api_key": null,
                "pass\u{200B}word": "sneaky1234",
                "labels": {"authorization": "Token 9f8e7d6c5b4a", "ok": [1, 2.5, true]},
                "AKIAIOSFODNN7EXAMPLE": "key as a key",
                "env": [
                    {"name": "DB_PASSWORD", "value": "s3cr3tPa55"},
                    {"Value": "tok4a9b8c7d6e5f", "key": "api_token", "other": 1},
                    {"name": "LOG_LEVEL", "value": "debug"},
                ],
            })),
            password: Some("hunter2"),
            token: None,
            tags: vec![("sk_live_abcdefghijklmnop1234", '\u{200B}')],
            by_level: [(7, "ghp_abcdefghijklmnopqrstuvwxyz0123456789")].into(),
            level: Level::Error,
        };
        let (new, read_back, want) = both_ways(&report);
        assert_eq!(new, want);
        assert_eq!(read_back, want);
        let text = InertJson::pretty(&report);
        for secret in [
            "hunter2",
            "Zx9Yw8Vu7Ts6",
            "sneaky1234",
            "9f8e7d6c5b4a",
            "AKIAIOSFODNN7",
            "s3cr3tPa55",
            "tok4a9b8c7d6e5f",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("\"value\": \"debug\""), "{text}");
        assert!(
            text.contains("\"token\": null"),
            "a null secret stays null: {text}"
        );
        assert!(
            text.find("\"title\"") < text.find("\"count\""),
            "declared order"
        );
    }

    #[test]
    fn raw_json_is_refused_not_passed_through() {
        let raw = serde_json::value::RawValue::from_string(r#"{"password":"x"}"#.into());
        let raw = raw.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(InertJson::pretty(&raw), "null");
        assert_eq!(InertJson::new(&raw).value(), &Value::Null);
    }

    fn hostile_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                "[a-z ]{0,8}",
                "(password|token|api_key|X-Api-Key|secret)",
                "(name|key|Name|Key|value|Value)",
                "(DB_PASSWORD|Authorization|LOG_LEVEL)",
                "(password|token)=[A-Za-z0-9]{6,12}",
                "Bearer [A-Za-z0-9]{8,20}",
                "[a-z]{1,8}@[a-z]{1,8}\\.com",
                "AKIA[0-9A-Z]{16}",
                "\u{1b}\\[[0-9]{1,2}m|\u{200B}|\u{202E}|\r|\u{0}",
                ".{0,6}",
            ],
            0..5,
        )
        .prop_map(|p| p.concat())
    }

    fn hostile_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            hostile_text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((hostile_text(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// Whether two keys of one object read the same once inert: the tree then keeps one
    /// of them by sorted order, the stream both in the document's order (the JSON text holds
    /// the key twice; either way its value is the stand-in or inert).
    fn keys_collide(v: &Value) -> bool {
        match v {
            Value::Array(items) => items.iter().any(keys_collide),
            Value::Object(map) => {
                let inert: std::collections::BTreeSet<String> =
                    map.keys().map(|k| inert_key(k).into_owned()).collect();
                inert.len() < map.len() || map.values().any(keys_collide)
            }
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn any_document_comes_out_as_the_tree_made_inert(doc in hostile_json()) {
            prop_assume!(!keys_collide(&doc));
            let (new, read_back, want) = both_ways(&doc);
            prop_assert_eq!(&new, &want);
            prop_assert_eq!(&read_back, &want);
        }
    }
}
