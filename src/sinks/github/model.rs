//! What we read from GitHub, deserialized leniently (real responses carry fields and nulls
//! that octocrab's models reject), and the hidden state each of our issues carries in its body:
//! the marker `<!-- log-gardener:cluster=<id> -->` and a JSON line with ids and counts.
//!
//! The issue body is the only state: a restart, a second machine or a replayed outbox re-reads
//! it, so nothing local has to survive for an issue to be found and kept current.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::escalate::Priority;
use crate::fingerprint::ClusterId;

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

    /// Our hidden state, if the body starts with our marker.
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

const CLUSTER_MARKER: &str = "<!-- log-gardener:cluster=";
const STATE_MARKER: &str = "<!-- log-gardener:state=";
const END: &str = " -->";

/// What an issue body remembers about its cluster, kept in hidden lines at the top of the body
/// (log text always comes later, so it cannot forge them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedState {
    /// The cluster the issue was opened for.
    #[serde(skip)]
    pub cluster: Option<ClusterId>,
    /// Every id that resolved to the cluster (merged templates).
    pub ids: BTreeSet<ClusterId>,
    /// The priority last written to the issue: a more urgent one is an escalation.
    pub priority: Priority,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Entries over all windows ever merged, including those no longer in `windows`.
    pub total: u64,
    /// Count per window, keyed by the window's end; the newest [`KEPT_WINDOWS`].
    pub windows: BTreeMap<DateTime<Utc>, u64>,
    /// The earlier issue of this cluster, closed too long ago to reopen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<u64>,
    /// Issues (not ours) found when the issue was opened that may be about the same thing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedIssue>,
}

impl TrackedState {
    /// The hidden lines that start the body.
    pub fn markers(&self, cluster: ClusterId) -> String {
        // `<` and `>` only occur inside JSON strings (related titles): escaping them keeps a
        // title from closing the HTML comment.
        let json = serde_json::to_string(self)
            .unwrap_or_default()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e");
        format!("{CLUSTER_MARKER}{cluster}{END}\n{STATE_MARKER}{json}{END}\n")
    }

    /// Reads the hidden lines at the top of `body`; `None` if it is not one of ours.
    pub fn parse(body: &str) -> Option<TrackedState> {
        let mut lines = body.lines().map(str::trim);
        let cluster = lines
            .next()?
            .strip_prefix(CLUSTER_MARKER)?
            .strip_suffix(END)?;
        let cluster = serde_json::from_value::<ClusterId>(cluster.into()).ok()?;
        let state = lines
            .next()
            .and_then(|l| l.strip_prefix(STATE_MARKER)?.strip_suffix(END))
            .and_then(|json| serde_json::from_str::<TrackedState>(json).ok());
        // An issue whose state line was edited away is still ours: start its counts afresh.
        let mut state = state.unwrap_or_else(|| TrackedState {
            cluster: None,
            ids: BTreeSet::new(),
            priority: Priority::P5,
            first_seen: DateTime::<Utc>::MIN_UTC,
            last_seen: DateTime::<Utc>::MIN_UTC,
            total: 0,
            windows: BTreeMap::new(),
            previous: None,
            related: Vec::new(),
        });
        state.ids.insert(cluster);
        state.cluster = Some(cluster);
        Some(state)
    }

    /// Adds one window's count; merging the same window twice changes nothing.
    pub fn merge_window(&mut self, end: DateTime<Utc>, count: u64) {
        if self.windows.insert(end, count).is_none() {
            self.total += count;
        }
        while self.windows.len() > KEPT_WINDOWS {
            self.windows.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> TrackedState {
        TrackedState {
            cluster: None,
            ids: [ClusterId(1), ClusterId(2)].into(),
            priority: Priority::P2,
            first_seen: "2025-09-15T19:00:00Z".parse().unwrap(),
            last_seen: "2025-09-15T19:30:00Z".parse().unwrap(),
            total: 5,
            windows: [("2025-09-15T20:00:00Z".parse().unwrap(), 5)].into(),
            previous: None,
            related: vec![RelatedIssue {
                number: 9,
                title: "x --> <b>".into(),
                state: IssueState::Open,
            }],
        }
    }

    #[test]
    fn markers_round_trip_and_only_count_at_the_top() {
        let s = state();
        let body = format!("{}\nrest", s.markers(ClusterId(1)));
        let back = TrackedState::parse(&body).unwrap();
        assert_eq!(back.cluster, Some(ClusterId(1)));
        assert_eq!(back.ids, s.ids);
        assert_eq!(back.windows, s.windows);
        assert_eq!(back.related, s.related);
        assert_eq!(
            body.matches("-->").count(),
            2,
            "a title closed the comment: {body}"
        );
        // A marker quoted from a log later in the body is not ours.
        assert!(TrackedState::parse(&format!("text\n{}", s.markers(ClusterId(3)))).is_none());
    }

    #[test]
    fn merging_a_window_twice_counts_it_once() {
        let mut s = state();
        let end = "2025-09-15T21:00:00Z".parse().unwrap();
        s.merge_window(end, 7);
        s.merge_window(end, 7);
        assert_eq!(s.total, 12);
        assert_eq!(s.windows.len(), 2);
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
