//! Reading a large file a slice of event time at a time: the pure core of it.
//!
//! A `replay` holds every window its input spans until it knows no entry of them is still to
//! come. Read in file order, that is the end of the file (a `gcloud` export is newest first),
//! so memory grows with the hours the file spans. A large file is therefore first surveyed:
//! one pass reads every entry's event time only and notes, per *block* of consecutive
//! entries, where it lies and the earliest and latest time in it, and per hop of event time
//! how many bytes of entries fall in it. The [`Plan`] cuts the event times into slices of
//! about `input.slice_bytes` of entries each (at most [`MAX_SLICES`]), on hop boundaries, so
//! the cut depends only on the entries, never on their order. Then each slice is one pass over
//! the blocks holding its entries, and after it every window ending by the next slice's start
//! can close.
//!
//! Most exports are sorted (newest or oldest first), so each block belongs to one slice and
//! is read once more in all; a shuffled file is read once per slice.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::export::Span;

/// Slices at most: a shuffled file is read this many times more, at worst.
pub const MAX_SLICES: usize = 16;

/// A block ends at this many entries or bytes: what a slice reads at a time.
const BLOCK_ENTRIES: u32 = 4096;
const BLOCK_BYTES: u64 = 4 << 20;

/// Consecutive entries of the input with only separators between them: a reader started on
/// its first byte reads them alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Bytes `start..end` of the text.
    pub start: u64,
    pub end: u64,
    /// The line its first entry starts on.
    pub line: u64,
    pub entries: u32,
    /// Earliest and latest event time of its entries (ms), if any has one.
    times: Option<(i64, i64)>,
    /// Entries whose event time cannot be read: they go with the first slice.
    untimed: u32,
    structure: u64,
}

/// What one pass of the survey learns.
#[derive(Debug)]
pub struct Survey {
    hop_ms: i64,
    /// Bytes of entries per hop of event time, by hop index.
    bytes: BTreeMap<i64, u64>,
    blocks: Vec<Block>,
    /// The last block may take the next entry.
    open: bool,
    /// An entry nested deeper than a new reader would read it alike: slicing is off.
    deep: bool,
}

impl Survey {
    pub fn new(hop_ms: i64) -> Survey {
        Survey {
            hop_ms: hop_ms.max(1),
            bytes: BTreeMap::new(),
            blocks: Vec::new(),
            open: false,
            deep: false,
        }
    }

    /// An entry at `span`, starting on `line`, with event time `at` if it can be read.
    pub fn entry(&mut self, span: Span, line: u64, at: Option<DateTime<Utc>>) {
        self.deep |= span.deep;
        let at = at.map(|t| t.timestamp_millis());
        if let Some(ms) = at {
            *self.bytes.entry(ms.div_euclid(self.hop_ms)).or_default() += span.end - span.start;
        }
        let joins = self.open
            && self.blocks.last().is_some_and(|b| {
                b.structure == span.structure
                    && b.entries < BLOCK_ENTRIES
                    && b.end - b.start < BLOCK_BYTES
            });
        if !joins {
            self.blocks.push(Block {
                start: span.start,
                end: span.end,
                line,
                entries: 0,
                times: None,
                untimed: 0,
                structure: span.structure,
            });
        }
        self.open = true;
        let b = self.blocks.last_mut().expect("a block was just pushed");
        b.end = span.end;
        b.entries += 1;
        match at {
            Some(ms) => {
                b.times = Some(
                    b.times
                        .map_or((ms, ms), |(lo, hi)| (lo.min(ms), hi.max(ms))),
                )
            }
            None => b.untimed += 1,
        }
    }

    /// A piece that is not an entry: the next entry starts a new block.
    pub fn interruption(&mut self) {
        self.open = false;
    }

    /// Whether the blocks can be read again on their own; if not, the file is read in one pass.
    pub fn sliceable(&self) -> bool {
        !self.deep
    }

    /// Slices of about `target` bytes of entries each (more, if that would make more than
    /// [`MAX_SLICES`]), cut at the start of a hop.
    pub fn plan(self, target: u64) -> Plan {
        let total: u64 = self.bytes.values().sum();
        let target = target.max(total.div_ceil(MAX_SLICES as u64)).max(1);
        let mut bounds = Vec::new();
        let mut acc = 0;
        for (&hop, &bytes) in &self.bytes {
            if acc >= target {
                let start = DateTime::from_timestamp_millis(hop.saturating_mul(self.hop_ms));
                bounds.extend(start);
                acc = 0;
            }
            acc += bytes;
        }
        Plan {
            blocks: self.blocks,
            bounds,
        }
    }
}

/// What a slice needs of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Nothing,
    /// Every entry of it.
    All,
    /// Those whose event time falls in the slice.
    Some,
}

/// The slices and the blocks to read for each.
#[derive(Debug)]
pub struct Plan {
    pub blocks: Vec<Block>,
    /// Slice `k` holds the event times from `bounds[k - 1]` (or the earliest) to before
    /// `bounds[k]` (or the latest).
    bounds: Vec<DateTime<Utc>>,
}

impl Plan {
    pub fn slices(&self) -> usize {
        self.bounds.len() + 1
    }

    /// Where slice `k` ends: every entry before it has been read once the slice is done.
    /// `None` for the last.
    pub fn end_of(&self, k: usize) -> Option<DateTime<Utc>> {
        self.bounds.get(k).copied()
    }

    /// The slice of an entry with event time `at` (one without goes with the first).
    pub fn slice_of(&self, at: Option<DateTime<Utc>>) -> usize {
        at.map_or(0, |t| self.bounds.partition_point(|&b| b <= t))
    }

