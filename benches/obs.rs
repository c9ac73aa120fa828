//! The cost of observability on the hot path: the end-to-end replay (split → parse → stitch →
//! fingerprint → count → close) without metrics installed, then with the Prometheus registry
//! installed (every entry counted by severity), the alert stage's activity feed on every entry
//! (each counted outcome → `AlertHandle::observe`, as the run's outputs do, with `ALERTING`
//! real clusters alerting)
//! and `record_window` per closed window.
//! Target: under 5 % of end-to-end throughput. Also: the hooks alone for as many entries, and
//! the cost of one `/metrics` scrape.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use log_gardener::config::Settings;
use log_gardener::escalate::Priority;
use log_gardener::fingerprint::ClusterId;
use log_gardener::pipeline::{Outcome, Pipeline};
use log_gardener::sinks::alert::{self, AlertEvent, AlertHandle, AlertKind, Policy};
use log_gardener::source::export::{items, Item};
use log_gardener::source::{Origin, RawEntry};
use log_gardener::synth;
use log_gardener::telemetry::metrics::{self, Metrics};

/// The binary's allocator, as in `benches/replay.rs`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hours of generated logs: 300 entries an hour.
const HOURS: u32 = 20;
/// Clusters with a live alert (of the input's ~40 fine ids).
const ALERTING: usize = 10;

fn input() -> Bytes {
    let start = "2025-09-15T00:00:00Z".parse().expect("a time");
    Bytes::from(synth::json_lines(&synth::generate(start, HOURS, 11)))
}

fn replay(
    settings: &Arc<Settings>,
    data: &Bytes,
    hooks: Option<(&Metrics, &AlertHandle)>,
) -> (u64, Vec<ClusterId>) {
    let mut p = Pipeline::for_replay(settings.clone());
    let mut outcomes = Vec::new();
    let mut new = Vec::new();
    let path: Arc<str> = "bench".into();
    let mut observe = |outcomes: &mut Vec<Outcome>| {
        for o in outcomes.drain(..) {
            let Outcome::Counted(c) = o else { continue };
            if let Some((_, alerts)) = hooks {
                alerts.observe(c.cluster, c.at);
                alerts.observe(c.fine, c.at);
            }
            if c.new_cluster {
                new.push(c.cluster);
            }
        }
    };
    for item in items(data, settings.max_entry_bytes) {
        let Item::Entry { data, line } = item else {
            continue;
        };
        let raw = RawEntry {
            data: data.into(),
            origin: Origin::File {
                path: path.clone(),
                line,
            },
        };
        p.ingest(&raw, &mut outcomes);
        observe(&mut outcomes);
    }
    let reports = p.finish(&mut outcomes);
    observe(&mut outcomes);
    if let Some((m, _)) = hooks {
        reports.iter().for_each(|r| m.record_window(r));
    }
    (reports.len() as u64 + p.counts().counted, new)
}

/// An alert stage with live alerts for `ids` and no receivers.
fn alert_stage(rt: &tokio::runtime::Runtime, ids: &[ClusterId]) -> AlertHandle {
    rt.block_on(async {
        let policy = Policy {
            min_priority: Priority::P1,
            repost_every: chrono::TimeDelta::hours(1),
            hold_for: chrono::TimeDelta::hours(2),
            quiet_after: chrono::TimeDelta::hours(1),
            flap_window: chrono::TimeDelta::hours(1),
            rate_limit: chrono::TimeDelta::hours(1),
        };
        let (handle, _task) = alert::spawn(
            policy,
            Vec::new(),
            log_gardener::clock::system(),
            Duration::from_millis(10),
        );
        for &cluster in ids {
            handle.notify(AlertEvent {
                kind: AlertKind::NewCluster,
                cluster,
                aliases: Vec::new(),
                service: "api".into(),
                priority: Priority::P0,
                template: "t".into(),
                sample: None,
                count: None,
                issue_url: None,
                at: Utc::now(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        handle
    })
}

fn bench(c: &mut Criterion) {
    let settings = Arc::new(Settings::load(None).expect("built-in settings"));
    let data = input();
    let entries = items(&data, settings.max_entry_bytes).count() as u64;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (_, fine_ids) = replay(&settings, &data, None);
    let alerts = alert_stage(&rt, &fine_ids[..ALERTING.min(fine_ids.len())]);
    let mut g = c.benchmark_group("obs");
    g.throughput(Throughput::Elements(entries));
    g.sample_size(20);
    g.bench_function("pipeline_without_metrics", |b| {
        assert!(metrics::installed().is_none());
        b.iter(|| black_box(replay(&settings, &data, None).0))
    });
    let m = metrics::install(Arc::new(Metrics::new(metrics::DEFAULT_TOP_K)));
    g.bench_function("pipeline_with_metrics_and_alert_observe", |b| {
        b.iter(|| black_box(replay(&settings, &data, Some((&m, &alerts))).0))
    });
    // The hooks alone, per entry, as the pipeline and the run wiring call them.
    let now = Utc::now();
    g.bench_function("hooks_only_per_entry", |b| {
        b.iter(|| {
            for i in 0..entries {
                m.entry_received();
                m.entry_parsed(log_gardener::entry::Severity::Error);
                alerts.observe(fine_ids[i as usize % fine_ids.len()], now);
            }
        })
    });
    g.finish();
    c.bench_function("obs/metrics_scrape_encode", |b| {
        b.iter(|| black_box(m.encode().len()))
    });
    eprintln!("obs bench input: {entries} entries");
}

criterion_group!(benches, bench);
criterion_main!(benches);
