//! An entry kept in state as a cluster's sample. Whatever text it is given, it is read and
//! serialised only as [`redact_entry`] leaves it; redaction just waits until the text is read
//! or written. A `gcloud` export is newest first, so the earliest entry of each hop — the one
//! kept — replaces its predecessor with nearly every entry of a cluster: redacting each on
//! arrival redacted every entry of the file, where only the last one kept is ever quoted.
//! Copies share the entry: a closed window's copy that is quoted redacts it for the cell too,
//! so an entry is redacted at most once however many windows, revisions and checkpoints read
//! it, and never if nothing reads it.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{redact_entry, SAMPLE_BYTES};

/// Entries longer than this are redacted (and cut to about [`SAMPLE_BYTES`]) on arrival, so a
/// sample waiting unredacted holds no more than a redacted one would.
const PENDING_BYTES: usize = SAMPLE_BYTES;

#[derive(Clone)]
pub struct KeptEntry(Arc<Kept>);

enum Kept {
    Redacted(String),
    /// Raw text, never leaving this module as it is: redacted the first time any copy reads it.
    Pending {
        raw: String,
        redacted: OnceLock<String>,
    },
}

impl KeptEntry {
    pub fn new(raw: &str) -> KeptEntry {
        KeptEntry(Arc::new(if raw.len() > PENDING_BYTES {
            Kept::Redacted(redacted(raw))
        } else {
            Kept::Pending {
                raw: raw.to_owned(),
                redacted: OnceLock::new(),
            }
        }))
    }

    /// Keeps `raw` instead, reusing the allocation where no copy shares it.
    pub fn replace(&mut self, raw: &str) {
        match Arc::get_mut(&mut self.0) {
            Some(Kept::Pending { raw: s, redacted }) if raw.len() <= PENDING_BYTES => {
                s.clear();
                s.push_str(raw);
                *redacted = OnceLock::new();
            }
            _ => *self = KeptEntry::new(raw),
        }
    }

    /// The text, redacted and cut to about [`SAMPLE_BYTES`]: redacted on the first read.
    pub fn text(&self) -> &str {
        match &*self.0 {
            Kept::Redacted(s) => s,
            Kept::Pending { raw, redacted: r } => r.get_or_init(|| redacted(raw)),
        }
    }

    /// Redacts now what is still waiting, and lets the raw text go (before a copy is taken
    /// for a checkpoint).
    pub fn settle(&mut self) {
        if let Kept::Pending { .. } = &*self.0 {
            self.0 = Arc::new(Kept::Redacted(self.text().to_owned()));
        }
    }
}

/// Every redaction of a kept entry goes through here (counted in tests).
fn redacted(raw: &str) -> String {
    #[cfg(test)]
    REDACTIONS.with(|n| n.set(n.get() + 1));
    redact_entry(raw)
}

#[cfg(test)]
thread_local! {
    static REDACTIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Kept entries redacted on this thread so far.
#[cfg(test)]
pub(crate) fn redactions() -> usize {
    REDACTIONS.with(|n| n.get())
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
        serializer.serialize_str(self.text())
    }
}

/// Read back from a checkpoint: written by [`Serialize`] above, so already redacted.
impl<'de> Deserialize<'de> for KeptEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeptEntry, D::Error> {
        String::deserialize(deserializer).map(|s| KeptEntry(Arc::new(Kept::Redacted(s))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = r#"{"textPayload":"login password=Hunter2Secret9 ok","insertId":"a"}"#;

    #[test]
    fn a_kept_entry_reads_and_serialises_only_redacted_whether_settled_or_not() {
        let mut k = KeptEntry::new(RAW);
        let pending_text = k.text().to_owned();
        let pending_json = serde_json::to_string(&k).unwrap();
        let pending_debug = format!("{k:?}");
        k.settle();
        for out in [
            pending_text.as_str(),
            k.text(),
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
    fn an_entry_is_redacted_once_by_whichever_copy_reads_it_and_never_if_none_does() {
        let before = redactions();
        let mut k = KeptEntry::new(r#"{"textPayload":"first, never read"}"#);
        k.replace(RAW);
        let copy = k.clone();
        assert_eq!(redactions(), before, "nothing read yet");
        assert!(!copy.text().contains("Hunter2Secret9"));
        assert_eq!(k.text(), copy.text());
        serde_json::to_string(&k).unwrap();
        k.settle();
        assert_eq!(k, copy);
        assert_eq!(redactions(), before + 1, "one redaction for all the copies");
    }

    #[test]
    fn a_long_entry_is_redacted_and_cut_on_arrival() {
        let raw = format!(
            r#"{{"textPayload":"password=Hunter2Secret9 {}"}}"#,
            "x".repeat(PENDING_BYTES)
        );
        let k = KeptEntry::new(&raw);
        assert!(matches!(*k.0, Kept::Redacted(_)));
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
