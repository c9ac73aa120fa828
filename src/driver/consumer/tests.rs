//! The ack rule and redelivery handling, exactly, through fake ackers: no clock, no network.

use std::sync::{Arc, Mutex};

use super::*;
use crate::source::fake::{delivery, Log, LogLine};
use chrono::TimeDelta;

fn settings(edit: impl FnOnce(&mut Settings)) -> Arc<Settings> {
    let mut s = Settings::load(None).unwrap();
    s.live.watermark = Watermark::EventTime;
    edit(&mut s);
    Arc::new(s)
}

fn entry(at: &str, msg: &str, insert_id: &str) -> String {
    serde_json::json!({"timestamp": at, "severity": "ERROR", "insertId": insert_id,
        "textPayload": msg,
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}})
    .to_string()
}

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn lines(log: &Log) -> Vec<LogLine> {
    log.lock().unwrap().clone()
}

/// A consumer of a stream with a checkpoint store, as `run` has.
fn live(s: Arc<Settings>) -> Consumer {
    Consumer::new(s, Boundedness::Unbounded, None, true)
}

fn restart(s: Arc<Settings>, ck: Checkpoint) -> Consumer {
    Consumer::new(s, Boundedness::Unbounded, Some(ck), true)
}

/// When the entries of these tests are pulled: within a day of their event times.
fn now() -> DateTime<Utc> {
    "2025-09-15T21:00:00Z".parse().unwrap()
}

fn take(c: &mut Consumer, log: &Log, id: &str, data: String) -> Vec<Event> {
    let mut events = Vec::new();
    c.accept(delivery(id, data, log), now(), &mut Vec::new(), &mut events);
    events
}

fn durable(c: &mut Consumer) -> Checkpoint {
    let (ck, s) = c.checkpoint(Utc::now());
    c.settle(s);
    ck
}

#[test]
fn nothing_is_acked_before_a_checkpoint_holding_it_is_durable() {
    let (log, mut c) = (log(), live(settings(|_| {})));
    for i in 0..3 {
        take(
            &mut c,
            &log,
            &format!("m{i}"),
            entry("2025-09-15T19:10:00Z", "boom 1", &format!("i{i}")),
        );
    }
    assert!(lines(&log).is_empty(), "no ack before a checkpoint");
    let (ck, settlement) = c.checkpoint(Utc::now());
    assert_eq!(
        ck.pipeline.counts.counted, 3,
        "the checkpoint holds all three"
    );
    assert!(lines(&log).is_empty(), "no ack while it is being written");
    c.settle(settlement);
    assert_eq!(
        lines(&log),
        ["m0", "m1", "m2"].map(|m| LogLine::Ack(m.into()))
    );
}

#[test]
fn a_failed_checkpoint_keeps_its_messages_for_the_next_one() {
    let (log, mut c) = (log(), live(settings(|_| {})));
    take(
        &mut c,
        &log,
        "m0",
        entry("2025-09-15T19:10:00Z", "boom 1", "a"),
    );
    let (_, s) = c.checkpoint(Utc::now());
    c.retry(s);
    take(
        &mut c,
        &log,
        "m1",
        entry("2025-09-15T19:11:00Z", "boom 2", "b"),
    );
    assert!(lines(&log).is_empty() && c.unsettled() == 2);
    durable(&mut c);
    assert_eq!(
        lines(&log),
        [LogLine::Ack("m0".into()), LogLine::Ack("m1".into())]
    );
}

#[test]
fn a_redelivery_is_acked_but_not_counted_again_even_after_a_restart() {
    let (log, s) = (log(), settings(|_| {}));
    let mut c = live(s.clone());
    take(
        &mut c,
        &log,
        "m0",
        entry("2025-09-15T19:10:00Z", "boom 1", "a"),
    );
    take(
        &mut c,
        &log,
        "m0",
        entry("2025-09-15T19:10:00Z", "boom 1", "a"),
    );
    assert_eq!(
        (c.pipeline().counts().counted, c.stats().redeliveries),
        (1, 1)
    );
    let ck = durable(&mut c);
    // A crash after the checkpoint but before Pub/Sub saw the ack: it redelivers.
    let mut c = restart(s, ck);
    take(
        &mut c,
        &log,
        "m0",
        entry("2025-09-15T19:10:00Z", "boom 1", "a"),
    );
    durable(&mut c);
    assert_eq!(c.pipeline().counts().counted, 1);
    assert_eq!(
        lines(&log)
            .iter()
            .filter(|l| **l == LogLine::Ack("m0".into()))
            .count(),
        3
    );
}

