//! The checkpoint in Redis (`state.redis_url`, Memorystore in production), so a restart or a
//! redeploy on Cloud Run keeps the windows, and several replicas can be deployed: all pull and
//! relay into Redis (`source::relay`), one holds the lease and counts, the others take over
//! the counting within `state.lease` when it stops.
//!
//! Keys (one hash tag, so a cluster keeps them in one slot): `{prefix}:checkpoint` and
//! `{prefix}:checkpoint:prev` (the JSON a [`FileCheckpoint`](super::FileCheckpoint) would
//! write, and the one before it), `{prefix}:lease` (the holder's id, expiring after the lease
//! time unless renewed) and `{prefix}:fence` (the fencing token: incremented by every new
//! holder). A save is one script that writes only if the lease is still this process's and the
//! token is still its own, so a holder that was paused past its lease (a frozen VM, a redeploy
//! overlap) can never overwrite its successor's state: its save fails, what it read stays in
//! the relay stream, and the new holder reads it again.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::checkpoint::{decode, or_previous, Checkpoint, CheckpointError, CheckpointStore};
use crate::atomic_file::Blob;
use crate::config::RedisSettings;

/// Takes the lease if it is free (or already ours): the fencing token, else 0.
const ACQUIRE: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('INCR', KEYS[2])
";

/// Extends the lease if it is still ours with our token: 1, else 0.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// Writes the checkpoint (keeping the last one as previous) and extends the lease, only while
/// the lease and the fencing token are ours: 1, else 0.
const SAVE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return 0
end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('RENAME', KEYS[3], KEYS[4]) end
redis.call('SET', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// Sets (ARGV[3] = "1") or deletes a piece of state, only while the lease and the fencing
/// token are ours: 1, else 0.
const PUT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return 0
end
if ARGV[3] == '1' then redis.call('SET', KEYS[3], ARGV[4]) else redis.call('DEL', KEYS[3]) end
return 1
";

/// Gives the lease up if it is ours (a clean shutdown: the next replica need not wait).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

struct Keys {
    prefix: String,
    lease: String,
    fence: String,
    checkpoint: String,
    previous: String,
}

/// What became of an attempt to take the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Ours, with this fencing token.
    Held(u64),
    /// Another replica holds it.
    Taken,
}

/// One connection to Redis, made on first use and made again after an error; each call waits
/// at most `timeout` for an answer.
pub(crate) struct Conn {
    client: redis::Client,
    conn: Mutex<Option<redis::Connection>>,
    timeout: Duration,
}

impl Conn {
    /// `url` was validated with the config (`state.redis_url`).
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<Conn, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        Ok(Conn {
            client,
            conn: Mutex::new(None),
            timeout,
        })
    }

    /// Runs `f` on the connection, connecting first if there is none; an error drops the
    /// connection so the next call connects afresh.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let c = self
                .client
                .get_connection_with_timeout(self.timeout)
                .map_err(|e| format!("cannot connect to Redis: {e}"))?;
            c.set_read_timeout(Some(self.timeout))
                .map_err(|e| e.to_string())?;
            c.set_write_timeout(Some(self.timeout))
                .map_err(|e| e.to_string())?;
            *guard = Some(c);
        }
        let Some(conn) = guard.as_mut() else {
            return Err("no connection".into());
        };
        f(conn).map_err(|e| {
            *guard = None;
            format!("Redis: {e}")
        })
    }
}

/// What a script needs to act only while this process holds the lease: `KEYS` lease and
/// fence, `ARGV` owner and token (the checkpoint's own scripts check the same).
pub(crate) struct Fence {
    pub lease_key: String,
    pub fence_key: String,
    pub owner: String,
    pub token: u64,
}

pub struct RedisCheckpoint {
    conn: Conn,
    keys: Keys,
    /// This process's id in the lease: host, pid and start time.
    owner: String,
    lease: Duration,
    /// The fencing token of the lease we hold; 0 before we take it.
    token: AtomicU64,
}

