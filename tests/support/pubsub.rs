//! Shared by the `live_*` tests: a pstest emulator per test on a free port, a publisher, the
//! `run` binary with its own configuration, checkpoint polling, and replay for comparison.
//! The emulator is built on first use (`scripts/pubsub-emulator.sh build`; CI runs it first).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const PROJECT: &str = "p";

/// A pstest tool, built on first use with `scripts/pubsub-emulator.sh build` (which installs
/// golang-go and golang-google-cloud-dev with apt when they are missing), so a plain
/// `cargo test` works on a fresh machine.
fn tool(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = root.join("target/pstest").join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !*built {
        let st = Command::new("bash")
            .arg(root.join("scripts/pubsub-emulator.sh"))
            .arg("build")
            .status()
            .expect("run scripts/pubsub-emulator.sh build");
        assert!(st.success(), "scripts/pubsub-emulator.sh build failed");
        *built = true;
    }
    assert!(p.exists(), "{} is missing after the build", p.display());
    p
}

/// A pstest server with topic `t` and subscription `s` (ack deadline 10 s), stopped on drop.
pub struct Emulator {
    child: Child,
    pub addr: String,
    project: String,
    topic: String,
}

impl Emulator {
    /// Topic `t` and subscription `s` in project `p`.
    pub fn start() -> Emulator {
        Emulator::with_names(PROJECT, "t", "s")
    }

