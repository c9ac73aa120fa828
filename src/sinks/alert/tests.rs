//! The alert shell with paused tokio time and the recording fake: delivery right after the
//! event, retries at exact backoff times, resolution once, and a stage that ends when its
//! handles are dropped.

use super::*;
use crate::escalate::Priority;
use chrono::TimeDelta;

fn policy() -> Policy {
    Policy {
        min_priority: Priority::P1,
        repost_every: TimeDelta::seconds(60),
        hold_for: TimeDelta::seconds(120),
        quiet_after: TimeDelta::seconds(10),
        flap_window: TimeDelta::seconds(30),
        rate_limit: TimeDelta::seconds(300),
    }
}

fn event(cluster: u64, at: DateTime<Utc>) -> AlertEvent {
    AlertEvent {
        kind: AlertKind::NewCluster,
        cluster: ClusterId(cluster),
        service: "api".into(),
        priority: Priority::P0,
        template: "Cloud SQL timeout after <*>".into(),
        sample: None,
        count: None,
        issue_url: None,
        aliases: Vec::new(),
        at,
    }
}

fn base() -> DateTime<Utc> {
    "2026-01-01T10:00:00Z".parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_event_is_delivered_at_once_and_failures_retry_with_backoff() {
    let sink = RecordingSink::failing_first(2);
    let lanes = vec![Lane::new(sink.clone(), 16)];
    let clock = crate::clock::tokio_from(base());
    let (handle, task) = spawn(policy(), lanes, clock, Duration::from_millis(500));
    let t0 = tokio::time::Instant::now();
    assert!(handle.notify(event(1, base())));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let times: Vec<Duration> = sink.attempt_times().iter().map(|t| *t - t0).collect();
    assert_eq!(
        times,
        [Duration::ZERO, backoff(1), backoff(1) + backoff(2)],
        "first attempt at once, then 250 ms and 500 ms later"
    );
    let posts = sink.delivered();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].change, Change::Fired);
    drop(handle);
    task.await.expect("stage ends when its handles are gone");
}

#[tokio::test(start_paused = true)]
async fn activity_keeps_the_alert_and_quiet_resolves_it_once() {
    let sink = RecordingSink::default();
    let clock = crate::clock::tokio_from(base());
    let (handle, task) = spawn(
        policy(),
        vec![Lane::new(sink.clone(), 16)],
        clock.clone(),
        Duration::from_millis(500),
    );
    handle.notify(AlertEvent {
        aliases: vec![ClusterId(70)],
        ..event(7, base())
    });
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Entries of a fine id of the cluster (what `Pipeline::on_activity` reports).
        handle.observe(ClusterId(70), clock());
        handle.observe(ClusterId(8), clock());
    }
    let changes = |s: &RecordingSink| s.delivered().iter().map(|p| p.change).collect::<Vec<_>>();
    assert_eq!(
        changes(&sink),
        [Change::Fired],
        "20 s of activity: still firing"
    );
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert_eq!(
        changes(&sink),
        [Change::Fired],
        "quiet for 25 s: within quiet_after + flap_window, nothing said"
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(changes(&sink), [Change::Fired, Change::Resolved]);
    let resolved = &sink.delivered()[1];
    assert_eq!(
        resolved.ends_at,
        base() + TimeDelta::seconds(30),
        "endsAt: 10 s after the last entry, when it went quiet"
    );
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(sink.delivered().len(), 2, "resolved once");
    drop(handle);
    task.await.expect("stage ends");
}

