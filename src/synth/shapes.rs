//! Shapes the background and the incident scenarios lack, each as the writer prints it: an image
//! scanner's findings (data that has a severity, at DEFAULT), Node's unhandled rejection and a
//! Python 3.11 exception group split one line per entry, a load balancer's 502s, thirty
//! unrelated errors on one busy instance, and the shapes of `platform.rs` (an upstream's 503s
//! and 404s, a Docker `log` line, Cloud Run 503s that reached no instance, with and without a
//! crash loop of their revision). Tests know what a correct run concludes about each:
//! [`Shape::expected`].

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::{platform, rfc3339, Rng};

/// One shape of [`shape_hours`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    ScannerFindings,
    UnhandledRejection,
    ExceptionGroup,
    LoadBalancer502,
    BusyInstance,
    UpstreamStatuses,
    DockerLogLine,
    CrashLoop503s,
    Unplaced503s,
}

/// What a correct run concludes about a shape's entries.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    /// The most urgent priority they may have (a scanner's CRITICAL finding pages no one).
    pub at_most: &'static str,
    /// Text their issue's title must contain (`None`: any).
    pub headline: Option<&'static str>,
    /// At most this many issues.
    pub max_issues: usize,
    /// Text of another of their issues, filed less urgently than the headline's (a 4xx
    /// beside a 5xx).
    pub below: Option<&'static str>,
    /// Text none of their issues' titles may contain (a payload's field names: the message
    /// inside was not found).
    pub not_in_title: Option<&'static str>,
}

impl Shape {
    pub const ALL: [Shape; 9] = [
        Shape::ScannerFindings,
        Shape::UnhandledRejection,
        Shape::ExceptionGroup,
        Shape::LoadBalancer502,
        Shape::BusyInstance,
        Shape::UpstreamStatuses,
        Shape::DockerLogLine,
        Shape::CrashLoop503s,
        Shape::Unplaced503s,
    ];

    /// The label [`shape_hours`] gives the shape's entries.
    pub fn label(self) -> &'static str {
        match self {
            Shape::ScannerFindings => "scanner-findings",
            Shape::UnhandledRejection => "unhandled-rejection",
            Shape::ExceptionGroup => "exception-group",
            Shape::LoadBalancer502 => "lb-502",
            Shape::BusyInstance => "busy-instance",
            Shape::UpstreamStatuses => "upstream-statuses",
            Shape::DockerLogLine => "docker-log-line",
            Shape::CrashLoop503s => "crash-loop-503s",
            Shape::Unplaced503s => "unplaced-503s",
        }
    }

    pub fn expected(self) -> Expected {
        let any = Expected {
            at_most: "P0",
            headline: None,
            max_issues: 1,
            below: None,
            not_in_title: None,
        };
        match self {
            Shape::ScannerFindings => Expected {
                at_most: "P4",
                headline: None,
                max_issues: 0,
                ..any
            },
            Shape::UnhandledRejection => Expected {
                at_most: "P0",
                headline: Some("The promise rejected with the reason"),
                max_issues: 1,
                ..any
            },
            Shape::ExceptionGroup => Expected {
                at_most: "P0",
                headline: Some("ConnectionError: inventory API unreachable"),
                max_issues: 1,
                ..any
            },
            Shape::LoadBalancer502 => Expected {
                at_most: "P0",
                headline: Some("POST /api/orders/<*>/pay → 502"),
                max_issues: 1,
                ..any
            },
            Shape::BusyInstance => Expected {
                max_issues: 30,
                ..any
            },
            // Two problems: the upstream down (a 5xx) above a wrong item id (a 4xx).
            Shape::UpstreamStatuses => Expected {
                headline: Some("returned HTTP 503"),
                max_issues: 2,
                below: Some("returned HTTP 404"),
                ..any
            },
            Shape::DockerLogLine => Expected {
                headline: Some("ERROR connection refused to db"),
                not_in_title: Some("stream="),
                ..any
            },
            // One issue: the crash's cause, its 503s listed as its consequence.
            Shape::CrashLoop503s => Expected {
                headline: Some("RuntimeError: settings: ORDERS_SIGNING_KEY is not set"),
                ..any
            },
            // No crash loop: the 503s are their own issue, the warning another.
            Shape::Unplaced503s => Expected {
                headline: Some("The request failed because"),
                max_issues: 2,
                ..any
            },
        }
    }
}

