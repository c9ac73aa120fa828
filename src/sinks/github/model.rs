//! What we read from GitHub, deserialized leniently (real responses carry fields and nulls
//! that octocrab's models reject), and the hidden state each of our issues carries in its body:
//! the marker `<!-- log-gardener:problem=<id> aliases=<a>,<b> -->` and a JSON line with the
//! counts and priority per window.
//!
//! The issue body is the state of record: a restart, a second machine or a replayed outbox
//! re-reads it. The local index (`index.rs`) only spares us reading every issue each window.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::problem::ProblemId;
use crate::escalate::Priority;

/// Open or closed, as GitHub spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    #[default]
    Open,
    Closed,
}

/// A label as GitHub returns it; only the name matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Label {
    #[serde(default)]
    pub name: String,
}

/// An issue as listed or returned by GitHub. Every field but `number` may be missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RemoteIssue {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub state: IssueState,
    /// "completed", "not_planned", "reopened", "duplicate" or null.
    #[serde(default)]
    pub state_reason: Option<String>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_labels")]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub html_url: String,
    /// `https://api.github.com/repos/OWNER/NAME`: tells a transferred issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_url: Option<String>,
    /// The listing's cursor: issues are listed incrementally by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Present when the "issue" is a pull request (the issues API lists both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<serde_json::Value>,
}

impl RemoteIssue {
    pub fn has_label(&self, name: &str) -> bool {
        self.labels
            .iter()
            .any(|l| l.name.eq_ignore_ascii_case(name))
    }

    pub fn label_names(&self) -> Vec<String> {
        self.labels.iter().map(|l| l.name.clone()).collect()
    }

    /// Our hidden state, if the body carries our marker.
    pub fn tracked(&self) -> Option<TrackedState> {
        TrackedState::parse(self.body.as_deref()?)
    }
}

/// Labels are objects, but old APIs and some proxies send plain strings.
fn lenient_labels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Label>, D::Error> {
    let raw = Option::<Vec<serde_json::Value>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .filter_map(|v| match v {
            serde_json::Value::String(name) => Some(Label { name }),
            serde_json::Value::Object(mut o) => match o.remove("name") {
                Some(serde_json::Value::String(name)) => Some(Label { name }),
                _ => None,
            },
            _ => None,
        })
        .collect())
}

/// An issue that is not ours but may be about the same thing (from the search API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedIssue {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub state: IssueState,
}

/// Windows remembered in an issue body; older ones only count in `total`.
pub const KEPT_WINDOWS: usize = 48;

const PROBLEM_MARKER: &str = "<!-- log-gardener:problem=";
/// The marker of issues opened before problems had aliases in the marker; still read.
const CLUSTER_MARKER: &str = "<!-- log-gardener:cluster=";
const STATE_MARKER: &str = "<!-- log-gardener:state=";
const END: &str = " -->";

/// What an issue body remembers about its problem, kept in two hidden lines: the marker (the
/// id and every alias, so any of them finds the issue) and a JSON state line. They may be
/// anywhere in the body outside a code fence (a person may write above them); log text only
/// ever appears inside fences or after a table/list prefix, so it cannot forge them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedState {
    /// The problem the issue was opened for.
    #[serde(skip)]
    pub id: Option<ProblemId>,
    /// The id and every alias ever merged into the problem.
    pub ids: BTreeSet<ProblemId>,
    /// The priority written to the title and labels: that of the newest window.
    pub priority: Priority,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Entries over all windows ever merged, including those no longer in `windows`.
    pub total: u64,
    /// Count per window, keyed by the window's end; the newest [`KEPT_WINDOWS`].
    pub windows: BTreeMap<DateTime<Utc>, u64>,
    /// Priority per window (the trend), same keys as `windows`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub priorities: BTreeMap<DateTime<Utc>, Priority>,
    /// The version of each window's report merged (its revision number), where it is not the
    /// one written at the close: a stale version replayed later must not undo a newer one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub revisions: BTreeMap<DateTime<Utc>, u32>,
    /// The earlier issue of this problem, closed too long ago to reopen (or moved away).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<u64>,
    /// Issues (not ours) found when the issue was opened that may be about the same thing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedIssue>,
}

