//! The executor against the recording [`MemoryTracker`]: one issue across windows, the write
//! budget and the outbox, rate limits waited out in paused time, refusals reported, the
//! incremental listing, gone issues and comments never repeated.

use std::time::Duration;

use super::*;
use crate::escalate::Priority;
use crate::sinks::github::memory::{Call, MemoryTracker};
use crate::sinks::github::model::IssueState;
use crate::sinks::github::plan::tests::{cluster, settings, t};

fn pending(id: u64, end: &str) -> Pending {
    Pending::of_cluster(&cluster(id, Priority::P1), t(end))
}

fn creates(m: &MemoryTracker) -> usize {
    m.calls()
        .iter()
        .filter(|c| matches!(c, Call::Create(_)))
        .count()
}

#[tokio::test(start_paused = true)]
async fn one_cluster_over_three_windows_is_one_issue() {
    let mut s = Syncer::new(MemoryTracker::new(), settings(), Outbox::new(None), false);
    for end in ["21:00", "22:00", "23:00"] {
        let rep = s.sync(vec![pending(1, end)]).await;
        assert_eq!(rep.deferred, 0);
    }
    let issues = s.tracker().issues();
    assert_eq!(issues.len(), 1);
    let state = issues[0].tracked().unwrap();
    assert_eq!((state.total, state.windows.len()), (36, 3));
    assert_eq!(creates(s.tracker()), 1);
    // Our own update shows in the next listing (the cursor moves to it); after that, with
    // nothing changed, the listing is answered 304.
    s.sync(vec![]).await;
    s.sync(vec![]).await;
    assert_eq!(s.tracker().calls().last(), Some(&Call::List(false)));
    s.sync(vec![]).await;
    assert_eq!(s.tracker().calls().last(), Some(&Call::List(true)));
}

#[tokio::test(start_paused = true)]
async fn writes_over_the_budget_wait_in_the_outbox_and_resume_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.json");
    let mut g = settings();
    g.max_writes_per_window = 2;
    let mut s = Syncer::new(
        MemoryTracker::new(),
        g.clone(),
        Outbox::new(Some(path.clone())),
        false,
    );
    let rep = s
        .sync((1..=5).map(|id| pending(id, "21:00")).collect())
        .await;
    assert_eq!((rep.sent.len(), rep.deferred), (2, 3));
    assert_eq!(Outbox::new(Some(path.clone())).len(), 3);

    // A restart: a new syncer over the same GitHub and outbox file.
    let tracker = MemoryTracker::with_issues(s.tracker().issues());
    let mut s = Syncer::new(tracker, g, Outbox::new(Some(path.clone())), false);
    s.sync(vec![pending(1, "22:00")]).await;
    s.sync(vec![]).await;
    let ids: Vec<_> = s
        .tracker()
        .issues()
        .iter()
        .filter_map(|i| i.tracked()?.id)
        .collect();
    assert_eq!(ids.len(), 5, "one issue per cluster: {ids:?}");
    assert!(!path.exists(), "the outbox is removed once empty");
}