    fn slice_of_ms(&self, ms: i64) -> usize {
        self.slice_of(DateTime::from_timestamp_millis(ms))
    }

    /// What slice `k` needs of `block`.
    pub fn need(&self, k: usize, block: &Block) -> Need {
        let (mut lo, hi) = match block.times {
            Some((first, last)) => (self.slice_of_ms(first), self.slice_of_ms(last)),
            None => (0, 0),
        };
        if block.untimed > 0 {
            lo = 0;
        }
        if k < lo || k > hi {
            Need::Nothing
        } else if lo == hi {
            Need::All
        } else {
            Need::Some
        }
    }

    /// Bytes the slices read in all.
    pub fn bytes_to_read(&self) -> u64 {
        (0..self.slices())
            .flat_map(|k| self.blocks.iter().map(move |b| (k, b)))
            .filter(|(k, b)| self.need(*k, b) != Need::Nothing)
            .map(|(_, b)| b.end - b.start)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const HOUR: i64 = 3_600_000;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::TimeDelta::hours(h)
    }

    fn span(i: u64, structure: u64) -> Span {
        Span {
            start: i * 100,
            end: i * 100 + 90,
            structure,
            deep: false,
        }
    }

    /// `hours` entries (one per hour, `order` of them), 100 bytes apart.
    fn survey(hours: &[i64]) -> Survey {
        let mut s = Survey::new(HOUR);
        for (i, &h) in hours.iter().enumerate() {
            s.entry(span(i as u64, 0), i as u64 + 1, Some(at(h)));
        }
        s
    }

    #[test]
    fn the_cut_depends_on_the_entries_not_their_order() {
        let hours: Vec<i64> = (0..100).collect();
        let mut reversed = hours.clone();
        reversed.reverse();
        let mut shuffled = hours.clone();
        shuffled.sort_by_key(|h| (h * 37) % 100);
        let a = survey(&hours).plan(900);
        assert_eq!(a.slices(), 10);
        assert_eq!(a.end_of(0), Some(at(10)));
        for other in [reversed, shuffled] {
            assert_eq!(survey(&other).plan(900).bounds, a.bounds);
        }
    }

    #[test]
    fn sorted_input_reads_each_block_once_shuffled_once_per_slice() {
        let hours: Vec<i64> = (0..20_000).map(|i| i / 100).collect();
        let sorted = survey(&hours).plan(200_000);
        let total: u64 = sorted.blocks.iter().map(|b| b.end - b.start).sum();
        assert_eq!(sorted.slices(), 9);
        // A block straddling a cut is read by both slices.
        assert!(sorted.bytes_to_read() < total + 9 * 4096 * 100);
        let mut shuffled = hours.clone();
        shuffled.sort_by_key(|h| (h * 7_919) % 200);
        let shuffled = survey(&shuffled).plan(200_000);
        assert_eq!(shuffled.bounds, sorted.bounds);
        let read = shuffled.bytes_to_read();
        assert!(5 * total < read && read <= 9 * total, "{read} of {total}");
    }

    #[test]
    fn slices_are_at_most_max_slices_and_cut_on_hops() {
        let hours: Vec<i64> = (0..1_000).collect();
        let p = survey(&hours).plan(1);
        assert_eq!(p.slices(), MAX_SLICES);
        for b in &p.bounds {
            assert_eq!(b.timestamp_millis() % HOUR, 0);
        }
        // One hop holds everything: one slice, however small the target.
        assert_eq!(survey(&[5; 50]).plan(1).slices(), 1);
    }

    #[test]
    fn each_entry_is_in_exactly_one_slice_and_blocks_say_where_to_look() {
        let hours: Vec<i64> = (0..500).map(|i| (i * 13) % 50).collect();
        let mut s = survey(&hours);
        s.interruption();
        s.entry(span(600, 0), 601, None);
        let p = s.plan(5_000);
        assert!(p.slices() > 1);
        let untimed = p.blocks.last().unwrap();
        assert_eq!(p.need(0, untimed), Need::All);
        assert_eq!(p.need(1, untimed), Need::Nothing);
        for (i, &h) in hours.iter().enumerate() {
            let k = p.slice_of(Some(at(h)));
            let block = p
                .blocks
                .iter()
                .find(|b| b.start <= i as u64 * 100 && (i as u64 * 100) < b.end)
                .unwrap();
            assert_ne!(p.need(k, block), Need::Nothing);
            for other in (0..p.slices()).filter(|&o| o != k) {
                if p.need(other, block) == Need::All {
                    panic!("entry {i} would be read by slices {k} and {other}");
                }
            }
        }
    }

    #[test]
    fn blocks_end_where_the_structure_changes_or_at_their_size() {
        let mut s = Survey::new(HOUR);
        for i in 0..5_000 {
            s.entry(span(i, i / 3_000), i + 1, Some(at(0)));
        }
        let sizes: Vec<u32> = s.blocks.iter().map(|b| b.entries).collect();
        assert_eq!(sizes, [3_000, 2_000]);
        let mut s = Survey::new(HOUR);
        for i in 0..5_000 {
            s.entry(span(i, 0), i + 1, Some(at(0)));
        }
        let sizes: Vec<u32> = s.blocks.iter().map(|b| b.entries).collect();
        assert_eq!(sizes, [4_096, 904]);
        assert!(s.sliceable());
        s.entry(
            Span {
                deep: true,
                ..span(6_000, 0)
            },
            1,
            None,
        );
        assert!(!s.sliceable());
    }
}
