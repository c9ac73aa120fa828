//! Several replicas share one subscription (`state.redis_url`). Every replica, the lease
//! holder and those standing by, pulls from Pub/Sub and relays each message into one Redis
//! stream, `{prefix}:relay`, with one script that first sets the message's id
//! (`{prefix}:seen:<id>`, kept `state.dedupe_ttl`) if it is absent: a redelivery, to this
//! replica or another, adds nothing. Only once Redis has answered is the message acked in
//! Pub/Sub ([`relay`]). The replica holding the lease reads the stream in order
//! ([`RelaySource`]) and counts; an entry leaves the stream only when a checkpoint holding it
//! is durable (the ack rule of `driver::consumer`, unchanged), by a trim that runs only while
//! the lease and its fencing token are still the reader's.
//!
//! So a replica that dies holds at most the messages it was relaying in Pub/Sub's leases, not
//! everything it had counted since its last checkpoint: the holder's successor reads on from
//! the stream at once, in the order the messages arrived, instead of waiting for Pub/Sub to
//! redeliver a dead process's leases after newer messages (which made a backfill's entries
//! late). What the stream holds is bounded (`state.max_backlog`): past it the replicas stop
//! relaying, so Pub/Sub's flow control stops their pulls until the holder catches up.
//!
//! A malformed message that `pubsub.on_malformed = "nack"` would hand back to the
//! subscription's dead-letter policy is already acked in Pub/Sub: it moves to
//! `{prefix}:relay:dead` (the last 10,000 kept) instead.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::{Acker, Batch, Boundedness, Delivery, Input, Origin, RawEntry, Source};
use super::{SourceError, SourceStats};
use crate::config::RedisSettings;
use crate::driver::redis_checkpoint::Conn;
use crate::driver::RedisCheckpoint;
use crate::telemetry::Readiness;

/// Adds each message (`ARGV` from 3: id, data) whose id was not seen, unless the stream holds
/// `ARGV[2]` entries already: {how many were added, or -1 (full, nothing added); the stream's
/// length after}.
const RELAY: &str = r"
local len = redis.call('XLEN', KEYS[1])
if len >= tonumber(ARGV[2]) then return {-1, len} end
local added = 0
for i = 3, #ARGV, 2 do
  if redis.call('SET', KEYS[2] .. ARGV[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], '*', 'id', ARGV[i], 'd', ARGV[i + 1])
    added = added + 1
  end
end
return {added, len + added}
";

/// While the lease and token are ours: moves the nacked entries (`ARGV` from 4: stream id,
/// message id, data) to the dead stream, each only if it is still in the relay stream (so a
/// retry, or a successor reading it again, moves nothing twice), and trims the relay stream
/// below `ARGV[3]` (if not empty). 1, else 0.
const SETTLE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return 0
end
for i = 4, #ARGV, 3 do
  if redis.call('XDEL', KEYS[3], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', '10000', '*', 'id', ARGV[i + 1], 'd', ARGV[i + 2])
  end
end
if ARGV[3] ~= '' then redis.call('XTRIM', KEYS[3], 'MINID', ARGV[3]) end
return 1
";

static RELAY_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RELAY));
static SETTLE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SETTLE));

/// Entries read from the stream per call.
const READ_COUNT: usize = 500;
/// How long one read waits for new entries before it looks at shutdown again.
const READ_BLOCK: Duration = Duration::from_millis(500);
/// Batches taken from the pull at a time.
const RELAY_BATCHES: usize = 64;
/// Data relayed by one script, at most (plus one message).
const CHUNK_BYTES: usize = 4 << 20;

/// The relay stream in Redis and how to reach it.
pub struct Relay {
    url: String,
    /// The relaying side's connection.
    conn: Conn,
    stream: String,
    seen: String,
    dead: String,
    dedupe_ttl_s: u64,
    max_backlog: u64,
    /// Told when relaying or reading the stream fails, and when it works again.
    readiness: Readiness,
}

/// The parts of `/readyz` the relay answers for.
const WRITING: &str = "relaying to Redis";
const READING: &str = "reading the relay stream";

