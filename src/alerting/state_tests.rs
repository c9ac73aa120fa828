//! The alert state machine with plain times: firing, re-posting, resolution once and only
//! after the flap window, rate limit, escalation, annotations, snapshot and restore.

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
        count: Some(3),
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
fn a_quiet_cluster_resolves_exactly_once_after_the_flap_window() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P0, "10:00:00"), t("10:00:00"));
    s.tick(t("10:00:00"));
    s.observe(ClusterId(1), t("10:03:00"));
    // Quiet at 10:18, but the resolution waits for the flap window (30 min): 10:48.
    for m in 4..48 {
        let posts = s.tick(t(&format!("10:{m:02}:00")));
        assert!(
            posts.iter().all(|p| p.change == Change::Reposted),
            "{m}: {posts:?}"
        );
    }
    let resolved = s.tick(t("10:48:00"));
    assert_eq!(changes(&resolved), [(1, Change::Resolved, Priority::P0)]);
    assert_eq!(
        resolved[0].ends_at,
        t("10:18:00"),
        "endsAt: when it went quiet"
    );
    for m in 49..=59 {
        assert!(s.tick(t(&format!("10:{m}:00"))).is_empty(), "once only");
    }
    assert_eq!(s.active_by_priority(), []);
}

#[test]
fn a_flapping_cluster_gives_one_fire_and_one_resolution() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P1, "10:00:00"), t("10:00:00"));
    let mut all = s.tick(t("10:00:00"));
    // Bursts every 40 minutes: quiet (15 min) each time, never for quiet + flap (45 min).
    let mut now = t("10:00:00");
    for burst in 1..=4 {
        for _ in 0..40 {
            now += TimeDelta::minutes(1);
            all.extend(s.tick(now));
        }
        s.observe(ClusterId(1), now);
        assert!(s.is_tracked(ClusterId(1)), "burst {burst}");
    }
    for _ in 0..60 {
        now += TimeDelta::minutes(1);
        all.extend(s.tick(now));
    }
    let said: Vec<Change> = all
        .iter()
        .map(|p| p.change)
        .filter(|c| *c != Change::Reposted)
        .collect();
    assert_eq!(said, [Change::Fired, Change::Resolved]);
}

#[test]
fn after_the_resolution_the_cluster_is_forgotten_and_rate_limited() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P1, "10:00:00"), t("10:00:00"));
    s.tick(t("10:00:00"));
    assert_eq!(changes(&s.tick(t("10:45:00")))[0].1, Change::Resolved);
    assert!(!s.is_tracked(ClusterId(1)), "forgotten once resolved");
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
fn a_snapshot_restored_after_a_restart_does_not_announce_again() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P0, "10:00:00"), t("10:00:00"));
    s.tick(t("10:00:00"));
    let snap = s.snapshot();
    let json = serde_json::to_string(&snap).unwrap();
    let mut back = AlertState::new(policy());
    back.restore(serde_json::from_str(&json).unwrap());
    assert_eq!(
        back.event(ev(1, Priority::P0, "10:01:00"), t("10:01:00")),
        Admission::AlreadyFiring,
        "the redelivered entries' new-cluster event"
    );
    let posts = back.tick(t("10:01:00"));
    assert_eq!(changes(&posts), [(1, Change::Reposted, Priority::P0)]);
    assert_eq!(posts[0].starts_at, t("10:00:00"));
    assert!(back.seq() >= snap.seq);
}

#[test]
fn annotations_are_posted_at_once_when_they_change() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P1, "10:00:00"), t("10:00:00"));
    s.tick(t("10:00:00"));
    let note = Annotation {
        cluster: ClusterId(1),
        count: Some(40),
        sample: Some("db timeout after 31s".into()),
        issue_url: None,
    };
    assert!(s.annotate(note.clone()));
    assert!(!s.annotate(note), "the same facts again change nothing");
    let posts = s.tick(t("10:00:05"));
    assert_eq!(posts.len(), 1);
    assert_eq!(
        (posts[0].count, posts[0].sample.as_deref()),
        (Some(40), Some("db timeout after 31s"))
    );
    assert!(!s.annotate(Annotation {
        cluster: ClusterId(9),
        count: Some(1),
        sample: None,
        issue_url: None
    }));
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
    assert_eq!(s.without_issue().count(), 1);
}

#[test]
fn an_alert_for_a_cluster_whose_every_entry_was_retracted_resolves_at_once() {
    let mut s = AlertState::new(policy());
    s.event(ev(1, Priority::P0, "10:00:00"), t("10:00:00"));
    s.event(ev(2, Priority::P0, "10:00:00"), t("10:00:00"));
    s.tick(t("10:00:00"));
    // Cluster 1 was a traceback's part: resolved at the next tick, not 45 minutes later.
    assert!(s.retracted(ClusterId(1), t("10:01:00")));
    let posts = s.tick(t("10:01:00"));
    assert_eq!(changes(&posts), [(1, Change::Resolved, Priority::P0)]);
    assert_eq!(posts[0].ends_at, t("10:01:00"));
    assert!(!s.is_tracked(ClusterId(1)) && s.is_tracked(ClusterId(2)));
    assert!(!s.retracted(ClusterId(1), t("10:02:00")), "once");
    assert!(s.tick(t("10:02:00")).iter().all(|p| p.cluster.0 == 2));
    // A fire that never went out is dropped without a word.
    s.event(ev(3, Priority::P0, "10:03:00"), t("10:03:00"));
    assert!(s.retracted(ClusterId(3), t("10:03:00")));
    assert!(s.tick(t("10:03:00")).iter().all(|p| p.cluster.0 != 3));
}
