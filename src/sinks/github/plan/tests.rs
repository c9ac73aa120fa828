//! The lifecycle as a pure function: create, update counts, escalate, reopen, respect "not
//! planned" and "quiet", follow merged aliases, link an old issue.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::entry::Severity;
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
            serde_json::json!({"textPayload": "Database connection to 10.0.0.1 failed after 5000 ms"}),
        ),
    }
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

fn open_issue(c: &ClusterReport, window_end: DateTime<Utc>) -> RemoteIssue {
    match &plan(&Index::default(), window_end, c, &[], &settings())[..] {
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
fn a_new_cluster_gets_one_issue_with_title_labels_and_marker() {
    let c = cluster(0xabc, Priority::P0);
    let actions = plan(&Index::default(), t("21:00"), &c, &[], &settings());
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
        .starts_with("<!-- log-gardener:cluster=0000000000000abc -->\n"));
    assert!(issue
        .body
        .contains("console.cloud.google.com/logs/query;query="));
}

#[test]
fn the_same_window_twice_changes_nothing_and_the_next_updates_counts_only() {
    let c = cluster(1, Priority::P2);
    let index = Index::new([open_issue(&c, t("21:00"))]);
    assert_eq!(plan(&index, t("21:00"), &c, &[], &settings()), []);
    let next = plan(&index, t("22:00"), &c, &[], &settings());
    let [Action::Update {
        number: 7, patch, ..
    }] = &next[..]
    else {
        panic!("{next:?}")
    };
    assert_eq!(patch.state, None);
    assert_eq!(patch.labels, None);
    let body = patch.body.as_deref().unwrap();
    assert!(body.contains("| 24 in all tracked windows |"), "{body}");
}

#[test]
fn escalation_comments_and_relabels_unless_quiet() {
    let c = cluster(1, Priority::P2);
    let issue = open_issue(&c, t("21:00"));
    let worse = cluster(1, Priority::P0);
    let actions = plan(
        &Index::new([issue.clone()]),
        t("22:00"),
        &worse,
        &[],
        &settings(),
    );
    assert!(
        matches!(&actions[0], Action::Comment { body, .. } if body.contains("from P2 to **P0**"))
    );
    let Action::Update { patch, .. } = &actions[1] else {
        panic!()
    };
    assert!(patch
        .labels
        .as_ref()
        .unwrap()
        .contains(&"priority:P0".to_owned()));
    assert!(!patch
        .labels
        .as_ref()
        .unwrap()
        .contains(&"priority:P2".to_owned()));
    assert!(patch.title.as_ref().unwrap().starts_with("[P0]"));

    let mut quiet = issue;
    quiet.labels.push(Label { name: QUIET.into() });
    let actions = plan(&Index::new([quiet]), t("22:00"), &worse, &[], &settings());
    assert!(actions.iter().all(|a| a.kind() != "comment"), "{actions:?}");
}

#[test]
fn closed_as_completed_and_recurring_is_reopened_as_a_regression() {
    let c = cluster(1, Priority::P2);
    let issue = closed(open_issue(&c, t("21:00")), t("21:30"), "completed");
    let mut again = cluster(1, Priority::P2);
    again.last_seen = t("22:40");
    let actions = plan(&Index::new([issue]), t("23:00"), &again, &[], &settings());
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
    let c = cluster(1, Priority::P2);
    let issue = closed(open_issue(&c, t("21:00")), t("23:30"), "completed");
    let actions = plan(&Index::new([issue]), t("22:00"), &c, &[], &settings());
    assert_eq!(
        actions.iter().map(Action::kind).collect::<Vec<_>>(),
        ["update"]
    );
}

#[test]
fn closed_long_ago_opens_a_new_issue_linking_the_old_one() {
    let c = cluster(1, Priority::P2);
    let issue = closed(
        open_issue(&c, t("21:00")),
        t("21:00") - TimeDelta::days(30),
        "completed",
    );
    let actions = plan(&Index::new([issue]), t("22:00"), &c, &[], &settings());
    let [Action::Create { issue, .. }] = &actions[..] else {
        panic!("{actions:?}")
    };
    assert!(
        issue.body.contains("| **Previously** | #7 "),
        "{}",
        issue.body
    );
    assert!(needs_new_issue(
        &Index::new([closed(
            open_issue(&c, t("21:00")),
            t("21:00") - TimeDelta::days(30),
            "completed"
        )]),
        &c,
        &settings()
    ));
}

#[test]
fn not_planned_is_never_reopened_only_counted() {
    let c = cluster(1, Priority::P2);
    let issue = closed(open_issue(&c, t("21:00")), t("21:30"), "not_planned");
    let mut worse = cluster(1, Priority::P0);
    worse.last_seen = t("22:40");
    let actions = plan(&Index::new([issue]), t("23:00"), &worse, &[], &settings());
    let [Action::Update { patch, .. }] = &actions[..] else {
        panic!("{actions:?}")
    };
    assert_eq!(
        (patch.state, &patch.labels, &patch.title),
        (None, &None, &None)
    );
    assert!(patch.body.is_some());
}

#[test]
fn a_merged_alias_finds_the_issue_and_joins_its_ids() {
    let a = cluster(1, Priority::P2);
    let index = Index::new([open_issue(&a, t("21:00"))]);
    let mut b = cluster(2, Priority::P2);
    b.aliases = vec![ClusterId(1)];
    let actions = plan(&index, t("22:00"), &b, &[], &settings());
    let [Action::Update {
        number: 7, patch, ..
    }] = &actions[..]
    else {
        panic!("{actions:?}")
    };
    let state = TrackedState::parse(patch.body.as_deref().unwrap()).unwrap();
    assert_eq!(state.ids, [ClusterId(1), ClusterId(2)].into());
}

#[test]
fn the_newest_issue_of_a_cluster_wins_and_prs_are_ignored() {
    let c = cluster(1, Priority::P2);
    let old = open_issue(&c, t("21:00"));
    let mut new = old.clone();
    new.number = 9;
    let mut pr = old.clone();
    pr.number = 11;
    pr.pull_request = Some(serde_json::json!({}));
    let index = Index::new([new, old, pr]);
    assert_eq!(index.find(&c).map(|i| i.number), Some(9));
    assert!(wanted(&c, Priority::P3) && !wanted(&cluster(1, Priority::P4), Priority::P3));
}
