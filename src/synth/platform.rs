//! Shapes that come from what wraps a program rather than from the program: an upstream's HTTP
//! statuses in its callers' words (a 503 burst and a trickle of 404s), a container line as
//! Docker's json-file driver and fluentd ship it (`{"log": …, "stream": …, "time": …}`), and
//! Cloud Run's 503s for requests that reached no instance, once beside a revision that
//! crash-loops and once beside one that does not. Used by [`super::shapes::shape_hours`].

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::shapes::entry;
use super::{rfc3339, Rng};

/// What Cloud Run writes for a request it could not hand to a healthy instance.
const RUN_503: &str = "The request failed because either the HTTP response was malformed or \
    connection to the instance had an error.";

/// A storefront whose inventory upstream is down for ten minutes (a 503 on every call, ~40) and
/// answers 404 for an unknown item now and then all hour (~12): ERROR lines of the caller, on
/// two of its instances.
pub fn upstream_statuses(rng: &mut Rng, hour: DateTime<Utc>) -> Vec<Value> {
    let down = hour + TimeDelta::minutes(20);
    let mut out = Vec::new();
    let mut line = |rng: &mut Rng, at: DateTime<Utc>, instance: &str, code: u16| {
        let mut e = entry(rng, at, "storefront", instance, "stdout");
        e["severity"] = json!("ERROR");
        e["textPayload"] = json!(format!(
            "upstream inventory returned HTTP {code} for request req-{}",
            rng.hex(12)
        ));
        out.push(e);
    };
    for i in 0..40 {
        let at = down + TimeDelta::seconds(15 * i) + TimeDelta::milliseconds(rng.below(900) as i64);
        line(rng, at, "00a1st0refr0nt0000000000000000000000000a", 503);
    }
    for _ in 0..12 {
        let at = hour + TimeDelta::milliseconds(rng.below(3_600_000) as i64);
        line(rng, at, "00a1st0refr0nt0000000000000000000000000b", 404);
    }
    out
}

/// A GKE worker that cannot reach its database, as fluentd ships Docker's json-file lines: the
/// printed line (its level only in its text, a line break at its end) under `log`, no severity.
pub fn docker_lines(rng: &mut Rng, hour: DateTime<Utc>) -> Vec<Value> {
    (0..15)
        .map(|_| {
            let at = hour + TimeDelta::milliseconds(rng.below(3_600_000) as i64);
            json!({
                "insertId": rng.hex(16),
                "resource": {"type": "k8s_container", "labels": {"project_id": "acme-prod",
                    "cluster_name": "prod-1", "namespace_name": "orders",
                    "pod_name": "orders-worker-7d9f8c6b5-x2kqp", "container_name": "orders-worker",
                    "location": "us-central1"}},
                "timestamp": rfc3339(at),
                "logName": "projects/acme-prod/logs/stderr",
                "receiveTimestamp": rfc3339(at + TimeDelta::milliseconds(80)),
                "jsonPayload": {
                    "log": format!("ERROR connection refused to db orders-db:5432 after {} attempts\n",
                        2 + rng.below(4)),
                    "stream": "stderr",
                    "time": rfc3339(at - TimeDelta::milliseconds(3)),
                },
            })
        })
        .collect()
}

/// A request Cloud Run answered 503 without reaching an instance: no `labels.instanceId`.
fn unplaced_503(rng: &mut Rng, at: DateTime<Utc>, service: &str) -> Value {
    let mut e = entry(rng, at, service, "", "requests");
    if let Some(o) = e.as_object_mut() {
        o.remove("labels");
    }
    e["severity"] = json!("ERROR");
    e["textPayload"] = json!(RUN_503);
    e["httpRequest"] = json!({"requestMethod": "GET",
        "requestUrl": format!("https://{service}.a.run.app/api/orders/{}", 10_000 + rng.below(90_000)),
        "status": 503, "latency": format!("0.{:03}s", rng.below(1000)), "protocol": "HTTP/1.1"});
    e["trace"] = json!(format!("projects/acme-prod/traces/{}", rng.hex(32)));
    e
}

/// `orders-api`'s new revision dies at start (a setting it needs is missing) every two minutes
/// for forty minutes, each time on a new instance: the exception, then the container's exit.
/// Meanwhile Cloud Run answers ~120 requests with a 503 that reached no instance.
pub fn crash_loop_503s(rng: &mut Rng, hour: DateTime<Utc>) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..20 {
        let at =
            hour + TimeDelta::minutes(2 * i) + TimeDelta::milliseconds(rng.below(5_000) as i64);
        let instance = format!("00c7{}", rng.hex(28));
        let mut crash = entry(rng, at, "orders-api", &instance, "stderr");
        crash["severity"] = json!("ERROR");
        crash["textPayload"] =
            json!("RuntimeError: settings: ORDERS_SIGNING_KEY is not set; refusing to start");
        out.push(crash);
        let mut exit = entry(
            rng,
            at + TimeDelta::milliseconds(300),
            "orders-api",
            &instance,
            "varlog%2Fsystem",
        );
        exit["severity"] = json!("WARNING");
        exit["textPayload"] = json!("Container called exit(1).");
        out.push(exit);
    }
    for _ in 0..120 {
        let at = hour + TimeDelta::milliseconds(rng.below(2_400_000) as i64);
        out.push(unplaced_503(rng, at, "orders-api"));
    }
    out
}

/// `search-api` has the same 503s that reached no instance, but no crash loop: a slow index
/// warns on one instance now and then. Nothing ties the 503s to the warning.
pub fn unplaced_503s(rng: &mut Rng, hour: DateTime<Utc>) -> Vec<Value> {
    let mut out = Vec::new();
    for _ in 0..30 {
        let at = hour + TimeDelta::milliseconds(rng.below(3_600_000) as i64);
        out.push(unplaced_503(rng, at, "search-api"));
    }
    for _ in 0..10 {
        let at = hour + TimeDelta::milliseconds(rng.below(3_600_000) as i64);
        let mut e = entry(
            rng,
            at,
            "search-api",
            "00d4se4rch000000000000000000000000000000a",
            "stdout",
        );
        e["severity"] = json!("WARNING");
        e["textPayload"] = json!(format!("index shard {} answered slowly", rng.below(8)));
        out.push(e);
    }
    out
}
