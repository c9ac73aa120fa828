//! `log-gardener run` against the Pub/Sub emulator (pstest), through the real binary: a live
//! run gives the same worklogs as a replay of the same entries, also across a `kill -9` and a
//! restart, and SIGTERM drains within 10 s. A traceback cut by the `kill -9` (its first lines
//! before it, the rest after the restart) is counted once, whole, with the checkpoint in a file
//! or in Redis; when its first lines were counted apart and filed as an issue of their own
//! before the kill, the revision closes that issue, pointing to the whole's.
//! An entry a sink publishes again as another message after a restart (a kill -9, or a stop
//! with its window still open) is counted once.

mod support;
use support::github::{Fake as GithubFake, OWNER, REPO, TOKEN};
use support::pubsub as live_support;
use support::redis as in_redis;

use std::time::{Duration, Instant};

use live_support::{hour_of_entries, Emulator, Run, Workdir};
use serde_json::Value;

#[test]
fn a_live_run_writes_the_same_worklogs_as_a_replay_and_stops_within_10s() {
    let emu = Emulator::start();
    let wd = Workdir::new(3, "", "");
    let entries = hour_of_entries(11);
    let mut run = wd.run(&emu, 1);
    emu.publish(&entries);
    wd.wait_received(entries.len() as u64, Duration::from_secs(60), &mut run);
    let (status, took) = run.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", run.log());
    assert!(took < Duration::from_secs(10), "took {took:?} to stop");
    let live = wd.worklogs();
    assert!(!live.is_empty(), "{}", run.log());
    assert_eq!(live, wd.replay(&entries));
}

#[test]
fn kill_9_mid_stream_then_restart_counts_every_entry_once() {
    let emu = Emulator::start();
    // One stream (≈95 msg/s from pstest) so the kill lands mid-stream.
    let wd = Workdir::new(1, "", "");
    let entries = hour_of_entries(12);
    let mut first = wd.run(&emu, 1);
    emu.publish(&entries);
    wd.wait_received(60, Duration::from_secs(60), &mut first);
    // Right after a checkpoint: its messages are most likely not acked yet, so Pub/Sub
    // redelivers messages the checkpoint already holds; messages taken since are lost with
    // the process and come back too.
    wd.wait_next_checkpoint(Duration::from_secs(10));
    first.kill9();
    // (None: killed between the two renames of a checkpoint write.)
    assert_ne!(
        wd.clean_stop(),
        Some(true),
        "a crash leaves no clean checkpoint"
    );
    let at_crash = wd.received().unwrap_or(0);
    assert!(
        at_crash < entries.len() as u64,
        "the crash should come before the end ({at_crash})"
    );
    // Messages taken but not checkpointed come back when their 10 s ack deadline expires.
    let mut second = wd.run(&emu, 2);
    wd.wait_received(entries.len() as u64, Duration::from_secs(90), &mut second);
    let (status, _) = second.terminate(Duration::from_secs(15));
    assert!(status.success(), "{}", second.log());
    assert_eq!(
        wd.received(),
        Some(entries.len() as u64),
        "each entry counted once"
    );
    assert_eq!(wd.worklogs(), wd.replay(&entries), "{}", second.log());
    let recognised = second
        .log()
        .matches("redelivered message already counted")
        .count();
    eprintln!(
        "crash at {at_crash} checkpointed; {recognised} redeliveries recognised after restart"
    );
}

#[test]
fn sigterm_mid_stream_drains_within_10s_and_a_restart_continues() {
    let emu = Emulator::start();
    let wd = Workdir::new(1, "", "");
    let entries = hour_of_entries(13);
    // A plain stop: windows stay open in the checkpoint for the next run.
    let mut first = wd.run_with(
        &emu,
        1,
        &[("LOG_GARDENER__LIVE__FLUSH_ON_SHUTDOWN", "false")],
    );
    emu.publish(&entries);
    wd.wait_received(40, Duration::from_secs(60), &mut first);
    let (status, took) = first.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", first.log());
    assert!(took < Duration::from_secs(10), "took {took:?} to drain");
    assert!(first.log().contains("acked"), "{}", first.log());
    assert!(wd.worklogs().is_empty(), "no window was due");
    assert_eq!(wd.clean_stop(), Some(true), "the last checkpoint says so");
    let mut second = wd.run(&emu, 2);
    wd.wait_received(entries.len() as u64, Duration::from_secs(90), &mut second);
    let (status, _) = second.terminate(Duration::from_secs(15));
    assert!(status.success());
    assert_eq!(wd.received(), Some(entries.len() as u64));
    assert_eq!(wd.worklogs(), wd.replay(&entries));
}