/// What one relay script did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayed {
    /// This many of the messages were new; the rest had been relayed before.
    Added(u64),
    /// The stream holds `state.max_backlog` entries: nothing added.
    Full,
}

impl Relay {
    pub fn new(s: &RedisSettings, store: &RedisCheckpoint) -> Result<Relay, String> {
        Ok(Relay {
            url: s.url.clone(),
            conn: Conn::new(&s.url, Duration::from_secs(5))?,
            stream: store.key("relay"),
            seen: store.key("seen:"),
            dead: store.key("relay:dead"),
            dedupe_ttl_s: s.dedupe_ttl.as_secs().max(1),
            max_backlog: s.max_backlog,
            readiness: Readiness::default(),
        })
    }

    /// This relay reports to `readiness` (`/readyz`) while relaying or reading fails.
    pub fn with_readiness(mut self, readiness: Readiness) -> Relay {
        self.readiness = readiness;
        self
    }

    /// Adds the messages not relayed before (by id), in one script: all or nothing. With the
    /// stream's length after it.
    pub fn push(&self, messages: &[(Arc<str>, Bytes)]) -> Result<(Relayed, u64), String> {
        let mut script = RELAY_SCRIPT.prepare_invoke();
        script
            .key(&self.stream)
            .key(&self.seen)
            .arg(self.dedupe_ttl_s)
            .arg(self.max_backlog);
        for (id, data) in messages {
            script.arg(id.as_bytes()).arg(data.as_ref());
        }
        let (added, len): (i64, u64) = self.conn.with(|c| script.invoke(c))?;
        Ok((
            u64::try_from(added).map_or(Relayed::Full, Relayed::Added),
            len,
        ))
    }

    /// Entries in the stream: relayed, not yet in a durable checkpoint.
    #[cfg(test)]
    fn backlog(&self) -> Result<u64, String> {
        self.conn
            .with(|c| redis::cmd("XLEN").arg(&self.stream).query(c))
    }

    /// The messages moved to the dead stream, oldest first: (message id, data).
    #[cfg(test)]
    fn dead(&self) -> Result<Vec<(String, Vec<u8>)>, String> {
        let entries: Vec<(String, Vec<Vec<u8>>)> = self.conn.with(|c| {
            redis::cmd("XRANGE")
                .arg(&self.dead)
                .arg("-")
                .arg("+")
                .query(c)
        })?;
        Ok(entries.into_iter().filter_map(|(_, f)| fields(f)).collect())
    }
}

/// One stream's part of an `XREAD` answer: its key and its entries (id, fields).
type StreamRead = (String, Vec<(String, Vec<Vec<u8>>)>);

/// A stream entry's fields `id <message id> d <data>`.
fn fields(f: Vec<Vec<u8>>) -> Option<(String, Vec<u8>)> {
    let mut it = f.into_iter();
    let mut id = None;
    let mut data = None;
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        match k.as_slice() {
            b"id" => id = String::from_utf8(v).ok(),
            b"d" => data = Some(v),
            _ => {}
        }
    }
    Some((id?, data?))
}

/// What [`relay`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Messages added to the stream.
    pub added: u64,
    /// Messages it held already (redeliveries): acked, not added.
    pub duplicates: u64,
}

/// Relays what `rx` brings (Pub/Sub deliveries) into the stream until `rx` closes, acking each
/// message once Redis holds it. While Redis cannot take a batch (unreachable, or the backlog
/// full) the batch waits and is tried again, its Pub/Sub leases extended by the client; once
/// `stop` is true a batch Redis refuses is handed back to Pub/Sub instead (dropped handlers
/// are redelivered, to whichever replica pulls next).
pub async fn relay(
    relay: Arc<Relay>,
    mut rx: mpsc::Receiver<Batch>,
    mut stop: watch::Receiver<bool>,
) -> RelayStats {
    let mut stats = RelayStats::default();
    let mut batches = Vec::new();
    let mut chunk = Chunk::default();
    while rx.recv_many(&mut batches, RELAY_BATCHES).await > 0 {
        for d in batches.drain(..).flatten() {
            match &d.input {
                Input::Entry(RawEntry {
                    data,
                    origin: Origin::PubSub { message_id },
                }) => {
                    chunk.bytes += data.len();
                    chunk.messages.push((message_id.clone(), data.clone()));
                    chunk.deliveries.push(d);
                    if chunk.bytes >= CHUNK_BYTES {
                        relay_chunk(&relay, std::mem::take(&mut chunk), &mut stop, &mut stats)
                            .await;
                    }
                }
                // Pub/Sub hands out nothing else; anything else is not ours to take.
                _ => d.acker.nack(),
            }
        }
        if !chunk.deliveries.is_empty() {
            relay_chunk(&relay, std::mem::take(&mut chunk), &mut stop, &mut stats).await;
        }
    }
    stats
}

