//! Throughput of the fingerprint hot path on real log lines: the Content column of the
//! Loghub-2k structured CSVs (shipped in `tests/data/loghub-2k`).
//!
//! `fingerprint/warm`: every line through a Fingerprinter that has already seen them all (the
//! steady state: mask + hash + map lookup). `parse_lines/cold`: the batch used by
//! `log-gardener parse` (mask, mine, output) from scratch. `redact/*`: the secret pre-scan
//! alone, and the whole output boundary (neutralise + redact) per line.

use std::time::Duration;

#[path = "../tests/support/loghub.rs"]
mod loghub;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use log_gardener::entry::SeverityClass;
use log_gardener::fingerprint::{mask, parse_lines, Fingerprinter, KeyParts};

/// Every data set's lines, concatenated (the data ships with the repository: missing is a bug).
fn content_lines() -> Vec<String> {
    loghub::DATASETS
        .iter()
        .flat_map(|d| loghub::contents(d).unwrap_or_else(|e| panic!("{d}: {e}")))
        .collect()
}

fn benches(c: &mut Criterion) {
    let lines = content_lines();
    let key = KeyParts {
        service: "bench",
        class: SeverityClass::Info,
        location: "",
    };
    let fp = Fingerprinter::new();
    for line in &lines {
        fp.fingerprint(&key, line);
    }
    let mut group = c.benchmark_group("fingerprint");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(20).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("warm", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for line in &lines {
                acc ^= fp.fingerprint(&key, line).0;
            }
            acc
        })
    });
    let mut buf = String::new();
    group.bench_function("mask_only", |b| {
        b.iter(|| {
            let mut acc = 0usize;
            for line in &lines {
                mask::mask_into(line, &mut buf);
                acc += buf.len();
            }
            acc
        })
    });
    group.finish();

    // The secret pre-scan alone (now the first step of every mask): clean lines cost one
    // RegexSet scan and come back borrowed.
    let mut group = c.benchmark_group("redact");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(20).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("mask_secrets", |b| {
        b.iter(|| {
            let mut acc = 0usize;
            for line in &lines {
                acc += log_gardener::redact::mask_secrets(line).len();
            }
            acc
        })
    });
    group.bench_function("inert", |b| {
        b.iter(|| {
            let mut acc = 0usize;
            for line in &lines {
                acc += log_gardener::redact::Inert::new(line).as_str().len();
            }
            acc
        })
    });
    group.finish();

    let mut group = c.benchmark_group("parse_lines");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("cold", |b| {
        b.iter(|| parse_lines(lines.iter().map(String::as_str)).len())
    });
    group.finish();
}

criterion_group!(fingerprint, benches);
criterion_main!(fingerprint);
