//! A live pipeline that counted part of a traceback before the rest came (its run released
//! idle, its window maybe closed) ends with the windows a replay of the same entries reports.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::{Outcome, Pipeline};
use crate::config::Settings;
use crate::fingerprint::Fingerprinter;
use crate::report::WindowReport;
use crate::source::{Boundedness, Origin, RawEntry};
use crate::window::{MemoryStore, Schedule};

const TRACE: [&str; 5] = [
    "Traceback (most recent call last):",
    "  File \"/app/backend/db.py\", line 88, in get_session",
    "    return pool.connect()",
    "  File \"/app/backend/pool.py\", line 12, in connect",
    "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached",
];

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn entry(text: &str, at: DateTime<Utc>, id: &str, instance: &str) -> RawEntry {
    let v = serde_json::json!({
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "insertId": id, "severity": "ERROR", "textPayload": text,
        "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}},
        "labels": {"instanceId": instance}});
    RawEntry {
        data: v.to_string().into(),
        origin: Origin::File {
            path: "t".into(),
            line: 0,
        },
    }
}

/// Two instances' tracebacks at 19:10 (one split one line per entry on each), and an
/// ordinary line between them.
fn entries() -> Vec<RawEntry> {
    let mut v = Vec::new();
    for (k, instance) in ["a", "b"].into_iter().enumerate() {
        let at = t("2025-09-15T19:10:00Z") + TimeDelta::seconds(k as i64);
        for (i, text) in TRACE.iter().enumerate() {
            let id = format!("{instance}{i}");
            v.push(entry(
                text,
                at + TimeDelta::milliseconds(i as i64),
                &id,
                instance,
            ));
        }
    }
    v.push(entry(
        "payment 42 declined",
        t("2025-09-15T19:20:00Z"),
        "p",
        "a",
    ));
    v
}

/// a's last two lines (what a restart brings), and the other entries.
fn cut(all: &[RawEntry]) -> (Vec<RawEntry>, Vec<RawEntry>) {
    (all[3..5].to_vec(), [&all[..3], &all[5..]].concat())
}

