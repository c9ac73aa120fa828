//! Replicas of `run` on one subscription with their state in one Redis (the real one on
//! 127.0.0.1:6379), as `state.redis_url` deploys them: every replica pulls and relays into
//! Redis; one holds the lease and counts, the others stand by for that (`/readyz` 200
//! "standby"). The holder is killed with SIGKILL mid-way; a standby takes over within the
//! lease time from the holder's checkpoint and the relay stream, and the worklogs equal a
//! replay of the same entries: nothing lost, nothing counted twice.

mod support;
use support::github::{issues_per_problem, qualifying, Fake as GithubFake, OWNER, REPO, TOKEN};
use support::pubsub as live_support;
use support::redis as in_redis;
use support::servers::{alertmanager, eventually, Hook};

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use live_support::{hour_of_entries, Emulator, Run, Workdir};
use serde_json::Value;

const REDIS: &str = in_redis::URL;

/// The environment of a replica keeping its state under `prefix`.
fn replica_env(prefix: &str) -> [(&'static str, &str); 4] {
    [
        ("LOG_GARDENER__STATE__REDIS_URL", REDIS),
        ("LOG_GARDENER__STATE__KEY_PREFIX", prefix),
        ("LOG_GARDENER__STATE__LEASE", "3s"),
        ("LOG_GARDENER__METRICS__LISTEN", "127.0.0.1:0"),
    ]
}

/// Sets `key` in `env`, replacing the value [`replica_env`] gave it (or adding it).
fn set_env<'a>(env: &mut Vec<(&'static str, &'a str)>, key: &'static str, value: &'a str) {
    match env.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => env.push((key, value)),
    }
}

struct State {
    conn: redis::Connection,
    prefix: String,
}

impl State {
    fn new(prefix: String) -> State {
        let conn = in_redis::connect();
        let mut s = State { conn, prefix };
        s.clear();
        s
    }

    fn get(&mut self, key: &str) -> Option<String> {
        redis::cmd("GET")
            .arg(in_redis::key(&self.prefix, key))
            .query(&mut self.conn)
            .unwrap()
    }

    fn received(&mut self) -> u64 {
        in_redis::received(&mut self.conn, &self.prefix)
    }

