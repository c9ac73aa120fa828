//! The one wiring end to end with the fake source, an in-memory checkpoint store and paused
//! time: the ack rule as a sequence, redeliveries, malformed input, shutdown draining, the
//! GitHub stage recording what it did in the worklog, and a replay through the same driver.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::config::Watermark;
use crate::driver::{CheckpointError, MemoryCheckpoint};
use crate::report::WindowReport;
use crate::source::fake::{FakeSource, Log, LogLine};

fn settings() -> Arc<Settings> {
    let mut s = Settings::load(None).unwrap();
    s.live.watermark = Watermark::EventTime;
    s.live.flush_on_shutdown = true;
    Arc::new(s)
}

fn messages() -> Vec<(String, Bytes)> {
    let entries = crate::synth::generate("2025-09-15T19:00:00Z".parse().unwrap(), 1, 3);
    let mut m: Vec<(String, Bytes)> = entries
        .iter()
        .enumerate()
        .map(|(i, (_, e))| (format!("m{i}"), Bytes::from(e.to_string())))
        .collect();
    m.insert(5, ("m3".into(), m[3].1.clone())); // a redelivery
    m.push(("junk".into(), Bytes::from_static(b"\xff\xfe not json")));
    m
}

fn wiring(s: Arc<Settings>, dir: &std::path::Path, store: Arc<MemoryCheckpoint>) -> Wiring {
    let clock = crate::clock::tokio_from("2025-09-15T21:00:00Z".parse().unwrap());
    let mut w = Wiring::new(s, DirWorklog::new(dir), clock);
    w.checkpoints = Some(store);
    w
}

fn reports(dir: &std::path::Path) -> Vec<WindowReport> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.to_string_lossy().ends_with(".github.json")
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

fn store_with(log: &Log) -> Arc<MemoryCheckpoint> {
    Arc::new(MemoryCheckpoint {
        log: Some(log.clone()),
        ..MemoryCheckpoint::default()
    })
}

fn source(log: &Log, hold_open: bool) -> FakeSource {
    FakeSource {
        messages: messages(),
        log: log.clone(),
        hold_open,
    }
}

#[tokio::test(start_paused = true)]
async fn every_ack_follows_a_checkpoint_that_holds_its_message() {
    let (dir, log) = (tempfile::tempdir().unwrap(), Log::default());
    let w = wiring(settings(), dir.path(), store_with(&log));
    let summary = w
        .drive(source(&log, false), std::future::pending())
        .await
        .unwrap();
    let lines = log.lock().unwrap().clone();
    let total = messages().len();
    let acks: Vec<usize> = (0..lines.len())
        .filter(|&i| matches!(lines[i], LogLine::Ack(_)))
        .collect();
    assert_eq!(
        acks.len(),
        total,
        "every message acked, the redelivery too: {lines:?}"
    );
    let first_checkpoint = lines
        .iter()
        .position(|l| matches!(l, LogLine::Checkpoint { .. }))
        .unwrap();
    assert!(acks[0] > first_checkpoint);
    let last = lines.iter().rev().find_map(|l| match l {
        LogLine::Checkpoint { received } => Some(*received),
        _ => None,
    });
    assert_eq!(
        last,
        Some(total as u64 - 1),
        "the last checkpoint holds every distinct message"
    );
    assert_eq!(summary.drive.stats.redeliveries, 1);
    let reports = reports(dir.path());
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].totals.entries, summary.drive.counts.counted);
    assert_eq!(reports[0].malformed.total, 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_what_was_delivered_and_acks_it() {
    let (dir, log) = (tempfile::tempdir().unwrap(), Log::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let w = wiring(settings(), dir.path(), store_with(&log));
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(w.drive(source(&log, true), async {
        let _ = rx.await;
    }));
    tokio::time::sleep(Duration::from_secs(1)).await;
    tx.send(()).unwrap();
    let summary = task.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ends within 10 s of the signal"
    );
    assert_eq!(summary.drive.stats.acked as usize, messages().len());
    let lines = log.lock().unwrap().clone();
    assert!(!lines
        .iter()
        .any(|l| matches!(l, LogLine::Nack(_) | LogLine::Dropped(_))));
    assert_eq!(
        reports(dir.path()).len(),
        1,
        "flush_on_shutdown closed the window"
    );
}

#[tokio::test(start_paused = true)]
async fn a_checkpoint_that_cannot_be_written_acks_nothing_and_says_so() {
    let (dir, log) = (tempfile::tempdir().unwrap(), Log::default());
    let store = store_with(&log);
    store.fail.store(true, Ordering::SeqCst);
    let w = wiring(settings(), dir.path(), store);
    let readiness = w.readiness.clone();
    let e = w
        .drive(source(&log, false), std::future::pending())
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        AppError::CheckpointWrite(CheckpointError::Write { .. })
    ));
    assert_eq!(e.exit_code(), 5);
    let lines = log.lock().unwrap().clone();
    assert!(
        !lines.iter().any(|l| matches!(l, LogLine::Ack(_))),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| matches!(l, LogLine::Dropped(_))),
        "left for redelivery"
    );
    assert!(
        readiness
            .missing()
            .iter()
            .any(|m| m.contains("checkpoint failing")),
        "{:?}",
        readiness.missing()
    );
}

