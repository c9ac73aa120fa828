//! Entry → cluster. Typed masks turn the variable parts of a message into `<*>` (mask.rs),
//! template mining merges templates that differ only in variable positions (miner.rs,
//! family.rs), and every id is a stable hash.
//!
//! Two ids per message: the *fine* id hashes the key parts and the masked text, so it is a pure
//! function of the message and never changes meaning; the *canonical* id hashes the key parts
//! and the mined template of the fine id's cluster. Mining depends only on the set of distinct
//! masked templates seen per key (never on arrival order), so replicas that saw the same
//! messages agree. When a cluster generalizes, its former canonical id becomes an alias.
//!
//! Hot path ([`Fingerprinter::fingerprint`]): mask (secrets first) into a per-thread buffer, cut it at
//! `max_tokens` tokens, hash, one concurrent-set lookup. Mining runs only when a never-seen fine
//! id appears, and its work is bounded ([`FingerprintConfig`]).

pub mod mask;
pub mod stack;

mod canon;
mod clusters;
mod columns;
mod config;
mod family;
mod index;
mod miner;
mod shapes;
mod state;
mod status;
mod words;

pub use canon::Fingerprinter;
pub use config::{cap_tokens, FingerprintConfig};
pub use state::{FamilyState, FingerprintState};

use std::fmt;

use std::collections::hash_map::Entry;
use std::io::{self, Write};

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

/// Seed of every id hash: fixed, so ids agree across processes, machines and versions.
const SEED: u64 = 0x6c6f_672d_6761_7264; // "log-gard"

impl KeyParts<'_> {
    /// The key parts used by `log-gardener parse` (one built-in configuration, no metadata).
    pub const DEFAULT: KeyParts<'static> = KeyParts {
        service: "",
        class: SeverityClass::Info,
        location: "",
    };

    /// The id of a template under these key parts (fine ids hash the masked text, canonical ids
    /// the mined template).
    pub fn id_of(&self, template: &str) -> ClusterId {
        // One-shot xxh3 over the same bytes the streaming hasher sees (same digest, a fraction
        // of the cost for short texts), in a per-thread scratch buffer.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            s.clear();
            for part in [self.service, self.class.as_str(), self.location] {
                s.extend_from_slice(part.as_bytes());
                s.push(0x1f); // unit separators keep ("ab", "c") and ("a", "bc") apart
            }
            s.extend_from_slice(template.as_bytes());
            let id = ClusterId(xxhash_rust::xxh3::xxh3_64_with_seed(&s, SEED));
            if s.capacity() > 1 << 16 {
                *s = Vec::new(); // a giant message must not pin its buffer
            }
            id
        })
    }
}

/// The text a message is fingerprinted by: its traceback signature (or itself), masked, cut at
/// `max_tokens` tokens.
pub fn masked_into(
    message: &str,
    numbers: mask::Numbers,
    config: &FingerprintConfig,
    out: &mut String,
) {
    mask::mask_into_with(&stack::signature(message), numbers, out);
    cap_tokens(out, config.max_tokens);
}

/// For `log-gardener parse`: one message per line → (cluster id, template), one per input, in
/// order. Masks everything, mines over the whole set, then reports each line's final template.
pub fn parse_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<(ClusterId, String)> {
    parse_lines_with(lines, mask::Numbers::Variable)
}

/// [`parse_lines`] keeping the numbers `numbers` says ([`mask::Numbers::KeepStatus`]: as the
/// service's [`Fingerprinter`] does).
pub fn parse_lines_with<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    numbers: mask::Numbers,
) -> Vec<(ClusterId, String)> {
    let parsed = batch_of(lines, &FingerprintConfig::default(), numbers);
    (0..parsed.len())
        .map(|i| {
            let (id, t) = parsed.get(i);
            (id, t.to_string())
        })
        .collect()
}

/// [`parse_lines`] without a string per line: each distinct result once, and per line which.
pub fn parse_batch<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    config: &FingerprintConfig,
) -> Parsed {
    batch_of(lines, config, mask::Numbers::Variable)
}

/// [`parse_batch`] keeping the numbers `numbers` says.
fn batch_of<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    config: &FingerprintConfig,
    numbers: mask::Numbers,
) -> Parsed {
    let mut batch = Batch::new(config);
    batch.numbers = numbers;
    for line in lines {
        batch.push(line);
    }
    batch.finish()
}

