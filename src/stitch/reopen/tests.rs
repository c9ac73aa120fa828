//! A live stitcher that released a run before all its lines came ends, net of what it
//! retracted, with the records a replay stitches, whatever the order and the releases.

use chrono::{DateTime, TimeDelta, Utc};

use super::super::{Record, StitchConfig, Stitcher};
use crate::entry::parse_entry;

const FIVE: [&str; 5] = [
    "Traceback (most recent call last):",
    "  File \"/app/backend/jobs.py\", line 12, in run",
    "    handle(job)",
    "  File \"/app/backend/jobs.py\", line 40, in handle",
    "ValueError: job 17 has no owner",
];

/// Line `i` of a traceback split per line, `i` ms apart, on `instance`.
fn line(text: &str, i: i64, instance: &str) -> Record {
    let at = "2026-12-02T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::milliseconds(i);
    let v = serde_json::json!({
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "insertId": format!("{instance}-{i}"), "severity": "ERROR", "textPayload": text,
        "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}},
        "labels": {"instanceId": instance}});
    parse_entry(v.to_string().as_bytes()).unwrap()
}

fn five(instance: &str) -> Vec<Record> {
    (0..5).map(|i| line(FIVE[i], i as i64, instance)).collect()
}

type Key = (DateTime<Utc>, String, String);

fn keys(records: &[Record]) -> Vec<Key> {
    let mut k: Vec<Key> = records
        .iter()
        .map(|r| (r.timestamp, r.insert_id.clone(), r.message.clone()))
        .collect();
    k.sort();
    k
}

/// What a replay stitches of `records`.
fn replayed(records: &[Record]) -> Vec<Key> {
    let mut s = Stitcher::bounded(StitchConfig::default());
    let mut out = Vec::new();
    for r in records {
        s.push(r.clone(), &mut out);
    }
    s.flush(&mut out);
    keys(&out)
}

/// A live stitcher's records net of its retractions (each retracted record was counted
/// before: it must be there to take away).
#[derive(Default)]
struct Net {
    counted: Vec<Record>,
}

impl Net {
    fn take(&mut self, s: &mut Stitcher, out: &mut Vec<Record>) {
        for r in s.take_retracted() {
            let at = self
                .counted
                .iter()
                .position(|c| {
                    (c.timestamp, &c.insert_id, &c.message)
                        == (r.timestamp, &r.insert_id, &r.message)
                })
                .unwrap_or_else(|| panic!("retracted but never counted: {r:?}"));
            self.counted.remove(at);
        }
        self.counted.append(out);
    }
}

#[test]
fn a_line_after_its_run_was_released_idle_joins_it() {
    let mut s = Stitcher::with_config(StitchConfig::default());
    let (mut out, mut net) = (Vec::new(), Net::default());
    let now: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
    let lines = five("a");
    for r in &lines[..3] {
        s.push_at(r.clone(), Some(now), &mut out);
    }
    s.release_idle(now + TimeDelta::seconds(6), &mut out);
    assert!(!out.is_empty(), "released as a fragment");
    net.take(&mut s, &mut out);
    // The rest comes a minute later (a crashed process's leased messages).
    let later = now + TimeDelta::seconds(60);
    for r in &lines[3..] {
        s.push_at(r.clone(), Some(later), &mut out);
        net.take(&mut s, &mut out);
    }
    assert_eq!(s.held(), 5, "the fragment is held again with the rest");
    s.release_idle(later + TimeDelta::seconds(6), &mut out);
    net.take(&mut s, &mut out);
    assert_eq!(keys(&net.counted), replayed(&lines));
    assert_eq!(net.counted.len(), 1, "{:#?}", net.counted);
    assert!(net.counted[0]
        .message
        .ends_with("ValueError: job 17 has no owner"));
}

#[test]
fn any_order_with_releases_in_between_nets_what_a_replay_stitches() {
    let lines = five("a");
    // A line of another stream between them, never joined.
    let other = line("KeyError: 'x'", 2, "b");
    let expected = replayed(&[lines.clone(), vec![other.clone()]].concat());
    let start: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
    let mut orders = vec![vec![0, 1, 2, 3, 4]];
    for _ in 0..119 {
        let mut next = orders.last().unwrap().clone();
        next_permutation(&mut next);
        orders.push(next);
    }
    for order in &orders {
        // Each of the 16 ways to release (idle, or by the watermark) between the lines.
        for releases in 0..16u32 {
            let mut s = Stitcher::with_config(StitchConfig::default());
            let (mut out, mut net) = (Vec::new(), Net::default());
            let mut now = start;
            s.push_at(other.clone(), Some(now), &mut out);
            for (n, &i) in order.iter().enumerate() {
                s.push_at(lines[i].clone(), Some(now), &mut out);
                net.take(&mut s, &mut out);
                if n < 4 && releases & (1 << n) != 0 {
                    now += TimeDelta::seconds(10);
                    if n % 2 == 0 {
                        s.release_idle(now, &mut out);
                    } else {
                        s.release_before(start + TimeDelta::seconds(1), &mut out);
                    }
                    net.take(&mut s, &mut out);
                }
            }
            s.flush(&mut out);
            net.take(&mut s, &mut out);
            assert_eq!(
                keys(&net.counted),
                expected,
                "order {order:?}, releases {releases:04b}"
            );
        }
    }
}

fn next_permutation(v: &mut [usize]) {
    let Some(i) = (0..v.len() - 1).rev().find(|&i| v[i] < v[i + 1]) else {
        return;
    };
    let j = (i + 1..v.len()).rev().find(|&j| v[j] > v[i]).unwrap();
    v.swap(i, j);
    v[i + 1..].reverse();
}

#[test]
fn released_runs_are_remembered_within_bounds_and_through_a_checkpoint() {
    let config = StitchConfig {
        remember_lines: 4,
        ..StitchConfig::default()
    };
    let mut s = Stitcher::with_config(config);
    let mut out = Vec::new();
    for instance in ["a", "b"] {
        for r in &five(instance)[..2] {
            s.push(r.clone(), &mut out);
        }
    }
    s.flush(&mut out);
    assert_eq!(s.remembered(), 4);
    let kept = s.released_kept(str::to_owned);
    assert_eq!(kept.len(), 2);
    // A third run pushes the oldest out.
    s.push(five("c").remove(0), &mut out);
    s.flush(&mut out);
    assert_eq!(s.remembered(), 3, "b's two lines and c's one");
    // Forgotten by event time.
    s.forget_released_before("2026-12-02T10:00:01Z".parse().unwrap());
    assert_eq!(s.remembered(), 0);

    // Restored from the checkpoint's form, a late line still reopens its run.
    let mut s = Stitcher::with_config(StitchConfig::default());
    for run in kept {
        let records = run
            .iter()
            .map(|raw| parse_entry(raw.as_bytes()).unwrap())
            .collect();
        s.restore_released(run, records);
    }
    s.push(five("a").remove(2), &mut out);
    assert_eq!(s.take_retracted().len(), 1, "a's two lines were one record");
    assert_eq!(s.held(), 3);
}
