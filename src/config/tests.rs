//! Config loading: defaults, overrides, and errors that name the key.

use std::io::Write;

use super::*;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn built_in_defaults_load_and_match_the_documented_values() {
    let s = Settings::load(None).unwrap();
    assert_eq!(s.window.length, TimeDelta::hours(1));
    assert_eq!(s.window.hop, TimeDelta::hours(1));
    assert_eq!(s.window.bucket, TimeDelta::minutes(1));
    assert_eq!(s.window.allowed_lateness, TimeDelta::minutes(5));
    assert_eq!(s.issue_min_priority, Priority::P3);
    assert!(s
        .escalation
        .rules
        .iter()
        .any(|r| r.name == "database-unavailable"));
}

#[test]
fn a_file_overrides_what_it_names_and_its_rules_replace_the_defaults() {
    let f = file("[window]\nhop = \"15m\"\n\n[[rules]]\nname = \"only\"\nmessage = \"x\"\npriority = \"P1\"\n");
    let s = Settings::load(Some(f.path())).unwrap();
    assert_eq!(s.window.hop, TimeDelta::minutes(15));
    assert_eq!(
        s.window.length,
        TimeDelta::hours(1),
        "unnamed keys keep their defaults"
    );
    let names: Vec<_> = s.escalation.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["only"]);
    assert!(
        s.escalation.rules[0].matcher.min_severity.is_none(),
        "no field leaks in from default rule 0"
    );
}