#[tokio::test(start_paused = true)]
async fn a_create_whose_answer_was_lost_is_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.json");
    let tracker = MemoryTracker::new();
    let mut s = Syncer::new(tracker, settings(), Outbox::new(Some(path.clone())), false);
    s.sync(vec![pending(1, "21:00")]).await;
    // The process died after GitHub created the issue but before it noted so: the outbox
    // still holds the cluster.
    Outbox::new(Some(path.clone()))
        .push(vec![pending(1, "21:00")])
        .unwrap();
    let tracker = MemoryTracker::with_issues(s.tracker().issues());
    let mut s = Syncer::new(tracker, settings(), Outbox::new(Some(path)), false);
    let rep = s.sync(vec![]).await;
    assert_eq!(creates(s.tracker()), 0, "{:?}", rep.sent);
    assert_eq!(s.tracker().issues().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_short_rate_limit_is_waited_out_and_a_long_one_defers() {
    let m = MemoryTracker::new();
    m.fail_next([
        // The listing is fine; the create is rate limited once.
        TrackerError::RateLimited(Duration::from_secs(0)),
    ]);
    let mut s = Syncer::new(m, settings(), Outbox::new(None), false);
    // The first failure hits the listing; it is retried too.
    let rep = s.sync(vec![pending(1, "21:00")]).await;
    assert_eq!(rep.sent.len(), 1);

    s.tracker()
        .fail_next([TrackerError::RateLimited(Duration::from_secs(30))]);
    let start = tokio::time::Instant::now();
    let rep = s.sync(vec![pending(2, "21:00")]).await;
    // The listing waited 30 s, then the create went through.
    assert!(start.elapsed() >= Duration::from_secs(30));
    assert_eq!((rep.sent.len(), rep.deferred), (1, 0));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.json");
    let mut s = Syncer::new(
        MemoryTracker::new(),
        settings(),
        Outbox::new(Some(path.clone())),
        false,
    );
    s.tracker()
        .fail_next([TrackerError::Retryable("502".into())]);
    let rep = s.sync(vec![pending(3, "21:00")]).await;
    assert_eq!(rep.deferred, 1);
    assert!(rep.stopped.unwrap().contains("502"));
    s.tracker()
        .fail_next([TrackerError::RateLimited(Duration::from_secs(3600))]);
    let rep = s.sync(vec![]).await;
    assert_eq!(rep.deferred, 1, "an hour's wait is not waited");
    let rep = s.sync(vec![]).await;
    assert_eq!((rep.sent.len(), rep.deferred), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn writes_are_spaced() {
    let mut g = settings();
    g.write_spacing = Duration::from_secs(1);
    let mut s = Syncer::new(MemoryTracker::new(), g, Outbox::new(None), false)
        .with_clock(crate::clock::tokio_from(t("23:00")));
    let start = tokio::time::Instant::now();
    s.sync((1..=4).map(|id| pending(id, "21:00")).collect())
        .await;
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_action_is_reported_and_the_rest_goes_on() {
    let mut s = Syncer::new(MemoryTracker::new(), settings(), Outbox::new(None), false);
    s.tracker().fail_next_write([TrackerError::Permanent {
        status: 422,
        message: "Validation Failed".into(),
    }]);
    let rep = s.sync(vec![pending(1, "21:00"), pending(2, "21:00")]).await;
    assert_eq!(rep.sent.len(), 2);
    assert!(rep.sent[0].error.as_deref().unwrap().contains("422"));
    assert_eq!(rep.sent[1].error, None);
    assert_eq!(rep.deferred, 0, "a refusal is not retried");
    assert_eq!(s.tracker().issues().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropped_labels_halt_the_sink_instead_of_duplicating() {
    let mut s = Syncer::new(MemoryTracker::new(), settings(), Outbox::new(None), false);
    s.tracker().drop_labels_on_create();
    let rep = s.sync(vec![pending(1, "21:00"), pending(2, "21:00")]).await;
    assert!(rep
        .stopped
        .as_deref()
        .unwrap()
        .contains("cannot set labels"));
    assert_eq!(rep.deferred, 2);
    // Later windows send nothing more: each would be another unfindable duplicate.
    let rep = s.sync(vec![pending(1, "22:00")]).await;
    assert_eq!(creates(s.tracker()), 1);
    assert_eq!(rep.deferred, 3);
}

#[tokio::test(start_paused = true)]
async fn a_refused_comment_does_not_block_the_update() {
    let mut s = Syncer::new(MemoryTracker::new(), settings(), Outbox::new(None), false);
    s.sync(vec![pending(1, "21:00")]).await;
    let locked = TrackerError::Permanent {
        status: 403,
        message: "Unable to create comment because issue is locked.".into(),
    };
    s.tracker().fail_next_write([locked]);
    let worse = Pending::of_cluster(&cluster(1, Priority::P0), t("22:00"));
    let rep = s.sync(vec![worse]).await;
    let kinds: Vec<(&str, bool)> = rep
        .sent
        .iter()
        .map(|a| (a.kind.as_str(), a.error.is_some()))
        .collect();
    assert_eq!(kinds, [("comment", true), ("update", false)]);
    let state = s.tracker().issues()[0].tracked().unwrap();
    assert_eq!(state.priority, Priority::P0);
}

fn syncer(m: MemoryTracker) -> Syncer<MemoryTracker> {
    Syncer::new(m, settings(), Outbox::new(None), false)
        .with_clock(crate::clock::tokio_from(t("23:00")))
}

fn comments(m: &MemoryTracker) -> usize {
    m.comments().len()
}

#[tokio::test(start_paused = true)]
async fn a_removed_label_and_a_note_above_the_marker_do_not_open_a_duplicate() {
    let mut s = syncer(MemoryTracker::new());
    s.sync(vec![pending(1, "21:00")]).await;
    s.tracker().edit(1, |i| {
        i.labels.retain(|l| l.name != "log-gardener");
        i.body = Some(format!(
            "Note from on-call: see runbook.\n{}",
            i.body.clone().unwrap()
        ));
    });
    // A restart too: the local index is rebuilt from a full listing.
    let mut s = syncer(MemoryTracker::with_issues(s.tracker().issues()));
    s.sync(vec![pending(1, "22:00")]).await;
    let issues = s.tracker().issues();
    assert_eq!(issues.len(), 1);
    assert!(issues[0].has_label("log-gardener"), "the label is put back");
    assert!(issues[0]
        .body
        .as_deref()
        .unwrap()
        .starts_with("Note from on-call"));
    assert_eq!(issues[0].tracked().unwrap().total, 24);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_issue_gets_a_new_one_and_a_duplicate_is_left_alone() {
    let mut s = syncer(MemoryTracker::new());
    s.sync(vec![pending(1, "21:00"), pending(2, "21:00")]).await;
    s.tracker().delete(1);
    s.tracker().edit(2, |i| {
        i.state = IssueState::Closed;
        i.state_reason = Some("duplicate".into());
        i.closed_at = Some(t("21:10"));
    });
    let rep = s.sync(vec![pending(1, "22:00"), pending(2, "22:00")]).await;
    assert_eq!(rep.deferred, 0, "{rep:?}");
    let issues = s.tracker().issues();
    assert_eq!(
        issues.len(),
        2,
        "a new issue for 1, nothing for 2: {issues:?}"
    );
    let two = issues.iter().find(|i| i.number == 2).unwrap();
    assert_eq!(
        two.tracked().unwrap().total,
        12,
        "the duplicate is not rewritten"
    );
    assert_eq!(creates(s.tracker()), 3);
}

#[tokio::test(start_paused = true)]
async fn a_comment_whose_answer_was_lost_is_not_posted_again() {
    let mut s = syncer(MemoryTracker::new());
    s.sync(vec![pending(1, "21:00")]).await;
    // The escalation comment reaches GitHub, its answer is lost (a timeout after the write).
    let worse = Pending::of_cluster(&cluster(1, Priority::P0), t("22:00"));
    s.tracker()
        .lose_answers([Some(TrackerError::Retryable("timed out".into()))]);
    let rep = s.sync(vec![worse]).await;
    assert_eq!(rep.deferred, 1, "{rep:?}");
    assert_eq!(comments(s.tracker()), 1);
    let rep = s.sync(vec![]).await;
    assert_eq!(rep.deferred, 0, "{rep:?}");
    assert_eq!(comments(s.tracker()), 1, "the comment is not repeated");
    assert_eq!(
        s.tracker().issues()[0].tracked().unwrap().priority,
        Priority::P0
    );
}

#[tokio::test(start_paused = true)]
async fn a_backfill_stays_within_github_s_secondary_limits() {
    let mut g = settings();
    g.write_spacing = Duration::ZERO;
    g.writes_per_minute = 5;
    g.max_rate_limit_wait = Duration::from_secs(120);
    let mut s = Syncer::new(MemoryTracker::new(), g, Outbox::new(None), false)
        .with_clock(crate::clock::tokio_from(t("23:00")));
    let start = tokio::time::Instant::now();
    s.sync((1..=12).map(|id| pending(id, "21:00")).collect())
        .await;
    assert_eq!(creates(s.tracker()), 12);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(120) && took < Duration::from_secs(130),
        "12 writes at 5 a minute take two minutes: {took:?}"
    );
}

/// An incident in one window whose members are filed alone in the next: one issue, still
/// headed by the incident's root cause, and no issue for the members.
#[tokio::test(start_paused = true)]
async fn members_of_an_incident_filed_alone_later_keep_its_one_issue() {
    let mut s = syncer(MemoryTracker::new());
    let root = cluster(1, Priority::P0);
    let mut warning = cluster(2, Priority::P3);
    warning.template = "Service ID contains leading/trailing whitespace".into();
    let mut incident = Problem::from_cluster(&root, t("21:00"));
    incident.id = ProblemId("inc-1".into());
    incident.aliases = [root.id.into(), warning.id.into()].into_iter().collect();
    s.sync(vec![Pending { problem: incident }]).await;
    s.sync(vec![
        Pending::of_cluster(&root, t("22:00")),
        Pending::of_cluster(&warning, t("22:00")),
    ])
    .await;
    s.sync(vec![Pending::of_cluster(&warning, t("23:00"))])
        .await;
    let issues = s.tracker().issues();
    assert_eq!(creates(s.tracker()), 1, "{issues:#?}");
    // The priority follows the newest window; the headline stays the incident's.
    assert_eq!(
        issues[0].title,
        "[P3] Database connection to <*> failed after <*> ms"
    );
    let ids = issues[0].tracked().unwrap().ids;
    assert!(ids.contains(&ProblemId("inc-1".into())) && ids.contains(&warning.id.into()));
}