#[test]
fn a_crash_before_the_checkpoint_loses_nothing_and_counts_nothing_twice() {
    let s = settings(|_| {});
    let msgs: Vec<(String, String)> = (0..6)
        .map(|i| {
            (
                format!("m{i}"),
                entry(
                    &format!("2025-09-15T19:{:02}:00Z", 10 + i),
                    &format!("boom {i}"),
                    &format!("i{i}"),
                ),
            )
        })
        .collect();
    let reference = {
        let (log, mut c) = (log(), live(s.clone()));
        for (id, d) in &msgs {
            take(&mut c, &log, id, d.clone());
        }
        c.flush(&mut Vec::new(), &mut Vec::new())
    };
    let log = log();
    let mut first = live(s.clone());
    for (id, d) in &msgs[..4] {
        take(&mut first, &log, id, d.clone());
    }
    let (ck, settled) = first.checkpoint(Utc::now());
    drop(settled); // crashed before acking: every message comes back
    take(&mut first, &log, "m4", msgs[4].1.clone());
    drop(first); // crashed: m4 was never in a checkpoint
    let mut second = restart(s, ck);
    for (id, d) in &msgs {
        take(&mut second, &log, id, d.clone());
    }
    assert_eq!(
        second.stats().redeliveries,
        4,
        "m0..m3 are in the checkpoint"
    );
    assert_eq!(second.flush(&mut Vec::new(), &mut Vec::new()), reference);
}

#[test]
fn malformed_messages_are_reported_and_acked_or_nacked_by_policy() {
    let log = log();
    let mut c = live(settings(|_| {}));
    take(&mut c, &log, "bad", "not json".into());
    take(
        &mut c,
        &log,
        "ok",
        entry("2025-09-15T19:10:00Z", "boom 1", "a"),
    );
    durable(&mut c);
    assert_eq!(
        lines(&log),
        [LogLine::Ack("bad".into()), LogLine::Ack("ok".into())]
    );
    let report = &c.flush(&mut Vec::new(), &mut Vec::new())[0];
    assert_eq!(report.malformed.total, 1);
    assert_eq!(report.malformed.examples[0].location, "pubsub:bad");

    let log2 = crate::source::fake::Log::default();
    let mut n = live(settings(|s| s.pubsub.on_malformed = OnMalformed::Nack));
    take(&mut n, &log2, "bad", "{\"x\": 1".into());
    assert_eq!(
        lines(&log2),
        [LogLine::Nack("bad".into())],
        "nacked at once"
    );
    take(&mut n, &log2, "bad", "{\"x\": 1".into());
    assert_eq!(
        n.pipeline().counts().malformed,
        2,
        "each delivery is counted"
    );
    assert_eq!(n.stats().redeliveries, 0);
}

#[test]
fn known_clusters_stay_known_across_a_restart_and_tiers_escalate_once() {
    let (log, s) = (log(), settings(|_| {}));
    let mut c = live(s.clone());
    let first = take(
        &mut c,
        &log,
        "m0",
        entry("2025-09-15T19:00:00Z", "boom 1", "a"),
    );
    assert!(matches!(first[..], [Event::NewCluster { .. }]));
    let ck = durable(&mut c);
    let mut c = restart(s, ck);
    let mut escalations = Vec::new();
    for i in 1..150 {
        let at = format!("2025-09-15T19:{:02}:{:02}Z", i / 60, i % 60);
        let events = take(
            &mut c,
            &log,
            &format!("m{i}"),
            entry(&at, &format!("boom {i}"), &format!("i{i}")),
        );
        assert!(
            !events.iter().any(|e| matches!(e, Event::NewCluster { .. })),
            "known before the restart"
        );
        escalations.extend(events.into_iter().filter_map(|e| match e {
            Event::Escalation {
                count, at_least, ..
            } => Some((count, at_least)),
            _ => None,
        }));
    }
    assert_eq!(
        escalations,
        [(100, 100)],
        "the 100th entry in the hour crosses ≥100 once"
    );
}

