//! Writes one worklog per closed window: `<window-end>.md` for people and `<window-end>.json`
//! (schema `log-gardener/window-report/v1`) for machines, each written atomically so a reader
//! never sees half a file.

use std::path::{Path, PathBuf};

use crate::report::WindowReport;

/// A worklog that could not be written. Nothing else is lost: the report can be written again.
#[derive(Debug, thiserror::Error)]
pub enum WorklogError {
    /// The directory or file could not be written; the run stops with exit code 4.
    #[error("cannot write worklog {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where reports go.
pub trait WorklogSink: Send {
    /// Writes the worklog of one window; returns the paths written.
    fn write(&mut self, report: &WindowReport) -> Result<Vec<PathBuf>, WorklogError>;
}

/// Writes worklogs into a directory (created if missing).
pub struct DirWorklog {
    dir: PathBuf,
}

impl DirWorklog {
    pub fn new(dir: impl Into<PathBuf>) -> DirWorklog {
        DirWorklog { dir: dir.into() }
    }

    /// File stem for a window: its end, like `2026-11-23T060000Z` (no colons: portable).
    pub fn stem(report: &WindowReport) -> String {
        report.window.end.format("%Y-%m-%dT%H%M%SZ").to_string()
    }
}

impl WorklogSink for DirWorklog {
    fn write(&mut self, report: &WindowReport) -> Result<Vec<PathBuf>, WorklogError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| WorklogError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let stem = Self::stem(report);
        let md = self.dir.join(format!("{stem}.md"));
        let json = self.dir.join(format!("{stem}.json"));
        let mut body = serde_json::to_string_pretty(report).unwrap_or_default();
        body.push('\n');
        write_atomic(&json, body.as_bytes()).map_err(io(&json))?;
        write_atomic(&md, super::markdown::render(report).as_bytes()).map_err(io(&md))?;
        Ok(vec![md, json])
    }
}

/// Writes `path` by writing a temporary file beside it and renaming it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
