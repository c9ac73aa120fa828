//! What a message source hands the live consumer: an entry plus the means to settle it.
//! The consumer decides *when* to ack (see `live::consumer`); the source only carries the
//! handle. A fake source (`source::fake`) implements the same trait for tests and benches.

use std::future::Future;

use tokio::sync::mpsc;

use super::RawEntry;

/// Settles one message with the broker. Dropping an acker without settling it must behave
/// like a nack (the broker redelivers), which is what Pub/Sub's handler does.
pub trait Acker: Send + 'static {
    /// The message is durably accounted for: the broker may forget it.
    fn ack(self: Box<Self>);
    /// The message was not taken: the broker redelivers it (or dead-letters it).
    fn nack(self: Box<Self>);
}

/// One message from a source.
pub struct Delivery {
    /// The broker's id of the message: the same on every redelivery.
    pub id: String,
    pub entry: RawEntry,
    pub acker: Box<dyn Acker>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").field("id", &self.id).finish()
    }
}

/// Why a source stopped before it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The client could not be built (bad endpoint, no credentials): exit code 3, fix the
    /// configuration or the environment and start again.
    #[error("cannot connect to Pub/Sub: {0}")]
    Connect(String),
    /// The service refused the subscription (not found, permission denied): exit code 3;
    /// what was received is still checkpointed and acked.
    #[error("subscription {subscription}: {message}")]
    Subscription {
        subscription: String,
        message: String,
    },
}

/// What a source did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    pub delivered: u64,
}

/// A source of settle-able messages. It is the only stage that watches `shutdown`: when it
/// fires, the source stops pulling and drops `out`, so the consumer sees the end of its input;
/// then it waits until the messages it handed out are settled (or dropped) and returns.
pub trait MessageSource: Send + 'static {
    fn run(
        self,
        out: mpsc::Sender<Delivery>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = Result<SourceStats, SourceError>> + Send;
}
