//! Metrics: names, HELP lines and counting, and the endpoint's three routes over real HTTP.

use super::*;

fn line_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn every_metric_has_help_and_a_log_gardener_name() {
    let m = Metrics::new(DEFAULT_TOP_K);
    let text = m.encode();
    let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
    let helps = text.lines().filter(|l| l.starts_with("# HELP")).count();
    assert!(types.len() >= 20, "{text}");
    assert_eq!(types.len(), helps, "a HELP for every metric");
    for t in types {
        let name = t.split_whitespace().nth(2).unwrap_or_default();
        assert!(name.starts_with("log_gardener_"), "{name}");
    }
}

#[test]
fn hooks_count_by_bounded_label() {
    let m = Metrics::new(DEFAULT_TOP_K);
    m.entry_received();
    m.entry_received();
    m.entry_parsed(Severity::Error);
    m.entry_malformed("not_json");
    m.field_warning("unknown_severity");
    m.incident_links_forgotten(90);
    m.incident_links_forgotten(10);
    m.event("escalation", Priority::P0);
    m.alert_delivery("alertmanager", DeliveryOutcome::Failed);
    m.observe_event_lag(
        "2025-09-15T19:00:00Z".parse().unwrap(),
        "2025-09-15T19:00:03Z".parse().unwrap(),
    );
    m.observe_delivery_age(
        "2025-09-15T19:00:00Z".parse().unwrap(),
        "2025-09-15T19:01:30Z".parse().unwrap(),
    );
    m.observe_ack_latency(std::time::Duration::from_millis(250));
    let text = m.encode();
    assert_eq!(
        line_value(&text, "log_gardener_entries_received_total "),
        Some(2.0)
    );
    assert_eq!(
        line_value(
            &text,
            r#"log_gardener_entries_parsed_total{severity="ERROR"} "#
        ),
        Some(1.0)
    );
    assert_eq!(
        line_value(
            &text,
            r#"log_gardener_entries_parsed_total{severity="INFO"} "#
        ),
        Some(0.0),
        "every severity is exported from the start"
    );
    assert_eq!(
        line_value(
            &text,
            r#"log_gardener_entries_malformed_total{reason="not_json"} "#
        ),
        Some(1.0)
    );
    assert_eq!(
        line_value(
            &text,
            r#"log_gardener_entries_field_warnings_total{reason="unknown_severity"} "#
        ),
        Some(1.0)
    );
    assert_eq!(
        line_value(
            &text,
            r#"log_gardener_entries_field_warnings_total{reason="text_payload_not_string"} "#
        ),
        Some(0.0),
        "every reason is exported from the start"
    );
    assert_eq!(
        line_value(&text, "log_gardener_incident_links_forgotten_total "),
        Some(100.0)
    );
    assert_eq!(
        line_value(
            &text,
            r#"log_gardener_events_total{kind="escalation",priority="P0"} "#
        ),
        Some(1.0)
    );
    assert_eq!(
        line_value(
            &text,
            r#"log_gardener_alert_deliveries_total{receiver="alertmanager",outcome="failed"} "#
        ),
        Some(1.0)
    );
    assert_eq!(
        line_value(&text, "log_gardener_event_lag_seconds_sum "),
        Some(3.0)
    );
    assert_eq!(
        line_value(&text, "log_gardener_pubsub_delivery_age_seconds_sum "),
        Some(90.0)
    );
    assert_eq!(
        line_value(&text, "log_gardener_pubsub_ack_latency_seconds_sum "),
        Some(0.25)
    );
}

#[tokio::test]
async fn endpoint_serves_metrics_health_and_readiness() {
    let m = Arc::new(Metrics::new(DEFAULT_TOP_K));
    m.entry_received();
    let ready = Readiness::new();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = serve(
        "127.0.0.1:0".parse().unwrap(),
        m.clone(),
        ready.clone(),
        async move {
            let _ = stop_rx.await;
        },
    )
    .await
    .expect("bind a free port");
    let task = tokio::spawn(server);
    // reqwest brings no TLS provider; the service installs ring before its first client.
    crate::tls::install();
    let get = |path: &str| {
        let url = format!("http://{addr}{path}");
        async move {
            let r = reqwest::get(url).await.expect("server answers");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    let (status, body) = get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("log_gardener_entries_received_total 1"),
        "{body}"
    );
    assert_eq!(get("/healthz").await.0, 200);
    let (status, body) = get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("source not connected") && body.contains("checkpoint not loaded"));
    ready.source_unavailable("127.0.0.1:1: connection refused");
    ready.set_checkpoint_loaded(true);
    let (status, body) = get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("source unavailable: 127.0.0.1:1"), "{body}");
    ready.source_connected();
    assert_eq!(get("/readyz").await.0, 200);
    ready.checkpoint_written(Err("disk full".into()));
    let (status, body) = get("/readyz").await;
    assert_eq!(
        (status, body.contains("checkpoint failing: disk full")),
        (503, true)
    );
    ready.checkpoint_written(Ok(()));
    assert_eq!(get("/readyz").await.0, 200);
    assert_eq!(get("/nope").await.0, 404);
    let _ = stop_tx.send(());
    task.await.expect("server stops on shutdown");
}

#[test]
fn a_taken_port_is_a_startup_error_naming_the_key() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap();
        let m = Arc::new(Metrics::new(1));
        let err = serve(addr, m, Readiness::new(), async {})
            .await
            .err()
            .expect("port is taken");
        assert!(err.to_string().contains("metrics.listen"), "{err}");
    });
}
