//! `parse_entry` against `serde_json::from_slice::<Value>` on the same bytes: the edge must keep
//! up with 300k entries/s on one core and stay within 2x of building a `Value` tree. Also the
//! other per-entry steps of the edge: stitching, stack signatures, redaction.
//!
//! The corpus is the example file with Cloud Run's 96-character instance id cut to 32, which
//! brings the mean entry to about 600 bytes, the size seen in production exports.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use log_gardener::entry::{parse_entry, Record};
use log_gardener::fingerprint::stack::signature;
use log_gardener::redact::redact;
use log_gardener::stitch::Stitcher;

const EXAMPLES: &str = include_str!("../samples/logentry-examples.jsonl");
const LONG_INSTANCE: &str = "0069c7a9881c2f4e5d0a7b3e91f2c6d4a8b0e3f7c1d5a9e2b6f0c4d8a2e6b0f4c8d2a6e0b4f8c2d6a0e4b8f2c6d0a4e8b2f6";

fn corpus() -> Vec<Vec<u8>> {
    EXAMPLES
        .lines()
        .map(|l| l.replace(LONG_INSTANCE, &LONG_INSTANCE[..32]).into_bytes())
        .collect()
}

fn bench_parse(c: &mut Criterion) {
    let corpus = corpus();
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    eprintln!(
        "corpus: {} entries, mean {} bytes",
        corpus.len(),
        bytes / corpus.len()
    );
    let mut group = c.benchmark_group("entry");
    group.throughput(Throughput::Elements(corpus.len() as u64));
    group.bench_function("parse_entry", |b| {
        b.iter(|| {
            for line in &corpus {
                let _ = black_box(parse_entry(black_box(line)));
            }
        })
    });
    group.bench_function("serde_json_value", |b| {
        b.iter(|| {
            for line in &corpus {
                let _ = black_box(serde_json::from_slice::<serde_json::Value>(black_box(line)));
            }
        })
    });
    group.finish();
}

fn bench_edge(c: &mut Criterion) {
    let corpus = corpus();
    let records: Vec<Record> = corpus.iter().filter_map(|l| parse_entry(l).ok()).collect();
    let mut group = c.benchmark_group("edge");
    group.throughput(Throughput::Elements(corpus.len() as u64));
    group.bench_function("parse_and_stitch", |b| {
        let mut out = Vec::with_capacity(corpus.len());
        b.iter(|| {
            let mut stitcher = Stitcher::new();
            out.clear();
            for line in &corpus {
                if let Ok(r) = parse_entry(black_box(line)) {
                    stitcher.push(r, &mut out);
                }
            }
            stitcher.flush(&mut out);
            black_box(out.len())
        })
    });
    group.bench_function("stack_signature", |b| {
        b.iter(|| {
            for r in &records {
                black_box(signature(black_box(&r.message)));
            }
        })
    });
    group.bench_function("redact", |b| {
        b.iter(|| {
            for r in &records {
                black_box(redact(black_box(&r.message)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse, bench_edge);
criterion_main!(benches);
