//! Clusters → incidents: the problem clusters of a window that are tied by co-occurrence
//! repeated over time (or a shared trace) are one incident, headed by its root cause. Pure:
//! the same window, links and history give the same incidents, whatever order the entries
//! came in.
//!
//! The root is the earliest, most specific error of the group: an exception before a plain
//! error, a plain error before a *consequence* — the generic messages a platform or runtime
//! writes after the fact (a container exit, a worker that failed to boot, a request the
//! platform could not complete). A group whose consequences include the process exiting
//! again and again is a crash loop, and pages (P0).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::links::{Pair, Strength};
use crate::entry::Severity;
use crate::escalate::matching::is_match;
use crate::escalate::Priority;
use crate::fingerprint::ClusterId;
use crate::report::ClusterReport;

/// What a window's clusters say about links, and what makes a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConfig {
    /// Clusters at or above this priority take part (problems, not chatter).
    pub min_priority: Priority,
    /// Moments two clusters must share (this window and earlier ones together) to be one
    /// incident: one coincidence is not a link, nor are meetings chance explains among the
    /// window's pairs (see [`Strength::tied`]; unless the pair was tied before, or one of
    /// them is in nearly every slot, so the test cannot judge). A shared trace is always a
    /// link.
    pub min_moments: u32,
    /// Exits of the process in one window that make a group a crash loop.
    pub crash_loop_exits: u64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_priority: Priority::P3,
            min_moments: 2,
            crash_loop_exits: 2,
        }
    }
}

/// How much a message says about the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Specificity {
    /// An exception with its type (`ModuleNotFoundError: …`, `psycopg2.OperationalError`).
    Exception,
    /// A message of the program's own.
    Error,
    /// A platform's or runtime's account of what followed (an exit, a failed request).
    Consequence,
}

/// Messages that report a consequence, not a cause: what Cloud Run, gunicorn/uvicorn and the
/// like write after something else went wrong. Generic wording only.
static CONSEQUENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(container called exit|worker (failed to boot|exiting|timeout|\(pid:.*\) was sent)",
        r"|shutting down|application startup failed|startup failed|\bexiting\b|\bterminated\b",
        r"|request failed because|response was malformed|connection to the instance had an error",
        r"|instance (was|is being) (shut down|terminated|restarted)|continuing without",
        r"|back-off restarting failed container|(readiness|liveness|startup) probe failed",
        r"|^traceback \(most recent call last\):?$|→ 50[0234]( \([a-z0-9_]+\))?$)"
    ))
    .expect("a constant pattern")
});

/// The process went away: what repeats in a crash loop.
static EXIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(container called exit|worker failed to boot|application startup failed",
        r"|back-off restarting failed container)"
    ))
    .expect("a constant pattern")
});

/// An exception type in the message (`FooError:`, `pkg.BarException`, `panic:`).
static EXCEPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\b[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b|^panic: |\bCaused by: )")
        .expect("a constant pattern")
});

pub fn specificity(template: &str) -> Specificity {
    if is_match(&CONSEQUENCE, template.trim()) {
        Specificity::Consequence
    } else if is_match(&EXCEPTION, template) {
        Specificity::Exception
    } else {
        Specificity::Error
    }
}

/// One incident of a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grouped {
    /// The incident's id: kept while members join and leave (see [`Registry`]).
    pub id: ClusterId,
    /// Former incident ids folded into this one.
    pub aliases: Vec<ClusterId>,
    /// The root cause: the first member.
    pub root: ClusterId,
    /// Every member, root first, then by priority, time, id.
    pub members: Vec<ClusterId>,
    pub priority: Priority,
    /// Why it has its priority (the root's reason, or the crash loop).
    pub reason: String,
    pub crash_loop: bool,
}

/// Links between problem clusters of this window, strong enough given what earlier windows
/// saw; `history` holds the moments of earlier windows per pair.
fn strong_pairs(
    ids: &BTreeSet<ClusterId>,
    links: &BTreeMap<Pair, Strength>,
    history: &BTreeMap<Pair, u32>,
    config: &GroupConfig,
) -> Vec<Pair> {
    links
        .iter()
        .filter(|((a, b), _)| ids.contains(a) && ids.contains(b))
        .filter(|(p, s)| {
            let before = history.get(p).copied().unwrap_or(0);
            // A pair tied beyond chance in earlier windows stays tied (history holds only
            // such ties); one the test cannot judge goes by its moments.
            let judged = s.tied || s.undecidable() || before >= config.min_moments;
            s.traces > 0 || (s.moments + before >= config.min_moments && judged)
        })
        .map(|(p, _)| *p)
        .collect()
}

