//! Tests of `parse_entry` against the real-shaped examples and the odd shapes exports produce.

use super::*;

const EXAMPLES: &str = include_str!("../../samples/logentry-examples.jsonl");

fn example(insert_id: &str) -> &'static str {
    EXAMPLES
        .lines()
        .find(|l| l.contains(&format!("\"insertId\":\"{insert_id}\"")))
        .unwrap_or_else(|| panic!("no example {insert_id}"))
}

fn parse(json: &str) -> Record {
    parse_entry(json.as_bytes()).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn every_example_parses_and_keeps_its_raw_text() {
    for line in EXAMPLES.lines() {
        let r = parse(line);
        assert_eq!(r.raw, line);
        assert!(!r.message.is_empty(), "{line}");
        assert!(!r.insert_id.is_empty());
    }
}

#[test]
fn request_log_without_text_is_method_path_and_status() {
    let r = parse(example("67da1935000dea14e3a00230"));
    assert_eq!(r.message, "POST /api/orders → 500");
    assert_eq!(r.severity, Severity::Error);
    assert_eq!(r.service, "backend");
    assert_eq!(
        r.log_name,
        "projects/acme-prod/logs/run.googleapis.com%2Frequests"
    );
    assert!(r
        .instance
        .as_deref()
        .is_some_and(|i| i.starts_with("0069c7a9")));
    assert_eq!(r.timestamp.to_rfc3339(), "2026-11-23T05:09:09.120515+00:00");
}

/// A global external Application Load Balancer's request log: the payload says how the request
/// ended, the `httpRequest` which request it was.
fn load_balancer(url: &str, status: u16, details: &str) -> String {
    format!(
        r#"{{"insertId":"1x2y3z","timestamp":"2026-11-23T05:00:00.123456Z","severity":"ERROR",
        "logName":"projects/acme-prod/logs/requests",
        "resource":{{"type":"http_load_balancer","labels":{{"backend_service_name":"api-backend",
          "forwarding_rule_name":"api-https","project_id":"acme-prod","target_proxy_name":"api-proxy",
          "url_map_name":"api-map","zone":"global"}}}},
        "httpRequest":{{"requestMethod":"POST","requestUrl":"{url}","requestSize":"512",
          "status":{status},"responseSize":"0","userAgent":"okhttp/4.12.0","remoteIp":"203.0.113.7",
          "serverIp":"10.128.0.5","latency":"30.002s"}},
        "jsonPayload":{{"@type":"type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
          "statusDetails":"{details}","backendTargetProjectNumber":"projects/123456789012",
          "remoteIp":"203.0.113.7","cacheDecision":["RESPONSE_HAS_CONTENT_TYPE"]}}}}"#
    )
}

#[test]
fn a_load_balancer_s_request_is_its_route_and_status_with_the_details() {
    let closed = "backend_connection_closed_before_data_sent_to_client";
    let r = parse(&load_balancer(
        "https://api.acme.com/api/orders/98123/pay?session=abc",
        502,
        closed,
    ));
    assert_eq!(
        r.message,
        format!("POST /api/orders/<*>/pay → 502 ({closed})")
    );
    assert_eq!(r.kind, MessageKind::Request, "fingerprinted as it is");
    assert_eq!(r.service, "api-backend");
    assert_eq!(r.severity, Severity::Error);
    // Another order, the same problem; another ending or status, another.
    let again = parse(&load_balancer(
        "https://api.acme.com/api/orders/7/pay",
        502,
        closed,
    ));
    assert_eq!(again.message, r.message);
    let timeout = parse(&load_balancer(
        "https://api.acme.com/api/orders/7/pay",
        502,
        "backend_timeout",
    ));
    assert_eq!(
        timeout.message,
        "POST /api/orders/<*>/pay → 502 (backend_timeout)"
    );
    // Details that are not one identifier stay out of an exact fingerprint.
    let odd = parse(&load_balancer(
        "https://api.acme.com/health",
        503,
        "failed for user alice@example.com",
    ));
    assert_eq!(odd.message, "POST /health → 503");
    // A payload with a message of its own beside a request is that message.
    let j = r#"{"timestamp":"2026-11-23T05:00:00Z","severity":"ERROR","httpRequest":{"requestMethod":"GET","requestUrl":"/x","status":500},"jsonPayload":{"message":"handler crashed"}}"#;
    assert_eq!(
        (parse(j).message.as_str(), parse(j).kind),
        ("handler crashed", MessageKind::Text)
    );
}

#[test]
fn request_log_with_text_uses_the_text() {
    let r = parse(example("6741c0de000a1b2c3d4e5f60"));
    assert!(r.message.starts_with("The request has been terminated"));
}

#[test]
fn json_payload_message_and_logger_labels() {
    let r = parse(example("6741b3aa000e7f8091a2b3c4"));
    assert!(r.message.starts_with("Session access failed"));
    assert_eq!(r.severity, Severity::Warning);
    assert_eq!(
        r.location,
        CodeLocation {
            logger: Some("backend.app.middleware.session".into()),
            file: Some("/app/backend/app/middleware/session.py".into()),
            function: Some("get_session".into()),
            line: Some("1706".into()),
        }
    );
}

