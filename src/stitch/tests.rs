//! Tests of stitching on the example file's split traceback, in every arrival order.

use super::*;
use crate::entry::{parse_entry, Severity};

const EXAMPLES: &str = include_str!("../../samples/logentry-examples.jsonl");
const SPLIT_IDS: [&str; 3] = [
    "6741c2f90001a2b3c4d5e6f0",
    "6741c2f90001a2b3c4d5e6f1",
    "6741c2f90001a2b3c4d5e6f2",
];
const JOINED: &str = "Traceback (most recent call last):\n  File \"/app/backend/db.py\", line 88, in get_session\nsqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)";

fn all() -> Vec<Record> {
    EXAMPLES
        .lines()
        .map(|l| parse_entry(l.as_bytes()).unwrap())
        .collect()
}

fn split_lines() -> Vec<Record> {
    let all = all();
    SPLIT_IDS
        .iter()
        .map(|id| all.iter().find(|r| r.insert_id == *id).unwrap().clone())
        .collect()
}

fn run(config: StitchConfig, records: Vec<Record>) -> Vec<Record> {
    let mut s = Stitcher::with_config(config);
    let mut out = Vec::new();
    for r in records {
        s.push(r, &mut out);
    }
    s.flush(&mut out);
    out
}

/// The first split line with another text, time and insertId, parsed from its JSON as a real
/// one is (a bounded stitcher keeps only the JSON and parses it again).
fn line(message: &str, micros: i64, id: &str) -> Record {
    let first = split_lines().remove(0);
    let mut v: serde_json::Value = serde_json::from_str(&first.raw).unwrap();
    let at = first.timestamp + TimeDelta::microseconds(micros);
    v["textPayload"] = message.into();
    v["timestamp"] = at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .into();
    v["insertId"] = id.into();
    parse_entry(v.to_string().as_bytes()).unwrap()
}

#[test]
fn split_python_traceback_becomes_one_record() {
    let out = run(StitchConfig::default(), split_lines());
    assert_eq!(out.len(), 1);
    let r = &out[0];
    assert_eq!(r.message, JOINED);
    assert_eq!(r.insert_id, SPLIT_IDS[0]);
    assert_eq!(r.timestamp, split_lines()[0].timestamp);
    let sample: serde_json::Value = serde_json::from_str(&r.raw).unwrap();
    assert_eq!(
        sample["textPayload"], JOINED,
        "the sample shows the whole trace"
    );
    assert_eq!(sample["insertId"], SPLIT_IDS[0]);
}

#[test]
fn every_arrival_order_gives_the_same_record() {
    let lines = split_lines();
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let records = order.iter().map(|&i| lines[i].clone()).collect();
        let out = run(StitchConfig::default(), records);
        assert_eq!(out.len(), 1, "{order:?}");
        assert_eq!(out[0].message, JOINED, "{order:?}");
        assert_eq!(out[0].insert_id, SPLIT_IDS[0]);
    }
}

#[test]
fn whole_file_oldest_first_and_newest_first_agree() {
    let mut by_time = all();
    by_time.sort_by_key(|r| r.timestamp);
    let key = |mut v: Vec<Record>| {
        v.sort_by(|a, b| a.insert_id.cmp(&b.insert_id));
        v.into_iter()
            .map(|r| (r.insert_id, r.message))
            .collect::<Vec<_>>()
    };
    let forward = run(StitchConfig::default(), by_time.clone());
    by_time.reverse();
    let backward = run(StitchConfig::default(), by_time);
    assert_eq!(forward.len(), all().len() - 2);
    assert_eq!(key(forward), key(backward));
}

#[test]
fn ordinary_entries_pass_straight_through() {
    let mut s = Stitcher::new();
    let mut out = Vec::new();
    s.push(split_lines().remove(0), &mut out);
    assert!(out.is_empty());
    let ordinary = line("Booting worker with pid: 12", 5, "z");
    s.push(ordinary, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].message, "Booting worker with pid: 12");
    assert_eq!(s.held(), 1);
}