/// A Cloud Run service's entry on `instance`, without payload or severity.
pub(super) fn entry(
    rng: &mut Rng,
    at: DateTime<Utc>,
    service: &str,
    instance: &str,
    log: &str,
) -> Value {
    json!({
        "insertId": rng.hex(16),
        "resource": {"type": "cloud_run_revision", "labels": {"project_id": "acme-prod",
            "service_name": service, "revision_name": format!("{service}-00042-abc"),
            "location": "us-central1"}},
        "timestamp": rfc3339(at),
        "labels": {"instanceId": instance},
        "logName": format!("projects/acme-prod/logs/run.googleapis.com%2F{log}"),
        "receiveTimestamp": rfc3339(at + TimeDelta::milliseconds(150)),
    })
}

/// `lines` on stderr at DEFAULT severity, one entry each, 20 µs apart: how Cloud Run writes
/// what a process prints without structured logging.
fn split(
    rng: &mut Rng,
    at: DateTime<Utc>,
    service: &str,
    instance: &str,
    lines: &[String],
) -> Vec<Value> {
    lines
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let t = at + TimeDelta::microseconds(20 * i as i64);
            let mut e = entry(rng, t, service, instance, "stderr");
            e["textPayload"] = json!(text);
            e
        })
        .collect()
}

/// A nightly image scan: one finding per vulnerable package, the scanner's severity in the
/// payload, the entry's own severity unset (a job printing JSON lines).
fn scan(rng: &mut Rng, at: DateTime<Utc>) -> Vec<Value> {
    let packages = [
        (
            "openssl",
            "3.0.2-0ubuntu1.10",
            "3.0.2-0ubuntu1.15",
            "CRITICAL",
        ),
        ("libxml2", "2.9.13+dfsg-1", "2.9.13+dfsg-1ubuntu0.4", "HIGH"),
        (
            "zlib1g",
            "1:1.2.11.dfsg-2",
            "1:1.2.11.dfsg-2ubuntu9.2",
            "CRITICAL",
        ),
        ("curl", "7.81.0-1ubuntu1.13", "7.81.0-1ubuntu1.16", "MEDIUM"),
        ("glibc", "2.35-0ubuntu3.1", "2.35-0ubuntu3.6", "HIGH"),
    ];
    let digest = rng.hex(32);
    packages
        .iter()
        .enumerate()
        .map(|(i, (package, installed, fixed, severity))| {
            let t = at + TimeDelta::milliseconds(3 * i as i64);
            let mut e = entry(rng, t, "image-scanner", "00sc4nn3r", "stdout");
            e["resource"] = json!({"type": "cloud_run_job", "labels": {"project_id": "acme-prod",
                "job_name": "image-scanner", "location": "us-central1"}});
            e["jsonPayload"] = json!({
                "severity": severity,
                "cve": format!("CVE-2024-{}", 1000 + rng.below(9000)),
                "package": package,
                "installedVersion": installed,
                "fixedVersion": fixed,
                "image": format!("us-docker.pkg.dev/acme-prod/api/checkout@sha256:{digest}"),
            });
            e
        })
        .collect()
}

/// Node 18 dying of a promise rejected with a string, then the container's exit.
fn rejection(rng: &mut Rng, at: DateTime<Utc>, instance: &str) -> Vec<Value> {
    let lines: Vec<String> = [
        "node:internal/process/promises:288",
        "            triggerUncaughtException(err, true /* fromPromise */);",
        "            ^",
        "",
        "[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason \"Database connection failed\".] {",
        "  code: 'ERR_UNHANDLED_REJECTION'",
        "}",
        "",
        "Node.js v18.19.0",
    ]
    .map(str::to_owned)
    .into();
    let mut out = split(rng, at, "checkout-api", instance, &lines);
    let mut exit = entry(
        rng,
        at + TimeDelta::milliseconds(300),
        "checkout-api",
        instance,
        "varlog%2Fsystem",
    );
    exit["severity"] = json!("WARNING");
    exit["textPayload"] = json!("Container called exit(1).");
    out.push(exit);
    out
}

