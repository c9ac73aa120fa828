//! The lifecycle as a pure function: create, update counts, escalate once, reopen, leave
//! "not planned" and "duplicate" alone, respect "quiet", follow aliases, link an old issue, and
//! plan nothing for a window already merged.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::entry::Severity;
use crate::fingerprint::ClusterId;
use crate::sinks::github::model::Label;

pub(crate) fn settings() -> GithubSettings {
    GithubSettings {
        owner: "acme".into(),
        repo: "backend".into(),
        api_url: "https://api.github.com".into(),
        token_file: None,
        label: "log-gardener".into(),
        reopen_within: TimeDelta::days(14),
        write_spacing: std::time::Duration::from_millis(10),
        max_writes_per_window: 50,
        max_rate_limit_wait: std::time::Duration::from_secs(120),
        related_searches_per_window: 5,
        logging_project: Some("acme-prod".into()),
        state_dir: None,
        worklog_url: Some("https://worklogs.example.com/prod/".into()),
        writes_per_minute: 80,
        writes_per_hour: 500,
    }
}

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    format!("2025-09-15T{s}:00Z").parse().unwrap()
}

pub(crate) fn cluster(id: u64, priority: Priority) -> ClusterReport {
    ClusterReport {
        id: ClusterId(id),
        aliases: vec![],
        priority,
        reason: "rule database-unavailable: the database cannot be reached".into(),
        rule: Some("database-unavailable".into()),
        count: 12,
        severity: Severity::Error,
        by_severity: BTreeMap::from([(Severity::Error, 12)]),
        service: "netra-backend".into(),
        template: "Database connection to <*> failed after <*> ms".into(),
        modules: vec!["app.db.pool".into()],
        functions: vec!["connect (app/db/pool.py)".into()],
        first_seen: t("20:05"),
        last_seen: t("20:55"),
        new: true,
        baseline: None,
        sample: Some(
            serde_json::json!({"textPayload": "Database connection to 10.0.0.1 failed after 5000 ms",
                "resource": {"type": "cloud_run_revision",
                    "labels": {"service_name": "netra-backend", "revision_name": "netra-backend-00042-abc"}}}),
        ),
    }
}

/// The problem of cluster `id` at `priority` in the window ending at `end`.
pub(crate) fn seen(id: u64, priority: Priority, end: &str) -> Problem {
    let mut c = cluster(id, priority);
    c.first_seen = t(end) - TimeDelta::minutes(55);
    c.last_seen = t(end) - TimeDelta::minutes(5);
    Problem::from_cluster(&c, t(end))
}

/// What GitHub would return for a created issue.
pub(crate) fn created(number: u64, new: &NewIssue) -> RemoteIssue {
    RemoteIssue {
        number,
        title: new.title.clone(),
        body: Some(new.body.clone()),
        labels: new
            .labels
            .iter()
            .map(|n| Label { name: n.clone() })
            .collect(),
        ..RemoteIssue::default()
    }
}

/// Applies `actions` to `issue` the way GitHub would; returns the comments posted.
fn apply(issue: &mut Option<RemoteIssue>, actions: &[Action]) -> Vec<String> {
    let mut comments = Vec::new();
    for a in actions {
        match a {
            Action::Create { issue: new, .. } => *issue = Some(created(7, new)),
            Action::Comment { body, .. } => comments.push(body.clone()),
            Action::Update { patch, .. } => {
                let i = issue.as_mut().unwrap();
                if let Some(t) = &patch.title {
                    i.title = t.clone();
                }
                if let Some(b) = &patch.body {
                    i.body = Some(b.clone());
                }
                if let Some(s) = patch.state {
                    i.state = s;
                    i.state_reason = patch.state_reason.clone();
                }
                if let Some(l) = &patch.labels {
                    i.labels = l.iter().map(|n| Label { name: n.clone() }).collect();
                }
            }
        }
    }
    comments
}

fn open_issue(p: &Problem) -> RemoteIssue {
    match &plan(None, std::slice::from_ref(p), &[], &settings())[..] {
        [Action::Create { issue, .. }] => created(7, issue),
        other => panic!("expected one create, got {other:?}"),
    }
}

