//! A generator of realistic Cloud Logging exports, modelled on the messages of the backend
//! whose hand-written worklogs log-gardener replaces: database timeouts, SSOT warnings,
//! session middleware noise, 405s on a beacon, CRITICAL auth trace lines, split tracebacks,
//! request logs. Ids, durations, users and times vary; the kinds and their rates do not, so
//! tests know what the clusters must be. Deterministic for a seed.

mod documents;
pub mod incidents;
mod platform;
pub mod secrets;
pub mod shapes;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

/// One kind of message the generator emits, with what a correct run must conclude about it.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub name: &'static str,
    /// Entries per hour.
    pub per_hour: u32,
    pub severity: &'static str,
    /// The priority the default rules must give it (at the rates above).
    pub expected_priority: &'static str,
    /// Text that its cluster's template must contain (and no other cluster's).
    pub marker: &'static str,
}

pub const KINDS: [Kind; 12] = [
    Kind {
        name: "db-init-timeout",
        per_hour: 15,
        severity: "ERROR",
        expected_priority: "P0",
        marker: "Database initialization timeout",
    },
    Kind {
        name: "queuepool-traceback",
        per_hour: 3,
        severity: "ERROR",
        expected_priority: "P0",
        marker: "QueuePool limit",
    },
    Kind {
        name: "ssot-violation",
        per_hour: 12,
        severity: "ERROR",
        expected_priority: "P2",
        marker: "SSOT Violation: Found",
    },
    Kind {
        name: "service-id-whitespace",
        per_hour: 8,
        severity: "WARNING",
        expected_priority: "P3",
        marker: "Service ID contains",
    },
    Kind {
        name: "startup-notice",
        per_hour: 6,
        severity: "NOTICE",
        expected_priority: "P4",
        marker: "Backend service starting",
    },
    Kind {
        name: "ssot-non-blocking",
        per_hour: 40,
        severity: "WARNING",
        expected_priority: "P4",
        marker: "SSOT validation issues",
    },
    Kind {
        name: "session-middleware",
        per_hour: 30,
        severity: "WARNING",
        expected_priority: "P4",
        marker: "Session access failed",
    },
    Kind {
        name: "async-engine-unavailable",
        per_hour: 2,
        severity: "WARNING",
        expected_priority: "P4",
        marker: "Async engine not available",
    },
    Kind {
        name: "beacon-405",
        per_hour: 5,
        severity: "WARNING",
        expected_priority: "P5",
        marker: "/ws/beacon",
    },
    Kind {
        name: "golden-path-auth",
        per_hour: 40,
        severity: "CRITICAL",
        expected_priority: "P4",
        marker: "GOLDEN PATH AUTH",
    },
    Kind {
        name: "thread-request-200",
        per_hour: 120,
        severity: "INFO",
        expected_priority: "P5",
        marker: "/api/threads/",
    },
    Kind {
        name: "user-login",
        per_hour: 10,
        severity: "INFO",
        expected_priority: "P4",
        marker: "logged in from",
    },
];

/// splitmix64: tiny, fast, and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn hex(&mut self, digits: usize) -> String {
        let s = format!("{:016x}{:016x}", self.next_u64(), self.next_u64());
        s[..digits.min(32)].to_owned()
    }
}

const SERVICE: &str = "netra-backend-staging";

/// `hours` hours of entries starting at `start`, in time order, each tagged with its kind.
pub fn generate(start: DateTime<Utc>, hours: u32, seed: u64) -> Vec<(&'static str, Value)> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for h in 0..hours {
        let hour = start + TimeDelta::hours(h.into());
        for kind in KINDS {
            for _ in 0..kind.per_hour {
                let at = hour + TimeDelta::milliseconds(rng.below(3_600_000) as i64);
                out.extend(
                    entries(kind, at, &mut rng)
                        .into_iter()
                        .map(|e| (kind.name, e)),
                );
            }
        }
    }
    out.sort_by(|a, b| a.1["timestamp"].as_str().cmp(&b.1["timestamp"].as_str()));
    out
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn resource() -> Value {
    json!({"type": "cloud_run_revision", "labels": {"project_id": "netra-staging", "service_name": SERVICE,
        "revision_name": "netra-backend-staging-00311-qz8", "configuration_name": SERVICE, "location": "us-central1"}})
}

