//! The Cloud Run container's environment, exactly as Terraform computes it from terraform/
//! (the `env` blocks of the parsed HCL, evaluated by Terraform in tests/deploy/tf_env.py), for
//! the default variables, the example's tfvars and a full set: `check-config` accepts it, and
//! `run` with nothing but that environment pulls from the Pub/Sub fake, counts, checkpoints
//! and stops cleanly on SIGTERM.
//!
//! What differs from Cloud Run, and why: paths under the container's volume mounts (e.g.
//! /var/lib/log-gardener) are remapped to a temp directory per mount; the metrics address
//! becomes 127.0.0.1:0 (tests run in parallel); PUBSUB_EMULATOR_HOST points at pstest;
//! variables sourced from Secret Manager (GITHUB_TOKEN) are left out, so GitHub runs dry.
//! Needs the deploy venv (made here with `scripts/deploy-checks.sh --setup` when missing) and
//! pstest (`scripts/pubsub-emulator.sh build`); neither is skipped when absent.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::pubsub::Emulator;
use support::terraform::{get, runnable_env, terraform_env};

fn gardener(env: &[(String, String)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_log-gardener"));
    c.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    c
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool, log: &Path) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < timeout,
            "{what} not within {timeout:?}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `GET path` on a local address; true on a 200.
fn http_ok(addr: &str, path: &str) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn the_container_environment_runs(case: &str) {
    let tf = terraform_env(case);
    let tmp = tempfile::tempdir().unwrap();
    let env = runnable_env(&tf, tmp.path());
    assert!(
        env.iter().all(|(_, v)| !v.is_empty()),
        "{case}: an empty value reached the environment: {env:?}"
    );
    let (project, subscription) = (
        get(&env, "LOG_GARDENER__PUBSUB__PROJECT"),
        get(&env, "LOG_GARDENER__PUBSUB__SUBSCRIPTION"),
    );

    // check-config: no file of its own (Cloud Run runs `run` without --config).
    let empty = tmp.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let check = gardener(&env)
        .arg("check-config")
        .arg(&empty)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{case}: check-config refused the container's environment: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        said.contains(&format!("projects/{project}/subscriptions/{subscription}")),
        "{said}"
    );

    // run: pull, count, checkpoint, stop on SIGTERM with exit 0.
    let fake = Emulator::with_names(project, "entries", subscription);
    let log = tmp.path().join("run.log");
    let mut run = gardener(&env)
        .env("PUBSUB_EMULATOR_HOST", &fake.addr)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start log-gardener run");
    let metrics = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let at = text.find("metrics on http://")? + "metrics on http://".len();
        Some(text[at..].split('/').next()?.to_owned())
    };
    wait_for(
        "the metrics address",
        Duration::from_secs(30),
        || metrics().is_some(),
        &log,
    );
    let addr = metrics().unwrap();
    // Ready once the stream to the emulator is open: slow when the four cases start their
    // emulators and services at once on a loaded machine (30 s was once not enough).
    wait_for(
        "/readyz = 200",
        Duration::from_secs(90),
        || http_ok(&addr, "/readyz"),
        &log,
    );
    let start = chrono::Utc::now() - chrono::TimeDelta::minutes(30);
    let lines: Vec<String> = log_gardener::synth::generate(start, 1, 7)
        .iter()
        .take(25)
        .map(|(_, v)| v.to_string())
        .collect();
    fake.publish(&lines);
    let checkpoint = PathBuf::from(get(&env, "LOG_GARDENER__LIVE__CHECKPOINT"));
    assert!(
        checkpoint.starts_with(tmp.path()),
        "remapped: {checkpoint:?}"
    );
    let received = || -> Option<u64> {
        let v: Value = serde_json::from_slice(&std::fs::read(&checkpoint).ok()?).ok()?;
        v["pipeline"]["counts"]["received"].as_u64()
    };
    wait_for(
        "the checkpoint to hold every entry",
        Duration::from_secs(60),
        || received() >= Some(lines.len() as u64),
        &log,
    );
    let rss = resident_kib(run.id());
    eprintln!(
        "{case}: run resident after {} entries: {rss:?} KiB",
        lines.len()
    );
    let term = Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = run.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("{case}: run did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{case}: run exited {status}: {text}");
    assert!(text.contains("run: 25 messages"), "{case}: {text}");
}

#[test]
fn the_default_variables_give_an_environment_that_runs() {
    the_container_environment_runs("defaults");
}

#[test]
fn the_examples_tfvars_give_an_environment_that_runs() {
    the_container_environment_runs("example");
}

#[test]
fn every_optional_setting_gives_an_environment_that_runs() {
    let tf = terraform_env("full");
    let secrets: Vec<&str> = tf["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        secrets,
        ["GITHUB_TOKEN"],
        "the token comes from Secret Manager"
    );
    the_container_environment_runs("full");
}

#[test]
fn check_config_makes_the_checks_replay_makes() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("lg.toml");
    let missing = tmp.path().join("no-such-token");
    std::fs::write(
        &cfg,
        format!(
            "[github]\nrepo = \"acme/backend\"\ntoken_file = \"{}\"\n",
            missing.display()
        ),
    )
    .unwrap();
    let out = gardener(&[])
        .arg("check-config")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("github.token_file") && err.contains("no-such-token"),
        "{err}"
    );
}
