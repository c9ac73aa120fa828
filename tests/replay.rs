//! End to end through the binary: a generated two-hour export with known kinds and rates is
//! replayed; the worklogs must have one cluster per kind with the exact count and priority,
//! the same whatever the order of the file, and bad input must be reported with its line.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use log_gardener::report::WindowReport;
use log_gardener::synth::{self, KINDS};
use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_log-gardener"));
    c.env_remove("RUST_LOG");
    c
}

fn start() -> DateTime<Utc> {
    "2025-09-15T19:00:00Z".parse().unwrap()
}

/// Replays `input` and returns the JSON reports in window order.
fn replay(dir: &Path, input: &Path) -> Vec<WindowReport> {
    let out = dir.join(format!(
        "out-{}",
        input.file_name().unwrap().to_string_lossy()
    ));
    let run = bin()
        .arg("replay")
        .arg(input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    read_reports(&out)
}

/// `entries` in a random order (Fisher–Yates, seeded).
fn shuffled<T: Clone>(entries: &[T], seed: u64) -> Vec<T> {
    let mut v = entries.to_vec();
    let mut rng = synth::Rng::new(seed);
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
    v
}

fn read_reports(out: &Path) -> Vec<WindowReport> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

#[test]
fn every_kind_is_one_cluster_with_its_exact_count_and_priority() {
    let dir = tempfile::tempdir().unwrap();
    let entries = synth::generate(start(), 2, 42);
    let input = dir.path().join("export.json");
    std::fs::write(&input, synth::gcloud_export(&entries)).unwrap();
    let reports = replay(dir.path(), &input);
    assert_eq!(reports.len(), 2, "two hours → two windows");
    for (hour, r) in reports.iter().enumerate() {
        assert_eq!(
            r.window.start,
            start() + chrono::TimeDelta::hours(hour as i64)
        );
        for kind in KINDS {
            let matching: Vec<_> = r
                .clusters
                .iter()
                .filter(|c| c.template.contains(kind.marker))
                .collect();
            assert_eq!(
                matching.len(),
                1,
                "hour {hour}, {}: clusters {:#?}",
                kind.name,
                matching.iter().map(|c| &c.template).collect::<Vec<_>>()
            );
            let c = matching[0];
            assert_eq!(
                c.count,
                u64::from(kind.per_hour),
                "hour {hour}, {}: {}",
                kind.name,
                c.template
            );
            assert_eq!(
                c.priority.as_str(),
                kind.expected_priority,
                "hour {hour}, {}: {}",
                kind.name,
                c.reason
            );
            assert_eq!(c.severity.as_str(), kind.severity, "{}", kind.name);
            let sample = c
                .sample
                .as_ref()
                .expect("every cluster quotes a real entry");
            assert_eq!(sample["severity"], kind.severity);
            assert_eq!(
                c.new,
                hour == 0,
                "{} is new only in its first window",
                kind.name
            );
        }
        assert_eq!(
            r.clusters.len(),
            KINDS.len(),
            "no stray clusters: {:#?}",
            r.clusters.iter().map(|c| &c.template).collect::<Vec<_>>()
        );
        assert_eq!(
            r.totals.entries,
            KINDS.iter().map(|k| u64::from(k.per_hour)).sum::<u64>()
        );
    }
}

#[test]
fn the_order_of_the_input_does_not_change_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let entries = synth::generate(start(), 2, 7);
    let newest_first = dir.path().join("a.json");
    std::fs::write(&newest_first, synth::gcloud_export(&entries)).unwrap();
    let oldest_first = dir.path().join("b.jsonl");
    std::fs::write(&oldest_first, synth::json_lines(&entries)).unwrap();
    let shuffled = shuffled(&entries, 99);
    let mixed = dir.path().join("c.jsonl");
    std::fs::write(&mixed, synth::json_lines(&shuffled)).unwrap();
    let a = replay(dir.path(), &newest_first);
    assert_eq!(a, replay(dir.path(), &oldest_first));
    assert_eq!(a, replay(dir.path(), &mixed));
}