/// Connected components (of two or more) of `pairs`, each sorted.
fn components(pairs: &[Pair]) -> Vec<Vec<ClusterId>> {
    let mut parent: BTreeMap<ClusterId, ClusterId> = BTreeMap::new();
    fn find(parent: &mut BTreeMap<ClusterId, ClusterId>, x: ClusterId) -> ClusterId {
        let p = *parent.entry(x).or_insert(x);
        if p == x {
            return x;
        }
        let root = find(parent, p);
        parent.insert(x, root);
        root
    }
    for (a, b) in pairs {
        let (ra, rb) = (find(&mut parent, *a), find(&mut parent, *b));
        if ra != rb {
            parent.insert(ra.max(rb), ra.min(rb));
        }
    }
    let mut groups: BTreeMap<ClusterId, Vec<ClusterId>> = BTreeMap::new();
    let keys: Vec<ClusterId> = parent.keys().copied().collect();
    for k in keys {
        let r = find(&mut parent, k);
        groups.entry(r).or_default().push(k);
    }
    groups.into_values().filter(|g| g.len() > 1).collect()
}

/// The member sets of the window's incidents. Causes (exceptions and the program's own
/// errors) are tied by their strong links; a consequence (a container exit follows many
/// different problems) never ties two of them together: it joins the one group it is most
/// strongly linked with. Consequences linked to no cause stay together on their own.
fn incident_members(
    problems: &BTreeSet<ClusterId>,
    by_id: &BTreeMap<ClusterId, &ClusterReport>,
    links: &BTreeMap<Pair, Strength>,
    history: &BTreeMap<Pair, u32>,
    config: &GroupConfig,
) -> Vec<Vec<ClusterId>> {
    let is_consequence =
        |id: &ClusterId| specificity(&by_id[id].template) == Specificity::Consequence;
    let (consequences, causes): (BTreeSet<ClusterId>, BTreeSet<ClusterId>) =
        problems.iter().partition(|id| is_consequence(id));
    let strong = strong_pairs(problems, links, history, config);
    let cause_pairs: Vec<Pair> = strong
        .iter()
        .filter(|(a, b)| causes.contains(a) && causes.contains(b))
        .copied()
        .collect();
    let mut groups = components(&cause_pairs);
    // Causes tied to no other cause may still head a group of consequences.
    let grouped: BTreeSet<ClusterId> = groups.iter().flatten().copied().collect();
    for c in &causes {
        if !grouped.contains(c) && strong.iter().any(|(a, b)| a == c || b == c) {
            groups.push(vec![*c]);
        }
    }
    // A consequence joins every group one of whose causes it is tied to (the same exit
    // follows many problems); it never ties two groups into one, and a tie to another
    // consequence is not enough (that would spread through the exit to every problem).
    let mut unassigned: BTreeSet<ClusterId> = consequences.clone();
    for g in groups.iter_mut() {
        let causes_here: Vec<ClusterId> = g.clone();
        for c in &consequences {
            let tied = causes_here
                .iter()
                .any(|m| strong.contains(&(*m.min(c), *m.max(c))));
            if tied {
                g.push(*c);
                unassigned.remove(c);
            }
        }
    }
    let mut loose: Vec<Pair> = strong
        .iter()
        .filter(|(a, b)| unassigned.contains(a) && unassigned.contains(b))
        .copied()
        .collect();
    loose.sort_unstable();
    groups.extend(components(&loose));
    groups.retain(|g| g.len() > 1);
    groups
}

/// Root first: never a consequence when a cause is there, never a warning when an error is
/// there (a startup warning that precedes an outage is context, not its cause); then most
/// specific, earliest, most urgent, id.
fn rank(c: &ClusterReport) -> (bool, bool, Specificity, DateTime<Utc>, Priority, ClusterId) {
    let specific = specificity(&c.template);
    (
        specific == Specificity::Consequence,
        c.severity < Severity::Error,
        specific,
        c.first_seen,
        c.priority,
        c.id,
    )
}

