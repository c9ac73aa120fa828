//! `log-gardener eval`: scores the built-in fingerprinter on labelled logs in the Loghub layout
//! (GA, FGA, PA, FTA as in Loghub-2.0, per data set and averaged).
//!
//! `data` finds and reads the CSVs, [`fingerprint::parse_lines`] (the batch path of
//! `log-gardener parse`) answers a template per line, `metrics` scores them, `cli` prints the
//! table and applies the optional gates. The numbers equal those of the reference evaluator
//! `loghub_eval.py` run with `log-gardener parse` as its plug-in (checked in
//! `tests/loghub_accuracy.rs` when that tool is present). One difference: a `Content` holding a
//! line break is fingerprinted as one message, as the service sees it, where the line-based
//! plug-in protocol would flatten it.

pub mod cli;
pub mod data;
pub mod metrics;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fingerprint::{self, ClusterId};
pub use cli::{run, EvalArgs};
pub use data::{Labelled, SetFile};
pub use metrics::{score, Scores};

/// The accepted layout, for the one-line hint after a bad `DIR`.
pub const LAYOUT_HINT: &str = "expected DIR/<Name>/<Name>_2k.log_structured_corrected.csv (or \
    any *_structured.csv), a CSV with Content and EventTemplate columns, e.g. tests/data/loghub-2k";

/// What is scored, as the JSON names it.
const PARSER: &str = concat!(
    "log-gardener ",
    env!("CARGO_PKG_VERSION"),
    " (built-in fingerprinter)"
);

/// Why an evaluation stopped. Nothing is scored then: an average over the readable part of a
/// directory would look like a result and is not one.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// `DIR` cannot be listed (absent, not a directory, no permission): exit 2, with the hint.
    #[error("cannot read directory {dir}: {source}")]
    BadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Nothing in `DIR` matches the layout: exit 2, with the hint.
    #[error("no labelled data set in {dir}")]
    NoDataSets { dir: PathBuf },
    /// A data set's CSV cannot be opened or parsed (ragged rows included): exit 3.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    /// A data set's CSV lacks a required column: exit 3.
    #[error("{path}: no `{column}` column (a labelled CSV needs Content and EventTemplate)")]
    MissingColumn { path: PathBuf, column: &'static str },
    /// A data set's CSV has a header and no line to score: exit 3.
    #[error("{path}: no data rows")]
    Empty { path: PathBuf },
}

impl EvalError {
    /// The process exit code: 2 for a directory that holds nothing to score, 3 for a file that
    /// cannot be read as labelled data.
    pub fn exit_code(&self) -> u8 {
        match self {
            EvalError::BadDir { .. } | EvalError::NoDataSets { .. } => 2,
            _ => 3,
        }
    }
}

/// One data set's result.
#[derive(Debug, Clone)]
pub struct SetReport {
    pub name: String,
    pub file: PathBuf,
    pub lines: usize,
    pub scores: Scores,
    /// Wall time of the fingerprinter alone (not reading, not scoring).
    pub elapsed: Duration,
}

/// Every data set's result, ordered by name.
#[derive(Debug, Clone)]
pub struct Report {
    pub sets: Vec<SetReport>,
}

/// The unweighted mean over data sets (each set counts once, whatever its size, as in the
/// Loghub papers); lines and time are totals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Average {
    pub data_sets: usize,
    pub lines: usize,
    pub ga: f64,
    pub fga: f64,
    pub pa: f64,
    pub fta: f64,
    pub elapsed: Duration,
}

/// Finds the data sets under `dir`, fingerprints each, scores it.
///
/// # Errors
/// See [`EvalError`]: the first data set that cannot be read stops the run.
pub fn evaluate(dir: &Path) -> Result<Report, EvalError> {
    let mut sets = Vec::new();
    for SetFile { name, path } in data::discover(dir)? {
        let labelled = data::load(&path)?;
        let (scores, elapsed) = score_set(&labelled);
        sets.push(SetReport {
            name,
            file: path,
            lines: labelled.contents.len(),
            scores,
            elapsed,
        });
    }
    Ok(Report { sets })
}

/// Runs the built-in fingerprinter over one data set's messages and scores its templates.
pub fn score_set(set: &Labelled) -> (Scores, Duration) {
    let start = Instant::now();
    let parsed = fingerprint::parse_lines(set.contents.iter().map(String::as_str));
    let elapsed = start.elapsed();
    let templates: Vec<String> = parsed
        .into_iter()
        .map(|(id, t)| parsed_template(id, &t))
        .collect();
    (metrics::score(&set.templates, &templates), elapsed)
}

/// The template a line is scored with. As in the reference evaluator, a line the parser gave no
/// template is scored by its cluster alone (`cluster:<id>`, which never equals a true template).
fn parsed_template(id: ClusterId, template: &str) -> String {
    match template.trim_end_matches('\r') {
        "" => format!("cluster:{id}"),
        t => t.to_owned(),
    }
}

impl Report {
    /// `None` when there is no data set (never after a successful [`evaluate`]).
    pub fn average(&self) -> Option<Average> {
        let n = self.sets.len();
        if n == 0 {
            return None;
        }
        let mean =
            |f: fn(&Scores) -> f64| self.sets.iter().map(|s| f(&s.scores)).sum::<f64>() / n as f64;
        Some(Average {
            data_sets: n,
            lines: self.sets.iter().map(|s| s.lines).sum(),
            ga: mean(|s| s.ga),
            fga: mean(|s| s.fga),
            pa: mean(|s| s.pa),
            fta: mean(|s| s.fta),
            elapsed: self.sets.iter().map(|s| s.elapsed).sum(),
        })
    }

