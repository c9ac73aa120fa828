//! The one driver `replay` and `run` share: a source's deliveries go through the
//! [`Consumer`] (the synchronous core: pipeline, redelivery dedupe, count-tier escalation, ack
//! bookkeeping) inside [`run::Driver`] (the async shell: timers, checkpoints, acks, outputs).
//! A bounded input (a file) has no checkpoint store and closes every window at its end; a
//! stream (Pub/Sub) closes windows by watermark and acks only what a durable checkpoint holds.

pub mod checkpoint;
pub mod consumer;
pub mod dedupe;
pub mod escalation;
pub mod redis_checkpoint;
pub mod run;
pub mod watermark;

#[cfg(any(test, feature = "test-util"))]
pub use checkpoint::MemoryCheckpoint;
pub use checkpoint::{Checkpoint, CheckpointError, CheckpointStore, FileCheckpoint};
pub use consumer::{Consumer, Event, LiveStats, Settlement};
pub use redis_checkpoint::{Lease, RedisCheckpoint};
pub use run::{DriveError, DriveSummary, Driver, Outputs};
