//! The service as `terraform/` deploys it, every neighbour at once: `run` with exactly the
//! container environment Terraform computes (the "full" case: GitHub, two Alertmanagers,
//! sliding 15-minute hops), fed by Google's Pub/Sub fake, filing issues on a stateful GitHub
//! fake, alerting a real Alertmanager and scraped by a real Prometheus. Two hours of entries
//! are published an hour at a time; the first process is killed with SIGKILL mid-way, a second
//! takes over and is stopped with SIGTERM, a third drains what GitHub did not get in time.
//! The "redis" case does the same with the state in Redis (the real one on 127.0.0.1:6379)
//! and two replicas: both pull and relay, the one holding the lease counts and is killed, the
//! other takes over while a replacement starts, as Cloud Run replaces an instance. And the
//! page: a P0 line listed by Alertmanager within a minute (6 s measured) of being published,
//! on a fresh start and right after a `kill -9` and restart; on two Redis replicas, and right
//! after the lease holder's `kill -9` (6 s and 11.5 s: one lease time more); among a backlog
//! of 300 at the start after a redeploy (6-8 s); and a count tier's P1 whose crossing entry
//! comes out of event-time order (0.1 s).
//!
//! Asserted: the worklogs equal `replay` of the same entries; exactly one GitHub issue per
//! problem that qualifies, however many restarts; each alert reached Alertmanager's receiver as
//! firing once; Prometheus scraped the closed window's gauges. Entries of several-byte
//! characters glued to status keys are counted, once each, and cut in no output.
//!
//! What differs from Cloud Run, and why (everything else is Terraform's environment):
//! endpoints point at the local fakes and ports; the GitHub token comes from the environment as
//! Secret Manager would give it; and the backfill settings of the README (event-time
//! watermark held back 2 s, an hour of allowed lateness and stitch horizon, flush on shutdown), because the
//! fake hands out a backlog in random order and entries from 2025 are a backfill. With Redis:
//! the URL Secret Manager would give names the local Redis, keys go under a prefix of the
//! test's own, and the lease is 5 s (15 s by default) to keep the takeover short.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::github::{
    issues_per_problem, marked_ids, qualifying, Fake as GithubFake, OWNER, REPO, TOKEN,
};
use support::pubsub::Emulator;
use support::redis as in_redis;
use support::servers::{alertmanager, encode, eventually, free_addrs, get_json, prometheus, Hook};
use support::terraform::{get, runnable_env, terraform_env};

/// The failure shapes whose issue and alert this test follows through every sink: the
/// incident scenarios' and the realistic shapes' (the busy instance's thirty chance errors
/// are left to `tests/replay.rs`: a thousand more messages for the slow fake, and no sink of
/// their own).
fn followed() -> Vec<(&'static str, &'static str, &'static str)> {
    use log_gardener::synth::{incidents::Scenario, shapes::Shape};
    let scenarios = Scenario::ALL
        .iter()
        .map(|s| (s.label(), s.expected().headline, s.expected().priority));
    let shapes = Shape::ALL.iter().filter_map(|s| {
        let e = s.expected();
        Some((s.label(), e.headline?, e.at_most))
    });
    scenarios.chain(shapes).collect()
}

/// Two hours of the synthetic backend with the incident scenarios and the realistic shapes,
/// one JSON line per entry, an hour at a time.
fn hours() -> [Vec<String>; 2] {
    use log_gardener::synth::{incidents::incident_hours, shapes::shape_hours};
    let start = "2025-09-15T19:00:00Z".parse().unwrap();
    let followed: Vec<&str> = followed().iter().map(|f| f.0).collect();
    // Both carry the same background for a seed: the shapes' entries alone are added.
    let shapes = shape_hours(start, 2, 29)
        .into_iter()
        .filter(|(label, _)| followed.contains(label));
    let entries: Vec<_> = incident_hours(start, 2, 29)
        .into_iter()
        .chain(shapes)
        .collect();
    let mut lines: Vec<(String, String)> = entries
        .iter()
        .map(|(_, v)| {
            (
                v["timestamp"].as_str().unwrap_or("").to_owned(),
                v.to_string(),
            )
        })
        .collect();
    lines.extend(
        glued()
            .iter()
            .map(|(at, _, line)| (at.clone(), line.clone())),
    );
    lines.sort();
    let (first, second): (Vec<_>, Vec<_>) = lines
        .into_iter()
        .partition(|(at, _)| at.as_str() < "2025-09-15T20:00:00");
    let mut second: Vec<String> = second.into_iter().map(|(_, l)| l).collect();
    // An entry a sink published twice: another message, the same entry (counted once).
    let again: Vec<String> = second.iter().step_by(50).cloned().collect();
    second.extend(again);
    [first.into_iter().map(|(_, l)| l).collect(), second]
}

