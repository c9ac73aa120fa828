//! Why `replay` or `run` stopped, as one type that carries its documented exit code.

use crate::driver::CheckpointError;
use crate::sinks::worklog::WorklogError;
use crate::source::SourceError;

/// Why a run stopped. Each variant's doc says the exit code and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The configuration cannot be used (a key, an address, a token file, a receiver URL):
    /// exit code 2; the message names the key. Fix it and start again.
    #[error("configuration: {0}")]
    Config(String),
    /// The input cannot be read (a file, stdin, nothing readable in it) or the subscription
    /// cannot be pulled (not found, no permission): exit code 3.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The checkpoint exists but cannot be read: exit code 3. `run` refuses to start rather
    /// than count everything again; see the README for recovery.
    #[error(transparent)]
    CheckpointUnreadable(CheckpointError),
    /// A worklog could not be written: exit code 4; worklogs already written stay, and (for
    /// `run`) nothing after it was acked, so it is written again on the next start.
    #[error(transparent)]
    Worklog(#[from] WorklogError),
    /// The last checkpoint could not be written: exit code 5; its messages stay unacked and
    /// are redelivered (and recognised) on the next start.
    #[error(transparent)]
    CheckpointWrite(CheckpointError),
    /// A stage failed in a way that is a bug: exit code 1 (please report it).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// The process exit code (see README "Commands").
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Internal(_) => 1,
            AppError::Config(_) => 2,
            AppError::Source(_) | AppError::CheckpointUnreadable(_) => 3,
            AppError::Worklog(_) => 4,
            AppError::CheckpointWrite(_) => 5,
        }
    }
}

impl From<CheckpointError> for AppError {
    fn from(e: CheckpointError) -> AppError {
        match e {
            CheckpointError::Unreadable { .. } => AppError::CheckpointUnreadable(e),
            CheckpointError::Write { .. } => AppError::CheckpointWrite(e),
        }
    }
}
