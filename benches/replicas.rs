//! Scale-out of `run` with its state in Redis (issue 14), simulated on one machine over
//! loopback: a backlog of messages waits in Google's Pub/Sub fake (pstest), then 1, 2 or 3
//! replicas start on it, all pulling and relaying into the real Redis on 127.0.0.1:6379, and
//! the time is taken until the lease holder's checkpoint holds every entry. Each sample has
//! its own emulator and key prefix; publishing is not timed, starting the processes is. The
//! `file` row is one process without Redis (the checkpoint in a file), for the relay's cost.
//!
//! Needs what `scripts/test-deps.sh` installs (pstest, Redis). The ratio between the rows is
//! the claim (README, "Performance"): the machine is shared and pstest itself delivers only a
//! few hundred messages a second, so absolute numbers say little.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use support::pubsub::{hour_of_entries, Emulator, Workdir};
use support::redis::{self as in_redis, clear, received};

/// Messages per sample: pstest delivers about a hundred a second to one subscriber.
const MESSAGES: usize = 600;

fn backlog() -> Vec<String> {
    let mut lines = Vec::new();
    let mut seed = 1;
    while lines.len() < MESSAGES {
        lines.extend(hour_of_entries(seed));
        seed += 1;
    }
    lines.truncate(MESSAGES);
    lines
}

/// One sample: the time one process with its checkpoint in a file (no Redis, no relay: the
/// embedded default) takes to count a published backlog.
fn drain_alone(lines: &[String]) -> Duration {
    let emu = Emulator::start();
    emu.publish(lines);
    let work = Workdir::new(2, "", "");
    let env = [("RUST_LOG", "log_gardener=warn")];
    let start = Instant::now();
    let mut run = work.run_with(&emu, 1, &env);
    while work.received().unwrap_or(0) < lines.len() as u64 {
        assert!(start.elapsed() < Duration::from_secs(300), "{}", run.log());
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    run.kill9();
    took
}

/// One sample: the time `replicas` take to count a published backlog.
fn drain(replicas: usize, lines: &[String], sample: u64, conn: &mut redis::Connection) -> Duration {
    let emu = Emulator::start();
    emu.publish(lines);
    let work = Workdir::new(2, "", "");
    let prefix = format!(
        "lg-bench-replicas-{}-{replicas}-{sample}",
        std::process::id()
    );
    clear(conn, &prefix);
    let env = [
        ("LOG_GARDENER__STATE__REDIS_URL", in_redis::URL),
        ("LOG_GARDENER__STATE__KEY_PREFIX", prefix.as_str()),
        ("LOG_GARDENER__METRICS__LISTEN", "127.0.0.1:0"),
        ("RUST_LOG", "log_gardener=warn"),
    ];
    let start = Instant::now();
    let mut runs: Vec<_> = (0..replicas)
        .map(|n| work.run_with(&emu, n + 1, &env))
        .collect();
    while received(conn, &prefix) < lines.len() as u64 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "{} of {} counted: {}",
            received(conn, &prefix),
            lines.len(),
            runs[0].log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    for r in &mut runs {
        r.kill9();
    }
    clear(conn, &prefix);
    took
}

fn replicas(c: &mut Criterion) {
    let lines = backlog();
    let mut conn = in_redis::connect();
    let mut g = c.benchmark_group("replicas");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("file", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| drain_alone(&lines)).sum())
    });
    let mut sample = 0;
    for n in [1, 2, 3] {
        g.bench_function(format!("{n}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        sample += 1;
                        drain(n, &lines, sample, &mut conn)
                    })
                    .sum()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, replicas);
criterion_main!(benches);