#[test]
fn severity_is_the_highest_of_the_lines() {
    let mut lines = split_lines();
    lines[0].severity = Severity::Warning;
    lines[1].severity = Severity::Critical;
    let out = run(StitchConfig::default(), lines);
    assert_eq!(out[0].severity, Severity::Critical);
}

#[test]
fn other_streams_and_far_lines_are_not_joined() {
    let mut lines = split_lines();
    lines[2].instance = Some("another-instance".into());
    assert_eq!(run(StitchConfig::default(), lines).len(), 2);
    let mut lines = split_lines();
    lines[2].timestamp += TimeDelta::seconds(1);
    let out = run(StitchConfig::default(), lines);
    assert_eq!(out.len(), 2);
    assert!(out[1].message.starts_with("sqlalchemy.exc.TimeoutError"));
}

#[test]
fn a_later_entry_of_the_stream_closes_the_run_an_older_one_does_not() {
    for (secs, closes) in [(10, true), (-10, false)] {
        let mut s = Stitcher::new();
        let mut out = Vec::new();
        for r in split_lines() {
            s.push(r, &mut out);
        }
        assert!(out.is_empty());
        // The same stream (instance and log) moves on past the horizon; an entry from
        // before it arriving late (a redelivery) says nothing about the run being done.
        let mut other = line("Listening on port 8080", 0, "z");
        other.timestamp += TimeDelta::seconds(secs);
        s.push(other, &mut out);
        if closes {
            assert_eq!(out.len(), 2, "{secs}");
            assert_eq!(out[0].message, JOINED);
            assert_eq!(s.held(), 0);
        } else {
            assert_eq!(out.len(), 1, "only the older entry itself");
            assert_eq!(s.held(), split_lines().len());
        }
    }
}

#[test]
fn a_run_no_line_joined_for_the_horizon_of_clock_time_is_released() {
    let mut s = Stitcher::with_config(StitchConfig::default());
    let mut out = Vec::new();
    let pulled: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
    for (i, r) in split_lines().into_iter().enumerate() {
        s.push_at(
            r,
            Some(pulled + TimeDelta::milliseconds(i as i64)),
            &mut out,
        );
    }
    s.release_idle(pulled + TimeDelta::seconds(4), &mut out);
    assert!(
        out.is_empty(),
        "within the horizon (5 s) the traceback may still grow"
    );
    s.release_idle(pulled + TimeDelta::seconds(6), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].message, JOINED);
}

#[test]
fn other_streams_far_in_event_time_do_not_cut_a_traceback() {
    let mut s = Stitcher::new();
    let mut out = Vec::new();
    for (i, r) in split_lines().into_iter().enumerate() {
        s.push(r, &mut out);
        // A backfill hands over another instance's entries, an hour apart, in between.
        let mut other = line("Traceback (most recent call last):", 0, &format!("o{i}"));
        other.instance = Some(format!("other-{i}"));
        other.timestamp += TimeDelta::hours(if i % 2 == 0 { 1 } else { -1 });
        s.push(other, &mut out);
    }
    s.flush(&mut out);
    assert!(out.iter().any(|r| r.message == JOINED), "{out:#?}");
    assert_eq!(out.len(), 4, "the trace and the three other streams' lines");
}

#[test]
fn release_before_closes_only_finished_runs() {
    let mut s = Stitcher::new();
    let mut out = Vec::new();
    for r in split_lines() {
        s.push(r, &mut out);
    }
    let t = split_lines()[2].timestamp;
    s.release_before(t + TimeDelta::milliseconds(100), &mut out);
    assert!(out.is_empty(), "a next line could still arrive");
    s.release_before(t + TimeDelta::seconds(1), &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn runs_are_cut_at_max_lines() {
    let config = StitchConfig {
        max_lines: 4,
        ..StitchConfig::default()
    };
    let mut lines = vec![line("Traceback (most recent call last):", 0, "a0")];
    for i in 1..6 {
        lines.push(line(
            "  File \"/app/x.py\", line 1, in f",
            i,
            &format!("a{i}"),
        ));
    }
    let out = run(config, lines);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].message.lines().count(), 4);
}