impl TrackedState {
    /// A state with no windows yet.
    pub fn empty(id: ProblemId, priority: Priority) -> TrackedState {
        TrackedState {
            ids: [id.clone()].into(),
            id: Some(id),
            priority,
            first_seen: DateTime::<Utc>::MIN_UTC,
            last_seen: DateTime::<Utc>::MIN_UTC,
            total: 0,
            windows: BTreeMap::new(),
            priorities: BTreeMap::new(),
            revisions: BTreeMap::new(),
            previous: None,
            related: Vec::new(),
        }
    }

    /// The two hidden lines.
    pub fn markers(&self, id: &ProblemId) -> String {
        // `<` and `>` only occur inside JSON strings (related titles): escaping them keeps a
        // title from closing the HTML comment.
        let json = serde_json::to_string(self)
            .unwrap_or_default()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e");
        let aliases: Vec<&str> = self
            .ids
            .iter()
            .filter(|a| *a != id && a.is_markable())
            .map(|a| a.0.as_str())
            .collect();
        let aliases = if aliases.is_empty() {
            String::new()
        } else {
            format!(" aliases={}", aliases.join(","))
        };
        format!("{PROBLEM_MARKER}{id}{aliases}{END}\n{STATE_MARKER}{json}{END}\n")
    }

    /// Reads the hidden lines of `body`; `None` if it is not one of ours.
    pub fn parse(body: &str) -> Option<TrackedState> {
        let (at, ids) = find_marker(body)?;
        let id = ids.first()?.clone();
        let state = unfenced_lines(&body[at..])
            .find_map(|(_, l)| l.strip_prefix(STATE_MARKER)?.strip_suffix(END))
            .and_then(|json| serde_json::from_str::<TrackedState>(json).ok());
        // An issue whose state line was edited away is still ours: start its counts afresh.
        let mut state = state.unwrap_or_else(|| TrackedState::empty(id.clone(), Priority::P5));
        state.ids.extend(ids);
        state.id = Some(id);
        Some(state)
    }

    /// Adds one window's count and priority, from version `revision` of its report (0: the
    /// one written at the window's close). Returns false, changing nothing, for a version
    /// already merged or older than one merged: re-planning an old window (written twice
    /// around a crash, or a stale version replayed after a revision) is idempotent. A newer
    /// version replaces the row, whether its count grew (late entries) or fell (a traceback's
    /// part uncounted, see [`TrackedState::all_retracted`]).
    pub fn merge_window(
        &mut self,
        end: DateTime<Utc>,
        count: u64,
        priority: Priority,
        revision: u32,
    ) -> bool {
        if self.windows.contains_key(&end) {
            return self.replace(end, count, Some(priority), revision);
        }
        if self.windows.len() >= KEPT_WINDOWS
            && self
                .windows
                .first_key_value()
                .is_some_and(|(k, _)| end < *k)
        {
            // Older than every window kept: count it, keep no row.
            self.total += count;
            return true;
        }
        self.windows.insert(end, count);
        self.priorities.insert(end, priority);
        if revision > 0 {
            self.revisions.insert(end, revision);
        }
        self.total += count;
        while self.windows.len() > KEPT_WINDOWS {
            if let Some((k, _)) = self.windows.pop_first() {
                self.priorities.remove(&k);
                self.revisions.remove(&k);
            }
        }
        // Only the newest window sets what the issue shows; filling a gap never does.
        if self.newest_window() == Some(end) {
            self.priority = priority;
        }
        true
    }

    /// A newer version of a window already merged that says only the count left (its
    /// cluster lost entries and no longer has a report of its own in it); the row keeps its
    /// priority. False, changing nothing, for a window not merged or a version not newer.
    pub fn correct_window(&mut self, end: DateTime<Utc>, count: u64, revision: u32) -> bool {
        self.windows.contains_key(&end) && self.replace(end, count, None, revision)
    }

