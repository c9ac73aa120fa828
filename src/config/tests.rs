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
fn a_directory_or_a_file_that_is_no_text_is_said_as_such_not_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let e = Settings::load_from(Some(dir.path()), [("X", "y")]).unwrap_err();
    assert!(matches!(e, ConfigError::File { .. }), "{e:?}");
    let e = e.to_string();
    assert!(
        e.contains(&dir.path().display().to_string()) && e.contains("is a directory"),
        "{e}"
    );
    assert!(!e.contains("not found"), "{e}");
    // A missing NAME is missing, even when NAME.toml exists (the crate would load that).
    let named = dir.path().join("lg.toml");
    std::fs::write(&named, "[window]\nhop = \"15m\"\n").unwrap();
    let e = Settings::load_from(Some(&dir.path().join("lg")), [("X", "y")])
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("lg: not found"), "{e}");
    std::fs::write(&named, b"[window]\nhop = \"\xff\"\n").unwrap();
    let e = Settings::load_from(Some(&named), [("X", "y")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("not UTF-8"), "{e}");
    // A BOM is no error, and values keep the file as their origin.
    std::fs::write(&named, "\u{feff}[window]\nhop = \"7m\"\n").unwrap();
    let e = Settings::load_from(Some(&named), [("X", "y")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("window.hop (from {})", named.display())),
        "{e}"
    );
}

#[test]
fn a_file_value_of_the_wrong_type_is_refused_an_environment_string_is_parsed() {
    for (text, key, found) in [
        (
            "[window]\nhistory = 1.5\n",
            "window.history",
            "floating point `1.5`, expected an integer",
        ),
        (
            "[window]\nhistory = \"5\"\n",
            "window.history",
            "string \"5\", expected an integer",
        ),
        (
            "[window]\nhistory = true\n",
            "window.history",
            "boolean `true`, expected an integer",
        ),
        (
            "[live]\nflush_on_shutdown = 1\n",
            "live.flush_on_shutdown",
            "integer `1`, expected a boolean",
        ),
        ("[window]\nhop = 15\n", "window.hop", "expected a string"),
        (
            "[[rules]]\nname = \"r\"\nadjust = \"1\"\n",
            "rules[0].adjust",
            "expected an integer",
        ),
        (
            "[escalation.spike]\nfactor = \"5\"\nmin_count = 20\nraise = 1\n",
            "escalation.spike.factor",
            "expected a number",
        ),
        (
            "[alerts]\nalertmanager_urls = [1]\n",
            "alerts.alertmanager_urls[0]",
            "expected a string",
        ),
        ("window = 1\n", "window", "expected a table"),
    ] {
        let f = file(text);
        let e = Settings::load_from(Some(f.path()), [("X", "y")])
            .unwrap_err()
            .to_string();
        let from = format!("{key} (from {}): invalid type: ", f.path().display());
        assert!(e.starts_with(&from) && e.contains(found), "{text:?} → {e}");
    }
    // Every value of the environment is a string: parsed where the field wants another type.
    let s = load(
        "",
        &[
            ("LOG_GARDENER__WINDOW__HISTORY", "5"),
            ("LOG_GARDENER__LIVE__FLUSH_ON_SHUTDOWN", "false"),
            ("LOG_GARDENER__ESCALATION__SPIKE__FACTOR", "2.5"),
        ],
    )
    .unwrap();
    assert_eq!(s.window.history, 5);
    assert!(!s.live.flush_on_shutdown);
    // A number field takes an integer, and the file's right types load.
    let s = load(
        "[escalation.spike]\nfactor = 5\nmin_count = 20\nraise = 1\n[window]\nhistory = 5\n",
        &[],
    )
    .unwrap();
    assert_eq!(s.window.history, 5);
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
        // Real wording of crash loops, outages and platform errors (issue: incidents).
        ("SSOT WARNING: Found other WebSocket Manager classes: <*>", Severity::Warning, Priority::P2),
        ("ModuleNotFoundError: No module named 'app.services.monitoring'", Severity::Error, Priority::P1),
        ("[ERROR] Worker failed to boot.", Severity::Error, Priority::P1),
        ("Application startup failed. Exiting.", Severity::Error, Priority::P1),
        ("Container called exit(<*>).", Severity::Warning, Priority::P2),
        ("The request failed because either the HTTP response was malformed or connection to the instance had an error.", Severity::Error, Priority::P2),
        ("Failed to run migrations: (psycopg2.OperationalError) connection to server on socket \"<*>\" failed: No such file or directory", Severity::Error, Priority::P0),
        ("POST /api/orders → 500", Severity::Error, Priority::P2),
        ("GET /api/report → 504", Severity::Error, Priority::P1),
    ];
    for (t, sev, want) in cases {
        assert_eq!(decide(t, sev), want, "{t}");
    }
}