/// Text of several-byte characters glued to status keys and colons (Japanese, an accent,
/// Cyrillic), which once panicked `run` at every redelivery: one entry each (a text payload, a
/// JSON payload), in the first hour, so they go through the kill. (event time, a piece of the
/// message every worklog, issue and alert naming it keeps, the JSON line).
fn glued() -> Vec<(String, &'static str, String)> {
    [
        (
            "2025-09-15T19:20:00.250Z",
            "接続エラー:タイムアウト status=503",
            "接続エラー",
        ),
        (
            "2025-09-15T19:21:00.250Z",
            "éRuntimeError: x",
            "éRuntimeError",
        ),
        (
            "2025-09-15T19:22:00.250Z",
            "Ошибкаstatus=503 upstream",
            "Ошибка",
        ),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (at, text, piece))| {
        let mut e = serde_json::json!({"timestamp": at, "severity": "ERROR",
            "insertId": format!("glued-{i}"), "logName": "projects/p/logs/stderr",
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": "checkout"}}});
        if i == 1 {
            e["jsonPayload"] = serde_json::json!({"message": text, "status": "é"});
        } else {
            e["textPayload"] = text.into();
        }
        (at.to_owned(), piece, e.to_string())
    })
    .collect()
}

struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    async fn exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let found = eventually(within, || {
            let st = self.child.try_wait().ok().flatten();
            async move { st }
        })
        .await;
        found.unwrap_or_else(|| panic!("did not exit within {within:?}: {}", self.log()))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gardener(env: &[(String, String)], args: &[&str], log: &Path) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "log_gardener=info")
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start log-gardener");
    Process {
        child,
        log: log.to_owned(),
    }
}

/// Where the deployment keeps its checkpoint: the state volume's file, or Redis.
enum Checkpoint {
    File(PathBuf),
    Redis(String),
}

impl Checkpoint {
    /// `received` in the checkpoint (distinct entries held durably).
    fn received(&self) -> u64 {
        match self {
            Checkpoint::File(path) => std::fs::read(path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| v["pipeline"]["counts"]["received"].as_u64())
                .unwrap_or(0),
            Checkpoint::Redis(prefix) => in_redis::received(&mut in_redis::connect(), prefix),
        }
    }
}

async fn wait_received(checkpoint: &Checkpoint, n: u64, p: &Process) {
    let got = eventually(Duration::from_secs(120), || {
        let r = checkpoint.received();
        async move { (r >= n).then_some(r) }
    })
    .await;
    assert!(
        got.is_some(),
        "checkpoint never held {n} entries: {}",
        p.log()
    );
}

/// The worklog JSONs of a directory by file name, without what only `run` adds.
fn worklogs(dir: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.ends_with(".github.json") || name.starts_with("github")
        {
            continue;
        }
        let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("github");
        out.insert(name, v);
    }
    out
}

/// The duplicates the worklogs told, taken out of them: each is told in the first worklog
/// written after it arrived, so which one depends on when it came.
fn take_duplicates(worklogs: &mut BTreeMap<String, Value>) -> u64 {
    worklogs
        .values_mut()
        .filter_map(|v| v["totals"].as_object_mut()?.remove("duplicates")?.as_u64())
        .sum()
}

