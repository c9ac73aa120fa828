//! The shared [`Fingerprinter`]: fine ids on the hot path, canonical clusters and aliases on
//! the rare path.
//!
//! Locking: `known` (a concurrent set) is all the hot path touches. A never-seen fine id takes
//! the `mining` mutex (families and their templates), then the `clusters` write lock to publish
//! new canonical ids; `resolve`/`aliases` only read `clusters`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};

use dashmap::DashSet;

use super::family::Family;
use super::state::{FamilyState, FingerprintState};
use super::{mask, stack, ClusterId, KeyParts, Resolved};
use crate::entry::SeverityClass;

/// Fingerprints messages; shared by all pipeline workers (`&self`, interior locking).
#[derive(Default)]
pub struct Fingerprinter {
    known: DashSet<u64>,
    mining: Mutex<Mining>,
    clusters: RwLock<Clusters>,
}

/// One family per set of key parts, with the owned key parts for export.
#[derive(Default)]
struct Mining {
    /// Key parts -> its family and the fine id of each member.
    families: HashMap<OwnedKey, (Family, Vec<ClusterId>)>,
    /// Key parts -> templates registered exactly (never mined).
    exact: HashMap<OwnedKey, Vec<String>>,
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

    fn parts(&self) -> KeyParts<'_> {
        KeyParts {
            service: &self.service,
            class: self.class,
            location: &self.location,
        }
    }
}

/// Where every id points now.
#[derive(Default)]
struct Clusters {
    /// Fine id -> its canonical id.
    canonical: HashMap<u64, u64>,
    /// Canonical id -> template.
    templates: HashMap<u64, String>,
    /// Former canonical id -> the canonical id it was folded into.
    redirect: HashMap<u64, u64>,
    /// Canonical id -> how many fine ids point at it.
    fine_count: HashMap<u64, usize>,
}

impl Clusters {
    fn current(&self, id: u64) -> u64 {
        let mut c = self.canonical.get(&id).copied().unwrap_or(id);
        // Redirect chains are acyclic (see `publish`); the bound only guards against bugs.
        for _ in 0..64 {
            match self.redirect.get(&c) {
                Some(next) if *next != c => c = *next,
                _ => break,
            }
        }
        c
    }
}

