//! Live mode's pure parts: the consumer core (deliveries → pipeline → ack bookkeeping), the
//! recent-message-id set that recognises redeliveries, count-tier escalation in near real
//! time, and the checkpoint that makes acking safe. `app::live` wires them to a source.

pub mod checkpoint;
pub mod consumer;
pub mod dedupe;
pub mod escalation;
pub mod alerts;

pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointStore, FileCheckpoint, MemoryCheckpoint,
};
pub use consumer::{Consumer, LiveStats, Settlement};