fn closed(mut i: RemoteIssue, at: DateTime<Utc>, reason: &str) -> RemoteIssue {
    i.state = IssueState::Closed;
    i.closed_at = Some(at);
    i.state_reason = Some(reason.into());
    i
}

#[test]
fn a_new_problem_gets_one_issue_with_title_labels_marker_and_links() {
    let p = seen(0xabc, Priority::P0, "21:00");
    let actions = plan(None, std::slice::from_ref(&p), &[], &settings());
    let [Action::Create { issue, .. }] = &actions[..] else {
        panic!("{actions:?}")
    };
    assert_eq!(
        issue.title,
        "[P0] Database connection to <*> failed after <*> ms"
    );
    assert_eq!(
        issue.labels,
        [
            "log-gardener",
            "priority:P0",
            "service:netra-backend",
            "kind:database-unavailable"
        ]
    );
    assert!(issue
        .body
        .starts_with("<!-- log-gardener:problem=0000000000000abc -->\n"));
    assert!(issue
        .body
        .contains("console.cloud.google.com/logs/query;query="));
    assert!(
        issue
            .body
            .contains("https://worklogs.example.com/prod/2025-09-15T210000Z.md"),
        "{}",
        issue.body
    );
    assert!(
        issue
            .body
            .contains("revision_name `netra-backend-00042-abc`"),
        "{}",
        issue.body
    );
}

#[test]
fn replaying_old_windows_again_is_idempotent_no_flip_no_second_comment() {
    // The three hours of the report: P1, P2, P1.
    let windows = [
        seen(1, Priority::P1, "21:00"),
        seen(1, Priority::P2, "22:00"),
        seen(1, Priority::P1, "23:00"),
    ];
    let mut issue = None;
    let mut comments = Vec::new();
    for w in &windows {
        let actions = plan(issue.as_ref(), std::slice::from_ref(w), &[], &settings());
        comments.extend(apply(&mut issue, &actions));
    }
    assert_eq!(comments.len(), 1, "P2 → P1 escalated once: {comments:?}");
    let after = issue.clone();
    // The same three hours again, one by one and all at once.
    for w in &windows {
        assert_eq!(
            plan(issue.as_ref(), std::slice::from_ref(w), &[], &settings()),
            []
        );
    }
    assert_eq!(plan(issue.as_ref(), &windows, &[], &settings()), []);
    assert_eq!(issue, after);
    let i = issue.unwrap();
    assert!(i.title.starts_with("[P1]"));
    assert_eq!(i.tracked().unwrap().total, 36);
}

#[test]
fn an_older_window_fills_a_gap_without_touching_priority_or_title() {
    let mut issue = Some(open_issue(&seen(1, Priority::P1, "23:00")));
    let actions = plan(
        issue.as_ref(),
        &[seen(1, Priority::P3, "21:00")],
        &[],
        &settings(),
    );
    let [Action::Update { patch, .. }] = &actions[..] else {
        panic!("{actions:?}")
    };
    assert_eq!((&patch.title, &patch.labels), (&None, &None));
    apply(&mut issue, &actions);
    let s = issue.unwrap().tracked().unwrap();
    assert_eq!((s.total, s.priority), (24, Priority::P1));
}

#[test]
fn a_backfill_of_many_windows_is_one_update() {
    let issue = open_issue(&seen(1, Priority::P2, "01:00"));
    let backlog: Vec<Problem> = (2..=9)
        .map(|h| seen(1, Priority::P2, &format!("0{h}:00")))
        .collect();
    let actions = plan(Some(&issue), &backlog, &[], &settings());
    assert_eq!(actions.len(), 1, "{actions:?}");
}

#[test]
fn escalation_comments_once_and_relabels_unless_quiet() {
    let issue = open_issue(&seen(1, Priority::P2, "21:00"));
    let worse = seen(1, Priority::P0, "22:00");
    let actions = plan(Some(&issue), std::slice::from_ref(&worse), &[], &settings());
    let Action::Comment { key, body, .. } = &actions[0] else {
        panic!("{actions:?}")
    };
    assert!(body.contains("from P2 to **P0**"));
    assert!(body.starts_with(&comment_marker(key)));
    assert_eq!(key, "escalation/2025-09-15T22:00:00+00:00/P0");
    let Action::Update { patch, .. } = &actions[1] else {
        panic!()
    };
    let labels = patch.labels.as_ref().unwrap();
    assert!(
        labels.contains(&"priority:P0".to_owned()) && !labels.contains(&"priority:P2".to_owned())
    );
    assert!(patch.title.as_ref().unwrap().starts_with("[P0]"));

    let mut quiet = issue;
    quiet.labels.push(Label { name: QUIET.into() });
    let actions = plan(Some(&quiet), &[worse], &[], &settings());
    assert!(actions.iter().all(|a| a.kind() != "comment"), "{actions:?}");
}

