//! The real Redis on 127.0.0.1:6379 (every machine here runs one; `scripts/test-deps.sh`
//! starts it if not), as `state.redis_url` uses it: each test or bench sample keeps its keys
//! under a prefix of its own and deletes them.

pub const URL: &str = "redis://127.0.0.1:6379";

pub fn connect() -> redis::Connection {
    redis::Client::open(URL)
        .and_then(|c| c.get_connection())
        .expect("Redis runs on 127.0.0.1:6379 (scripts/test-deps.sh starts it)")
}

/// `{prefix}:name`, as the service names its keys.
pub fn key(prefix: &str, name: &str) -> String {
    format!("{{{prefix}}}:{name}")
}

/// Deletes every key under `prefix` (the relay's message ids included).
pub fn clear(conn: &mut redis::Connection, prefix: &str) {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(key(prefix, "*"))
        .query(conn)
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query(conn).unwrap();
    }
}

/// `received` in the checkpoint under `prefix` (0 before the first).
pub fn received(conn: &mut redis::Connection, prefix: &str) -> u64 {
    let json: Option<String> = redis::cmd("GET")
        .arg(key(prefix, "checkpoint"))
        .query(conn)
        .unwrap();
    json.and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
        .and_then(|v| v["pipeline"]["counts"]["received"].as_u64())
        .unwrap_or(0)
}