#[test]
fn open_runs_are_bounded() {
    let config = StitchConfig {
        max_open: 2,
        ..StitchConfig::default()
    };
    let mut s = Stitcher::with_config(config);
    let mut out = Vec::new();
    for i in 0..5 {
        let mut r = line("ValueError: bad", 0, &format!("v{i}"));
        r.instance = Some(format!("i{i}"));
        s.push(r, &mut out);
    }
    assert_eq!(s.held(), 2);
    assert_eq!(out.len(), 3);
}

#[test]
fn java_trace_split_by_line_is_joined() {
    let lines = vec![
        line("java.lang.IllegalStateException: pool closed", 0, "j0"),
        line("\tat com.acme.db.Pool.get(Pool.java:12)", 3, "j1"),
        line("Caused by: java.io.IOException: reset", 6, "j2"),
        line("\tat com.acme.net.Conn.read(Conn.java:5)", 9, "j3"),
    ];
    let mut reversed = lines.clone();
    reversed.reverse();
    let out = run(StitchConfig::default(), reversed);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].message.lines().count(), 4);
    assert_eq!(out[0].insert_id, "j0");
}

#[test]
fn equal_timestamps_are_ordered_by_insert_id() {
    let a = line("Traceback (most recent call last):", 0, "b1");
    let b = line("  File \"/app/x.py\", line 1, in f", 0, "b2");
    let c = line("KeyError: 'k'", 0, "b3");
    let out = run(StitchConfig::default(), vec![c, b, a]);
    assert_eq!(out.len(), 1);
    assert!(out[0].message.starts_with("Traceback"));
    assert!(out[0].message.ends_with("KeyError: 'k'"));
}