/// A file or a pipe larger than `input.slice_bytes` is read a slice of event time at a time,
/// closing windows as it goes: the worklogs are those of reading it whole, in any order, with
/// split tracebacks across the cuts and lines that are not entries.
#[test]
fn a_file_or_pipe_read_in_slices_gives_the_worklogs_of_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let entries = synth::incidents::incident_hours(start(), 12, 11);
    let newest_first = dir.path().join("newest.json");
    std::fs::write(&newest_first, synth::gcloud_export(&entries)).unwrap();
    let mixed = dir.path().join("mixed.jsonl");
    let text = synth::json_lines(&shuffled(&entries, 3));
    std::fs::write(&mixed, format!("not json\n{text}[1, 2]\n")).unwrap();
    let whole = replay(dir.path(), &newest_first);
    assert_eq!(whole.len(), 12);
    let size = std::fs::metadata(&newest_first).unwrap().len();
    let slice = (size / 12).to_string();
    for (input, piped) in [&newest_first, &mixed]
        .into_iter()
        .flat_map(|i| [(i, false), (i, true)])
    {
        let out = dir.path().join("sliced");
        let _ = std::fs::remove_dir_all(&out);
        let mut command = bin();
        command.args(["replay", "--out"]).arg(&out);
        if piped {
            command.arg("-").stdin(std::fs::File::open(input).unwrap());
        } else {
            command.arg(input);
        }
        let run = command
            .env("LOG_GARDENER__INPUT__SLICE_BYTES", &slice)
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stderr}");
        assert!(
            stderr.contains("a slice of event time at a time"),
            "{stderr}"
        );
        let mut sliced = read_reports(&out);
        if input == &mixed {
            let m = &sliced[0].malformed;
            assert_eq!(
                (m.total, m.by_reason.get("not_json")),
                (3, Some(&1)),
                "{m:?}"
            );
            sliced[0].malformed = whole[0].malformed.clone();
        }
        assert_eq!(sliced, whole, "{} piped: {piped}", input.display());
    }
}

#[test]
fn bad_input_is_counted_and_reported_with_its_line_never_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let good = synth::json_lines(&synth::generate(start(), 1, 3)[..5]);
    let text = format!("{good}this is not json\n{{\"no\": \"timestamp\"}}\n[1,2]\n");
    let input = dir.path().join("mixed.jsonl");
    std::fs::write(&input, text).unwrap();
    let reports = replay(dir.path(), &input);
    let m = &reports[0].malformed;
    // `[1,2]` is an array: each of its two elements is read, and neither is an entry.
    assert_eq!(m.total, 4);
    let lines: Vec<&str> = m
        .examples
        .iter()
        .map(|e| e.location.rsplit(':').next().unwrap())
        .collect();
    assert_eq!(lines, ["6", "7", "8", "8"]);
    assert_eq!(reports[0].totals.entries, 5);
}

#[test]
fn the_markdown_worklog_has_the_seed_sections_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.json");
    std::fs::write(
        &input,
        synth::gcloud_export(&synth::generate(start(), 1, 5)),
    )
    .unwrap();
    let out = dir.path().join("w");
    let run = bin()
        .arg("replay")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success());
    let md = std::fs::read_to_string(out.join("2025-09-15T200000Z.md")).unwrap();
    #[cfg(unix)]
    {
        // The mode any file gets under the umask the binary inherits (not the temp file's 0600):
        // readable by whoever publishes the worklogs.
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        std::fs::write(dir.path().join("ordinary"), b"").unwrap();
        for name in ["2025-09-15T200000Z.md", "2025-09-15T200000Z.json"] {
            assert_eq!(
                mode(&out.join(name)),
                mode(&dir.path().join("ordinary")),
                "{name}"
            );
        }
    }
    for section in [
        "**P0: ",
        "## Summary",
        "## Other problems",
        "**Sample entry**",
        "**Related modules**",
        "## Noise",
        "## Action Plan",
    ] {
        assert!(md.contains(section), "missing {section}");
    }
    assert!(
        md.find("[P0]").unwrap() < md.find("| P4 |").unwrap(),
        "problems first, noise last"
    );
    assert!(!md.contains("@example.com"), "emails are redacted");
    assert!(!md.contains("sess_"), "session ids are redacted");
    let json: Value =
        serde_json::from_slice(&std::fs::read(out.join("2025-09-15T200000Z.json")).unwrap())
            .unwrap();
    assert_eq!(json["schema"], "log-gardener/window-report/v1");
}