#[tokio::test(start_paused = true)]
async fn half_the_flow_control_allowance_waiting_triggers_a_checkpoint_before_the_timer() {
    let mut s = (*settings()).clone();
    s.pubsub.streams = 1;
    s.pubsub.max_outstanding_messages = 4;
    s.live.checkpoint_every = Duration::from_secs(3600);
    let (dir, log) = (tempfile::tempdir().unwrap(), Log::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let w = wiring(Arc::new(s), dir.path(), store_with(&log));
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(w.drive(source(&log, true), async {
        let _ = rx.await;
    }));
    let acked = || {
        log.lock()
            .unwrap()
            .iter()
            .filter(|l| matches!(l, LogLine::Ack(_)))
            .count()
    };
    // The timer's first tick is at once; every later checkpoint must be an early one.
    while acked() + 4 < messages().len() {
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            started.elapsed() < Duration::from_secs(3000),
            "acked only {} before the hourly timer",
            acked()
        );
    }
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// A source that says nothing for `.1`, then is `.0`.
struct Later(FakeSource, Duration);

impl Source for Later {
    fn boundedness(&self) -> Boundedness {
        self.0.boundedness()
    }

    async fn run(
        self,
        out: mpsc::Sender<Batch>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<crate::source::SourceStats, crate::source::SourceError> {
        tokio::time::sleep(self.1).await;
        self.0.run(out, shutdown).await
    }
}

/// A fire waits for the checkpoint holding it (a crash must not page twice) and asks for
/// one: a P0 is delivered within seconds, not at the checkpoint timer's next tick.
#[tokio::test(start_paused = true)]
async fn a_p0_is_delivered_within_seconds_whatever_the_checkpoint_timer() {
    use crate::sinks::alert::{Lane, RecordingSink};
    let mut s = (*settings()).clone();
    s.live.checkpoint_every = Duration::from_secs(3600);
    let s = Arc::new(s);
    let (dir, log) = (tempfile::tempdir().unwrap(), Log::default());
    let am = RecordingSink::default();
    let mut w = wiring(s.clone(), dir.path(), store_with(&log));
    let (alerts, stage) = crate::sinks::alert::spawn(
        s.alerts.policy.clone(),
        vec![Lane::new(am.clone(), 16)],
        w.clock.clone(),
        Duration::from_millis(100),
    );
    w.alerts = Some(alerts);
    let p0 = serde_json::json!({"timestamp": "2025-09-15T20:59:00Z", "severity": "ERROR",
        "insertId": "p0", "textPayload": "Database initialization timeout after 25.0s in staging",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}});
    // After the checkpoint timer's first tick, which is at once.
    let source = Later(
        FakeSource {
            messages: vec![("p0".into(), Bytes::from(p0.to_string()))],
            log: log.clone(),
            hold_open: true,
        },
        Duration::from_secs(10),
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(w.drive(source, async {
        let _ = rx.await;
    }));
    let sent = tokio::time::Instant::now() + Duration::from_secs(10);
    while am.delivered().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            tokio::time::Instant::now() < sent + Duration::from_secs(5),
            "no page 5 s after the entry came: {:?}",
            log.lock().unwrap()
        );
    }
    let post = &am.delivered()[0];
    assert_eq!(
        (post.change, post.priority),
        (
            crate::alerting::Change::Fired,
            crate::escalate::Priority::P0
        )
    );
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|l| matches!(l, LogLine::Checkpoint { received: 1 })),
        "after a checkpoint holding it"
    );
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    stage.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn closed_windows_go_to_the_github_stage_which_the_worklog_records() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("gh.toml");
    std::fs::write(
        &f,
        format!(
            "[github]\nrepo = \"acme/backend\"\nstate_dir = {:?}\n",
            dir.path()
        ),
    )
    .unwrap();
    let mut s = Settings::load(Some(&f)).unwrap();
    s.live.watermark = Watermark::EventTime;
    s.live.flush_on_shutdown = true;
    let w = wiring(Arc::new(s), dir.path(), Arc::default())
        .with_github(None)
        .unwrap();
    let summary = w
        .drive(source(&Log::default(), false), std::future::pending())
        .await
        .unwrap();
    let github = summary.github.expect("the GitHub stage ran");
    assert!(github.dry_run);
    let report = &reports(dir.path())[0];
    // One planned issue per incident at P3 or above, and one per such cluster in no incident.
    let wanted = crate::sinks::github::pending(report, crate::escalate::Priority::P3).len();
    assert!(wanted > 0, "the synthetic log has problems to file");
    assert_eq!(github.actions, wanted);
    let recorded = report
        .github
        .as_ref()
        .expect("the worklog JSON records the sync");
    assert_eq!(recorded.actions.len(), wanted);
    assert!(
        dir.path().join(&recorded.details).exists(),
        "{}",
        recorded.details
    );
    let md = std::fs::read_to_string(dir.path().join("2025-09-15T200000Z.md")).unwrap();
    assert!(
        md.contains("## GitHub"),
        "the worklog names what the sink did"
    );
    assert!(md.trim_end().ends_with(".*"), "the footer stays last");
}

#[tokio::test(start_paused = true)]
async fn a_replay_runs_through_the_same_driver_and_settles_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let entries = crate::synth::generate("2025-09-15T19:00:00Z".parse().unwrap(), 2, 3);
    std::fs::write(&input, crate::synth::json_lines(&entries)).unwrap();
    let out = dir.path().join("out");
    let w = Wiring::new(settings(), DirWorklog::new(&out), crate::clock::system());
    let summary = w
        .drive(
            crate::source::file::FileSource::new(&input),
            std::future::pending(),
        )
        .await
        .unwrap();
    assert_eq!(summary.drive.counts.received, entries.len() as u64);
    assert_eq!(
        summary.drive.stats.acked,
        entries.len() as u64,
        "no checkpoint to wait for"
    );
    let reports = reports(&out);
    assert_eq!(reports.len(), 2);
    let counted: u64 = reports.iter().map(|r| r.totals.entries).sum();
    assert_eq!(counted, summary.drive.counts.counted);
}
