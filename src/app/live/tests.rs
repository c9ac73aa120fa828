//! `run` end to end with the fake source and an in-memory checkpoint store: the ack rule as a
//! sequence, redeliveries, malformed input, and shutdown draining.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use bytes::Bytes;

use super::*;
use crate::config::Watermark;
use crate::live::MemoryCheckpoint;
use crate::source::fake::{FakeSource, Log, LogLine};

fn settings() -> Arc<Settings> {
    let mut s = Settings::load(None).unwrap();
    s.live.watermark = Watermark::EventTime;
    s.live.flush_on_shutdown = true;
    Arc::new(s)
}

struct Reports(Arc<Mutex<Vec<WindowReport>>>);

impl WorklogSink for Reports {
    fn write(&mut self, r: &WindowReport) -> Result<Vec<PathBuf>, WorklogError> {
        self.0.lock().unwrap().push(r.clone());
        Ok(Vec::new())
    }
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

async fn run_fake(
    hold_open: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (LiveSummary, Vec<LogLine>, Vec<WindowReport>) {
    let log = Log::default();
    let checkpoints = Arc::new(MemoryCheckpoint {
        log: Some(log.clone()),
        ..MemoryCheckpoint::default()
    });
    let source = FakeSource {
        messages: messages(),
        log: log.clone(),
        hold_open,
    };
    let reports = Arc::new(Mutex::new(Vec::new()));
    let summary = run(
        settings(),
        source,
        checkpoints,
        Reports(reports.clone()),
        None,
        Observe::default(),
        shutdown,
    )
    .await
    .unwrap();
    let lines = log.lock().unwrap().clone();
    let reports = reports.lock().unwrap().clone();
    (summary, lines, reports)
}

#[tokio::test]
async fn every_ack_follows_a_checkpoint_that_holds_its_message() {
    let (summary, lines, reports) = run_fake(false, std::future::pending()).await;
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
    // The last checkpoint holds every distinct message.
    let last = lines.iter().rev().find_map(|l| match l {
        LogLine::Checkpoint { received } => Some(*received),
        _ => None,
    });
    assert_eq!(last, Some(total as u64 - 1));
    assert_eq!(summary.stats.duplicates, 1);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].totals.entries, summary.counts.counted);
    assert_eq!(reports[0].malformed.total, 1);
}

#[tokio::test]
async fn shutdown_drains_what_was_delivered_and_acks_it() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async {
        let _ = rx.await;
    };
    let task = tokio::spawn(run_fake(true, stop));
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.send(()).unwrap();
    let (summary, lines, reports) = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("run ends within 10 s of the signal")
        .unwrap();
    assert_eq!(summary.stats.acked as usize, messages().len());
    assert!(!lines
        .iter()
        .any(|l| matches!(l, LogLine::Nack(_) | LogLine::Dropped(_))));
    assert_eq!(reports.len(), 1, "flush_on_shutdown closed the window");
}

#[tokio::test]
async fn a_checkpoint_that_cannot_be_written_acks_nothing() {
    let log = Log::default();
    let checkpoints = Arc::new(MemoryCheckpoint {
        log: Some(log.clone()),
        ..MemoryCheckpoint::default()
    });
    checkpoints.fail.store(true, Ordering::SeqCst);
    let source = FakeSource {
        messages: messages(),
        log: log.clone(),
        hold_open: false,
    };
    let reports = Arc::new(Mutex::new(Vec::new()));
    let e = run(
        settings(),
        source,
        checkpoints,
        Reports(reports),
        None,
        Observe::default(),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        e,
        LiveError::Checkpoint(CheckpointError::Write { .. })
    ));
    let lines = log.lock().unwrap().clone();
    assert!(
        !lines.iter().any(|l| matches!(l, LogLine::Ack(_))),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| matches!(l, LogLine::Dropped(_))),
        "left for redelivery"
    );
}

#[tokio::test]
async fn half_the_flow_control_allowance_waiting_triggers_a_checkpoint_before_the_timer() {
    let mut s = (*settings()).clone();
    s.pubsub.streams = 1;
    s.pubsub.max_outstanding_messages = 4;
    s.live.checkpoint_every = Duration::from_secs(3600);
    let log = Log::default();
    let checkpoints = Arc::new(MemoryCheckpoint {
        log: Some(log.clone()),
        ..MemoryCheckpoint::default()
    });
    let source = FakeSource {
        messages: messages(),
        log: log.clone(),
        hold_open: true,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let sink = Reports(Arc::new(Mutex::new(Vec::new())));
    let task = tokio::spawn(run(
        Arc::new(s),
        source,
        checkpoints,
        sink,
        None,
        Observe::default(),
        async {
            let _ = rx.await;
        },
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let acked = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| matches!(l, LogLine::Ack(_)))
        .count();
    assert!(
        acked + 1 >= messages().len(),
        "acked {acked} before the hourly timer"
    );
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn closed_windows_go_on_to_the_github_stage() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::load(None).unwrap();
    s.live.watermark = Watermark::EventTime;
    s.live.flush_on_shutdown = true;
    let toml = format!(
        "[github]\nrepo = \"acme/backend\"\nstate_dir = {:?}\n",
        dir.path()
    );
    let f = dir.path().join("gh.toml");
    std::fs::write(&f, toml).unwrap();
    let g = Settings::load(Some(&f)).unwrap().github.unwrap();
    let issues = AnyIssueSink::new(&g, None, s.issue_min_priority, dir.path()).unwrap();
    let source = FakeSource {
        messages: messages(),
        log: Log::default(),
        hold_open: false,
    };
    let summary = run(
        Arc::new(s),
        source,
        Arc::new(MemoryCheckpoint::default()),
        crate::sinks::worklog::DirWorklog::new(dir.path()),
        Some(issues),
        Observe::default(),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(summary.reports.len(), 1);
    assert_eq!(summary.github.len(), 1, "one sync per closed window");
    let sync = &summary.github[0];
    assert!(sync.dry_run);
    let wanted = summary.reports[0]
        .clusters
        .iter()
        .filter(|c| c.priority <= crate::escalate::Priority::P3)
        .count();
    assert_eq!(
        sync.sent.len(),
        wanted,
        "one planned issue per cluster at P3 or above"
    );
    let md = std::fs::read_to_string(dir.path().join("2025-09-15T200000Z.md")).unwrap();
    assert!(
        md.contains("## GitHub"),
        "the worklog names what the sink did"
    );
}
