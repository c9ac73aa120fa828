//! Bounded fingerprinting work (issue 12): the worst single entries up to
//! `input.max_entry_bytes` (262,144 bytes), and N distinct random-word messages under one key
//! for N = 10k, 100k, 1M (the time must grow linearly), from a large vocabulary and from a
//! small one with digits in every word (where every template is a candidate for the others).
//!
//! Peak heap is measured by a counting global allocator around the system one: the bytes live
//! at the worst moment of one measured call, above what was live before it. It is printed as
//! `peak heap` lines next to criterion's times.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use log_gardener::entry::SeverityClass;
use log_gardener::fingerprint::{Fingerprinter, KeyParts};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if new > layout.size() {
            let now = LIVE.fetch_add(new - layout.size(), Relaxed) + new - layout.size();
            PEAK.fetch_max(now, Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new, Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` once; returns its wall time and the peak heap above what was live before it.
fn measure<T>(f: impl FnOnce() -> T) -> (Duration, usize, T) {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    (took, PEAK.load(Relaxed) - base, out)
}

const KEY: KeyParts<'static> = KeyParts {
    service: "bench",
    class: SeverityClass::Error,
    location: "",
};

/// `input.max_entry_bytes`: the largest message an entry can carry.
const MAX_ENTRY: usize = 262_144;

/// A deterministic xorshift stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A plain lower-case word from a number: never masked, distinct numbers distinct words.
fn word(mut i: u64) -> String {
    let mut w = String::new();
    loop {
        w.push((b'a' + (i % 26) as u8) as char);
        i /= 26;
        if i == 0 {
            return w;
        }
    }
}

fn cut(mut s: String) -> String {
    s.truncate(MAX_ENTRY);
    while !s.is_char_boundary(s.len()) {
        s.pop();
    }
    s
}

/// The worst shapes of one entry we could think of, each at most `MAX_ENTRY` bytes.
fn worst_entries() -> Vec<(&'static str, String)> {
    let words = |n: u64| {
        (0..n)
            .map(|i| word(i * 7 + 1000))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let digits: String = (0..MAX_ENTRY)
        .map(|i| b"0123456789.:,-/"[i % 15] as char)
        .collect();
    let quotes: String = (0..MAX_ENTRY / 2)
        .map(|i| if i % 2 == 0 { "'\"" } else { "\"'" })
        .collect();
    let nested = format!(
        "{}x{}",
        "([{\"'".repeat(MAX_ENTRY / 12),
        "'\"}])".repeat(MAX_ENTRY / 12)
    );
    let trace = format!(
        "Traceback (most recent call last):\n{}ValueError: bad",
        "  File \"/app/x.py\", line 1, in f\n    f()\n".repeat(MAX_ENTRY / 48)
    );
    vec![
        ("20k_distinct_words", cut(words(20_000))),
        ("40k_distinct_words", cut(words(40_000))),
        ("one_giant_token", "x".repeat(MAX_ENTRY)),
        ("digits_and_punctuation", digits),
        ("deep_quoting", cut(quotes)),
        ("nested_brackets", cut(nested)),
        ("giant_traceback", cut(trace)),
        ("hex_pairs", cut("ab:".repeat(MAX_ENTRY / 3))),
    ]
}

fn one_entry(c: &mut Criterion) {
    let mut group = c.benchmark_group("entry_worst");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (name, message) in worst_entries() {
        assert!(message.len() <= MAX_ENTRY, "{name}");
        // Peak heap of one first sight (mask, mine, publish) in a fresh fingerprinter.
        let (took, peak, _) = measure(|| {
            let fp = Fingerprinter::new();
            fp.fingerprint(&KEY, &message);
            fp
        });
        eprintln!(
            "peak heap entry_worst/{name}: {:.2} MB, {} bytes, first sight {:.2} ms",
            peak as f64 / 1e6,
            message.len(),
            took.as_secs_f64() * 1e3
        );
        group.throughput(Throughput::Bytes(message.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched(
                Fingerprinter::new,
                |fp| black_box(fp.fingerprint(&KEY, &message)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// `n` distinct messages of 4 to 14 random words from `vocab`.
fn distinct_messages(n: usize, vocab: &[String]) -> Vec<String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = 4 + (rng.next() % 11) as usize;
        let ws: Vec<&str> = (0..len)
            .map(|_| vocab[(rng.next() % vocab.len() as u64) as usize].as_str())
            .collect();
        let m = ws.join(" ");
        if seen.insert(m.clone()) {
            out.push(m);
        }
    }
    out
}

/// A 20,000-word vocabulary: messages rarely share a word at a position.
fn large_vocabulary() -> Vec<String> {
    (0..20_000).map(|i| word(i + 500)).collect()
}

/// 80 words, each with a digit (never a rigid token the index can look up): every template
/// of a length is a candidate for every other, so a family fills up to its bounds.
fn small_vocabulary() -> Vec<String> {
    (0..80)
        .map(|i| format!("{}{}", word(i + 500), i % 10))
        .collect()
}

fn many_distinct(c: &mut Criterion) {
    distinct_group(c, "distinct_messages", &large_vocabulary(), 1);
    distinct_group(
        c,
        "distinct_messages_small_vocabulary",
        &small_vocabulary(),
        1,
    );
    distinct_group(
        c,
        "distinct_messages_1000_loggers",
        &small_vocabulary(),
        1_000,
    );
}

/// Every message under one of `loggers` keys in turn, through the fingerprinter as the pipeline
/// drives it: past the template budget, ids no window holds (here: none) are forgotten once
/// more than twice the default `fingerprint.max_clusters` have piled up.
fn fingerprint_all(messages: &[String], locations: &[String]) -> Fingerprinter {
    let fp = Fingerprinter::new();
    for (i, m) in messages.iter().enumerate() {
        let key = KeyParts {
            location: &locations[i % locations.len()],
            ..KEY
        };
        black_box(fp.fingerprint(&key, m));
        if fp.transient_len() > 40_000 {
            fp.forget_transient(|_| false);
        }
    }
    fp
}

fn distinct_group(c: &mut Criterion, name: &str, vocab: &[String], loggers: usize) {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100));
    group.measurement_time(Duration::from_secs(1));
    let locations: Vec<String> = (0..loggers).map(|i| format!("app.m{i}")).collect();
    for n in [10_000, 100_000, 1_000_000] {
        let messages = distinct_messages(n, vocab);
        let (took, peak, _) = measure(|| fingerprint_all(&messages, &locations));
        eprintln!(
            "peak heap {name}/{n}: {:.1} MB, one run {:.2} s ({:.0} ns a message)",
            peak as f64 / 1e6,
            took.as_secs_f64(),
            took.as_secs_f64() * 1e9 / n as f64
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(n.to_string(), |b| {
            b.iter_batched(
                || (),
                |()| fingerprint_all(&messages, &locations),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(bounds, one_entry, many_distinct);
criterion_main!(bounds);
