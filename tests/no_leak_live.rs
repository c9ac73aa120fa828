//! Nothing secret leaves the live service either: the planted-secret corpus
//! (`synth::secrets`, every kind × every place × a shared and an own value) is published to
//! Google's Pub/Sub fake and read by `run` configured as `terraform/` configures it (the "full"
//! case), with every sink on at once: worklogs, issues on the stateful GitHub fake, alerts to a
//! real Alertmanager and to the service's own webhook, `/metrics`, logs at debug level, the
//! checkpoint. No planted value, nor any 8-character piece of one, may appear in any file the
//! service wrote, in its stderr, in any request GitHub received, in what Alertmanager holds and
//! forwards, in what the webhook received, or in a scrape of `/metrics`.
//!
//! What differs from Cloud Run, and why (everything else is Terraform's environment):
//! endpoints point at the local fakes and ports, state at a temp directory; a webhook receiver
//! is added (Terraform sets none, the service has one); GitHub writes are not spaced (a test
//! has no secondary rate limit to respect, and more issues are checked); and the backfill
//! settings of tests/deployed.rs (event-time watermark, an hour of allowed lateness and stitch
//! horizon, flush on shutdown), because the fake hands out a backlog in random order and the
//! corpus lies two hours back.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use log_gardener::synth::secrets::{self, Mix};
use serde_json::{json, Value};
use support::github::{Fake as GithubFake, OWNER, REPO, TOKEN};
use support::leaks::{assert_finds_every_value, assert_nothing_leaks, files, requests};
use support::pubsub::{Emulator, Run};
use support::servers::{alertmanager, eventually, get_json, Hook};
use support::terraform::{get, runnable_env, terraform_env};

/// The corpus's hour: two hours before the current one, so every entry is a plausible event
/// time for `run` (weeks old or in the future would be refused as `bad_timestamp`).
fn corpus_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(TimeDelta::hours(1))
        .expect("an hour divides any time")
        - TimeDelta::hours(2)
}

/// A clean entry 80 minutes after the corpus's hour ends: with an hour of allowed lateness it
/// moves the event-time watermark past that end, so the hour's windows close (and issues are
/// filed) while `run` runs, not only at shutdown. It is at most 20 minutes in the future.
fn closing_entry(start: DateTime<Utc>) -> String {
    let at = start + TimeDelta::minutes(140);
    json!({
        "insertId": "closing-entry",
        "resource": {"type": "cloud_run_revision", "labels": {"project_id": "acme-staging",
            "service_name": "billing", "revision_name": "billing-00007-abc",
            "location": "us-central1"}},
        "timestamp": at.to_rfc3339(),
        "receiveTimestamp": at.to_rfc3339(),
        "severity": "ERROR",
        "logName": "projects/acme-staging/logs/run.googleapis.com%2Fstderr",
        "textPayload": "upload finished after retries",
    })
    .to_string()
}

/// Points the container's environment at the local endpoints (see the file's doc for each).
fn configure(env: &mut Env, pubsub: &str, alertmanager: &str, webhook: &str, github: &str) {
    env.set("PUBSUB_EMULATOR_HOST", pubsub);
    env.set("LOG_GARDENER__ALERTS__ALERTMANAGER_URLS", alertmanager);
    env.set("LOG_GARDENER__ALERTS__WEBHOOK_URL", webhook);
    env.set("LOG_GARDENER__GITHUB__REPO", &format!("{OWNER}/{REPO}"));
    env.set("LOG_GARDENER__GITHUB__API_URL", github);
    env.set("LOG_GARDENER__GITHUB__WRITE_SPACING", "1ms");
    env.set("GITHUB_TOKEN", TOKEN);
    env.set("LOG_GARDENER__LIVE__WATERMARK", "event-time");
    env.set("LOG_GARDENER__LIVE__HOLD_BACK", "2s");
    env.set("LOG_GARDENER__WINDOW__ALLOWED_LATENESS", "1h");
    env.set("LOG_GARDENER__STITCH__HORIZON", "1h");
    env.set("LOG_GARDENER__LIVE__FLUSH_ON_SHUTDOWN", "true");
}

struct Env(Vec<(String, String)>);

impl Env {
    fn set(&mut self, k: &str, v: &str) {
        self.0.retain(|(n, _)| n != k);
        self.0.push((k.to_owned(), v.to_owned()));
    }

    fn path(&self, k: &str) -> PathBuf {
        PathBuf::from(get(&self.0, k))
    }
}

/// `log-gardener run` with exactly `env` (nothing inherited) and every log line at debug.
fn start_run(env: &Env, stderr: &Path) -> Run {
    let child = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
        .env_clear()
        .envs(env.0.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "debug")
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .expect("start log-gardener run");
    Run {
        child,
        stderr: stderr.to_owned(),
    }
}

/// The checkpoint's pipeline counts (0 before the first checkpoint).
fn count(checkpoint: &Path, name: &str) -> u64 {
    std::fs::read(checkpoint)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["pipeline"]["counts"][name].as_u64())
        .unwrap_or(0)
}

async fn wait_received(checkpoint: &Path, n: u64, run: &mut Run, within: Duration) {
    let got = eventually(within, || {
        let r = count(checkpoint, "received");
        async move { (r >= n).then_some(r) }
    })
    .await;
    assert!(
        got.is_some(),
        "the checkpoint holds {} < {n} entries after {within:?}: {}",
        count(checkpoint, "received"),
        run.log()
    );
}