/// The count tiers' state is in the checkpoint: after a restart whose first entry of a cluster
/// is an older one (a backlog handed out in any order), the hour is still counted up to the
/// cluster's newest entry, so the hundredth crosses at once instead of 99 entries later; and
/// a tier announced before the restart is not announced again.
#[test]
fn count_tiers_continue_across_a_restart_whose_first_entry_is_late() {
    let (log, s) = (log(), settings(|_| {}));
    let at = |i: u32| format!("2025-09-15T19:{:02}:{:02}Z", 10 + i / 60, i % 60);
    let escalations = |events: Vec<Event>| -> Vec<u64> {
        (events.into_iter())
            .filter_map(|e| match e {
                Event::Escalation { count, .. } => Some(count),
                _ => None,
            })
            .collect()
    };
    let mut c = live(s.clone());
    for i in 0..95 {
        take(
            &mut c,
            &log,
            &format!("m{i}"),
            entry(&at(i), "boom", &format!("i{i}")),
        );
    }
    let mut c = restart(s.clone(), durable(&mut c));
    let late = entry("2025-09-15T19:05:00Z", "boom", "late");
    assert_eq!(
        escalations(take(&mut c, &log, "late", late)),
        [] as [u64; 0]
    );
    let mut crossed = Vec::new();
    for i in 95..99 {
        let e = entry(&at(i), "boom", &format!("i{i}"));
        crossed.extend(escalations(take(&mut c, &log, &format!("m{i}"), e)));
    }
    assert_eq!(crossed, [100], "the hundredth entry in the hour crosses");
    let mut c = restart(s, durable(&mut c));
    for i in 99..120 {
        let e = entry(&at(i), "boom", &format!("i{i}"));
        let events = take(&mut c, &log, &format!("m{i}"), e);
        assert_eq!(escalations(events), [] as [u64; 0], "announced already");
    }
}

#[test]
fn by_wall_clock_a_window_closes_once_its_end_plus_lateness_has_passed() {
    let (log, mut c) = (
        log(),
        live(settings(|s| s.live.watermark = Watermark::WallClock)),
    );
    take(
        &mut c,
        &log,
        "m0",
        entry("2025-09-15T19:10:00Z", "boom 1", "a"),
    );
    let mut events = Vec::new();
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    assert!(c
        .close_due(at("2025-09-15T20:04:59Z"), &mut Vec::new(), &mut events)
        .is_empty());
    let closed = c.close_due(at("2025-09-15T20:05:00Z"), &mut Vec::new(), &mut events);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].totals.entries, 1);
    assert!(
        c.needs_checkpoint(),
        "a close changes the state to checkpoint"
    );
}

#[test]
fn a_window_closing_after_a_restart_still_names_clusters_seen_only_before_it() {
    let (log, s) = (log(), settings(|_| {}));
    let mut c = live(s.clone());
    take(
        &mut c,
        &log,
        "m0",
        entry("2025-09-15T19:10:00Z", "disk full on node 7", "a"),
    );
    let ck = durable(&mut c);
    let mut c = restart(s, ck);
    take(
        &mut c,
        &log,
        "m1",
        entry("2025-09-15T19:20:00Z", "cache warmed", "b"),
    );
    let report = &c.flush(&mut Vec::new(), &mut Vec::new())[0];
    let templates: Vec<&str> = report
        .clusters
        .iter()
        .map(|c| c.template.as_str())
        .collect();
    assert!(
        templates.contains(&"disk full on node <*>"),
        "{templates:?}"
    );
}

