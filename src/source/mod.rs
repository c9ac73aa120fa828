//! Where entries come from. A [`Source`] turns its input into batches of [`Delivery`]s — raw
//! LogEntry JSON with its origin and the means to settle it — and is the only stage that
//! watches for shutdown: when shutdown fires it stops reading, drops its sender, and the
//! later stages end when their input closes.
//!
//! Two sources feed the same driver: [`file::FileSource`] (bounded: an export or stdin, for
//! `replay`; nothing to settle) and [`pubsub::PubSubSource`] (unbounded: the subscription, for
//! `run`; each message must be acked or nacked, and the driver decides when).

mod decode;
pub mod export;
pub mod file;
pub mod relay;
mod scan;
pub mod slice;
pub mod pubsub;

#[cfg(any(test, feature = "test-util"))]
pub mod fake;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

/// One LogEntry's JSON as it arrived, not yet parsed.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub data: Bytes,
    pub origin: Origin,
}

/// Where an entry came from, to name it in a report about bad input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of a file (the line the entry starts on); `-` is stdin.
    File { path: Arc<str>, line: u64 },
    /// A Pub/Sub message, by its server-assigned id (the same on every redelivery).
    PubSub { message_id: Arc<str> },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{path}:{line}"),
            Origin::PubSub { message_id } => write!(f, "pubsub:{message_id}"),
        }
    }
}

/// What a source read: an entry to parse, or a stretch of input it could not use (counted and
/// reported like any malformed entry, with its origin).
#[derive(Debug, Clone)]
pub enum Input {
    Entry(RawEntry),
    Unreadable {
        origin: Origin,
        reason: &'static str,
        detail: String,
    },
    /// Not an entry: a bounded source read in slices of event time says every entry before
    /// `before` has been delivered, so the windows ending by then may close.
    Complete {
        before: DateTime<Utc>,
    },
}

/// Settles one message with the broker. Dropping an acker without settling it must behave
/// like a nack (the broker redelivers), which is what Pub/Sub's handler does.
pub trait Acker: Send + 'static {
    /// The message is durably accounted for: the broker may forget it.
    fn ack(self: Box<Self>);
    /// The message was not taken: the broker redelivers it (or dead-letters it).
    fn nack(self: Box<Self>);
}

/// The acker of a bounded input: a file is never redelivered, so there is nothing to settle.
/// A zero-sized type, so boxing it allocates nothing.
pub struct NoAck;

impl Acker for NoAck {
    fn ack(self: Box<Self>) {}
    fn nack(self: Box<Self>) {}
}

/// One message from a source.
pub struct Delivery {
    pub input: Input,
    pub acker: Box<dyn Acker>,
}

impl Delivery {
    /// A delivery of a bounded input (nothing to settle).
    pub fn unsettled(input: Input) -> Delivery {
        Delivery {
            input,
            acker: Box::new(NoAck),
        }
    }

    /// The broker's message id, which a redelivery repeats; `None` for file input.
    pub fn message_id(&self) -> Option<&str> {
        let origin = match &self.input {
            Input::Entry(e) => &e.origin,
            Input::Unreadable { origin, .. } => origin,
            Input::Complete { .. } => return None,
        };
        match origin {
            Origin::PubSub { message_id } => Some(message_id),
            Origin::File { .. } => None,
        }
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("input", &self.input)
            .finish()
    }
}

/// Deliveries travel in batches so the channel costs little per entry.
pub type Batch = Vec<Delivery>;

/// How the windows of a source close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundedness {
    /// A finite input (a file): every entry is on time and the windows close at its end (or,
    /// for a large file, as each slice of event time is done: [`Input::Complete`]), so the
    /// report does not depend on the order of the file (`gcloud` writes newest first).
    Bounded,
    /// A stream: windows close when the watermark passes their end plus allowed lateness.
    Unbounded,
}

/// Why a source stopped before it was asked to. Each variant is exit code 3 of `replay`/`run`.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file or stdin could not be read: fix the path or permissions and start again.
    #[error("cannot read {path}: {detail}")]
    Read { path: String, detail: String },
    /// The input holds nothing this program can read (not JSON at all, or compressed); the
    /// message says what to export or run instead.
    #[error("{path}: {hint}")]
    Unrecognised { path: String, hint: String },
    /// The client could not be built (bad endpoint, no credentials): fix the configuration or
    /// the environment and start again.
    #[error("cannot connect to Pub/Sub: {0}")]
    Connect(String),
    /// The service refused the subscription (not found, permission denied); what was received
    /// is still checkpointed and acked.
    #[error("subscription {subscription}: {message}")]
    Subscription {
        subscription: String,
        message: String,
    },
}

/// What a source did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Deliveries handed to the driver.
    pub delivered: u64,
    /// Bytes read (bounded inputs).
    pub bytes: u64,
    /// Shutdown stopped a bounded input before its end.
    pub interrupted: bool,
}

/// A source of deliveries. It is the only stage that watches `shutdown`: when it fires, the
/// source stops reading and drops `out`, so the driver sees the end of its input; an
/// unbounded source then waits until what it handed out is settled (or dropped) and returns.
pub trait Source: Send + 'static {
    /// Bounded inputs close every window at their end; unbounded ones by watermark.
    fn boundedness(&self) -> Boundedness;

    fn run(
        self,
        out: mpsc::Sender<Batch>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = Result<SourceStats, SourceError>> + Send;
}