#[tokio::test(start_paused = true)]
async fn every_lane_gets_every_post_and_a_permanent_failure_is_not_retried() {
    struct Refusing;
    impl AlertSink for Refusing {
        fn receiver(&self) -> String {
            "refusing".into()
        }
        async fn deliver(&self, _: &[AlertPost]) -> Result<(), DeliveryError> {
            Err(DeliveryError::Permanent("400 Bad Request".into()))
        }
    }
    let (a, b) = (RecordingSink::default(), RecordingSink::default());
    let lanes = vec![
        Lane::new(a.clone(), 16),
        Lane::new(Refusing, 16),
        Lane::new(b.clone(), 16),
    ];
    let (handle, task) = spawn(
        policy(),
        lanes,
        crate::clock::tokio_from(base()),
        Duration::from_secs(1),
    );
    handle.notify(event(1, base()));
    handle.notify(event(2, base()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(a.delivered().len(), 2);
    assert_eq!(
        b.delivered().len(),
        2,
        "an HA pair: both instances get both alerts"
    );
    drop(handle);
    task.await.expect("stage ends");
}

#[test]
fn the_configured_receivers_become_lanes() {
    let mut s = crate::config::Settings::load(None)
        .expect("defaults")
        .alerts;
    assert!(lanes(&s).expect("no clients").is_empty());
    s.alertmanager_urls = vec!["http://am-0:9093".into(), "http://am-1:9093".into()];
    s.webhook_url = Some("https://hooks.example.com/x".into());
    let lanes = lanes(&s).expect("clients");
    let names: Vec<&str> = lanes.iter().map(Lane::receiver).collect();
    assert_eq!(
        names,
        [
            "alertmanager@am-0:9093",
            "alertmanager@am-1:9093",
            "webhook@hooks.example.com"
        ],
        "one receiver label per URL, never a webhook's path"
    );
}

#[tokio::test(start_paused = true)]
async fn receivers_down_for_60s_get_every_fire_and_resolution_once() {
    let (am, chat) = (RecordingSink::default(), RecordingSink::chat());
    am.set_down(true);
    chat.set_down(true);
    let policy = Policy {
        repost_every: TimeDelta::seconds(60),
        hold_for: TimeDelta::seconds(120),
        quiet_after: TimeDelta::seconds(10),
        flap_window: TimeDelta::seconds(20),
        ..policy()
    };
    let lanes = vec![Lane::new(am.clone(), 16), Lane::new(chat.clone(), 16)];
    let clock = crate::clock::tokio_from(base());
    let (handle, task) = spawn(policy, lanes, clock, Duration::from_secs(1));
    handle.notify(event(1, base()));
    // Fires at once, resolves 30 s later: both during the outage.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(am.delivered().is_empty() && chat.delivered().is_empty());
    am.set_down(false);
    chat.set_down(false);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let said = |s: &RecordingSink| s.delivered().iter().map(|p| p.change).collect::<Vec<_>>();
    assert_eq!(said(&chat), [Change::Fired, Change::Resolved]);
    assert_eq!(said(&am), [Change::Fired, Change::Resolved]);
    assert!(am.attempt_times().len() > 4, "retried through the outage");
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(said(&chat).len(), 2, "once each");
    drop(handle);
    task.await.expect("stage ends");
}

#[tokio::test(start_paused = true)]
async fn the_latest_state_wins_and_a_post_is_given_up_after_resolve_timeout() {
    let am = RecordingSink::default();
    am.set_down(true);
    let policy = Policy {
        repost_every: TimeDelta::seconds(30),
        hold_for: TimeDelta::seconds(60),
        quiet_after: TimeDelta::seconds(600),
        ..policy()
    };
    let clock = crate::clock::tokio_from(base());
    let lanes = vec![Lane::new(am.clone(), 16)];
    let (handle, task) = spawn(policy.clone(), lanes, clock, Duration::from_secs(1));
    handle.notify(event(1, base()));
    // Down for 100 s: the fire and the re-posts at 30, 60 and 90 s merge into one post.
    tokio::time::sleep(Duration::from_secs(100)).await;
    am.set_down(false);
    tokio::time::sleep(Duration::from_secs(15)).await;
    let got = am.delivered();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].change, Change::Fired, "still the page");
    assert_eq!(
        got[0].ends_at,
        base() + TimeDelta::seconds(150),
        "the state of the 90 s re-post"
    );
    drop(handle);
    task.await.expect("stage ends");

    // Nothing newer comes (no re-post within the outage): given up after resolve_timeout.
    let dead = RecordingSink::default();
    dead.set_down(true);
    let quiet = Policy {
        repost_every: TimeDelta::seconds(3600),
        ..policy
    };
    let clock = crate::clock::tokio_from(base());
    let (handle, task) = spawn(
        quiet,
        vec![Lane::new(dead.clone(), 16)],
        clock,
        Duration::from_secs(1),
    );
    handle.notify(event(2, base()));
    tokio::time::sleep(Duration::from_secs(120)).await;
    let tried = dead.attempt_times().len();
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(
        dead.attempt_times().len(),
        tried,
        "no attempts after resolve_timeout"
    );
    let last = *dead.attempt_times().last().expect("attempts");
    assert!(last.duration_since(dead.attempt_times()[0]) <= Duration::from_secs(60));
    drop(handle);
    task.await.expect("stage ends");
}

#[tokio::test(start_paused = true)]
async fn with_checkpoints_a_fire_waits_for_the_checkpoint_that_holds_it() {
    let am = RecordingSink::default();
    let clock = crate::clock::tokio_from(base());
    let (handle, task) = spawn(
        policy(),
        vec![Lane::new(am.clone(), 16)],
        clock,
        Duration::from_millis(100),
    );
    handle.hold_fires_until_committed();
    handle.notify(event(1, base()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(am.delivered().is_empty(), "not before the checkpoint");
    tokio::time::timeout(Duration::from_millis(1), handle.fire_held().notified())
        .await
        .expect("the stage asked for that checkpoint");
    let snap = handle.snapshot();
    assert_eq!(snap.alerts.len(), 1);
    handle.committed(snap.seq);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(am.delivered().len(), 1);
    // A restart from that checkpoint: the redelivered entries' event pages nobody again.
    let again = RecordingSink::default();
    let (h2, t2) = spawn(
        policy(),
        vec![Lane::new(again.clone(), 16)],
        crate::clock::tokio_from(base()),
        Duration::from_millis(100),
    );
    h2.restore(snap);
    h2.notify(event(1, base()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let changes: Vec<Change> = again.delivered().iter().map(|p| p.change).collect();
    assert_eq!(changes, [Change::Reposted]);
    drop((handle, h2));
    task.await.expect("stage ends");
    t2.await.expect("stage ends");
}