#[test]
fn a_stream_counts_only_event_times_near_the_clock() {
    let log = log();
    let times = [
        ("old", "2025-08-01T00:00:00Z"), // 45 days before: past live.max_age (30d)
        ("ahead", "2025-09-15T23:00:00Z"), // 2 h after: past live.max_ahead (1h)
        ("ok", "2025-09-15T20:30:00Z"),
    ];
    let outcomes = |mut c: Consumer| {
        let mut out = Vec::new();
        for (id, at) in times {
            let d = delivery(id, entry(at, "boom 1", id), &log);
            c.accept(d, now(), &mut out, &mut Vec::new());
        }
        out
    };
    let stream = outcomes(live(settings(|_| {})));
    assert!(matches!(
        stream[..],
        [
            Outcome::Malformed {
                reason: "bad_timestamp"
            },
            Outcome::Malformed {
                reason: "bad_timestamp"
            },
            Outcome::Counted(_)
        ]
    ));
    // A file has no clock to be near: the same entries are all counted in a replay.
    let file = outcomes(Consumer::new(
        settings(|_| {}),
        Boundedness::Bounded,
        None,
        false,
    ));
    assert!(file.iter().all(|o| matches!(o, Outcome::Counted(_))));
}

/// A crash mid-backfill (allowed lateness 0): the next process is handed the newer half first
/// and the dead one's leased messages only once their lease runs out, 60 s later. Held back by
/// `live.hold_back`, the watermark keeps their window open: the windows equal one
/// uninterrupted run's. Without the hold, their closed window is revised with them and ends
/// equal too; with neither, they are late.
#[test]
fn a_crash_mid_backfill_loses_nothing_held_back_or_revised() {
    let minutes: Vec<(String, String)> = (0..150)
        .map(|i| {
            let at = (now() - TimeDelta::hours(2) + TimeDelta::minutes(i)).to_rfc3339();
            (
                format!("m{i}"),
                entry(&at, &format!("boom {i}"), &format!("i{i}")),
            )
        })
        .collect();
    let clock = |s: i64| now() + TimeDelta::seconds(s);
    let run = |hold: i64, revise: TimeDelta| {
        let s = settings(|s| {
            s.window.allowed_lateness = TimeDelta::zero();
            s.window.revise_within = revise;
            s.live.hold_back = TimeDelta::seconds(hold);
        });
        let (log, mut out, mut ev) = (log(), Vec::new(), Vec::new());
        let mut first = live(s.clone());
        for (id, d) in &minutes[..15] {
            first.accept(delivery(id, d.clone(), &log), clock(0), &mut out, &mut ev);
        }
        let (ck, settled) = first.checkpoint(clock(0));
        first.settle(settled);
        for (id, d) in &minutes[15..30] {
            first.accept(delivery(id, d.clone(), &log), clock(1), &mut out, &mut ev);
        }
        drop(first); // killed: m15..m29 are leased to a dead process
        let mut second = restart(s, ck);
        let mut reports = Vec::new();
        for (i, (id, d)) in minutes[30..].iter().enumerate() {
            let t = clock(2 + i as i64 / 4);
            second.accept(delivery(id, d.clone(), &log), t, &mut out, &mut ev);
            reports.extend(second.close_due(t, &mut out, &mut ev));
        }
        for (id, d) in &minutes[15..30] {
            second.accept(delivery(id, d.clone(), &log), clock(62), &mut out, &mut ev);
        }
        reports.extend(second.close_due(clock(63), &mut out, &mut ev));
        reports.extend(second.flush(&mut out, &mut ev));
        (second.pipeline().counts(), reports)
    };
    let reference = {
        let (log, mut c) = (log(), live(settings(|_| {})));
        for (id, d) in &minutes {
            take(&mut c, &log, id, d.clone());
        }
        c.flush(&mut Vec::new(), &mut Vec::new())
    };
    // The last version of each window, as the worklog directory ends up holding them.
    let last = |r: &[WindowReport]| {
        let mut by_window = std::collections::BTreeMap::new();
        for w in r {
            by_window.insert(w.window, (w.totals.entries, w.clusters.len()));
        }
        by_window.into_iter().collect::<Vec<_>>()
    };
    let (counts, held) = run(90, TimeDelta::hours(3));
    assert_eq!((counts.late, counts.revising), (0, 0));
    assert!(held.iter().all(|r| r.revision.is_none()));
    assert_eq!(last(&held), last(&reference));

    let (counts, revised) = run(0, TimeDelta::hours(3));
    assert_eq!((counts.late, counts.revising), (0, 15));
    let (window, revision) = revised
        .iter()
        .find_map(|r| Some((r, r.revision.clone()?)))
        .expect("a revision");
    // 19:00–20:00 closed with m0..m14 and the newer m30..m59; m15..m29 came after.
    assert_eq!((revision.number, revision.entries_before), (1, 45));
    assert_eq!(window.totals.entries, 60);
    assert_eq!(last(&revised), last(&reference));

    let (counts, lost) = run(0, TimeDelta::zero());
    assert_eq!(
        counts.late, 15,
        "with neither, the redelivered entries are late"
    );
    assert_ne!(last(&lost), last(&reference));
    // Late, yet each is told by its cluster: one the replay of the same entries has.
    let told: Vec<_> = lost.iter().flat_map(|r| &r.late_clusters).collect();
    assert_eq!(told.iter().map(|c| c.entries).sum::<u64>(), 15);
    let known: std::collections::BTreeSet<_> = reference
        .iter()
        .flat_map(|r| r.clusters.iter().map(|c| c.id))
        .collect();
    assert!(told.iter().all(|c| known.contains(&c.cluster)), "{told:?}");
}