#[test]
fn python_logger_label_names_the_logger() {
    let r = parse(example("6741c3010002b3c4d5e6f708"));
    assert_eq!(r.location.logger.as_deref(), Some("backend.db"));
    assert!(r.message.starts_with("DB connect failed\nTraceback"));
}

#[test]
fn error_reporting_event_reads_report_location() {
    let r = parse(example("6741c4100007d8e9f0a1b2c3"));
    assert!(r.message.ends_with("ZeroDivisionError: division by zero"));
    assert_eq!(r.location.function.as_deref(), Some("compute_total"));
    assert_eq!(r.location.file.as_deref(), Some("backend/pricing.py"));
    assert_eq!(r.location.line.as_deref(), Some("19"));
}

#[test]
fn missing_severity_is_default_and_numeric_severity_is_read() {
    // gunicorn on Cloud Run: DEFAULT, with the level in the text.
    let r = parse(example("6741a0f20004c1d2e3f4a5b6"));
    assert_eq!(r.severity, Severity::Info);
    let json = r#"{"timestamp":"2026-11-23T05:00:00Z","textPayload":"[2026-11-23 05:00:02 +0000] [7] [ERROR] Worker failed to boot."}"#;
    assert_eq!(parse(json).severity, Severity::Error);
    let json =
        r#"{"timestamp":"2026-11-23T05:00:00Z","severity":"INFO","textPayload":"[ERROR] x"}"#;
    assert_eq!(
        parse(json).severity,
        Severity::Info,
        "a stated severity wins"
    );
    let json = r#"{"timestamp":"2026-11-23T05:00:00Z","textPayload":"Container called exit(1)."}"#;
    assert_eq!(parse(json).severity, Severity::Default);
    let json = r#"{"timestamp":"2026-11-23T05:00:00Z","severity":500,"textPayload":"x"}"#;
    assert_eq!(parse(json).severity, Severity::Error);
    let json = r#"{"timestamp":"2026-11-23T05:00:00Z","severity":"warning","textPayload":"x"}"#;
    assert_eq!(parse(json).severity, Severity::Warning);
    let json = r#"{"timestamp":"2026-11-23T05:00:00Z","severity":"LOUD","textPayload":"x"}"#;
    assert_eq!(parse(json).severity, Severity::Default);
}

#[test]
fn service_falls_back_through_labels_and_resource_type() {
    let sql = parse(example("s=9f1c2e3d4b5a6978;i=1a2b3c;b=0d1e2f3a4b5c6d7e;m=5f6e7d8c;t=0641c2f9a1b2c;x=8d7c6b5a4f3e2d1c-0@a1"));
    assert_eq!(sql.service, "acme-prod:backend-pg");
    let ctx = r#"{"timestamp":"2026-11-23T05:00:00Z","resource":{"type":"gce_instance","labels":{"instance_id":"12"}},"jsonPayload":{"message":"m","context":{"service":"netra-service"}}}"#;
    assert_eq!(parse(ctx).service, "netra-service");
    let sc = r#"{"timestamp":"2026-11-23T05:00:00Z","jsonPayload":{"message":"m","serviceContext":{"service":"api"},"context":{"service":"other"}}}"#;
    assert_eq!(parse(sc).service, "api");
    let bare = r#"{"timestamp":"2026-11-23T05:00:00Z","resource":{"type":"gce_instance"},"textPayload":"m"}"#;
    assert_eq!(parse(bare).service, "gce_instance");
}

#[test]
fn node_error_keeps_its_stack_text() {
    let r = parse(example("68a9a6fd000941019e283a37"));
    assert!(r.message.starts_with("Error: 5 NOT_FOUND"));
    assert_eq!(r.service, "onwrite-orders");
}

#[test]
fn gcloud_and_numeric_int64_forms_both_read() {
    let a = r#"{"timestamp":"2026-11-23T05:00:00Z","httpRequest":{"requestMethod":"GET","requestUrl":"/a?token=x","status":"404","responseSize":12,"latency":"1s"},"sourceLocation":{"line":42}}"#;
    let r = parse(a);
    assert_eq!(r.message, "GET /a → 404");
    assert_eq!(r.location.line.as_deref(), Some("42"));
}

#[test]
fn seed_worklog_shapes_read_labels_nested_in_the_payload() {
    let j = r#"{"severity":"WARNING","timestamp":"2025-09-15T02:00:46.076743+00:00","jsonPayload":{"labels":{"function":"callHandlers","line":"1706","module":"logging"},"message":"Session access failed"}}"#;
    let r = parse(j);
    assert_eq!(r.location.logger.as_deref(), Some("logging"));
    assert_eq!(r.location.function.as_deref(), Some("callHandlers"));
    assert_eq!(r.location.line.as_deref(), Some("1706"));
    let beacon = r#"{"severity":"WARNING","timestamp":"2025-09-15T02:00:46.073050Z","httpRequest":{"requestMethod":"POST","requestUrl":"https://api.staging.netrasystems.ai/ws/beacon","status":405,"responseSize":"336"}}"#;
    assert_eq!(parse(beacon).message, "POST /ws/beacon → 405");
}