#[test]
fn the_default_rules_put_a_5xx_a_message_names_above_a_4xx() {
    use crate::escalate::Evidence;
    let s = Settings::load(None).unwrap();
    let decide = |template: &str, severity: Severity| {
        let ev = Evidence {
            template,
            logger: "",
            service: "checkout",
            severity,
            count: 15,
            baseline: None,
        };
        s.escalation.decide(&ev).priority
    };
    let cases = [
        (
            "upstream inventory returned HTTP 503 for request <*>",
            Severity::Error,
            Priority::P2,
        ),
        (
            "payments API responded status=502, attempt <*>",
            Severity::Warning,
            Priority::P2,
        ),
        (
            "upstream inventory returned HTTP 404 for request <*>",
            Severity::Error,
            Priority::P3,
        ),
        (
            "Webhook delivery to partner <*> failed: HTTP 410 Gone",
            Severity::Error,
            Priority::P3,
        ),
        (
            "token refresh rejected: status=401.",
            Severity::Warning,
            Priority::P4,
        ),
        // Not a status: request lines keep their own rules, masked numbers are no status.
        ("GET /api/items → 404", Severity::Warning, Priority::P5),
        ("query returned <*> rows", Severity::Error, Priority::P2),
        (
            "Tax rate lookup returned no region for postcode area <*>",
            Severity::Error,
            Priority::P2,
        ),
    ];
    for (t, sev, want) in cases {
        assert_eq!(decide(t, sev), want, "{t}");
    }
}