#[test]
fn structured_entries_are_never_held() {
    let mut r = line("ValueError: bad input", 0, "s1");
    r.raw = r#"{"jsonPayload":{"message":"ValueError: bad input"}}"#.into();
    let mut s = Stitcher::new();
    let mut out = Vec::new();
    s.push(r, &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn stitched_trace_has_a_stack_signature() {
    let out = run(StitchConfig::default(), split_lines());
    assert_eq!(
        crate::fingerprint::stack::signature(&out[0].message),
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/20/3o7r) (at get_session in backend/db.py)"
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn ids(mut v: Vec<Record>) -> Vec<(String, String)> {
        v.sort_by(|a, b| a.insert_id.cmp(&b.insert_id));
        v.into_iter().map(|r| (r.insert_id, r.message)).collect()
    }

    proptest! {
        #[test]
        fn any_arrival_order_within_the_horizon_gives_the_same_records(
            order in Just(all()).prop_shuffle()
        ) {
            // All example entries lie within 25 minutes; a horizon that wide makes any order legal.
            let config = StitchConfig { horizon: TimeDelta::hours(1), ..StitchConfig::default() };
            prop_assert_eq!(ids(run(config, order)), ids(run(config, all())));
        }
    }
}

#[test]
fn bounded_mode_groups_the_same_whatever_the_order() {
    let texts = [
        "Traceback (most recent call last):",
        "  File \"/app/db.py\", line 88, in get_session",
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached",
    ];
    // Three tracebacks a minute apart on one stream, each line 12 µs after the previous.
    let records: Vec<Record> = (0..3i64)
        .flat_map(|k| {
            texts
                .iter()
                .enumerate()
                .map(move |(i, t)| line(t, k * 60_000_000 + 12 * i as i64, &format!("id{k}{i}")))
        })
        .collect();
    let run = |order: &[usize]| {
        let mut s = Stitcher::bounded(StitchConfig::default());
        let mut out = Vec::new();
        for &i in order {
            s.push(records[i].clone(), &mut out);
        }
        assert!(out.is_empty(), "everything is held until flush");
        assert_eq!(s.held(), 9);
        s.flush(&mut out);
        out.sort_by_key(|r| r.timestamp);
        out.into_iter().map(|r| r.message).collect::<Vec<_>>()
    };
    let forward = run(&[0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(forward.len(), 3, "{forward:#?}");
    assert!(forward.iter().all(|m| m.lines().count() == 3));
    assert_eq!(forward, run(&[8, 7, 6, 5, 4, 3, 2, 1, 0]));
    assert_eq!(forward, run(&[4, 0, 8, 2, 6, 1, 7, 3, 5]));
}

/// A file read a slice of event time at a time: releasing what settled at each cut, then
/// flushing, gives the records one flush at the end gives; a traceback that straddles a cut
/// (lines 100 ms apart across it) stays held, and so does the earliest line it may count at.
#[test]
fn releasing_settled_runs_at_cuts_gives_what_one_flush_gives() {
    let texts = [
        "Traceback (most recent call last):",
        "  File \"/app/db.py\", line 88, in get_session",
        "  File \"/app/db.py\", line 12, in connect",
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached",
    ];
    let config = StitchConfig {
        max_lines: 3,
        ..StitchConfig::default()
    };
    // Tracebacks every 700 ms, lines 100 ms apart: one straddles nearly every cut.
    let records: Vec<Record> = (0..20i64)
        .flat_map(|k| {
            texts.iter().enumerate().map(move |(i, t)| {
                line(
                    t,
                    (k * 700 + 100 * i as i64) * 1_000,
                    &format!("id{k:02}{i}"),
                )
            })
        })
        .collect();
    let messages = |mut out: Vec<Record>| {
        out.sort_by(|a, b| (a.timestamp, &a.insert_id).cmp(&(b.timestamp, &b.insert_id)));
        out.into_iter()
            .map(|r| (r.insert_id, r.message))
            .collect::<Vec<_>>()
    };
    let mut whole = Stitcher::bounded(config);
    let mut expected = Vec::new();
    for r in records.iter().rev() {
        whole.push(r.clone(), &mut expected);
    }
    whole.flush(&mut expected);
    let expected = messages(expected);
    assert_eq!(expected.len(), 40, "cut at max_lines: {expected:#?}");

    let t0 = records[0].timestamp;
    for cut_ms in [330, 1_000, 2_450] {
        let cuts: Vec<DateTime<Utc>> = (1..=14_000 / cut_ms)
            .map(|i| t0 + TimeDelta::milliseconds(i * cut_ms))
            .collect();
        let mut s = Stitcher::bounded(config);
        let mut out = Vec::new();
        let mut fed = 0;
        for &cut in &cuts {
            while fed < records.len() && records[fed].timestamp < cut {
                s.push(records[fed].clone(), &mut out);
                fed += 1;
            }
            s.release_settled(cut, |r| out.append(r));
            for r in &out {
                assert!(r.timestamp < cut);
            }
            if let Some(first) = s.earliest_held() {
                assert!(first < cut && first >= cut - TimeDelta::milliseconds(700));
            }
        }
        for r in &records[fed..] {
            s.push(r.clone(), &mut out);
        }
        s.flush(&mut out);
        assert_eq!(messages(out), expected, "cuts every {cut_ms} ms");
    }
}

/// A chained Python traceback as a runtime writes it: five chunks within 100 µs on one
/// instance, the chain phrase in a chunk of its own.
fn chained_chunks() -> Vec<Record> {
    [
        "Traceback (most recent call last):\n  File \"/app/main.py\", line 12, in <module>\n    import app.services.monitoring",
        "ModuleNotFoundError: No module named 'app.services.monitoring'",
        "\nDuring handling of the above exception, another exception occurred:\n",
        "Traceback (most recent call last):\n  File \"/app/middleware.py\", line 40, in setup\n    raise RuntimeError(\"Failed to setup enhanced middleware\")",
        "RuntimeError: Failed to setup enhanced middleware",
    ]
    .iter()
    .enumerate()
    .map(|(i, m)| line(m, 20 * i as i64, &format!("c{i}")))
    .collect()
}

/// The one record `pieces` stitch into, the same in order, reversed, and through a bounded
/// stitcher fed in reverse.
fn one_record_in_any_order(pieces: Vec<Record>) -> Record {
    let expected = run(StitchConfig::default(), pieces.clone());
    assert_eq!(expected.len(), 1, "{expected:#?}");
    let mut reversed = pieces.clone();
    reversed.reverse();
    assert_eq!(run(StitchConfig::default(), reversed), expected);
    let mut bounded = Stitcher::bounded(StitchConfig::default());
    let mut out = Vec::new();
    for p in pieces.into_iter().rev() {
        bounded.push(p, &mut out);
    }
    bounded.flush(&mut out);
    assert_eq!(out, expected);
    out.remove(0)
}

#[test]
fn a_chained_traceback_in_chunks_becomes_one_record_in_any_order() {
    let text = one_record_in_any_order(chained_chunks()).message;
    assert!(
        text.starts_with("Traceback") && text.ends_with("enhanced middleware"),
        "{text}"
    );
    assert!(text.contains("During handling of the above exception"));
}

/// A chained Python traceback as Cloud Run splits it: one entry per stderr line, the empty
/// lines around the chain phrase included.
fn chained_lines() -> Vec<Record> {
    [
        "Traceback (most recent call last):",
        "  File \"/app/db.py\", line 42, in connect",
        "TimeoutError: QueuePool limit of size 5 overflow 10 reached",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        "  File \"/app/main.py\", line 10, in handler",
        "sqlalchemy.exc.OperationalError: connection to server failed: timeout expired",
    ]
    .iter()
    .enumerate()
    .map(|(i, m)| line(m, 30 * i as i64, &format!("l{i}")))
    .collect()
}

#[test]
fn a_chained_traceback_split_per_line_with_its_blank_lines_is_one_record() {
    let text = one_record_in_any_order(chained_lines()).message;
    assert!(
        text.starts_with("Traceback") && text.ends_with("timeout expired"),
        "{text}"
    );
}

#[test]
fn a_blank_line_outside_a_traceback_is_still_counted() {
    let blank = line("", 0, "b0");
    let after = line("", 6_000_000, "b1");
    let mut s = Stitcher::new();
    let mut out = Vec::new();
    s.push(blank.clone(), &mut out);
    assert!(out.is_empty(), "held: a chain may follow");
    s.push(after, &mut out);
    assert_eq!(
        out,
        vec![blank],
        "a later line of its stream releases it alone"
    );
    s.flush(&mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(s.held(), 0);
}

#[test]
fn java_and_node_traces_split_per_line_are_joined() {
    let java = [
        "Exception in thread \"main\" java.lang.IllegalStateException: Failed to execute runner",
        "\tat org.springframework.boot.SpringApplication.callRunner(SpringApplication.java:798)",
        "Caused by: org.postgresql.util.PSQLException: Connection to 10.0.0.5:5432 refused.",
        "\tat org.postgresql.core.v3.ConnectionFactoryImpl.open(ConnectionFactoryImpl.java:319)",
        "\t... 12 more",
    ];
    let node = [
        "Error: connect ECONNREFUSED 10.0.0.5:5432",
        "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1595:16) {",
        "  errno: -111,",
        "  code: 'ECONNREFUSED',",
        "}",
    ];
    for trace in [&java[..], &node[..]] {
        let lines: Vec<Record> = trace
            .iter()
            .enumerate()
            .map(|(i, m)| line(m, 40 * i as i64, &format!("j{i}")))
            .collect();
        let out = run(StitchConfig::default(), lines.into_iter().rev().collect());
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].message, trace.join("\n"));
    }
}

/// `texts` as Cloud Run splits them: one entry per line, `step` µs apart from `at` µs, on
/// `instance`, insert ids tagged `tag`.
fn split_on(texts: &[&str], at: i64, step: i64, instance: &str, tag: &str) -> Vec<Record> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let r = line(t, at + step * i as i64, &format!("{tag}{i:02}"));
            let mut v: serde_json::Value = serde_json::from_str(&r.raw).unwrap();
            v["labels"]["instanceId"] = instance.into();
            parse_entry(v.to_string().as_bytes()).unwrap()
        })
        .collect()
}

