//! The durable state of a live run: window counts, the pipeline's state (known clusters,
//! unreported malformed input, the next window to close, held traceback lines), the ids of
//! recent messages and the event-time watermark. Messages are acked only once a checkpoint
//! holding them is written, so after a crash the checkpoint plus Pub/Sub's redeliveries give
//! back every entry exactly once.
//!
//! [`FileCheckpoint`] writes one JSON file atomically (temp file, fsync, rename, fsync the
//! directory).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::pipeline::{KeyList, PipelineSnapshot};
use crate::window::StoreSnapshot;

/// The schema name written into every checkpoint; a file of another schema is refused.
pub const SCHEMA: &str = "log-gardener/checkpoint/v2";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub schema: String,
    pub written_at: DateTime<Utc>,
    pub pipeline: PipelineSnapshot,
    pub store: StoreSnapshot,
    /// The fingerprinter's templates and former ids: known clusters keep their ids and
    /// templates across a restart.
    pub clusters: crate::fingerprint::FingerprintState,
    /// Hashes of the ids of recently taken messages, oldest first (written as base64, 11
    /// bytes a hash instead of up to 21 as JSON numbers; the numbers of older checkpoints
    /// still read).
    pub recent_ids: KeyList,
    /// The latest event time seen (the event-time watermark).
    pub max_event_time: Option<DateTime<Utc>>,
    /// The alert stage's live alerts: a restart neither re-announces nor forgets them.
    #[serde(default)]
    pub alerts: Option<crate::alerting::AlertSnapshot>,
    /// The count tiers announced and where each cluster's trailing hour ends.
    #[serde(default)]
    pub escalation: Option<super::escalation::EscalationSnapshot>,
    /// Written as the process stopped cleanly (its input closed, every window due closed):
    /// it holds every message the process was handed, so none of them comes back a lease
    /// later to a successor (which then need not hold its tracebacks for them).
    #[serde(default)]
    pub clean_stop: bool,
}

/// What went wrong with a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Neither the checkpoint nor the previous one can be read or understood: `run` refuses
    /// to start (exit code 3) rather than count everything again; move both files away to
    /// start afresh.
    #[error("checkpoint {path}: cannot be read: {detail}")]
    Unreadable { path: PathBuf, detail: String },
    /// A checkpoint could not be written: nothing is acked, the next interval tries again
    /// (Pub/Sub keeps the messages leased meanwhile, then redelivers them).
    #[error("checkpoint {path}: cannot be written: {detail}")]
    Write { path: PathBuf, detail: String },
}

/// Where checkpoints go. `save` returns only once the checkpoint is durable.
pub trait CheckpointStore: Send + Sync + 'static {
    /// The last checkpoint written, or `None` on a first start.
    fn load(&self) -> Result<Option<Checkpoint>, CheckpointError>;
    /// Makes `c` durable (replacing the previous one atomically).
    fn save(&self, c: &Checkpoint) -> Result<(), CheckpointError>;
}

/// One JSON file, replaced atomically.
#[derive(Debug, Clone)]
pub struct FileCheckpoint {
    path: PathBuf,
}

impl FileCheckpoint {
    pub fn new(path: impl Into<PathBuf>) -> FileCheckpoint {
        FileCheckpoint { path: path.into() }
    }

    /// The checkpoint before the last one, kept beside it (`<file>.prev`).
    pub fn previous(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".prev");
        self.path.with_file_name(name)
    }

    fn write_err(&self, e: impl std::fmt::Display) -> CheckpointError {
        CheckpointError::Write {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    fn read(path: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
        let unreadable = |detail: String| CheckpointError::Unreadable {
            path: path.to_owned(),
            detail,
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(e.to_string())),
        };
        decode(&bytes).map(Some).map_err(unreadable)
    }
}

/// A checkpoint from its JSON, if it is one of this schema.
pub(super) fn decode(bytes: &[u8]) -> Result<Checkpoint, String> {
    let c: Checkpoint = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if c.schema != SCHEMA {
        return Err(format!("schema {:?}, expected {SCHEMA:?}", c.schema));
    }
    Ok(c)
}

/// The checkpoint `current` read, else the one before it (`previous`, named `where_previous`):
/// missing after a crash between the two steps of a save (nothing was acked past it), or when
/// the current one is damaged — then what was acked after the previous checkpoint (at most
/// one checkpoint interval) is lost, which is said at ERROR level; a start that counts
/// everything again is worse.
pub(super) fn or_previous(
    current: Result<Option<Checkpoint>, CheckpointError>,
    previous: impl FnOnce() -> Result<Option<Checkpoint>, CheckpointError>,
    where_previous: &str,
) -> Result<Option<Checkpoint>, CheckpointError> {
    match current {
        Ok(Some(c)) => Ok(Some(c)),
        Ok(None) => previous(),
        Err(e) => match previous() {
            Ok(Some(prev)) => {
                tracing::error!(
                    error = %e,
                    previous = where_previous,
                    written_at = %prev.written_at,
                    "checkpoint damaged; starting from the previous one: entries acked after it are not counted"
                );
                Ok(Some(prev))
            }
            _ => Err(e),
        },
    }
}