#[test]
fn messages_of_a_checkpoint_that_cannot_be_written_are_not_acked_but_redelivered_once() {
    let emu = Emulator::start();
    let wd = Workdir::new(1, "", "");
    let entries = hour_of_entries(14);
    let mut first = wd.run_with(
        &emu,
        1,
        &[("LOG_GARDENER__LIVE__FLUSH_ON_SHUTDOWN", "false")],
    );
    emu.publish(&entries);
    wd.wait_received(40, Duration::from_secs(60), &mut first);
    // A file where the checkpoint directory was: every checkpoint from now on fails.
    let (state, aside) = (wd.path("state"), wd.path("state.ok"));
    std::fs::rename(&state, &aside).unwrap();
    std::fs::write(&state, b"in the way").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (status, took) = first.terminate(Duration::from_secs(15));
    assert_eq!(status.code(), Some(5), "{}", first.log());
    assert!(took < Duration::from_secs(10));
    assert!(first.log().contains("checkpoint failed"), "{}", first.log());
    std::fs::remove_file(&state).unwrap();
    std::fs::rename(&aside, &state).unwrap();
    let held = wd.received().unwrap();
    assert!(held < entries.len() as u64, "{held}");
    // What was taken after the last good checkpoint was never acked: it comes back.
    let mut second = wd.run(&emu, 2);
    wd.wait_received(entries.len() as u64, Duration::from_secs(90), &mut second);
    let (status, _) = second.terminate(Duration::from_secs(15));
    assert!(status.success(), "{}", second.log());
    assert_eq!(wd.received(), Some(entries.len() as u64));
    assert_eq!(wd.worklogs(), wd.replay(&entries));
}

/// Where a run keeps its checkpoint: the file of the `Workdir`'s config, or Redis (one replica
/// holding the lease) under a prefix of the test's own.
enum Kept {
    File,
    Redis(String),
}

impl Kept {
    fn env(&self) -> Vec<(&str, &str)> {
        match self {
            Kept::File => Vec::new(),
            Kept::Redis(prefix) => vec![
                ("LOG_GARDENER__STATE__REDIS_URL", in_redis::URL),
                ("LOG_GARDENER__STATE__KEY_PREFIX", prefix.as_str()),
                ("LOG_GARDENER__STATE__LEASE", "3s"),
            ],
        }
    }

    /// The pipeline part of the last checkpoint (`Null` before the first).
    fn pipeline(&self, wd: &Workdir) -> Value {
        let json = match self {
            Kept::File => std::fs::read_to_string(wd.path("state/checkpoint.json")).ok(),
            Kept::Redis(prefix) => redis::cmd("GET")
                .arg(in_redis::key(prefix, "checkpoint"))
                .query(&mut in_redis::connect())
                .unwrap(),
        };
        json.and_then(|j| serde_json::from_str::<Value>(&j).ok())
            .map_or(Value::Null, |v| v["pipeline"].clone())
    }

