//! The shared [`Fingerprinter`]: fine ids on the hot path, canonical clusters and aliases on
//! the rare path.
//!
//! Locking: `known` (a concurrent set) is all the hot path touches. A never-seen fine id takes
//! the `mining` mutex (families and their templates), then the `clusters` write lock to publish
//! what changed; `resolve`/`aliases` only read `clusters`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};

use dashmap::DashSet;

use super::clusters::{Clusters, Fine, NO_SLOT};
use super::config::MAX_TOKEN_BYTES;
use super::family::{Family, Placed};
use super::index::IdMap;
use super::mask::Numbers;
use super::state::{FamilyState, FingerprintState};
use super::{cap_tokens, ClusterId, FingerprintConfig, KeyParts, Resolved};
use crate::entry::SeverityClass;

/// Fingerprints messages; shared by all pipeline workers (`&self`, interior locking).
#[derive(Default)]
pub struct Fingerprinter {
    config: FingerprintConfig,
    known: DashSet<u64>,
    /// The fine id last given for a (key parts, message) hash: logs repeat whole messages, and
    /// a repeat found here skips masking. Only an id still `known` is taken from it; bounded,
    /// emptied when full.
    repeats: Mutex<IdMap<u64, u64>>,
    mining: Mutex<Mining>,
    clusters: RwLock<Clusters>,
}

/// One entry per set of key parts seen.
#[derive(Default)]
struct Mining {
    by_key: HashMap<OwnedKey, u32>,
    keys: Vec<KeyState>,
    /// Tokens of the templates stored over all keys (family members and exact templates).
    stored: usize,
}

/// What one set of key parts holds: small until it has a second template (see `family.rs`).
#[derive(Default)]
struct KeyState {
    family: Family,
    /// Member -> its slot in `Clusters`.
    slots: Vec<u32>,
    /// Templates registered exactly (never mined).
    exact: Vec<String>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct OwnedKey {
    service: String,
    class: SeverityClass,
    location: String,
}

impl OwnedKey {
    fn new(key: &KeyParts<'_>) -> OwnedKey {
        OwnedKey {
            service: key.service.to_string(),
            class: key.class,
            location: key.location.to_string(),
        }
    }

