//! `run` with everything on, against real neighbours: Google's Pub/Sub emulator feeds it, a
//! real Prometheus scrapes its `/metrics` and reads the closed window back, and a real
//! Alertmanager receives the alert for a new P0 cluster.

mod support;
use support::pubsub as live_support;
use support::servers;

use std::time::Duration;

use live_support::{hour_of_entries, Emulator, Workdir};
use serde_json::Value;
use servers::{alertmanager, encode, eventually, free_addr, get_json, prometheus, Hook};

/// An entry of the hour moved to 21:30: with an hour of allowed lateness it moves the
/// event-time watermark past 21:00, so the window 19:00–20:00 closes while `run` runs.
fn closing_entry(lines: &[String]) -> String {
    let mut v: Value = serde_json::from_str(&lines[0]).unwrap();
    v["timestamp"] = Value::from("2025-09-15T21:30:00Z");
    v["insertId"] = Value::from("closing-entry");
    v.to_string()
}

async fn prom_value(prom: &str, query: &str) -> Option<f64> {
    let v = get_json(&format!("{prom}/api/v1/query?query={}", encode(query))).await?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_metrics_that_prometheus_reads_and_alerts_alertmanager() {
    let emu = Emulator::start();
    let (_hook, hook_addr) = Hook::start().await;
    let mut am = alertmanager(hook_addr);
    am.wait_ready().await;
    let metrics = free_addr();
    let mut prom = prometheus(&[metrics], &[]);
    prom.wait_ready().await;
    let extra = format!(
        "[metrics]\nlisten = \"{metrics}\"\n[alerts]\nalertmanager_urls = [\"{}\"]\n",
        am.url()
    );
    let work = Workdir::new(2, "", &extra);
    let mut run = work.run(&emu, 1);

    let ready = format!("http://{metrics}/readyz");
    log_gardener::tls::install();
    let ok = eventually(Duration::from_secs(15), || async {
        let r = reqwest::get(&ready).await.ok()?;
        r.status().is_success().then_some(())
    })
    .await;
    assert!(ok.is_some(), "/readyz never answered 200: {}", run.log());

    let lines = hour_of_entries(11);
    emu.publish(&lines);
    // The hour holds database timeouts: a new P0 cluster, alerted at once.
    let alerts = format!("{}/api/v2/alerts", am.url());
    let p0 = eventually(Duration::from_secs(15), || async {
        let list = get_json(&alerts).await?;
        list.as_array()?
            .iter()
            .find(|a| {
                a["labels"]["alertname"] == "LogGardenerNewCluster"
                    && a["labels"]["priority"] == "P0"
            })
            .cloned()
    })
    .await;
    let p0 = p0.unwrap_or_else(|| panic!("no P0 alert in Alertmanager: {}", run.log()));
    assert_eq!(p0["labels"]["service"], "netra-backend-staging");

    // Every entry counted (and checkpointed) before the watermark moves on.
    let distinct = lines.len() as u64;
    work.wait_received(distinct, Duration::from_secs(60), &mut run);
    emu.publish(&[closing_entry(&lines)]);
    let expected = work.replay(&lines)[0]["totals"]["entries"]
        .as_f64()
        .unwrap();
    let seen = eventually(Duration::from_secs(30), || async {
        let v = prom_value(&prom.url(), "log_gardener_window_entries").await?;
        (v == expected).then_some(v)
    })
    .await;
    assert_eq!(
        seen,
        Some(expected),
        "Prometheus reads the closed window's total: {}",
        run.log()
    );
    let received = prom_value(&prom.url(), "log_gardener_entries_received_total").await;
    assert!(
        received.unwrap_or(0.0) >= distinct as f64,
        "received {received:?}"
    );
    // The subscription's backlog age (publish to delivery) and receive-to-ack times, from the
    // messages themselves.
    for histogram in [
        "log_gardener_pubsub_delivery_age_seconds_count",
        "log_gardener_pubsub_ack_latency_seconds_count",
    ] {
        let n = eventually(Duration::from_secs(30), || async {
            prom_value(&prom.url(), histogram)
                .await
                .filter(|n| *n > 0.0)
        })
        .await;
        assert!(n.is_some(), "{histogram} stays empty: {}", run.log());
    }

    let (status, took) = run.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", run.log());
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
}

/// Entries that come after their window closed (a delayed publisher, a redelivery past the
/// hold): the window's worklog is written again as a revision holding them, equal to a replay
/// of every entry, and the window gauges Prometheus scrapes are corrected with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_entries_revise_their_closed_window_in_the_worklog_and_the_gauges() {
    let emu = Emulator::start();
    let metrics = free_addr();
    let mut prom = prometheus(&[metrics], &[]);
    prom.wait_ready().await;
    let work = Workdir::new(2, "", &format!("[metrics]\nlisten = \"{metrics}\"\n"));
    let mut run = work.run_with(&emu, 1, &[("LOG_GARDENER__WINDOW__ALLOWED_LATENESS", "0s")]);
    let lines = hour_of_entries(5);
    // Request logs are whole entries (no traceback waits for them): hold back every fifth.
    let (mut on_time, mut late) = (Vec::new(), Vec::new());
    for (i, l) in lines.iter().enumerate() {
        let request = serde_json::from_str::<Value>(l).unwrap()["httpRequest"].is_object();
        if request && i % 5 == 0 {
            late.push(l.clone());
        } else {
            on_time.push(l.clone());
        }
    }
    assert!(late.len() >= 5, "{} request logs held back", late.len());
    emu.publish(&on_time);
    work.wait_received(on_time.len() as u64, Duration::from_secs(60), &mut run);
    emu.publish(&[closing_entry(&lines)]);
    let window = || {
        work.worklogs()
            .into_iter()
            .find(|w| w["window"]["end"] == "2025-09-15T20:00:00Z")
    };
    let first = eventually(Duration::from_secs(30), || async { window() }).await;
    let first = first.unwrap_or_else(|| panic!("the window never closed: {}", run.log()));
    assert!(first.get("revision").is_none(), "{first}");

    emu.publish(&late);
    let expected = work.replay(&lines)[0]["totals"].clone();
    let revised = eventually(Duration::from_secs(30), || async {
        window().filter(|w| w["totals"]["entries"] == expected["entries"])
    })
    .await;
    let revised = revised.unwrap_or_else(|| panic!("no revision: {}", run.log()));
    // One revision per tick that brought late entries: the held-back ones may come in two.
    let (number, before) = (
        &revised["revision"]["number"],
        &revised["revision"]["entries_before"],
    );
    assert!(number.as_u64() >= Some(1), "{}", revised["revision"]);
    assert!(before.as_u64() >= first["totals"]["entries"].as_u64());
    assert!(before.as_u64() < expected["entries"].as_u64());
    assert_eq!(revised["totals"]["by_severity"], expected["by_severity"]);
    // The markdown is its own file, written beside the JSON: it shows this revision or, if a
    // later tick brought more late entries meanwhile, a later one.
    let md_path = work.path("worklogs/2025-09-15T200000Z.md");
    let md_revision = || {
        let md = std::fs::read_to_string(&md_path).unwrap_or_default();
        let k = md
            .split("**Revision ")
            .nth(1)?
            .split("**")
            .next()?
            .parse::<u64>()
            .ok()?;
        Some((k, md))
    };
    let md = eventually(Duration::from_secs(10), || async {
        md_revision().filter(|(k, _)| Some(*k) >= number.as_u64())
    })
    .await;
    assert!(
        md.is_some(),
        "the markdown shows revision {number} or later: {:?}",
        md_revision()
    );
    let total = expected["entries"].as_f64();
    let seen = eventually(Duration::from_secs(30), || async {
        let v = prom_value(&prom.url(), "log_gardener_window_entries").await?;
        (Some(v) == total).then_some(v)
    })
    .await;
    assert_eq!(seen, total, "the gauge follows the revision: {}", run.log());
    let revisions = prom_value(&prom.url(), "log_gardener_windows_revised_total").await;
    assert!(revisions >= Some(1.0), "{revisions:?}");

    let (status, _) = run.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", run.log());
}