/// A crashing instance's last words: a traceback split one line per entry, then nothing more
/// from that instance. Its P0 must not wait for the window to close.
#[test]
fn a_dying_instances_traceback_is_counted_within_seconds() {
    let log = log();
    let mut c = live(settings(|s| s.live.watermark = Watermark::WallClock));
    let lines = [
        "Traceback (most recent call last):",
        "  File \"/app/db.py\", line 10, in connect",
        "    conn = pool.get(timeout=30)",
        "sqlalchemy.exc.OperationalError: Cloud SQL connection timeout after 30s",
    ];
    let t0 = now();
    let mut out = Vec::new();
    let mut events = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let at = (t0 + TimeDelta::microseconds(i as i64 * 50)).to_rfc3339();
        let e = serde_json::json!({"timestamp": at, "severity": "ERROR",
            "insertId": format!("tb{i}"), "textPayload": l,
            "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
            "labels": {"instanceId": "dying-1"},
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}});
        c.accept(
            delivery(&format!("m{i}"), e.to_string(), &log),
            t0,
            &mut out,
            &mut events,
        );
    }
    assert!(out.is_empty(), "held for stitching");
    c.close_due(t0 + TimeDelta::seconds(10), &mut out, &mut events);
    assert!(
        matches!(out[..], [Outcome::Counted(_)]),
        "one stitched traceback counted 10 s later: {out:?}"
    );
    assert!(events.iter().any(|e| matches!(e, Event::NewCluster { .. })));
}

/// A crash between a checkpoint and Pub/Sub getting its acks, during a backfill: the next
/// process takes more than `live.dedupe_ids` newer messages before the dead one's come back.
/// They are still recognised: counted once.
#[test]
fn a_checkpoints_messages_redelivered_after_many_newer_ones_count_once() {
    let s = settings(|s| s.live.dedupe_ids = 100);
    let msg = |i: i64| {
        let at = (now() - TimeDelta::hours(1) + TimeDelta::seconds(i)).to_rfc3339();
        (
            format!("m{i}"),
            entry(&at, &format!("boom {i}"), &format!("i{i}")),
        )
    };
    let log = log();
    let mut first = live(s.clone());
    for (id, d) in (0..50).map(msg) {
        take(&mut first, &log, &id, d);
    }
    let (ck, unacked) = first.checkpoint(now());
    drop(unacked); // killed before the acks reached Pub/Sub
    drop(first);
    let mut second = restart(s, ck);
    for (id, d) in (50..350).map(msg) {
        take(&mut second, &log, &id, d);
    }
    for (id, d) in (0..50).map(msg) {
        take(&mut second, &log, &id, d);
    }
    assert_eq!(second.stats().redeliveries, 50);
    assert_eq!(second.pipeline().counts().counted, 350);
}