    /// Waits until the last checkpoint's pipeline satisfies `done`.
    fn wait(&self, wd: &Workdir, run: &mut Run, what: &str, done: impl Fn(&Value) -> bool) {
        let start = Instant::now();
        while !done(&self.pipeline(wd)) {
            if let Ok(Some(status)) = run.child.try_wait() {
                panic!("run exited early ({status}): {}", run.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "no checkpoint {what} after 90 s: {}\n{}",
                self.pipeline(wd),
                run.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let Kept::Redis(prefix) = self {
            in_redis::clear(&mut in_redis::connect(), prefix);
        }
    }
}

/// Whether a checkpoint's list of raw entries (`held`, or a run of `released`) holds the entry
/// with insertId `id`.
fn names(raws: &Value, id: &str) -> bool {
    raws.as_array().into_iter().flatten().any(|raw| {
        raw.as_str()
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
            .is_some_and(|v| v["insertId"] == id)
    })
}

/// An hour of entries, and the lines of its first split traceback (a chained Python traceback,
/// one entry per stderr line) cut after its first section: (the rest, the first section's
/// insertId, the lines after the cut).
fn hour_with_a_cut_traceback(seed: u64) -> (Vec<String>, String, Vec<String>) {
    let entries = hour_of_entries(seed);
    let parsed: Vec<Value> = entries
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let start = parsed
        .iter()
        .position(|v| v["textPayload"] == "Traceback (most recent call last):")
        .expect("the hour holds a split traceback");
    let instance = parsed[start]["labels"]["instanceId"].clone();
    let lines: Vec<usize> = (start..parsed.len())
        .filter(|&i| parsed[i]["labels"]["instanceId"] == instance)
        .collect();
    assert_eq!(lines.len(), 11, "one chained traceback on its own instance");
    // The first section ends with the exception line: on its own it stitches into a whole
    // traceback of its own (a fragment cluster, if nothing joins the rest to it).
    assert!(parsed[lines[3]]["textPayload"]
        .as_str()
        .unwrap()
        .starts_with("sqlalchemy.exc.TimeoutError"));
    let after: Vec<String> = lines[4..].iter().map(|&i| entries[i].clone()).collect();
    let before: Vec<String> = (0..entries.len())
        .filter(|i| !lines[4..].contains(i))
        .map(|i| entries[i].clone())
        .collect();
    let first = parsed[start]["insertId"].as_str().unwrap().to_owned();
    (before, first, after)
}

/// A traceback whose first lines came before a `kill -9` and the rest after the restart is
/// counted once, whole, as `replay` counts it: no cluster for the first section alone.
/// `released`: the first section was released (counted) before the kill, so it comes back
/// from the checkpoint's remembered runs and is reopened; otherwise it is still held.
fn traceback_cut_by_kill_9(kept: Kept, released: bool, seed: u64) {
    let emu = Emulator::start();
    let wd = Workdir::new(1, "", "");
    let (before, first_id, after) = hour_with_a_cut_traceback(seed);
    let mut env = kept.env();
    // Released after a second without a line joining it: long before the kill.
    env.extend(released.then_some(("LOG_GARDENER__STITCH__HORIZON", "1s")));
    let mut first = wd.run_with(&emu, 1, &env);
    emu.publish(&before);
    // Killed as soon as a checkpoint has the section, most likely mid-stream: what was taken
    // since comes back after the ack deadline, beside the rest of the traceback.
    if released {
        kept.wait(&wd, &mut first, "remembering the section", |p| {
            p["released"]
                .as_array()
                .is_some_and(|runs| runs.iter().any(|r| names(r, &first_id)))
        });
    } else {
        kept.wait(&wd, &mut first, "holding the section", |p| {
            names(&p["held"], &first_id)
        });
    }
    first.kill9();
    let at_kill = kept.pipeline(&wd)["counts"]["received"].clone();

    let mut second = wd.run_with(&emu, 2, &env);
    emu.publish(&after);
    let all: Vec<String> = [before, after].concat();
    let total = all.len() as u64;
    kept.wait(&wd, &mut second, "with every entry", |p| {
        p["counts"]["received"].as_u64() >= Some(total)
    });
    let (status, _) = second.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", second.log());
    let counts = kept.pipeline(&wd)["counts"].clone();
    assert_eq!(counts["received"], total, "each entry counted once");
    if released {
        assert!(
            counts["restitched"].as_u64() >= Some(1),
            "the section was uncounted when the rest came: {counts}"
        );
    }
    let live = wd.worklogs();
    // A chained traceback is fingerprinted by its first block and the type it ended in.
    let templates: Vec<&str> = live
        .iter()
        .flat_map(|w| w["clusters"].as_array().into_iter().flatten())
        .filter_map(|c| c["template"].as_str())
        .filter(|t| t.contains("QueuePool limit"))
        .collect();
    assert!(
        !templates.is_empty() && templates.iter().all(|t| t.contains("RuntimeError")),
        "a cluster of the first section alone: {templates:#?}"
    );
    assert_eq!(live, wd.replay(&all), "{}", second.log());
    eprintln!("killed with {at_kill} of {total} entries checkpointed; {counts}");
}

#[test]
fn a_traceback_held_at_a_kill_9_is_completed_after_the_restart() {
    traceback_cut_by_kill_9(Kept::File, false, 15);
}

#[test]
fn a_traceback_counted_before_a_kill_9_is_reopened_after_the_restart() {
    traceback_cut_by_kill_9(Kept::File, true, 16);
}

#[test]
fn a_traceback_counted_before_a_kill_9_is_reopened_after_the_restart_on_redis() {
    let prefix = format!("lg-restitch-{}", std::process::id());
    in_redis::clear(&mut in_redis::connect(), &prefix);
    traceback_cut_by_kill_9(Kept::Redis(prefix), true, 17);
}

/// A Python traceback split one line per entry (see [`live_support::split_traceback`]).
fn split_traceback() -> (Vec<String>, Vec<String>) {
    live_support::split_traceback(&[
        "Traceback (most recent call last):",
        "  File \"/app/backend/db.py\", line 88, in get_session",
        "    return pool.connect()",
        "  File \"/app/backend/pool.py\", line 12, in connect",
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached",
    ])
}

/// The issue numbers of `id` in the fake, with their state and state reason.
fn issues(gh: &GithubFake, id: &str) -> Vec<(u64, String, String)> {
    gh.issues_of(id)
        .into_iter()
        .map(|n| {
            let i = gh.issue(n);
            let text = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
            (n, text("state"), text("state_reason"))
        })
        .collect()
}

/// A traceback's first lines counted as a cluster of their own, their window closed and an
/// issue opened for them before a `kill -9`; the rest comes after the restart: the window's
/// revision counts the traceback whole, in a cluster with an issue of its own, and the part's
/// issue is closed as not planned with a comment pointing to it. One open issue remains for
/// the one problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issue_of_a_tracebacks_part_filed_before_a_kill_9_is_closed_pointing_to_the_whole() {
    let emu = Emulator::start();
    let wd = Workdir::new(1, "", "");
    let (server, gh) = GithubFake::start(100).await;
    let (repo, api) = (format!("{OWNER}/{REPO}"), server.uri());
    let env = [
        ("LOG_GARDENER__STITCH__HORIZON", "1s"),
        ("LOG_GARDENER__GITHUB__REPO", repo.as_str()),
        ("LOG_GARDENER__GITHUB__API_URL", api.as_str()),
        ("LOG_GARDENER__GITHUB__WRITE_SPACING", "1ms"),
        ("GITHUB_TOKEN", TOKEN),
    ];
    let (before, rest) = split_traceback();
    let window = |wd: &Workdir| {
        wd.worklogs()
            .into_iter()
            .find(|w| w["window"]["end"] == "2025-09-15T20:00:00Z")
    };
    let mut first = wd.run_with(&emu, 1, &env);
    emu.publish(&before);
    // The window closed with the part as a cluster of its own, and its issue opened.
    let start = Instant::now();
    let part = loop {
        let filed = window(&wd).and_then(|w| {
            let id = w["clusters"][0]["id"].as_str()?.to_owned();
            (!gh.issues_of(&id).is_empty()).then_some(id)
        });
        if let Some(id) = filed {
            break id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no issue for the part: {}",
            first.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    Kept::File.wait(&wd, &mut first, "remembering the part", |p| {
        p["released"]
            .as_array()
            .is_some_and(|runs| runs.iter().any(|r| names(r, "tb0")))
    });
    first.kill9();

    let mut second = wd.run_with(&emu, 2, &env);
    emu.publish(&rest);
    let start = Instant::now();
    while issues(&gh, &part)
        .iter()
        .all(|(_, state, _)| state == "open")
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the part's issue is still open: {:?}\n{}",
            window(&wd),
            second.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _) = second.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", second.log());

    let revised = window(&wd).unwrap();
    assert!(
        revised["revision"]["number"].as_u64() >= Some(1),
        "{revised}"
    );
    let whole = revised["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["template"]
                .as_str()
                .is_some_and(|t| t.contains("QueuePool"))
        })
        .unwrap_or_else(|| panic!("the traceback whole: {revised}"));
    let whole = whole["id"].as_str().unwrap();
    let parts = issues(&gh, &part);
    let wholes = issues(&gh, whole);
    assert_eq!(wholes.len(), 1, "one issue for the problem: {wholes:?}");
    assert_eq!(wholes[0].1, "open");
    assert_eq!(
        parts,
        [(parts[0].0, "closed".into(), "not_planned".into())],
        "the part's issue"
    );
    let comments: Vec<String> = gh
        .lock()
        .comments
        .iter()
        .filter(|(n, _)| *n == parts[0].0)
        .map(|(_, c)| c.clone())
        .collect();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains(&format!("#{}", wholes[0].0)),
        "{}",
        comments[0]
    );
    let body = gh.issue(parts[0].0)["body"].as_str().unwrap().to_owned();
    assert!(
        body.contains("| **Entries** | 0 in all tracked windows |"),
        "{body}"
    );
}

/// One entry, as a Log Router sink publishes it: alike entries share `logName`, `timestamp`
/// and `insertId`, whatever message carries them.
fn published(insert_id: &str) -> String {
    serde_json::json!({"timestamp": "2025-09-15T19:30:00.123456Z", "insertId": insert_id,
        "logName": "projects/p/logs/run.googleapis.com%2Fstderr", "severity": "ERROR",
        "textPayload": "payment provider timed out after 30 s",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}})
    .to_string()
}

