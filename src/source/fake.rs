//! An in-process message source for tests and benchmarks (feature `test-util`): delivers a fixed list of messages
//! and records how each was settled, in order, in a shared log that tests can also write to
//! (e.g. a fake checkpoint store noting "checkpoint written"), so the ack rule can be checked
//! as a sequence.

use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{Acker, Batch, Boundedness, Delivery, Input, Origin, RawEntry, Source};
use super::{SourceError, SourceStats};

/// One line of the shared log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLine {
    Ack(String),
    Nack(String),
    /// Dropped without being settled (the broker treats it as a nack).
    Dropped(String),
    /// Written by a fake checkpoint store: a checkpoint holding this many entries is durable.
    Checkpoint {
        received: u64,
    },
}

/// The shared, ordered log.
pub type Log = Arc<Mutex<Vec<LogLine>>>;

fn note(log: &Log, line: LogLine) {
    if let Ok(mut l) = log.lock() {
        l.push(line);
    }
}

/// Records how its message was settled.
pub struct RecordingAcker {
    id: Option<String>,
    log: Log,
}

impl RecordingAcker {
    pub fn new(id: &str, log: &Log) -> RecordingAcker {
        RecordingAcker {
            id: Some(id.to_owned()),
            log: log.clone(),
        }
    }
}

impl Acker for RecordingAcker {
    fn ack(mut self: Box<Self>) {
        if let Some(id) = self.id.take() {
            note(&self.log, LogLine::Ack(id));
        }
    }
    fn nack(mut self: Box<Self>) {
        if let Some(id) = self.id.take() {
            note(&self.log, LogLine::Nack(id));
        }
    }
}

impl Drop for RecordingAcker {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            note(&self.log, LogLine::Dropped(id));
        }
    }
}

/// A message as the fake broker holds it.
pub fn delivery(id: &str, data: impl Into<Bytes>, log: &Log) -> Delivery {
    Delivery {
        input: Input::Entry(RawEntry {
            data: data.into(),
            origin: Origin::PubSub {
                message_id: id.into(),
            },
        }),
        acker: Box::new(RecordingAcker::new(id, log)),
    }
}

/// Delivers `messages` (id, data) in order, then waits for shutdown if `hold_open` (like a
/// subscription with nothing more to say) or ends at once.
pub struct FakeSource {
    pub messages: Vec<(String, Bytes)>,
    pub log: Log,
    pub hold_open: bool,
}

impl Source for FakeSource {
    fn boundedness(&self) -> Boundedness {
        Boundedness::Unbounded
    }

    async fn run(
        self,
        out: mpsc::Sender<Batch>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<SourceStats, SourceError> {
        let mut stats = SourceStats::default();
        tokio::pin!(shutdown);
        for (id, data) in self.messages {
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(stats),
                sent = out.send(vec![delivery(&id, data, &self.log)]) => {
                    if sent.is_err() {
                        return Ok(stats);
                    }
                    stats.delivered += 1;
                }
            }
        }
        if self.hold_open {
            shutdown.await;
        }
        Ok(stats)
    }
}