fn base(at: DateTime<Utc>, severity: &str, rng: &mut Rng, log: &str) -> Value {
    json!({
        "insertId": rng.hex(16),
        "resource": resource(),
        "timestamp": rfc3339(at),
        "severity": severity,
        // A service runs on a few instances at a time.
        "labels": {"instanceId": format!("0069c7a9881c{}", ["a1", "b2", "c3"][rng.below(3) as usize].repeat(10))},
        "logName": format!("projects/netra-staging/logs/run.googleapis.com%2F{log}"),
        "receiveTimestamp": rfc3339(at + TimeDelta::milliseconds(120 + rng.below(400) as i64)),
    })
}

fn app_log(
    at: DateTime<Utc>,
    sev: &str,
    rng: &mut Rng,
    module: &str,
    function: &str,
    line: u32,
    message: String,
) -> Value {
    let mut e = base(at, sev, rng, "stdout");
    e["jsonPayload"] = json!({
        "context": {"name": module, "service": "netra-service"},
        "labels": {"function": function, "line": line.to_string(), "module": module},
        "message": message,
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Micros, false),
    });
    e
}

fn request(
    at: DateTime<Utc>,
    sev: &str,
    rng: &mut Rng,
    method: &str,
    path: &str,
    status: u16,
) -> Value {
    let mut e = base(at, sev, rng, "requests");
    e["httpRequest"] = json!({"requestMethod": method, "requestUrl": format!("https://api.staging.netrasystems.ai{path}"),
        "status": status, "responseSize": (200 + rng.below(900)).to_string(), "userAgent": "Mozilla/5.0",
        "remoteIp": format!("203.0.113.{}", rng.below(250)), "latency": format!("0.{:06}s", rng.below(999_999)), "protocol": "HTTP/1.1"});
    e["trace"] = json!(format!("projects/netra-staging/traces/{}", rng.hex(32)));
    e
}

fn entries(kind: Kind, at: DateTime<Utc>, rng: &mut Rng) -> Vec<Value> {
    let sev = kind.severity;
    let one = |v: Value| vec![v];
    match kind.name {
        "db-init-timeout" => {
            let secs = ["25.0", "30.0", "12.5", "8.0"][rng.below(4) as usize];
            one(app_log(at, sev, rng, "netra_backend.app.smd", "_initialize_database", 1017, format!(
                "Database initialization timeout after {secs}s in staging environment. This may indicate Cloud SQL connection issues. Check POSTGRES_HOST configuration and Cloud SQL instance accessibility.")))
        }
        "queuepool-traceback" => traceback(at, rng),
        "ssot-violation" => {
            let n = 2 + rng.below(12);
            one(app_log(at, sev, rng, "netra_backend.app.websocket_core.manager", "__init__", 45, format!(
                "SSOT Violation: Found {n} different WebSocket Manager classes. Expected single source of truth.")))
        }
        "service-id-whitespace" => one(app_log(at, sev, rng, "netra_backend.app.logging_config", "configure_logging", 89,
            "Service ID contains leading/trailing whitespace: ' netra-backend-staging '. This may cause service discovery issues.".into())),
        "startup-notice" => one(app_log(at, sev, rng, "netra_backend.app.main", "startup_sequence", 234,
            "Backend service starting in staging environment with configuration validation enabled.".into())),
        "ssot-non-blocking" => {
            let user = format!("demo-user-{:03}", 1 + rng.below(40));
            one(app_log(at, sev, rng, "netra_backend.app.websocket_core.ssot_validation_enhancer", "validate_manager_creation", 137, format!(
                "SSOT validation issues (non-blocking): ['Multiple manager instances for user {user} - potential duplication']")))
        }
        "session-middleware" => {
            let mut e = base(at, sev, rng, "stdout");
            e["jsonPayload"] = json!({"labels": {"function": "callHandlers", "line": "1706", "module": "logging"},
                "message": "Session access failed (middleware not installed?): SessionMiddleware must be installed to access request.session"});
            one(e)
        }
        "async-engine-unavailable" => one(app_log(at, sev, rng, "netra_backend.app.db.index_optimizer_core", "log_engine_unavailable", 60,
            "Async engine not available, skipping index creation".into())),
        "beacon-405" => one(request(at, sev, rng, "POST", "/ws/beacon", 405)),
        "golden-path-auth" => {
            let conn = format!("main_{}", rng.hex(8));
            one(app_log(at, sev, rng, "netra_backend.app.routes.websocket_ssot", "_handle_main_mode", 748, format!(
                "[🔑] GOLDEN PATH AUTH=REDACTED permissive authentication with circuit breaker for connection {conn} - user_id: pending, connection_state: connected, timestamp: {}",
                at.to_rfc3339_opts(SecondsFormat::Micros, false))))
        }
        "thread-request-200" => {
            let path = format!("/api/threads/{}-{}-4{}-a{}-{}", rng.hex(8), rng.hex(4), rng.hex(3), rng.hex(3), rng.hex(12));
            one(request(at, sev, rng, "GET", &path, 200))
        }
        _ => {
            let (user, ip) = (format!("user{}@example.com", rng.below(500)), format!("198.51.100.{}", rng.below(250)));
            let session = rng.hex(24);
            one(app_log(at, sev, rng, "netra_backend.app.auth.session", "login", 212, format!(
                "User {user} logged in from {ip} with session=sess_{session}")))
        }
    }
}