/// Deliveries relayed by one script: at most about [`CHUNK_BYTES`] of data, so a batch of
/// Pub/Sub's largest messages is not one huge Redis request.
#[derive(Default)]
struct Chunk {
    deliveries: Vec<Delivery>,
    messages: Vec<(Arc<str>, Bytes)>,
    bytes: usize,
}

/// Relays one chunk, retrying until Redis takes it (then acks it) or `stop` (then hands it
/// back: dropped handlers are redelivered).
async fn relay_chunk(
    relay: &Arc<Relay>,
    chunk: Chunk,
    stop: &mut watch::Receiver<bool>,
    stats: &mut RelayStats,
) {
    let messages = Arc::new(chunk.messages);
    let mut wait = Duration::from_millis(50);
    let mut told = false;
    loop {
        let (r, m) = (relay.clone(), messages.clone());
        let pushed = tokio::task::spawn_blocking(move || r.push(&m))
            .await
            .unwrap_or_else(|e| Err(format!("relay task failed: {e}")));
        relay
            .readiness
            .part(WRITING, pushed.as_ref().map(|_| ()).map_err(Clone::clone));
        if let (Ok((_, backlog)), Some(m)) = (&pushed, crate::telemetry::metrics::installed()) {
            m.set_relay_backlog(*backlog);
        }
        match pushed.map(|(relayed, _)| relayed) {
            Ok(Relayed::Added(added)) => {
                let duplicates = messages.len() as u64 - added;
                stats.added += added;
                stats.duplicates += duplicates;
                if let Some(m) = crate::telemetry::metrics::installed() {
                    m.relayed(added, duplicates);
                }
                for d in chunk.deliveries {
                    d.acker.ack();
                }
                return;
            }
            Ok(Relayed::Full) if !told => tracing::info!(
                stream = %relay.stream,
                max = relay.max_backlog,
                "the relay stream is full (state.max_backlog): pulling waits until the holder has counted"
            ),
            Err(e) if !told => tracing::warn!(
                error = %e,
                "cannot relay to Redis; the messages wait (unacked) and are tried again"
            ),
            _ => {}
        }
        told = true;
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

/// A stream entry id, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
struct EntryId(u64, u64);

impl EntryId {
    fn parse(s: &str) -> Option<EntryId> {
        let (ms, seq) = s.split_once('-')?;
        Some(EntryId(ms.parse().ok()?, seq.parse().ok()?))
    }

    /// The id right after this one.
    fn next(self) -> EntryId {
        match self.1.checked_add(1) {
            Some(seq) => EntryId(self.0, seq),
            None => EntryId(self.0 + 1, 0),
        }
    }
}

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// What the reader handed out and what became of it.
#[derive(Default)]
struct Book {
    /// Handed out, neither acked nor nacked: nothing from the first of these on may leave
    /// the stream.
    unsettled: BTreeSet<EntryId>,
    /// Nacked, to move to the dead stream: (stream id, message id, data).
    dead: Vec<(EntryId, Arc<str>, Bytes)>,
    /// Bytes of the unsettled entries.
    bytes: usize,
    /// Ackers alive (settled or not): the reader ends once none is.
    alive: usize,
}

fn lock(book: &Mutex<Book>) -> std::sync::MutexGuard<'_, Book> {
    book.lock().unwrap_or_else(|e| e.into_inner())
}

/// Settles one stream entry. Dropped unsettled, the entry stays in the stream for whoever
/// reads it next, as a dropped Pub/Sub handler is redelivered.
struct StreamAck {
    id: EntryId,
    message_id: Arc<str>,
    data: Bytes,
    book: Arc<Mutex<Book>>,
}

impl Acker for StreamAck {
    fn ack(self: Box<Self>) {
        let mut book = lock(&self.book);
        if book.unsettled.remove(&self.id) {
            book.bytes -= self.data.len();
        }
    }

    fn nack(self: Box<Self>) {
        let mut book = lock(&self.book);
        if book.unsettled.remove(&self.id) {
            book.bytes -= self.data.len();
        }
        book.dead
            .push((self.id, self.message_id.clone(), self.data.clone()));
    }
}

impl Drop for StreamAck {
    fn drop(&mut self) {
        lock(&self.book).alive -= 1;
    }
}

/// The relay stream as the lease holder's source: read in order from its start (what is still
/// there is what no durable checkpoint holds yet, or holds but was not yet trimmed: the
/// consumer recognises those by message id), each entry a delivery that keeps its Pub/Sub
/// message id.
pub struct RelaySource {
    pub relay: Arc<Relay>,
    /// The lease this replica holds: the trim runs only while it does.
    pub store: Arc<RedisCheckpoint>,
    /// Entries and bytes handed out and not yet settled, at most (Pub/Sub's flow control
    /// allowance, `pubsub.streams × max_outstanding_*`): the reader waits beyond them.
    pub max_unsettled: (usize, usize),
}

impl Source for RelaySource {
    fn boundedness(&self) -> Boundedness {
        Boundedness::Unbounded
    }

    async fn run(
        self,
        out: mpsc::Sender<Batch>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<SourceStats, SourceError> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let watcher = tokio::spawn(async move {
            shutdown.await;
            stopping.store(true, Ordering::SeqCst);
        });
        let read = tokio::task::spawn_blocking(move || self.read(out, &stop)).await;
        watcher.abort();
        read.map_err(|e| SourceError::Connect(format!("relay reader failed: {e}")))?
    }
}

impl RelaySource {
    /// Reads until `stop`, then waits until every delivery it handed out is settled or
    /// dropped, trimming as checkpoints settle them.
    fn read(self, out: mpsc::Sender<Batch>, stop: &AtomicBool) -> Result<SourceStats, SourceError> {
        let conn = Conn::new(&self.relay.url, READ_BLOCK + Duration::from_secs(5))
            .map_err(SourceError::Connect)?;
        let book = Arc::new(Mutex::new(Book::default()));
        let mut stats = SourceStats::default();
        let mut read_to = EntryId::default();
        let mut trimmed = EntryId::default();
        let mut failing = false;
        while !stop.load(Ordering::SeqCst) && !out.is_closed() {
            let room = self.room(&book);
            if room == 0 {
                std::thread::sleep(Duration::from_millis(20));
                self.settle(&conn, &book, read_to, &mut trimmed);
                continue;
            }
            match conn.with(|c| self.read_after(c, read_to, room)) {
                Ok(entries) => {
                    if std::mem::take(&mut failing) {
                        self.relay.readiness.part(READING, Ok(()));
                    }
                    let batch = self.deliveries(entries, &book, &mut read_to);
                    if !batch.is_empty() {
                        stats.delivered += batch.len() as u64;
                        if out.blocking_send(batch).is_err() {
                            break;
                        }
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot read the relay stream; trying again");
                    }
                    self.relay.readiness.part(READING, Err(e.to_string()));
                    failing = true;
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            if !self.settle(&conn, &book, read_to, &mut trimmed) {
                // Not ours any more: hand out nothing more and leave the end to the lease
                // keeper, which ends the process without a drain (`app::lease`).
                while !stop.load(Ordering::SeqCst) && !out.is_closed() {
                    std::thread::sleep(Duration::from_millis(100));
                }
                return Ok(stats);
            }
        }
        drop(out);
        while lock(&book).alive > 0 {
            std::thread::sleep(Duration::from_millis(50));
            self.settle(&conn, &book, read_to, &mut trimmed);
        }
        self.settle(&conn, &book, read_to, &mut trimmed);
        Ok(stats)
    }

    /// How many entries the next read may take: 0 while the deliveries not yet settled reach
    /// the allowance.
    fn room(&self, book: &Mutex<Book>) -> usize {
        let b = lock(book);
        let (entries, bytes) = self.max_unsettled;
        if b.bytes >= bytes {
            return 0;
        }
        entries.saturating_sub(b.unsettled.len()).min(READ_COUNT)
    }

    fn read_after(
        &self,
        c: &mut redis::Connection,
        after: EntryId,
        count: usize,
    ) -> redis::RedisResult<Option<Vec<StreamRead>>> {
        redis::cmd("XREAD")
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(READ_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.relay.stream)
            .arg(after.to_string())
            .query(c)
    }

    /// The read entries as deliveries, each recorded as handed out.
    fn deliveries(
        &self,
        read: Option<Vec<StreamRead>>,
        book: &Arc<Mutex<Book>>,
        read_to: &mut EntryId,
    ) -> Batch {
        let entries = read.into_iter().flatten().flat_map(|(_, e)| e);
        let mut batch = Vec::new();
        let mut b = lock(book);
        for (id, f) in entries {
            let Some(id) = EntryId::parse(&id) else {
                continue;
            };
            *read_to = (*read_to).max(id);
            // An entry not of the relay's making (none is) is skipped and trimmed with the rest.
            let Some((message_id, data)) = fields(f) else {
                continue;
            };
            let message_id: Arc<str> = message_id.into();
            let data = Bytes::from(data);
            b.unsettled.insert(id);
            b.bytes += data.len();
            b.alive += 1;
            batch.push(Delivery {
                input: Input::Entry(RawEntry {
                    data: data.clone(),
                    origin: Origin::PubSub {
                        message_id: message_id.clone(),
                    },
                }),
                acker: Box::new(StreamAck {
                    id,
                    message_id,
                    data,
                    book: book.clone(),
                }),
            });
        }
        batch
    }

    /// Moves what was nacked to the dead stream and trims what every checkpoint so far has
    /// settled. `false` once the lease is no longer ours.
    fn settle(
        &self,
        conn: &Conn,
        book: &Mutex<Book>,
        read_to: EntryId,
        trimmed: &mut EntryId,
    ) -> bool {
        let (below, dead) = {
            let mut b = lock(book);
            let below = b.unsettled.first().copied().unwrap_or(read_to.next());
            (below, std::mem::take(&mut b.dead))
        };
        if below <= *trimmed && dead.is_empty() {
            return true;
        }
        let fence = self.store.fence();
        let mut script = SETTLE_SCRIPT.prepare_invoke();
        script
            .key(&fence.lease_key)
            .key(&fence.fence_key)
            .key(&self.relay.stream)
            .key(&self.relay.dead)
            .arg(&fence.owner)
            .arg(fence.token)
            .arg(if below > *trimmed {
                below.to_string()
            } else {
                String::new()
            });
        for (entry, id, data) in &dead {
            script
                .arg(entry.to_string())
                .arg(id.as_bytes())
                .arg(data.as_ref());
        }
        match conn.with(|c| script.invoke::<i64>(c)) {
            Ok(1) => {
                *trimmed = (*trimmed).max(below);
                true
            }
            Ok(_) => {
                tracing::error!(
                    "the Redis lease is no longer ours: the relay stream is left to the new holder"
                );
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot trim the relay stream; trying again");
                lock(book).dead.extend(dead);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Against the real Redis on 127.0.0.1:6379, each test under its own key prefix.
    use super::*;
    use crate::driver::Lease;

    fn settings(prefix: &str) -> RedisSettings {
        RedisSettings {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: format!("lg-test-relay-{prefix}-{}", std::process::id()),
            lease: Duration::from_secs(10),
            max_backlog: 5,
            dedupe_ttl: Duration::from_secs(600),
        }
    }

    fn clean(store: &RedisCheckpoint) {
        let c = Conn::new("redis://127.0.0.1:6379", Duration::from_secs(5)).unwrap();
        let pattern = store.key("*");
        let keys: Vec<String> = c
            .with(|c| redis::cmd("KEYS").arg(&pattern).query(c))
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = c.with(|c| redis::cmd("DEL").arg(&keys).query(c)).unwrap();
        }
    }

    fn msg(id: &str) -> (Arc<str>, Bytes) {
        (
            id.into(),
            Bytes::from(format!("{{\"textPayload\":\"{id}\"}}")),
        )
    }

    fn ids(batch: &Batch) -> Vec<String> {
        batch
            .iter()
            .filter_map(|d| d.message_id().map(str::to_owned))
            .collect()
    }

    /// The holder's reader on `relay`, allowed `max` unsettled entries: its batches, the
    /// stop signal, and its task.
    fn reader(
        relay: &Arc<Relay>,
        store: &Arc<RedisCheckpoint>,
        max: usize,
    ) -> (
        mpsc::Receiver<Batch>,
        watch::Sender<bool>,
        tokio::task::JoinHandle<Result<SourceStats, SourceError>>,
    ) {
        let (tx, rx) = mpsc::channel(16);
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let source = RelaySource {
            relay: relay.clone(),
            store: store.clone(),
            max_unsettled: (max, usize::MAX),
        };
        let reading = tokio::spawn(source.run(tx, async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        }));
        (rx, stop_tx, reading)
    }

    /// Reads one batch from a holder's source, or waits at most 5 s.
    async fn next(rx: &mut mpsc::Receiver<Batch>) -> Batch {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a batch within 5 s")
            .expect("the source is running")
    }

    /// The real Redis refuses the stream key holding a string (WRONGTYPE): relaying and
    /// reading fail, `/readyz` says which and why, and both recover once the key is a stream.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readyz_says_while_the_relay_stream_cannot_be_written_or_read() {
        let s = settings("ready");
        let store = Arc::new(RedisCheckpoint::new(&s).unwrap());
        clean(&store);
        let readiness = Readiness::default();
        let relay = Arc::new(
            Relay::new(&s, &store)
                .unwrap()
                .with_readiness(readiness.clone()),
        );
        let c = Conn::new(&s.url, Duration::from_secs(5)).unwrap();
        let set = |v: Option<&str>| {
            let _: () = c
                .with(|c| match v {
                    Some(v) => redis::cmd("SET").arg(&relay.stream).arg(v).query(c),
                    None => redis::cmd("DEL")
                        .arg(&relay.stream)
                        .query::<i64>(c)
                        .map(drop),
                })
                .unwrap();
        };
        let failing = |part: &str| readiness.missing().iter().any(|m| m.starts_with(part));
        set(Some("not a stream"));
        let (tx, rx) = mpsc::channel(4);
        let (stop_tx, stop_rx) = watch::channel(false);
        let relaying = tokio::spawn(super::relay(relay.clone(), rx, stop_rx));
        let log = Arc::new(Mutex::new(Vec::new()));
        tx.send(vec![pulled(&log, "1", 10)]).await.unwrap();
        let acked = || log.lock().unwrap().clone();
        let eventually = |what: &'static str, cond: &dyn Fn() -> bool| {
            let start = std::time::Instant::now();
            while !cond() {
                assert!(start.elapsed() < Duration::from_secs(10), "{what}");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        eventually("relaying said failing", &|| failing(WRITING));
        assert!(acked().is_empty(), "not acked while Redis refuses it");
        set(None);
        eventually("relaying recovered", &|| !failing(WRITING));
        eventually("acked once relayed", &|| acked() == ["ack 1"]);

        assert_eq!(store.try_acquire().unwrap(), Lease::Held(1));
        set(Some("not a stream"));
        let (mut rx, stop_reading, reading) = reader(&relay, &store, usize::MAX);
        eventually("reading said failing", &|| failing(READING));
        set(None);
        eventually("reading recovered", &|| !failing(READING));
        stop_reading.send_replace(true);
        stop_tx.send_replace(true);
        drop((tx, rx.try_recv()));
        reading.await.unwrap().unwrap();
        relaying.await.unwrap();
        clean(&store);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_message_relayed_twice_is_read_once_and_leaves_only_once_settled() {
        let s = settings("once");
        let store = Arc::new(RedisCheckpoint::new(&s).unwrap());
        clean(&store);
        let a = Relay::new(&s, &store).unwrap();
        let b = Relay::new(&s, &store).unwrap();
        // Two replicas are handed the same message (a redelivery): it is added once.
        assert_eq!(
            a.push(&[msg("1"), msg("2")]).unwrap(),
            (Relayed::Added(2), 2)
        );
        assert_eq!(
            b.push(&[msg("2"), msg("3")]).unwrap(),
            (Relayed::Added(1), 3)
        );
        assert_eq!(a.backlog().unwrap(), 3);
        // Full at max_backlog (5): nothing of the batch is added.
        assert_eq!(
            a.push(&[msg("4"), msg("5")]).unwrap(),
            (Relayed::Added(2), 5)
        );
        assert_eq!(a.push(&[msg("6")]).unwrap(), (Relayed::Full, 5));
        assert_eq!(a.backlog().unwrap(), 5);

        assert_eq!(store.try_acquire().unwrap(), Lease::Held(1));
        let relay = Arc::new(a);
        let (mut rx, stop_tx, reading) = reader(&relay, &store, usize::MAX);
        let batch = next(&mut rx).await;
        assert_eq!(ids(&batch), ["1", "2", "3", "4", "5"]);
        let mut ackers: Vec<_> = batch.into_iter().map(|d| d.acker).collect();
        // "2" acked and "3" nacked, "1" not: only "3" leaves (for the dead stream); the stream
        // is trimmed below the first unsettled entry only.
        let third = ackers.remove(2);
        let second = ackers.remove(1);
        second.ack();
        third.nack();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(relay.backlog().unwrap(), 4);
        let dead = relay.dead().unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].0, "3");
        // "1" acked: "1" to "3" leave; "4" and "5" are still held.
        ackers.remove(0).ack();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(relay.backlog().unwrap(), 2);
        // Stopped with "4" acked and "5" dropped unsettled: "5" stays for the next holder.
        ackers.remove(0).ack();
        stop_tx.send_replace(true);
        drop(ackers);
        let stats = reading.await.unwrap().unwrap();
        assert_eq!(stats.delivered, 5);
        assert_eq!(relay.backlog().unwrap(), 1);
        // Room again: the batch refused before is taken, once.
        assert_eq!(
            relay.push(&[msg("6"), msg("5")]).unwrap(),
            (Relayed::Added(1), 2)
        );
        clean(&store);
    }

    /// Records what became of each message: acked, nacked or dropped unsettled.
    struct Recorded {
        id: String,
        log: Arc<Mutex<Vec<String>>>,
        settled: bool,
    }

    impl Acker for Recorded {
        fn ack(mut self: Box<Self>) {
            self.settled = true;
            self.log.lock().unwrap().push(format!("ack {}", self.id));
        }
        fn nack(mut self: Box<Self>) {
            self.settled = true;
            self.log.lock().unwrap().push(format!("nack {}", self.id));
        }
    }

    impl Drop for Recorded {
        fn drop(&mut self) {
            if !self.settled {
                self.log.lock().unwrap().push(format!("drop {}", self.id));
            }
        }
    }

    fn pulled(log: &Arc<Mutex<Vec<String>>>, id: &str, bytes: usize) -> Delivery {
        Delivery {
            input: Input::Entry(RawEntry {
                data: Bytes::from(vec![b'x'; bytes]),
                origin: Origin::PubSub {
                    message_id: id.into(),
                },
            }),
            acker: Box::new(Recorded {
                id: id.into(),
                log: log.clone(),
                settled: false,
            }),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pulled_messages_are_acked_once_redis_holds_them_and_handed_back_at_a_stop() {
        let s = settings("shell");
        let store = RedisCheckpoint::new(&s).unwrap();
        clean(&store);
        let r = Arc::new(Relay::new(&s, &store).unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel(16);
        let (stop_tx, stop_rx) = watch::channel(false);
        let relaying = tokio::spawn(relay(r.clone(), rx, stop_rx));
        // Three messages of 3 MiB take two scripts (4 MiB each at most); "a" comes twice.
        let big = 3 << 20;
        tx.send(vec![pulled(&log, "a", big), pulled(&log, "b", big)])
            .await
            .unwrap();
        tx.send(vec![pulled(&log, "c", big), pulled(&log, "a", 10)])
            .await
            .unwrap();
        let settled = |n: usize| {
            let log = log.clone();
            async move {
                for _ in 0..400 {
                    if log.lock().unwrap().len() >= n {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let log = log.lock().unwrap().clone();
                panic!("{n} messages settled within 20 s: {log:?}");
            }
        };
        settled(4).await;
        assert_eq!(*log.lock().unwrap(), ["ack a", "ack b", "ack c", "ack a"]);
        assert_eq!(r.backlog().unwrap(), 3);
        // Full (max_backlog 5): "d" and "e" fit, then "f" waits unacked; a stop hands it back.
        // (The check is before a script: the stream may pass the bound by one chunk.)
        tx.send(vec![pulled(&log, "d", 10), pulled(&log, "e", 10)])
            .await
            .unwrap();
        settled(6).await;
        tx.send(vec![pulled(&log, "f", 10)]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let so_far = log.lock().unwrap().clone();
        assert_eq!(so_far.len(), 6, "f waits: {so_far:?}");
        stop_tx.send_replace(true);
        drop(tx);
        let stats = relaying.await.unwrap();
        assert_eq!(log.lock().unwrap().last().unwrap(), "drop f");
        assert_eq!(
            stats,
            RelayStats {
                added: 5,
                duplicates: 1
            }
        );
        assert_eq!(r.backlog().unwrap(), 5);
        clean(&store);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_reader_holds_no_more_unsettled_entries_than_the_allowance() {
        let s = settings("allowance");
        let store = Arc::new(RedisCheckpoint::new(&s).unwrap());
        clean(&store);
        let relay = Arc::new(Relay::new(&s, &store).unwrap());
        relay
            .push(&[msg("1"), msg("2"), msg("3"), msg("4"), msg("5")])
            .unwrap();
        assert_eq!(store.try_acquire().unwrap(), Lease::Held(1));
        let (mut rx, stop_tx, reading) = reader(&relay, &store, 2);
        let first = next(&mut rx).await;
        assert_eq!(ids(&first), ["1", "2"]);
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(
            rx.try_recv().is_err(),
            "nothing more while two are unsettled"
        );
        // One settled: room for one more.
        let mut first = first.into_iter();
        first.next().unwrap().acker.ack();
        assert_eq!(ids(&next(&mut rx).await), ["3"]);
        drop(first);
        stop_tx.send_replace(true);
        drop(rx);
        tokio::time::timeout(Duration::from_secs(5), reading)
            .await
            .expect("the reader stops")
            .unwrap()
            .unwrap();
        // Only "1" was settled: "2" on stay for the next holder.
        assert_eq!(relay.backlog().unwrap(), 4);
        clean(&store);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_that_lost_the_lease_trims_nothing() {
        let s = settings("fenced");
        let store = Arc::new(RedisCheckpoint::new(&s).unwrap());
        clean(&store);
        let relay = Arc::new(Relay::new(&s, &store).unwrap());
        relay.push(&[msg("1")]).unwrap();
        assert_eq!(store.try_acquire().unwrap(), Lease::Held(1));
        // Another replica takes over (the lease expired while this one was paused).
        let other = RedisCheckpoint::new(&s).unwrap();
        let c = Conn::new("redis://127.0.0.1:6379", Duration::from_secs(5)).unwrap();
        let _: () = c
            .with(|c| redis::cmd("DEL").arg(store.key("lease")).query(c))
            .unwrap();
        assert_eq!(other.try_acquire().unwrap(), Lease::Held(2));
        let (mut rx, stop_tx, reading) = reader(&relay, &store, usize::MAX);
        let batch = next(&mut rx).await;
        for d in batch {
            d.acker.ack();
        }
        // Its first trim finds the lease gone: it hands out nothing more (what it counted is
        // lost with the process, which the lease keeper ends) and trims nothing.
        relay.push(&[msg("2")]).unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(rx.try_recv().is_err(), "nothing more handed out");
        stop_tx.send_replace(true);
        let stats = tokio::time::timeout(Duration::from_secs(5), reading)
            .await
            .expect("the reader stops")
            .unwrap()
            .unwrap();
        assert_eq!(stats.delivered, 1);
        assert_eq!(relay.backlog().unwrap(), 2);
        clean(&store);
    }
}
