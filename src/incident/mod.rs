//! Incidents, not fragments: one real problem writes many clusters (the exception, the log
//! line around it, the container exit, the platform's failed requests). Clusters whose entries
//! co-occur on the same instance within a short gap, again and again, or share a trace, are
//! one incident, headed by its root cause.
//!
//! ```text
//!  counted entry ──► Linker::observe        (unit, slot) and trace sets       links.rs
//!  window closes ──► Linker::links_in(span) + earlier windows' history
//!                     ▼
//!                    group(clusters, links) components of strong links,       group.rs
//!                     │                      root = earliest, most specific
//!                     ▼
//!                    Registry::identify     an incident keeps its id while members come and go
//!                     ▼
//!                    join_crash_loops       a request that reached no instance joins its   revisions.rs
//!                                           revision's crash loop
//! ```

mod group;
mod links;
mod revisions;
mod summary;
mod tracker;

pub use group::{group, specificity, GroupConfig, Grouped, Specificity};
pub use links::{LinkConfig, Linker, LinkerSnapshot, Pair, Sighting, Strength, Tie};
pub use summary::{sparkline, summarize};
pub use tracker::{Tracker, TrackerSnapshot};

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::fingerprint::ClusterId;

/// Incident identities. A group of clusters takes the id of the incident its cause-bearing
/// members already belonged to (the smallest, if several: they merge, and the others become
/// aliases), or a new id from its root. Consequences (a container exit is the consequence of
/// many problems) never carry an identity over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// Cause-bearing member cluster → its incident.
    member_of: BTreeMap<ClusterId, ClusterId>,
    /// Incident → the incident ids folded into it.
    folded: BTreeMap<ClusterId, BTreeSet<ClusterId>>,
}

/// The id of a new incident whose root is `root`: a stable hash, distinct from cluster ids.
pub fn incident_id(root: ClusterId) -> ClusterId {
    let mut h = Xxh3::with_seed(0x696e_6369_6465_6e74); // "incident"
    h.update(&root.0.to_le_bytes());
    ClusterId(h.digest())
}

impl Registry {
    /// The id and aliases of the incident made of `members` (root first). `cause(m)` tells
    /// whether a member may carry an identity (not a generic consequence).
    pub fn identify(
        &mut self,
        members: &[ClusterId],
        cause: impl Fn(ClusterId) -> bool,
    ) -> (ClusterId, Vec<ClusterId>) {
        let causes: Vec<ClusterId> = members.iter().copied().filter(|m| cause(*m)).collect();
        let known: BTreeSet<ClusterId> = causes
            .iter()
            .filter_map(|m| self.member_of.get(m).copied())
            .collect();
        let root = causes.first().or(members.first()).copied();
        let id = match (known.first(), root) {
            (Some(k), _) => *k,
            (None, Some(r)) => incident_id(r),
            (None, None) => return (ClusterId(0), Vec::new()),
        };
        for other in known.iter().filter(|k| **k != id) {
            let moved = self.folded.remove(other).unwrap_or_default();
            let into = self.folded.entry(id).or_default();
            into.insert(*other);
            into.extend(moved);
            for owner in self.member_of.values_mut().filter(|o| **o == *other) {
                *owner = id;
            }
        }
        for m in causes {
            self.member_of.insert(m, id);
        }
        let aliases = self
            .folded
            .get(&id)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        (id, aliases)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_keeps_its_id_as_members_join_leave_and_merge() {
        let mut r = Registry::default();
        let c = |n| ClusterId(n);
        let all = |_| true;
        let (a, _) = r.identify(&[c(1), c(2)], all);
        assert_eq!(a, incident_id(c(1)));
        let (again, _) = r.identify(&[c(3), c(2)], all);
        assert_eq!(
            again, a,
            "a new root joining a known member keeps the incident"
        );
        let (b, _) = r.identify(&[c(7), c(8)], all);
        assert_ne!(b, a);
        let (merged, aliases) = r.identify(&[c(1), c(8)], all);
        assert_eq!(merged, a.min(b));
        assert_eq!(aliases, vec![a.max(b)]);
    }

    #[test]
    fn a_shared_consequence_does_not_tie_two_problems_together() {
        let mut r = Registry::default();
        let exit = ClusterId(99);
        let cause = |m: ClusterId| m != exit;
        let (first, _) = r.identify(&[ClusterId(1), exit], cause);
        let (second, _) = r.identify(&[ClusterId(2), exit], cause);
        assert_ne!(first, second);
    }
}