    fn replace(
        &mut self,
        end: DateTime<Utc>,
        count: u64,
        priority: Option<Priority>,
        revision: u32,
    ) -> bool {
        let Some(old) = self.windows.get(&end).copied() else {
            return false;
        };
        let merged = self.revisions.get(&end).copied().unwrap_or(0);
        // The same version again keeps its row, unless it grew: bodies written before versions
        // were kept say 0 for every window, and their revisions only ever added entries.
        let newer = revision > merged || (revision == merged && count > old);
        let same = count == old && priority.is_none_or(|p| self.priorities.get(&end) == Some(&p));
        if !newer || same {
            return false;
        }
        self.windows.insert(end, count);
        self.total = (self.total + count).saturating_sub(old);
        if revision > 0 {
            self.revisions.insert(end, revision.max(merged));
        }
        if let Some(p) = priority {
            self.priorities.insert(end, p);
            if self.newest_window() == Some(end) {
                self.priority = p;
            }
        }
        true
    }

    /// Every entry counted for the problem was retracted: each was a part of a longer
    /// traceback, counted whole in another problem once the rest of it came.
    pub fn all_retracted(&self) -> bool {
        self.total == 0 && !self.windows.is_empty()
    }

    /// The priority of the newest window merged (what the issue shows).
    pub fn newest_priority(&self) -> Option<Priority> {
        self.priorities.last_key_value().map(|(_, p)| *p)
    }

    /// The newest window merged.
    pub fn newest_window(&self) -> Option<DateTime<Utc>> {
        self.windows.last_key_value().map(|(k, _)| *k)
    }
}

/// Whether `body` carries our marker outside a fence.
pub fn is_ours(body: &str) -> bool {
    find_marker(body).is_some()
}

/// The text a person wrote above our marker: kept when the body is rewritten.
pub fn preamble(body: &str) -> &str {
    match find_marker(body) {
        Some((at, _)) => &body[..at],
        None => "",
    }
}

/// Byte offset of the marker line and the ids it names (the problem's first).
fn find_marker(body: &str) -> Option<(usize, Vec<ProblemId>)> {
    unfenced_lines(body).find_map(|(at, line)| {
        let rest = line
            .strip_prefix(PROBLEM_MARKER)
            .or_else(|| line.strip_prefix(CLUSTER_MARKER))?
            .strip_suffix(END)?;
        let mut parts = rest.split(' ');
        let id = ProblemId(parts.next()?.to_owned());
        if !id.is_markable() {
            return None;
        }
        let mut ids = vec![id];
        for part in parts {
            if let Some(list) = part.strip_prefix("aliases=") {
                ids.extend(
                    list.split(',')
                        .map(|a| ProblemId(a.to_owned()))
                        .filter(ProblemId::is_markable),
                );
            }
        }
        Some((at, ids))
    })
}

