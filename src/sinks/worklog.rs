//! Writes one worklog per closed window: `<window-end>.md` for people and `<window-end>.json`
//! (schema `log-gardener/window-report/v1`) for machines, each written atomically so a reader
//! never sees half a file. Both go out as the redactor's output types (`Inert`, `InertJson`):
//! the report was redacted when built, and nothing written here can skip that.

use std::path::{Path, PathBuf};

use crate::atomic_file::{write_readable, Durability};
use crate::redact::{Inert, InertJson};
use crate::report::{GithubSummary, WindowReport};

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

    /// Records what the GitHub sink did for a window already written: the worklog is written
    /// again from the report with its `github` section (never spliced from the old file).
    fn amend(
        &mut self,
        report: &WindowReport,
        github: GithubSummary,
    ) -> Result<Vec<PathBuf>, WorklogError> {
        let mut r = report.clone();
        r.github = Some(github);
        self.write(&r)
    }
}

/// File stem for the window ending at `end`, like `2026-11-23T060000Z` (no colons: portable).
pub fn stem(end: chrono::DateTime<chrono::Utc>) -> String {
    end.format("%Y-%m-%dT%H%M%SZ").to_string()
}

/// Writes worklogs into a directory (created if missing).
#[derive(Debug, Clone)]
pub struct DirWorklog {
    dir: PathBuf,
    durability: Durability,
}

impl DirWorklog {
    /// Each worklog durable when written (`run`: a window is checkpointed as closed after).
    pub fn new(dir: impl Into<PathBuf>) -> DirWorklog {
        DirWorklog {
            dir: dir.into(),
            durability: Durability::EachWrite,
        }
    }

    /// Worklogs made durable together by [`crate::atomic_file::sync`] (`replay`, at its end).
    pub fn deferred(dir: impl Into<PathBuf>) -> DirWorklog {
        DirWorklog {
            durability: Durability::Deferred,
            ..DirWorklog::new(dir)
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl WorklogSink for DirWorklog {
    fn write(&mut self, report: &WindowReport) -> Result<Vec<PathBuf>, WorklogError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| WorklogError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let stem = stem(report.window.end);
        let md = self.dir.join(format!("{stem}.md"));
        let json = self.dir.join(format!("{stem}.json"));
        let mut body = InertJson::pretty(report);
        body.push('\n');
        write_readable(&json, body.as_bytes(), self.durability).map_err(io(&json))?;
        drop(body); // before the markdown is rendered: a large window's two texts never meet
        let page = Inert::rendered(&super::markdown::render(report));
        write_readable(&md, page.as_str().as_bytes(), self.durability).map_err(io(&md))?;
        Ok(vec![md, json])
    }
}
