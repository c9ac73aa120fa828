//! The executor against the recording [`MemoryTracker`]: one issue across windows, the write
//! budget and the outbox, rate limits waited out in paused time, refusals reported.

use std::time::Duration;

use super::*;
use crate::escalate::Priority;
use crate::fingerprint::ClusterId;
use crate::sinks::github::memory::{Call, MemoryTracker};
use crate::sinks::github::plan::tests::{cluster, settings, t};

fn pending(id: u64, end: &str) -> Pending {
    Pending {
        window_end: t(end),
        cluster: cluster(id, Priority::P1),
    }
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
    let ids: Vec<ClusterId> = s
        .tracker()
        .issues()
        .iter()
        .filter_map(|i| i.tracked()?.cluster)
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
    let mut s = Syncer::new(MemoryTracker::new(), g, Outbox::new(None), false);
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
    let worse = Pending {
        window_end: t("22:00"),
        cluster: cluster(1, Priority::P0),
    };
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
