//! Entry → cluster. Typed masks turn the variable parts of a message into `<*>`, template mining
//! merges templates that differ only in variable positions, and the cluster id is a stable hash.
//!
//! SCAFFOLD: the contract below is what the pipeline relies on; mask.rs / miner.rs fill it in.

pub mod stack;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::entry::SeverityClass;

/// A cluster's identity: a 64-bit hash, the same for the same inputs on every machine and run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterId(pub u64);

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for ClusterId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClusterId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        u64::from_str_radix(&s, 16)
            .map(ClusterId)
            .map_err(|_| serde::de::Error::custom(format!("cluster id {s:?} is not 16 hex digits")))
    }
}

/// The parts of a cluster key other than the template.
#[derive(Debug, Clone, Copy)]
pub struct KeyParts<'a> {
    pub service: &'a str,
    pub class: SeverityClass,
    /// Logger/module and function when the entry names them, else "".
    pub location: &'a str,
}

/// A cluster as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub id: ClusterId,
    pub template: String,
}

/// Fingerprints messages; shared by all pipeline workers (`&self`, interior locking).
#[derive(Default)]
pub struct Fingerprinter {
    templates: dashmap::DashMap<ClusterId, String>,
}

impl Fingerprinter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The fine id of one message: a pure function of its key parts and masked text.
    pub fn fingerprint(&self, key: &KeyParts<'_>, message: &str) -> ClusterId {
        let sig = stack::signature(message);
        let masked: Vec<String> = sig
            .split_whitespace()
            .map(|t| {
                if t.bytes().any(|b| b.is_ascii_digit()) {
                    "<*>".to_string()
                } else {
                    t.to_string()
                }
            })
            .collect();
        let masked = masked.join(" ");
        let h = xxhash_rust::xxh3::xxh3_64(
            format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                key.service,
                key.class.as_str(),
                key.location,
                masked
            )
            .as_bytes(),
        );
        let id = ClusterId(h);
        self.templates.entry(id).or_insert(masked);
        id
    }

    /// The cluster a fine id, or any id that was ever canonical, belongs to now.
    /// The id of a message that is already a template (a request line): registered as it is,
    /// never masked or merged.
    pub fn fingerprint_exact(&self, key: &KeyParts<'_>, template: &str) -> ClusterId {
        let h = xxhash_rust::xxh3::xxh3_64(
            format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                key.service,
                key.class.as_str(),
                key.location,
                template
            )
            .as_bytes(),
        );
        let id = ClusterId(h);
        self.templates
            .entry(id)
            .or_insert_with(|| template.to_owned());
        id
    }

    pub fn aliases(&self, id: ClusterId) -> Vec<ClusterId> {
        vec![id]
    }

    pub fn resolve(&self, id: ClusterId) -> Option<Resolved> {
        self.templates.get(&id).map(|t| Resolved {
            id,
            template: t.clone(),
        })
    }
}

/// SCAFFOLD parse.
pub fn parse_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<(ClusterId, String)> {
    let fp = Fingerprinter::new();
    let key = KeyParts {
        service: "",
        class: SeverityClass::Info,
        location: "",
    };
    lines
        .into_iter()
        .map(|l| {
            let id = fp.fingerprint(&key, l);
            (id, fp.resolve(id).map(|r| r.template).unwrap_or_default())
        })
        .collect()
}