/// The lines of `body` outside fenced code blocks (``` or ~~~ of any length), trimmed, with
/// the byte offset each starts at.
pub(super) fn unfenced_lines(body: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut fence: Option<(char, usize)> = None;
    let mut at = 0;
    body.split_inclusive('\n').filter_map(move |raw| {
        let start = at;
        at += raw.len();
        let line = raw.trim();
        let run = |c: char| line.chars().take_while(|&x| x == c).count();
        match fence {
            Some((c, n)) => {
                if run(c) >= n && line.chars().all(|x| x == c) {
                    fence = None;
                }
                None
            }
            None => {
                for c in ['`', '~'] {
                    if run(c) >= 3 {
                        fence = Some((c, run(c)));
                        return None;
                    }
                }
                Some((start, line))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ProblemId {
        ProblemId(s.into())
    }

    fn state() -> TrackedState {
        let mut s = TrackedState::empty(id("0000000000000001"), Priority::P2);
        s.ids.insert(id("0000000000000002"));
        s.related = vec![RelatedIssue {
            number: 9,
            title: "x --> <b>".into(),
            state: IssueState::Open,
        }];
        s.merge_window("2025-09-15T20:00:00Z".parse().unwrap(), 5, Priority::P2, 0);
        s
    }

    #[test]
    fn markers_round_trip_anywhere_outside_fences() {
        let s = state();
        let mine = s.markers(&id("0000000000000001"));
        assert!(mine.starts_with(
            "<!-- log-gardener:problem=0000000000000001 aliases=0000000000000002 -->\n"
        ));
        let body = format!("A note a person wrote.\n\n{mine}\nrest");
        let back = TrackedState::parse(&body).unwrap();
        assert_eq!(back.id, Some(id("0000000000000001")));
        assert_eq!(back.ids, s.ids);
        assert_eq!((back.windows, back.priorities), (s.windows, s.priorities));
        assert_eq!(back.related, s.related);
        assert_eq!(preamble(&body), "A note a person wrote.\n\n");
        assert_eq!(
            body.matches("-->").count(),
            2,
            "a title closed the comment: {body}"
        );
        // A marker quoted from a log inside a fence is not ours.
        let quoted = format!("text\n````text\n{}````\n", state().markers(&id("3")));
        assert!(TrackedState::parse(&quoted).is_none());
    }

    #[test]
    fn old_cluster_markers_are_still_read() {
        let body = "<!-- log-gardener:cluster=00000000000000ab -->\n<!-- log-gardener:state={\"ids\":[\"00000000000000ab\"],\"priority\":\"P1\",\"first_seen\":\"2025-09-15T19:00:00Z\",\"last_seen\":\"2025-09-15T19:30:00Z\",\"total\":5,\"windows\":{\"2025-09-15T20:00:00Z\":5}} -->\n## Summary";
        let s = TrackedState::parse(body).unwrap();
        assert_eq!(s.id, Some(id("00000000000000ab")));
        assert_eq!((s.total, s.priority), (5, Priority::P1));
    }

    #[test]
    fn merging_a_window_twice_counts_it_once_and_old_windows_keep_the_priority() {
        let mut s = state();
        let end = "2025-09-15T21:00:00Z".parse().unwrap();
        assert!(s.merge_window(end, 7, Priority::P1, 0));
        assert!(!s.merge_window(end, 7, Priority::P1, 0));
        assert_eq!(
            (s.total, s.windows.len(), s.priority),
            (12, 2, Priority::P1)
        );
        // A gap before the newest window: counted, the priority stays the newest's.
        assert!(s.merge_window("2025-09-15T19:00:00Z".parse().unwrap(), 1, Priority::P3, 0));
        assert_eq!((s.total, s.priority), (13, Priority::P1));
        // A revision of the newest window with late entries: its row and the total grow.
        assert!(s.merge_window(end, 9, Priority::P0, 0));
        assert_eq!(
            (s.total, s.windows[&end], s.priority),
            (15, 9, Priority::P0)
        );
    }

    #[test]
    fn a_newer_version_with_fewer_entries_replaces_the_row_and_a_stale_one_never_undoes_it() {
        let mut s = state();
        let end: DateTime<Utc> = "2025-09-15T20:00:00Z".parse().unwrap();
        // Revision 1: the 5 entries were a traceback's part, counted whole elsewhere.
        assert!(s.correct_window(end, 0, 1));
        assert_eq!((s.total, s.windows[&end]), (0, 0));
        assert!(s.all_retracted());
        // The same revision again, and the version written at the close replayed from the
        // outbox after it: nothing changes.
        assert!(!s.correct_window(end, 0, 1));
        assert!(!s.merge_window(end, 5, Priority::P2, 0));
        assert_eq!((s.total, s.windows[&end]), (0, 0));
        // The row and its version survive the body.
        let back = TrackedState::parse(&s.markers(&id("0000000000000001"))).unwrap();
        assert!(!back.clone().merge_window(end, 5, Priority::P2, 0));
        assert_eq!(back.revisions, s.revisions);
        // A later revision with entries of its own again counts them.
        assert!(s.merge_window(end, 2, Priority::P3, 2));
        assert_eq!((s.total, s.windows[&end], s.priority), (2, 2, Priority::P3));
        assert!(!s.all_retracted());
        // A window never merged is not corrected (no row to correct, no issue to open).
        assert!(!s.correct_window("2025-09-15T22:00:00Z".parse().unwrap(), 0, 1));
    }

    #[test]
    fn lenient_issue_reads_fixture_shapes() {
        let v = serde_json::json!({"number": 3, "labels": ["a", {"name": "b", "id": 1}],
            "state": "closed", "state_reason": null, "unknown": [1, 2]});
        let i: RemoteIssue = serde_json::from_value(v).unwrap();
        assert_eq!(i.label_names(), ["a", "b"]);
        assert_eq!(i.state, IssueState::Closed);
    }
}