/// [`parse_batch`] over a reader, one message per line (`\n` or `\r\n`), read as it comes:
/// memory holds the distinct templates, not the input. Invalid UTF-8 is replaced, not refused:
/// one odd byte must not lose the other lines. A lone `\n` is no line.
pub fn parse_reader(mut input: impl io::BufRead, config: &FingerprintConfig) -> io::Result<Parsed> {
    let mut batch = Batch::new(config);
    let (mut line, mut bare) = (Vec::new(), false);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        bare = batch.lines.is_empty() && line == b"\n";
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        match std::str::from_utf8(text) {
            Ok(t) => batch.push(t),
            Err(_) => batch.push(&String::from_utf8_lossy(text)),
        }
    }
    if bare && batch.lines.len() == 1 {
        batch.lines.clear();
    }
    Ok(batch.finish())
}

/// Lines being parsed: the family, each distinct masked text once, and per line which.
struct Batch<'c> {
    config: &'c FingerprintConfig,
    numbers: mask::Numbers,
    limits: family::Limits,
    family: family::Family,
    seen: index::IdMap<u64, u32>,
    /// The result of recent whole lines, by their hash: logs repeat lines exactly (9,873
    /// distinct of Loghub-2k's 16,000), and a repeat skips masking, as
    /// [`Fingerprinter::fingerprint`] does. Bounded like it; the same results either way.
    repeats: index::IdMap<u64, u32>,
    distinct: Vec<Origin>,
    lines: Vec<u32>,
    buf: String,
}

impl<'c> Batch<'c> {
    fn new(config: &'c FingerprintConfig) -> Self {
        Batch {
            config,
            numbers: mask::Numbers::Variable,
            limits: config.limits(),
            family: family::Family::new(),
            seen: Default::default(),
            repeats: Default::default(),
            distinct: Vec::new(),
            lines: Vec::new(),
            buf: String::new(),
        }
    }

    fn push(&mut self, line: &str) {
        let whole = xxhash_rust::xxh3::xxh3_64(line.as_bytes());
        if let Some(&d) = self.repeats.get(&whole) {
            self.lines.push(d);
            return;
        }
        masked_into(line, self.numbers, self.config, &mut self.buf);
        let d = match self.seen.entry(KeyParts::DEFAULT.id_of(&self.buf).0) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(v) => {
                self.distinct
                    .push(match self.family.insert(&self.buf, &self.limits) {
                        family::Placed::Member { member, .. } => Origin::Member(member),
                        family::Placed::Joins(root) => Origin::Member(root),
                        family::Placed::Alone => Origin::Alone(self.buf.as_str().into()),
                    });
                *v.insert(self.distinct.len() as u32 - 1)
            }
        };
        if self.repeats.len() >= canon::REPEATS {
            self.repeats.clear();
        }
        self.repeats.insert(whole, d);
        self.lines.push(d);
    }

    fn finish(self) -> Parsed {
        let results = self
            .distinct
            .iter()
            .map(|o| {
                let t = match o {
                    Origin::Member(m) => self.family.final_template(*m),
                    Origin::Alone(t) => t.to_string(),
                };
                (KeyParts::DEFAULT.id_of(&t), t)
            })
            .collect();
        Parsed {
            results,
            lines: self.lines,
        }
    }
}

/// Where a distinct masked text of a batch went: a stored member (or the member whose cluster
/// it reads as), or its own cluster.
enum Origin {
    Member(u32),
    Alone(Box<str>),
}

/// The outcome of [`parse_batch`].
pub struct Parsed {
    /// Distinct (cluster id, template) pairs.
    results: Vec<(ClusterId, String)>,
    /// Per input line: its index in `results`.
    lines: Vec<u32>,
}

impl Parsed {
    /// Input lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Line `i`'s cluster id and template.
    pub fn get(&self, i: usize) -> (ClusterId, &str) {
        let (id, t) = &self.results[self.lines[i] as usize];
        (*id, t)
    }