/// What a window says, without what only says when it was written.
fn told(r: &WindowReport) -> (u64, Vec<String>) {
    let mut clusters: Vec<String> = r
        .clusters
        .iter()
        .map(|c| {
            format!(
                "{} ×{} {:?} {:?} {}–{} {}",
                c.template,
                c.count,
                c.priority,
                c.by_severity,
                c.first_seen,
                c.last_seen,
                c.sample
                    .as_ref()
                    .map(|s| s["insertId"].to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    clusters.sort();
    (r.totals.entries, clusters)
}

fn live() -> Pipeline {
    let s = Settings::load(None).unwrap();
    let store = MemoryStore::new(Schedule::new(&s.window), s.window.history)
        .revising(s.window.revise_within);
    let fp = Arc::new(Fingerprinter::with_config(s.fingerprint.config));
    Pipeline::new(Arc::new(s), fp, Arc::new(store), Boundedness::Unbounded)
}

/// A live pipeline whose closed windows are never revised (`window.revise_within = 0s`).
fn never_revising() -> Pipeline {
    let s = Settings::load_from(None, [("LOG_GARDENER__WINDOW__REVISE_WITHIN", "0s")]).unwrap();
    let store = MemoryStore::new(Schedule::new(&s.window), s.window.history);
    let fp = Arc::new(Fingerprinter::with_config(s.fingerprint.config));
    Pipeline::new(Arc::new(s), fp, Arc::new(store), Boundedness::Unbounded)
}

fn replayed() -> WindowReport {
    let mut p = Pipeline::for_replay(Arc::new(Settings::load(None).unwrap()));
    let mut out = Vec::new();
    for e in entries() {
        p.ingest(&e, &mut out);
    }
    let mut reports = p.finish(&mut out);
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

/// Feeds `entries` pulled at clock time `now`, then releases what went idle 6 s later.
fn feed(p: &mut Pipeline, entries: &[RawEntry], now: DateTime<Utc>, out: &mut Vec<Outcome>) {
    let accepts = p.settings().live.accepts;
    for e in entries {
        p.ingest_within(e, Some((accepts, now)), out);
    }
    p.release_idle(now + TimeDelta::seconds(6), out);
}

#[test]
fn the_rest_of_a_traceback_after_an_idle_release_counts_as_the_replay_counts_it() {
    let expected = told(&replayed());
    let all = entries();
    // a's last two lines come a minute after the rest (a crash-restart's redelivery).
    let (late, early): (Vec<_>, Vec<_>) = all
        .into_iter()
        .enumerate()
        .partition(|(i, _)| *i == 3 || *i == 4);
    let late: Vec<RawEntry> = late.into_iter().map(|(_, e)| e).collect();
    let early: Vec<RawEntry> = early.into_iter().map(|(_, e)| e).collect();
    let pulled = t("2025-09-15T19:20:01Z");

    // The window still open when the rest comes.
    let mut p = live();
    let mut out = Vec::new();
    feed(&mut p, &early, pulled, &mut out);
    let before = p.counts().counted;
    feed(&mut p, &late, pulled + TimeDelta::minutes(1), &mut out);
    let reports = p.close_due(t("2025-09-15T20:05:00Z"), &mut out);
    assert_eq!(reports.len(), 1);
    assert_eq!(told(&reports[0]), expected, "open window");
    assert_eq!(p.counts().counted, 3, "two tracebacks and the payment line");
    assert_eq!(
        before, 3,
        "a's first lines, b's traceback, the payment line"
    );
    assert_eq!(p.counts().restitched, 1, "a's first lines, uncounted");

    // The window closed with the fragment in it: its revision is the replay's window.
    let mut p = live();
    let mut out = Vec::new();
    feed(&mut p, &early, pulled, &mut out);
    let first = p.close_due(t("2025-09-15T20:05:00Z"), &mut out);
    assert_ne!(told(&first[0]), expected, "the fragment counted apart");
    feed(&mut p, &late, t("2025-09-15T20:10:00Z"), &mut out);
    let revised = p.close_due(t("2025-09-15T20:10:10Z"), &mut out);
    assert_eq!(revised.len(), 1, "one revision");
    assert_eq!(revised[0].revision.as_ref().map(|r| r.number), Some(1));
    assert_eq!(told(&revised[0]), expected, "revised window");
}

#[test]
fn a_traceback_reopened_after_a_restart_counts_as_the_replay_counts_it() {
    let expected = told(&replayed());
    let all = entries();
    let (late, early) = cut(&all);
    let s = Arc::new(Settings::load(None).unwrap());
    let schedule = Schedule::new(&s.window);
    let store =
        Arc::new(MemoryStore::new(schedule, s.window.history).revising(s.window.revise_within));
    let fp = Arc::new(Fingerprinter::with_config(s.fingerprint.config));
    let mut p = Pipeline::new(s.clone(), fp.clone(), store.clone(), Boundedness::Unbounded);
    let mut out = Vec::new();
    feed(&mut p, &early, t("2025-09-15T19:20:01Z"), &mut out);
    let snap: super::PipelineSnapshot =
        serde_json::from_str(&serde_json::to_string(&p.snapshot()).unwrap()).unwrap();
    assert!(
        !snap.released.is_empty(),
        "the released runs are checkpointed"
    );
    let store = Arc::new(
        MemoryStore::restore(schedule, s.window.history, store.snapshot())
            .revising(s.window.revise_within),
    );
    let mut p = Pipeline::restore(s, fp, store, snap);
    feed(&mut p, &late, t("2025-09-15T19:21:01Z"), &mut out);
    let reports = p.close_due(t("2025-09-15T20:05:00Z"), &mut out);
    assert_eq!(told(&reports[0]), expected);
}

#[test]
fn stitch_remember_lines_from_the_environment_reaches_the_stitcher() {
    let all = entries();
    let (late, early) = cut(&all);
    let run = |env: &[(&str, &str)]| {
        let s = Settings::load_from(None, env.iter().copied()).unwrap();
        let store = MemoryStore::new(Schedule::new(&s.window), s.window.history)
            .revising(s.window.revise_within);
        let fp = Arc::new(Fingerprinter::with_config(s.fingerprint.config));
        let mut p = Pipeline::new(Arc::new(s), fp, Arc::new(store), Boundedness::Unbounded);
        let mut out = Vec::new();
        feed(&mut p, &early, t("2025-09-15T19:20:01Z"), &mut out);
        let remembered = p.snapshot().released.len();
        feed(&mut p, &late, t("2025-09-15T19:21:01Z"), &mut out);
        let reports = p.close_due(t("2025-09-15T20:05:00Z"), &mut out);
        (remembered, p.counts().restitched, told(&reports[0]))
    };
    let expected = told(&replayed());
    assert_eq!(run(&[]), (2, 1, expected.clone()), "16,384 by default");
    let (remembered, restitched, window) = run(&[("LOG_GARDENER__STITCH__REMEMBER_LINES", "0")]);
    assert_eq!((remembered, restitched), (0, 0), "0 remembers nothing");
    assert_ne!(
        window, expected,
        "a's lines after its release stay a fragment"
    );
}

#[test]
fn a_revision_names_the_cluster_a_traceback_part_was_retracted_from_and_where_the_whole_went() {
    let all = entries();
    let (late, early) = cut(&all);
    let mut p = live();
    let mut out = Vec::new();
    feed(&mut p, &early, t("2025-09-15T19:20:01Z"), &mut out);
    let first = p.close_due(t("2025-09-15T20:05:00Z"), &mut out);
    feed(&mut p, &late, t("2025-09-15T20:10:00Z"), &mut out);
    let revised = p.close_due(t("2025-09-15T20:10:10Z"), &mut out);
    // a's first lines, a cluster of their own at the close, and none in the revision.
    let gone: Vec<_> = first[0]
        .clusters
        .iter()
        .filter(|c| !revised[0].clusters.iter().any(|r| r.id == c.id))
        .collect();
    assert_eq!(gone.len(), 1, "{gone:#?}");
    let part = gone[0].id;
    let rev = revised[0].revision.as_ref().unwrap();
    let whole = revised[0]
        .clusters
        .iter()
        .find(|c| c.template.contains("QueuePool"))
        .unwrap();
    assert_eq!(
        rev.retracted,
        [crate::report::RetractedCluster {
            cluster: part,
            count: 0,
            gone: true,
            into: Some(whole.id),
        }]
    );
    // The GitHub stage gets the part's cluster as a count to correct, pointing to the whole.
    let pending = crate::sinks::github::pending(&revised[0], crate::escalate::Priority::P5);
    let bare: Vec<_> = pending.iter().filter(|x| x.problem.is_bare()).collect();
    assert_eq!(bare.len(), 1, "{pending:#?}");
    assert_eq!(
        (
            bare[0].problem.id.clone(),
            bare[0].problem.count,
            bare[0].problem.revision
        ),
        (part.into(), 0, 1)
    );
    assert_eq!(
        bare[0]
            .problem
            .retraction
            .as_ref()
            .and_then(|r| r.into.clone()),
        Some(whole.id.into())
    );
    // Told once: the next revision of the window (none here) would not repeat it.
    assert!(p.retractions.is_empty());
}

/// `entries()` with a truncated traceback on instance c at 19:10:02 (its first three lines,
/// nothing after): a fragment in any order, in the cluster a's first lines count in alone.
fn with_truncated() -> Vec<RawEntry> {
    let mut v = entries();
    let at = t("2025-09-15T19:10:02Z");
    for (i, text) in TRACE[..3].iter().enumerate() {
        v.push(entry(
            text,
            at + TimeDelta::milliseconds(i as i64),
            &format!("c{i}"),
            "c",
        ));
    }
    v
}

#[test]
fn a_part_retracted_beside_a_fragment_of_its_cluster_leaves_the_replays_counts_and_times() {
    let all = with_truncated();
    let mut p = Pipeline::for_replay(Arc::new(Settings::load(None).unwrap()));
    let mut out = Vec::new();
    for e in &all {
        p.ingest(e, &mut out);
    }
    let expected = told(&p.finish(&mut out)[0]);
    let (late, early) = cut(&all);
    let mut p = live();
    let mut out = Vec::new();
    feed(&mut p, &early, t("2025-09-15T19:20:01Z"), &mut out);
    p.close_due(t("2025-09-15T20:05:00Z"), &mut out);
    feed(&mut p, &late, t("2025-09-15T20:10:00Z"), &mut out);
    let revised = p.close_due(t("2025-09-15T20:10:10Z"), &mut out);
    assert_eq!(revised.len(), 1);
    // The fragment cluster keeps c's lines only: c's count and times, as in the replay.
    let got = told(&revised[0]);
    let unsampled = |(n, clusters): &(u64, Vec<String>)| {
        let cut = |c: &String| c.rsplit_once(' ').map_or(c.clone(), |(c, _)| c.to_owned());
        (*n, clusters.iter().map(cut).collect::<Vec<_>>())
    };
    assert_eq!(unsampled(&got), unsampled(&expected));
    // Only its sample may differ: a's part, redacted (one sample is kept per hop, no
    // runner-up to take its place).
    let differ = got.1.iter().zip(&expected.1).filter(|(g, e)| g != e);
    assert!(differ.count() <= 1, "{got:#?}");
}

#[test]
fn a_late_part_retracted_counts_late_once_and_its_cluster_keeps_the_others_earliest() {
    let all = with_truncated();
    let (payment, rest) = (vec![all[10].clone()], [&all[..10], &all[11..]].concat());
    let (late, early) = cut(&rest);
    let mut p = never_revising();
    let mut out = Vec::new();
    // The 19:00 window closes with the payment line only; every traceback line comes after.
    feed(&mut p, &payment, t("2025-09-15T19:20:01Z"), &mut out);
    p.close_due(t("2025-09-15T20:05:00Z"), &mut out);
    feed(&mut p, &early, t("2025-09-15T20:06:00Z"), &mut out);
    feed(&mut p, &late, t("2025-09-15T20:07:00Z"), &mut out);
    let c = p.counts();
    assert_eq!(
        (c.counted, c.restitched),
        (4, 1),
        "payment, b, c's fragment, a whole"
    );
    assert_eq!(
        c.late, 3,
        "b, c's fragment and a whole: a's part is not late any more"
    );
    // The next worklog (a window with an entry) tells the late entries.
    let next = entry("payment 43 declined", t("2025-09-15T20:30:00Z"), "q", "a");
    feed(&mut p, &[next], t("2025-09-15T20:31:00Z"), &mut out);
    let next = p.close_due(t("2025-09-15T21:05:00Z"), &mut out);
    assert_eq!(next[0].totals.late, 3);
    let earliest: Vec<_> = next[0]
        .late_clusters
        .iter()
        .map(|l| (l.entries, l.earliest))
        .collect();
    assert!(
        earliest.contains(&(1, t("2025-09-15T19:10:02Z"))),
        "the fragment cluster holds c's lines only: {earliest:?}"
    );
}

#[test]
fn a_part_counted_revising_and_retracted_after_a_restart_is_taken_back_from_revising() {
    let all = entries();
    let (late, early) = cut(&all);
    let (part, rest) = early.split_at(3);
    let s = Arc::new(Settings::load(None).unwrap());
    let schedule = Schedule::new(&s.window);
    let store =
        Arc::new(MemoryStore::new(schedule, s.window.history).revising(s.window.revise_within));
    let fp = Arc::new(Fingerprinter::with_config(s.fingerprint.config));
    let mut p = Pipeline::new(s.clone(), fp.clone(), store.clone(), Boundedness::Unbounded);
    let mut out = Vec::new();
    // The 19:00 window closes without a's traceback; its first lines revise it.
    feed(&mut p, rest, t("2025-09-15T19:20:01Z"), &mut out);
    p.close_due(t("2025-09-15T20:05:00Z"), &mut out);
    feed(&mut p, part, t("2025-09-15T20:06:00Z"), &mut out);
    assert_eq!(p.counts().revising, 1, "a's part");
    let snap: super::PipelineSnapshot =
        serde_json::from_str(&serde_json::to_string(&p.snapshot()).unwrap()).unwrap();
    let store = Arc::new(
        MemoryStore::restore(schedule, s.window.history, store.snapshot())
            .revising(s.window.revise_within),
    );
    let mut p = Pipeline::restore(s, fp, store, snap);
    feed(&mut p, &late, t("2025-09-15T20:07:00Z"), &mut out);
    let c = p.counts();
    assert_eq!(
        (c.restitched, c.revising),
        (1, 1),
        "a's whole traceback; its part taken back"
    );
}

#[test]
fn a_part_counted_on_time_and_retracted_after_its_window_closed_for_good_is_not_taken_from_late() {
    let all = entries();
    let (late, early) = cut(&all);
    let mut p = never_revising();
    let mut out = Vec::new();
    // a's first lines counted on time; the 19:00 window closes for good.
    feed(&mut p, &early, t("2025-09-15T19:20:01Z"), &mut out);
    p.close_due(t("2025-09-15T20:05:00Z"), &mut out);
    let straggler = entry("payment 43 declined", t("2025-09-15T19:30:00Z"), "q", "a");
    feed(&mut p, &[straggler], t("2025-09-15T20:06:00Z"), &mut out);
    assert_eq!(p.counts().late, 1);
    feed(&mut p, &late, t("2025-09-15T20:10:00Z"), &mut out);
    let c = p.counts();
    assert_eq!(
        (c.restitched, c.late),
        (1, 2),
        "the straggler and a's whole traceback"
    );
}
