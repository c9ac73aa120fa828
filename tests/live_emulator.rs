//! `log-gardener run` against the Pub/Sub emulator (pstest), through the real binary: a live
//! run gives the same worklogs as a replay of the same entries, also across a `kill -9` and a
//! restart, and SIGTERM drains within 10 s.

mod support;
use support::pubsub as live_support;

use std::time::Duration;

use live_support::{hour_of_entries, Emulator, Workdir};

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
