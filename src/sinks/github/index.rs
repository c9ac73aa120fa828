//! Our issues, known locally: `github-index.json` in the state directory holds every issue that
//! carries our marker (by number), the listing cursor (`since`: the latest `updated_at` seen)
//! with the ETag of the last listing, and the times of recent writes (the rate budget). Each
//! window lists only the repository's issues updated since the cursor, conditionally (an
//! unchanged repository answers 304, which GitHub does not count against the rate limit), so
//! the cost of a window does not grow with the issues ever closed.
//!
//! Identity is the marker, not the label: every issue of the repository is listed, so one
//! whose label a person removed is still found (and the label put back). An issue we know that
//! comes back without the marker (a person rewrote the body) keeps its last known body here,
//! and the next update writes the marker again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::atomic_file::{Blob, FileBlob};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{is_ours, RemoteIssue};
use super::problem::ProblemId;

/// The index's file name in the state (or worklog) directory.
pub const INDEX_FILE: &str = "github-index.json";
const SCHEMA: &str = "log-gardener/github-index/v1";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Stored {
    schema: String,
    /// `owner/name`: an index of another repository is not used.
    repo: String,
    since: Option<DateTime<Utc>>,
    /// The `since` the ETag was answered for, and the ETag.
    etag: Option<(Option<DateTime<Utc>>, String)>,
    issues: BTreeMap<u64, RemoteIssue>,
    /// Writes of the last hour, oldest first (the budget survives a restart).
    #[serde(default)]
    writes: Vec<DateTime<Utc>>,
}

/// The local index, loaded from its file (or in memory only, for a dry run).
#[derive(Debug, Clone, Default)]
pub struct Index {
    place: Option<Arc<dyn Blob>>,
    stored: Stored,
    by_id: BTreeMap<ProblemId, u64>,
}

impl Index {
    /// Reads `path` (an unreadable file, or one of another repository, is logged and the index
    /// starts empty: the next listing reads every issue once).
    pub fn load(path: Option<PathBuf>, repo: &str) -> Index {
        Index::load_from(path.map(|p| Arc::new(FileBlob(p)) as Arc<dyn Blob>), repo)
    }

    /// [`Index::load`] from wherever the state lives.
    pub fn load_from(place: Option<Arc<dyn Blob>>, repo: &str) -> Index {
        let fresh = Stored {
            schema: SCHEMA.into(),
            repo: repo.into(),
            ..Stored::default()
        };
        let stored = place
            .as_deref()
            .and_then(|p| read(p, repo))
            .unwrap_or(fresh);
        let mut index = Index {
            place,
            stored,
            by_id: BTreeMap::new(),
        };
        index.reindex();
        index
    }

    /// Writes the index atomically (nothing for an in-memory one).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(place) = &self.place else {
            return Ok(());
        };
        let json = serde_json::to_vec(&self.stored).unwrap_or_default();
        place.write(Some(&json))
    }

    /// Where the next listing starts, and the ETag to send with it (if it was answered for
    /// the same `since`).
    pub fn cursor(&self) -> (Option<DateTime<Utc>>, Option<&str>) {
        let since = self.stored.since;
        let etag = match &self.stored.etag {
            Some((s, tag)) if *s == since => Some(tag.as_str()),
            _ => None,
        };
        (since, etag)
    }

    /// Takes in a listing made from `since` (the cursor it was asked with): our issues are
    /// recorded, the cursor moves to the latest `updated_at`.
    pub fn apply(
        &mut self,
        since: Option<DateTime<Utc>>,
        issues: Vec<RemoteIssue>,
        etag: Option<String>,
    ) {
        self.stored.etag = etag.map(|e| (since, e));
        for issue in issues {
            if let Some(t) = issue.updated_at {
                self.stored.since = Some(self.stored.since.map_or(t, |s| s.max(t)));
            }
            self.insert(issue);
        }
        if self.stored.since != since {
            // The ETag was for the old cursor.
            self.stored.etag = None;
        }
    }

    /// Records what GitHub returned for an issue (a listing, a create, an update). Issues
    /// without our marker are ignored unless we know them already; pull requests always.
    pub fn insert(&mut self, mut issue: RemoteIssue) {
        if issue.pull_request.is_some() {
            return;
        }
        let ours = issue.body.as_deref().is_some_and(is_ours);
        match self.stored.issues.get(&issue.number) {
            Some(known) if !ours => issue.body = known.body.clone(),
            Some(_) => {}
            None if !ours => return,
            None => {}
        }
        self.add_ids(&issue);
        self.stored.issues.insert(issue.number, issue);
    }

    /// The issue was deleted or moved to another repository: it no longer stands for its
    /// problem here.
    pub fn forget(&mut self, number: u64) {
        if self.stored.issues.remove(&number).is_some() {
            self.reindex();
        }
    }

    /// The issue of a problem with `ids` (its own id first): the issue of its own id, else the
    /// newest issue naming one of the others.
    pub fn find<'a>(&self, ids: impl IntoIterator<Item = &'a ProblemId>) -> Option<&RemoteIssue> {
        let mut ids = ids.into_iter();
        let own = ids.next().and_then(|id| self.by_id.get(id));
        own.or_else(|| ids.filter_map(|id| self.by_id.get(id)).max())
            .and_then(|n| self.stored.issues.get(n))
    }

    /// The issue that names `id`, if any.
    pub fn owner(&self, id: &ProblemId) -> Option<u64> {
        self.by_id.get(id).copied()
    }

    /// Every problem id with its issue's URL (for the alerts' `issue` annotation).
    pub fn links(&self) -> BTreeMap<ProblemId, String> {
        self.by_id
            .iter()
            .filter_map(|(id, n)| {
                let url = &self.stored.issues.get(n)?.html_url;
                (!url.is_empty()).then(|| (id.clone(), url.clone()))
            })
            .collect()
    }

    /// Our issues known.
    pub fn len(&self) -> usize {
        self.stored.issues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stored.issues.is_empty()
    }

    /// Writes of the last hour (the rate budget), oldest first.
    pub fn writes(&self) -> &[DateTime<Utc>] {
        &self.stored.writes
    }

    /// A write went out at `at`; writes older than an hour are forgotten.
    pub fn wrote(&mut self, at: DateTime<Utc>) {
        let hour_ago = at - chrono::TimeDelta::hours(1);
        self.stored.writes.retain(|w| *w > hour_ago);
        self.stored.writes.push(at);
    }

    fn add_ids(&mut self, issue: &RemoteIssue) {
        let Some(state) = issue.tracked() else { return };
        for id in state.ids {
            let n = self.by_id.entry(id).or_insert(issue.number);
            // The newest issue of a problem wins (an old one closed long ago stays linked).
            *n = (*n).max(issue.number);
        }
    }

    fn reindex(&mut self) {
        self.by_id.clear();
        let issues: Vec<RemoteIssue> = self.stored.issues.values().cloned().collect();
        for i in &issues {
            self.add_ids(i);
        }
    }
}