async fn prom_value(prom: &str, query: &str) -> Option<f64> {
    let v = get_json(&format!("{prom}/api/v1/query?query={}", encode(query))).await?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// `env` with `k` set to `v`.
fn with(env: &[(String, String)], k: &str, v: &str) -> Vec<(String, String)> {
    let mut env: Vec<_> = env.iter().filter(|(n, _)| n != k).cloned().collect();
    env.push((k.to_owned(), v.to_owned()));
    env
}

/// Which of the two replicas serving metrics on `metrics` stands by, once one does and the
/// other answers (within 30 s).
async fn standby_of(metrics: [std::net::SocketAddr; 2]) -> Option<usize> {
    eventually(Duration::from_secs(30), || async {
        let [a, b] = [readyz(metrics[0]).await, readyz(metrics[1]).await];
        match (a.starts_with("standby"), b.starts_with("standby")) {
            (true, false) if !b.is_empty() => Some(0),
            (false, true) if !a.is_empty() => Some(1),
            _ => None,
        }
    })
    .await
}

/// `/readyz` of the process serving metrics on `addr` ("" while it does not answer).
async fn readyz(addr: std::net::SocketAddr) -> String {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    match client.get(format!("http://{addr}/readyz")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_service_survives_a_kill_and_matches_replay_with_every_sink_on() {
    deployed("full").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_redis_survive_the_holder_killed_and_match_replay_with_every_sink_on() {
    deployed("redis").await;
}

/// A lone exception line of instance `instance` now, as Cloud Run writes a Python exception
/// to stderr: the stitcher holds it as a traceback's possible last line.
fn exception_now(instance: &str, insert_id: &str, text: &str) -> String {
    serde_json::json!({"timestamp": chrono::Utc::now().to_rfc3339(), "severity": "ERROR",
        "insertId": insert_id, "textPayload": text,
        "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
        "labels": {"instanceId": instance},
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "orders"}}})
    .to_string()
}

/// Two P0 lines (Cloud SQL unreachable, by the default rules), each a lone exception line:
/// (what its alert's template holds, the line).
const PAGES: [(&str, &str); 2] = [
    (
        "connection to server at",
        "psycopg2.OperationalError: connection to server at \"10.3.0.5\", port 5432 \
         failed: timeout expired",
    ),
    (
        "QueuePool limit",
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, \
         connection timed out, timeout 30.00",
    ),
];

/// Publishes `page`'s line as instance `instance`'s and returns how long after that
/// Alertmanager listed its P0 alert; fails after `within` with the processes' logs.
async fn page(
    stack: &Stack,
    (name, text): (&str, &str),
    instance: &str,
    within: Duration,
    procs: &[&Process],
) -> Duration {
    let published = std::time::Instant::now();
    let entry = exception_now(instance, &format!("{instance}-p0"), text);
    stack.emu.publish(&[entry]);
    listed(&stack.am.url(), name, "P0", published, within, procs).await
}

/// Alertmanager's active alert whose template holds `text`.
async fn active_with(am: &str, text: &str) -> Option<Value> {
    let alerts = get_json(&format!("{am}/api/v2/alerts")).await?;
    alerts.as_array()?.iter().find_map(|a| {
        let named = a["annotations"]["template"]
            .as_str()
            .is_some_and(|t| t.contains(text));
        (named && a["status"]["state"] == "active").then(|| a.clone())
    })
}

/// Promise 3 through the deployed service, every sink on: a P0 reaches Alertmanager within
/// seconds of its entry being published, on a fresh start and after a `kill -9`, while the
/// restarted process holds tracebacks for the dead one's redeliveries. Terraform's
/// environment but for two timers, set to five minutes (the most allowed) so that neither can
/// carry the page: `live.checkpoint_every` (a fire waits for the checkpoint holding it, so a
/// crash never pages twice) and `live.hold_back` (how long a restart holds tracebacks back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p0_pages_within_seconds_fresh_and_after_a_kill_9_with_every_sink_on() {
    let stack = paging_stack("full").await;
    let env = stack.env.clone();
    let checkpoint = PathBuf::from(get(&env, "LOG_GARDENER__LIVE__CHECKPOINT"));
    let tmp = stack.tmp.path();
    let within = Duration::from_secs(60);

    let mut one = gardener(&env, &["run"], &tmp.join("run-1.log"));
    let took = page(&stack, PAGES[0], "orders-0", within, &[&one]).await;
    eprintln!("page 0 listed {took:?} after publishing, fresh start");
    // The checkpoint holding that alert (the page waited for it), then the kill.
    let held = eventually(Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&checkpoint).unwrap_or_default();
        async move { text.contains("connection to server at").then_some(()) }
    })
    .await;
    assert!(held.is_some(), "{}", one.log());
    one.signal("-KILL");
    one.exit(Duration::from_secs(10)).await;

    let mut two = gardener(&env, &["run"], &tmp.join("run-2.log"));
    let took = page(&stack, PAGES[1], "orders-1", within, &[&two]).await;
    eprintln!("page 1 listed {took:?} after publishing, right after a kill -9 and restart");
    two.signal("-TERM");
    let st = two.exit(Duration::from_secs(15)).await;
    assert!(st.success(), "{st}: {}", two.log());
    // Each page reached the receiver as firing, once.
    let firing = |name: &str| {
        (stack.hook.notifications().iter())
            .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["status"] == "firing")
            .filter(|a| {
                a["annotations"]["template"]
                    .as_str()
                    .is_some_and(|t| t.contains(name))
            })
            .count()
    };
    for (name, _) in PAGES {
        let n = eventually(Duration::from_secs(30), || {
            let n = firing(name);
            async move { (n > 0).then_some(n) }
        })
        .await;
        assert_eq!(n, Some(1), "{name}: {:#?}", stack.hook.notifications());
    }
}

