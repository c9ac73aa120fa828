//! End-to-end replay throughput on one core: generated ~600-byte LogEntry JSON lines through
//! export reader → parse → stitch → fingerprint → window count → window close (oldest first,
//! and newest first as `gcloud` exports them), measured beside
//! `serde_json` parsing the same bytes into a `Value`, and into the borrowed `LogEntry` struct,
//! and nothing else; reading only each entry's time (what surveying a large file costs); and `replay` as the binary runs it
//! (`app::block_on`: its runtime, the file source on its thread, the driver, worklogs written to
//! a temporary directory and made durable), timing the replay only, not deleting its worklogs.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use log_gardener::app::{self, Command};
use log_gardener::config::Settings;
use log_gardener::entry::model::LogEntry;
use log_gardener::pipeline::Pipeline;
use log_gardener::source::export::{ExportReader, Item};
use log_gardener::source::{Origin, RawEntry};
use log_gardener::synth;

/// The binary's allocator: the pipeline allocates a few small strings per entry, and
/// mimalloc makes that markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hours of generated logs: 300 entries an hour.
const HOURS: u32 = 40;

fn input() -> Bytes {
    let start = "2025-09-15T00:00:00Z".parse().unwrap();
    Bytes::from(synth::json_lines(&synth::generate(start, HOURS, 11)))
}

fn replay(settings: &Arc<Settings>, data: &Bytes) -> u64 {
    let mut p = Pipeline::for_replay(settings.clone());
    let mut events = Vec::new();
    let path: Arc<str> = "bench".into();
    let mut reader = ExportReader::new(&data[..], settings.max_entry_bytes);
    while let Ok(Some(item)) = reader.next_item() {
        if let Item::Entry { data, line } = item {
            let raw = RawEntry {
                data: Bytes::from(data),
                origin: Origin::File {
                    path: path.clone(),
                    line,
                },
            };
            p.ingest(&raw, &mut events);
        }
        events.clear();
    }
    p.finish(&mut events).len() as u64 + p.counts().counted
}

fn bench(c: &mut Criterion) {
    let settings = Arc::new(Settings::load(None).expect("built-in settings"));
    let data = input();
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.sample_size(10);
    g.bench_function("serde_json_value_parse_only", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(serde_json::from_slice::<serde_json::Value>(l).ok());
            }
        })
    });
    g.bench_function("borrowed_logentry_parse_only", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(serde_json::from_slice::<LogEntry<'_>>(l).ok());
            }
        })
    });
    // What surveying a large file costs an entry (see `source::slice`): its time, nothing else.
    g.bench_function("event_time_only", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(log_gardener::entry::event_time(l));
            }
        })
    });
    g.bench_function("pipeline_end_to_end", |b| {
        b.iter(|| black_box(replay(&settings, &data)))
    });
    // The same entries newest first, as `gcloud logging read` exports them: each cluster's
    // kept sample is replaced by nearly every entry.
    let newest_first = {
        let mut out = Vec::with_capacity(data.len());
        for l in lines.iter().rev() {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        Bytes::from(out)
    };
    g.bench_function("pipeline_end_to_end_newest_first", |b| {
        b.iter(|| black_box(replay(&settings, &newest_first)))
    });
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &data).expect("the input written");
    let command = || Command::Replay {
        input: file.clone(),
        out: dir.path().join("worklogs"),
        progress: false,
    };
    // As the binary runs it (`app::block_on`: its runtime, its signal handlers), the worklogs
    // made durable at the end included. Deleting them afterwards is not: on a file system
    // mounted with `discard` (this VM's ext4), each synced file deleted costs a synchronous
    // discard, ~4 ms a file, which timed here was two thirds of an iteration.
    g.bench_function("app_replay_end_to_end", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let summary = app::block_on(settings.clone(), command()).expect("the replay runs");
                took += started.elapsed();
                black_box(summary.written.len());
                std::fs::remove_dir_all(dir.path().join("worklogs")).ok();
            }
            took
        })
    });
    g.finish();
    eprintln!(
        "replay bench input: {} entries, mean {} bytes",
        lines.len(),
        data.len() / lines.len().max(1)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