#[test]
fn the_default_rules_page_for_database_timeouts_in_their_wordings() {
    use crate::escalate::Evidence;
    let s = Settings::load(None).unwrap();
    let decide = |template: &str, severity: Severity| {
        let ev = Evidence {
            template,
            logger: "",
            service: "orders",
            severity,
            count: 40,
            baseline: None,
        };
        let d = s.escalation.decide(&ev);
        (d.priority, d.rule)
    };
    let db = Some("database-unavailable".to_owned());
    let pages = [
        ("<*> - Connection is not available, request timed out after <*>. — java.sql.SQLTransientConnectionException: <*>", Severity::Error),
        ("PrismaClientInitializationError: Can't reach database server at `<*>`:`<*>` Please make sure your database server is running at `<*>`:`<*>`.", Severity::Error),
        ("<*> [acme-prod:us-central1:main-db] failed to connect to instance: Dial error: failed to dial (connection name = \"<*>\"): dial tcp <*>: i/o timeout", Severity::Error),
        ("orders.Get: failed to connect to `host=<*> user=app database=orders`: dial error (dial tcp <*>: i/o timeout)", Severity::Error),
        ("orders.List: pgxpool acquire: context deadline exceeded", Severity::Error),
        ("Internal Server Error: <*> — django.db.utils.OperationalError: (<*>, 'Lost connection to MySQL server during query')", Severity::Error),
        ("django.db.utils.OperationalError: (<*>, \"Can't connect to MySQL server on '<*>' (<*>)\")", Severity::Error),
        ("com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure", Severity::Error),
        ("org.postgresql.util.PSQLException: The connection attempt failed.", Severity::Error),
        ("FATAL: remaining connection slots are reserved for non-replication superuser connections", Severity::Critical),
        ("failed to connect to database: failed to connect to `host=<*> user=inventory database=inventory`: dial error (dial tcp <*>: connect: connection timed out)", Severity::Critical),
        ("Connection to database timed out after <*>", Severity::Warning),
    ];
    for (t, sev) in pages {
        assert_eq!(decide(t, sev), (Priority::P0, db.clone()), "{t} at {sev}");
    }
    // The proxy sidecar writes no level: DEFAULT meets the rule's min_severity, but text alone
    // files an issue, it does not page.
    assert_eq!(
        decide("<*> [acme-prod:us-central1:main-db] failed to connect to instance: Dial error: failed to dial (connection name = \"<*>\"): dial tcp <*>: i/o timeout", Severity::Default),
        (crate::escalate::UNSTATED_CEILING, db.clone())
    );
    let retry = Some("retry-in-progress".to_owned());
    let not_pages = [
        // A retry at WARNING is the severity's default; the error when retries run out pages.
        ("Connection to database timed out (attempt <*>/<*>), retrying in <*>", Severity::Warning, (Priority::P3, retry.clone())),
        ("could not connect to server: Connection refused, will retry", Severity::Default, (Priority::P5, retry.clone())),
        // Stated below WARNING: informational.
        ("Query succeeded on attempt <*> after previous attempt could not connect to server: Connection timed out", Severity::Info, (Priority::P4, None)),
        ("db pool configured: host=<*> port=<*> pool_size=<*> timeout=<*> connect_timeout=<*>", Severity::Debug, (Priority::P5, None)),
        ("healthz: database ping ok in <*> (timeout <*>)", Severity::Info, (Priority::P4, None)),
        // A deadline with no database in the line stays the request timeout it was.
        ("upstream call: context deadline exceeded", Severity::Error, (Priority::P1, Some("request-timeout".to_owned()))),
        ("Slow query took <*> (statement_timeout=<*>): SELECT * FROM orders WHERE id = $<*>", Severity::Warning, (Priority::P3, None)),
    ];
    for (t, sev, want) in not_pages {
        assert_eq!(decide(t, sev), want, "{t} at {sev}");
    }
    // An ERROR that retries is not excused: the rule asks for WARNING or quieter.
    assert_eq!(
        decide(
            "could not connect to server: Connection refused, retrying",
            Severity::Error
        ),
        (Priority::P0, db)
    );
}

/// Loads `text` as the `--config` file with `env` as the environment (never the process's).
fn load(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let f = file(text);
    Settings::load_from(Some(f.path()), env.iter().copied())
}

fn err(text: &str, env: &[(&str, &str)]) -> String {
    load(text, env).unwrap_err().to_string()
}

