//! The live consumer path on one core, with an in-process source: delivery → redelivery check →
//! parse → stitch → fingerprint → window count → escalation check → ack bookkeeping, with
//! event-time window closes every 1000 messages and a checkpoint snapshot (not written to
//! disk) plus settlement every 5000, as `run` would do every few seconds. Target: ≥ 200k
//! messages/s.

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use log_gardener::config::{Settings, Watermark};
use log_gardener::driver::Consumer;
use log_gardener::source::{Boundedness, Delivery, Input, NoAck, Origin, RawEntry};
use log_gardener::synth;

/// Hours of generated logs: 300 entries an hour.
const HOURS: u32 = 40;

const START: &str = "2025-09-15T00:00:00Z";

fn messages() -> Vec<(String, Bytes)> {
    synth::generate(START.parse().unwrap(), HOURS, 11)
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (format!("{}", 10_000_000 + i), Bytes::from(v.to_string())))
        .collect()
}

fn deliveries(msgs: &[(String, Bytes)]) -> Vec<Delivery> {
    msgs.iter()
        .map(|(id, data)| Delivery {
            input: Input::Entry(RawEntry {
                data: data.clone(),
                origin: Origin::PubSub {
                    message_id: id.as_str().into(),
                },
            }),
            acker: Box::new(NoAck),
        })
        .collect()
}

fn consume(settings: &Arc<Settings>, batch: Vec<Delivery>) -> u64 {
    let mut c = Consumer::new(settings.clone(), Boundedness::Unbounded, None, true);
    let (mut outcomes, mut events) = (Vec::new(), Vec::new());
    // Pulled as the last hour ends: every entry is within `live.max_age` of it.
    let pulled = START.parse::<chrono::DateTime<Utc>>().unwrap()
        + chrono::TimeDelta::hours(i64::from(HOURS));
    for (i, d) in batch.into_iter().enumerate() {
        c.accept(d, pulled, &mut outcomes, &mut events);
        if i % 1000 == 999 {
            black_box(c.close_due(Utc::now(), &mut outcomes, &mut events));
        }
        if i % 5000 == 4999 {
            let (snapshot, settlement) = c.checkpoint(Utc::now());
            black_box(snapshot);
            c.settle(settlement);
        }
        outcomes.clear();
        events.clear();
    }
    c.stats().acked + c.pipeline().counts().counted
}

fn bench(c: &mut Criterion) {
    let mut s = Settings::load(None).expect("built-in settings");
    s.live.watermark = Watermark::EventTime;
    let settings = Arc::new(s);
    let msgs = messages();
    let mut g = c.benchmark_group("consumer");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.sample_size(10);
    g.bench_function("accept_count_settle", |b| {
        b.iter_batched(
            || deliveries(&msgs),
            |batch| black_box(consume(&settings, batch)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
    eprintln!(
        "consumer bench input: {} messages, mean {} bytes",
        msgs.len(),
        msgs.iter().map(|(_, d)| d.len()).sum::<usize>() / msgs.len().max(1)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
