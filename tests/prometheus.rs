//! Against a real Prometheus (Debian's 2.42): it scrapes the in-process metrics endpoint fed
//! with window reports of the real pipeline (synthetic entries replayed through `Pipeline`),
//! and the test reads the window gauges back through `/api/v1/query`. The deploy rules are
//! loaded too, and every one of them must evaluate without error against the real metrics.

mod support;
use support::servers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use log_gardener::config::Settings;
use log_gardener::escalate::Priority;
use log_gardener::pipeline::Pipeline;
use log_gardener::report::WindowReport;
use log_gardener::source::{Origin, RawEntry};
use log_gardener::synth;
use log_gardener::telemetry::metrics::{self, Metrics, Readiness};
use serde_json::Value;

const TOP_K: usize = 5;

/// Replays two generated hours (plus a line that is not JSON) through the real pipeline.
fn replay() -> (Vec<WindowReport>, u64) {
    let settings = Arc::new(Settings::load(None).expect("built-in settings"));
    let mut p = Pipeline::for_replay(settings);
    let start = "2025-09-15T19:00:00Z".parse().expect("a time");
    let mut events = Vec::new();
    let path: Arc<str> = "synth".into();
    let mut raws: Vec<RawEntry> = synth::generate(start, 2, 3)
        .iter()
        .map(|(_, e)| RawEntry {
            data: e.to_string().into(),
            origin: Origin::File {
                path: path.clone(),
                line: 0,
            },
        })
        .collect();
    raws.push(RawEntry {
        data: "this is not json".into(),
        origin: Origin::File { path, line: 0 },
    });
    for raw in &raws {
        p.ingest(raw, &mut events);
    }
    let reports = p.finish(&mut events);
    (reports, p.counts().received)
}

async fn query(prom: &str, q: &str) -> Vec<Value> {
    let url = format!("{prom}/api/v1/query?query={}", servers::encode(q));
    let v = servers::get_json(&url).await.unwrap_or_default();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_last_window_report_and_evaluates_the_rules() {
    servers::require(servers::PROMETHEUS);
    let m = metrics::install(Arc::new(Metrics::new(TOP_K)));
    let (reports, received) = replay();
    let last = reports.last().expect("the replay closes windows");
    assert!(
        last.clusters.len() > TOP_K,
        "enough clusters for an `other` bucket"
    );
    for r in &reports {
        m.record_window(r);
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = metrics::serve(
        "127.0.0.1:0".parse().expect("an address"),
        m.clone(),
        Readiness::new(),
        async move {
            let _ = stopped.await;
        },
    )
    .await
    .expect("metrics endpoint");
    let server = tokio::spawn(server);

    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/prometheus/rules/log-gardener.rules.yml");
    // Every recording and alerting rule of the file, however many it holds.
    let text = std::fs::read_to_string(&rules).expect("the deploy rules file");
    let rule_count = text
        .lines()
        .filter(|l| {
            l.trim_start().starts_with("- record:") || l.trim_start().starts_with("- alert:")
        })
        .count();
    let mut prom = servers::prometheus(&[addr], &[rules]);
    prom.wait_ready().await;
    let url = prom.url();

    let want: BTreeMap<String, f64> = Priority::ALL
        .iter()
        .map(|p| {
            let n = last.totals.by_priority.get(p).copied().unwrap_or(0);
            (p.as_str().to_owned(), n as f64)
        })
        .collect();
    let got = servers::eventually(Duration::from_secs(20), || async {
        let rows = query(&url, "log_gardener_window_priority_entries").await;
        let got: BTreeMap<String, f64> = rows
            .iter()
            .map(|r| {
                (
                    r["metric"]["priority"].as_str().unwrap_or("").to_owned(),
                    value(r),
                )
            })
            .collect();
        (got.len() == Priority::ALL.len()).then_some(got)
    })
    .await
    .expect("Prometheus scraped the window gauges within 20 s");
    assert_eq!(
        got, want,
        "per-priority counts of the last window, read back from Prometheus"
    );

    let clusters = query(&url, "log_gardener_window_cluster_entries").await;
    let urgent_beyond = last
        .clusters
        .iter()
        .skip(TOP_K)
        .filter(|c| c.priority <= Priority::P1)
        .count();
    assert_eq!(
        clusters.len(),
        TOP_K + urgent_beyond + 1,
        "top K by priority then count, every P0/P1, plus `other`: bounded cardinality"
    );
    let sum: f64 = clusters.iter().map(value).sum();
    let all: u64 = last.clusters.iter().map(|c| c.count).sum();
    assert_eq!(
        sum, all as f64,
        "the top K and `other` add up to the window"
    );
    // The report is ordered by priority, then count: its first cluster ranks first.
    let top = last.clusters.first().expect("clusters");
    let q = format!(
        "log_gardener_window_cluster_entries{{cluster=\"{}\"}}",
        top.id
    );
    let row = query(&url, &q).await;
    assert_eq!(row.len(), 1, "the most urgent cluster has its own series");
    assert_eq!(row[0]["metric"]["priority"], top.priority.as_str());
    assert_eq!(value(&row[0]), top.count as f64);

    let rec = query(&url, "log_gardener_entries_received_total").await;
    assert_eq!(rec.first().map(value), Some(received as f64));
    let bad = query(&url, "log_gardener_entries_malformed_total").await;
    assert_eq!(bad.len(), 6, "every reason exists from the start: {bad:?}");
    let by_reason: BTreeMap<String, f64> = bad
        .iter()
        .map(|r| {
            (
                r["metric"]["reason"].as_str().unwrap_or("").to_owned(),
                value(r),
            )
        })
        .collect();
    assert_eq!(by_reason["not_json"], 1.0, "the line that is not JSON");
    assert_eq!(by_reason["no_time"], 0.0);

    let healthy = servers::eventually(Duration::from_secs(10), || async {
        let v = servers::get_json(&format!("{url}/api/v1/rules")).await?;
        let rules: Vec<Value> = v["data"]["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let evaluated = rules
            .iter()
            .all(|r| r["lastEvaluation"] != "0001-01-01T00:00:00Z");
        (rules.len() == rule_count && evaluated).then_some(rules)
    })
    .await
    .expect("the deploy rules are loaded and evaluated");
    for r in healthy {
        assert_eq!(
            r["health"], "ok",
            "rule {} failed: {}",
            r["name"], r["lastError"]
        );
    }
    let _ = stop.send(());
    server.await.expect("endpoint stops");
}