#[test]
fn environment_overrides_files() {
    let s = load(
        "[window]\nhop = \"15m\"\n",
        &[
            ("LOG_GARDENER__WINDOW__HOP", "30m"),
            (
                "LOG_GARDENER__ALERTS__ALERTMANAGER_URLS",
                "http://am-0:9093, http://am-1:9093",
            ),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    assert_eq!(s.window.hop, TimeDelta::minutes(30));
    assert_eq!(
        s.alerts.alertmanager_urls,
        ["http://am-0:9093", "http://am-1:9093"],
        "a comma-separated list from the environment"
    );
}

#[test]
fn an_empty_list_variable_is_an_empty_list() {
    let listed = "[alerts]\nalertmanager_urls = [\"http://am:9093\"]\n";
    let s = load(listed, &[("LOG_GARDENER__ALERTS__ALERTMANAGER_URLS", "")]).unwrap();
    assert!(
        s.alerts.alertmanager_urls.is_empty(),
        "overrides the file's list"
    );
    assert!(!s.alerts.enabled());
    let s = load("", &[("LOG_GARDENER__ALERTS__ALERTMANAGER_URLS", "  ")]).unwrap();
    assert!(s.alerts.alertmanager_urls.is_empty());
    let e = err(
        "",
        &[(
            "LOG_GARDENER__ALERTS__ALERTMANAGER_URLS",
            "http://a:1,,http://b:2",
        )],
    );
    assert!(
        e.starts_with(
            "alerts.alertmanager_urls[1] (from environment variable \
             LOG_GARDENER__ALERTS__ALERTMANAGER_URLS): empty"
        ),
        "{e}"
    );
}

#[test]
fn errors_name_the_key_and_where_it_was_set() {
    let f = file("[window]\nlength = \"30m\"\nbucket = \"7s\"\n");
    let path = f.path().display().to_string();
    let from_file = Settings::load_from(Some(f.path()), [("X", "y")])
        .unwrap_err()
        .to_string();
    assert!(from_file.starts_with("window.bucket (from "), "{from_file}");
    assert!(from_file.contains(&path), "names the file: {from_file}");
    // The file shortened the window; the hop it no longer divides is a default.
    let e = err("[window]\nlength = \"30m\"\n", &[]);
    assert!(
        e.starts_with("window.hop (from the built-in defaults): must divide window.length"),
        "{e}"
    );
    assert!(
        e.contains("; window.length is from /") && e.ends_with(".toml"),
        "the key the check also read, and where it was set: {e}"
    );
    let e = err("", &[("LOG_GARDENER__WINDOW__HOP", "7m")]);
    assert!(
        e.starts_with("window.hop (from environment variable LOG_GARDENER__WINDOW__HOP)"),
        "{e}"
    );
    let e = err("", &[("LOG_GARDENER__PUBSUB__STREAMS", "many")]);
    assert!(
        e.starts_with("pubsub.streams (from environment variable LOG_GARDENER__PUBSUB__STREAMS): invalid type"),
        "{e}"
    );
}

/// A check across keys names, besides the key in error, where each other key it read was set:
/// a variable that broke a default's check is named, not only "the built-in defaults".
#[test]
fn checks_across_keys_name_where_each_key_was_set() {
    let e = err("", &[("LOG_GARDENER__WINDOW__HOP", "7s")]);
    assert_eq!(
        e,
        "window.bucket (from the built-in defaults): must divide window.hop; window.hop is from \
         environment variable LOG_GARDENER__WINDOW__HOP"
    );
    let f = file("[window]\nhop = \"10m\"\nallowed_lateness = \"20m\"\n");
    let e = Settings::load_from(Some(f.path()), [("LOG_GARDENER__WINDOW__LENGTH", "10m")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "window.allowed_lateness (from {}): must be between 0ms and 10m",
            f.path().display()
        )) && e
            .ends_with("; window.length is from environment variable LOG_GARDENER__WINDOW__LENGTH"),
        "{e}"
    );
    let e = err(
        "[state]\nredis_url = \"redis://m\"\nmax_backlog = 1000\n",
        &[("LOG_GARDENER__PUBSUB__MAX_OUTSTANDING_MESSAGES", "2000")],
    );
    assert!(
        e.starts_with("state.max_backlog (from ")
            && e.ends_with(
                "; pubsub.max_outstanding_messages is from environment variable \
                 LOG_GARDENER__PUBSUB__MAX_OUTSTANDING_MESSAGES"
            )
            && e.contains("; pubsub.streams is from the built-in defaults;"),
        "{e}"
    );
    // Keys set where the key in error was are not said again.
    let e = err("[window]\nlength = \"30m\"\nhop = \"7m\"\n", &[]);
    assert!(
        e.starts_with("window.hop (from ") && e.ends_with("must divide window.length"),
        "{e}"
    );
    let e = err("", &[("LOG_GARDENER__PUBSUB__SUBSCRIPTION", "logs")]);
    assert!(
        e.starts_with("pubsub.project (from the built-in defaults)")
            && e.ends_with("; pubsub.subscription is from environment variable LOG_GARDENER__PUBSUB__SUBSCRIPTION"),
        "{e}"
    );
    // A key inside a table is named itself, so a variable that set it is named.
    for (var, key) in [
        (
            "LOG_GARDENER__ESCALATION__SPIKE__RAISE",
            "escalation.spike.raise",
        ),
        (
            "LOG_GARDENER__ESCALATION__SPIKE__MIN_COUNT",
            "escalation.spike.min_count",
        ),
    ] {
        let e = err("", &[(var, "0")]);
        assert!(
            e.starts_with(&format!("{key} (from environment variable {var})")),
            "{e}"
        );
    }
    let e = err("[escalation]\ncount = [{ at_least = 0, raise = 1 }]\n", &[]);
    assert!(e.starts_with("escalation.count[0].at_least (from "), "{e}");
}

#[test]
fn unknown_keys_name_the_file_or_the_variable() {
    let f = file("[window]\nlenght = \"1h\"\n");
    let e = Settings::load_from(Some(f.path()), [("X", "y")])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("window.lenght (from "), "{e}");
    assert!(e.contains(&f.path().display().to_string()), "{e}");
    assert!(e.contains("unknown key; expected one of `length`"), "{e}");
    let e = err("", &[("LOG_GARDENER__WINDOW__LENGHT", "1h")]);
    assert!(
        e.starts_with(
            "window.lenght (from environment variable LOG_GARDENER__WINDOW__LENGHT): unknown key"
        ),
        "{e}"
    );
    let e = err("", &[("LOG_GARDENER__WINDOW_HOP", "1h")]);
    assert!(
        e.contains("window_hop") && e.contains("LOG_GARDENER__WINDOW_HOP"),
        "{e}"
    );
    let e = err(
        "[[rules]]\nname = \"r\"\nmesage = \"x\"\npriority = \"P1\"\n",
        &[],
    );
    assert!(e.starts_with("rules[0].mesage (from "), "{e}");
    let e = err("[[rules]]\nmessage = \"x\"\npriority = \"P1\"\n", &[]);
    assert!(e.starts_with("rules[0].name (from "), "missing: {e}");
    let e = err("", &[("LOG_GARDENER____HOP", "1h")]);
    assert!(
        e.contains("LOG_GARDENER____HOP") && e.contains("not a key"),
        "{e}"
    );
}