/// A Python 3.11 worker whose `asyncio.TaskGroup` failed: the group, its two sub-exceptions.
fn group(rng: &mut Rng, at: DateTime<Utc>, instance: &str) -> Vec<Value> {
    let line = 18 + rng.below(3);
    let lines = [
        "  + Exception Group Traceback (most recent call last):".to_owned(),
        "  |   File \"/app/worker/main.py\", line 41, in <module>".to_owned(),
        "  |     asyncio.run(sync_all())".to_owned(),
        "  |   File \"/usr/local/lib/python3.11/asyncio/runners.py\", line 190, in run".to_owned(),
        "  |     return runner.run(main)".to_owned(),
        "  |   File \"/app/worker/main.py\", line 30, in sync_all".to_owned(),
        "  |     async with asyncio.TaskGroup() as tg:".to_owned(),
        "  |   File \"/usr/local/lib/python3.11/asyncio/taskgroups.py\", line 147, in __aexit__".to_owned(),
        "  |     raise me from None".to_owned(),
        "  | ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)".to_owned(),
        "  +-+---------------- 1 ----------------".to_owned(),
        "    | Traceback (most recent call last):".to_owned(),
        format!("    |   File \"/app/worker/sync.py\", line {line}, in fetch_inventory"),
        "    |     raise ConnectionError(f\"inventory API unreachable: {url}\")".to_owned(),
        format!("    | ConnectionError: inventory API unreachable: https://inventory.internal/v1/items?page={}", rng.below(40)),
        "    +---------------- 2 ----------------".to_owned(),
        "    | Traceback (most recent call last):".to_owned(),
        "    |   File \"/app/worker/sync.py\", line 25, in fetch_prices".to_owned(),
        "    |     raise TimeoutError()".to_owned(),
        "    | TimeoutError".to_owned(),
        "    +------------------------------------".to_owned(),
    ];
    split(rng, at, "inventory-worker", instance, &lines)
}

/// The load balancer in front of the API: a payment request whose backend closed the
/// connection.
fn bad_gateway(rng: &mut Rng, at: DateTime<Utc>) -> Value {
    let order = 10_000 + rng.below(90_000);
    json!({
        "insertId": rng.hex(12),
        "timestamp": rfc3339(at),
        "severity": "ERROR",
        "logName": "projects/acme-prod/logs/requests",
        "resource": {"type": "http_load_balancer", "labels": {"backend_service_name": "api-backend",
            "forwarding_rule_name": "api-https", "project_id": "acme-prod",
            "target_proxy_name": "api-proxy", "url_map_name": "api-map", "zone": "global"}},
        "httpRequest": {"requestMethod": "POST",
            "requestUrl": format!("https://api.acme.com/api/orders/{order}/pay"),
            "requestSize": "512", "status": 502, "responseSize": "0", "userAgent": "okhttp/4.12.0",
            "remoteIp": format!("203.0.113.{}", rng.below(250)), "serverIp": "10.128.0.5",
            "latency": format!("{}.{:03}s", rng.below(30), rng.below(1000))},
        "jsonPayload": {"@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
            "statusDetails": "backend_connection_closed_before_data_sent_to_client",
            "backendTargetProjectNumber": "projects/123456789012",
            "remoteIp": format!("203.0.113.{}", rng.below(250))},
        "trace": format!("projects/acme-prod/traces/{}", rng.hex(32)),
    })
}