#[test]
fn a_typo_is_an_error_that_names_the_key() {
    let f = file("[window]\nlenght = \"1h\"\n");
    let e = Settings::load(Some(f.path())).unwrap_err().to_string();
    assert!(e.contains("lenght"), "{e}");
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("[window]\nhop = \"7m\"\n", "window.hop"),
        ("[window]\nbucket = \"7s\"\n", "window.bucket"),
        (
            "[window]\nallowed_lateness = \"soon\"\n",
            "window.allowed_lateness",
        ),
        (
            "[[rules]]\nname = \"r\"\nmessage = \"(\"\npriority = \"P1\"\n",
            "rules[0].message",
        ),
        (
            "[[rules]]\nname = \"r\"\npriority = \"P9\"\n",
            "rules[0].priority",
        ),
        (
            "[[rules]]\nname = \"r\"\npriority = \"P1\"\nadjust = 1\n",
            "rules[0].priority",
        ),
        (
            "[[rules]]\nname = \"r\"\nmin_severity = \"LOUD\"\nadjust = 1\n",
            "rules[0].min_severity",
        ),
        (
            "[report]\nissue_min_priority = \"high\"\n",
            "report.issue_min_priority",
        ),
        ("[metrics]\nlisten = \"localhost\"\n", "metrics.listen"),
        ("[metrics]\ntop_k = 0\n", "metrics.top_k"),
        ("[alerts]\nmin_priority = \"P7\"\n", "alerts.min_priority"),
        (
            "[alerts]\nresolve_timeout = \"1s\"\n",
            "alerts.resolve_timeout",
        ),
        ("[alerts]\nquiet_after = \"later\"\n", "alerts.quiet_after"),
        (
            "[alerts]\nalertmanager_urls = [\"am:9093\"]\n",
            "alerts.alertmanager_urls[0]",
        ),
        ("[alerts]\nwebhook_url = \"hooks\"\n", "alerts.webhook_url"),
        ("[alerts]\nqueue = 0\n", "alerts.queue"),
    ];
    for (text, key) in cases {
        let e = Settings::load(Some(file(text).path()))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(key), "{text:?} → {e}");
    }
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let e = Settings::load(Some(Path::new("/nonexistent/lg.toml")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/lg.toml"), "{e}");
}

#[test]
fn the_default_rules_give_the_seed_worklogs_priorities() {
    use crate::escalate::Evidence;
    let s = Settings::load(None).unwrap();
    let decide = |template: &str, severity: Severity| {
        let ev = Evidence {
            template,
            logger: "",
            service: "backend",
            severity,
            count: 15,
            baseline: None,
        };
        s.escalation.decide(&ev).priority
    };
    let cases = [
        ("Database initialization timeout after <*> in staging environment. This may indicate Cloud SQL connection issues.", Severity::Error, Priority::P0),
        ("SSOT Violation: Found <*> different WebSocket Manager classes. Expected single source of truth.", Severity::Error, Priority::P2),
        ("Service ID contains leading/trailing whitespace: <*>. This may cause service discovery issues.", Severity::Warning, Priority::P3),
        ("Backend service starting in staging environment with configuration validation enabled.", Severity::Notice, Priority::P4),
        ("SSOT validation issues (non-blocking): ['Multiple manager instances for user <*> - potential duplication']", Severity::Warning, Priority::P4),
        ("Session access failed (middleware not installed?): SessionMiddleware must be installed to access request.session", Severity::Warning, Priority::P4),
        ("Async engine not available, skipping index creation", Severity::Warning, Priority::P4),
        ("POST /ws/beacon → 405", Severity::Warning, Priority::P5),
        ("[🔑] GOLDEN PATH AUTH=REDACTED permissive authentication with circuit breaker for connection <*>", Severity::Critical, Priority::P4),
        ("Memory limit of <*> MiB exceeded with <*> MiB used.", Severity::Error, Priority::P1),
        ("Error: <*> NOT_FOUND: Queue does not exist. (at callErrorFromStatus in grpc-js/build/src/call.js)", Severity::Default, Priority::P2),
        ("DB connect failed — sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at \"<*>\", port <*> failed: timeout expired", Severity::Error, Priority::P0),
        ("[INFO] Booting worker with pid: <*>", Severity::Default, Priority::P5),
    ];
    for (t, sev, want) in cases {
        assert_eq!(decide(t, sev), want, "{t}");
    }
}

#[test]
fn environment_overrides_files() {
    // Only this test sets LOG_GARDENER__ variables, and it removes them again.
    std::env::set_var("LOG_GARDENER__WINDOW__HOP", "30m");
    std::env::set_var(
        "LOG_GARDENER__ALERTS__ALERTMANAGER_URLS",
        "http://am-0:9093,http://am-1:9093",
    );
    let s = Settings::load(None);
    std::env::remove_var("LOG_GARDENER__WINDOW__HOP");
    std::env::remove_var("LOG_GARDENER__ALERTS__ALERTMANAGER_URLS");
    let s = s.unwrap();
    assert_eq!(s.window.hop, TimeDelta::minutes(30));
    assert_eq!(
        s.alerts.alertmanager_urls,
        ["http://am-0:9093", "http://am-1:9093"],
        "a comma-separated list from the environment"
    );
}

#[test]
fn metrics_and_alerts_defaults_are_the_documented_ones() {
    let s = Settings::load(None).unwrap();
    assert_eq!(s.metrics.listen.to_string(), "127.0.0.1:9464");
    assert_eq!(s.metrics.top_k, 20);
    let a = &s.alerts;
    assert!(!a.enabled(), "no receiver unless configured");
    assert_eq!(a.policy.min_priority, Priority::P1);
    assert_eq!(a.policy.hold_for, TimeDelta::minutes(5));
    assert_eq!(
        a.policy.repost_every,
        TimeDelta::seconds(150),
        "half of resolve_timeout"
    );
    assert_eq!(a.policy.quiet_after, TimeDelta::minutes(15));
    assert_eq!(a.policy.flap_window, TimeDelta::minutes(30));
    assert_eq!(a.policy.rate_limit, TimeDelta::hours(1));
    assert_eq!((a.webhook_url.as_deref(), a.queue), (None, 256));
}

#[test]
fn an_unknown_alerts_key_is_an_error() {
    let f = file("[alerts]\nmin_prio = \"P0\"\n");
    let e = Settings::load(Some(f.path())).unwrap_err().to_string();
    assert!(e.contains("min_prio"), "{e}");
}

#[test]
fn github_is_off_by_default_and_validated_when_on() {
    assert_eq!(Settings::load(None).unwrap().github, None);
    let f =
        file("[github]\nrepo = \"acme/backend\"\napi_url = \"https://ghe.example.com/api/v3/\"\n");
    let g = Settings::load(Some(f.path())).unwrap().github.unwrap();
    assert_eq!((g.owner.as_str(), g.repo.as_str()), ("acme", "backend"));
    assert_eq!(g.api_url, "https://ghe.example.com/api/v3");
    assert_eq!(g.reopen_within, TimeDelta::days(14));
    assert_eq!(g.label, "log-gardener");
    assert_eq!(g.state_dir, None);
    for (text, key) in [
        ("[github]\nrepo = \"acme\"\n", "github.repo"),
        (
            "[github]\nrepo = \"a/b\"\napi_url = \"ftp://x\"\n",
            "github.api_url",
        ),
        (
            "[github]\nrepo = \"a/b\"\nreopen_within = \"two weeks\"\n",
            "github.reopen_within",
        ),
        (
            "[github]\nrepo = \"a/b\"\nmax_writes_per_window = 0\n",
            "github.max_writes_per_window",
        ),
        ("[github]\nrepo = \"a/b\"\ntoken = \"x\"\n", "token"),
    ] {
        let err = Settings::load(Some(file(text).path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{text:?}: {err}");
    }
}

#[test]
fn pubsub_and_live_sections_validate_and_build_the_subscription_path() {
    let s = Settings::load(None).unwrap();
    assert_eq!(s.pubsub.subscription, None, "no subscription by default");
    assert_eq!(s.live.watermark, Watermark::WallClock);
    let f = file("[pubsub]\nproject = \"acme\"\nsubscription = \"logs\"\n");
    let s = Settings::load(Some(f.path())).unwrap();
    assert_eq!(
        s.pubsub.subscription.as_deref(),
        Some("projects/acme/subscriptions/logs")
    );
    for (text, key) in [
        ("[pubsub]\nsubscription = \"logs\"\n", "pubsub.project"),
        ("[pubsub]\nstreams = 0\n", "pubsub.streams"),
        ("[pubsub]\non_malformed = \"drop\"\n", "pubsub.on_malformed"),
        (
            "[live]\nwatermark = \"processing-time\"\n",
            "live.watermark",
        ),
        (
            "[live]\ncheckpoint_every = \"0s\"\n",
            "live.checkpoint_every",
        ),
        ("[live]\ncheckpointevery = \"5s\"\n", "checkpointevery"),
    ] {
        let e = Settings::load(Some(file(text).path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{text:?} → {e}");
    }
}
