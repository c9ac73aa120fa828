//! A person or a postal address written as an object, under a key naming one (`"address":
//! {"street": …, "city": …}`, `"shipping": {"line1": …}`, SOAP's `<ns:Name><ns:First>…`): every
//! value inside is theirs, whatever its own key (`city`, `line2` name nothing alone), so the
//! object goes whole. It is one when one of its keys names a part of a name or an address: an
//! `address` of a socket (`{"ip": …, "port": …}`) or a `customer` of ids stays.

use std::ops::Range;

use super::check::Check;
use super::patterns::{Follow, Gate, Kind, Source};

/// Keys whose object is a postal address, and whose object is a person.
const ADDRESS_WORDS: [&str; 8] = [
    "address",
    "shipping",
    "billing",
    "delivery",
    "shipto",
    "billto",
    "residence",
    "mailing",
];
const PERSON_WORDS: [&str; 14] = [
    "customer",
    "person",
    "holder",
    "contact",
    "recipient",
    "patient",
    "sender",
    "passenger",
    "employee",
    "applicant",
    "beneficiary",
    "payer",
    "payee",
    "name",
];

/// The keys inside that make an object a name or an address, normalised (letters and digits,
/// lower case).
const PART_KEYS: [&str; 34] = [
    "street",
    "streetname",
    "streetaddress",
    "line1",
    "line2",
    "line3",
    "addressline1",
    "addressline2",
    "address1",
    "address2",
    "city",
    "town",
    "locality",
    "postcode",
    "postalcode",
    "zip",
    "zipcode",
    "housenumber",
    "building",
    "county",
    "province",
    "first",
    "last",
    "given",
    "family",
    "middle",
    "firstname",
    "lastname",
    "fullname",
    "givenname",
    "familyname",
    "middlename",
    "surname",
    "name",
];

fn words() -> &'static [&'static str] {
    static WORDS: std::sync::LazyLock<Vec<&'static str>> =
        std::sync::LazyLock::new(|| ADDRESS_WORDS.into_iter().chain(PERSON_WORDS).collect());
    &WORDS
}

/// The rules: an object or an array of objects in JSON-like text (also escaped, a Python or
/// Ruby dict), and an XML element of elements.
pub fn sources(sep: &str) -> Vec<Source> {
    let key = format!(r"[\w.-]*?(?i:{})", words().join("|"));
    let object = r"\{[^{}]*\}";
    let rule = |pattern: String, follow: Follow| Source {
        pattern,
        kind: Kind::Personal,
        check: Check::PersonalObject,
        gate: Gate {
            words: words(),
            follow,
            ..Gate::default()
        },
    };
    vec![
        rule(
            format!(r"\b(?P<k>{key}){sep}(?P<v>{object}|\[\s*{object}(?:\s*,\s*{object})*\s*\])"),
            Follow::Object,
        ),
        rule(
            format!(
                r"<(?:[\w.-]+:)?(?P<k>{key})(?:\s[^>]*)?>(?P<v>(?:\s*<[\w.:-]+(?:\s[^>]*)?>[^<]*</[\w.:-]+>)+)\s*</"
            ),
            Follow::XmlTag,
        ),
    ]
}

/// Whether the object at `v` holds a key naming a part of a name or an address: as a key
/// (a word before `:`, `=` or `=>`, maybe quoted) or as an element's name.
pub fn personal_object(text: &str, v: Range<usize>) -> Option<Range<usize>> {
    let body = &text[v.clone()];
    let bytes = body.as_bytes();
    let name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':');
    let mut at = 0;
    while at < bytes.len() {
        if !name(bytes[at]) {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && name(bytes[at]) {
            at += 1;
        }
        let word = &body[start..at];
        let rest = body[at..].trim_start_matches(['"', '\'', '\\', ' ', '\t']);
        let keyed = rest.starts_with([':', '=']) || (start > 0 && bytes[start - 1] == b'<');
        // A namespace's prefix is not the element's name (`ns:First`).
        let word = word.rsplit(':').next().unwrap_or(word);
        if keyed && part(word) {
            return Some(v);
        }
    }
    None
}

/// Whether `key` names a part of a name or an address (`line1`, `postal_code`, `firstName`).
fn part(key: &str) -> bool {
    let norm: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    PART_KEYS.contains(&norm.as_str())
}

/// The kind of an object under `key`: an address's or a name's, by the word it ends with.
pub fn object_kind(key: &str) -> Option<&'static str> {
    // Compared in place: every key of every sample entry is asked.
    let ends = |w: &&str| {
        key.len() >= w.len()
            && key.as_bytes()[key.len() - w.len()..].eq_ignore_ascii_case(w.as_bytes())
    };
    if ADDRESS_WORDS.iter().any(ends) {
        Some("address")
    } else if PERSON_WORDS.iter().any(ends) {
        Some("name")
    } else {
        None
    }
}

/// For [`super::redact_json`]: the kind when `value` under `key` is a person or an address
/// as an object (or an array of them, FHIR's `"name": [{"family": …}]`).
pub fn json_object_kind(key: &str, value: &serde_json::Value) -> Option<&'static str> {
    let kind = object_kind(key)?;
    let holds_part =
        |v: &serde_json::Value| v.as_object().is_some_and(|o| o.keys().any(|k| part(k)));
    let object = match value {
        serde_json::Value::Array(items) => items.iter().any(holds_part),
        v => holds_part(v),
    };
    object.then_some(kind)
}