#[test]
fn exit_codes_are_the_documented_ones() {
    let dir = tempfile::tempdir().unwrap();
    let missing = bin()
        .args(["replay", "/nonexistent/export.json"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/export.json"));
    let bad_config = dir.path().join("bad.toml");
    std::fs::write(&bad_config, "[window]\nhop = \"7m\"\n").unwrap();
    let cfg = bin().arg("check-config").arg(&bad_config).output().unwrap();
    assert_eq!(cfg.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&cfg.stderr).contains("window.hop"));
    let ok = bin()
        .args(["check-config", "config/default.toml"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// Two unrelated errors on one busy instance, each twenty times an hour at random: they meet
/// in a few 10-second slots by chance, and stay two problems. An error each time followed by
/// the container's exit is one incident (a crash loop), on the same instance in the same hours.
#[test]
fn errors_that_meet_by_chance_stay_apart_and_a_cause_with_its_exit_is_one_incident() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = synth::Rng::new(17);
    let mut entries = Vec::new();
    let entry = |at: DateTime<Utc>, severity: &str, text: &str, n: usize| {
        serde_json::json!({
            "insertId": format!("e{n}"),
            "timestamp": at.to_rfc3339(),
            "severity": severity,
            "textPayload": text,
            "resource": {"type": "cloud_run_revision", "labels": {
                "service_name": "billing", "revision_name": "billing-00042-abc"}},
            "labels": {"instanceId": "0069c7a9f3c2d1e0b4a5968778695a4b3c2d1e0f"},
        })
    };
    for hour in 0..2i64 {
        for i in 0..20 {
            let at = |s: u64| start() + chrono::TimeDelta::seconds(hour * 3600 + s as i64);
            let n = entries.len();
            entries.push(entry(
                at(rng.below(3590)),
                "ERROR",
                &format!(
                    "Invoice PDF render failed for invoice {}: font not found",
                    1000 + i
                ),
                n,
            ));
            entries.push(entry(
                at(rng.below(3590)),
                "ERROR",
                &format!(
                    "Webhook delivery to partner {} failed: HTTP 410 Gone",
                    2000 + i
                ),
                n + 1,
            ));
        }
        for i in 0..4u64 {
            let s = 300 + 800 * i;
            let at = |d: u64| start() + chrono::TimeDelta::seconds(hour * 3600 + (s + d) as i64);
            let n = entries.len();
            entries.push(entry(
                at(0),
                "CRITICAL",
                "Cannot start: REDIS_URL is not set",
                n,
            ));
            entries.push(entry(at(1), "ERROR", "Container called exit(3).", n + 1));
        }
    }
    let input = dir.path().join("busy.jsonl");
    // An outage from :30 on, through the next hour, on another instance: the database error
    // and the failed request every few seconds, in nearly every slot, where meeting says
    // nothing about chance. It stays one incident in both hours.
    let mut s = 1800u64;
    while s < 7200 {
        let at = start() + chrono::TimeDelta::seconds(s as i64);
        let n = entries.len();
        let mut e = entry(
            at,
            "ERROR",
            "connection to server at 10.1.2.3 failed: Connection refused",
            n,
        );
        e["labels"]["instanceId"] = "00aa".repeat(10).into();
        entries.push(e);
        let mut e = entry(
            at + chrono::TimeDelta::milliseconds(40),
            "ERROR",
            "Order lookup failed for the request: database unreachable",
            n + 1,
        );
        e["labels"]["instanceId"] = "00aa".repeat(10).into();
        entries.push(e);
        s += 2 + rng.below(7);
    }
    let entries: Vec<(&str, serde_json::Value)> = entries.into_iter().map(|e| ("", e)).collect();
    std::fs::write(&input, synth::json_lines(&entries)).unwrap();
    let reports = replay(dir.path(), &input);
    let templates = |i: &log_gardener::report::IncidentReport| -> Vec<String> {
        i.members.iter().map(|m| m.template.clone()).collect()
    };
    let incidents: Vec<Vec<String>> = reports
        .iter()
        .flat_map(|r| r.incidents.iter().map(templates))
        .collect();
    assert!(
        incidents
            .iter()
            .all(|members| !(members.iter().any(|m| m.contains("Invoice"))
                && members.iter().any(|m| m.contains("Webhook")))),
        "two unrelated errors were made one incident: {incidents:#?}"
    );
    let crash = reports
        .iter()
        .flat_map(|r| &r.incidents)
        .find(|i| i.title.contains("REDIS_URL"))
        .unwrap_or_else(|| panic!("no incident headed by the cause: {incidents:#?}"));
    assert!(crash.crash_loop, "{crash:#?}");
    assert_eq!(crash.members.len(), 2, "{crash:#?}");
    for r in &reports {
        let tied = r.incidents.iter().any(|i| {
            let t = templates(i);
            t.iter().any(|m| m.contains("Connection refused"))
                && t.iter().any(|m| m.contains("Order lookup failed"))
        });
        assert!(
            tied,
            "the outage split in {}: {:#?}",
            r.window.start, r.incidents
        );
    }
}

/// A replay of labelled entries (`synth`'s generators): its reports, the problems an issue
/// is filed for (P3 and above), and which label each entry had.
struct Labelled {
    reports: Vec<WindowReport>,
    problems: Vec<log_gardener::sinks::github::Problem>,
    label: std::collections::HashMap<String, &'static str>,
}

impl Labelled {
    /// Writes `entries` to `dir/name` as a `gcloud` export and replays it.
    fn replay(dir: &Path, name: &str, entries: &[(&'static str, Value)]) -> Labelled {
        let input = dir.join(name);
        std::fs::write(&input, synth::gcloud_export(entries)).unwrap();
        let reports = replay(dir, &input);
        let problems = reports
            .iter()
            .flat_map(|r| {
                log_gardener::sinks::github::pending(r, log_gardener::escalate::Priority::P3)
            })
            .map(|p| p.problem)
            .collect();
        let label = entries
            .iter()
            .map(|(k, e)| (e["insertId"].as_str().unwrap().to_owned(), *k))
            .collect();
        Labelled {
            reports,
            problems,
            label,
        }
    }

    /// The label of a report's sample entry.
    fn of(&self, sample: Option<&Value>) -> Option<&'static str> {
        let id = sample.and_then(|s| s["insertId"].as_str())?;
        self.label.get(id).copied()
    }
}

/// The failure scenarios of `synth --incidents`, as an on-call engineer would file them: each
/// is at most a few issues, the most urgent at the priority they page at and headed by the
/// root cause — in any input order.
#[test]
fn each_failure_scenario_is_few_issues_headed_by_its_root_cause() {
    use log_gardener::synth::incidents::{incident_hours, Scenario};

    let dir = tempfile::tempdir().unwrap();
    let entries = incident_hours(start(), 1, 11);
    let run = Labelled::replay(dir.path(), "incidents.json", &entries);
    let reports = &run.reports;
    for scenario in Scenario::ALL {
        let want = scenario.expected();
        let mut mine: Vec<_> = run
            .problems
            .iter()
            .filter(|p| run.of(p.sample.as_ref()) == Some(scenario.label()))
            .collect();
        mine.sort_by_key(|p| p.priority);
        let titles: Vec<_> = mine
            .iter()
            .map(|p| format!("{} {}", p.priority, p.template))
            .collect();
        assert!(
            !mine.is_empty() && mine.len() <= want.max_issues,
            "{scenario:?}: {titles:#?}"
        );
        assert_eq!(mine[0].priority.as_str(), want.priority, "{titles:#?}");
        assert!(
            mine[0].template.contains(want.headline),
            "{scenario:?} is headed by {:?}",
            mine[0].template
        );
    }

    let shuffled = shuffled(&entries, 5);
    let mixed = dir.path().join("shuffled.jsonl");
    std::fs::write(&mixed, synth::json_lines(&shuffled)).unwrap();
    let again = replay(dir.path(), &mixed);
    assert_eq!(
        reports.iter().map(|r| &r.incidents).collect::<Vec<_>>(),
        again.iter().map(|r| &r.incidents).collect::<Vec<_>>(),
        "the same incidents in any input order"
    );
}

/// Tracebacks Cloud Run split one line per entry, in the shapes runtimes print when they die:
/// a Go panic, Node's uncaught exception with its source preamble and version trailer, a
/// chained Python trace whose root message spans three lines (psycopg2). Two instances write
/// each at the same moment, their lines interleaved; the export is newest first. Each shape is
/// one cluster headed by its root cause, with one entry per traceback and no fragment left.
#[test]
fn split_go_node_and_multiline_python_traces_are_one_cluster_each() {
    const GO: &[&str] = &[
        "panic: runtime error: invalid memory address or nil pointer dereference",
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6f2b1d]",
        "",
        "goroutine 41 [running]:",
        "github.com/acme/shipper/internal/rates.(*Client).Quote(0x0, {0x8b1e40, 0xc0001a2000})",
        "\t/src/internal/rates/client.go:57 +0x1d",
        "main.main()",
        "\t/src/main.go:20 +0x25",
        "created by net/http.(*Server).Serve in goroutine 1",
        "\t/usr/local/go/src/net/http/server.go:3285 +0x4b4",
        "exit status 2",
    ];
    const NODE: &[&str] = &[
        "/app/src/routes/checkout.js:42",
        "    const id = session.user.id;",
        "                            ^",
        "",
        "TypeError: Cannot read properties of undefined (reading 'id')",
        "    at /app/src/routes/checkout.js:42:29",
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
        "",
        "Node.js v20.11.0",
    ];
    const PYTHON: &[&str] = &[
        "Traceback (most recent call last):",
        "  File \"/usr/local/lib/python3.11/site-packages/psycopg2/__init__.py\", line 122, in connect",
        "psycopg2.OperationalError: could not connect to server: Connection timed out",
        "\tIs the server running on host \"10.20.0.3\" and accepting",
        "\tTCP/IP connections on port 5432?",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        "  File \"/app/orders/jobs.py\", line 23, in sync_inventory",
        "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) could not connect to server",
        "(Background on this error at: https://sqlalche.me/e/20/e3q8)",
    ];
    let shapes = [
        (
            "shipper",
            GO,
            "panic: runtime error: invalid memory address",
        ),
        (
            "checkout",
            NODE,
            "TypeError: Cannot read properties of undefined",
        ),
        (
            "orders",
            PYTHON,
            "psycopg2.OperationalError: could not connect to server",
        ),
    ];
    let mut entries = Vec::new();
    for (s, (service, lines, _)) in shapes.iter().enumerate() {
        for k in 0..6i64 {
            let at = start() + chrono::TimeDelta::seconds(60 + 120 * k + 20 * s as i64);
            for (n, instance) in ["00aa11", "00bb22"].iter().enumerate() {
                for (i, text) in lines.iter().enumerate() {
                    let t = at + chrono::TimeDelta::microseconds(40 * i as i64 + 7 * n as i64);
                    entries.push(serde_json::json!({
                        "insertId": format!("{service}-{k}-{instance}-{i:02}"),
                        "timestamp": t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                        "logName": "projects/acme/logs/run.googleapis.com%2Fstderr",
                        "resource": {"type": "cloud_run_revision",
                            "labels": {"service_name": service, "revision_name": format!("{service}-00017")}},
                        "labels": {"instanceId": instance},
                        "textPayload": text,
                    }));
                }
            }
        }
    }
    entries.reverse();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("split.jsonl");
    let text: String = entries.iter().map(|e| e.to_string() + "\n").collect();
    std::fs::write(&input, text).unwrap();
    let reports = replay(dir.path(), &input);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    let templates: Vec<_> = r.clusters.iter().map(|c| &c.template).collect();
    assert_eq!(r.clusters.len(), shapes.len(), "{templates:#?}");
    for (_, _, headline) in shapes {
        let c = r.clusters.iter().find(|c| c.template.starts_with(headline));
        let c = c.unwrap_or_else(|| panic!("no cluster headed {headline:?}: {templates:#?}"));
        assert_eq!(c.count, 12, "{}", c.template);
    }
    assert_eq!(r.totals.entries, 36);
}

/// The shapes of `synth --shapes`, filed as an on-call engineer would: a scanner's CRITICAL
/// finding is data and pages no one; Node's unhandled rejection, a Python exception group and
/// a load balancer's 502s are each one issue titled by what went wrong; thirty unrelated
/// errors on one instance stay thirty problems, tied into no incident; an upstream's 503s and
/// 404s are two issues, the 503s more urgent; a Docker `log` line is titled by its text; Cloud
/// Run 503s that reached no instance are the consequence of their revision's crash loop, in
/// its issue, and their own issue where the revision does not crash.
#[test]
fn each_shape_is_filed_as_an_on_call_engineer_would() {
    use log_gardener::synth::shapes::{shape_hours, Shape};

    let dir = tempfile::tempdir().unwrap();
    for seed in [3, 11] {
        let entries = shape_hours(start(), 1, seed);
        let run = Labelled::replay(dir.path(), &format!("shapes-{seed}.json"), &entries);
        let (reports, of) = (&run.reports, |s: Option<&Value>| run.of(s));
        for shape in Shape::ALL {
            let want = shape.expected();
            let mut mine: Vec<_> = run
                .problems
                .iter()
                .filter(|p| of(p.sample.as_ref()) == Some(shape.label()))
                .collect();
            mine.sort_by_key(|p| p.priority);
            let titles: Vec<_> = mine
                .iter()
                .map(|p| format!("{} {}", p.priority, p.template))
                .collect();
            assert!(mine.len() <= want.max_issues, "{shape:?}: {titles:#?}");
            if let Some(headline) = want.headline {
                assert!(!mine.is_empty(), "{shape:?} filed nothing");
                assert!(
                    mine[0].template.contains(headline),
                    "{shape:?} is headed by {titles:#?}"
                );
            }
            if let Some(below) = want.below {
                assert!(
                    mine.iter()
                        .any(|p| p.template.contains(below) && p.priority > mine[0].priority),
                    "{shape:?}: no `{below}` filed below the headline: {titles:#?}"
                );
            }
            if let Some(never) = want.not_in_title {
                assert!(
                    mine.iter().all(|p| !p.template.contains(never)),
                    "{shape:?}: {titles:#?}"
                );
            }
            let clusters = reports.iter().flat_map(|r| &r.clusters);
            for c in clusters.filter(|c| of(c.sample.as_ref()) == Some(shape.label())) {
                assert!(
                    c.priority.as_str() >= want.at_most,
                    "{shape:?}: {} {}",
                    c.priority,
                    c.template
                );
            }
        }
        let busy: std::collections::BTreeSet<_> = reports
            .iter()
            .flat_map(|r| &r.clusters)
            .filter(|c| of(c.sample.as_ref()) == Some(Shape::BusyInstance.label()))
            .map(|c| c.id)
            .collect();
        assert!(busy.len() >= 20, "{} busy clusters", busy.len());
        // The 503s of requests that reached no instance of the crash-looping revision are in
        // the crash's issue, as its consequence.
        let crash_loop = Shape::CrashLoop503s.label();
        let crash_issue = run
            .problems
            .iter()
            .find(|p| of(p.sample.as_ref()) == Some(crash_loop))
            .expect("the crash loop is filed");
        let failed: Vec<_> = reports
            .iter()
            .flat_map(|r| &r.clusters)
            .filter(|c| of(c.sample.as_ref()) == Some(crash_loop))
            .filter(|c| c.template.starts_with("The request failed because"))
            .collect();
        assert!(!failed.is_empty(), "seed {seed}: no 503 cluster");
        let incident = reports
            .iter()
            .flat_map(|r| &r.incidents)
            .find(|i| i.id.to_string() == crash_issue.id.0)
            .expect("the crash loop's issue is an incident");
        assert!(incident.crash_loop, "{incident:#?}");
        for c in failed {
            assert!(
                incident.members[1..].iter().any(|m| m.cluster == c.id),
                "seed {seed}: {} is not a consequence in the crash's issue {incident:#?}",
                c.template
            );
        }
        for i in reports.iter().flat_map(|r| &r.incidents) {
            let tied = i.members.iter().filter(|m| busy.contains(&m.cluster));
            assert!(
                tied.count() < 2,
                "seed {seed}: chance made an incident: {i:#?}"
            );
        }
    }
}