#[test]
fn a_removed_label_is_put_back_and_a_note_above_the_marker_is_kept() {
    let mut issue = open_issue(&seen(1, Priority::P2, "21:00"));
    issue.labels.retain(|l| l.name != "log-gardener");
    issue.body = Some(format!("Owner: @db-team\n\n{}", issue.body.unwrap()));
    let actions = plan(
        Some(&issue),
        &[seen(1, Priority::P2, "22:00")],
        &[],
        &settings(),
    );
    let [Action::Update { patch, .. }] = &actions[..] else {
        panic!("{actions:?}")
    };
    assert!(patch
        .labels
        .as_ref()
        .unwrap()
        .contains(&"log-gardener".to_owned()));
    assert!(patch
        .body
        .as_ref()
        .unwrap()
        .starts_with("Owner: @db-team\n\n<!-- log-gardener:problem="));
}

#[test]
fn closed_as_completed_and_recurring_is_reopened_as_a_regression() {
    let issue = closed(
        open_issue(&seen(1, Priority::P2, "21:00")),
        t("21:30"),
        "completed",
    );
    let again = seen(1, Priority::P2, "23:00");
    let actions = plan(Some(&issue), &[again], &[], &settings());
    assert_eq!(actions[0].kind(), "comment");
    assert_eq!(actions[1].kind(), "reopen");
    let Action::Update { patch, .. } = &actions[1] else {
        panic!()
    };
    assert!(patch
        .labels
        .as_ref()
        .unwrap()
        .contains(&REGRESSION.to_owned()));
}

#[test]
fn entries_older_than_the_close_only_count() {
    let issue = closed(
        open_issue(&seen(1, Priority::P2, "21:00")),
        t("23:30"),
        "completed",
    );
    let actions = plan(
        Some(&issue),
        &[seen(1, Priority::P2, "22:00")],
        &[],
        &settings(),
    );
    assert_eq!(
        actions.iter().map(Action::kind).collect::<Vec<_>>(),
        ["update"]
    );
}

#[test]
fn closed_long_ago_opens_a_new_issue_linking_the_old_one() {
    let p = seen(1, Priority::P2, "22:00");
    let old = closed(
        open_issue(&p),
        t("21:00") - TimeDelta::days(30),
        "completed",
    );
    let actions = plan(Some(&old), std::slice::from_ref(&p), &[], &settings());
    let [Action::Create { issue, .. }] = &actions[..] else {
        panic!("{actions:?}")
    };
    assert!(
        issue.body.contains("| **Previously** | #7 "),
        "{}",
        issue.body
    );
    assert!(needs_new_issue(Some(&old), &[p], &settings()));
}

#[test]
fn not_planned_and_duplicate_are_left_alone() {
    for reason in ["not_planned", "duplicate"] {
        let issue = closed(
            open_issue(&seen(1, Priority::P2, "21:00")),
            t("21:30"),
            reason,
        );
        let worse = seen(1, Priority::P0, "23:00");
        assert_eq!(
            plan(Some(&issue), std::slice::from_ref(&worse), &[], &settings()),
            [],
            "{reason}"
        );
        assert!(
            !needs_new_issue(Some(&issue), &[worse], &settings()),
            "{reason}"
        );
    }
}