thread_local! {
    /// Reused per worker so masking allocates nothing in the steady state.
    static BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

impl Fingerprinter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The fine id of one message: a pure function of its key parts and masked text. A
    /// never-seen fine id is also handed to the miner.
    pub fn fingerprint(&self, key: &KeyParts<'_>, message: &str) -> ClusterId {
        BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            mask::mask_into(&stack::signature(message), &mut buf);
            let id = key.id_of(&buf);
            if !self.known.contains(&id.0) {
                self.register(key, id, &buf);
            }
            id
        })
    }

    /// The id of a message that is already a template (a request line, `GET /a/<*> → 404`):
    /// registered as it is, never masked or merged with others.
    pub fn fingerprint_exact(&self, key: &KeyParts<'_>, template: &str) -> ClusterId {
        let id = key.id_of(template);
        if !self.known.contains(&id.0) {
            self.register_exact(key, id, template);
        }
        id
    }

    /// The cluster a fine id, or any id that was ever canonical, belongs to now.
    pub fn resolve(&self, id: ClusterId) -> Option<Resolved> {
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        let c = clusters.current(id.0);
        let template = clusters.templates.get(&c)?.clone();
        Some(Resolved {
            id: ClusterId(c),
            template,
        })
    }

    /// How many fine ids belong to canonical cluster `id` now (0 for an unknown id).
    pub fn members(&self, id: ClusterId) -> usize {
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        clusters.fine_count.get(&id.0).copied().unwrap_or(0)
    }

    /// Every alias (fine ids and former canonical ids) that now resolves to canonical `id`.
    pub fn aliases(&self, id: ClusterId) -> Vec<ClusterId> {
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        let fine = clusters.canonical.keys();
        let former = clusters.redirect.keys();
        let mut out: Vec<ClusterId> = fine
            .chain(former)
            .filter(|a| **a != id.0 && clusters.current(**a) == id.0)
            .map(|a| ClusterId(*a))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The key parts (service, severity class, location) a fine id was registered under: what
    /// a cluster is, for deciding an alert's priority before its window closes. Rare path.
    pub fn key_of(&self, fine: ClusterId) -> Option<(String, SeverityClass, String)> {
        let mining = self.mining.lock().unwrap_or_else(PoisonError::into_inner);
        let in_family = mining
            .families
            .iter()
            .find(|(_, (_, ids))| ids.contains(&fine))
            .map(|(k, _)| k);
        let exact = || {
            mining
                .exact
                .iter()
                .find(|(k, templates)| templates.iter().any(|t| k.parts().id_of(t) == fine))
                .map(|(k, _)| k)
        };
        in_family
            .or_else(exact)
            .map(|k| (k.service.clone(), k.class, k.location.clone()))
    }

    /// The distinct masked templates with their key parts, plus the former canonical ids.
    pub fn export(&self) -> FingerprintState {
        let mining = self.mining.lock().unwrap_or_else(PoisonError::into_inner);
        let by_key = |a: &FamilyState, b: &FamilyState| {
            (&a.service, a.class, &a.location).cmp(&(&b.service, b.class, &b.location))
        };
        let mut families: Vec<FamilyState> = mining
            .families
            .iter()
            .map(|(key, (family, _))| key.state(family.templates().to_vec()))
            .collect();
        families.sort_by(by_key);
        let mut exact: Vec<FamilyState> = mining
            .exact
            .iter()
            .map(|(key, templates)| key.state(templates.clone()))
            .collect();
        exact.sort_by(by_key);
        let clusters = self.clusters.read().unwrap_or_else(PoisonError::into_inner);
        let mut redirects: Vec<(ClusterId, ClusterId)> = clusters
            .redirect
            .iter()
            .map(|(a, b)| (ClusterId(*a), ClusterId(*b)))
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
        let fp = Self::new();
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
            if clusters.current(to.0) != from.0 {
                clusters.redirect.entry(from.0).or_insert(to.0);
            }
        }
        drop(clusters);
        fp
    }

    /// Rare path: mine a new template and publish the canonical ids that changed.
    fn register(&self, key: &KeyParts<'_>, id: ClusterId, masked: &str) {
        let mut mining = self.mining.lock().unwrap_or_else(PoisonError::into_inner);
        if self.known.contains(&id.0) {
            return; // another worker registered it while we waited
        }
        let owned = OwnedKey::new(key);
        let (family, fine_ids) = mining.families.entry(owned.clone()).or_default();
        let (member, changed) = family.insert(masked.to_string());
        debug_assert_eq!(member as usize, fine_ids.len());
        fine_ids.push(id);
        let updates: Vec<(u64, String)> = changed
            .iter()
            .map(|m| (fine_ids[*m as usize].0, family.final_template(*m)))
            .collect();
        publish(&self.clusters, &owned.parts(), &updates);
        self.known.insert(id.0);
    }
}

impl Fingerprinter {
    /// Rare path for exact templates: the fine id is its own canonical id.
    fn register_exact(&self, key: &KeyParts<'_>, id: ClusterId, template: &str) {
        let mut mining = self.mining.lock().unwrap_or_else(PoisonError::into_inner);
        if self.known.contains(&id.0) {
            return;
        }
        let owned = OwnedKey::new(key);
        mining
            .exact
            .entry(owned.clone())
            .or_default()
            .push(template.to_owned());
        publish(
            &self.clusters,
            &owned.parts(),
            &[(id.0, template.to_owned())],
        );
        self.known.insert(id.0);
    }
}

/// Points each fine id at the canonical id of its new template; a canonical id that no fine id
/// points at any more redirects to where its members went.
fn publish(clusters: &RwLock<Clusters>, key: &KeyParts<'_>, updates: &[(u64, String)]) {
    let mut c = clusters.write().unwrap_or_else(PoisonError::into_inner);
    for (fine, template) in updates {
        let canon = key.id_of(template).0;
        c.templates.entry(canon).or_insert_with(|| template.clone());
        // A canonical id that comes back into use stops redirecting (no cycles).
        c.redirect.remove(&canon);
        let old = c.canonical.insert(*fine, canon);
        if old == Some(canon) {
            continue;
        }
        *c.fine_count.entry(canon).or_default() += 1;
        if let Some(old) = old {
            let left = c.fine_count.get_mut(&old).map(|n| {
                *n -= 1;
                *n
            });
            if left == Some(0) {
                c.fine_count.remove(&old);
                c.redirect.insert(old, canon);
            }
        }
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