/// The incidents of a window. `clusters` are the window's clusters with their priorities,
/// `links` its co-occurrences (by cluster id), `history` the moments each pair shared in
/// earlier windows.
pub fn group(
    clusters: &[ClusterReport],
    links: &BTreeMap<Pair, Strength>,
    history: &BTreeMap<Pair, u32>,
    config: &GroupConfig,
    registry: &mut super::Registry,
) -> Vec<Grouped> {
    let by_id: BTreeMap<ClusterId, &ClusterReport> = clusters.iter().map(|c| (c.id, c)).collect();
    let problems: BTreeSet<ClusterId> = clusters
        .iter()
        .filter(|c| c.priority <= config.min_priority)
        .map(|c| c.id)
        .collect();
    let mut out = Vec::new();
    for members in incident_members(&problems, &by_id, links, history, config) {
        let mut members: Vec<&ClusterReport> = members.iter().map(|id| by_id[id]).collect();
        members.sort_by_key(|c| rank(c));
        let root = members[0];
        let rest = {
            let mut r: Vec<&ClusterReport> = members[1..].to_vec();
            r.sort_by_key(|c| (c.priority, c.first_seen, c.id));
            r
        };
        let ordered: Vec<ClusterId> = std::iter::once(root.id)
            .chain(rest.iter().map(|c| c.id))
            .collect();
        // The exits that followed this group's errors: the moments an exit shared with them.
        let exits: u64 = members
            .iter()
            .filter(|e| is_match(&EXIT, &e.template))
            .map(|e| {
                members
                    .iter()
                    .filter(|m| m.id != e.id)
                    .map(|m| {
                        let s = links.get(&(m.id.min(e.id), m.id.max(e.id)));
                        u64::from(s.map_or(0, |s| s.moments))
                    })
                    .max()
                    .unwrap_or(0)
                    .min(e.count)
            })
            .max()
            .unwrap_or(0);
        let crash_loop = exits >= config.crash_loop_exits && members.len() > 1;
        let most_urgent = members
            .iter()
            .map(|c| c.priority)
            .min()
            .unwrap_or(root.priority);
        let (priority, reason) = if crash_loop {
            (
                Priority::P0,
                format!(
                    "crash loop: the process exited {exits} times in the window after this error"
                ),
            )
        } else {
            let top = members
                .iter()
                .min_by_key(|c| (c.priority, rank(c)))
                .unwrap_or(&root);
            (most_urgent, top.reason.clone())
        };
        let cause = |m: ClusterId| {
            by_id
                .get(&m)
                .is_some_and(|c| specificity(&c.template) != Specificity::Consequence)
        };
        let (id, aliases) = registry.identify(&ordered, cause);
        out.push(Grouped {
            id,
            aliases,
            root: root.id,
            members: ordered,
            priority,
            reason,
            crash_loop,
        });
    }
    out.sort_by_key(|g| (g.priority, g.id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Severity;

    fn cluster(
        id: u64,
        template: &str,
        priority: Priority,
        minute: u32,
        count: u64,
    ) -> ClusterReport {
        let at = format!("2025-09-15T19:{minute:02}:00Z").parse().unwrap();
        ClusterReport {
            id: ClusterId(id),
            aliases: Vec::new(),
            priority,
            reason: format!("reason of {id}"),
            rule: None,
            count,
            severity: Severity::Error,
            by_severity: Default::default(),
            service: "api".into(),
            template: template.into(),
            modules: Vec::new(),
            functions: Vec::new(),
            first_seen: at,
            last_seen: at,
            new: true,
            baseline: None,
            sample: None,
        }
    }

    fn link(a: u64, b: u64, moments: u32) -> (Pair, Strength) {
        let p = (ClusterId(a.min(b)), ClusterId(a.max(b)));
        let strength = Strength {
            moments,
            same: super::super::Tie {
                met: moments,
                ..Default::default()
            },
            tied: true,
            ..Strength::default()
        };
        (p, strength)
    }

    #[test]
    fn a_crash_loop_is_one_p0_incident_headed_by_the_exception() {
        let clusters = [
            cluster(1, "Container called exit(<*>).", Priority::P3, 0, 6),
            cluster(2, "[ERROR] Worker failed to boot.", Priority::P2, 0, 6),
            cluster(
                3,
                "ModuleNotFoundError: No module named 'app.services.monitoring'",
                Priority::P2,
                1,
                6,
            ),
            cluster(
                4,
                "CRITICAL: Enhanced middleware setup failed: <*>",
                Priority::P1,
                0,
                6,
            ),
            cluster(5, "Service started", Priority::P4, 0, 6),
            cluster(6, "Slow query took <*>", Priority::P3, 30, 1),
        ];
        let links: BTreeMap<Pair, Strength> = [
            link(1, 2, 6),
            link(1, 3, 6),
            link(2, 3, 6),
            link(3, 4, 6),
            link(1, 5, 6),
            link(6, 1, 1),
        ]
        .into_iter()
        .collect();
        let mut registry = super::super::Registry::default();
        let got = group(
            &clusters,
            &links,
            &BTreeMap::new(),
            &GroupConfig::default(),
            &mut registry,
        );
        assert_eq!(got.len(), 1, "{got:?}");
        let g = &got[0];
        assert_eq!(
            g.root,
            ClusterId(3),
            "the exception, though the exit came first"
        );
        assert_eq!(
            g.members.len(),
            4,
            "P4 chatter and a one-off coincidence stay out"
        );
        assert!(g.crash_loop);
        assert_eq!(g.priority, Priority::P0);
        let mut shuffled = clusters.clone();
        shuffled.reverse();
        let again = group(
            &shuffled,
            &links,
            &BTreeMap::new(),
            &GroupConfig::default(),
            &mut registry,
        );
        assert_eq!(again, got, "the same incident, the same id");
    }

    #[test]
    fn one_coincidence_is_not_a_link_but_history_makes_it_one() {
        let clusters = [
            cluster(1, "cache miss storm on <*>", Priority::P3, 0, 1),
            cluster(2, "payment declined for <*>", Priority::P2, 0, 1),
        ];
        let links: BTreeMap<Pair, Strength> = [link(1, 2, 1)].into_iter().collect();
        let config = GroupConfig::default();
        let mut r = super::super::Registry::default();
        assert!(group(&clusters, &links, &BTreeMap::new(), &config, &mut r).is_empty());
        let history: BTreeMap<Pair, u32> =
            [((ClusterId(1), ClusterId(2)), 1)].into_iter().collect();
        let got = group(&clusters, &links, &history, &config, &mut r);
        assert_eq!(got.len(), 1);
        assert!(!got[0].crash_loop);
        assert_eq!(
            (got[0].priority, got[0].reason.as_str()),
            (Priority::P2, "reason of 2")
        );
    }

    #[test]
    fn consequences_rank_after_errors_and_exceptions_first() {
        assert_eq!(
            specificity("Container called exit(<*>)."),
            Specificity::Consequence
        );
        assert_eq!(
            specificity("[ERROR] Worker failed to boot."),
            Specificity::Consequence
        );
        assert_eq!(
            specificity("The request failed because either the HTTP response was malformed or connection to the instance had an error."),
            Specificity::Consequence
        );
        assert_eq!(
            specificity("POST /api/orders → 503"),
            Specificity::Consequence
        );
        // A load balancer's 502 with how it ended is the backend's failure seen from outside.
        assert_eq!(
            specificity("POST /api/orders/<*>/pay → 502 (backend_connection_closed_before_data_sent_to_client)"),
            Specificity::Consequence
        );
        assert_eq!(
            specificity("ModuleNotFoundError: No module named 'x.y'"),
            Specificity::Exception
        );
        assert_eq!(
            specificity("Database initialization timeout after <*> in staging"),
            Specificity::Error
        );
        assert_eq!(
            specificity("Back-off restarting failed container app in pod <*>"),
            Specificity::Consequence
        );
        assert_eq!(
            specificity("Readiness probe failed: HTTP probe failed with statuscode: <*>"),
            Specificity::Consequence
        );
        assert!(EXIT.is_match("Back-off restarting failed container app in pod api-7d9"));
        assert!(Specificity::Exception < Specificity::Error);
    }

    #[test]
    fn a_shared_exit_never_merges_two_problems_into_one_incident() {
        let clusters = [
            cluster(1, "Container called exit(<*>).", Priority::P2, 0, 20),
            cluster(
                2,
                "ModuleNotFoundError: No module named 'x'",
                Priority::P1,
                1,
                10,
            ),
            cluster(
                3,
                "Middleware setup failed: No module named 'x'",
                Priority::P1,
                1,
                10,
            ),
            cluster(
                4,
                "psycopg2.OperationalError: connection to server on socket <*> failed",
                Priority::P0,
                30,
                8,
            ),
            cluster(
                5,
                "Database initialization timeout after <*>",
                Priority::P0,
                30,
                8,
            ),
        ];
        let links: BTreeMap<Pair, Strength> = [
            link(1, 2, 10),
            link(2, 3, 10),
            link(1, 4, 8),
            link(1, 5, 8),
            link(4, 5, 8),
        ]
        .into_iter()
        .collect();
        let mut r = super::super::Registry::default();
        let got = group(
            &clusters,
            &links,
            &BTreeMap::new(),
            &GroupConfig::default(),
            &mut r,
        );
        assert_eq!(got.len(), 2, "{got:#?}");
        let members: Vec<Vec<u64>> = got
            .iter()
            .map(|g| g.members.iter().map(|m| m.0).collect())
            .collect();
        assert!(members.contains(&vec![4, 5, 1]), "{members:?}");
        assert!(
            members.contains(&vec![2, 3, 1]),
            "the exit follows both: {members:?}"
        );
        assert!(
            got.iter().all(|g| g.crash_loop),
            "each exited again and again after its error"
        );
    }
}