/// A crashing instance's last words: a Cloud SQL timeout traceback split one line per entry,
/// then nothing more from that instance. Its P0 alert reaches Alertmanager within seconds, not
/// when the window closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dying_instances_split_traceback_pages_p0_within_seconds() {
    let emu = Emulator::start();
    let (_hook, hook_addr) = Hook::start().await;
    let mut am = alertmanager(hook_addr);
    am.wait_ready().await;
    let extra = format!("[alerts]\nalertmanager_urls = [\"{}\"]\n", am.url());
    let work = Workdir::new(1, "", &extra);
    // The live defaults: wall-clock windows, a 5 s stitch horizon.
    let mut run = work.run_with(
        &emu,
        1,
        &[
            ("LOG_GARDENER__LIVE__WATERMARK", "wall-clock"),
            ("LOG_GARDENER__STITCH__HORIZON", "5s"),
            ("LOG_GARDENER__LIVE__MAX_AGE", "30d"),
        ],
    );
    let now = chrono::Utc::now();
    let lines: Vec<String> = [
        "Traceback (most recent call last):",
        "  File \"/app/db.py\", line 10, in connect",
        "    conn = pool.get(timeout=30)",
        "sqlalchemy.exc.OperationalError: Cloud SQL connection timeout after 30s",
    ]
    .iter()
    .enumerate()
    .map(|(i, l)| {
        serde_json::json!({
            "timestamp": (now + chrono::TimeDelta::microseconds(i as i64 * 40)).to_rfc3339(),
            "severity": "ERROR", "insertId": format!("dying-{i}"), "textPayload": l,
            "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
            "labels": {"instanceId": "dying-instance-1"},
            "resource": {"type": "cloud_run_revision",
                         "labels": {"service_name": "api", "revision_name": "api-00042"}}
        })
        .to_string()
    })
    .collect();
    let published = std::time::Instant::now();
    emu.publish(&lines);
    let alerts = format!("{}/api/v2/alerts", am.url());
    let p0 = eventually(Duration::from_secs(30), || async {
        let list = get_json(&alerts).await?;
        list.as_array()?
            .iter()
            .find(|a| a["labels"]["priority"] == "P0")
            .cloned()
    })
    .await;
    let took = published.elapsed();
    let p0 = p0.unwrap_or_else(|| panic!("no P0 alert: {}", run.log()));
    assert_eq!(p0["labels"]["service"], "api", "{p0}");
    // The horizon (5 s) plus delivery and a tick; the window closes only in up to an hour.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let (status, _) = run.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", run.log());
}