/// A traceback of instance api-1 ending in `exception`, split one line per entry 50 µs
/// apart, half an hour before [`now`]: line `i` as a (message id, entry).
fn split_at_the_crash(exception: &'static str) -> impl Fn(usize) -> (String, String) {
    let lines = [
        "Traceback (most recent call last):",
        "  File \"/app/db.py\", line 10, in connect",
        "    conn = pool.get(timeout=30)",
        exception,
    ];
    move |i| {
        let at = now() - TimeDelta::minutes(30) + TimeDelta::microseconds(i as i64 * 50);
        let e = serde_json::json!({"timestamp": at.to_rfc3339(), "severity": "ERROR",
            "insertId": format!("tb{i}"), "textPayload": lines[i],
            "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
            "labels": {"instanceId": "api-1"},
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}});
        (format!("m{i}"), e.to_string())
    }
}

/// Clock time `s` seconds after [`now`].
fn clock(s: i64) -> DateTime<Utc> {
    now() + TimeDelta::seconds(s)
}

/// What `out` counted: (cluster, event time in µs).
fn counted(out: &[Outcome]) -> Vec<(ClusterId, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Outcome::Counted(c) => Some((c.cluster, c.at.timestamp_micros() as u64)),
            _ => None,
        })
        .collect()
}

/// An entry half an hour before the traceback, and a consumer that took it, all four lines
/// of `msg` at once and counted them: (the entry, that consumer, what it counted).
fn uninterrupted(
    s: &Arc<Settings>,
    msg: &impl Fn(usize) -> (String, String),
) -> ((String, String), Consumer, Vec<Outcome>) {
    let before = (
        "m-earlier".to_string(),
        entry(
            &(now() - TimeDelta::minutes(31)).to_rfc3339(),
            "boom 1",
            "e",
        ),
    );
    let (log, mut c, mut out) = (log(), live(s.clone()), Vec::new());
    for (id, d) in std::iter::once(before.clone()).chain((0..4).map(msg)) {
        c.accept(delivery(&id, d, &log), clock(0), &mut out, &mut Vec::new());
    }
    c.close_due(clock(10), &mut out, &mut Vec::new());
    assert_eq!(counted(&out).len(), 2, "the entry before and one traceback");
    (before, c, out)
}

/// The crash: a process checkpoints `before`, takes lines 0 and 1 of the traceback and dies
/// with them leased; the next one restarts from the checkpoint and is handed lines 2 and 3 at
/// 2 s (what it counted then goes to `out`), lines 0 and 1 only once the lease ran out, at
/// 62 s.
fn crash_then_restart(
    s: &Arc<Settings>,
    before: &(String, String),
    msg: &impl Fn(usize) -> (String, String),
    out: &mut Vec<Outcome>,
    events: &mut Vec<Event>,
) -> Consumer {
    let log = log();
    let mut first = live(s.clone());
    let (id, d) = before.clone();
    first.accept(delivery(&id, d, &log), clock(0), out, events);
    let (ck, settled) = first.checkpoint(clock(0));
    first.settle(settled);
    for (id, d) in (0..2).map(msg) {
        first.accept(delivery(&id, d, &log), clock(1), out, events);
    }
    drop(first);
    out.clear();
    events.clear();
    let mut second = restart(s.clone(), ck);
    for (id, d) in (2..4).map(msg) {
        second.accept(delivery(&id, d, &log), clock(2), out, events);
    }
    for t in 3..62 {
        second.close_due(clock(t), out, events);
    }
    for (id, d) in (0..2).map(msg) {
        second.accept(delivery(&id, d, &log), clock(62), out, events);
    }
    second
}

/// A traceback split one line per entry whose first lines were leased to a process that
/// died: the next process is handed the last lines first, the first ones only once the dead
/// process's lease runs out (60 s with the client's default). It is still one traceback,
/// counted once in the cluster of its exception, as when all four lines come at once.
#[test]
fn a_traceback_split_by_a_crash_is_stitched_whole_after_the_restart() {
    let msg = split_at_the_crash("ValueError: limit must be positive, got -3");
    let s = settings(|_| {});
    let (before, _, reference) = uninterrupted(&s, &msg);
    let (mut out, mut ev) = (Vec::new(), Vec::new());
    let mut second = crash_then_restart(&s, &before, &msg, &mut out, &mut ev);
    // The hold (`live.hold_back`, 90 s) runs from the restart's first delivery at 2 s.
    for t in 63..92 {
        second.close_due(clock(t), &mut out, &mut ev);
    }
    assert!(
        counted(&out).is_empty(),
        "held while the lease may bring lines back"
    );
    second.close_due(clock(92), &mut out, &mut ev);
    assert_eq!(
        counted(&out),
        counted(&reference)[1..],
        "one traceback, counted once, whole"
    );
}