fn read(place: &dyn Blob, repo: &str) -> Option<Stored> {
    let bytes = place.read().ok()??;
    match serde_json::from_slice::<Stored>(&bytes) {
        Ok(s) if s.schema == SCHEMA && s.repo == repo => Some(s),
        Ok(s) => {
            tracing::warn!(place = %place.name(), repo = %s.repo, "GitHub index of another repository or schema; listing afresh");
            None
        }
        Err(e) => {
            tracing::error!(place = %place.name(), error = %e, "GitHub index unreadable; listing afresh");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalate::Priority;
    use crate::sinks::github::model::TrackedState;

    fn issue(number: u64, ids: &[&str], updated: &str) -> RemoteIssue {
        let mut s = TrackedState::empty(ProblemId(ids[0].into()), Priority::P2);
        s.ids.extend(ids.iter().map(|i| ProblemId((*i).into())));
        RemoteIssue {
            number,
            body: Some(format!(
                "{}## Summary",
                s.markers(&ProblemId(ids[0].into()))
            )),
            html_url: format!("https://github.com/o/r/issues/{number}"),
            updated_at: Some(updated.parse().unwrap()),
            ..RemoteIssue::default()
        }
    }

    #[test]
    fn the_cursor_moves_and_the_index_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        let mut i = Index::load(Some(path.clone()), "o/r");
        assert_eq!(i.cursor(), (None, None));
        let theirs = RemoteIssue {
            number: 3,
            body: Some("a person's issue".into()),
            updated_at: Some("2025-09-15T20:30:00Z".parse().unwrap()),
            ..RemoteIssue::default()
        };
        i.apply(
            None,
            vec![issue(1, &["a", "b"], "2025-09-15T20:00:00Z"), theirs],
            Some("\"e1\"".into()),
        );
        assert_eq!(i.len(), 1, "only issues with our marker are kept");
        let since = "2025-09-15T20:30:00Z".parse().ok();
        assert_eq!(i.cursor(), (since, None), "the ETag was for the old cursor");
        i.apply(since, vec![], Some("\"e2\"".into()));
        assert_eq!(i.cursor(), (since, Some("\"e2\"")));
        i.save().unwrap();
        let back = Index::load(Some(path.clone()), "o/r");
        assert_eq!(
            back.find([&ProblemId("b".into())]).map(|i| i.number),
            Some(1)
        );
        assert_eq!(back.cursor(), (since, Some("\"e2\"")));
        assert!(Index::load(Some(path), "o/other").is_empty());
    }

    #[test]
    fn a_known_issue_whose_marker_was_edited_away_keeps_its_identity() {
        let mut i = Index::load(None, "o/r");
        i.insert(issue(4, &["a"], "2025-09-15T20:00:00Z"));
        let mut edited = issue(4, &["a"], "2025-09-15T21:00:00Z");
        edited.body = Some("rewritten by a person".into());
        edited.title = "new title".into();
        i.insert(edited);
        let found = i.find([&ProblemId("a".into())]).unwrap();
        assert_eq!(found.title, "new title");
        assert!(found.tracked().is_some());
        i.forget(4);
        assert!(i.find([&ProblemId("a".into())]).is_none());
    }

    #[test]
    fn the_newest_issue_of_a_problem_wins_and_prs_are_ignored() {
        let mut i = Index::load(None, "o/r");
        i.insert(issue(9, &["a"], "2025-09-15T20:00:00Z"));
        i.insert(issue(7, &["a"], "2025-09-15T20:00:00Z"));
        let mut pr = issue(11, &["a"], "2025-09-15T20:00:00Z");
        pr.pull_request = Some(serde_json::json!({}));
        i.insert(pr);
        assert_eq!(i.find([&ProblemId("a".into())]).map(|i| i.number), Some(9));
        assert_eq!(i.links().len(), 1);
    }
}