/// Messages settled (handed to the client to ack) with the checkpoints `run` wrote so far.
fn acked(run: &Run) -> u64 {
    run.log()
        .lines()
        .filter(|l| l.contains("checkpoint written"))
        .filter_map(|l| {
            l.split("acked=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// Two entries taken, checkpointed and acked; then the process stops (`kill -9`, or a stop
/// that leaves their window open) and the sink publishes both again as new messages (new
/// message ids), beside a third entry alike in all but its insertId: three counted, two
/// duplicates, in the one worklog of their window.
fn republished_after_a_restart(kept: Kept, crash: bool) {
    let emu = Emulator::start();
    let wd = Workdir::new(1, "", "");
    let received = |n: u64| move |p: &Value| p["counts"]["received"].as_u64() >= Some(n);
    let mut env = kept.env();
    env.push(("LOG_GARDENER__LIVE__FLUSH_ON_SHUTDOWN", "false"));
    let mut first = wd.run_with(&emu, 1, &env);
    emu.publish(&[published("retry-1"), published("retry-2")]);
    kept.wait(&wd, &mut first, "with both entries", received(2));
    if crash {
        // Settled with the checkpoint; the client sends the acks within 100 ms. (Should one be
        // lost with the process, its message comes back and is recognised by its id.)
        let start = Instant::now();
        while acked(&first) < 2 {
            assert!(start.elapsed() < Duration::from_secs(30), "{}", first.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        first.kill9();
    } else {
        let (status, _) = first.terminate(Duration::from_secs(15));
        assert!(status.success(), "{status}: {}", first.log());
    }
    assert!(wd.worklogs().is_empty(), "the window is still open");

    let mut second = wd.run_with(&emu, 2, &kept.env());
    emu.publish(&[
        published("retry-1"),
        published("retry-2"),
        published("retry-3"),
    ]);
    kept.wait(
        &wd,
        &mut second,
        "with the entries published again",
        received(5),
    );
    let (status, _) = second.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", second.log());
    let counts = kept.pipeline(&wd)["counts"].clone();
    assert_eq!(counts["duplicates"], 2, "{counts}\n{}", second.log());
    let live = wd.worklogs();
    assert_eq!(live.len(), 1, "{live:#?}");
    let totals = &live[0]["totals"];
    assert_eq!(totals["entries"], 3, "each entry counted once: {totals}");
    assert_eq!(totals["duplicates"], 2, "{totals}");
}

#[test]
fn an_entry_published_again_after_a_kill_9_is_counted_once() {
    republished_after_a_restart(Kept::File, true);
}

#[test]
fn an_entry_published_again_after_a_stop_is_counted_once_on_redis() {
    let prefix = format!("lg-republished-{}", std::process::id());
    in_redis::clear(&mut in_redis::connect(), &prefix);
    republished_after_a_restart(Kept::Redis(prefix), false);
}