/// Each trace split per line is one record whose text is the trace's, in any order and
/// bounded; interleaved microsecond by microsecond with the same trace of another instance,
/// each instance's lines still make exactly its own record.
fn stitches_alone_and_interleaved(trace: &[&str]) -> Record {
    let joined = trace.join("\n");
    let alone = one_record_in_any_order(split_on(trace, 0, 30, "i-a", "a"));
    assert_eq!(alone.message, joined);

    let mut both = split_on(trace, 0, 30, "i-a", "a");
    both.extend(split_on(trace, 7, 30, "i-b", "b"));
    both.sort_by_key(|r| r.timestamp);
    for records in [both.clone(), both.iter().rev().cloned().collect()] {
        let live = run(StitchConfig::default(), records.clone());
        let mut bounded = Stitcher::bounded(StitchConfig::default());
        let mut out = Vec::new();
        for r in records {
            bounded.push(r, &mut out);
        }
        bounded.flush(&mut out);
        for out in [live, out] {
            assert_eq!(out.len(), 2, "{out:#?}");
            let mut instances: Vec<_> = out.iter().map(|r| r.instance.clone()).collect();
            instances.sort();
            assert_eq!(instances, [Some("i-a".into()), Some("i-b".into())]);
            assert!(out.iter().all(|r| r.message == joined), "{out:#?}");
        }
    }
    alone
}