    /// The table `log-gardener eval` prints: a row per data set, then the average.
    pub fn table(&self) -> String {
        let names = self.sets.iter().map(|s| s.name.len());
        let w = names.max().unwrap_or(0).max(12);
        let mut out = format!(
            "{:<w$} {:>7} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>8} {:>9}\n",
            "data set", "lines", "GA", "PA", "FGA", "FTA", "groups", "truth", "time ms", "lines/s"
        );
        for s in &self.sets {
            let c = &s.scores;
            let counts = format!("{:>7} {:>7}", c.groups, c.gt_groups);
            let metrics = [c.ga, c.pa, c.fga, c.fta];
            out += &row(w, &s.name, s.lines, metrics, &counts, s.elapsed);
        }
        if let Some(a) = self.average() {
            let name = format!("average ({})", a.data_sets);
            let metrics = [a.ga, a.pa, a.fga, a.fta];
            out += &row(w, &name, a.lines, metrics, &" ".repeat(15), a.elapsed);
        }
        out
    }

    /// The JSON `--json` writes: per data set under `results` (keys as in `loghub_eval.py`'s
    /// JSON), the average under `average`.
    pub fn to_json(&self) -> serde_json::Value {
        let results: serde_json::Map<String, serde_json::Value> = self
            .sets
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s.scores).unwrap_or_default();
                v["file"] = s.file.display().to_string().into();
                v["lines"] = s.lines.into();
                v["sec"] = s.elapsed.as_secs_f64().into();
                v["lines_s"] = per_second(s.lines, s.elapsed).into();
                (s.name.clone(), v)
            })
            .collect();
        let average = self.average().map(|a| {
            serde_json::json!({
                "data_sets": a.data_sets, "lines": a.lines,
                "GA": a.ga, "FGA": a.fga, "PA": a.pa, "FTA": a.fta,
                "sec": a.elapsed.as_secs_f64(), "lines_s": per_second(a.lines, a.elapsed),
            })
        });
        serde_json::json!({
            "parser": PARSER,
            "results": results,
            "average": average,
        })
    }
}

/// One table row; `counts` is the pre-formatted groups and truth columns (blank for the average).
fn row(w: usize, name: &str, lines: usize, m: [f64; 4], counts: &str, t: Duration) -> String {
    let ms = t.as_secs_f64() * 1e3;
    let [ga, pa, fga, fta] = m;
    let rate = per_second(lines, t);
    let scores = format!("{ga:>6.3} {pa:>6.3} {fga:>6.3} {fta:>6.3}");
    format!("{name:<w$} {lines:>7} {scores} {counts} {ms:>8.1} {rate:>9.0}\n")
}

fn per_second(lines: usize, elapsed: Duration) -> f64 {
    match elapsed.as_secs_f64() {
        s if s > 0.0 => lines as f64 / s,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, ga: f64, pa: f64, lines: usize) -> SetReport {
        SetReport {
            name: name.into(),
            file: PathBuf::from(format!("{name}.csv")),
            lines,
            scores: Scores {
                ga,
                fga: 1.0,
                pa,
                fta: 0.5,
                groups: 3,
                gt_groups: 4,
            },
            elapsed: Duration::from_millis(250),
        }
    }

    #[test]
    fn the_average_weighs_each_data_set_once() {
        let r = Report {
            sets: vec![set("a", 1.0, 0.5, 10), set("b", 0.5, 0.0, 1000)],
        };
        let a = r.average().unwrap();
        assert_eq!((a.data_sets, a.lines, a.ga, a.pa), (2, 1010, 0.75, 0.25));
        assert_eq!(a.elapsed, Duration::from_millis(500));
        assert_eq!(Report { sets: vec![] }.average(), None);
    }

    #[test]
    fn table_and_json_carry_every_set_and_the_average() {
        let r = Report {
            sets: vec![set("HDFS", 1.0, 0.5, 2000), set("Linux", 0.5, 0.25, 2000)],
        };
        let table = r.table();
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 4, "{table}");
        assert!(
            rows[1].starts_with("HDFS") && rows[1].contains(" 1.000  0.500 "),
            "{table}"
        );
        assert!(
            rows[3].starts_with("average (2)") && rows[3].contains(" 0.750  0.375 "),
            "{table}"
        );
        let json = r.to_json();
        assert_eq!(json["results"]["Linux"]["GA"], 0.5);
        assert_eq!(json["results"]["HDFS"]["lines_s"], 8000.0);
        assert_eq!(json["average"]["PA"], 0.375);
    }

    #[test]
    fn a_line_without_a_template_is_scored_by_its_cluster() {
        let id = ClusterId(7);
        assert_eq!(parsed_template(id, "a <*>"), "a <*>");
        assert_eq!(parsed_template(id, "\r"), format!("cluster:{id}"));
    }

    /// End to end on a tiny set: the fingerprinter merges values, and the scores follow.
    #[test]
    fn score_set_runs_the_fingerprinter() {
        let set = Labelled {
            contents: vec![
                "took 12 ms".into(),
                "took 345 ms".into(),
                "disk full".into(),
            ],
            templates: vec![
                "took <*> ms".into(),
                "took <*> ms".into(),
                "disk full".into(),
            ],
        };
        let (s, _) = score_set(&set);
        assert_eq!((s.ga, s.pa, s.groups, s.gt_groups), (1.0, 1.0, 2, 2));
    }
}