/// The worklog JSON of the window ending at `end`, once written.
fn worklog(dir: &Path, end: DateTime<Utc>) -> Option<Value> {
    let path = dir.join(format!("{}.json", log_gardener::sinks::worklog::stem(end)));
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

async fn get_text(url: &str) -> String {
    log_gardener::tls::install();
    let resp = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_planted_secret_leaves_run_with_every_sink_on() {
    let start = corpus_start(Utc::now());
    let (entries, values) = secrets::corpus_of(start, 11, Mix::LIVE);
    let (kinds, places) = secrets::coverage();
    assert!(kinds >= 40, "{kinds} kinds");
    assert_eq!(entries.len(), kinds * places * 3, "every kind × place");
    assert_eq!(
        values.len(),
        kinds * places * 2,
        "a shared and an own value each"
    );
    let lines: Vec<String> = entries.iter().map(Value::to_string).collect();
    assert_finds_every_value(&values, &lines.join("\n"));

    let tmp = tempfile::tempdir().unwrap();
    let mut env = Env(runnable_env(&terraform_env("full"), tmp.path()));
    let emu = Emulator::with_names(
        get(&env.0, "LOG_GARDENER__PUBSUB__PROJECT"),
        "entries",
        get(&env.0, "LOG_GARDENER__PUBSUB__SUBSCRIPTION"),
    );
    let (github_server, github) = GithubFake::start(100).await;
    let (am_hook, am_hook_addr) = Hook::start().await;
    let mut am = alertmanager(am_hook_addr);
    am.wait_ready().await;
    let (webhook, webhook_addr) = Hook::start().await;
    let webhook_url = format!("http://{webhook_addr}/services/T0/B0/hook");
    configure(
        &mut env,
        &emu.addr,
        &am.url(),
        &webhook_url,
        &github_server.uri(),
    );
    let checkpoint = env.path("LOG_GARDENER__LIVE__CHECKPOINT");
    let report_dir = env.path("LOG_GARDENER__REPORT__DIR");

    let mut run = start_run(&env, &tmp.path().join("run.log"));
    let metrics = run.metrics_addr(Duration::from_secs(20));
    emu.publish(&lines);
    // pstest hands out ~80 messages a second on an idle machine; a loaded one, half that.
    wait_received(
        &checkpoint,
        lines.len() as u64,
        &mut run,
        Duration::from_secs(20 + lines.len() as u64 / 40),
    )
    .await;
    emu.publish(&[closing_entry(start)]);

    // The hour's window closed while running: it counted the whole corpus.
    let hour_end = start + TimeDelta::hours(1);
    let closed = eventually(Duration::from_secs(30), || {
        let w = worklog(&report_dir, hour_end);
        async move { w }
    })
    .await;
    let closed = closed.unwrap_or_else(|| panic!("the hour never closed: {}", run.log()));
    assert_eq!(
        closed["totals"]["entries"].as_u64(),
        Some(lines.len() as u64),
        "the hour's worklog counts every entry published"
    );
    // Every sink was exercised: issues filed, alerts through Alertmanager and the webhook.
    let sinks_used = eventually(Duration::from_secs(30), || {
        let used = !github.lock().issues.is_empty()
            && !am_hook.notifications().is_empty()
            && !webhook.notifications().is_empty();
        async move { used.then_some(()) }
    })
    .await;
    assert!(
        sinks_used.is_some(),
        "issues {}, Alertmanager notifications {}, webhook posts {}: {}",
        github.lock().issues.len(),
        am_hook.notifications().len(),
        webhook.notifications().len(),
        run.log()
    );
    let scrape = get_text(&format!("http://{metrics}/metrics")).await;
    assert!(scrape.contains("log_gardener_window_entries"), "{scrape}");
    let held = get_json(&format!("{}/api/v2/alerts", am.url())).await;
    assert!(held.is_some(), "Alertmanager's alerts");

    run.signal("TERM");
    let exited = eventually(Duration::from_secs(20), || {
        let st = run.child.try_wait().ok().flatten();
        async move { st }
    })
    .await;
    let status = exited.unwrap_or_else(|| panic!("no exit after SIGTERM: {}", run.log()));
    assert!(status.success(), "{status}: {}", run.log());
    assert_eq!(
        count(&checkpoint, "received"),
        lines.len() as u64 + 1,
        "the checkpoint holds the corpus and the closing entry"
    );
    // Written after the JSON: there by the time `run` has stopped.
    let md = report_dir.join(format!(
        "{}.md",
        log_gardener::sinks::worklog::stem(hour_end)
    ));
    assert!(md.exists(), "{} was written", md.display());

    let log = run.log();
    assert!(log.contains("DEBUG"), "logs at debug level");
    let mut outputs = files(tmp.path());
    outputs.extend(requests(&github_server).await);
    let json_outputs = [
        (
            "Alertmanager's webhook notifications",
            am_hook.notifications(),
        ),
        ("Alertmanager's alerts", held.into_iter().collect()),
        ("the service's webhook posts", webhook.notifications()),
    ];
    for (name, bodies) in json_outputs {
        outputs.extend(bodies.iter().map(|b| (name.to_owned(), b.to_string())));
    }
    outputs.push(("GET /metrics".into(), scrape));
    eprintln!(
        "checked {} outputs, {} issues, {} Alertmanager notifications, {} webhook posts",
        outputs.len(),
        github.lock().issues.len(),
        am_hook.notifications().len(),
        webhook.notifications().len()
    );
    assert_nothing_leaks(&values, &outputs);
}