#[test]
fn a_merged_alias_joins_the_ids_in_the_marker() {
    let issue = open_issue(&seen(1, Priority::P2, "21:00"));
    let mut b = seen(2, Priority::P2, "22:00");
    b.aliases.insert(ProblemId::from(ClusterId(1)));
    let actions = plan(Some(&issue), &[b], &[], &settings());
    let [Action::Update {
        number: 7, patch, ..
    }] = &actions[..]
    else {
        panic!("{actions:?}")
    };
    let body = patch.body.as_deref().unwrap();
    assert!(
        body.starts_with("<!-- log-gardener:problem=0000000000000001 aliases=0000000000000002 -->")
    );
    let state = TrackedState::parse(body).unwrap();
    assert_eq!(state.ids.len(), 2);
    assert!(
        wanted(&cluster(1, Priority::P2), Priority::P3)
            && !wanted(&cluster(1, Priority::P4), Priority::P3)
    );
}

#[test]
fn an_issue_opened_for_a_symptom_is_headed_by_the_root_cause_an_incident_finds() {
    let symptom = seen(1, Priority::P0, "21:00");
    let mut issue = Some(open_issue(&symptom));
    // The next window finds the root: an incident (id 9) whose members include the symptom.
    let mut root = seen(9, Priority::P0, "22:00");
    root.template = "Failed to run migrations: connection to server <*> refused".into();
    root.aliases.insert(ProblemId::from(ClusterId(1)));
    root.incident = true;
    let actions = plan(
        issue.as_ref(),
        std::slice::from_ref(&root),
        &[],
        &settings(),
    );
    let comments = apply(&mut issue, &actions);
    assert_eq!(comments.len(), 1, "{actions:?}");
    assert!(comments[0].contains("Root cause found: **[P0] Failed to run migrations"));
    let i = issue.clone().unwrap();
    assert!(
        i.title.starts_with("[P0] Failed to run migrations"),
        "{}",
        i.title
    );
    let state = i.tracked().unwrap();
    assert_eq!(state.id, Some(ProblemId::from(ClusterId(9))));
    assert!(state.ids.contains(&ProblemId::from(ClusterId(1))));
    // Planned again: nothing; the symptom seen alone later, escalated: the headline stays.
    assert!(plan(
        issue.as_ref(),
        std::slice::from_ref(&root),
        &[],
        &settings()
    )
    .is_empty());
    let alone = seen(1, Priority::P1, "23:00");
    let actions = plan(issue.as_ref(), &[alone], &[], &settings());
    apply(&mut issue, &actions);
    let title = issue.unwrap().title;
    assert!(
        title.starts_with("[P1] Failed to run migrations"),
        "{title}"
    );
    // A merged cluster (not an incident) naming the issue's problem keeps its headline.
    let issue = open_issue(&seen(1, Priority::P2, "21:00"));
    let mut merged = seen(2, Priority::P2, "22:00");
    merged.aliases.insert(ProblemId::from(ClusterId(1)));
    let actions = plan(Some(&issue), &[merged], &[], &settings());
    assert!(actions.iter().all(|a| a.kind() != "comment"), "{actions:?}");
}

/// The part of a traceback counted as cluster 1 in the window ending at `end`, retracted by
/// revision `revision`: `left` entries of cluster 1 stay, the whole went to cluster 2 (#8).
fn retracted(end: &str, left: u64, revision: u32) -> Problem {
    let mut p = Problem::retracted(
        ClusterId(1).into(),
        t(end),
        left,
        revision,
        Some(ClusterId(2).into()),
    );
    if let Some(r) = &mut p.retraction {
        r.into_issue = Some(8);
    }
    p
}