/// The same crash when the traceback's last lines page as they stand (a Cloud SQL timeout
/// is P0): the page does not wait for the hold. They are counted as soon as they stop
/// growing; once the first lines come back, the part is taken back and the whole counted,
/// so the windows end as an uninterrupted run's.
#[test]
fn after_a_crash_a_traceback_that_pages_is_counted_within_seconds_and_whole_later() {
    let msg = split_at_the_crash(
        "sqlalchemy.exc.OperationalError: Cloud SQL connection timeout after 30s",
    );
    let s = settings(|_| {});
    let (before, mut reference, _) = uninterrupted(&s, &msg);
    let (mut out, mut ev) = (Vec::new(), Vec::new());
    let mut second = crash_then_restart(&s, &before, &msg, &mut out, &mut ev);
    // Lines 2 and 3 as they stand: a frame and the exception line, a new cluster each.
    let exception = now() - TimeDelta::minutes(30) + TimeDelta::microseconds(150);
    assert_eq!(counted(&out).len(), 2, "the paging part, counted: {out:?}");
    assert!(
        (ev.iter()).any(|e| matches!(e, Event::NewCluster { at, .. } if *at == exception)),
        "a new cluster to page on: {ev:?}"
    );
    for t in 63..70 {
        second.close_due(clock(t), &mut out, &mut ev);
    }
    let windows = |c: &mut Consumer| -> Vec<(String, Vec<(String, u64)>)> {
        let reports = c.flush(&mut Vec::new(), &mut Vec::new());
        reports
            .iter()
            .map(|r| {
                let clusters = (r.clusters.iter())
                    .filter(|c| c.count > 0)
                    .map(|c| (c.template.clone(), c.count))
                    .collect();
                (r.window.end.to_rfc3339(), clusters)
            })
            .collect()
    };
    assert_eq!(windows(&mut second), windows(&mut reference));
}

/// After a clean stop nothing of the last process comes back a lease later: a restart from
/// its checkpoint counts a traceback as soon as it stops growing, as a fresh start does.
#[test]
fn after_a_clean_stop_a_traceback_is_not_held_for_redeliveries() {
    let s = settings(|_| {});
    let log = log();
    let mut first = live(s.clone());
    take(
        &mut first,
        &log,
        "m0",
        entry("2025-09-15T20:00:00Z", "boom 1", "a"),
    );
    let (mut ck, settled) = first.checkpoint(now());
    first.settle(settled);
    let traceback = |c: &mut Consumer, out: &mut Vec<Outcome>| {
        for (i, l) in ["Traceback (most recent call last):", "ValueError: bad"]
            .iter()
            .enumerate()
        {
            let e = serde_json::json!({"timestamp": format!("2025-09-15T20:30:00.00000{i}Z"),
                "severity": "ERROR", "insertId": format!("tb{i}"), "textPayload": l,
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}});
            c.accept(
                delivery(&format!("t{i}"), e.to_string(), &log),
                now(),
                out,
                &mut Vec::new(),
            );
        }
        c.close_due(now() + TimeDelta::seconds(6), out, &mut Vec::new());
    };
    let (mut crashed, mut clean) = (Vec::new(), Vec::new());
    traceback(&mut restart(s.clone(), ck.clone()), &mut crashed);
    assert!(crashed.is_empty(), "after a crash: held for live.hold_back");
    ck.clean_stop = true;
    traceback(&mut restart(s, ck), &mut clean);
    assert!(
        matches!(clean[..], [Outcome::Counted(_)]),
        "after a clean stop: counted 6 s later: {clean:?}"
    );
}
