//! Where a new template's possible partners are found without a pass over its family: a few
//! hash lookups, Drain-style (token count → position tokens), but exact.
//!
//! [`miner::compatible`] templates have the same token count, and wherever both carry a
//! [`miner::is_rigid`] token it is the same one. So the templates of one count are indexed by
//! each rigid token they carry at positions 0..=[`INDEXED`], and by position where they carry a
//! non-rigid one. A new template with a rigid token `w` at position `p` can only be compatible
//! with templates holding `w` or a non-rigid token at `p`: the smallest such list over its rigid
//! positions is the candidate list, a superset of its partners, and every candidate is checked
//! in full. The lists only ever grow, so a template whose list is too long stays too long.
//!
//! Slots (templates identical but for one token) are found by hashing the template with that
//! token blanked: one lookup per position, checked against the slot's first member.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::miner::is_rigid;

/// Positions whose tokens are indexed (from 0): enough to single out a template's
/// partners; further positions would cost memory per template and add little selectivity.
pub const INDEXED: usize = 24;

/// Keys that are already hashes, used as they are.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = (n as u64) ^ ((n >> 64) as u64);
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = mix(u64::from(n), 0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by hashes (or small integers, mixed): no hashing cost, no per-map random state.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Mixes two words into one hash (the xxh3/murmur finalizer over their combination).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut x = a ^ b.rotate_left(29) ^ 0x2545_f491_4f6c_dd1d;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// One template's tokens with the hashes the index needs.
pub struct Shape<'a> {
    pub tokens: Vec<&'a str>,
    hashes: Vec<u64>,
    /// Hash of the whole token sequence (xor of the per-position hashes, and the count).
    whole: u64,
    bucket: u64,
}

impl<'a> Shape<'a> {
    pub fn new(template: &'a str) -> Self {
        let tokens: Vec<&str> = template.split(' ').collect();
        let hashes: Vec<u64> = tokens
            .iter()
            .enumerate()
            .map(|(p, t)| xxh3_64_with_seed(t.as_bytes(), p as u64))
            .collect();
        let whole = hashes
            .iter()
            .fold(mix(tokens.len() as u64, 1), |acc, h| acc ^ h);
        let bucket = mix(tokens.len() as u64, 0x4255_434b);
        Shape {
            tokens,
            hashes,
            whole,
            bucket,
        }
    }

    fn indexed(&self) -> impl Iterator<Item = usize> {
        0..self.tokens.len().min(INDEXED + 1)
    }

    fn rigid_key(&self, p: usize) -> u64 {
        mix(self.bucket, self.hashes[p])
    }

    fn loose_key(&self, p: usize) -> u64 {
        mix(self.bucket, 0x4c4f_4f53_4500 + p as u64)
    }

    fn all_key(&self) -> u64 {
        mix(self.bucket, 0x414c_4c00)
    }

    /// Slot keys: the template with one token blanked, for every indexed position and for
    /// every plain word after the first token; the flag says whether the token is a plain word.
    pub fn slots(&self) -> impl Iterator<Item = (usize, u64, bool)> + '_ {
        self.tokens
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, w)| (i, is_slot_word(w)))
            .filter(|(i, word)| *word || *i <= INDEXED)
            .map(|(i, word)| {
                let key = self.whole ^ self.hashes[i] ^ mix(i as u64, 0x534c_4f54);
                (i, key, word)
            })
    }
}

/// A plain lower-case word of 3+ letters: a position where different words may be values (user
/// names) once enough of them are seen (`family.rs`).
fn is_slot_word(w: &str) -> bool {
    w.len() >= 3 && w.bytes().all(|c| c.is_ascii_lowercase())
}

/// Candidate lists and word slots of one family.
#[derive(Debug, Default)]
pub struct Index {
    /// List key -> (first entry + 1, length) in `entries`.
    heads: IdMap<u64, (u32, u32)>,
    /// (member, next entry + 1): singly linked lists, one allocation for the whole family.
    entries: Vec<(u32, u32)>,
    slots: IdMap<u64, Slot>,
}

/// Members identical but for the token at one position: the first member, and the first two
/// whose token there is a plain word with how many such there are.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub any: u32,
    pub words: [u32; 2],
    pub word_count: u32,
}

/// What looking a template up found.
pub enum Candidates {
    /// Members that may be compatible (a superset of those that are).
    Some(Vec<u32>),
    /// More than the limit: the template is not mined.
    TooMany,
}

impl Index {
    /// Members that may be compatible with `shape`, at most `limit` of them.
    pub fn candidates(&self, shape: &Shape<'_>, limit: usize) -> Candidates {
        let len = |key: u64| self.heads.get(&key).map_or(0, |h| h.1 as usize);
        let mut best: Option<(usize, [u64; 2])> = None;
        for p in shape.indexed() {
            if !is_rigid(shape.tokens[p]) {
                continue;
            }
            let keys = [shape.rigid_key(p), shape.loose_key(p)];
            let cost = len(keys[0]) + len(keys[1]);
            if best.is_none_or(|(c, _)| cost < c) {
                best = Some((cost, keys));
            }
        }
        let (cost, keys) = best.unwrap_or_else(|| {
            let all = shape.all_key();
            (len(all), [all, 0])
        });
        if cost > limit {
            return Candidates::TooMany;
        }
        let mut out = Vec::with_capacity(cost);
        for key in keys {
            self.walk(key, |m| out.push(m));
        }
        Candidates::Some(out)
    }