/// Terraform's `case` with the two timers a page must not ride on at five minutes (see
/// `a_p0_pages_within_seconds_fresh_and_after_a_kill_9_with_every_sink_on`).
async fn paging_stack(case: &str) -> Stack {
    let (mut stack, _) = Stack::start(case).await;
    for (k, v) in [
        ("LOG_GARDENER__LIVE__CHECKPOINT_EVERY", "5m"),
        ("LOG_GARDENER__LIVE__HOLD_BACK", "5m"),
    ] {
        stack.env = with(&stack.env, k, v);
    }
    stack
}

/// How long after `since` Alertmanager lists an active alert naming `name` at `priority`;
/// fails after `within` with the processes' logs.
async fn listed(
    am: &str,
    name: &str,
    priority: &str,
    since: std::time::Instant,
    within: Duration,
    procs: &[&Process],
) -> Duration {
    let found = eventually(within, || async {
        let a = active_with(am, name).await?;
        (a["labels"]["priority"] == priority).then_some(a)
    })
    .await;
    let logs: Vec<String> = procs.iter().map(|p| p.log()).collect();
    assert!(
        found.is_some(),
        "no {priority} alert for {name:?} within {within:?}: {:#?}\n{logs:#?}",
        get_json(&format!("{am}/api/v2/alerts")).await
    );
    since.elapsed()
}

/// The value of the metric sample `name` (unlabelled) on the `/metrics` of `addr`.
async fn metric(addr: std::net::SocketAddr, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A structured ERROR entry of service `service` at `at` (never held by the stitcher).
fn error_at(
    at: chrono::DateTime<chrono::Utc>,
    service: &str,
    insert_id: &str,
    message: &str,
) -> String {
    serde_json::json!({"timestamp": at.to_rfc3339(), "severity": "ERROR",
        "insertId": insert_id, "jsonPayload": {"message": message},
        "logName": "projects/p/logs/run.googleapis.com%2Fstdout",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": service}}})
    .to_string()
}

/// `n` ordinary INFO entries now, of a few kinds.
fn infos(n: usize, tag: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            serde_json::json!({"timestamp": chrono::Utc::now().to_rfc3339(), "severity": "INFO",
                "insertId": format!("{tag}-{i}"),
                "jsonPayload": {"message": format!("served basket {i} for customer {}", i % 7)},
                "logName": "projects/p/logs/run.googleapis.com%2Fstdout",
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "web"}}})
            .to_string()
        })
        .collect()
}

/// Promise 3 through `run` on Terraform's "redis" case, two replicas on the real
/// Redis (lease 5 s), one counting and one relaying. A P0 line is listed by Alertmanager within
/// seconds while both run, and within seconds plus one lease time right after the holder is
/// killed with SIGKILL (the other replica takes over).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p0_pages_within_seconds_on_two_redis_replicas_and_after_the_holder_is_killed() {
    let mut stack = paging_stack("redis").await;
    let prefix = format!("page-{}", std::process::id());
    let _cleared = Checkpoint::Redis(prefix.clone());
    in_redis::clear(&mut in_redis::connect(), &prefix);
    for (k, v) in [
        ("LOG_GARDENER__STATE__REDIS_URL", in_redis::URL),
        ("LOG_GARDENER__STATE__KEY_PREFIX", &prefix),
        ("LOG_GARDENER__STATE__LEASE", "5s"),
    ] {
        stack.env = with(&stack.env, k, v);
    }
    let (env, tmp, metrics) = (&stack.env, stack.tmp.path(), stack.metrics);
    let on = |i: usize| {
        with(
            env,
            "LOG_GARDENER__METRICS__LISTEN",
            &metrics[i].to_string(),
        )
    };
    let mut replicas = [
        gardener(&on(0), &["run"], &tmp.join("run-a.log")),
        gardener(&on(1), &["run"], &tmp.join("run-b.log")),
    ];
    let standby = standby_of(metrics).await;
    let standby = standby.unwrap_or_else(|| {
        panic!(
            "no replica stood by: {}\n{}",
            replicas[0].log(),
            replicas[1].log()
        )
    });
    let holder = 1 - standby;

    let [a, b] = &replicas;
    let first = page(
        &stack,
        PAGES[0],
        "orders-0",
        Duration::from_secs(60),
        &[a, b],
    )
    .await;
    eprintln!("redis: P0 listed {first:?} after publishing, both replicas up");

    // The holder dies; the next P0 comes right after.
    replicas[holder].signal("-KILL");
    replicas[holder].exit(Duration::from_secs(10)).await;
    let [a, b] = &replicas;
    let second = page(
        &stack,
        PAGES[1],
        "orders-1",
        Duration::from_secs(90),
        &[a, b],
    )
    .await;
    eprintln!("redis: P0 listed {second:?} after publishing, right after the holder's SIGKILL");
    assert!(first < Duration::from_secs(30), "{first:?}");
    assert!(second < Duration::from_secs(45), "{second:?}");
}