#[test]
fn zero_and_out_of_range_durations_are_errors_not_panics() {
    for (text, key) in [
        ("[window]\nhop = \"0s\"\n", "window.hop"),
        ("[window]\nbucket = \"0s\"\n", "window.bucket"),
        ("[window]\nlength = \"0ms\"\n", "window.length"),
        ("[window]\nlength = \"2d\"\n", "window.length"),
        ("[window]\nhop = \"25h\"\n", "window.hop"),
        // A worklog a second, each entry in 3600 of them.
        ("[window]\nhop = \"1s\"\nbucket = \"1s\"\n", "window.hop"),
        // 2h of 1s buckets: 7200 counters per cluster and window.
        (
            "[window]\nlength = \"2h\"\nbucket = \"1s\"\n",
            "window.bucket",
        ),
        (
            "[window]\nallowed_lateness = \"2h\"\n",
            "window.allowed_lateness",
        ),
        ("[window]\nhistory = 100000\n", "window.history"),
        ("[stitch]\nmax_gap = \"5m\"\n", "stitch.max_gap"),
        ("[stitch]\nhorizon = \"100ms\"\n", "stitch.horizon"),
        ("[stitch]\nmax_lines = 0\n", "stitch.max_lines"),
        (
            "[stitch]\nremember_lines = 1000001\n",
            "stitch.remember_lines",
        ),
        ("[input]\nmax_entry_bytes = 10\n", "input.max_entry_bytes"),
        ("[report]\ndir = \"\"\n", "report.dir"),
        ("[pubsub]\nstreams = 100\n", "pubsub.streams"),
        (
            "[pubsub]\nmax_outstanding_bytes = 10\n",
            "pubsub.max_outstanding_bytes",
        ),
        (
            "[pubsub]\nmax_outstanding_messages = 0\n",
            "pubsub.max_outstanding_messages",
        ),
        (
            "[pubsub]\nendpoint = \"localhost:8085\"\n",
            "pubsub.endpoint",
        ),
        ("[live]\ntick = \"0s\"\n", "live.tick"),
        (
            "[live]\ncheckpoint_every = \"1h\"\n",
            "live.checkpoint_every",
        ),
        ("[live]\ndedupe_ids = 0\n", "live.dedupe_ids"),
        ("[live]\nmax_age = \"10m\"\n", "live.max_age"),
        ("[live]\nmax_ahead = \"2d\"\n", "live.max_ahead"),
        ("[live]\nmax_age = \"forever\"\n", "live.max_age"),
        ("[live]\nhold_back = \"2h\"\n", "live.hold_back"),
        ("[window]\nrevise_within = \"8d\"\n", "window.revise_within"),
        (
            "[state]\nredis_url = \"localhost:6379\"\n",
            "state.redis_url",
        ),
        (
            "[state]\nredis_url = \"rediss://m:6379\"\n",
            "state.redis_url",
        ),
        (
            "[state]\nredis_url = \"redis://m\"\nkey_prefix = \"a b\"\n",
            "state.key_prefix",
        ),
        (
            "[state]\nredis_url = \"redis://m\"\nlease = \"1s\"\n",
            "state.lease",
        ),
        (
            "[state]\nredis_url = \"redis://m\"\nmax_backlog = 5000\n",
            "state.max_backlog",
        ),
        (
            "[state]\nredis_url = \"redis://m\"\ndedupe_ttl = \"1m\"\n",
            "state.dedupe_ttl",
        ),
        ("[metrics]\ntop_k = 100000\n", "metrics.top_k"),
        ("[alerts]\nquiet_after = \"0s\"\n", "alerts.quiet_after"),
        ("[alerts]\nrate_limit = \"30d\"\n", "alerts.rate_limit"),
        (
            "[alerts]\nresolve_timeout = \"2d\"\n",
            "alerts.resolve_timeout",
        ),
        (
            "[github]\nrepo = \"a/b\"\nwrite_spacing = \"1h\"\n",
            "github.write_spacing",
        ),
        (
            "[github]\nrepo = \"a/b\"\napi_url = \"https://\"\n",
            "github.api_url",
        ),
        (
            "[github]\nrepo = \"a/b\"\nrelated_searches_per_window = 1000\n",
            "github.related_searches_per_window",
        ),
    ] {
        let e = err(text, &[]);
        assert!(e.starts_with(key), "{text:?} → {e}");
    }
}