    /// The topic and the subscription a deployment names.
    pub fn with_names(project: &str, topic: &str, subscription: &str) -> Emulator {
        let mut child = Command::new(tool("pstest"))
            .args(["-port", "0", "-topic"])
            .arg(format!("projects/{project}/topics/{topic}"))
            .arg("-subscription")
            .arg(format!("projects/{project}/subscriptions/{subscription}"))
            .args(["-ack-deadline", "10"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pstest");
        let stdout = child.stdout.take().expect("pstest stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("pstest output");
        let addr = line
            .trim()
            .strip_prefix("pstest listening on ")
            .unwrap_or_else(|| panic!("unexpected pstest output {line:?}"))
            .to_owned();
        Emulator {
            child,
            addr,
            project: project.to_owned(),
            topic: topic.to_owned(),
        }
    }

    /// Publishes each line as one message (in order) with the smoke tool.
    pub fn publish(&self, lines: &[String]) {
        let mut p = Command::new(tool("smoke"))
            .args([
                "-addr",
                &self.addr,
                "-project",
                &self.project,
                "-topic",
                &self.topic,
            ])
            .args(["-publish-only", "-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start publisher");
        {
            use std::io::Write;
            let mut stdin = p.stdin.take().unwrap();
            for l in lines {
                assert!(!l.contains('\n'), "one message per line");
                writeln!(stdin, "{l}").unwrap();
            }
        }
        assert!(p.wait().unwrap().success(), "publish failed");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `log-gardener run` process with stderr in a file.
pub struct Run {
    pub child: Child,
    pub stderr: PathBuf,
}

/// A working directory for runs: config, checkpoint, worklogs.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    /// `pubsub` adds keys to the `[pubsub]` section, `extra` further sections. The test
    /// config closes windows by event time and flushes them all at shutdown.
    pub fn new(streams: usize, pubsub: &str, extra: &str) -> Workdir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let config = format!(
            "[pubsub]\nproject = \"p\"\nsubscription = \"s\"\nstreams = {streams}\n{pubsub}\n\
             [live]\ncheckpoint = \"{d}/state/checkpoint.json\"\ncheckpoint_every = \"500ms\"\n\
             tick = \"200ms\"\nwatermark = \"event-time\"\nhold_back = \"2s\"\n\
             flush_on_shutdown = true\n\
             max_age = \"36500d\"\n\n\
             [report]\ndir = \"{d}/worklogs\"\n\n\
             # pstest delivers a backlog in random order (it walks a Go map): a backfill of\n\
             # one hour, so allow an hour of lateness (the stitcher, too); with that, the\n\
             # watermark need not be held back for long.\n\
             [window]\nallowed_lateness = \"1h\"\n[stitch]\nhorizon = \"1h\"\n{extra}"
        );
        // Tests run in parallel: each run's metrics endpoint on a port of its own.
        let metrics = if extra.contains("[metrics]") {
            ""
        } else {
            "\n[metrics]\nlisten = \"127.0.0.1:0\"\n"
        };
        std::fs::write(dir.path().join("config.toml"), config + metrics).unwrap();
        Workdir { dir }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn run(&self, emu: &Emulator, n: usize) -> Run {
        self.run_with(emu, n, &[])
    }

    /// A run with extra environment (e.g. `LOG_GARDENER__LIVE__FLUSH_ON_SHUTDOWN=false`).
    pub fn run_with(&self, emu: &Emulator, n: usize, env: &[(&str, &str)]) -> Run {
        self.run_at(&emu.addr, n, env)
    }

    /// A run against whatever listens at `addr` (or nothing).
    pub fn run_at(&self, addr: &str, n: usize, env: &[(&str, &str)]) -> Run {
        let stderr = self.path(&format!("run-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
            .arg("run")
            .arg("--config")
            .arg(self.path("config.toml"))
            .env("PUBSUB_EMULATOR_HOST", addr)
            .env("RUST_LOG", "log_gardener=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start log-gardener run");
        Run { child, stderr }
    }

    /// The last checkpoint, if one was written.
    fn checkpoint(&self) -> Option<Value> {
        let bytes = std::fs::read(self.path("state/checkpoint.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// `received` in the last checkpoint, if one was written.
    pub fn received(&self) -> Option<u64> {
        self.checkpoint()?["pipeline"]["counts"]["received"].as_u64()
    }

    /// Whether the last checkpoint says its process stopped cleanly.
    pub fn clean_stop(&self) -> Option<bool> {
        self.checkpoint()?["clean_stop"].as_bool()
    }

    /// Waits until the checkpoint holds at least `n` entries.
    pub fn wait_received(&self, n: u64, timeout: Duration, run: &mut Run) {
        let start = Instant::now();
        while self.received().unwrap_or(0) < n {
            if let Ok(Some(status)) = run.child.try_wait() {
                panic!("run exited early ({status}): {}", run.log());
            }
            assert!(
                start.elapsed() < timeout,
                "checkpoint holds {:?} < {n} after {timeout:?}: {}",
                self.received(),
                run.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the next checkpoint after the current one (polling every millisecond), so a
    /// kill right after it lands in the gap between the checkpoint and Pub/Sub getting the
    /// acks (the client sends them every 100 ms).
    pub fn wait_next_checkpoint(&self, timeout: Duration) {
        let stamp = || {
            std::fs::metadata(self.path("state/checkpoint.json"))
                .and_then(|m| m.modified())
                .ok()
        };
        let (before, start) = (stamp(), Instant::now());
        while stamp() == before {
            assert!(
                start.elapsed() < timeout,
                "no new checkpoint within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The worklogs written, as JSON, in window order.
    pub fn worklogs(&self) -> Vec<Value> {
        json_files(&self.path("worklogs"))
    }

    /// Replays `lines` (JSON Lines) through the binary and returns its worklogs.
    pub fn replay(&self, lines: &[String]) -> Vec<Value> {
        let input = self.path("input.jsonl");
        std::fs::write(&input, lines.join("\n") + "\n").unwrap();
        let out = self.path("replay");
        let st = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
            .arg("replay")
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        json_files(&out)
    }
}

impl Run {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The metrics endpoint's address, once `run` printed it.
    pub fn metrics_addr(&self, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let log = self.log();
            if let Some(rest) = log.split("metrics on http://").nth(1) {
                if let Some(addr) = rest.split('/').next() {
                    return addr.to_owned();
                }
            }
            assert!(start.elapsed() < timeout, "no metrics address: {log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Waits for the process to exit by itself within `timeout`.
    pub fn exited(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(start.elapsed() < timeout, "still running: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the status and how long it took.
    pub fn terminate(&mut self, timeout: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        self.signal("TERM");
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st, start.elapsed());
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("no exit {timeout:?} after SIGTERM: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, sent directly (no `kill` process to spawn: the timing matters).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_files(dir: &Path) -> Vec<Value> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// One hour of generated entries (a few hundred), oldest first, one JSON object per line.
pub fn hour_of_entries(seed: u64) -> Vec<String> {
    let start = "2025-09-15T19:00:00Z".parse().unwrap();
    log_gardener::synth::generate(start, 1, seed)
        .iter()
        .map(|(_, v)| v.to_string())
        .collect()
}

/// A traceback split one line per entry on instance `a` at 19:10 (`lines`): its first three
/// lines and an entry at 21:00:05 whose event time closes 19:00–20:00, then the rest (what a
/// restart brings).
pub fn split_traceback(lines: &[&str]) -> (Vec<String>, Vec<String>) {
    let entry = |text: &str, at: String, id: String, instance: &str| {
        serde_json::json!({"timestamp": at, "insertId": id, "severity": "ERROR",
            "textPayload": text, "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}},
            "labels": {"instanceId": instance}})
        .to_string()
    };
    let mut part: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let at = format!("2025-09-15T19:10:00.00{i}Z");
            entry(text, at, format!("tb{i}"), "a")
        })
        .collect();
    let rest = part.split_off(3);
    let closer = entry(
        "payment 42 declined",
        "2025-09-15T21:00:05Z".into(),
        "closer".into(),
        "b",
    );
    part.push(closer);
    (part, rest)
}
