//! Against real Alertmanagers (Debian's 0.25, an HA pair without gossip): a P0 cluster from
//! the real pipeline's window report, handed to the alert stage, is listed by both
//! Alertmanagers' `/api/v2/alerts` within 2 s; a P3 one never is;
//! the alert is kept by re-posts while entries come, resolved when the cluster goes quiet, and
//! each Alertmanager notifies its receiver of the resolution exactly once. And an Alertmanager
//! that is down when an alert fires and resolves gets both once it is up, and notifies each once.
//! Through `log-gardener run` on the Pub/Sub emulator: a traceback's first lines alert as a
//! cluster of their own before a `kill -9`; once the rest comes after the restart, that alert
//! is resolved and the whole traceback's fires.

mod support;
use support::pubsub::{Emulator, Workdir};
use support::servers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use log_gardener::config::Settings;
use log_gardener::escalate::Priority;
use log_gardener::pipeline::Pipeline;
use log_gardener::report::ClusterReport;
use log_gardener::sinks::alert::payload::Links;
use log_gardener::sinks::alert::{self, AlertEvent, AlertKind, Alertmanager, Lane, Policy};
use log_gardener::source::{Origin, RawEntry};
use log_gardener::synth;
use serde_json::Value;

/// The clusters of one generated hour, as the real pipeline reports them.
fn clusters() -> Vec<ClusterReport> {
    let settings = Arc::new(Settings::load(None).expect("built-in settings"));
    let mut p = Pipeline::for_replay(settings);
    let start = "2025-09-15T19:00:00Z".parse().expect("a time");
    let mut events = Vec::new();
    for (_, e) in synth::generate(start, 1, 9) {
        let raw = RawEntry {
            data: e.to_string().into(),
            origin: Origin::File {
                path: "synth".into(),
                line: 0,
            },
        };
        p.ingest(&raw, &mut events);
    }
    p.finish(&mut events)
        .into_iter()
        .flat_map(|r| r.clusters)
        .collect()
}

fn event(c: &ClusterReport) -> AlertEvent {
    AlertEvent {
        kind: AlertKind::NewCluster,
        cluster: c.id,
        service: c.service.clone(),
        priority: c.priority,
        template: c.template.clone(),
        sample: c.sample.as_ref().map(|s| s.to_string()),
        count: Some(c.count),
        issue_url: Some("https://github.com/example/backend/issues/42".into()),
        aliases: c.aliases.clone(),
        at: Utc::now(),
    }
}

