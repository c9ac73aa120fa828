//! An entry kept in state as a cluster's sample. Whatever text it is given, it is read and
//! serialised only as [`redact_entry`] leaves it; redaction just waits until the text is read
//! or written. A `gcloud` export is newest first, so the earliest entry of each hop — the one
//! kept — replaces its predecessor with nearly every entry of a cluster: redacting each on
//! arrival redacted every entry of the file, where only the last one kept is ever quoted.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{redact_entry, SAMPLE_BYTES};

/// Entries longer than this are redacted (and cut to about [`SAMPLE_BYTES`]) on arrival, so a
/// sample waiting unredacted holds no more than a redacted one would.
const PENDING_BYTES: usize = SAMPLE_BYTES;

#[derive(Clone)]
pub struct KeptEntry(Kept);

#[derive(Clone)]
enum Kept {
    Redacted(String),
    /// Raw text, not yet redacted: never leaves this module as it is.
    Pending(String),
}

impl KeptEntry {
    pub fn new(raw: &str) -> KeptEntry {
        if raw.len() > PENDING_BYTES {
            KeptEntry(Kept::Redacted(redact_entry(raw)))
        } else {
            KeptEntry(Kept::Pending(raw.to_owned()))
        }
    }

    /// Keeps `raw` instead, reusing the allocation where it can.
    pub fn replace(&mut self, raw: &str) {
        match &mut self.0 {
            Kept::Pending(s) if raw.len() <= PENDING_BYTES => {
                s.clear();
                s.push_str(raw);
            }
            _ => *self = KeptEntry::new(raw),
        }
    }

    /// The text, redacted and cut to about [`SAMPLE_BYTES`].
    pub fn text(&self) -> Cow<'_, str> {
        match &self.0 {
            Kept::Redacted(s) => Cow::Borrowed(s),
            Kept::Pending(raw) => Cow::Owned(redact_entry(raw)),
        }
    }

    /// Redacts now, once, what is still waiting (before a copy is taken or written).
    pub fn settle(&mut self) {
        if let Kept::Pending(raw) = &self.0 {
            self.0 = Kept::Redacted(redact_entry(raw));
        }
    }
}

/// Debug output is output too: redacted.
impl std::fmt::Debug for KeptEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KeptEntry").field(&self.text()).finish()
    }
}

impl PartialEq for KeptEntry {
    fn eq(&self, other: &KeptEntry) -> bool {
        self.text() == other.text()
    }
}

impl Eq for KeptEntry {}

impl Serialize for KeptEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

/// Read back from a checkpoint: written by [`Serialize`] above, so already redacted.
impl<'de> Deserialize<'de> for KeptEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeptEntry, D::Error> {
        String::deserialize(deserializer).map(|s| KeptEntry(Kept::Redacted(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = r#"{"textPayload":"login password=Hunter2Secret9 ok","insertId":"a"}"#;

    #[test]
    fn a_kept_entry_reads_and_serialises_only_redacted_whether_settled_or_not() {
        let mut k = KeptEntry::new(RAW);
        let pending_text = k.text().into_owned();
        let pending_json = serde_json::to_string(&k).unwrap();
        let pending_debug = format!("{k:?}");
        k.settle();
        for out in [
            pending_text.as_str(),
            &k.text(),
            &pending_json,
            &pending_debug,
        ] {
            assert!(!out.contains("Hunter2Secret9"), "{out}");
            assert!(out.contains("[REDACTED:password]"), "{out}");
        }
        assert_eq!(pending_json, serde_json::to_string(&k).unwrap());
        assert_eq!(k.text(), redact_entry(RAW));
        k.replace(r#"{"textPayload":"token ghp_abcdefghijklmnopqrstuvwxyz0123456789"}"#);
        assert!(!serde_json::to_string(&k).unwrap().contains("ghp_abcdef"));
    }

    #[test]
    fn a_long_entry_is_redacted_and_cut_on_arrival() {
        let raw = format!(
            r#"{{"textPayload":"password=Hunter2Secret9 {}"}}"#,
            "x".repeat(PENDING_BYTES)
        );
        let k = KeptEntry::new(&raw);
        assert!(matches!(k.0, Kept::Redacted(_)));
        assert!(k.text().len() < SAMPLE_BYTES / 2, "cut on arrival");
        assert!(!k.text().contains("Hunter2Secret9"));
    }

    #[test]
    fn a_checkpointed_entry_comes_back_as_it_was_written() {
        let mut k = KeptEntry::new(RAW);
        k.settle();
        let back: KeptEntry = serde_json::from_str(&serde_json::to_string(&k).unwrap()).unwrap();
        assert_eq!(back, k);
    }
}