    fn state(&self, templates: Vec<String>) -> FamilyState {
        FamilyState {
            service: self.service.clone(),
            class: self.class,
            location: self.location.clone(),
            templates,
        }
    }
}

impl Mining {
    fn key_index(&mut self, key: &KeyParts<'_>) -> u32 {
        let probe = OwnedKey::new(key);
        if let Some(i) = self.by_key.get(&probe) {
            return *i;
        }
        let i = self.keys.len() as u32;
        self.keys.push(KeyState::default());
        self.by_key.insert(probe, i);
        i
    }
}

/// Messages remembered by [`Fingerprinter::fingerprint`] (16 bytes each, plus the map's own),
/// and the longest remembered: longer ones are rarely repeated whole.
pub(super) const REPEATS: usize = 1 << 16;
const REPEAT_BYTES: usize = 1024;

thread_local! {
    /// Reused per worker so masking allocates nothing in the steady state.
    static BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

impl Fingerprinter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fingerprinter with these bounds (`Fingerprinter::new` uses the defaults).
    pub fn with_config(config: FingerprintConfig) -> Self {
        Fingerprinter {
            config,
            ..Self::default()
        }
    }

    pub fn config(&self) -> &FingerprintConfig {
        &self.config
    }

    /// The fine id of one message: a pure function of its key parts and masked text (the first
    /// `max_tokens` tokens of it). A never-seen fine id is also handed to the miner.
    pub fn fingerprint(&self, key: &KeyParts<'_>, message: &str) -> ClusterId {
        let short = message.len() <= REPEAT_BYTES;
        let repeat = short.then(|| key.id_of(message).0);
        if let Some(r) = repeat {
            let given = self.repeats().get(&r).copied();
            if let Some(id) = given.filter(|id| self.known.contains(id)) {
                return ClusterId(id);
            }
        }
        let id = BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            super::masked_into(message, Numbers::KeepStatus, &self.config, &mut buf);
            let id = key.id_of(&buf);
            if !self.known.contains(&id.0) {
                self.register(key, id, &buf);
            }
            id
        });
        if let Some(r) = repeat {
            let mut repeats = self.repeats();
            if repeats.len() >= REPEATS {
                repeats.clear();
            }
            repeats.insert(r, id.0);
        }
        id
    }

    fn repeats(&self) -> std::sync::MutexGuard<'_, IdMap<u64, u64>> {
        self.repeats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The id of a message that is already a template (a request line, `GET /a/<*> → 404`):
    /// registered as it is, never masked or merged with others.
    pub fn fingerprint_exact(&self, key: &KeyParts<'_>, template: &str) -> ClusterId {
        // Bounded like a masked message: a request line can be as long as an entry.
        let template = if template.len() > MAX_TOKEN_BYTES {
            let mut capped = template.to_owned();
            cap_tokens(&mut capped, self.config.max_tokens);
            std::borrow::Cow::Owned(capped)
        } else {
            std::borrow::Cow::Borrowed(template)
        };
        let id = key.id_of(&template);
        if !self.known.contains(&id.0) {
            self.register_exact(key, id, &template);
        }
        id
    }

    /// The id [`Fingerprinter::resolve`] gives, `id` itself where it gives none, without
    /// copying the template (what counting an entry asks).
    pub fn cluster_of(&self, id: ClusterId) -> ClusterId {
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        let c = clusters.current(id.0);
        ClusterId(if clusters.template(c).is_some() {
            c
        } else {
            id.0
        })
    }

    /// The cluster a fine id, or any id that was ever canonical, belongs to now.
    pub fn resolve(&self, id: ClusterId) -> Option<Resolved> {
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        let c = clusters.current(id.0);
        let template = clusters.template(c)?.to_string();
        Some(Resolved {
            id: ClusterId(c),
            template,
        })
    }

    /// How many fine ids share fine id `fine`'s cluster now, itself included (0 for an
    /// unknown id): 1 means its cluster has no other member.
    pub fn members_with(&self, fine: ClusterId) -> usize {
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        clusters.members_with(fine.0)
    }

    /// Every alias (fine ids and former canonical ids) that now resolves to canonical `id`.
    pub fn aliases(&self, id: ClusterId) -> Vec<ClusterId> {
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        clusters.aliases(id.0).into_iter().map(ClusterId).collect()
    }

    /// The canonical id fine id `fine` belongs to now and every alias of it; cheap for the
    /// only member of a cluster.
    pub fn with_aliases(&self, fine: ClusterId) -> (ClusterId, Vec<ClusterId>) {
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        let (canonical, aliases) = clusters.with_aliases(fine.0);
        (
            ClusterId(canonical),
            aliases.into_iter().map(ClusterId).collect(),
        )
    }

    /// Fine ids registered past a bound (see [`forget_transient`](Self::forget_transient)).
    pub fn transient_len(&self) -> usize {
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        clusters.transient_len()
    }

    /// Forgets the fine ids registered past a bound (a template not stored: past
    /// `max_templates_per_key`, `max_template_tokens` or `max_candidates`) for which `keep` is
    /// false, and returns them. Such an id's answer comes from the stored templates, not from
    /// itself, so registering it again when its message comes back gives it again; what stays
    /// is bounded by what the caller keeps (the clusters its windows hold).
    pub fn forget_transient(&self, keep: impl Fn(ClusterId) -> bool) -> Vec<ClusterId> {
        let _mining = self.mining.lock().unwrap_or_else(PoisonError::into_inner);
        let mut clusters = self
            .clusters
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let gone = clusters.forget_transient(|id| keep(ClusterId(id)));
        for id in &gone {
            self.known.remove(id);
        }
        gone.into_iter().map(ClusterId).collect()
    }

    /// The key parts (service, severity class, location) a fine id was registered under: what
    /// a cluster is, for deciding an alert's priority before its window closes. Rare path.
    pub fn key_of(&self, fine: ClusterId) -> Option<(String, SeverityClass, String)> {
        let index = {
            let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
            clusters.fine(fine.0)?.key
        };
        let mining = self.mining.lock().unwrap_or_else(PoisonError::into_inner);
        let (k, _) = mining.by_key.iter().find(|(_, i)| **i == index)?;
        Some((k.service.clone(), k.class, k.location.clone()))
    }

    /// The distinct masked templates stored with their key parts, plus the former canonical
    /// ids.
    pub fn export(&self) -> FingerprintState {
        let mining = self.mining.lock().unwrap_or_else(PoisonError::into_inner);
        let by_key = |a: &FamilyState, b: &FamilyState| {
            (&a.service, a.class, &a.location).cmp(&(&b.service, b.class, &b.location))
        };
        let mut families = Vec::new();
        let mut exact = Vec::new();
        for (key, i) in &mining.by_key {
            let state = &mining.keys[*i as usize];
            if state.family.len() > 0 {
                families.push(key.state(state.family.templates().map(String::from).collect()));
            }
            if !state.exact.is_empty() {
                exact.push(key.state(state.exact.clone()));
            }
        }
        families.sort_by(by_key);
        exact.sort_by(by_key);
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        let mut redirects: Vec<(ClusterId, ClusterId)> = clusters
            .redirects()
            .map(|(a, b)| (ClusterId(a), ClusterId(b)))
            .collect();
        redirects.sort_unstable();
        FingerprintState {
            families,
            redirects,
            exact,
        }
    }

    /// Rebuilds a fingerprinter from [`Fingerprinter::export`]: the same templates give the
    /// same clusters and ids.
    pub fn from_state(state: FingerprintState) -> Self {
        Self::from_state_with_config(state, FingerprintConfig::default())
    }

    /// [`Fingerprinter::from_state`] with these bounds.
    pub fn from_state_with_config(state: FingerprintState, config: FingerprintConfig) -> Self {
        let fp = Self::with_config(config);
        for fam in &state.families {
            let key = KeyParts {
                service: &fam.service,
                class: fam.class,
                location: &fam.location,
            };
            for template in &fam.templates {
                let id = key.id_of(template);
                if !fp.known.contains(&id.0) {
                    fp.register(&key, id, template);
                }
            }
        }
        for fam in &state.exact {
            let key = KeyParts {
                service: &fam.service,
                class: fam.class,
                location: &fam.location,
            };
            for template in &fam.templates {
                fp.fingerprint_exact(&key, template);
            }
        }
        let mut clusters = fp.clusters.write().unwrap_or_else(PoisonError::into_inner);
        for (from, to) in state.redirects {
            clusters.restore_redirect(from.0, to.0);
        }
        drop(clusters);
        fp
    }

    /// Rare path: mine a new template and publish what changed.
    fn register(&self, key: &KeyParts<'_>, id: ClusterId, masked: &str) {
        let mut mining = self.mining.lock().unwrap_or_else(PoisonError::into_inner);
        if self.known.contains(&id.0) {
            return; // another worker registered it while we waited
        }
        let k = mining.key_index(key);
        let limits = self.config.limits_with(mining.stored);
        let state = &mut mining.keys[k as usize];
        let placed = state.family.insert(masked, &limits);
        let mut clusters = self
            .clusters
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match placed {
            Placed::Member {
                member,
                unions,
                roots,
            } => {
                let slot = clusters.new_slot();
                debug_assert_eq!(member as usize, state.slots.len());
                state.slots.push(slot);
                clusters.add_fine(id.0, Fine { key: k, slot }, masked);
                publish(&mut clusters, key, state, &unions, &roots);
                mining.stored += tokens(masked);
            }
            Placed::Joins(root) => {
                let slot = state.slots[root as usize];
                clusters.add_transient(id.0, Fine { key: k, slot }, masked);
            }
            Placed::Alone => {
                let slot = NO_SLOT;
                clusters.add_transient(id.0, Fine { key: k, slot }, masked);
            }
        }
        drop(clusters);
        self.known.insert(id.0);
    }

    /// Rare path for exact templates: the fine id is its own canonical id.
    fn register_exact(&self, key: &KeyParts<'_>, id: ClusterId, template: &str) {
        let mut mining = self.mining.lock().unwrap_or_else(PoisonError::into_inner);
        if self.known.contains(&id.0) {
            return;
        }
        let k = mining.key_index(key);
        let stored = mining.stored < self.config.max_template_tokens;
        if stored {
            mining.keys[k as usize].exact.push(template.to_owned());
            mining.stored += tokens(template);
        }
        let mut clusters = self
            .clusters
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let fine = Fine {
            key: k,
            slot: NO_SLOT,
        };
        if stored {
            clusters.add_fine(id.0, fine, template);
        } else {
            clusters.add_transient(id.0, fine, template);
        }
        drop(clusters);
        self.known.insert(id.0);
    }
}