impl RedisCheckpoint {
    /// A store for `s`; connects on first use.
    pub fn new(s: &RedisSettings) -> Result<RedisCheckpoint, CheckpointError> {
        let conn = Conn::new(&s.url, s.lease.min(Duration::from_secs(5))).map_err(|detail| {
            CheckpointError::Write {
                path: PathBuf::from("state.redis_url"),
                detail,
            }
        })?;
        let p = &s.key_prefix;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
        let started = chrono::Utc::now().timestamp_micros();
        Ok(RedisCheckpoint {
            conn,
            keys: Keys {
                prefix: p.clone(),
                lease: format!("{{{p}}}:lease"),
                fence: format!("{{{p}}}:fence"),
                checkpoint: format!("{{{p}}}:checkpoint"),
                previous: format!("{{{p}}}:checkpoint:prev"),
            },
            owner: format!("{host}/{}/{started}", std::process::id()),
            lease: s.lease,
            token: AtomicU64::new(0),
        })
    }

    /// Where errors say the checkpoint is.
    fn name(&self) -> PathBuf {
        PathBuf::from(format!("redis key {}", self.keys.checkpoint))
    }

    fn lease_ms(&self) -> u64 {
        self.lease.as_millis().max(1) as u64
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        self.conn.with(f)
    }

    /// The lease as this process holds it, for a script that must act only while it does.
    pub(crate) fn fence(&self) -> Fence {
        Fence {
            lease_key: self.keys.lease.clone(),
            fence_key: self.keys.fence.clone(),
            owner: self.owner.clone(),
            token: self.token.load(Ordering::SeqCst),
        }
    }

    /// A key under the state's prefix: `{prefix}:name`.
    pub fn key(&self, name: &str) -> String {
        format!("{{{}}}:{name}", self.keys.prefix)
    }

    /// Tries once to take the lease.
    pub fn try_acquire(&self) -> Result<Lease, String> {
        let token: u64 = self.with_conn(|c| {
            redis::Script::new(ACQUIRE)
                .key(&self.keys.lease)
                .key(&self.keys.fence)
                .arg(&self.owner)
                .arg(self.lease_ms())
                .invoke(c)
        })?;
        if token == 0 {
            return Ok(Lease::Taken);
        }
        self.token.store(token, Ordering::SeqCst);
        Ok(Lease::Held(token))
    }

    /// Extends the lease: `Ok(false)` if it is no longer ours (another replica took over).
    pub fn renew(&self) -> Result<bool, String> {
        let token = self.token.load(Ordering::SeqCst);
        let ok: i64 = self.with_conn(|c| {
            redis::Script::new(RENEW)
                .key(&self.keys.lease)
                .key(&self.keys.fence)
                .arg(&self.owner)
                .arg(self.lease_ms())
                .arg(token)
                .invoke(c)
        })?;
        Ok(ok == 1)
    }

    /// Gives the lease up, if it is still ours.
    pub fn release(&self) -> Result<(), String> {
        self.with_conn(|c| {
            redis::Script::new(RELEASE)
                .key(&self.keys.lease)
                .arg(&self.owner)
                .invoke::<i64>(c)
        })
        .map(drop)
    }

    /// Another piece of state beside the checkpoint (`{prefix}:name`), written under the same
    /// lease and fencing token.
    pub fn blob(self: &Arc<Self>, name: &str) -> RedisBlob {
        RedisBlob {
            key: self.key(name),
            store: self.clone(),
        }
    }

    /// How long the lease lasts without renewal.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    fn read(&self, key: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        let unreadable = |detail: String| CheckpointError::Unreadable {
            path: PathBuf::from(format!("redis key {key}")),
            detail,
        };
        let bytes: Option<Vec<u8>> = self
            .with_conn(|c| redis::cmd("GET").arg(key).query(c))
            .map_err(unreadable)?;
        bytes.map(|b| decode(&b).map_err(unreadable)).transpose()
    }
}

/// A [`Blob`] under the state's prefix in Redis, written only by the lease holder.
pub struct RedisBlob {
    store: Arc<RedisCheckpoint>,
    key: String,
}

impl std::fmt::Debug for RedisBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RedisBlob").field(&self.key).finish()
    }
}

