//! Where entries come from. A source turns its input into batches of raw LogEntry JSON with
//! their origin, and is the only stage that watches for shutdown; later stages end when their
//! input channel closes.
//!
//! `file` reads exports for `replay`; `pubsub` streaming-pulls a subscription for `run`, handing
//! each message over as a [`delivery::Delivery`] that must be settled (acked or nacked).

pub mod delivery;
pub mod fake;
pub mod file;
pub mod pubsub;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

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
    /// A Pub/Sub message, by its server-assigned id.
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

/// Entries are sent in batches so the channel costs little per entry.
pub type Batch = Vec<RawEntry>;

/// How the windows of a source close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundedness {
    /// A finite input (a file): every entry is on time and all windows close at its end, so
    /// the report does not depend on the order of the file (`gcloud` writes newest first).
    Bounded,
    /// A stream: windows close when the watermark passes their end plus allowed lateness.
    Unbounded,
}
