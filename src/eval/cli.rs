//! The `log-gardener eval` command: its arguments, its output and its exit codes, so `main.rs`
//! holds only the subcommand's name.
//!
//! Exit codes: 0 scored (and the gates, if given, passed); 1 an average below `--min-ga` or
//! `--min-pa`; 2 `DIR` holds nothing to score (a one-line hint shows the layout); 3 a data set's
//! file cannot be read; 4 the `--json` file cannot be written.

use std::io::Write;
use std::path::PathBuf;

use super::{evaluate, Average, LAYOUT_HINT};

/// Arguments of `log-gardener eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Directory of labelled logs: <Name>/<Name>_2k.log_structured_corrected.csv (Loghub-2.0),
    /// or any *_structured.csv with Content and EventTemplate columns.
    pub dir: PathBuf,
    /// Also write every data set's scores and the average to this JSON file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Exit 1 if the average grouping accuracy (GA) is below this (0..1).
    #[arg(long, value_name = "X", value_parser = fraction)]
    pub min_ga: Option<f64>,
    /// Exit 1 if the average parsing accuracy (PA) is below this (0..1).
    #[arg(long, value_name = "Y", value_parser = fraction)]
    pub min_pa: Option<f64>,
}

fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("`{s}` is not a number between 0 and 1")),
    }
}

/// Runs `eval` with the table on stdout and diagnostics on stderr; returns the exit code.
pub fn run(args: &EvalArgs) -> u8 {
    run_to(
        args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// [`run`] with its two outputs given, for tests. A closed stdout (`| head`) is not an error.
pub fn run_to(args: &EvalArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    // Writes to stderr are best effort: there is nowhere else to report their failure.
    let report = match evaluate(&args.dir) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            if e.exit_code() == 2 {
                let _ = writeln!(err, "hint: {LAYOUT_HINT}");
            }
            return e.exit_code();
        }
    };
    let _ = out
        .write_all(report.table().as_bytes())
        .and_then(|_| out.flush());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            let _ = writeln!(err, "error: cannot write {}: {e}", path.display());
            return 4;
        }
    }
    match report.average() {
        Some(avg) => gate(&avg, args, err),
        None => 2, // unreachable after a successful `evaluate`, which finds at least one set
    }
}

/// 1 with a line per failed gate, else 0.
fn gate(avg: &Average, args: &EvalArgs, err: &mut dyn Write) -> u8 {
    let mut code = 0;
    for (metric, value, min) in [("GA", avg.ga, args.min_ga), ("PA", avg.pa, args.min_pa)] {
        if let Some(min) = min.filter(|m| value < *m) {
            let flag = metric.to_lowercase();
            let _ = writeln!(
                err,
                "average {metric} {value:.3} is below --min-{flag} {min}"
            );
            code = 1;
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn args(dir: &Path) -> EvalArgs {
        EvalArgs {
            dir: dir.to_owned(),
            json: None,
            min_ga: None,
            min_pa: None,
        }
    }

    fn run_in(a: &EvalArgs) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_to(a, &mut out, &mut err);
        let s = |v: Vec<u8>| String::from_utf8(v).unwrap();
        (code, s(out), s(err))
    }

    /// One set: "took N ms" twice (right), "disk full" labelled as a variable template (wrong
    /// text, right group): GA 1, PA 2/3.
    fn tiny(dir: &Path) {
        let csv = "Content,EventTemplate\ntook 12 ms,took <*> ms\ntook 345 ms,took <*> ms\n\
                   disk full,disk <*>\n";
        std::fs::create_dir_all(dir.join("svc")).unwrap();
        std::fs::write(dir.join("svc/svc_structured.csv"), csv).unwrap();
    }

    #[test]
    fn scores_a_directory_writes_json_and_applies_the_gates() {
        let d = tempfile::tempdir().unwrap();
        tiny(d.path());
        let mut a = args(d.path());
        a.json = Some(d.path().join("out.json"));
        let (code, out, err) = run_in(&a);
        assert_eq!(code, 0, "{err}");
        assert!(out.lines().nth(1).unwrap().starts_with("svc "), "{out}");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path().join("out.json")).unwrap()).unwrap();
        assert_eq!(json["results"]["svc"]["GA"], 1.0);
        assert_eq!(json["average"]["lines"], 3);

        a.min_ga = Some(1.0);
        a.min_pa = Some(0.7);
        let (code, _, err) = run_in(&a);
        assert_eq!(code, 1);
        assert_eq!(err, "average PA 0.667 is below --min-pa 0.7\n");
    }

    #[test]
    fn a_bad_dir_exits_2_with_the_layout_and_a_bad_file_3() {
        let d = tempfile::tempdir().unwrap();
        let (code, out, err) = run_in(&args(d.path()));
        assert_eq!((code, out.as_str()), (2, ""));
        assert!(err.contains("no labelled data set") && err.contains("hint: expected DIR/"));

        std::fs::write(d.path().join("x_structured.csv"), "LineId,Content\n1,a\n").unwrap();
        let (code, _, err) = run_in(&args(d.path()));
        assert_eq!(code, 3);
        assert!(
            err.contains("no `EventTemplate` column") && !err.contains("hint"),
            "{err}"
        );
    }

    #[test]
    fn an_unwritable_json_file_exits_4() {
        let d = tempfile::tempdir().unwrap();
        tiny(d.path());
        let mut a = args(d.path());
        a.json = Some(d.path().join("no/such/dir/out.json"));
        assert_eq!(run_in(&a).0, 4);
    }

    #[test]
    fn gates_take_fractions_only() {
        assert_eq!(fraction("0.93"), Ok(0.93));
        assert!(fraction("93").is_err() && fraction("x").is_err() && fraction("-0.1").is_err());
    }
}
