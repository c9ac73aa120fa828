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
    assert_eq!(changes(&sink), [Change::Fired, Change::Resolved]);
    let resolved = &sink.delivered()[1];
    assert_eq!(
        resolved.ends_at,
        base() + TimeDelta::seconds(30),
        "10 s after the last entry"
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
        fn receiver(&self) -> &'static str {
            "refusing"
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
    let names: Vec<&str> = lanes(&s)
        .expect("clients")
        .iter()
        .map(Lane::receiver)
        .collect();
    assert_eq!(names, ["alertmanager", "alertmanager", "webhook"]);
}