/// A SQLAlchemy pool timeout, written to stderr one line per entry as Cloud Run does.
/// A chained Python traceback as Cloud Run writes it: one entry per stderr line, the empty
/// lines around the chain phrase included, 12 µs apart on one instance.
fn traceback(at: DateTime<Utc>, rng: &mut Rng) -> Vec<Value> {
    let instance = format!("0069c7a9881c{}", rng.hex(20));
    let line = 80 + rng.below(20);
    let lines = [
        "Traceback (most recent call last):".to_owned(),
        format!("  File \"/app/netra_backend/app/db/session.py\", line {line}, in get_session"),
        "    conn = await engine.connect()".to_owned(),
        format!("sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout {}.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)", 10 + rng.below(30)),
        String::new(),
        "The above exception was the direct cause of the following exception:".to_owned(),
        String::new(),
        "Traceback (most recent call last):".to_owned(),
        format!("  File \"/app/netra_backend/app/routes/threads.py\", line {}, in list_threads", 40 + rng.below(20)),
        "    async with get_session() as session:".to_owned(),
        "RuntimeError: database session unavailable".to_owned(),
    ];
    lines
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let mut e = base(
                at + TimeDelta::microseconds(12 * i as i64),
                "ERROR",
                rng,
                "stderr",
            );
            e["labels"]["instanceId"] = json!(instance);
            e["textPayload"] = json!(text);
            e
        })
        .collect()
}

/// Sorts labelled entries by event time, then insertId: the order a log holds them in.
fn oldest_first(entries: &mut [(&'static str, Value)]) {
    let key = |v: &Value| {
        (
            v["timestamp"].as_str().unwrap_or("").to_owned(),
            v["insertId"].as_str().unwrap_or("").to_owned(),
        )
    };
    entries.sort_by_cached_key(|(_, v)| key(v));
}

/// A `gcloud logging read --format=json` style export: a pretty-printed array, newest first.
pub fn gcloud_export(entries: &[(&'static str, Value)]) -> String {
    let newest_first: Vec<&Value> = entries.iter().rev().map(|(_, v)| v).collect();
    serde_json::to_string_pretty(&newest_first).unwrap_or_default() + "\n"
}

/// JSON Lines, oldest first.
pub fn json_lines(entries: &[(&'static str, Value)]) -> String {
    entries.iter().map(|(_, v)| v.to_string() + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_for_a_seed_and_shaped_like_logentries() {
        let t0: DateTime<Utc> = "2025-09-15T19:00:00Z".parse().unwrap();
        let a = generate(t0, 2, 7);
        assert_eq!(a, generate(t0, 2, 7));
        assert_ne!(a, generate(t0, 2, 8));
        let per_hour: u32 = KINDS.iter().map(|k| k.per_hour).sum::<u32>() + 3 * 10;
        assert_eq!(
            a.len() as u32,
            2 * per_hour,
            "tracebacks are 11 entries each"
        );
        for (_, e) in &a {
            assert!(e["timestamp"].as_str().unwrap() >= "2025-09-15T19:00:00");
            assert!(e
                .get("jsonPayload")
                .or(e.get("textPayload"))
                .or(e.get("httpRequest"))
                .is_some());
        }
    }
}
