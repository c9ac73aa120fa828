//! Runs a live stitcher released, remembered so a line that comes after its run was counted
//! still joins it.
//!
//! A live run is released when no line joined it for the horizon of clock time, when the
//! watermark passes it, or when too many are open; a line of it can still come later (a
//! crashed process's leased messages redelivered a minute after the rest, a publisher lagging
//! more than the horizon). A replay stitches the whole file at once and sees one run. So the
//! stitcher keeps each released run's lines (bounded by [`StitchConfig::remember_lines`] and,
//! through [`Stitcher::forget_released_before`], by event time) and when a line of its stream
//! falls within `max_gap` of one, the run is held again with the line, and the records counted
//! for it are handed back by [`Stitcher::take_retracted`] for the caller to uncount. When the
//! reopened run is released again, it is counted as the one run a replay counts.
//!
//! Only traceback lines look here: an ordinary entry costs nothing more. A run cut at
//! `max_lines` is not remembered (a replay cuts its own runs by count, at other lines).
//!
//! [`StitchConfig::remember_lines`]: super::StitchConfig::remember_lines

use std::collections::VecDeque;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use super::{emit, kind_of, stream_of, Record, Run, Stitcher};

/// Released runs, oldest released first.
#[derive(Debug, Default)]
pub(super) struct Released {
    runs: VecDeque<Remembered>,
    /// Lines in `runs`.
    lines: usize,
}

#[derive(Debug)]
struct Remembered {
    /// The run's stream, hashed: the cheap first test.
    stream: u64,
    run: Run,
    /// Its lines as a checkpoint keeps them, made once (a checkpoint is written every few
    /// seconds; the runs remembered change rarely).
    kept: OnceLock<Vec<String>>,
}

impl Stitcher {
    /// Counts `run` (its records go to `out`) and, live, remembers its lines.
    pub(super) fn release(&mut self, run: Run, out: &mut Vec<Record>) {
        let keep = self.bounded.is_none() && self.config.remember_lines > 0;
        let lines = keep.then(|| run.clone());
        emit(run, out);
        if let Some(run) = lines {
            self.remember(run);
        }
    }

    fn remember(&mut self, run: Run) {
        self.remember_kept(run, OnceLock::new());
    }

    fn remember_kept(&mut self, run: Run, kept: OnceLock<Vec<String>>) {
        let Some(stream) = run.lines.first().map(|(_, r)| stream_of(r)) else {
            return;
        };
        let released = &mut self.released;
        released.lines += run.lines.len();
        released.runs.push_back(Remembered { stream, run, kept });
        while released.lines > self.config.remember_lines {
            let Some(oldest) = released.runs.pop_front() else {
                break;
            };
            released.lines -= oldest.run.lines.len();
        }
    }

    /// Moves the released runs `record` falls within `max_gap` of back among the open runs
    /// (clock time `now` as their last join); what they counted goes to `retracted`.
    pub(super) fn reopen(&mut self, record: &Record, now: Option<DateTime<Utc>>) {
        if self.released.runs.is_empty() {
            return;
        }
        let (stream, t, gap) = (stream_of(record), record.timestamp, self.config.max_gap);
        let mut i = 0;
        while i < self.released.runs.len() {
            let r = &self.released.runs[i];
            if r.stream != stream || !r.run.same_stream(record) || !r.run.reaches(t, gap) {
                i += 1;
                continue;
            }
            let Some(Remembered { mut run, .. }) = self.released.runs.remove(i) else {
                break;
            };
            self.released.lines -= run.lines.len();
            // The same lines stitch into the same records as when the run was released.
            emit(run.clone(), &mut self.retracted);
            run.joined = now;
            self.runs.push(run);
        }
    }

    /// The records counted for runs that lines reopened since the last call: the caller
    /// uncounts them; the reopened runs are counted again, whole, when they are released.
    pub fn take_retracted(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.retracted)
    }

    /// Whether [`Stitcher::take_retracted`] has anything (checked for every entry: cheap).
    pub fn has_retracted(&self) -> bool {
        !self.retracted.is_empty()
    }

    /// Forgets the released runs whose last line is before `t`: a line that old would change
    /// only windows that can no longer be revised.
    pub fn forget_released_before(&mut self, t: DateTime<Utc>) {
        let released = &mut self.released;
        released.runs.retain(|r| r.run.last() >= t);
        released.lines = released.runs.iter().map(|r| r.run.lines.len()).sum();
    }

    /// Lines of released runs remembered now.
    pub fn remembered(&self) -> usize {
        self.released.lines
    }

    /// The released runs remembered, for a checkpoint: each as its lines' raw JSON passed
    /// through `keep` (which redacts), made once per run.
    pub fn released_kept(&self, keep: impl Fn(&str) -> String) -> Vec<Vec<String>> {
        let kept = |r: &Remembered| {
            r.kept
                .get_or_init(|| r.run.lines.iter().map(|(_, l)| keep(&l.raw)).collect())
                .clone()
        };
        self.released.runs.iter().map(kept).collect()
    }

    /// Remembers a released run from a checkpoint (`kept`, as [`Stitcher::released_kept`]
    /// made it, and the records parsed from it): counted already, so nothing goes out.
    pub fn restore_released(&mut self, kept: Vec<String>, mut records: Vec<Record>) {
        if self.bounded.is_some() {
            return;
        }
        records.sort_by(|a, b| (a.timestamp, &a.insert_id).cmp(&(b.timestamp, &b.insert_id)));
        let lines = records.into_iter().map(|r| (kind_of(&r), r)).collect();
        self.remember_kept(
            Run {
                lines,
                joined: None,
            },
            OnceLock::from(kept),
        );
    }
}

#[cfg(test)]
mod tests;
