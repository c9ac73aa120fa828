//! Real failure shapes, as a Python backend on Cloud Run writes them: a crash loop (a module
//! missing at startup: a chained traceback in chunks on each new instance, gunicorn's lines at
//! DEFAULT severity, the container exit), a database outage cascade (the timeout, the driver's
//! error split per line, startup giving up, exits, the platform's failed requests), an upstream
//! 503 burst (request logs that share traces with the app's error), and the usual background.
//! Tests know what an on-call engineer concludes from each: [`Scenario::expected`].

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::{resource, rfc3339, Rng};

/// One failure scenario of [`incident_hours`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    CrashLoop,
    DatabaseOutage,
    Upstream503,
}

/// What a correct run concludes about a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    /// The most urgent priority of its issues (P0 or P1 for a crash loop, P0 for an outage).
    pub priority: &'static str,
    /// Text the headline (the root cause's title) must contain.
    pub headline: &'static str,
    /// At most this many issues for the scenario.
    pub max_issues: usize,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [
        Scenario::CrashLoop,
        Scenario::DatabaseOutage,
        Scenario::Upstream503,
    ];

    /// The label [`incident_hours`] gives the scenario's entries.
    pub fn label(self) -> &'static str {
        match self {
            Scenario::CrashLoop => "crash-loop",
            Scenario::DatabaseOutage => "database-outage",
            Scenario::Upstream503 => "upstream-503",
        }
    }

    pub fn expected(self) -> Expected {
        match self {
            Scenario::CrashLoop => Expected {
                priority: "P0",
                headline: "No module named 'netra_backend.app.services.monitoring'",
                max_issues: 4,
            },
            Scenario::DatabaseOutage => Expected {
                priority: "P0",
                headline: "connection to server",
                max_issues: 1,
            },
            Scenario::Upstream503 => Expected {
                priority: "P2",
                headline: "agent-service",
                max_issues: 2,
            },
        }
    }
}

/// The service the scenarios run as (a revision of the backend).
const REVISION: &str = "netra-backend-staging-00312-xk4";

/// Builds entries of one instance and stream.
struct Writer<'a> {
    rng: &'a mut Rng,
    instance: String,
    out: &'a mut Vec<Value>,
}

impl Writer<'_> {
    fn entry(&mut self, at: DateTime<Utc>, severity: Option<&str>, log: &str) -> Value {
        let mut r = resource();
        r["labels"]["revision_name"] = json!(REVISION);
        let mut e = json!({
            "insertId": self.rng.hex(16),
            "resource": r,
            "timestamp": rfc3339(at),
            "labels": {"instanceId": self.instance},
            "logName": format!("projects/netra-staging/logs/run.googleapis.com%2F{log}"),
            "receiveTimestamp": rfc3339(at + TimeDelta::milliseconds(150)),
        });
        if let Some(s) = severity {
            e["severity"] = json!(s);
        }
        e
    }

    /// A line of text on `log` (stdout, stderr, varlog/system).
    fn text(&mut self, at: DateTime<Utc>, severity: Option<&str>, log: &str, text: &str) {
        let mut e = self.entry(at, severity, log);
        e["textPayload"] = json!(text);
        self.out.push(e);
    }

    /// A structured application log line.
    fn app(&mut self, at: DateTime<Utc>, severity: &str, module: &str, function: &str, msg: &str) {
        let mut e = self.entry(at, Some(severity), "stdout");
        e["jsonPayload"] = json!({
            "message": msg,
            "context": {"name": module, "service": "netra-service"},
            "labels": {"function": function, "line": "41", "module": module},
        });
        self.out.push(e);
    }

    /// A request log.
    fn request(&mut self, at: DateTime<Utc>, severity: &str, path: &str, status: u16, trace: &str) {
        let mut e = self.entry(at, Some(severity), "requests");
        e["httpRequest"] = json!({"requestMethod": "GET",
            "requestUrl": format!("https://api.staging.netrasystems.ai{path}"), "status": status,
            "latency": "0.052s", "protocol": "HTTP/1.1"});
        e["trace"] = json!(trace);
        self.out.push(e);
    }
}

fn us(t: DateTime<Utc>, micros: i64) -> DateTime<Utc> {
    t + TimeDelta::microseconds(micros)
}