fn title(record: &Record) -> String {
    crate::fingerprint::stack::signature(&record.message).into_owned()
}

/// psycopg2's message spans three lines; the chain phrase after it still continues the trace,
/// and its root heads the title.
#[test]
fn a_chained_traceback_whose_message_spans_lines_is_one_record() {
    let trace = [
        "Traceback (most recent call last):",
        "  File \"/usr/local/lib/python3.11/site-packages/psycopg2/__init__.py\", line 122, in connect",
        "    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)",
        "psycopg2.OperationalError: could not connect to server: Connection timed out",
        "\tIs the server running on host \"10.20.0.3\" and accepting",
        "\tTCP/IP connections on port 5432?",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        "  File \"/app/orders/jobs.py\", line 23, in sync_inventory",
        "    with engine.connect() as conn:",
        "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) could not connect to server: Connection timed out",
        "(Background on this error at: https://sqlalche.me/e/20/e3q8)",
    ];
    let record = stitches_alone_and_interleaved(&trace);
    assert!(
        title(&record).starts_with(
            "psycopg2.OperationalError: could not connect to server: Connection timed out (at connect"
        ),
        "{}",
        title(&record)
    );
    // The last exception's message may span lines too, with no chain after it.
    let last = stitches_alone_and_interleaved(&trace[..6]);
    assert_eq!(
        title(&last),
        title(&stitches_alone_and_interleaved(&trace[..4]))
    );
}

const GO_PANIC: [&str; 13] = [
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6f2b1d]",
    "",
    "goroutine 41 [running]:",
    "github.com/acme/shipper/internal/rates.(*Client).Quote(0x0, {0x8b1e40, 0xc0001a2000}, 0xc00028e0f0)",
    "\t/src/internal/rates/client.go:57 +0x1d",
    "github.com/acme/shipper/internal/api.(*Server).handleQuote(0xc0000b6000, {0x8b0f20, 0xc0002a01c0}, 0xc0002b4000)",
    "\t/src/internal/api/quote.go:31 +0x9a",
    "net/http.HandlerFunc.ServeHTTP(0xc0000a4120?, {0x8b0f20?, 0xc0002a01c0?}, 0x4d6c0e?)",
    "\t/usr/local/go/src/net/http/server.go:2136 +0x29",
    "created by net/http.(*Server).Serve in goroutine 1",
    "\t/usr/local/go/src/net/http/server.go:3285 +0x4b4",
    "exit status 2",
];

#[test]
fn a_go_panic_split_per_line_is_one_record_titled_by_its_top_frame() {
    let record = stitches_alone_and_interleaved(&GO_PANIC);
    assert_eq!(
        title(&record),
        "panic: runtime error: invalid memory address or nil pointer dereference (at rates.(*Client).Quote in client.go ← api.(*Server).handleQuote in quote.go ← http.HandlerFunc.ServeHTTP in server.go)"
    );
}