    fn walk(&self, key: u64, mut f: impl FnMut(u32)) {
        let mut at = self.heads.get(&key).map_or(0, |h| h.0);
        while at != 0 {
            let (member, next) = self.entries[at as usize - 1];
            f(member);
            at = next;
        }
    }

    /// Indexes a stored member.
    pub fn add(&mut self, member: u32, shape: &Shape<'_>) {
        for p in shape.indexed() {
            let key = if is_rigid(shape.tokens[p]) {
                shape.rigid_key(p)
            } else {
                shape.loose_key(p)
            };
            self.push(key, member);
        }
        self.push(shape.all_key(), member);
    }

    fn push(&mut self, key: u64, member: u32) {
        let head = self.heads.entry(key).or_insert((0, 0));
        self.entries.push((member, head.0));
        *head = (self.entries.len() as u32, head.1 + 1);
    }

    /// The slot under `key`, if any member is in it.
    pub fn slot(&self, key: u64) -> Option<Slot> {
        self.slots.get(&key).copied()
    }

    /// Records `member` in the slot under `key` (`word`: its token there is a plain word).
    pub fn join_slot(&mut self, key: u64, member: u32, word: bool) {
        let slot = self.slots.entry(key).or_insert(Slot {
            any: member,
            words: [member, member],
            word_count: 0,
        });
        if word {
            if slot.word_count < 2 {
                slot.words[slot.word_count as usize] = member;
            }
            slot.word_count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(templates: &[&str]) -> Index {
        let mut ix = Index::default();
        for (m, t) in templates.iter().enumerate() {
            ix.add(m as u32, &Shape::new(t));
        }
        ix
    }

    fn found(ix: &Index, t: &str) -> Vec<u32> {
        match ix.candidates(&Shape::new(t), 100) {
            Candidates::Some(mut v) => {
                v.sort_unstable();
                v
            }
            Candidates::TooMany => panic!("too many for {t}"),
        }
    }

    #[test]
    fn candidates_share_count_and_rigid_tokens() {
        let ix = index(&[
            "session closed for user cyrus", // 0
            "session closed for user <*>",   // 1
            "session opened for user news",  // 2
            "session closed for <*> news",   // 3
            "session closed for user",       // 4: other count
            "<*> closed for user news",      // 5
            "<*>:<*> closed for user news",  // 6
            "klogd closed for user news",    // 7
        ]);
        // `opened` at 1 excludes 0, 1, 3, 5, 6 and 7 (rigid there).
        assert_eq!(found(&ix, "session opened for user bob"), vec![2]);
        // `session` at 0 (4 hold it, 2 a variable), `closed` at 1 and `news` at 4 tie at 6:
        // the first wins, and 3, 5, 6 are then ruled out in full.
        assert_eq!(
            found(&ix, "session closed for user news"),
            vec![0, 1, 2, 3, 5, 6]
        );
        assert_eq!(found(&ix, "<*> <*> for user news"), vec![1, 2, 3, 5, 6, 7]);
        // `bob` at 4: only a template with a variable there.
        assert_eq!(found(&ix, "<*> closed for user bob"), vec![1]);
        // No rigid token: every template of that count.
        assert_eq!(found(&ix, "<*> <*> <*> <*> <*>"), vec![0, 1, 2, 3, 5, 6, 7]);
    }

    #[test]
    fn a_list_over_the_limit_is_too_many() {
        let many: Vec<String> = (0..10).map(|i| format!("user u{i} <*>")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let ix = index(&refs);
        assert!(matches!(
            ix.candidates(&Shape::new("user <*> x9"), 9),
            Candidates::TooMany
        ));
        assert!(matches!(
            ix.candidates(&Shape::new("user <*> x9"), 10),
            Candidates::Some(v) if v.len() == 10
        ));
    }

    #[test]
    fn slot_keys_match_templates_that_differ_in_one_token() {
        let keys = |t: &str| Shape::new(t).slots().collect::<Vec<_>>();
        let (a, b) = (
            keys("opened for user cyrus now"),
            keys("opened for user news now"),
        );
        assert_eq!(a.len(), 4); // every position after the first
        assert_eq!(a[2], b[2]);
        assert!(a[2].2 && !keys("opened for user c3 now")[2].2);
        assert_eq!(keys("opened for user c3 now")[2].1, a[2].1);
        assert_ne!(a[0], b[0]);
        assert_ne!(keys("opened for user cyrus then")[2], a[2]);
    }
}