/// One start of a container whose worker cannot import a module: gunicorn boots, the import
/// fails with a chained traceback written in five chunks within 100 µs, the worker fails to
/// boot, the master shuts down, the container exits.
fn crash(w: &mut Writer<'_>, at: DateTime<Utc>) {
    let module = "netra_backend.app.services.monitoring";
    w.text(
        at,
        None,
        "stdout",
        "[2025-09-15 19:00:00 +0000] [1] [INFO] Starting gunicorn 21.2.0",
    );
    w.text(
        us(at, 900),
        None,
        "stdout",
        "[2025-09-15 19:00:00 +0000] [7] [INFO] Booting worker with pid: 7",
    );
    let t = at + TimeDelta::milliseconds(800);
    let chunks = [
        "Traceback (most recent call last):\n  File \"/app/netra_backend/app/core/middleware_setup.py\", line 41, in setup_middleware\n    from netra_backend.app.services.monitoring import MetricsMiddleware".to_owned(),
        format!("ModuleNotFoundError: No module named '{module}'"),
        "\nDuring handling of the above exception, another exception occurred:\n".to_owned(),
        "Traceback (most recent call last):\n  File \"/app/netra_backend/app/main.py\", line 88, in create_app\n    setup_middleware(app)\n  File \"/app/netra_backend/app/core/middleware_setup.py\", line 47, in setup_middleware\n    raise RuntimeError(f\"Failed to setup enhanced middleware: {e}\")".to_owned(),
        format!("RuntimeError: Failed to setup enhanced middleware: No module named '{module}'"),
    ];
    for (i, c) in chunks.iter().enumerate() {
        w.text(us(t, 20 * i as i64), Some("ERROR"), "stderr", c);
    }
    let m = "netra_backend.app.core.middleware_setup";
    w.app(
        us(t, 300),
        "ERROR",
        m,
        "setup_middleware",
        &format!("Middleware setup failure details: No module named '{module}'"),
    );
    w.app(
        us(t, 400),
        "CRITICAL",
        m,
        "setup_middleware",
        &format!("CRITICAL: Enhanced middleware setup failed: No module named '{module}'"),
    );
    let boot = at + TimeDelta::milliseconds(1200);
    w.text(
        boot,
        None,
        "stdout",
        "[2025-09-15 19:00:01 +0000] [7] [ERROR] Worker failed to boot.",
    );
    w.text(
        us(boot, 500),
        None,
        "stdout",
        "[2025-09-15 19:00:01 +0000] [1] [INFO] Shutting down: Master",
    );
    w.text(
        us(boot, 900),
        None,
        "stdout",
        "[2025-09-15 19:00:01 +0000] [1] [INFO] Reason: Worker failed to boot.",
    );
    w.text(
        boot + TimeDelta::milliseconds(300),
        Some("WARNING"),
        "varlog%2Fsystem",
        "Container called exit(3).",
    );
}

/// One start of an instance while the database is down.
fn outage(w: &mut Writer<'_>, at: DateTime<Utc>, trace: &str) {
    let smd = "netra_backend.app.smd";
    let socket = "/cloudsql/netra-staging:us-central1:staging-shared-postgres/.s.PGSQL.5432";
    w.app(at, "ERROR", "netra_backend.app.db.migrations", "run_migrations", &format!(
        "Failed to run migrations: (psycopg2.OperationalError) connection to server on socket \"{socket}\" failed: Connection refused"));
    let lines = [
        "Traceback (most recent call last):".to_owned(),
        "  File \"/app/netra_backend/app/smd.py\", line 1012, in wait_for_database".to_owned(),
        "    await asyncio.wait_for(engine.connect(), timeout=20.0)".to_owned(),
        format!("psycopg2.OperationalError: connection to server on socket \"{socket}\" failed: Connection refused"),
    ];
    let t = at + TimeDelta::milliseconds(500);
    for (i, l) in lines.iter().enumerate() {
        w.text(us(t, 15 * i as i64), Some("ERROR"), "stderr", l);
    }
    let late = at + TimeDelta::seconds(3);
    w.app(
        late,
        "WARNING",
        "netra_backend.app.db.migrations",
        "run_migrations",
        "Continuing without migrations",
    );
    w.app(us(late, 10), "ERROR", smd, "_initialize_database",
        "Database initialization timeout after 20.0s in staging environment. This may indicate Cloud SQL connection issues. Check POSTGRES_HOST configuration and Cloud SQL instance accessibility.");
    w.app(
        us(late, 20),
        "CRITICAL",
        smd,
        "run_phases",
        "FAIL: PHASE FAILED: DATABASE - Database initialization timeout after 20.0s",
    );
    w.app(us(late, 30), "ERROR", "netra_backend.app.middleware.session", "startup",
        "uvicorn-compatible session middleware error: CRITICAL STARTUP FAILURE: Database initialization timeout after 20.0s");
    w.text(
        us(late, 900),
        Some("ERROR"),
        "stdout",
        "Application startup failed. Exiting.",
    );
    w.text(
        late + TimeDelta::milliseconds(400),
        Some("WARNING"),
        "varlog%2Fsystem",
        "Container called exit(1).",
    );
    let failed = late + TimeDelta::milliseconds(600);
    let mut e = w.entry(failed, Some("ERROR"), "requests");
    e["textPayload"] = json!("The request failed because either the HTTP response was malformed or connection to the instance had an error. Additional troubleshooting documentation can be found at: https://cloud.google.com/run/docs/troubleshooting#malformed-response-or-connection-error");
    e["httpRequest"] = json!({"requestMethod": "GET", "requestUrl": "https://api.staging.netrasystems.ai/health", "status": 503});
    e["trace"] = json!(trace);
    w.out.push(e);
}