impl CheckpointStore for FileCheckpoint {
    /// The checkpoint, else the previous one (see [`or_previous`]).
    fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let previous = self.previous();
        or_previous(
            Self::read(&self.path),
            || Self::read(&previous),
            &previous.display().to_string(),
        )
    }

    /// Keeps the current checkpoint as the previous one, then writes the new one atomically.
    fn save(&self, c: &Checkpoint) -> Result<(), CheckpointError> {
        let bytes = serde_json::to_vec(c).map_err(|e| self.write_err(e))?;
        match std::fs::rename(&self.path, self.previous()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.write_err(e)),
        }
        crate::atomic_file::write(&self.path, &bytes).map_err(|e| self.write_err(e))
    }
}

/// Checkpoints kept in memory, for tests: notes each save in a shared log (so tests can check
/// that acks come after it) and can be told to fail.
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Default)]
pub struct MemoryCheckpoint {
    pub saved: std::sync::Mutex<Option<Checkpoint>>,
    pub log: Option<crate::source::fake::Log>,
    pub fail: std::sync::atomic::AtomicBool,
}

#[cfg(any(test, feature = "test-util"))]
impl CheckpointStore for MemoryCheckpoint {
    fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        Ok(self.saved.lock().ok().and_then(|s| s.clone()))
    }

    fn save(&self, c: &Checkpoint) -> Result<(), CheckpointError> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(CheckpointError::Write {
                path: PathBuf::from("memory"),
                detail: "told to fail".into(),
            });
        }
        if let Ok(mut s) = self.saved.lock() {
            *s = Some(c.clone());
        }
        if let Some(log) = &self.log {
            if let Ok(mut l) = log.lock() {
                l.push(crate::source::fake::LogLine::Checkpoint {
                    received: c.pipeline.counts.received,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        let s = crate::config::Settings::load(None).unwrap();
        let store = crate::window::MemoryStore::new(crate::window::Schedule::new(&s.window), 24);
        Checkpoint {
            schema: SCHEMA.into(),
            written_at: "2026-11-23T06:00:00Z".parse().unwrap(),
            pipeline: PipelineSnapshot::default(),
            store: store.snapshot(),
            clusters: Default::default(),
            recent_ids: KeyList(vec![1, 2, 3]),
            max_event_time: None,
            alerts: None,
            escalation: None,
            clean_stop: false,
        }
    }

    #[test]
    fn a_file_checkpoint_is_replaced_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let f = FileCheckpoint::new(dir.path().join("state/ck.json"));
        assert!(f.load().unwrap().is_none(), "first start");
        let mut c = checkpoint();
        f.save(&c).unwrap();
        c.recent_ids.0.push(4);
        f.save(&c).unwrap();
        assert_eq!(f.load().unwrap().unwrap().recent_ids.0, [1, 2, 3, 4]);
        let leftovers = std::fs::read_dir(dir.path().join("state")).unwrap().count();
        assert_eq!(
            leftovers, 2,
            "the checkpoint and the previous one, no temporary files"
        );
    }

    #[test]
    fn message_ids_are_written_as_base64_and_a_checkpoint_of_numbers_still_loads() {
        let mut json = serde_json::to_value(checkpoint()).unwrap();
        assert!(json["recent_ids"].is_string(), "{}", json["recent_ids"]);
        assert_eq!(
            decode(json.to_string().as_bytes()).unwrap().recent_ids.0,
            [1, 2, 3]
        );
        // As checkpoints before the base64 form wrote them.
        json["recent_ids"] = serde_json::json!([1, 2, 3, u64::MAX]);
        let back = decode(json.to_string().as_bytes()).unwrap();
        assert_eq!(back.recent_ids.0, [1, 2, 3, u64::MAX]);
    }

    #[test]
    fn a_damaged_or_missing_checkpoint_falls_back_to_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let f = FileCheckpoint::new(dir.path().join("ck.json"));
        let mut c = checkpoint();
        f.save(&c).unwrap();
        c.recent_ids.0.push(4);
        f.save(&c).unwrap();
        // A crash between the two renames of a save: only the previous one is there.
        std::fs::rename(f.previous(), dir.path().join("keep")).unwrap();
        std::fs::rename(dir.path().join("ck.json"), f.previous()).unwrap();
        assert_eq!(f.load().unwrap().unwrap().recent_ids.0, [1, 2, 3, 4]);
        // Damaged on disk: the one before it.
        std::fs::rename(dir.path().join("keep"), f.previous()).unwrap();
        std::fs::write(dir.path().join("ck.json"), b"{\"schema\": \"log-gar").unwrap();
        assert_eq!(f.load().unwrap().unwrap().recent_ids.0, [1, 2, 3]);
    }

    #[test]
    fn an_unreadable_checkpoint_stops_the_start_instead_of_counting_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ck.json");
        std::fs::write(
            &path,
            b"{\"schema\": \"log-gardener/checkpoint/v1\", \"trunc",
        )
        .unwrap();
        let e = FileCheckpoint::new(&path).load().unwrap_err();
        assert!(matches!(e, CheckpointError::Unreadable { .. }), "{e}");
        let mut other = serde_json::to_value(checkpoint()).unwrap();
        other["schema"] = "something/else".into();
        std::fs::write(&path, other.to_string()).unwrap();
        assert!(FileCheckpoint::new(&path).load().is_err());
    }
}