    /// Writes `id<TAB>template` per input line, each distinct line formatted once.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let rendered: Vec<Vec<u8>> = self
            .results
            .iter()
            .map(|(id, t)| format!("{id}\t{t}\n").into_bytes())
            .collect();
        for l in &self.lines {
            out.write_all(&rendered[*l as usize])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line seen before takes the result of its first sighting, also after the memory of
    /// whole lines was cleared: every line reads as the distinct lines parsed alone do.
    #[test]
    fn repeated_lines_read_as_their_first_sighting() {
        let distinct: Vec<String> = (0..canon::REPEATS + 500)
            .map(|i| match i % 3 {
                0 => format!("took {i} ms for user u{i}"),
                1 => format!("connection {i} reset by peer"),
                _ => format!("job {i} of kind k{} done", i % 7),
            })
            .collect();
        // Each line again three later, and again after the memory was cleared.
        let mut lines: Vec<&str> = Vec::new();
        for (i, l) in distinct.iter().enumerate() {
            lines.push(l);
            if i >= 3 {
                lines.push(&distinct[i - 3]);
            }
        }
        lines.extend(distinct.iter().take(100).map(String::as_str));
        let alone = parse_lines(distinct.iter().map(String::as_str));
        let whole = parse_lines(lines.iter().copied());
        let first: std::collections::HashMap<&str, usize> = distinct
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        for (line, got) in lines.iter().zip(&whole) {
            assert_eq!(got, &alone[first[line]], "{line}");
        }
    }

    /// Ids are stored and shared across replicas and releases: they must never drift.
    #[test]
    fn ids_are_stable_across_builds() {
        let key = KeyParts {
            service: "api",
            class: SeverityClass::Error,
            location: "app.db",
        };
        assert_eq!(key.id_of("Took <*> to connect to <*>").to_string(), GOLDEN);
        assert_ne!(key.id_of("x"), KeyParts::DEFAULT.id_of("x"));
    }

    const GOLDEN: &str = "8c52e363bdeb2a5b";

    #[test]
    fn parse_reader_reads_lines_like_parse_lines() {
        let count = |input: &[u8]| {
            let parsed = parse_reader(input, &FingerprintConfig::default());
            parsed.map(|p| p.len()).unwrap_or(usize::MAX)
        };
        assert_eq!(count(b""), 0);
        assert_eq!(count(b"\n"), 0);
        assert_eq!(count(b"\n\n"), 2);
        assert_eq!(count(b"a"), 1);
        assert_eq!(count(b"a\r\nb"), 2);
        assert_eq!(count(b"a\nb\n"), 2);
        let text: &[u8] = b"took 5s\r\nbad \xff byte\ntook 7s\n";
        let parsed = parse_reader(text, &FingerprintConfig::default());
        let parsed = parsed.unwrap_or_else(|e| panic!("{e}"));
        let lines = ["took 5s", "bad \u{fffd} byte", "took 7s"];
        let want = parse_lines(lines);
        let got: Vec<(ClusterId, &str)> = (0..parsed.len()).map(|i| parsed.get(i)).collect();
        let want: Vec<(ClusterId, &str)> = want.iter().map(|(i, t)| (*i, t.as_str())).collect();
        assert_eq!(got, want);
        let mut out = Vec::new();
        parsed.write_to(&mut out).unwrap_or_else(|e| panic!("{e}"));
        let first = format!("{}\ttook <*>\n", want[0].0);
        assert!(String::from_utf8_lossy(&out).starts_with(&first));
    }

    #[test]
    fn parse_lines_merges_values_and_keeps_events_apart() {
        let lines = [
            "Took 25.0s to connect to db-1.internal:5432",
            "Took 300ms to connect to 10.0.0.7:5432",
            "session closed for user bob7",
            "session closed for user alice2",
            "VM Started (Lifecycle Event)",
            "VM Paused (Lifecycle Event)",
        ];
        let out = parse_lines(lines);
        let templates: Vec<&str> = out.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(templates[0], "Took <*> to connect to <*>:<*>");
        assert_eq!(out[0].0, out[1].0);
        assert_eq!(templates[2], "session closed for user <*>");
        assert_eq!(out[2].0, out[3].0);
        assert_eq!(templates[4], "VM Started (Lifecycle Event)");
        assert_ne!(out[4].0, out[5].0);
    }
}
