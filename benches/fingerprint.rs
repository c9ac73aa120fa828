//! Throughput of the fingerprint hot path on real log lines: the Content column of the
//! Loghub-2k structured CSVs (read from `../shared/data`, never copied into the crate).
//!
//! `fingerprint/warm`: every line through a Fingerprinter that has already seen them all (the
//! steady state: mask + hash + map lookup). `parse_lines/cold`: the batch used by
//! `log-gardener parse` (mask, mine, output) from scratch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use log_gardener::entry::SeverityClass;
use log_gardener::fingerprint::{mask, parse_lines, Fingerprinter, KeyParts};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/loghub-2k")
}

/// Splits CSV text into records of fields (RFC 4180 quoting).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, _) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, '\r') => {}
            (false, _) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// The Content column of every `*_2k.log_structured_corrected.csv` found (sorted by data set).
fn content_lines() -> Vec<String> {
    let Ok(dirs) = std::fs::read_dir(data_dir()) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dirs
        .flatten()
        .filter_map(|d| {
            let name = d.file_name().to_string_lossy().to_string();
            let file = d
                .path()
                .join(format!("{name}_2k.log_structured_corrected.csv"));
            file.exists().then_some(file)
        })
        .collect();
    files.sort();
    let mut lines = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let records = csv_records(&text);
        let Some(col) = records
            .first()
            .and_then(|h| h.iter().position(|f| f == "Content"))
        else {
            continue;
        };
        lines.extend(records.iter().skip(1).filter_map(|r| r.get(col).cloned()));
    }
    lines
}

fn benches(c: &mut Criterion) {
    let lines = content_lines();
    if lines.is_empty() {
        eprintln!("no Loghub data under {}; skipping", data_dir().display());
        return;
    }
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
