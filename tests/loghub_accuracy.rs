//! The parser accuracy gate: `log-gardener parse` scored by ../shared/tools/loghub_eval.py on
//! the Loghub-2k data sets in ../shared/data (read in place, never copied: evaluation-only
//! licence). Average grouping accuracy must be ≥ 0.93 and parsing accuracy ≥ 0.75.

use std::path::Path;
use std::process::Command;

const MIN_GA: f64 = 0.93;
const MIN_PA: f64 = 0.75;

#[test]
fn loghub_grouping_and_parsing_accuracy_meet_the_targets() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let tool = shared.join("tools/loghub_eval.py");
    assert!(
        tool.exists(),
        "{} is missing: the accuracy gate needs ../shared beside the checkout (as in CI)",
        tool.display()
    );
    let out = tempfile::NamedTempFile::new().unwrap();
    let run = Command::new("python3")
        .arg(&tool)
        .args(["--parser", "cmd", "--cmd"])
        .arg(format!("{} parse", env!("CARGO_BIN_EXE_log-gardener")))
        .arg("--json")
        .arg(out.path())
        .output()
        .expect("python3 runs the evaluator");
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "evaluator failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    println!("{table}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path()).unwrap()).unwrap();
    let results = json["results"].as_object().expect("per-dataset results");
    assert!(
        results.len() >= 8,
        "expected the 8 data sets, got {}",
        results.len()
    );
    let avg = |k: &str| {
        results
            .values()
            .map(|r| r[k].as_f64().unwrap())
            .sum::<f64>()
            / results.len() as f64
    };
    let (ga, pa) = (avg("GA"), avg("PA"));
    assert!(ga >= MIN_GA, "average GA {ga:.3} < {MIN_GA}\n{table}");
    assert!(pa >= MIN_PA, "average PA {pa:.3} < {MIN_PA}\n{table}");
}