#[test]
fn nan_and_infinite_numbers_are_refused() {
    for v in ["nan", "inf", "-inf", "1.0", "1e9"] {
        let e = err(
            &format!("[escalation.spike]\nfactor = {v}\nmin_count = 20\nraise = 1\n"),
            &[],
        );
        assert!(e.starts_with("escalation.spike.factor (from "), "{v}: {e}");
    }
    let e = err("", &[("LOG_GARDENER__ESCALATION__SPIKE__FACTOR", "NaN")]);
    assert!(
        e.starts_with("escalation.spike.factor (from environment variable LOG_GARDENER__ESCALATION__SPIKE__FACTOR)"),
        "{e}"
    );
    assert!(load(
        "[escalation.spike]\nfactor = 2.5\nmin_count = 20\nraise = 1\n",
        &[]
    )
    .is_ok());
}

fn rules(n: usize, pattern: &str) -> String {
    (0..n)
        .map(|i| format!("[[rules]]\nname = \"r{i}\"\nmessage = '{pattern}'\npriority = \"P3\"\n"))
        .collect()
}

#[test]
fn a_rule_without_a_condition_may_only_be_the_last() {
    let catch_all = "[[rules]]\nname = \"all\"\npriority = \"P0\"\n";
    let e = err(&format!("{catch_all}{}", rules(2, "x")), &[]);
    assert!(e.starts_with("rules[0] (from "), "{e}");
    assert!(e.contains("rules[1..2] after it are never tried"), "{e}");
    let e = err(
        &format!("{}{catch_all}{}", rules(1, "x"), rules(1, "y")),
        &[],
    );
    assert!(e.starts_with("rules[1] (from "), "{e}");
    assert!(e.contains("rules[2] after it"), "{e}");
    // Last, it is the "everything else" rule.
    let s = load(&format!("{}{catch_all}", rules(2, "x")), &[]).unwrap();
    assert_eq!(s.escalation.rules.len(), 3);
}

#[test]
fn the_number_of_rules_is_capped() {
    let e = err(&rules(10_000, "x"), &[]);
    assert!(e.starts_with("rules (from "), "{e}");
    assert!(e.contains("10000 rules; at most 500"), "{e}");
    assert_eq!(
        load(&rules(MAX_RULES, "x"), &[])
            .unwrap()
            .escalation
            .rules
            .len(),
        MAX_RULES
    );
}