/// A P1 reached by a count tier. An ERROR cluster (P2 by its severity) of the last
/// five minutes, 99 entries in time order, then the 100th, which crosses `escalation.count`'s
/// first tier (100 in the trailing hour): it is stamped four minutes ago, as an instance's
/// delayed export (or a backlog handed out in any order) brings it. The escalation alert, P1,
/// is listed within seconds of it, with the count of 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_tier_p1_pages_within_seconds_of_the_crossing_entry_even_out_of_order() {
    let stack = paging_stack("full").await;
    let am = stack.am.url();
    let one = gardener(&stack.env, &["run"], &stack.tmp.path().join("run-1.log"));
    let name = "ledger reconciliation failed";
    let now = chrono::Utc::now();
    let line = |i: usize, ago_ms: i64| {
        error_at(
            now - chrono::TimeDelta::milliseconds(ago_ms),
            "ledger",
            &format!("tier-{i}"),
            &format!("{name} for batch {i}"),
        )
    };
    // One every three seconds, oldest first: the last one now.
    let below: Vec<String> = (0..99).map(|i| line(i, (98 - i as i64) * 3_000)).collect();
    stack.emu.publish(&below);
    // The cluster alerts at P2 when new; all 99 are counted before the 100th is sent.
    let since = std::time::Instant::now();
    listed(&am, name, "P2", since, Duration::from_secs(60), &[&one]).await;
    let metrics = stack.metrics[0];
    let counted = eventually(Duration::from_secs(60), || async move {
        let n = metric(metrics, "log_gardener_entries_received_total").await?;
        (n >= 99.0).then_some(())
    })
    .await;
    assert!(counted.is_some(), "99 entries not received: {}", one.log());
    let published = std::time::Instant::now();
    stack.emu.publish(&[line(99, 4 * 60_000)]);
    let took = listed(&am, name, "P1", published, Duration::from_secs(90), &[&one]).await;
    eprintln!("count tier: P1 listed {took:?} after the crossing entry was published");
    assert!(took < Duration::from_secs(45), "{took:?}");
    // It tells the count that crossed the tier: the hour up to the cluster's newest entry,
    // not up to the late crossing entry (about twenty of the hundred).
    let alert = active_with(&am, name).await.expect("listed just now");
    let count = alert["annotations"]["count"]
        .as_str()
        .and_then(|c| c.parse::<u64>().ok());
    assert_eq!(count, Some(100), "{alert:#}");
}

/// A redeploy with a backlog: `run` stops on SIGTERM (a clean stop), and while no process
/// pulls, 300 ordinary INFO entries and a P0 line among the last wait in the subscription.
/// The P0 is listed within seconds of the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p0_in_the_backlog_of_a_redeploy_pages_within_seconds_of_the_start() {
    let stack = paging_stack("full").await;
    let tmp = stack.tmp.path();
    let mut one = gardener(&stack.env, &["run"], &tmp.join("run-1.log"));
    stack.emu.publish(&infos(20, "before"));
    let metrics = stack.metrics[0];
    let counted = eventually(Duration::from_secs(60), || async move {
        let n = metric(metrics, "log_gardener_entries_received_total").await?;
        (n >= 20.0).then_some(())
    })
    .await;
    assert!(counted.is_some(), "20 entries not received: {}", one.log());
    one.signal("-TERM");
    let st = one.exit(Duration::from_secs(15)).await;
    assert!(st.success(), "{st}: {}", one.log());

    let mut lines = infos(300, "backlog");
    let text = "psycopg2.OperationalError: connection to server at \"10.3.0.9\", port 5432 \
                failed: timeout expired";
    lines.insert(290, exception_now("orders-1", "backlog-p0", text));
    stack.emu.publish(&lines);
    let started = std::time::Instant::now();
    let two = gardener(&stack.env, &["run"], &tmp.join("run-2.log"));
    let am = stack.am.url();
    let took = listed(
        &am,
        "connection to server at",
        "P0",
        started,
        Duration::from_secs(90),
        &[&two],
    )
    .await;
    eprintln!("redeploy with a backlog of 300: P0 listed {took:?} after the start");
    assert!(took < Duration::from_secs(45), "{took:?}");
}

