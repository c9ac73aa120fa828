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

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a setup script once per test binary; a failure fails every test that needs it.
fn once(done: &Mutex<bool>, script: &str, arg: &str) {
    let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
    if !*done {
        let st = Command::new("bash")
            .arg(root().join(script))
            .arg(arg)
            .status()
            .unwrap_or_else(|e| panic!("run {script} {arg}: {e}"));
        assert!(st.success(), "{script} {arg} failed");
        *done = true;
    }
}

/// `python tests/deploy/tf_env.py CASE`: the container's env, secrets and mounts as JSON.
fn terraform_env(case: &str) -> Value {
    static VENV: Mutex<bool> = Mutex::new(false);
    once(&VENV, "scripts/deploy-checks.sh", "--setup");
    let venv = root().join("target/deploy-venv");
    let out = Command::new(venv.join("bin/python"))
        .arg(root().join("tests/deploy/tf_env.py"))
        .arg(case)
        .env("PYTHONPATH", venv.join("python-hcl2"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run tests/deploy/tf_env.py");
    assert!(
        out.status.success(),
        "tf_env.py {case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("tf_env.py prints JSON")
}

/// The env as the test runs it: mount paths under `tmp`, metrics on a free local port.
fn runnable_env(tf: &Value, tmp: &Path) -> Vec<(String, String)> {
    let mounts: Vec<(String, String)> = tf["mounts"]
        .as_object()
        .expect("mounts")
        .iter()
        .map(|(name, path)| (name.clone(), path.as_str().unwrap().to_owned()))
        .collect();
    let remap = |v: &str| {
        for (name, path) in &mounts {
            if let Some(rest) = v.strip_prefix(path.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return format!("{}{rest}", tmp.join(name).display());
                }
            }
        }
        v.to_owned()
    };
    tf["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_owned();
            let value = e["value"].as_str().unwrap();
            let value = match name.as_str() {
                "LOG_GARDENER__METRICS__LISTEN" => "127.0.0.1:0".to_owned(),
                _ => remap(value),
            };
            (name, value)
        })
        .collect()
}

fn get<'a>(env: &'a [(String, String)], name: &str) -> &'a str {
    env.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} is not in the container's environment"))
}

fn pstest_tool(name: &str) -> PathBuf {
    static BUILT: Mutex<bool> = Mutex::new(false);
    once(&BUILT, "scripts/pubsub-emulator.sh", "build");
    root().join("target/pstest").join(name)
}

/// pstest with the topic and the subscription the environment names, killed on drop.
struct Fake {
    child: Child,
    addr: String,
    project: String,
}

impl Fake {
    fn start(project: &str, subscription: &str) -> Fake {
        let mut child = Command::new(pstest_tool("pstest"))
            .args(["-port", "0"])
            .arg("-topic")
            .arg(format!("projects/{project}/topics/entries"))
            .arg("-subscription")
            .arg(format!("projects/{project}/subscriptions/{subscription}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pstest");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("pstest listening on ")
            .unwrap_or_else(|| panic!("unexpected pstest output {line:?}"))
            .to_owned();
        Fake {
            child,
            addr,
            project: project.to_owned(),
        }
    }

    fn publish(&self, lines: &[String]) {
        let mut p = Command::new(pstest_tool("smoke"))
            .args([
                "-addr",
                &self.addr,
                "-project",
                &self.project,
                "-topic",
                "entries",
            ])
            .args(["-publish-only", "-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start publisher");
        let mut stdin = p.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
        drop(stdin);
        assert!(p.wait().unwrap().success(), "publish failed");
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
    let fake = Fake::start(project, subscription);
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
    wait_for(
        "/readyz = 200",
        Duration::from_secs(30),
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