async fn listed(am: &str, cluster: &str) -> Option<Value> {
    let alerts = servers::get_json(&format!("{am}/api/v2/alerts")).await?;
    alerts
        .as_array()?
        .iter()
        .find(|a| a["labels"]["cluster"] == cluster)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p0_cluster_reaches_both_alertmanagers_within_2s_and_resolves_once() {
    servers::require(servers::ALERTMANAGER);
    let (hook, hook_addr) = servers::Hook::start().await;
    let mut ams = [
        servers::alertmanager(hook_addr),
        servers::alertmanager(hook_addr),
    ];
    for am in &mut ams {
        am.wait_ready().await;
    }
    let clusters = clusters();
    let p0 = clusters
        .iter()
        .find(|c| c.priority == Priority::P0)
        .expect("the generated hour has a P0 cluster");
    let p3 = clusters
        .iter()
        .find(|c| c.priority == Priority::P3)
        .expect("and a P3 one");

    let links = Links {
        logging_project: Some("demo-project".into()),
    };
    let lanes = ams
        .iter()
        .map(|am| {
            Lane::new(
                Alertmanager::new(&am.url(), links.clone()).expect("client"),
                64,
            )
        })
        .collect();
    // endsAt is only 2 s ahead: the alert stays listed for longer only because it is re-posted.
    let policy = Policy {
        min_priority: Priority::P1,
        repost_every: TimeDelta::seconds(1),
        hold_for: TimeDelta::seconds(2),
        quiet_after: TimeDelta::seconds(3),
        flap_window: TimeDelta::seconds(1),
        rate_limit: TimeDelta::hours(1),
    };
    let (handle, task) = alert::spawn(
        policy,
        lanes,
        log_gardener::clock::system(),
        Duration::from_millis(200),
    );

    let sent = Instant::now();
    assert!(handle.notify(event(p3)));
    assert!(handle.notify(event(p0)));
    let id = p0.id.to_string();
    for am in &ams {
        let url = am.url();
        let a = servers::eventually(
            Duration::from_secs(2).saturating_sub(sent.elapsed()),
            || listed(&url, &id),
        )
        .await
        .unwrap_or_else(|| panic!("{url} lists the P0 alert within 2 s of the event"));
        assert_eq!(a["labels"]["alertname"], "LogGardenerNewCluster");
        assert_eq!(a["labels"]["priority"], "P0");
        assert_eq!(a["labels"]["service"], p0.service.as_str());
        assert_eq!(a["annotations"]["template"], p0.template.as_str());
        assert_eq!(
            a["annotations"]["issue"],
            "https://github.com/example/backend/issues/42"
        );
        assert!(a["annotations"]["logs"]
            .as_str()
            .is_some_and(|l| l.contains("project=demo-project")));
        assert_eq!(a["status"]["state"], "active");
    }
    let elapsed = sent.elapsed();
    assert!(
        listed(&ams[0].url(), &p3.id.to_string()).await.is_none(),
        "P3 is below min_priority"
    );

    // Entries keep coming for 4 s (longer than quiet_after and hold_for): re-posts keep it.
    for _ in 0..8 {
        handle.observe(p0.id, Utc::now());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for am in &ams {
        let a = listed(&am.url(), &id).await;
        let a = a.expect("active while entries come, on every Alertmanager");
        assert_eq!(a["status"]["state"], "active");
    }
    // Then the cluster goes quiet: resolved after 3 s, within a tick.
    for am in &ams {
        let url = am.url();
        servers::eventually(Duration::from_secs(8), || async {
            listed(&url, &id).await.is_none().then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("{url} no longer lists the alert after it resolved"));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let resolved: Vec<String> = hook
        .notifications()
        .iter()
        .filter(|n| n["status"] == "resolved")
        .filter(|n| {
            n["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["labels"]["cluster"] == id.as_str()))
        })
        .map(|n| {
            n["externalURL"]
                .as_str()
                .unwrap_or("")
                .trim_end_matches('/')
                .to_owned()
        })
        .collect();
    let mut per_am: Vec<String> = ams.iter().map(|a| a.url()).collect();
    per_am.sort();
    let mut got = resolved.clone();
    got.sort();
    assert_eq!(
        got, per_am,
        "each Alertmanager notified the resolution exactly once"
    );
    drop(handle);
    task.await.expect("alert stage ends");
    eprintln!("event to listed in both Alertmanagers: {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_gets_one_message_on_fire_and_one_on_resolution() {
    let (hook, hook_addr) = servers::Hook::start().await;
    let url = format!("http://{hook_addr}/");
    let lane = Lane::new(
        alert::Webhook::new(&url, Links::default()).expect("client"),
        16,
    );
    let policy = Policy {
        min_priority: Priority::P1,
        repost_every: TimeDelta::milliseconds(300),
        hold_for: TimeDelta::seconds(30),
        quiet_after: TimeDelta::seconds(2),
        flap_window: TimeDelta::seconds(1),
        rate_limit: TimeDelta::hours(1),
    };
    let (handle, task) = alert::spawn(
        policy,
        vec![lane],
        log_gardener::clock::system(),
        Duration::from_millis(100),
    );
    let c = clusters();
    let p0 = c
        .iter()
        .find(|c| c.priority == Priority::P0)
        .expect("a P0 cluster");
    handle.notify(event(p0));
    let texts = servers::eventually(Duration::from_secs(8), || async {
        let texts: Vec<String> = hook
            .notifications()
            .iter()
            .filter_map(|n| n["text"].as_str().map(str::to_owned))
            .collect();
        (texts.len() >= 2).then_some(texts)
    })
    .await
    .expect("fire and resolution messages");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        hook.notifications().len(),
        2,
        "re-posts are not chat messages: {texts:?}"
    );
    assert!(texts[0].contains("New P0 cluster") && texts[0].contains(p0.template.as_str()));
    assert!(
        texts[1].starts_with(":white_check_mark: Resolved"),
        "{}",
        texts[1]
    );
    drop(handle);
    task.await.expect("alert stage ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alertmanager_down_during_fire_and_resolution_gets_both_once_it_is_up() {
    servers::require(servers::ALERTMANAGER);
    let (hook, hook_addr) = servers::Hook::start().await;
    // Nothing listens here yet: the outage.
    let addr = servers::free_addr();
    let url = format!("http://{addr}");
    let lane = Lane::new(
        Alertmanager::new(&url, Links::default()).expect("client"),
        16,
    );
    let policy = Policy {
        min_priority: Priority::P1,
        repost_every: TimeDelta::seconds(30),
        hold_for: TimeDelta::seconds(60),
        quiet_after: TimeDelta::seconds(1),
        flap_window: TimeDelta::seconds(1),
        rate_limit: TimeDelta::hours(1),
    };
    let (handle, task) = alert::spawn(
        policy,
        vec![lane],
        log_gardener::clock::system(),
        Duration::from_millis(100),
    );
    let c = clusters();
    let p0 = c
        .iter()
        .find(|c| c.priority == Priority::P0)
        .expect("a P0 cluster");
    handle.notify(event(p0));
    // Fired at once, resolved 2 s later: both while Alertmanager is down.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut am = servers::alertmanager_at(hook_addr, addr);
    am.wait_ready().await;
    // Both states reach Alertmanager once it is up, each once (its own counters).
    let received = |status: &'static str| {
        let url = format!("{url}/metrics");
        async move {
            let text = reqwest::get(&url).await.ok()?.text().await.ok()?;
            let line = format!(
                "alertmanager_alerts_received_total{{status=\"{status}\",version=\"v2\"}} "
            );
            text.lines()
                .find_map(|l| l.strip_prefix(&line)?.parse::<f64>().ok())
        }
    };
    // The resolution is read first: the firing is delivered before it, so a firing count read
    // after it is final (read the other way round, both can land between the two reads).
    let both = servers::eventually(Duration::from_secs(30), || async {
        let r = received("resolved").await?;
        let f = received("firing").await?;
        (r >= 1.0).then_some((f, r))
    })
    .await
    .expect("the firing and the resolution are delivered after the outage");
    // Past group_interval (1 s): what Alertmanager notifies of them is flushed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(both, (1.0, 1.0), "each state delivered once");
    assert_eq!(
        (received("firing").await, received("resolved").await),
        (Some(1.0), Some(1.0)),
        "nothing delivered twice"
    );
    // Alertmanager notifies the firing, then the resolution. Only when the resolution arrived
    // before its first flush of the group (a few ms after the firing, possible on a loaded
    // machine) does it notify neither: a resolved alert it never notified is not news to it.
    let id = p0.id.to_string();
    let states: Vec<String> = hook
        .notifications()
        .iter()
        .filter(|n| {
            n["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["labels"]["cluster"] == id.as_str()))
        })
        .filter_map(|n| n["status"].as_str().map(str::to_owned))
        .collect();
    assert!(
        states == ["firing", "resolved"] || states.is_empty(),
        "each once, in order: {states:?}"
    );
    drop(handle);
    task.await.expect("alert stage ends");
}

/// A Python traceback running out of memory, split (see [`support::pubsub::split_traceback`]).
fn split_oom_traceback() -> (Vec<String>, Vec<String>) {
    support::pubsub::split_traceback(&[
        "Traceback (most recent call last):",
        "  File \"/app/backend/catalog.py\", line 40, in load",
        "    rows = cache.grow(size)",
        "  File \"/app/backend/cache.py\", line 12, in grow",
        "MemoryError: out of memory growing the catalog cache",
    ])
}

/// The window 19:00–20:00 as the run last wrote it.
fn first_window(wd: &Workdir) -> Option<Value> {
    wd.worklogs()
        .into_iter()
        .find(|w| w["window"]["end"] == "2025-09-15T20:00:00Z")
}

/// Whether the run's checkpoint remembers the released run holding insertId `id`.
fn remembers(wd: &Workdir, id: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(wd.path("state/checkpoint.json")) else {
        return false;
    };
    let names = |raw: &Value| {
        raw.as_str()
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
            .is_some_and(|v| v["insertId"] == id)
    };
    serde_json::from_str::<Value>(&text).is_ok_and(|c| {
        c["pipeline"]["released"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .any(|run| run.iter().any(names))
    })
}

/// Whether the run's checkpoint holds a live alert for `cluster`.
fn alert_checkpointed(wd: &Workdir, cluster: &str) -> bool {
    std::fs::read_to_string(wd.path("state/checkpoint.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .is_some_and(|c| {
            c["alerts"]["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a.to_string().contains(cluster)))
        })
}

/// Hook notifications naming `cluster` with `status` ("firing" or "resolved").
fn notified(hook: &servers::Hook, cluster: &str, status: &str) -> usize {
    hook.notifications()
        .iter()
        .filter(|n| n["status"] == status)
        .filter(|n| {
            n["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["labels"]["cluster"] == cluster))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracebacks_part_alerted_before_a_kill_9_is_resolved_and_the_whole_fires() {
    servers::require(servers::ALERTMANAGER);
    let (hook, hook_addr) = servers::Hook::start().await;
    let mut am = servers::alertmanager(hook_addr);
    am.wait_ready().await;
    let url = am.url();
    let emu = Emulator::start();
    let wd = Workdir::new(1, "", "");
    let env = [
        ("LOG_GARDENER__STITCH__HORIZON", "1s"),
        ("LOG_GARDENER__ALERTS__ALERTMANAGER_URLS", url.as_str()),
        // A part is "Traceback (incomplete) (at load in …)": P2, whatever its whole is.
        ("LOG_GARDENER__ALERTS__MIN_PRIORITY", "P2"),
    ];
    let (part, rest) = split_oom_traceback();
    let mut first = wd.run_with(&emu, 1, &env);
    emu.publish(&part);
    // The part counted alone (its window closed with it), alerting, and remembered.
    let part_id = servers::eventually(Duration::from_secs(60), || async {
        let id = first_window(&wd)?["clusters"][0]["id"].as_str()?.to_owned();
        let alert = listed(&url, &id).await?;
        (alert["status"]["state"] == "active" && remembers(&wd, "tb0")).then_some(id)
    })
    .await
    .unwrap_or_else(|| panic!("no alert for the part: {}", first.log()));
    // Its alert state in a checkpoint too, then the kill. (A checkpoint is written only
    // when something changed, so this waits for the one holding the alert, not for any.)
    servers::eventually(Duration::from_secs(60), || async {
        alert_checkpointed(&wd, &part_id).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("the part's alert never checkpointed: {}", first.log()));
    first.kill9();

    let mut second = wd.run_with(&emu, 2, &env);
    emu.publish(&rest);
    let whole_id = servers::eventually(Duration::from_secs(60), || async {
        let w = first_window(&wd)?;
        let whole = w["clusters"].as_array()?.iter().find(|c| {
            c["template"]
                .as_str()
                .is_some_and(|t| t.contains("growing the catalog"))
        })?;
        let id = whole["id"].as_str()?.to_owned();
        let firing = listed(&url, &id).await?["status"]["state"] == "active";
        (firing && listed(&url, &part_id).await.is_none()).then_some(id)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the part's alert still listed, or the whole's not: {:?}\n{}",
            first_window(&wd),
            second.log()
        )
    });
    assert_ne!(whole_id, part_id);
    let (status, _) = second.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", second.log());
    // The receiver heard the part resolved once, and the whole fire.
    servers::eventually(Duration::from_secs(5), || async {
        (notified(&hook, &part_id, "resolved") == 1).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("{:#?}", hook.notifications()));
    assert!(notified(&hook, &whole_id, "firing") >= 1);
    let revised = first_window(&wd).unwrap();
    assert!(
        revised["revision"]["number"].as_u64() >= Some(1),
        "{revised}"
    );
}