/// Terraform's `case` as the test runs it, with every neighbour up: the container's
/// environment pointed at them, and the neighbours.
struct Stack {
    tmp: tempfile::TempDir,
    env: Vec<(String, String)>,
    emu: Emulator,
    github_server: wiremock::MockServer,
    github: GithubFake,
    hook: Hook,
    am: support::servers::Server,
    prom: support::servers::Server,
    /// One metrics address a process: the first and the one that replaces it share one.
    metrics: [std::net::SocketAddr; 2],
}

impl Stack {
    async fn start(case: &str) -> (Stack, Value) {
        let tmp = tempfile::tempdir().unwrap();
        let tf = terraform_env(case);
        let mut env = runnable_env(&tf, tmp.path());
        let (project, subscription) = (
            get(&env, "LOG_GARDENER__PUBSUB__PROJECT").to_owned(),
            get(&env, "LOG_GARDENER__PUBSUB__SUBSCRIPTION").to_owned(),
        );
        let emu = Emulator::with_names(&project, "entries", &subscription);
        let (github_server, github) = GithubFake::start(100).await;
        let (hook, hook_addr) = Hook::start().await;
        let mut am = alertmanager(hook_addr);
        am.wait_ready().await;
        let metrics: [_; 2] = free_addrs();
        let mut prom = prometheus(&metrics, &[]);
        prom.wait_ready().await;
        for (k, v) in [
            ("PUBSUB_EMULATOR_HOST", emu.addr.clone()),
            ("LOG_GARDENER__METRICS__LISTEN", metrics[0].to_string()),
            ("LOG_GARDENER__ALERTS__ALERTMANAGER_URLS", am.url()),
            ("LOG_GARDENER__GITHUB__REPO", format!("{OWNER}/{REPO}")),
            ("LOG_GARDENER__GITHUB__API_URL", github_server.uri()),
            ("LOG_GARDENER__GITHUB__WRITE_SPACING", "50ms".to_owned()),
            ("GITHUB_TOKEN", TOKEN.to_owned()),
        ] {
            env = with(&env, k, &v);
        }
        let stack = Stack {
            tmp,
            env,
            emu,
            github_server,
            github,
            hook,
            am,
            prom,
            metrics,
        };
        (stack, tf)
    }
}