    /// Waits until `run` (the first replica) has taken the lease.
    fn wait_for_holder(&mut self, run: &Run) {
        let start = Instant::now();
        while self.get("lease").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "the first replica takes the lease: {}",
                run.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn clear(&mut self) {
        in_redis::clear(&mut self.conn, &self.prefix);
    }
}

async fn readyz(run: &Run) -> String {
    let addr = run.metrics_addr(Duration::from_secs(15));
    log_gardener::tls::install();
    let r = reqwest::get(format!("http://{addr}/readyz")).await;
    match r {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => e.to_string(),
    }
}

/// Messages `run` relayed into Redis (`log_gardener_relayed_total{outcome="added"}`).
async fn relayed(run: &Run) -> f64 {
    let addr = run.metrics_addr(Duration::from_secs(15));
    let body = match reqwest::get(format!("http://{addr}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => return 0.0,
    };
    body.lines()
        .find_map(|l| l.strip_prefix("log_gardener_relayed_total{outcome=\"added\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn wait(state: &mut State, n: u64, run: &Run) {
    let start = Instant::now();
    while state.received() < n {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "Redis checkpoint holds {} < {n}: {}",
            state.received(),
            run.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_replica_takes_over_from_the_killed_holder_and_the_worklogs_equal_replay() {
    let emu = Emulator::start();
    let work = Workdir::new(2, "", "");
    let prefix = format!("lg-replicas-{}", std::process::id());
    let mut state = State::new(prefix.clone());
    let env = replica_env(&prefix);
    let mut a = work.run_with(&emu, 1, &env);
    state.wait_for_holder(&a);
    let b = work.run_with(&emu, 2, &env);
    let standby = eventually(Duration::from_secs(15), || async {
        let body = readyz(&b).await;
        body.starts_with("standby").then_some(body)
    })
    .await;
    assert!(standby.is_some(), "{}", b.log());

    let lines = hour_of_entries(23);
    let (first, second) = lines.split_at(lines.len() / 2);
    emu.publish(first);
    wait(&mut state, first.len() as u64 / 2, &a);
    // The standby pulls too: it relays its share into Redis for the holder to count.
    let relayed = eventually(Duration::from_secs(15), || async {
        let n = relayed(&b).await;
        (n > 0.0).then_some(n)
    })
    .await;
    assert!(
        relayed.is_some(),
        "the standby relayed nothing: {}",
        b.log()
    );
    a.kill9();
    let taken = Instant::now();
    emu.publish(second);
    let mut b = b;
    wait(&mut state, lines.len() as u64, &b);
    assert!(
        b.log().contains("holding the Redis lease"),
        "the standby took over: {}",
        b.log()
    );
    let took = taken.elapsed();
    let ready = readyz(&b).await;
    assert!(ready.starts_with("ready"), "{ready}");
    let (status, _) = b.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", b.log());
    assert!(state.get("lease").is_none(), "released at a clean stop");

    assert_eq!(
        windows(&work.worklogs()),
        windows(&work.replay(&lines)),
        "took over after {took:?}: {}",
        b.log()
    );
    state.clear();
}

/// A worklog's window, entries and (cluster, count) pairs: what must equal a replay.
type Window = (Value, Value, Vec<(Value, Value)>);

fn windows(worklogs: &[Value]) -> Vec<Window> {
    worklogs
        .iter()
        // Beside the worklogs: each window's GitHub details (`<end>.github.json`).
        .filter(|r| r["window"].is_object())
        .map(|r| {
            let clusters = r["clusters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| (c["id"].clone(), c["count"].clone()))
                .collect();
            (
                r["window"].clone(),
                r["totals"]["entries"].clone(),
                clusters,
            )
        })
        .collect()
}

/// Three replicas, one Redis, a two-hour backfill published while a random replica is killed
/// with SIGKILL every few seconds (and started again, as Cloud Run would), filing issues on a
/// stateful GitHub fake and alerting a real Alertmanager: the windows end exactly as a replay
/// of the same entries reports them, every problem that qualifies has exactly one issue (the
/// GitHub stage's outbox and index live in Redis beside the checkpoint, so a replica taking
/// over syncs what was left), and every new P0/P1 cluster one alert, never fired again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_killed_at_random_during_a_backfill_end_equal_to_replay() {
    chaos(Schedule::default()).await;
}

/// The same crash schedule with other timings, from the environment (`LG_CHAOS_LEASE`,
/// `LG_CHAOS_SLICES`, `LG_CHAOS_PAUSE_MS`, `LG_CHAOS_SIGNAL` = KILL or TERM,
/// `LG_CHAOS_LATENESS`, `LG_CHAOS_AFTER_CLOSE` = 1 to kill the holder as soon as a worklog is written, `LG_CHAOS_SEED`):
/// `cargo test --release --test live_replicas -- --ignored chaos_from_the_environment`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a crash schedule chosen by hand"]
async fn chaos_from_the_environment() {
    let var = |k: &str| std::env::var(k).ok();
    let d = Schedule::default();
    chaos(Schedule {
        lease: var("LG_CHAOS_LEASE").unwrap_or(d.lease),
        slices: var("LG_CHAOS_SLICES").map_or(d.slices, |v| v.parse().unwrap()),
        pause: var("LG_CHAOS_PAUSE_MS")
            .map_or(d.pause, |v| Duration::from_millis(v.parse().unwrap())),
        lateness: var("LG_CHAOS_LATENESS"),
        term: var("LG_CHAOS_SIGNAL").is_some_and(|v| v == "TERM"),
        after_close: var("LG_CHAOS_AFTER_CLOSE").is_some_and(|v| v == "1"),
        seed: var("LG_CHAOS_SEED").map_or(d.seed, |v| v.parse().unwrap()),
    })
    .await;
}

/// When replicas die during the backfill.
struct Schedule {
    /// `state.lease`: how long a dead holder keeps the others waiting.
    lease: String,
    /// The backfill is published in this many slices, a replica killed after each.
    slices: usize,
    /// The wait after each slice, before the kill.
    pause: Duration,
    /// `window.allowed_lateness`, if not the test config's hour (windows then close during
    /// the backfill, and the entries pstest hands out late revise them).
    lateness: Option<String>,
    /// SIGTERM instead of SIGKILL.
    term: bool,
    /// The holder is killed as soon as a new worklog is written (or after `pause`).
    after_close: bool,
    seed: u64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            lease: "3s".into(),
            slices: 6,
            pause: Duration::from_millis(1500),
            lateness: None,
            term: false,
            after_close: false,
            seed: 0x9e37_79b9_u64 ^ std::process::id() as u64,
        }
    }
}

async fn chaos(schedule: Schedule) {
    let emu = Emulator::start();
    let work = Workdir::new(2, "", "");
    let prefix = format!("lg-chaos-{}", std::process::id());
    let mut state = State::new(prefix.clone());
    let (github_server, github) = GithubFake::start(100).await;
    let (repo, api) = (format!("{OWNER}/{REPO}"), github_server.uri());
    let (hook, hook_addr) = Hook::start().await;
    let mut am = alertmanager(hook_addr);
    am.wait_ready().await;
    let am_url = am.url();
    let mut env = replica_env(&prefix).to_vec();
    set_env(&mut env, "LOG_GARDENER__STATE__LEASE", &schedule.lease);
    env.extend([
        ("LOG_GARDENER__GITHUB__REPO", repo.as_str()),
        ("LOG_GARDENER__GITHUB__API_URL", api.as_str()),
        ("LOG_GARDENER__GITHUB__WRITE_SPACING", "1ms"),
        ("GITHUB_TOKEN", TOKEN),
        ("LOG_GARDENER__ALERTS__ALERTMANAGER_URLS", am_url.as_str()),
        ("LOG_GARDENER__ALERTS__MIN_PRIORITY", "P1"),
    ]);
    if let Some(lateness) = &schedule.lateness {
        env.push(("LOG_GARDENER__WINDOW__ALLOWED_LATENESS", lateness.as_str()));
    }
    let mut started = 0;
    let mut start = |work: &Workdir| {
        started += 1;
        work.run_with(&emu, started, &env)
    };
    let mut replicas: Vec<Run> = (0..3).map(|_| start(&work)).collect();
    let lines: Vec<String> = [hour_of_entries(31), hour_of_entries(37)]
        .into_iter()
        .enumerate()
        .flat_map(|(h, hour)| {
            hour.into_iter().map(move |l| {
                // The second hour one hour later, with its own insertIds.
                let mut v: Value = serde_json::from_str(&l).unwrap();
                if h == 1 {
                    let t: chrono::DateTime<chrono::Utc> =
                        v["timestamp"].as_str().unwrap().parse().unwrap();
                    v["timestamp"] = Value::from((t + chrono::TimeDelta::hours(1)).to_rfc3339());
                    v["insertId"] = Value::from(format!("h2-{}", v["insertId"].as_str().unwrap()));
                }
                v.to_string()
            })
        })
        .collect();
    // Publish in slices; between slices kill one replica at random and start another.
    let mut seed = schedule.seed;
    eprintln!(
        "lease {}, lateness {:?}, {} slices, {:?} apart, {}, after a close: {}, seed {seed}",
        schedule.lease,
        schedule.lateness,
        schedule.slices,
        schedule.pause,
        if schedule.term { "SIGTERM" } else { "SIGKILL" },
        schedule.after_close
    );
    let mut rand = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut kills = 0;
    for (round, slice) in lines.chunks(lines.len() / schedule.slices + 1).enumerate() {
        let written = work.worklogs().len();
        emu.publish(slice);
        let waited = Instant::now();
        while waited.elapsed() < schedule.pause
            && !(schedule.after_close && work.worklogs().len() > written)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Every other round the lease holder (its pid is in the lease), else any replica.
        let holder = state.get("lease").and_then(|owner| {
            let pid: u32 = owner.split('/').nth(1)?.parse().ok()?;
            replicas.iter().position(|r| r.child.id() == pid)
        });
        let victim = match holder {
            Some(h) if round % 2 == 0 || schedule.after_close => h,
            _ => rand(replicas.len()),
        };
        if schedule.term {
            let _ = replicas[victim].terminate(Duration::from_secs(15));
        } else {
            replicas[victim].kill9();
        }
        replicas[victim] = start(&work);
        kills += 1;
    }
    let logs = |rs: &[Run]| rs.iter().map(Run::log).collect::<Vec<_>>().join("\n---\n");
    let deadline = Instant::now() + Duration::from_secs(120);
    while state.received() < lines.len() as u64 {
        assert!(
            Instant::now() < deadline,
            "Redis checkpoint holds {} of {} after {kills} kills: {}",
            state.received(),
            lines.len(),
            logs(&replicas)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Standbys first (they stop at once), the holder last: it flushes every window.
    let holder = eventually(Duration::from_secs(20), || async {
        for (i, r) in replicas.iter().enumerate() {
            if readyz(r).await.starts_with("ready") {
                return Some(i);
            }
        }
        None
    })
    .await
    .unwrap_or_else(|| panic!("no replica runs: {}", logs(&replicas)));
    let mut holder_run = replicas.remove(holder);
    for mut r in replicas {
        let (status, _) = r.terminate(Duration::from_secs(15));
        assert!(status.success(), "{status}: {}", r.log());
    }
    let (status, _) = holder_run.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", holder_run.log());

    let expected = work.replay(&lines);
    let late: Vec<(Value, Value, Value)> = work
        .worklogs()
        .iter()
        .filter(|r| r["window"].is_object())
        .map(|r| {
            (
                r["window"]["end"].clone(),
                r["totals"]["late"].clone(),
                r["revision"]["number"].clone(),
            )
        })
        .collect();
    eprintln!("after {kills} kills: (window end, late, revision) {late:?}");
    assert_eq!(
        windows(&work.worklogs()),
        windows(&expected),
        "after {kills} kills"
    );
    let wanted = qualifying(expected.iter().filter(|r| r["window"].is_object()));
    let issues = issues_per_problem(&github, &wanted);
    assert!(!wanted.is_empty());
    assert_eq!(
        issues.keys().collect::<Vec<_>>(),
        wanted.iter().collect::<Vec<_>>(),
        "an issue for every problem that qualifies"
    );
    assert!(issues.values().all(|n| *n == 1), "{issues:?}");
    assert!(
        state.get("github-index").is_some(),
        "the index lives in Redis"
    );
    assert!(!work.path("worklogs/github-outbox.json").exists());
    // One alert per new P0/P1 cluster: Alertmanager notified each new-cluster alert firing
    // (and maybe resolved), never firing again after a takeover.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let urgent: BTreeSet<String> = expected
        .iter()
        .flat_map(|r| r["clusters"].as_array().into_iter().flatten())
        .filter(|c| matches!(c["priority"].as_str(), Some("P0" | "P1")))
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    let mut fired: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in hook.notifications() {
        for a in n["alerts"].as_array().into_iter().flatten() {
            if a["labels"]["alertname"] != "LogGardenerNewCluster" {
                continue;
            }
            let states = fired
                .entry(a["labels"]["cluster"].as_str().unwrap_or("").to_owned())
                .or_default();
            let status = a["status"].as_str().unwrap_or("").to_owned();
            if states.last() != Some(&status) {
                states.push(status);
            }
        }
    }
    assert_eq!(
        fired.keys().cloned().collect::<BTreeSet<_>>(),
        urgent,
        "a new-cluster alert for each P0/P1 cluster: {:#?}\n{}",
        hook.notifications()
            .iter()
            .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
            .filter(|a| !urgent.contains(a["labels"]["cluster"].as_str().unwrap_or("")))
            .collect::<Vec<_>>(),
        holder_run.log()
    );
    for (cluster, states) in &fired {
        assert!(
            states == &["firing"] || states == &["firing", "resolved"],
            "{cluster}: {states:?}"
        );
    }
    let takeovers: u64 = state.get("fence").and_then(|f| f.parse().ok()).unwrap_or(0);
    assert!(takeovers >= 3, "the lease changed hands {takeovers} times");
    state.clear();
}

/// A holder whose lease another replica took (it was paused past the lease, or Redis failed
/// over) exits at once with code 5, writing nothing more, rather than drain into state that
/// is no longer its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_lost_its_lease_exits_at_once_with_code_5() {
    let emu = Emulator::start();
    let work = Workdir::new(1, "", "");
    let prefix = format!("lg-lost-{}", std::process::id());
    let mut state = State::new(prefix.clone());
    let mut run = work.run_with(&emu, 1, &replica_env(&prefix));
    state.wait_for_holder(&run);
    // Another replica takes over: a new owner and fencing token.
    let _: () = redis::cmd("SET")
        .arg(format!("{{{prefix}}}:lease"))
        .arg("other-replica")
        .query(&mut state.conn)
        .unwrap();
    let _: i64 = redis::cmd("INCR")
        .arg(format!("{{{prefix}}}:fence"))
        .query(&mut state.conn)
        .unwrap();
    let status = run.exited(Duration::from_secs(10));
    assert_eq!(status.code(), Some(5), "{}", run.log());
    assert!(
        run.log().contains("taken over by another replica"),
        "{}",
        run.log()
    );
    state.clear();
}