/// What a stored template counts against `max_template_tokens`: its tokens (one space between
/// them) or its bytes / [`TOKEN_BYTES`], whichever is more (a template of a few 250-byte tokens
/// is not a few tokens' worth of memory), plus [`PER_TEMPLATE`] for what every template costs
/// whatever its length.
fn tokens(template: &str) -> usize {
    let spaces = memchr::memchr_iter(b' ', template.as_bytes()).count();
    (spaces + 1).max(template.len() / TOKEN_BYTES) + PER_TEMPLATE
}

/// Bytes of text a token of an ordinary template stands for (with its space, some 7).
const TOKEN_BYTES: usize = 16;

/// A template's own bookkeeping (its member, slot, ids and text), in tokens' worth of memory.
const PER_TEMPLATE: usize = 16;

/// Links the slots of joined components, then points each changed root at the canonical id of
/// its template; a canonical id no root shows any more redirects to where its members went.
fn publish(
    clusters: &mut Clusters,
    key: &KeyParts<'_>,
    state: &KeyState,
    unions: &[(u32, u32)],
    roots: &[u32],
) {
    let mut released = Vec::with_capacity(unions.len());
    for (gone, kept) in unions {
        let (g, k) = (state.slots[*gone as usize], state.slots[*kept as usize]);
        released.push((clusters.union(g, k), k));
    }
    for root in roots {
        let template = state.family.final_of_root(*root);
        let slot = state.slots[*root as usize];
        clusters.set_root(slot, key.id_of(template).0, template);
    }
    for (old, kept) in released {
        let to = clusters.slot_canonical(kept);
        clusters.release(old, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> KeyParts<'static> {
        KeyParts {
            service: "api",
            class: SeverityClass::Error,
            location: "",
        }
    }

    #[test]
    fn shared_by_workers() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Fingerprinter>();
    }

    #[test]
    fn concurrent_workers_agree_with_the_batch() {
        let lines: Vec<String> = (0..200)
            .map(|i| match i % 4 {
                0 => format!("session opened for user u{i} by (uid={i})"),
                1 => format!("Took {i}.5s to spawn instance {i:08x}-aaaa-bbbb-cccc-dddddddddddd"),
                2 => format!("lost node{} at {i}.{i}.1.2:80", i % 7),
                _ => format!("state {} reached", ["NEW", "RUNNING", "DONE"][i % 3]),
            })
            .collect();
        let fp = Fingerprinter::new();
        let key = KeyParts::DEFAULT;
        std::thread::scope(|s| {
            for t in 0..4 {
                let (fp, lines) = (&fp, &lines);
                s.spawn(move || {
                    for i in 0..lines.len() {
                        fp.fingerprint(&key, &lines[(i * (t + 1) * 7) % lines.len()]);
                    }
                });
            }
        });
        let batch = super::super::parse_lines(lines.iter().map(String::as_str));
        for (line, (id, template)) in lines.iter().zip(batch) {
            let got = fp.resolve(fp.fingerprint(&key, line));
            assert_eq!(got, Some(Resolved { id, template }), "{line}");
        }
    }

    #[test]
    fn generalizing_keeps_old_ids_resolvable() {
        let fp = Fingerprinter::new();
        let a = fp.fingerprint(&key(), "session closed for user cyrus7");
        let first = fp.resolve(a).map(|r| r.id);
        assert_eq!(
            fp.resolve(a).map(|r| r.template).as_deref(),
            Some("session closed for user cyrus7")
        );
        let b = fp.fingerprint(&key(), "session closed for user news3");
        let merged = fp.resolve(b).map(|r| r.id);
        assert_eq!(fp.resolve(a).map(|r| r.id), merged);
        let old = first.unwrap_or(ClusterId(0));
        assert_eq!(fp.resolve(old).map(|r| r.id), merged);
        let aliases = fp.aliases(merged.unwrap_or(ClusterId(0)));
        assert!(aliases.contains(&a) && aliases.contains(&b) && aliases.contains(&old));
    }

    #[test]
    fn with_aliases_and_cluster_of_answer_what_the_full_scan_does() {
        // Variants that join, generalise and fold canonical ids into others, exact templates,
        // and singletons; after each, every fine id seen so far is asked again (a merge can
        // give an old singleton company).
        let fp = Fingerprinter::new();
        let words = [
            "cyrus7", "news3", "alpha", "db-1", "db-2", "worker", "queue",
        ];
        let mut seen = Vec::new();
        for i in 0..300usize {
            let (a, b) = (words[i % 7], words[(i / 7) % 7]);
            let fine = match i % 5 {
                0 => fp.fingerprint(&key(), &format!("session closed for user {a}")),
                1 => fp.fingerprint(&key(), &format!("session {b} closed for user {a}")),
                2 => fp.fingerprint_exact(&key(), &format!("GET /{a}/{b} → 404")),
                3 => fp.fingerprint(&key(), &format!("{a} {b} {i} unique words here {i}")),
                _ => fp.fingerprint(&key(), &format!("lost {a} connection to {b} after retry")),
            };
            seen.push(fine);
            for &f in &seen {
                let canonical = fp.resolve(f).map_or(f, |r| r.id);
                assert_eq!(fp.cluster_of(f), canonical, "cluster_of as resolve: {f:?}");
                let (id, mut aliases) = fp.with_aliases(f);
                aliases.sort_unstable();
                assert_eq!(
                    (id, aliases),
                    (canonical, fp.aliases(canonical)),
                    "fine id {f:?} after message {i}"
                );
            }
        }
        let back = Fingerprinter::from_state(fp.export());
        for &f in &seen {
            let (id, mut aliases) = back.with_aliases(f);
            aliases.sort_unstable();
            assert_eq!((id, aliases), (id, back.aliases(id)), "restored: {f:?}");
        }
    }

    #[test]
    fn past_the_template_budget_ids_are_forgotten_and_come_back_the_same() {
        let config = FingerprintConfig {
            max_template_tokens: 800,
            ..FingerprintConfig::default()
        };
        let messages: Vec<(String, String)> = (0..343)
            .flat_map(|i| {
                let logger = format!("mod{}", i % 30);
                // Plain words: every message is a template of its own. A value where others
                // have another: past the budget it reads as the stored cluster.
                let w = ["alpha", "bravo", "charlie", "delta", "echo", "golf", "kilo"];
                let own = format!("{} {} {} failed", w[i % 7], w[(i / 7) % 7], w[i / 49]);
                let value = format!("job w{i} stopped");
                [(logger.clone(), own), (logger, value)]
            })
            .collect();
        // Every message's id, then (once all are registered) what each resolves to and how
        // many fine ids its cluster has.
        let answers = |fp: &Fingerprinter| -> Vec<(ClusterId, Option<Resolved>, usize)> {
            let key = |logger| KeyParts {
                service: "api",
                class: SeverityClass::Error,
                location: logger,
            };
            let ids: Vec<ClusterId> = messages
                .iter()
                .map(|(logger, msg)| fp.fingerprint(&key(logger), msg))
                .collect();
            ids.into_iter()
                .map(|id| (id, fp.resolve(id), fp.members_with(id)))
                .collect()
        };
        let fp = Fingerprinter::with_config(config);
        let first = answers(&fp);
        assert!(
            first.iter().any(|(.., n)| *n > 1),
            "some messages share a cluster"
        );
        let exported = fp.export();
        let tokens: usize = exported
            .families
            .iter()
            .flat_map(|f| &f.templates)
            .map(|t| super::tokens(t))
            .sum();
        assert!(
            (800..830).contains(&tokens),
            "the budget holds over all keys: {tokens}"
        );
        assert!(fp.transient_len() >= 600, "{}", fp.transient_len());
        let keep: Vec<ClusterId> = first.iter().step_by(7).map(|(id, ..)| *id).collect();
        let gone = fp.forget_transient(|id| keep.contains(&id));
        assert!(!gone.is_empty() && gone.iter().all(|id| !keep.contains(id)));
        assert!(gone.iter().all(|id| fp.resolve(*id).is_none()), "forgotten");
        assert_eq!(fp.export(), exported, "stored state is untouched");
        // Registered again, every message gets what it got before, and what a fingerprinter
        // that never forgot gives.
        assert_eq!(answers(&fp), first);
        let fresh = Fingerprinter::with_config(config);
        assert_eq!(answers(&fresh), first);
    }

    #[test]
    fn exact_templates_are_never_masked_or_merged_and_survive_export() {
        let fp = Fingerprinter::new();
        let a = fp.fingerprint_exact(&key(), "POST /ws/beacon → 405");
        let b = fp.fingerprint_exact(&key(), "POST /ws/other → 405");
        let c = fp.fingerprint_exact(&key(), "POST /ws/third → 405");
        assert_eq!(
            fp.resolve(a).map(|r| r.template).as_deref(),
            Some("POST /ws/beacon → 405")
        );
        assert_eq!(fp.resolve(a).map(|r| r.id), Some(a), "its own canonical id");
        assert!(a != b && b != c);
        let back = Fingerprinter::from_state(fp.export());
        assert_eq!(back.resolve(c), fp.resolve(c));
        assert_eq!(back.export(), fp.export());
    }

    #[test]
    fn key_of_names_the_key_a_fine_id_was_registered_under() {
        let fp = Fingerprinter::new();
        let a = fp.fingerprint(&key(), "took 25.0s for demo-user-001");
        let b = fp.fingerprint_exact(&key(), "GET /a → 404");
        let want = Some(("api".to_owned(), SeverityClass::Error, String::new()));
        assert_eq!(fp.key_of(a), want);
        assert_eq!(fp.key_of(b), want);
        assert_eq!(fp.key_of(ClusterId(7)), None);
    }

    #[test]
    fn export_round_trip_gives_same_ids() {
        let fp = Fingerprinter::new();
        let a = fp.fingerprint(&key(), "took 25.0s for demo-user-001");
        fp.fingerprint(&key(), "session closed for user cyrus7");
        fp.fingerprint(&key(), "session closed for user news3");
        let json = serde_json::to_string(&fp.export()).unwrap_or_default();
        let state: FingerprintState = serde_json::from_str(&json).unwrap_or_default();
        let back = Fingerprinter::from_state(state);
        assert_eq!(back.resolve(a), fp.resolve(a));
        assert_eq!(back.fingerprint(&key(), "took 3s for demo-user-002"), a);
    }
}