/// Terraform's `case` through a kill, a takeover and two restarts, every sink on.
async fn deployed(case: &str) {
    let (stack, tf) = Stack::start(case).await;
    let Stack {
        tmp,
        mut env,
        emu,
        github_server: _github_server,
        github,
        hook,
        am: _am,
        prom,
        metrics,
    } = stack;
    let set = |env: &mut Vec<(String, String)>, k: &str, v: &str| *env = with(env, k, v);
    for (k, v) in [
        ("LOG_GARDENER__LIVE__WATERMARK", "event-time"),
        ("LOG_GARDENER__LIVE__HOLD_BACK", "2s"),
        ("LOG_GARDENER__WINDOW__ALLOWED_LATENESS", "1h"),
        ("LOG_GARDENER__STITCH__HORIZON", "1h"),
        ("LOG_GARDENER__LIVE__FLUSH_ON_SHUTDOWN", "true"),
        ("LOG_GARDENER__LIVE__MAX_AGE", "36500d"),
    ] {
        set(&mut env, k, v);
    }
    let redis = tf["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "LOG_GARDENER__STATE__REDIS_URL");
    assert_eq!(
        redis,
        case == "redis",
        "Terraform gives a Redis URL with Redis only"
    );
    let checkpoint = if redis {
        let prefix = format!("deployed-{}", std::process::id());
        in_redis::clear(&mut in_redis::connect(), &prefix);
        set(&mut env, "LOG_GARDENER__STATE__REDIS_URL", in_redis::URL);
        set(&mut env, "LOG_GARDENER__STATE__KEY_PREFIX", &prefix);
        set(&mut env, "LOG_GARDENER__STATE__LEASE", "5s");
        Checkpoint::Redis(prefix)
    } else {
        Checkpoint::File(PathBuf::from(get(&env, "LOG_GARDENER__LIVE__CHECKPOINT")))
    };
    let report_dir = PathBuf::from(get(&env, "LOG_GARDENER__REPORT__DIR"));
    let [first, second] = hours();
    let total = (first.len() + second.len()) as u64;
    let listen =
        |at: std::net::SocketAddr| with(&env, "LOG_GARDENER__METRICS__LISTEN", &at.to_string());

    // Run 1: half of the first hour, then SIGKILL (with Redis: of the replica holding the lease,
    // the other one pulling beside it).
    let mut one = gardener(&env, &["run"], &tmp.path().join("run-1.log"));
    let mut beside = redis.then(|| {
        gardener(
            &listen(metrics[1]),
            &["run"],
            &tmp.path().join("run-1b.log"),
        )
    });
    emu.publish(&first);
    wait_received(&checkpoint, first.len() as u64 / 2, &one).await;
    let mut at = metrics[0];
    if let Some(b) = beside.as_mut() {
        let standby = standby_of(metrics).await;
        match standby {
            Some(0) => {
                std::mem::swap(&mut one, b);
                at = metrics[1];
            }
            Some(_) => {}
            None => panic!("no replica stood by beside the holder: {}", b.log()),
        }
    }
    one.signal("-KILL");
    one.exit(Duration::from_secs(10)).await;

    // Run 2: takes over (Pub/Sub redelivers what was not acked; with Redis the replica beside
    // it takes the lease and a replacement starts), gets the second hour.
    let mut two = gardener(&listen(at), &["run"], &tmp.path().join("run-2.log"));
    wait_received(&checkpoint, first.len() as u64, &two).await;
    emu.publish(&second);
    wait_received(&checkpoint, total, &two).await;
    // By now the event-time watermark closed the first hour's windows: Prometheus sees them.
    let closed = eventually(Duration::from_secs(60), || async {
        // The most of any replica's: a standby shows none of the holder's windows.
        let v = prom_value(&prom.url(), "max(log_gardener_window_entries)").await?;
        (v > 0.0).then_some(v)
    })
    .await;
    let logs: Vec<String> = std::iter::once(&two)
        .chain(&beside)
        .map(Process::log)
        .collect();
    assert!(closed.is_some(), "no window gauge scraped: {logs:#?}");
    for p in std::iter::once(&mut two).chain(beside.as_mut()) {
        p.signal("-TERM");
        let st = p.exit(Duration::from_secs(15)).await;
        assert!(st.success(), "{st}: {}", p.log());
    }

    // Run 3: the next start sends what GitHub did not get before the shutdown.
    let mut three = gardener(&env, &["run"], &tmp.path().join("run-3.log"));
    let drained = eventually(Duration::from_secs(60), || {
        let log = three.log();
        async move { log.contains("GitHub issues sink started").then_some(()) }
    })
    .await;
    assert!(drained.is_some(), "{}", three.log());
    three.signal("-TERM");
    let st = three.exit(Duration::from_secs(15)).await;
    assert!(st.success(), "{st}: {}", three.log());

    // The worklogs equal a replay of the same entries with the same configuration.
    let input = tmp.path().join("all.jsonl");
    std::fs::write(&input, [first, second].concat().join("\n")).unwrap();
    let replayed = tmp.path().join("replayed");
    let mut replay_env = env.clone();
    replay_env.retain(|(k, _)| {
        k != "LOG_GARDENER__GITHUB__REPO" && !k.starts_with("LOG_GARDENER__STATE__")
    });
    let mut replay = gardener(
        &replay_env,
        &[
            "replay",
            input.to_str().unwrap(),
            "--out",
            replayed.to_str().unwrap(),
        ],
        &tmp.path().join("replay.log"),
    );
    assert!(
        replay.exit(Duration::from_secs(60)).await.success(),
        "{}",
        replay.log()
    );
    let mut live = worklogs(&report_dir);
    let mut expected = worklogs(&replayed);
    let duplicates = take_duplicates(&mut expected);
    assert!(duplicates > 0, "the input holds entries published twice");
    assert_eq!(take_duplicates(&mut live), duplicates, "duplicates told");
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the same windows"
    );
    for (name, want) in &expected {
        assert_eq!(&live[name], want, "{name} differs from the replay's");
    }

    // The glued entries: each counted once in a cluster of its own text, in every window
    // holding it; no output holds a character cut in two (U+FFFD).
    for (_, piece, _) in glued() {
        let counts: Vec<&Value> = live
            .values()
            .flat_map(|w| w["clusters"].as_array().into_iter().flatten())
            .filter(|c| c["template"].as_str().is_some_and(|t| t.contains(piece)))
            .map(|c| &c["count"])
            .collect();
        assert!(
            !counts.is_empty() && counts.iter().all(|n| **n == 1),
            "{piece}: counts {counts:?}"
        );
    }
    let markdown: Vec<String> = std::fs::read_dir(&report_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| std::fs::read_to_string(p).expect("worklog markdown is UTF-8"))
        .collect();
    assert!(!markdown.is_empty());
    let cut = |what: &str, texts: &[String]| {
        let bad: Vec<&String> = texts.iter().filter(|t| t.contains('\u{fffd}')).collect();
        assert!(bad.is_empty(), "{what} with a cut character: {bad:#?}");
    };
    cut("worklogs", &markdown);
    cut(
        "worklogs",
        &live.values().map(Value::to_string).collect::<Vec<_>>(),
    );
    cut(
        "GitHub requests",
        &github
            .lock()
            .issues
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>(),
    );
    cut(
        "alerts",
        &hook
            .notifications()
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>(),
    );

    // Exactly one issue per problem that qualifies, through a kill and two restarts.
    let issues = github.lock().issues.clone();
    let wanted = qualifying(expected.values());
    let seen = issues_per_problem(&github, &wanted);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    if let Ok(dump) = std::env::var("LOG_GARDENER_TEST_DUMP") {
        std::fs::write(&dump, serde_json::to_string_pretty(&issues).unwrap()).unwrap();
        let mut plan = String::new();
        for (name, w) in &expected {
            let r: log_gardener::report::WindowReport = serde_json::from_value(w.clone()).unwrap();
            for p in log_gardener::sinks::github::pending(&r, log_gardener::escalate::Priority::P3)
            {
                plan.push_str(&format!(
                    "{name} {} {:?}\n",
                    p.problem.id, p.problem.aliases
                ));
            }
        }
        std::fs::write(format!("{dump}.plan"), plan).unwrap();
    }
    let shown: Vec<String> = issues
        .iter()
        .map(|i| {
            format!(
                "#{} {} {:?}",
                i["number"],
                i["title"].as_str().unwrap_or(""),
                marked_ids(i["body"].as_str().unwrap_or(""))
            )
        })
        .collect();
    assert!(
        twice.is_empty(),
        "problems with more than one issue: {twice:?}\nissues: {shown:#?}\nwanted: {wanted:?}"
    );
    let missing: Vec<_> = wanted.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(missing.is_empty(), "problems without an issue: {missing:?}");

    // Each alert reached the receiver as firing once (Alertmanager deduplicates re-posts and
    // a restart must not make a second one).
    let notes = hook.notifications();
    assert!(!notes.is_empty(), "Alertmanager notified nobody");
    let mut firing: BTreeMap<String, u32> = BTreeMap::new();
    for n in &notes {
        for a in n["alerts"].as_array().into_iter().flatten() {
            if a["status"] == "firing" {
                let key = format!("{}/{}", a["labels"]["alertname"], a["labels"]["cluster"]);
                *firing.entry(key).or_default() += 1;
            }
        }
    }
    let repeated: Vec<_> = firing.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "fired more than once: {repeated:?}");

    // Each failure shape is filed as `tests/replay.rs` checks it for `replay`: one issue headed
    // by its root cause, and, at P0 or P1, an alert that names it.
    let templates: Vec<&str> = notes
        .iter()
        .flat_map(|n| n["alerts"].as_array().into_iter().flatten())
        .filter(|a| a["status"] == "firing")
        .filter_map(|a| a["annotations"]["template"].as_str())
        .collect();
    for (label, headline, _) in followed() {
        let headed: Vec<&String> = shown.iter().filter(|t| t.contains(headline)).collect();
        assert_eq!(
            headed.len(),
            1,
            "{label}: issues headed {headline:?}: {shown:#?}"
        );
        if headed[0].contains("[P0]") || headed[0].contains("[P1]") {
            assert!(
                templates.iter().any(|t| t.contains(headline)),
                "{label}: no alert names {headline:?}: {templates:#?}"
            );
        }
    }
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        if let Checkpoint::Redis(prefix) = self {
            in_redis::clear(&mut in_redis::connect(), prefix);
        }
    }
}