impl Blob for RedisBlob {
    fn read(&self) -> std::io::Result<Option<Vec<u8>>> {
        self.store
            .with_conn(|c| redis::cmd("GET").arg(&self.key).query(c))
            .map_err(std::io::Error::other)
    }

    fn write(&self, bytes: Option<&[u8]>) -> std::io::Result<()> {
        let s = &self.store;
        let token = s.token.load(Ordering::SeqCst);
        let ok: i64 = s
            .with_conn(|c| {
                redis::Script::new(PUT)
                    .key(&s.keys.lease)
                    .key(&s.keys.fence)
                    .key(&self.key)
                    .arg(&s.owner)
                    .arg(token)
                    .arg(if bytes.is_some() { "1" } else { "0" })
                    .arg(bytes.unwrap_or_default())
                    .invoke(c)
            })
            .map_err(std::io::Error::other)?;
        if ok != 1 {
            return Err(std::io::Error::other(format!(
                "{}: the Redis lease (fencing token {token}) is no longer ours",
                self.key
            )));
        }
        Ok(())
    }

    fn name(&self) -> String {
        format!("redis key {}", self.key)
    }
}

impl CheckpointStore for RedisCheckpoint {
    /// The checkpoint, else the previous one (as a file checkpoint falls back).
    fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        or_previous(
            self.read(&self.keys.checkpoint),
            || self.read(&self.keys.previous),
            &self.keys.previous,
        )
    }

    /// Durable once Redis has it (Memorystore's persistence and replica as configured).
    fn save(&self, c: &Checkpoint) -> Result<(), CheckpointError> {
        let write = |detail: String| CheckpointError::Write {
            path: self.name(),
            detail,
        };
        let bytes = serde_json::to_vec(c).map_err(|e| write(e.to_string()))?;
        let token = self.token.load(Ordering::SeqCst);
        let ok: i64 = self
            .with_conn(|conn| {
                redis::Script::new(SAVE)
                    .key(&self.keys.lease)
                    .key(&self.keys.fence)
                    .key(&self.keys.checkpoint)
                    .key(&self.keys.previous)
                    .arg(&self.owner)
                    .arg(self.lease_ms())
                    .arg(token)
                    .arg(bytes)
                    .invoke(conn)
            })
            .map_err(write)?;
        if ok != 1 {
            return Err(write(format!(
                "the lease (fencing token {token}) is no longer ours: another replica took over; \
                 nothing is acked, the new holder counts it again"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Against the real Redis on 127.0.0.1:6379 (every machine here runs one), each test
    //! under its own key prefix.
    use super::*;
    use crate::driver::checkpoint::SCHEMA;

    fn settings(name: &str, lease_ms: u64) -> RedisSettings {
        let prefix = format!("lg-test-{name}-{}", std::process::id());
        RedisSettings {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: prefix,
            lease: Duration::from_millis(lease_ms),
            max_backlog: 1_000,
            dedupe_ttl: Duration::from_secs(600),
        }
    }

    fn checkpoint(received: u64) -> Checkpoint {
        let mut c: Checkpoint = serde_json::from_value(serde_json::json!({
            "schema": SCHEMA, "written_at": "2026-12-02T10:00:00Z",
            "pipeline": {"seen": [], "malformed": {"total": 0, "by_reason": {}, "examples": []},
                "range": null, "next": null,
                "counts": {"received": 0, "counted": 0, "malformed": 0, "late": 0},
                "held": []},
            "store": {"cells": [], "closed_until_ms": 0, "late": 0},
            "clusters": crate::fingerprint::Fingerprinter::new().export(),
            "recent_ids": [], "max_event_time": null
        }))
        .expect("a checkpoint");
        c.pipeline.counts.received = received;
        c
    }

    fn received(s: &RedisCheckpoint) -> Option<u64> {
        s.load().unwrap().map(|c| c.pipeline.counts.received)
    }

    #[test]
    fn one_holder_at_a_time_and_a_stale_holder_cannot_overwrite_its_successor() {
        let cfg = settings("fence", 300);
        let a = RedisCheckpoint::new(&cfg).unwrap();
        let b = RedisCheckpoint::new(&RedisSettings { ..cfg.clone() }).unwrap();
        let Lease::Held(first) = a.try_acquire().unwrap() else {
            panic!("a free lease is taken")
        };
        assert_eq!(b.try_acquire().unwrap(), Lease::Taken);
        a.save(&checkpoint(1)).unwrap();
        assert_eq!(received(&b), Some(1), "anyone may read");
        assert!(b.save(&checkpoint(99)).is_err(), "b never held the lease");

        // a stops renewing (paused, partitioned): after the lease time b takes over.
        std::thread::sleep(Duration::from_millis(400));
        let Lease::Held(second) = b.try_acquire().unwrap() else {
            panic!("an expired lease is taken")
        };
        assert!(second > first, "a new holder gets a newer fencing token");
        b.save(&checkpoint(2)).unwrap();
        let stale = a.save(&checkpoint(3)).unwrap_err().to_string();
        assert!(stale.contains("no longer ours"), "{stale}");
        assert!(!a.renew().unwrap(), "a learns it lost the lease");
        assert_eq!(received(&b), Some(2));

        // The previous checkpoint stays beside it, and a damaged one falls back to it.
        b.with_conn(|c| {
            redis::cmd("SET")
                .arg(&b.keys.checkpoint)
                .arg("{not json")
                .query::<()>(c)
        })
        .unwrap();
        assert_eq!(received(&b), Some(1));
        b.release().unwrap();
        assert!(matches!(a.try_acquire().unwrap(), Lease::Held(t) if t > second));
        a.release().unwrap();
        cleanup(&a);
    }

    #[test]
    fn state_beside_the_checkpoint_is_written_only_by_the_holder() {
        let cfg = settings("blob", 300);
        let a = Arc::new(RedisCheckpoint::new(&cfg).unwrap());
        let b = Arc::new(RedisCheckpoint::new(&cfg).unwrap());
        let (outbox_a, outbox_b) = (a.blob("github-outbox"), b.blob("github-outbox"));
        assert!(matches!(a.try_acquire().unwrap(), Lease::Held(_)));
        assert_eq!(outbox_a.read().unwrap(), None);
        outbox_a.write(Some(b"[1]")).unwrap();
        assert_eq!(outbox_b.read().unwrap().as_deref(), Some(&b"[1]"[..]));
        assert!(
            outbox_b.write(Some(b"[2]")).is_err(),
            "b does not hold the lease"
        );
        outbox_a.write(None).unwrap();
        assert_eq!(outbox_b.read().unwrap(), None);
        a.release().unwrap();
        cleanup(&a);
        let _ = a.with_conn(|c| redis::cmd("DEL").arg(&outbox_a.key).query::<i64>(c));
    }

    #[test]
    fn a_holder_that_renews_keeps_the_lease() {
        let a = RedisCheckpoint::new(&settings("renew", 300)).unwrap();
        let b = RedisCheckpoint::new(&settings("renew", 300)).unwrap();
        assert!(matches!(a.try_acquire().unwrap(), Lease::Held(_)));
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(100));
            assert!(a.renew().unwrap());
        }
        assert_eq!(b.try_acquire().unwrap(), Lease::Taken);
        assert_eq!(received(&a), None, "a first start: nothing to load");
        a.release().unwrap();
        cleanup(&a);
    }

    #[test]
    fn redis_down_is_an_error_that_says_so() {
        let s = RedisCheckpoint::new(&RedisSettings {
            url: "redis://127.0.0.1:1".into(),
            ..settings("down", 3000)
        })
        .unwrap();
        let e = s.try_acquire().unwrap_err();
        assert!(e.contains("cannot connect to Redis"), "{e}");
        let e = s.save(&checkpoint(1)).unwrap_err().to_string();
        assert!(e.contains("cannot be written"), "{e}");
    }

    fn cleanup(s: &RedisCheckpoint) {
        let k = &s.keys;
        let _ = s.with_conn(|c| {
            redis::cmd("DEL")
                .arg(&k.lease)
                .arg(&k.fence)
                .arg(&k.checkpoint)
                .arg(&k.previous)
                .query::<i64>(c)
        });
    }
}