#[test]
fn an_issue_whose_every_entry_was_a_tracebacks_part_is_closed_pointing_to_the_whole() {
    let part = seen(1, Priority::P1, "21:00");
    let mut issue = Some(open_issue(&part));
    let actions = plan(
        issue.as_ref(),
        &[retracted("21:00", 0, 1)],
        &[],
        &settings(),
    );
    let kinds: Vec<&str> = actions.iter().map(Action::kind).collect();
    assert_eq!(kinds, ["comment", "close"], "{actions:#?}");
    let comments = apply(&mut issue, &actions);
    assert!(
        comments[0].contains("counted whole, in #8"),
        "{}",
        comments[0]
    );
    let i = issue.clone().unwrap();
    assert_eq!(
        (i.state, i.state_reason.as_deref()),
        (IssueState::Closed, Some("not_planned"))
    );
    let state = i.tracked().unwrap();
    assert_eq!((state.total, state.windows[&t("21:00")]), (0, 0));
    // Only the counts changed: the title, template and sample stay.
    let body = i.body.unwrap();
    assert!(
        body.contains("| **Entries** | 0 in all tracked windows |"),
        "{body}"
    );
    assert!(body.contains("| 2025-09-15T21:00:00Z | 0 |"), "{body}");
    assert!(body.contains("Database connection to <*> failed") && body.contains("## Sample entry"));
    assert_eq!(body.matches("## Trend per window").count(), 1, "{body}");
    assert_eq!(i.title, open_issue(&part).title);
    // The same revision again, and the first version replayed from the outbox after it:
    // nothing (no reopening, no second issue, no second comment).
    for again in [retracted("21:00", 0, 1), part.clone()] {
        assert_eq!(
            plan(
                issue.as_ref(),
                std::slice::from_ref(&again),
                &[],
                &settings()
            ),
            vec![],
            "{again:?}"
        );
    }
    assert!(!needs_new_issue(
        issue.as_ref(),
        std::slice::from_ref(&part),
        &settings()
    ));
}

#[test]
fn a_retraction_never_opens_an_issue_nor_files_a_part_retracted_before_it_was_filed() {
    let bare = retracted("21:00", 0, 1);
    assert!(!needs_new_issue(
        None,
        std::slice::from_ref(&bare),
        &settings()
    ));
    assert_eq!(
        plan(None, std::slice::from_ref(&bare), &[], &settings()),
        vec![]
    );
    // GitHub was away: the first version and its revision are planned together.
    let both = [seen(1, Priority::P1, "21:00"), bare];
    assert_eq!(plan(None, &both, &[], &settings()), vec![]);
}

#[test]
fn a_revision_with_fewer_entries_corrects_the_row_and_total_and_a_stale_version_does_not_undo_it() {
    let mut issue = Some(open_issue(&seen(1, Priority::P1, "21:00")));
    let later = seen(1, Priority::P1, "22:00");
    let actions = plan(issue.as_ref(), &[later], &[], &settings());
    apply(&mut issue, &actions);
    assert_eq!(issue.as_ref().unwrap().tracked().unwrap().total, 24);
    // Revision 1 of 21:00: 8 of its 12 entries were a traceback's part; the cluster is still
    // reported (its own report comes with it).
    let mut revised = seen(1, Priority::P1, "21:00");
    revised.count = 4;
    revised.revision = 1;
    let actions = plan(
        issue.as_ref(),
        std::slice::from_ref(&revised),
        &[],
        &settings(),
    );
    let kinds: Vec<&str> = actions.iter().map(Action::kind).collect();
    assert_eq!(kinds, ["update"], "{actions:#?}");
    apply(&mut issue, &actions);
    let i = issue.clone().unwrap();
    assert_eq!(i.state, IssueState::Open);
    let state = i.tracked().unwrap();
    assert_eq!((state.total, state.windows[&t("21:00")]), (16, 4));
    // The version written at the close, replayed: nothing.
    let stale = seen(1, Priority::P1, "21:00");
    assert_eq!(plan(issue.as_ref(), &[stale], &[], &settings()), vec![]);
    // A bare correction of a cluster below the threshold now: counts only, stays open.
    let actions = plan(
        issue.as_ref(),
        &[retracted("22:00", 2, 1)],
        &[],
        &settings(),
    );
    apply(&mut issue, &actions);
    let i = issue.unwrap();
    assert_eq!((i.state, i.tracked().unwrap().total), (IssueState::Open, 6));
}

#[test]
fn an_issue_closed_because_its_entries_were_retracted_comes_back_with_entries_of_its_own() {
    let mut issue = Some(open_issue(&seen(1, Priority::P1, "21:00")));
    let actions = plan(
        issue.as_ref(),
        &[retracted("21:00", 0, 1)],
        &[],
        &settings(),
    );
    apply(&mut issue, &actions);
    let i = closed(issue.unwrap(), t("21:30"), "not_planned");
    let actions = plan(
        Some(&i),
        &[seen(1, Priority::P1, "23:00")],
        &[],
        &settings(),
    );
    assert!(actions.iter().any(|a| a.kind() == "reopen"), "{actions:#?}");
}