/// A burst of 503s from an upstream, the app's error and the request logs sharing a trace.
fn upstream(w: &mut Writer<'_>, at: DateTime<Utc>, trace: &str) {
    let id = w.rng.hex(8);
    w.request(
        at,
        "ERROR",
        &format!("/api/threads/{id}/messages"),
        503,
        trace,
    );
    let mut e = w.entry(us(at, 3000), Some("ERROR"), "stdout");
    e["jsonPayload"] = json!({"message": format!(
        "Upstream call failed: agent-service returned 503 Service Unavailable for request {}", w.rng.hex(12)),
        "context": {"name": "netra_backend.app.clients.agent", "service": "netra-service"}});
    e["trace"] = json!(trace);
    w.out.push(e);
}

/// `hours` of the background (see [`super::generate`]) with the three scenarios in the first
/// hour: the crash loop from :05 (a new instance every two minutes, ten times), the outage at
/// :30 (two instances retrying, eight times), the 503 burst at :50 (40 requests in 3 minutes).
/// In time order, deterministic for a seed.
pub fn incident_hours(start: DateTime<Utc>, hours: u32, seed: u64) -> Vec<(&'static str, Value)> {
    let mut out: Vec<(&'static str, Value)> = super::generate(start, hours, seed);
    let mut rng = Rng::new(seed ^ 0x5ce9_a210);
    let mut scenario = |name: &'static str, f: &mut dyn FnMut(&mut Rng, &mut Vec<Value>)| {
        let mut v = Vec::new();
        f(&mut rng, &mut v);
        out.extend(v.into_iter().map(|e| (name, e)));
    };
    scenario(Scenario::CrashLoop.label(), &mut |rng, v| {
        for i in 0..10 {
            let instance = format!("00f1c7a9{}", rng.hex(24));
            let mut w = Writer {
                rng,
                instance,
                out: v,
            };
            crash(&mut w, start + TimeDelta::seconds(300 + 120 * i));
        }
    });
    scenario(Scenario::DatabaseOutage.label(), &mut |rng, v| {
        let instances = [
            format!("00d8{}", rng.hex(28)),
            format!("00d9{}", rng.hex(28)),
        ];
        for i in 0..8i64 {
            let trace = format!("projects/netra-staging/traces/{}", rng.hex(32));
            let instance = instances[(i % 2) as usize].clone();
            let mut w = Writer {
                rng,
                instance,
                out: v,
            };
            outage(&mut w, start + TimeDelta::seconds(1800 + 45 * i), &trace);
        }
    });
    scenario(Scenario::Upstream503.label(), &mut |rng, v| {
        for i in 0..40i64 {
            let trace = format!("projects/netra-staging/traces/{}", rng.hex(32));
            let instance = format!("00a{}", ["1", "2", "3"][(i % 3) as usize].repeat(29));
            let mut w = Writer {
                rng,
                instance,
                out: v,
            };
            upstream(
                &mut w,
                start + TimeDelta::seconds(3000) + TimeDelta::milliseconds(4500 * i),
                &trace,
            );
        }
    });
    super::oldest_first(&mut out);
    out
}