#[test]
fn stack_trace_and_exception_keys_join_the_message() {
    let j = r#"{"timestamp":"2026-11-23T05:00:00Z","jsonPayload":{"message":"boom","stack_trace":"Traceback (most recent call last):\nValueError: x"}}"#;
    assert_eq!(
        parse(j).message,
        "boom\nTraceback (most recent call last):\nValueError: x"
    );
    let j = r#"{"timestamp":"2026-11-23T05:00:00Z","jsonPayload":{"exception":"java.lang.IllegalStateException: no"}}"#;
    assert_eq!(parse(j).message, "java.lang.IllegalStateException: no");
}

#[test]
fn json_payload_without_message_is_rendered_compactly() {
    let j = r#"{"timestamp":"2026-11-23T05:00:00Z","jsonPayload":{"user":42,"action":"cache miss","key":"k1","extra":{"a": [1, 2]}}}"#;
    assert_eq!(
        parse(j).message,
        r#"action="cache miss" extra={"a":[1,2]} key=k1 user=42"#
    );
    let j = r#"{"timestamp":"2026-11-23T05:00:00Z","jsonPayload":{"message":{"nested":true}}}"#;
    assert_eq!(parse(j).message, r#"message={"nested":true}"#);
}

#[test]
fn audit_log_is_method_and_status() {
    let j = r#"{"timestamp":"2026-11-23T05:00:00Z","severity":"ERROR","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","status":{"code":7,"message":"The caller does not have permission"},"methodName":"google.cloud.sql.v1.SqlInstancesService.Update","serviceName":"cloudsql.googleapis.com"},"resource":{"type":"cloudsql_database","labels":{"database_id":"p:db"}}}"#;
    assert_eq!(
        parse(j).message,
        "google.cloud.sql.v1.SqlInstancesService.Update → 7 PERMISSION_DENIED: The caller does not have permission"
    );
    let ok = r#"{"timestamp":"2026-11-23T05:00:00Z","protoPayload":{"methodName":"storage.objects.get","status":{}}}"#;
    assert_eq!(parse(ok).message, "storage.objects.get");
    let gae = r#"{"timestamp":"2026-11-23T05:00:00Z","protoPayload":{"@type":"type.googleapis.com/google.appengine.logging.v1.RequestLog","method":"GET","resource":"/x?id=1","status":502}}"#;
    assert_eq!(parse(gae).message, "GET /x → 502");
}

#[test]
fn receive_timestamp_stands_in_for_a_missing_timestamp() {
    let j = r#"{"receiveTimestamp":"2026-11-23T05:00:01.5Z","textPayload":"m"}"#;
    assert_eq!(
        parse(j).timestamp.to_rfc3339(),
        "2026-11-23T05:00:01.500+00:00"
    );
}

#[test]
fn escaped_strings_are_unescaped() {
    let j = r#"{"timestamp":"2026-11-23T05:00:00Z","textPayload":"caf\u00e9 \"q\"\ttab"}"#;
    assert_eq!(parse(j).message, "café \"q\"\ttab");
}

#[test]
fn errors_say_why() {
    let cases: [(&[u8], &str); 10] = [
        (b"not json", "not_json"),
        (b"{\"timestamp\":", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[1,2]", "not_log_entry"),
        (b"{\"timestamp\":5,\"textPayload\":\"m\"}", "bad_timestamp"),
        (
            b"{\"timestamp\":{\"seconds\":1757962800},\"textPayload\":\"m\"}",
            "bad_timestamp",
        ),
        (b"{\"textPayload\":\"m\"}", "no_time"),
        (b"{\"timestamp\":\"2026-11-23T05:00:00Z\"}", "no_payload"),
        (
            b"{\"timestamp\":\"soon\",\"textPayload\":\"m\"}",
            "bad_timestamp",
        ),
        (b"", "not_json"),
    ];
    for (bytes, reason) in cases {
        let err = parse_entry(bytes).expect_err(&String::from_utf8_lossy(bytes));
        assert_eq!(err.reason(), reason, "{err}");
    }
    let big = parse_entry_max(example("67da1935000dea14e3a00230").as_bytes(), 100);
    assert!(matches!(big, Err(EntryError::TooLarge { max: 100, .. })));
}

#[test]
fn pretty_printed_entry_from_a_gcloud_array_parses() {
    let pretty = "{\n  \"textPayload\": \"m\",\n  \"timestamp\": \"2026-11-23T05:00:00Z\"\n}\n";
    assert_eq!(parse(pretty).message, "m");
}

#[test]
fn url_path_drops_host_query_and_fragment() {
    assert_eq!(url_path("https://h.example/a/b?token=s#f"), "/a/b");
    assert_eq!(url_path("https://h.example"), "/");
    assert_eq!(url_path("https://h.example?x=1"), "/");
    assert_eq!(url_path("/p?q"), "/p");
    assert_eq!(url_path(""), "/");
}

#[test]
fn severity_numbers_between_levels_round_down() {
    assert_eq!(Severity::from_number(450), Severity::Warning);
    assert_eq!(Severity::from_number(10_000), Severity::Emergency);
    assert_eq!(Severity::parse("450"), None);
    assert_eq!(Severity::parse("300"), Some(Severity::Notice));
}

#[test]
fn raw_of_a_pretty_printed_entry_is_one_line() {
    let pretty = "{\n  \"textPayload\": \"a  b\",\n  \"timestamp\": \"2026-11-23T05:00:00Z\"\n}";
    let r = parse(pretty);
    assert_eq!(
        r.raw,
        r#"{"textPayload":"a  b","timestamp":"2026-11-23T05:00:00Z"}"#
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_entry(&bytes);
        }

        #[test]
        fn truncated_or_corrupted_examples_never_panic(i in 0usize..16, cut in 0usize..1200, b in any::<u8>()) {
            let line = EXAMPLES.lines().nth(i).unwrap().as_bytes();
            let mut bytes = line[..cut.min(line.len())].to_vec();
            if let Some(x) = bytes.get_mut(cut / 2) {
                *x = b;
            }
            let _ = parse_entry(&bytes);
        }
    }
}

#[test]
fn request_logs_are_routes_with_ids_masked_and_fingerprinted_as_is() {
    use super::request::route;
    assert_eq!(
        route("/api/threads/8234106d-81ee-4594-a7b8-83205bebff25"),
        "/api/threads/<*>"
    );
    assert_eq!(
        route("/api/v2/orders/1234/items"),
        "/api/v2/orders/<*>/items"
    );
    assert_eq!(route("/ws/beacon"), "/ws/beacon");
    assert_eq!(route("/"), "/");
    let req = r#"{"timestamp":"2026-11-23T05:00:00Z","httpRequest":{"requestMethod":"GET","requestUrl":"https://h/api/orders/991?token=x","status":404}}"#;
    let r = parse(req);
    assert_eq!(
        (r.message.as_str(), r.kind),
        ("GET /api/orders/<*> → 404", MessageKind::Request)
    );
    let text = r#"{"timestamp":"2026-11-23T05:00:00Z","textPayload":"GET /x → 1","httpRequest":{"status":500}}"#;
    assert_eq!(parse(text).kind, MessageKind::Text);
}

#[test]
fn a_mistyped_severity_is_default_with_a_warning_not_a_rejected_entry() {
    // Past serde_json's recursion limit of 128.
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    for sev in [
        "1.5",
        "true",
        "{}",
        "[1]",
        "18446744073709551616",
        "-100",
        "\"loud\"",
        "1e400",
        "-1e400",
        &deep,
    ] {
        let json =
            format!(r#"{{"timestamp":"2026-11-23T05:00:00Z","severity":{sev},"textPayload":"x"}}"#);
        let r = parse(&json);
        assert_eq!(r.severity, Severity::Default, "{sev}");
        assert_eq!(r.warnings, FieldWarnings::SEVERITY, "{sev}");
    }
    for (sev, want) in [
        ("\"ERROR\"", Severity::Error),
        ("400", Severity::Warning),
        ("null", Severity::Default),
    ] {
        let json =
            format!(r#"{{"timestamp":"2026-11-23T05:00:00Z","severity":{sev},"textPayload":"x"}}"#);
        let r = parse(&json);
        assert_eq!(
            (r.severity, r.warnings),
            (want, FieldWarnings::default()),
            "{sev}"
        );
    }
}

#[test]
fn a_non_string_text_payload_is_read_as_its_json_text_with_a_warning() {
    for (payload, text) in [
        ("42", "42"),
        ("true", "true"),
        ("{\"a\": [1, 2]}", "{\"a\":[1,2]}"),
        ("[]", "[]"),
    ] {
        let json = format!(r#"{{"timestamp":"2026-11-23T05:00:00Z","textPayload":{payload}}}"#);
        let r = parse(&json);
        assert_eq!(r.message, text);
        assert_eq!(r.warnings, FieldWarnings::TEXT_PAYLOAD);
        assert_eq!(
            r.warnings.reasons().collect::<Vec<_>>(),
            ["text_payload_not_string"]
        );
    }
}

#[test]
fn an_optional_context_field_of_the_wrong_type_is_read_as_absent_with_a_warning() {
    let base = r#""timestamp":"2026-11-23T05:00:00Z","severity":"ERROR","textPayload":"db down""#;
    for field in [
        r#""insertId":123"#,
        r#""insert_id":{"a":1}"#,
        r#""logName":false"#,
        r#""labels":[1,2]"#,
        r#""labels":"instanceId=abc""#,
        r#""resource":"cloud_run_revision""#,
        r#""resource":{"type":7}"#,
        r#""resource":{"type":"gce_instance","labels":[]}"#,
        r#""httpRequest":"GET /""#,
        r#""operation":[]"#,
        r#""trace":1.5"#,
        r#""spanId":true"#,
        r#""sourceLocation":"app.py:12""#,
        r#""split":0"#,
        r#""errorGroups":{"id":"x"}"#,
        r#""receiveTimestamp":1732960000"#,
        // A string, but no time: it bounds nothing, said like a mistyped one.
        r#""receiveTimestamp":"garbage""#,
        r#""receive_timestamp":"""#,
    ] {
        let json = format!("{{{base},{field}}}");
        let r = parse_entry(json.as_bytes()).unwrap_or_else(|e| panic!("{field}: {e}"));
        assert_eq!(r.message, "db down", "{field}");
        assert_eq!(r.severity, Severity::Error, "{field}");
        assert_eq!(r.warnings, FieldWarnings::CONTEXT, "{field}");
        assert_eq!(
            r.warnings.reasons().collect::<Vec<_>>(),
            ["context_field_mistyped"]
        );
        // The sample quotes the entry as it came, mistyped field and all.
        assert_eq!(r.raw, json, "{field}");
    }
    // The rest of a mistyped entry is still read: the good fields keep their values.
    let r = parse(
        r#"{"timestamp":"2026-11-23T05:00:00Z","textPayload":"x","insertId":9,
            "labels":{"instanceId":"i-1"},"logName":"projects/p/logs/run"}"#,
    );
    assert_eq!(
        (
            r.instance.as_deref(),
            r.log_name.as_str(),
            r.insert_id.as_str()
        ),
        (Some("i-1"), "projects/p/logs/run", "")
    );
}

#[test]
fn what_leniency_cannot_mend_is_still_refused_by_its_reason() {
    for (json, reason) in [
        (
            r#"{"timestamp":1732960000,"textPayload":"x"}"#,
            "bad_timestamp",
        ),
        (
            r#"{"timestamp":"2026-11-23T05:00:00Z","insertId":1}"#,
            "no_payload",
        ),
        (r#"{"insertId":1,"textPayload":"x"}"#, "no_time"),
        (r#"[1]"#, "not_log_entry"),
    ] {
        let e = parse_entry(json.as_bytes()).expect_err(json);
        assert_eq!(e.reason(), reason, "{json}: {e}");
    }
}

#[test]
fn python_dict_dumps_with_snake_case_keys_read_as_camel_case() {
    let json = r#"{"log_name":"projects/p/logs/app","received_timestamp":"2026-11-23T05:00:00Z",
        "insert_id":"abc","severity":"ERROR","text_payload":"boom",
        "source_location":{"file":"app.py","line":"12","function":"handler"},
        "http_request":{"request_method":"GET","request_url":"/x","status":500},
        "trace_sampled":"yes","span_id":"1"}"#;
    let r = parse(json);
    assert_eq!(
        (
            r.log_name.as_str(),
            r.insert_id.as_str(),
            r.message.as_str()
        ),
        ("projects/p/logs/app", "abc", "boom")
    );
    assert_eq!(r.location.function.as_deref(), Some("handler"));
    assert_eq!(r.timestamp.to_rfc3339(), "2026-11-23T05:00:00+00:00");
    assert!(r.warnings.is_empty());
    let json = r#"{"timestamp":"2026-11-23T05:00:00Z","json_payload":{"message":"hi"}}"#;
    assert_eq!(parse(json).message, "hi");
}

#[test]
fn a_secret_in_a_key_field_is_redacted_at_the_edge() {
    // Service and code location are state (cluster keys, checkpointed): a secret in one is
    // redacted before anything keeps it; the raw entry is redacted where a sample is kept.
    let token = "ghp_R6QC14J9hcDFaR3o110tTCV1J7JbOTTrPmEW";
    let json = format!(
        r#"{{"insertId":"{token}","timestamp":"2025-09-15T19:00:00Z","severity":"ERROR",
        "resource":{{"type":"cloud_run_revision","labels":{{"service_name":"password=Hunter2Secret9"}}}},
        "sourceLocation":{{"file":"{token}","function":"put"}},"labels":{{"python_logger":"{token}"}},
        "textPayload":"upload failed"}}"#
    );
    // Clean names are remembered (a bounded set, emptied when full): the same answers again,
    // and after 5,000 other names have gone through it.
    for round in 0..3 {
        let r = parse(&json);
        assert_eq!(r.service, "password=[REDACTED:password]", "round {round}");
        // insertId orders lines and samples: kept in memory as it is, stored only as a hash.
        assert_eq!(r.insert_id, token);
        assert_eq!(r.location.file.as_deref(), Some("[REDACTED:token]"));
        assert_eq!(r.location.logger.as_deref(), Some("[REDACTED:token]"));
        assert_eq!(r.location.function.as_deref(), Some("put"));
        assert!(r.raw.contains(token));
        if round == 1 {
            for i in 0..5_000 {
                let other = json.replace("\"put\"", &format!("\"put{i}\""));
                assert_eq!(parse(&other).location.function, Some(format!("put{i}")));
            }
        }
    }
}

/// A large replay is cut by `event_time`, read without the rest of the entry: it must be the
/// time the full parse counts the entry at, whatever shape the entry has.
#[test]
fn event_time_is_the_time_the_full_parse_gives() {
    let mut texts: Vec<String> = EXAMPLES.lines().map(str::to_owned).collect();
    let synthetic =
        crate::synth::incidents::incident_hours("2025-09-15T19:00:00Z".parse().unwrap(), 2, 5);
    texts.extend(synthetic.iter().map(|(_, v)| v.to_string()));
    texts.extend(
        [
            r#"{"receiveTimestamp":"2025-09-15T19:00:00.5Z","textPayload":"x"}"#,
            r#"{"receive_timestamp":"2025-09-15T19:00:00+02:00","text_payload":"x"}"#,
            r#"{"timestamp":"2025\u002d09-15T19:00:00Z","receiveTimestamp":"2025-09-15T19:00:01Z"}"#,
            r#"{"timestamp":"2025-09-15 19:00:00Z","textPayload":"x"}"#,
            r#"{"timestamp":"2025-12-31T23:59:60.5Z","textPayload":"x"}"#,
            r#"{"timestamp":1757962800,"textPayload":"x"}"#,
            r#"{"timestamp":"yesterday","textPayload":"x"}"#,
            r#"{"textPayload":"no time"}"#,
            r#"{"timestamp":"2025-09-15T19:00:00Z","severity":1.5,"textPayload":"x"}"#,
            r#"{"timestamp":"2025-09-15T19:00:00Z","textPayload":{"a":1}}"#,
            r#"{"timestamp":"2025-09-15T19:00:00Z","timestamp":"2025-09-16T19:00:00Z"}"#,
            r#"{"timestamp":"2025-09-15T19:00:00Z", broken"#,
        ]
        .map(str::to_owned),
    );
    for text in &texts {
        if let Ok(record) = parse_entry(text.as_bytes()) {
            assert_eq!(
                event_time(text.as_bytes()),
                Some(record.timestamp),
                "{text}"
            );
        }
    }
}

/// `1e400` is valid JSON a double cannot hold: in an optional context field it makes that
/// field mistyped (read as absent, warned), not the whole entry unreadable.
#[test]
fn a_number_beyond_a_double_in_an_optional_field_drops_only_that_field() {
    for field in [
        r#""labels":{"a":1e400}"#,
        r#""insertId":1e400"#,
        r#""sourceLocation":{"line":1e400}"#,
        r#""httpRequest":{"status":1e400}"#,
    ] {
        let json = format!(r#"{{"timestamp":"2026-11-23T05:00:00Z",{field},"textPayload":"x"}}"#);
        let r = parse_entry(json.as_bytes()).unwrap_or_else(|e| panic!("{field}: {e}"));
        assert_eq!(r.warnings, FieldWarnings::CONTEXT, "{field}");
        assert_eq!(r.message, "x");
    }
    // A payload of the same kind is the message, as its JSON text.
    let deep = format!("{}1{}", "{\"a\":".repeat(150), "}".repeat(150));
    for payload in ["1e400", "[1e400, 2]", &deep] {
        let json = format!(
            r#"{{"timestamp":"2026-11-23T05:00:00Z","severity":"ERROR","textPayload":{payload}}}"#
        );
        let r = parse_entry(json.as_bytes()).unwrap_or_else(|e| panic!("{payload}: {e}"));
        assert_eq!(r.message, payload);
        assert_eq!(r.severity, Severity::Error);
    }
    let broken = r#"{"timestamp":"2026-11-23T05:00:00Z","labels":{"a":1e400"#;
    assert!(matches!(
        parse_entry(broken.as_bytes()),
        Err(EntryError::NotJson { .. })
    ));
}

#[test]
fn a_payload_level_field_speaks_when_the_entry_states_no_severity() {
    let at = |payload: &str| {
        parse(&format!(
            r#"{{"timestamp":"2026-03-10T14:00:00Z","jsonPayload":{payload}}}"#
        ))
        .severity
    };
    assert_eq!(at(r#"{"severity":"ERROR","message":"x"}"#), Severity::Error);
    assert_eq!(at(r#"{"level":"error","msg":"x"}"#), Severity::Error);
    assert_eq!(at(r#"{"level":50,"pid":7,"msg":"x"}"#), Severity::Error);
    assert_eq!(
        at(r#"{"level":60,"hostname":"h","msg":"x"}"#),
        Severity::Critical
    );
    assert_eq!(at(r#"{"level":30,"pid":7,"msg":"x"}"#), Severity::Info);
    // A small number is pino's level only in pino's shape: a game's level, a section's depth.
    assert_eq!(
        at(r#"{"level":60,"msg":"player reached level"}"#),
        Severity::Default
    );
    assert_eq!(
        at(r#"{"level":50,"message":"parsed section"}"#),
        Severity::Default
    );
    assert_eq!(
        at(r#"{"levelname":"WARNING","message":"x"}"#),
        Severity::Warning
    );
    assert_eq!(
        at(r#"{"log.level":"fatal","message":"x"}"#),
        Severity::Critical
    );
    assert_eq!(
        at(r#"{"log":{"level":"warn"},"message":"x"}"#),
        Severity::Warning
    );
    // The first field that names a level decides; one that names none is passed over.
    assert_eq!(
        at(r#"{"severity":"DEFAULT","level":"debug","msg":"x"}"#),
        Severity::Debug
    );
    // A payload field says more than a word in the text.
    assert_eq!(at(r#"{"level":"info","msg":"ERROR: x"}"#), Severity::Info);
    // No field: the text still speaks; nothing: DEFAULT.
    assert_eq!(at(r#"{"msg":"ERROR: x"}"#), Severity::Error);
    assert_eq!(at(r#"{"level":"verbose","msg":"x"}"#), Severity::Default);
    assert_eq!(at(r#"{"level":{"n":1},"msg":"x"}"#), Severity::Default);
}

#[test]
fn a_docker_log_line_is_the_message_with_the_severity_its_text_states() {
    let at = |payload: &str| {
        parse(&format!(
            r#"{{"timestamp":"2026-03-10T14:00:00Z","jsonPayload":{payload}}}"#
        ))
    };
    // fluentd / Docker's json-file shape: the line as printed, its stream, the runtime's time.
    let r = at(
        r#"{"log":"ERROR connection refused to db\n","stream":"stderr","time":"2026-03-10T14:00:00.123456789Z"}"#,
    );
    assert_eq!(r.message, "ERROR connection refused to db");
    assert_eq!(r.severity, Severity::Error);
    // A line that states no level stays DEFAULT, as the same text in a textPayload would.
    let r = at(r#"{"log":"listening on :8080","stream":"stdout"}"#);
    assert_eq!(r.message, "listening on :8080");
    assert_eq!(r.severity, Severity::Default);
    // A message under its own name wins; an ECS `log` object is no line.
    assert_eq!(at(r#"{"message":"m","log":"x"}"#).message, "m");
    assert_eq!(at(r#"{"log":{"level":"warn"},"event":"e"}"#).message, "e");
}

#[test]
fn a_payload_that_is_data_with_a_severity_leaves_the_entry_default() {
    let at = |payload: &str| {
        parse(&format!(
            r#"{{"timestamp":"2026-03-10T14:00:00Z","jsonPayload":{payload}}}"#
        ))
        .severity
    };
    // A vulnerability scanner's finding, a health check's result, a queue's alert rule: data
    // that has a severity, not a log record that states its own.
    for data in [
        r#"{"severity":"CRITICAL","cve":"CVE-2024-1234","package":"openssl","installedVersion":"3.0.2","fixedVersion":"3.0.7","image":"gcr.io/p/api@sha256:ab12"}"#,
        r#"{"level":"critical","check":"disk_usage","value":93.5,"threshold":90}"#,
        r#"{"severity":"ERROR","rule":"queue_depth","queue":"emails","depth":1200}"#,
        r#"{"level":50,"pid":7,"hostname":"h"}"#,
    ] {
        assert_eq!(at(data), Severity::Default, "{data}");
    }
    // The same fields in a log record are its level: a message under any of its names, a
    // Docker/Fluent Bit `log` line, a stack trace, a logger's name.
    let records = [
        (
            r#"{"severity":"CRITICAL","message":"CVE-2024-1234 found in openssl"}"#,
            Severity::Critical,
        ),
        (
            r#"{"level":"error","event":"payment failed","order":7}"#,
            Severity::Error,
        ),
        (
            r#"{"severity":"ERROR","log":"boom","stream":"stderr"}"#,
            Severity::Error,
        ),
        (
            r#"{"severity":"ERROR","stack_trace":"java.lang.IllegalStateException: no"}"#,
            Severity::Error,
        ),
        (
            r#"{"level":"warn","logger":"app.db","check":"pool"}"#,
            Severity::Warning,
        ),
        // Logging libraries' own names need no message beside them.
        (r#"{"levelname":"ERROR","funcName":"run"}"#, Severity::Error),
        (
            r#"{"log.level":"error","@timestamp":"2026-03-10T14:00:00Z"}"#,
            Severity::Error,
        ),
    ];
    for (record, want) in records {
        assert_eq!(at(record), want, "{record}");
    }
    // Nor is a level read from the data's fields rendered as text (`level=critical`).
    let j =
        r#"{"timestamp":"2026-03-10T14:00:00Z","jsonPayload":{"level":"critical","check":"disk"}}"#;
    assert_eq!(parse(j).message, "check=disk level=critical");
    assert_eq!(parse(j).severity, Severity::Default);
    // A stated severity stays whatever the payload is.
    let j = r#"{"timestamp":"2026-03-10T14:00:00Z","severity":"WARNING","jsonPayload":{"severity":"CRITICAL","cve":"CVE-2024-1234"}}"#;
    assert_eq!(parse(j).severity, Severity::Warning);
}

#[test]
fn the_entry_s_own_severity_stays_authoritative() {
    for (sev, want) in [("INFO", Severity::Info), ("WARNING", Severity::Warning)] {
        let j = format!(
            r#"{{"timestamp":"2026-03-10T14:00:00Z","severity":"{sev}","jsonPayload":{{"level":"error","msg":"x"}}}}"#
        );
        assert_eq!(parse(&j).severity, want);
    }
}

#[test]
fn an_error_field_beside_a_short_message_joins_it() {
    let msg = |payload: &str| {
        parse(&format!(
            r#"{{"timestamp":"2026-03-10T14:00:00Z","jsonPayload":{payload}}}"#
        ))
        .message
    };
    assert_eq!(
        msg(
            r#"{"level":"fatal","msg":"failed to connect to database","error":"dial tcp 10.0.0.3:5432: connect: connection timed out"}"#
        ),
        "failed to connect to database: dial tcp 10.0.0.3:5432: connect: connection timed out"
    );
    assert_eq!(
        msg(
            r#"{"msg":"send failed","err":{"type":"Error","message":"ECONNRESET","stack":"Error: ECONNRESET\n    at x"}}"#
        ),
        "send failed: ECONNRESET"
    );
    assert_eq!(
        msg(r#"{"message":"send failed","err":"EPIPE"}"#),
        "send failed: EPIPE"
    );
    assert_eq!(
        msg(r#"{"message":"query failed","error.message":"deadlock detected"}"#),
        "query failed: deadlock detected"
    );
    assert_eq!(
        msg(r#"{"message":"boom","error":"bad","stack_trace":"ValueError: bad"}"#),
        "boom: bad\nValueError: bad"
    );
    // Unchanged: a cause the message already holds, an empty or non-text one, a long or
    // multi-line message, no message at all.
    assert_eq!(
        msg(r#"{"msg":"dial failed: i/o timeout","error":"i/o timeout"}"#),
        "dial failed: i/o timeout"
    );
    assert_eq!(msg(r#"{"msg":"x","error":""}"#), "x");
    assert_eq!(msg(r#"{"msg":"x","error":true}"#), "x");
    assert_eq!(msg(r#"{"msg":"x","error":{"code":3}}"#), "x");
    let long = "y".repeat(200);
    assert_eq!(msg(&format!(r#"{{"msg":"{long}","error":"e"}}"#)), long);
    assert_eq!(msg(r#"{"msg":"a\nb","error":"e"}"#), "a\nb");
    assert_eq!(msg(r#"{"error":"e","code":1}"#), "code=1 error=e");
}

/// The event time is `timestamp`; a valid `receiveTimestamp` does not stand in for one that
/// cannot be read (as Cloud Logging sets `timestamp` to the receive time only when the writer
/// gave none): the entry is refused as `bad_timestamp`, counted, never placed at a guess.
#[test]
fn an_unreadable_timestamp_is_refused_even_beside_a_valid_receive_timestamp() {
    for time in [r#""garbage""#, r#""""#, "1757962800"] {
        let json = format!(
            r#"{{"timestamp":{time},"receiveTimestamp":"2025-09-15T19:00:00Z","textPayload":"x"}}"#
        );
        let e = parse_entry(json.as_bytes()).unwrap_err();
        assert_eq!(e.reason(), "bad_timestamp", "{time}: {e}");
    }
    // Without a `timestamp`, `receiveTimestamp` is the event time, and a bad one is refused.
    let e = parse_entry(br#"{"receiveTimestamp":"garbage","textPayload":"x"}"#).unwrap_err();
    assert_eq!(e.reason(), "bad_timestamp", "{e}");
}

#[test]
fn a_repeated_key_reads_its_last_value_and_a_lone_surrogate_reads_as_fffd() {
    let base = r#""timestamp":"2026-11-23T05:00:00Z","severity":"ERROR""#;
    for (json, message, severity) in [
        (
            format!(r#"{{{base},"textPayload":"a","textPayload":"b"}}"#),
            "b",
            Severity::Error,
        ),
        (
            format!(r#"{{{base},"textPayload":"x","severity":"INFO"}}"#),
            "x",
            Severity::Info,
        ),
        (
            format!(r#"{{{base},"textPayload":"cut \ud83c"}}"#),
            "cut \u{FFFD}",
            Severity::Error,
        ),
        // Lone high, lone low, a pair, an escaped backslash before `u`, one at the very end.
        (
            format!(r#"{{{base},"textPayload":"\ud800|\udc00|\ud83c\udf0d|\\ud800|\ud800"}}"#),
            "\u{FFFD}|\u{FFFD}|🌍|\\ud800|\u{FFFD}",
            Severity::Error,
        ),
    ] {
        let r = parse_entry(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(
            (r.message.as_str(), r.severity),
            (message, severity),
            "{json}"
        );
        assert_eq!(
            r.warnings.reasons().collect::<Vec<_>>(),
            ["json_repaired"],
            "{json}"
        );
        assert_eq!(r.raw, json, "the sample quotes the entry as it came");
    }
    // The last `timestamp` decides, even when it is no time.
    let json = format!(r#"{{{base},"textPayload":"x","timestamp":"garbage"}}"#);
    assert_eq!(
        parse_entry(json.as_bytes()).unwrap_err().reason(),
        "bad_timestamp"
    );
}

/// A field under both its camelCase and its snake_case name (the Python client's dump merged
/// with the API's form) was refused as a duplicate field: now the camelCase one is read, at the
/// top level and within `httpRequest`, in either order, with a `json_repaired` warning; a
/// repeated key within a context object keeps the object (its last value read).
#[test]
fn camel_and_snake_case_twins_are_read_by_the_camel_case_name() {
    let base = r#""timestamp":"2026-11-23T05:00:00Z","severity":"ERROR""#;
    for (json, message, insert_id) in [
        (
            format!(r#"{{{base},"insertId":"camel","insert_id":"snake","textPayload":"m"}}"#),
            "m",
            "camel",
        ),
        (
            format!(
                r#"{{{base},"insert_id":"snake","text_payload":"s","insertId":"camel","textPayload":"m"}}"#
            ),
            "m",
            "camel",
        ),
        (
            format!(
                r#"{{{base},"receive_timestamp":"2026-11-23T05:00:01Z","received_timestamp":"x","log_name":"a","logName":"b","textPayload":"m"}}"#
            ),
            "m",
            "",
        ),
        (
            format!(
                r#"{{{base},"http_request":{{"status":1}},"httpRequest":{{"request_method":"PUT","requestMethod":"GET","requestUrl":"/x","status":500}}}}"#
            ),
            "GET /x → 500",
            "",
        ),
        (
            format!(
                r#"{{{base},"httpRequest":{{"requestMethod":"GET","requestUrl":"/x","status":404,"status":500}}}}"#
            ),
            "GET /x → 500",
            "",
        ),
    ] {
        let r = parse_entry(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(
            (r.message.as_str(), r.insert_id.as_str()),
            (message, insert_id),
            "{json}"
        );
        assert_eq!(
            r.warnings.reasons().collect::<Vec<_>>(),
            ["json_repaired"],
            "{json}"
        );
    }
}
