//! `log-gardener run` against the emulator, alone and relaying into the real Redis: bad
//! messages are counted, reported and acked without stopping the stream; a never-seen cluster
//! is announced within a second; a missing subscription stops the process (exit 3).

mod support;
use support::pubsub as live_support;
use support::redis as in_redis;

use std::time::{Duration, Instant};

use live_support::{hour_of_entries, Emulator, Workdir};

/// State in the real Redis under a prefix of its own (`state.redis_url`: the replica relays
/// what it pulls and counts from the relay stream); its keys go on drop.
struct InRedis {
    prefix: String,
    conn: redis::Connection,
}

impl InRedis {
    fn new(name: &str) -> InRedis {
        let mut r = InRedis {
            prefix: format!("lg-input-{name}-{}", std::process::id()),
            conn: in_redis::connect(),
        };
        in_redis::clear(&mut r.conn, &r.prefix);
        r
    }

    fn env(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("LOG_GARDENER__STATE__REDIS_URL", in_redis::URL),
            ("LOG_GARDENER__STATE__KEY_PREFIX", self.prefix.as_str()),
        ]
    }

    fn len(&mut self, stream: &str) -> u64 {
        redis::cmd("XLEN")
            .arg(in_redis::key(&self.prefix, stream))
            .query(&mut self.conn)
            .unwrap()
    }

    fn wait_received(&mut self, n: u64, run: &mut live_support::Run) {
        let start = Instant::now();
        let received = |r: &mut InRedis| in_redis::received(&mut r.conn, &r.prefix);
        while received(self) < n {
            if let Ok(Some(status)) = run.child.try_wait() {
                panic!("run exited early ({status}): {}", run.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the Redis checkpoint holds {} < {n}: {}",
                received(self),
                run.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for InRedis {
    fn drop(&mut self) {
        in_redis::clear(&mut self.conn, &self.prefix);
    }
}

#[test]
fn malformed_messages_are_reported_by_reason_and_never_stop_the_stream() {
    malformed_messages(None);
}

/// The same through the relay (`state.redis_url`), with `pubsub.on_malformed = "nack"`: each
/// bad message is counted and reported once and lands in the relay's dead stream.
#[test]
fn malformed_messages_through_the_redis_relay_are_reported_once_and_kept_aside() {
    malformed_messages(Some(InRedis::new("malformed")));
}

fn malformed_messages(mut redis: Option<InRedis>) {
    let emu = Emulator::start();
    let wd = Workdir::new(2, "", "[input]\nmax_entry_bytes = 4096\n");
    let mut msgs: Vec<String> = hour_of_entries(21).into_iter().take(40).collect();
    let big =
        serde_json::json!({"timestamp": "2025-09-15T19:30:00Z", "textPayload": "x".repeat(5000)});
    msgs.insert(3, "this is not json".into());
    msgs.insert(9, "{\"timestamp\": 5, \"severity\": []}".into());
    msgs.insert(17, big.to_string());
    msgs.insert(25, "[1, 2, 3]".into());
    // Optional context fields of the wrong type: counted, with a field warning.
    let mistyped = serde_json::json!({"timestamp": "2025-09-15T19:31:00Z", "severity": "ERROR",
        "textPayload": "mistyped context", "insertId": 123, "labels": [1]});
    msgs.insert(30, mistyped.to_string());
    // Text of several-byte characters glued to status keys once panicked the service, again at
    // every redelivery: counted as any entry.
    let glued = serde_json::json!({"timestamp": "2025-09-15T19:32:00Z", "severity": "ERROR",
        "textPayload": "接続エラー:status=503 éRuntimeError: Ошибкаcode=500."});
    msgs.insert(35, glued.to_string());
    let mut env = vec![("LOG_GARDENER__METRICS__LISTEN", "127.0.0.1:0")];
    if let Some(r) = &redis {
        env.extend(r.env());
        env.push(("LOG_GARDENER__PUBSUB__ON_MALFORMED", "nack"));
    }
    let mut run = wd.run_with(&emu, 1, &env);
    emu.publish(&msgs);
    match &mut redis {
        None => wd.wait_received(msgs.len() as u64, Duration::from_secs(60), &mut run),
        Some(r) => r.wait_received(msgs.len() as u64, &mut run),
    }
    let (status, _) = run.terminate(Duration::from_secs(15));
    assert!(status.success(), "{}", run.log());
    if let Some(r) = &mut redis {
        assert_eq!(
            r.len("relay:dead"),
            4,
            "the bad messages, kept aside once each"
        );
        assert_eq!(
            r.len("relay"),
            0,
            "a clean stop leaves nothing in the relay stream"
        );
    }
    let logs = wd.worklogs();
    let malformed: u64 = logs
        .iter()
        .map(|w| w["malformed"]["total"].as_u64().unwrap())
        .sum();
    assert_eq!(malformed, 4, "{logs:#?}");
    let reasons = &logs[0]["malformed"]["by_reason"];
    assert!(
        reasons.as_object().unwrap().len() >= 3,
        "by reason: {reasons}"
    );
    let warned: u64 = logs
        .iter()
        .filter_map(|w| w["field_warnings"]["context_field_mistyped"].as_u64())
        .sum();
    assert_eq!(warned, 1, "{logs:#?}");
    let example = logs[0]["malformed"]["examples"][0]["location"]
        .as_str()
        .unwrap();
    assert!(example.starts_with("pubsub:"), "{example}");
    let counted: u64 = logs
        .iter()
        .map(|w| w["totals"]["entries"].as_u64().unwrap())
        .sum();
    let glued_counted = logs
        .iter()
        .flat_map(|w| w["clusters"].as_array().cloned().unwrap_or_default())
        .any(|c| {
            c["template"]
                .as_str()
                .is_some_and(|t| t.contains("接続エラー"))
        });
    assert!(glued_counted, "{logs:#?}");
    assert!(
        counted >= 36 - 3,
        "the good entries around them were counted ({counted})"
    );
}

#[test]
fn a_new_cluster_is_announced_within_a_second_of_its_message() {
    new_cluster_announced(&[]);
}

/// The same through the relay: pulled, relayed into Redis, read back by the lease holder.
#[test]
fn a_new_cluster_is_announced_within_a_second_through_the_redis_relay() {
    let redis = InRedis::new("announce");
    new_cluster_announced(&redis.env());
}

fn new_cluster_announced(env: &[(&str, &str)]) {
    let emu = Emulator::start();
    let wd = Workdir::new(2, "", "");
    let mut run = wd.run_with(&emu, 1, env);
    let msg = |text: &str, id: &str| {
        serde_json::json!({"timestamp": "2025-09-15T19:30:00Z", "severity": "ERROR", "insertId": id,
            "textPayload": text, "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}})
        .to_string()
    };
    let announced = |run: &live_support::Run| run.log().matches("new cluster").count();
    // Warm up: the streams are open once the first message arrived.
    emu.publish(&[msg("warm up 1", "w")]);
    let start = Instant::now();
    while announced(&run) < 1 {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", run.log());
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = Instant::now();
    emu.publish(&[msg("payment provider rejected card 42", "n")]);
    while announced(&run) < 2 {
        assert!(sent.elapsed() < Duration::from_secs(5), "{}", run.log());
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = sent.elapsed();
    eprintln!("new cluster announced {took:?} after publishing started");
    assert!(took < Duration::from_secs(1), "announced after {took:?}");
    run.terminate(Duration::from_secs(15));
}

#[test]
fn a_missing_subscription_stops_run_with_exit_code_3() {
    let redis = InRedis::new("missing");
    // Alone, and as a replica relaying into Redis (which pulls before it holds any lease).
    for extra in [vec![], redis.env()] {
        let emu = Emulator::start();
        let wd = Workdir::new(1, "", "");
        let mut env = vec![("LOG_GARDENER__PUBSUB__SUBSCRIPTION", "nope")];
        env.extend(extra);
        let mut run = wd.run_with(&emu, 1, &env);
        let status = run.exited(Duration::from_secs(20));
        assert_eq!(status.code(), Some(3), "{}", run.log());
        assert!(run.log().contains("nope"), "{}", run.log());
    }
}

/// `/readyz` as (status, body), by hand: these tests are synchronous.
fn readyz(addr: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    Some((
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned(),
    ))
}

#[test]
fn an_unreachable_pubsub_is_not_ready_and_says_so_within_10s() {
    let wd = Workdir::new(1, "", "");
    // Nothing listens on port 1; the default log level (warn) is what an operator sees.
    let mut run = wd.run_at("127.0.0.1:1", 1, &[("RUST_LOG", "warn")]);
    let start = Instant::now();
    let addr = run.metrics_addr(Duration::from_secs(10));
    let mut said = None;
    while start.elapsed() < Duration::from_secs(10) {
        let answer = readyz(&addr);
        let warned = run.log().contains("unreachable");
        if let (Some((503, body)), true) = (&answer, warned) {
            said = Some(body.clone());
            break;
        }
        assert!(
            !matches!(answer, Some((200, _))),
            "ready while Pub/Sub is unreachable: {}",
            run.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let body = said.unwrap_or_else(|| panic!("no 503 naming it within 10 s: {}", run.log()));
    assert!(
        body.contains("unreachable") && body.contains("127.0.0.1:1"),
        "{body}"
    );
    assert!(run.log().contains("WARN"), "{}", run.log());
    run.terminate(Duration::from_secs(15));
}
