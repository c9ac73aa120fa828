//! The alert state machine with plain times: firing, re-posting, resolution once, rate limit,
//! flap damping, escalation.

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    format!("2026-01-01T{s}Z").parse().unwrap()
}

fn policy() -> Policy {
    Policy {
        min_priority: Priority::P1,
        repost_every: TimeDelta::minutes(2),
        hold_for: TimeDelta::minutes(5),
        quiet_after: TimeDelta::minutes(15),
        flap_window: TimeDelta::minutes(30),
        rate_limit: TimeDelta::hours(1),
    }
}

fn ev(cluster: u64, priority: Priority, at: &str) -> AlertEvent {
    AlertEvent {
        kind: AlertKind::NewCluster,
        cluster: ClusterId(cluster),
        service: "api".into(),
        priority,
        template: "db timeout after <*>".into(),
        sample: Some("db timeout after 30s".into()),
        issue_url: None,
        aliases: Vec::new(),
        at: t(at),
    }
}

fn changes(posts: &[AlertPost]) -> Vec<(u64, Change, Priority)> {
    posts
        .iter()
        .map(|p| (p.cluster.0, p.change, p.priority))
        .collect()
}

#[test]
fn fires_at_the_next_tick_and_reposts_with_ends_at_in_the_future() {
    let mut s = AlertState::new(policy());
    assert_eq!(
        s.event(ev(1, Priority::P1, "10:00:00"), t("10:00:00")),
        Admission::Fires
    );
    let first = s.tick(t("10:00:00"));
    assert_eq!(changes(&first), [(1, Change::Fired, Priority::P1)]);
    assert_eq!(first[0].ends_at, t("10:05:00"), "now + hold_for");
    assert!(
        s.tick(t("10:01:59")).is_empty(),
        "not due before repost_every"
    );
    s.observe(ClusterId(1), t("10:01:00"));
    let again = s.tick(t("10:02:00"));
    assert_eq!(changes(&again), [(1, Change::Reposted, Priority::P1)]);
    assert_eq!(again[0].starts_at, t("10:00:00"), "same alert");
    assert_eq!(again[0].ends_at, t("10:07:00"));
}

#[test]
fn below_min_priority_is_not_alerted() {
    let mut s = AlertState::new(policy());
    assert_eq!(
        s.event(ev(1, Priority::P2, "10:00:00"), t("10:00:00")),
        Admission::BelowMinPriority
    );
    assert!(s.tick(t("10:00:00")).is_empty());
}

#[test]
fn a_quiet_cluster_resolves_exactly_once() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P0, "10:00:00"), t("10:00:00"));
    s.tick(t("10:00:00"));
    s.observe(ClusterId(1), t("10:03:00"));
    assert!(
        !changes(&s.tick(t("10:17:59"))).contains(&(1, Change::Resolved, Priority::P0)),
        "15 minutes after the last entry, not before"
    );
    let resolved = s.tick(t("10:18:00"));
    assert_eq!(changes(&resolved), [(1, Change::Resolved, Priority::P0)]);
    assert_eq!(resolved[0].ends_at, t("10:18:00"), "endsAt = now");
    for m in 19..=59 {
        assert!(s.tick(t(&format!("10:{m}:00"))).is_empty(), "once only");
    }
    assert_eq!(s.active_by_priority(), []);
}

#[test]
fn a_cluster_returning_within_the_flap_window_resumes_the_same_alert() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P1, "10:00:00"), t("10:00:00"));
    s.tick(t("10:00:00"));
    s.tick(t("10:15:00"));
    assert!(!s
        .tick(t("10:15:00"))
        .iter()
        .any(|p| p.change == Change::Fired));
    s.observe(ClusterId(1), t("10:40:00"));
    let back = s.tick(t("10:40:01"));
    assert_eq!(changes(&back), [(1, Change::Resumed, Priority::P1)]);
    assert_eq!(
        back[0].starts_at,
        t("10:00:00"),
        "not a new alert: same startsAt"
    );
}

#[test]
fn after_the_flap_window_the_cluster_is_forgotten_and_rate_limited() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P1, "10:00:00"), t("10:00:00"));
    s.tick(t("10:00:00"));
    assert_eq!(changes(&s.tick(t("10:15:00")))[0].1, Change::Resolved);
    s.tick(t("10:45:01"));
    assert!(
        !s.is_tracked(ClusterId(1)),
        "forgotten after the flap window"
    );
    s.observe(ClusterId(1), t("10:50:00"));
    assert!(
        s.tick(t("10:50:00")).is_empty(),
        "activity alone fires nothing"
    );
    let again = AlertEvent {
        kind: AlertKind::Escalation,
        ..ev(1, Priority::P1, "10:55:00")
    };
    assert_eq!(
        s.event(again.clone(), t("10:55:00")),
        Admission::RateLimited
    );
    assert_eq!(
        s.event(again, t("11:00:00")),
        Admission::Fires,
        "an hour later"
    );
    assert_eq!(changes(&s.tick(t("11:00:00")))[0].1, Change::Fired);
}

#[test]
fn a_more_urgent_event_replaces_the_alert_and_is_not_rate_limited() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P1, "10:00:00"), t("10:00:00"));
    s.tick(t("10:00:00"));
    assert_eq!(
        s.event(ev(1, Priority::P1, "10:01:00"), t("10:01:00")),
        Admission::AlreadyFiring
    );
    let up = AlertEvent {
        kind: AlertKind::Escalation,
        ..ev(1, Priority::P0, "10:02:00")
    };
    assert_eq!(s.event(up, t("10:02:00")), Admission::Escalates);
    let posts = s.tick(t("10:02:00"));
    assert_eq!(
        changes(&posts),
        [
            (1, Change::Resolved, Priority::P1),
            (1, Change::Fired, Priority::P0)
        ]
    );
    assert_eq!(posts[1].kind.alertname(), "LogGardenerEscalation");
    assert_eq!(s.active_by_priority(), [(Priority::P0, 1)]);
}

#[test]
fn a_late_issue_link_is_posted_at_once() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P1, "10:00:00"), t("10:00:00"));
    s.tick(t("10:00:00"));
    let with_issue = AlertEvent {
        issue_url: Some("https://github.com/o/r/issues/7".into()),
        ..ev(1, Priority::P1, "10:00:10")
    };
    assert_eq!(s.event(with_issue, t("10:00:10")), Admission::AlreadyFiring);
    let posts = s.tick(t("10:00:10"));
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].issue_url.as_deref(),
        Some("https://github.com/o/r/issues/7")
    );
}

#[test]
fn next_due_tracks_the_earliest_deadline() {
    let mut s = AlertState::new(policy());
    assert_eq!(s.next_due(), None);
    s.event(ev(1, Priority::P1, "10:00:00"), t("10:00:00"));
    assert!(s.next_due().is_some_and(|d| d <= t("10:00:00")));
    s.tick(t("10:00:00"));
    assert_eq!(s.next_due(), Some(t("10:02:00")));
}