/// A panic while panicking (`[recovered]`), and every goroutine's stack after it
/// (GOTRACEBACK=all), blank lines between them.
#[test]
fn a_repanic_with_all_goroutines_is_one_record() {
    let trace = [
        "panic: sql: database is closed [recovered]",
        "\tpanic: sql: database is closed",
        "",
        "goroutine 7 [running]:",
        "panic({0x6c3e40?, 0x9a8b30?})",
        "\t/usr/local/go/src/runtime/panic.go:914 +0x21f",
        "main.(*Store).Save(...)",
        "\t/app/store.go:88",
        "main.main()",
        "\t/app/main.go:20 +0x1d",
        "",
        "goroutine 1 [chan receive, 2 minutes]:",
        "main.wait()",
        "\t/app/main.go:40 +0x25",
    ];
    let record = stitches_alone_and_interleaved(&trace);
    assert!(
        title(&record).starts_with(
            "panic: sql: database is closed [recovered] (at main.(*Store).Save in store.go"
        ),
        "{}",
        title(&record)
    );
}

const NODE_UNCAUGHT: [&str; 11] = [
    "/app/src/routes/checkout.js:42",
    "    const id = session.user.id;",
    "                            ^",
    "",
    "TypeError: Cannot read properties of undefined (reading 'id')",
    "    at /app/src/routes/checkout.js:42:29",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    "    at async Promise.all (index 0)",
    "    at async handler (/app/src/server.js:88:5)",
    "",
    "Node.js v20.11.0",
];

#[test]
fn a_node_uncaught_exception_with_its_preamble_is_one_record() {
    let record = stitches_alone_and_interleaved(&NODE_UNCAUGHT);
    assert!(
        title(&record).starts_with("TypeError: Cannot read properties of undefined"),
        "{}",
        title(&record)
    );
}

/// A top-level `throw` quoted unindented under its caret, an error with a code, and the cause
/// Node prints inside the error object.
#[test]
fn a_node_error_with_a_cause_thrown_at_top_level_is_one_record() {
    let trace = [
        "/app/config.js:12",
        "throw new Error('config failed', { cause: err });",
        "^",
        "",
        "Error [ERR_INVALID_ARG_TYPE]: config failed",
        "    at Object.<anonymous> (/app/config.js:12:7)",
        "    at Module._compile (node:internal/modules/cjs/loader:1256:14) {",
        "  [cause]: Error: DATABASE_URL is not set",
        "      at readEnv (/app/env.js:3:9)",
        "}",
        "",
        "Node.js v20.11.0",
    ];
    let record = stitches_alone_and_interleaved(&trace);
    assert!(
        title(&record).starts_with("Error [ERR_INVALID_ARG_TYPE]: config failed"),
        "{}",
        title(&record)
    );
}

/// What only follows a trace stays a line of its own when no trace precedes it.
#[test]
fn trailers_and_locations_without_a_trace_are_lines_of_their_own() {
    let lines = split_on(
        &[
            "Node.js v20.11.0",
            "/app/server.js:42",
            "exit status 2",
            "goroutine 1 [running]:",
        ],
        0,
        30,
        "i-a",
        "t",
    );
    let out = run(StitchConfig::default(), lines.clone());
    assert_eq!(out, lines);
}

/// Node 15+ on a promise rejected with a value that is not an Error: the location and source
/// line in Node's own code, a caret, the rejection as its inspector prints it (no stack), its
/// code, and the version.
const NODE_REJECTION: [&str; 9] = [
    "node:internal/process/promises:288",
    "            triggerUncaughtException(err, true /* fromPromise */);",
    "            ^",
    "",
    "[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason \"Database connection failed\".] {",
    "  code: 'ERR_UNHANDLED_REJECTION'",
    "}",
    "",
    "Node.js v18.19.0",
];