/// Thirty unrelated errors of one billing instance, each its own words.
const BUSY: [&str; 30] = [
    "Invoice PDF render failed for invoice {}: font not found",
    "Webhook delivery to partner {} failed: HTTP 410 Gone",
    "Tax rate lookup returned no region for postcode area {}",
    "Currency conversion cache stale for pair {}",
    "Ledger reconciliation mismatch on batch {}",
    "Refund rejected by processor for charge {}",
    "Dunning email bounced for account {}",
    "Usage meter missing samples for subscription {}",
    "Coupon {} applied after its expiry",
    "Payout schedule skipped merchant {}",
    "Proration produced a negative amount on plan change {}",
    "Credit note {} references a voided invoice",
    "Chargeback evidence upload timed out for dispute {}",
    "Price book {} has overlapping tiers",
    "Export to warehouse rejected row {}",
    "Customer portal session {} expired mid-checkout",
    "Receipt number {} was issued twice",
    "Bank transfer {} arrived without a reference",
    "Invoice {} rounding differs from the ledger",
    "Subscription {} renewed without a payment method",
    "VAT number validation service unavailable for request {}",
    "Statement generation exceeded its budget for cycle {}",
    "Fraud score missing for payment intent {}",
    "Settlement file {} has an unknown column",
    "Trial conversion hook failed for account {}",
    "Metered price {} has no unit label",
    "Quote {} accepted after it was withdrawn",
    "Payment link {} points at an archived product",
    "Revenue schedule {} does not sum to the contract value",
    "Address verification declined billing profile {}",
];

/// `hours` of the background (see [`super::generate`]) with the shapes in every hour: a scan
/// at :10, a rejection and a group every 12 minutes (each crash on a new instance), 24
/// gateway errors spread over the hour, and the busy instance's thirty errors, each a Poisson
/// process of its own rate (5 to 40 an hour). In time order, deterministic for a seed.
pub fn shape_hours(start: DateTime<Utc>, hours: u32, seed: u64) -> Vec<(&'static str, Value)> {
    let mut out: Vec<(&'static str, Value)> = super::generate(start, hours, seed);
    let mut rng = Rng::new(seed ^ 0x5a_a9e5);
    let mut add =
        |shape: Shape, v: Vec<Value>| out.extend(v.into_iter().map(|e| (shape.label(), e)));
    for h in 0..i64::from(hours) {
        let hour = start + TimeDelta::hours(h);
        add(
            Shape::ScannerFindings,
            scan(&mut rng, hour + TimeDelta::minutes(10)),
        );
        for i in 0..5 {
            let at = hour
                + TimeDelta::minutes(2 + 12 * i)
                + TimeDelta::milliseconds(rng.below(60_000) as i64);
            let instance = format!("00c4{}", rng.hex(28));
            add(
                Shape::UnhandledRejection,
                rejection(&mut rng, at, &instance),
            );
            let at = hour
                + TimeDelta::minutes(7 + 12 * i)
                + TimeDelta::milliseconds(rng.below(60_000) as i64);
            let instance = format!("00b7{}", rng.hex(28));
            add(Shape::ExceptionGroup, group(&mut rng, at, &instance));
        }
        let gateway = (0..24)
            .map(|_| {
                let at = hour + TimeDelta::milliseconds(rng.below(3_600_000) as i64);
                bad_gateway(&mut rng, at)
            })
            .collect();
        add(Shape::LoadBalancer502, gateway);
        let mut busy = Vec::new();
        for text in BUSY {
            let rate = 5 + rng.below(36);
            for _ in 0..poisson(&mut rng, rate as f64) {
                let at = hour + TimeDelta::milliseconds(rng.below(3_600_000) as i64);
                let mut e = entry(
                    &mut rng,
                    at,
                    "billing",
                    "0069b1111ng0000000000000000000000000000a",
                    "stdout",
                );
                e["severity"] = json!("ERROR");
                e["textPayload"] = json!(text.replace("{}", &(1000 + rng.below(9000)).to_string()));
                busy.push(e);
            }
        }
        add(Shape::BusyInstance, busy);
        add(
            Shape::UpstreamStatuses,
            platform::upstream_statuses(&mut rng, hour),
        );
        add(Shape::DockerLogLine, platform::docker_lines(&mut rng, hour));
        add(
            Shape::CrashLoop503s,
            platform::crash_loop_503s(&mut rng, hour),
        );
        add(Shape::Unplaced503s, platform::unplaced_503s(&mut rng, hour));
    }
    super::oldest_first(&mut out);
    out
}

/// A Poisson count with mean `mean` (Knuth's product of uniforms).
fn poisson(rng: &mut Rng, mean: f64) -> u32 {
    let uniform = |rng: &mut Rng| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let (limit, mut product, mut n) = ((-mean).exp(), uniform(rng), 0);
    while product > limit {
        product *= uniform(rng);
        n += 1;
    }
    n
}