#[test]
fn one_pattern_and_all_patterns_together_stay_within_the_regex_budget() {
    // \w is Unicode-aware: a hundred of them take well over 2 MiB compiled.
    let e = err(&rules(1, r"\w{3,100}"), &[]);
    assert!(e.starts_with("rules[0].message (from "), "{e}");
    assert!(e.contains("exceeds 2 MiB"), "{e}");
    assert!(
        load(&rules(1, r"\w{3,40}"), &[]).is_ok(),
        "one \\w{{3,40}} fits"
    );
    // `.{1,1000}` is charged 1 MiB: 32 fit in the 32 MiB budget, the 33rd does not.
    let e = err(&rules(40, ".{1,1000}"), &[]);
    assert!(e.starts_with("rules[32].message (from "), "{e}");
    assert!(e.contains("together exceed 32 MiB"), "{e}");
}

#[test]
fn a_pattern_longer_than_its_text_limit_is_refused_before_it_is_compiled() {
    // 3,000 words are where `regex` leaves its program for an Aho-Corasick automaton that
    // the compiled-size limit does not bound (a million of them took 1.2 GB).
    let words: Vec<String> = (0..3000).map(|i| format!("w{i}x")).collect();
    let e = err(&rules(1, &words.join("|")), &[]);
    assert!(e.starts_with("rules[0].message (from "), "{e}");
    assert!(e.contains("bytes long; at most 8 KiB"), "{e}");
    // Every pattern of a rule, and the text limit is inclusive.
    let text = "[[rules]]\nname = \"r\"\npriority = \"P3\"\nlogger = '{}'\n";
    let e = err(
        &text.replace("{}", &"x".repeat(REGEX_SOURCE_LIMIT + 1)),
        &[],
    );
    assert!(e.starts_with("rules[0].logger (from "), "{e}");
    let fits = load(&text.replace("{}", &"x".repeat(REGEX_SOURCE_LIMIT)), &[]);
    assert!(fits.is_ok(), "{:?}", fits.err());
    // As many words as fit in the limit go through the program and its budget.
    assert!(load(&rules(1, &words[..1000].join("|")), &[]).is_ok());
}

#[test]
fn urls_are_checked_but_never_quoted() {
    let e = err(
        "[alerts]\nwebhook_url = \"hooks.example/T0/secret-part\"\n",
        &[],
    );
    assert!(e.starts_with("alerts.webhook_url"), "{e}");
    assert!(
        !e.contains("secret-part"),
        "the value stays out of the message: {e}"
    );
}

#[test]
fn check_runtime_reads_the_token_file_unless_github_token_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("token");
    let cfg = format!(
        "[github]\nrepo = \"acme/backend\"\ntoken_file = \"{}\"\n",
        missing.display()
    );
    let s = load(&cfg, &[]).unwrap();
    let e = s.check_runtime(None).unwrap_err().to_string();
    assert!(e.starts_with("github.token_file: cannot read"), "{e}");
    assert!(e.contains(&missing.display().to_string()), "{e}");
    assert!(
        s.check_runtime(Some("  ")).is_err(),
        "an empty GITHUB_TOKEN does not count"
    );
    s.check_runtime(Some("ghp_x"))
        .expect("GITHUB_TOKEN wins, the file is not read");
    std::fs::write(&missing, "ghp_secret\n").unwrap();
    s.check_runtime(None).expect("readable");
    let off = load("", &[]).unwrap();
    off.check_runtime(None)
        .expect("no [github]: nothing to read");
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

#[test]
fn a_redis_url_is_never_printed_it_may_carry_a_password() {
    let f = file("[state]\nredis_url = \"rediss://:s3cretAuthString@10.0.0.3:6379\"\n");
    let e = Settings::load(Some(f.path())).unwrap_err().to_string();
    assert!(
        e.contains("state.redis_url") && !e.contains("s3cret"),
        "{e}"
    );
    let f = file("[state]\nredis_url = \"redis://:s3cretAuthString@10.0.0.3:6379\"\n");
    let s = Settings::load(Some(f.path())).unwrap();
    let redis = s.state.redis.as_ref().expect("configured");
    assert_eq!(redis.lease, std::time::Duration::from_secs(15));
    assert!(!format!("{s:?}").contains("s3cret"));
}