#[test]
fn a_node_unhandled_rejection_is_one_record_titled_by_its_reason() {
    let record = stitches_alone_and_interleaved(&NODE_REJECTION);
    assert_eq!(
        title(&record),
        "UnhandledPromiseRejection: The promise rejected with the reason \"Database connection failed\"."
    );
    assert_eq!(stated_by_its_lines(&NODE_REJECTION), Severity::Error);
}

/// The severity of `trace` stitched from lines of DEFAULT severity, as Cloud Run writes stderr
/// without structured logging: what its lines say themselves.
fn stated_by_its_lines(trace: &[&str]) -> Severity {
    let lines = split_on(trace, 0, 30, "i-a", "d")
        .into_iter()
        .map(|r| {
            let mut v: serde_json::Value = serde_json::from_str(&r.raw).unwrap();
            v.as_object_mut().unwrap().remove("severity");
            parse_entry(v.to_string().as_bytes()).unwrap()
        })
        .collect();
    let out = run(StitchConfig::default(), lines);
    assert_eq!(out.len(), 1, "{out:#?}");
    out[0].severity
}

/// Python 3.11's `asyncio.TaskGroup` failing: the group's trace, then each sub-exception's,
/// every line framed by `|`, the group indented as a whole.
const EXCEPTION_GROUP: [&str; 21] = [
    "  + Exception Group Traceback (most recent call last):",
    "  |   File \"/app/worker/main.py\", line 41, in <module>",
    "  |     asyncio.run(sync_all())",
    "  |   File \"/usr/local/lib/python3.11/asyncio/runners.py\", line 190, in run",
    "  |     return runner.run(main)",
    "  |   File \"/app/worker/main.py\", line 30, in sync_all",
    "  |     async with asyncio.TaskGroup() as tg:",
    "  |   File \"/usr/local/lib/python3.11/asyncio/taskgroups.py\", line 147, in __aexit__",
    "  |     raise me from None",
    "  | ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)",
    "  +-+---------------- 1 ----------------",
    "    | Traceback (most recent call last):",
    "    |   File \"/app/worker/sync.py\", line 18, in fetch_inventory",
    "    |     raise ConnectionError(f\"inventory API unreachable: {url}\")",
    "    | ConnectionError: inventory API unreachable: https://inventory.internal/v1/items",
    "    +---------------- 2 ----------------",
    "    | Traceback (most recent call last):",
    "    |   File \"/app/worker/sync.py\", line 25, in fetch_prices",
    "    |     raise TimeoutError()",
    "    | TimeoutError",
    "    +------------------------------------",
];

#[test]
fn a_python_exception_group_is_one_record_titled_by_its_first_sub_exception() {
    let record = stitches_alone_and_interleaved(&EXCEPTION_GROUP);
    assert_eq!(
        title(&record),
        "ConnectionError: inventory API unreachable: https://inventory.internal/v1/items (at fetch_inventory in worker/sync.py) → ExceptionGroup"
    );
    assert_eq!(stated_by_its_lines(&EXCEPTION_GROUP), Severity::Error);
}

/// An exception group raised while handling another exception: one trace, headed by the
/// first exception of the chain.
#[test]
fn an_exception_group_in_a_chain_is_part_of_the_trace() {
    let mut trace = vec![
        "Traceback (most recent call last):",
        "  File \"/app/worker/main.py\", line 12, in load",
        "KeyError: 'INVENTORY_URL'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
    ];
    trace.extend(EXCEPTION_GROUP);
    let record = stitches_alone_and_interleaved(&trace);
    assert!(
        title(&record).starts_with("KeyError: 'INVENTORY_URL' (at load in worker/main.py)"),
        "{}",
        title(&record)
    );
    // And one after the group continues it the other way round.
    let mut trace: Vec<&str> = EXCEPTION_GROUP.to_vec();
    trace.extend([
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        "  File \"/app/worker/main.py\", line 44, in <module>",
        "RuntimeError: inventory sync failed",
    ]);
    let record = stitches_alone_and_interleaved(&trace);
    assert!(
        title(&record).starts_with("ConnectionError: inventory API unreachable"),
        "{}",
        title(&record)
    );
}
