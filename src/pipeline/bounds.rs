//! The cardinality guard: however many loggers, services or message kinds the input holds,
//! the keys the fingerprinter mines under and the clusters the window store holds are bounded.
//! Nothing is dropped: entries past a bound are clustered under their service's
//! `<other loggers>` key, or counted in its `<unclustered>` cluster — reported like any
//! cluster, raised by a built-in rule, and said once in the log.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::Xxh3;

use crate::entry::SeverityClass;
use crate::fingerprint::{ClusterId, Fingerprinter, KeyParts};
use crate::telemetry::events as ev;
use crate::window::WindowStore;

/// The logger part of the key for entries of loggers past `fingerprint.max_keys`.
pub const OTHER_LOGGERS: &str = "<other loggers>";
/// The service part of the key for entries of services past twice that.
pub const OTHER_SERVICES: &str = "<other services>";
/// The template of the cluster that counts entries of message kinds past
/// `fingerprint.max_clusters`.
pub const UNCLUSTERED: &str =
    "<unclustered: more distinct message kinds than fingerprint.max_clusters>";

#[derive(Debug, Default)]
pub struct Bounds {
    /// Hashes of the keys seen (service, severity class, logger).
    keys: HashSet<u64>,
    max_keys: usize,
    max_clusters: usize,
    warned_keys: bool,
    warned_clusters: bool,
}

fn hash(service: &str, class: SeverityClass, location: &str) -> u64 {
    let mut h = Xxh3::new();
    for part in [service, class.as_str(), location] {
        h.update(part.as_bytes());
        h.update(&[0x1f]);
    }
    h.digest()
}

impl Bounds {
    pub fn new(max_keys: usize, max_clusters: usize) -> Bounds {
        Bounds {
            max_keys,
            max_clusters,
            ..Bounds::default()
        }
    }

    /// The (service, logger) to key an entry under: its own while there is room, else its
    /// service's `<other loggers>`, and past twice the bound `<other services>` as well.
    pub fn key<'a>(
        &mut self,
        service: &'a str,
        class: SeverityClass,
        location: &'a str,
    ) -> (&'a str, &'a str) {
        let h = hash(service, class, location);
        if self.keys.contains(&h) || self.admit(h, self.max_keys) {
            return (service, location);
        }
        self.warn_keys();
        let other = hash(service, class, OTHER_LOGGERS);
        if self.keys.contains(&other) || self.admit(other, self.max_keys * 2) {
            return (service, OTHER_LOGGERS);
        }
        let last = hash(OTHER_SERVICES, class, OTHER_LOGGERS);
        self.keys.insert(last);
        (OTHER_SERVICES, OTHER_LOGGERS)
    }

    fn admit(&mut self, h: u64, limit: usize) -> bool {
        self.keys.len() < limit && self.keys.insert(h)
    }

    fn warn_keys(&mut self) {
        if !std::mem::replace(&mut self.warned_keys, true) {
            ev::CardinalityLimit {
                key: "fingerprint.max_keys",
                limit: self.max_keys,
                into: OTHER_LOGGERS,
            }
            .emit();
        }
    }

    /// `fine` if the store holds it or has room for it at `at` (fewer clusters than the bound
    /// in that hop of time), else the service's unclustered cluster.
    pub fn cluster(
        &mut self,
        fine: ClusterId,
        at: DateTime<Utc>,
        store: &dyn WindowStore,
        fp: &Fingerprinter,
        service: &str,
        class: SeverityClass,
    ) -> ClusterId {
        if store.holds(fine) || store.clusters_at(at) < self.max_clusters {
            return fine;
        }
        if !std::mem::replace(&mut self.warned_clusters, true) {
            ev::CardinalityLimit {
                key: "fingerprint.max_clusters",
                limit: self.max_clusters,
                into: "<unclustered>",
            }
            .emit();
        }
        unclustered(fp, service, class)
    }

    /// The key hashes, for a checkpoint.
    pub fn snapshot(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.keys.iter().copied().collect();
        v.sort_unstable();
        v
    }

    pub fn restore(&mut self, keys: Vec<u64>) {
        self.keys = keys.into_iter().collect();
    }
}

/// The cluster counting `service`'s entries of `class` past `fingerprint.max_clusters`.
pub fn unclustered(fp: &Fingerprinter, service: &str, class: SeverityClass) -> ClusterId {
    let key = KeyParts {
        service,
        class,
        location: "<unclustered>",
    };
    fp.fingerprint_exact(&key, UNCLUSTERED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_past_the_bound_go_to_other_loggers_then_other_services() {
        let mut b = Bounds::new(16, 100);
        let class = SeverityClass::Error;
        let loggers: Vec<String> = (0..40).map(|i| format!("logger{i}")).collect();
        let keyed: Vec<(&str, &str)> = loggers.iter().map(|l| b.key("api", class, l)).collect();
        assert_eq!(keyed[0], ("api", "logger0"));
        assert_eq!(keyed[15], ("api", "logger15"));
        assert_eq!(keyed[16], ("api", OTHER_LOGGERS));
        assert_eq!(
            b.key("api", class, "logger3"),
            ("api", "logger3"),
            "known keys stay"
        );
        let services: Vec<String> = (0..40).map(|i| format!("svc{i}")).collect();
        let last = services
            .iter()
            .map(|s| b.key(s, class, "x"))
            .last()
            .unwrap();
        assert_eq!(last, (OTHER_SERVICES, OTHER_LOGGERS));
        assert!(b.keys.len() <= 2 * 16 + 1);
    }
}
