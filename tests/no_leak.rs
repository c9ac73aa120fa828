//! Nothing secret leaves: a corpus of planted secrets (`synth::secrets`: every kind × every
//! place a LogEntry carries text × constant and varying values) is replayed through the binary
//! with logs at debug level, once as a GitHub dry run and once against the GitHub fake; no
//! planted value, nor any 8-character piece of one, may appear in any output file, in stderr,
//! or in any request GitHub received (URLs, search queries and bodies).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use log_gardener::synth::{gcloud_export, secrets};
use support::github::{Fake, OWNER, REPO, TOKEN};
use support::leaks::{assert_finds_every_value, assert_nothing_leaks, files, leaks, requests};

/// Writes the corpus as a gcloud export; returns the planted values.
fn plant(dir: &Path) -> (PathBuf, Vec<String>) {
    let (entries, values) = secrets::corpus("2025-09-15T19:00:00Z".parse().unwrap(), 11);
    let tagged: Vec<(&'static str, serde_json::Value)> =
        entries.into_iter().map(|e| ("secret", e)).collect();
    let input = dir.join("export.json");
    let export = gcloud_export(&tagged);
    assert_finds_every_value(&values, &export);
    std::fs::write(&input, export).unwrap();
    (input, values)
}

fn replay(input: &Path, out: &Path, github: Option<&str>) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_log-gardener"));
    c.env("RUST_LOG", "debug")
        .env("LOG_GARDENER__GITHUB__REPO", format!("{OWNER}/{REPO}"))
        .env("LOG_GARDENER__GITHUB__STATE_DIR", out.join("state"))
        .env("LOG_GARDENER__GITHUB__WRITE_SPACING", "1ms");
    match github {
        Some(url) => c
            .env("GITHUB_TOKEN", TOKEN)
            .env("LOG_GARDENER__GITHUB__API_URL", url),
        None => c
            .env_remove("GITHUB_TOKEN")
            .env("LOG_GARDENER__GITHUB__API_URL", "http://127.0.0.1:9"),
    };
    let run = c
        .arg("replay")
        .arg(input)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{stderr}");
    stderr
}

#[test]
fn the_detector_finds_digits_of_a_planted_value_but_not_a_coincidence_in_other_digits() {
    let card = vec!["5278286392703483".to_owned()];
    let found = |text: &str| leaks(&card, &[("out".into(), text.into())]).len();
    for leak in [
        "card 5278286392703483 ok",
        "x5278286392703483y",
        "**** 52782863927 ****",
        "last digits 86392703483",
        "15278286392703483",
    ] {
        assert_eq!(found(leak), 1, "{leak}");
    }
    // Eight of its digits inside a millisecond timestamp that goes on differently.
    assert_eq!(found("\"last_ms\":1796528639270}"), 0);
    // Eight of its digits as the nanoseconds of an RFC 3339 time (seen once in CI).
    assert_eq!(found("\"2026-12-01T10:00:00.527828639Z\""), 0);
    assert_eq!(found("at 10:00:00 527828639 leaked"), 1);
}

#[test]
fn no_planted_secret_leaves_a_dry_run_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (input, values) = plant(dir.path());
    let out = dir.path().join("out");
    let stderr = replay(&input, &out, None);
    let mut outputs = files(&out);
    assert!(
        outputs.iter().any(|(p, _)| p.ends_with(".github.json")),
        "the dry run wrote its requests"
    );
    assert!(stderr.contains("DEBUG"), "logs at debug level");
    outputs.push(("stderr".into(), stderr));
    assert_nothing_leaks(&values, &outputs);
    let (kinds, places) = secrets::coverage();
    assert!(kinds >= 40 && values.len() == kinds * places * 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_planted_secret_reaches_github() {
    let (server, gh) = Fake::start(50).await;
    let dir = tempfile::tempdir().unwrap();
    let (input, values) = plant(dir.path());
    let out = dir.path().join("out");
    let uri = server.uri();
    let stderr = {
        let (input, out) = (input.clone(), out.clone());
        tokio::task::spawn_blocking(move || replay(&input, &out, Some(&uri)))
            .await
            .unwrap()
    };
    assert!(
        !gh.lock().issues.is_empty(),
        "issues were created: {stderr}"
    );
    let mut outputs = files(&out);
    outputs.push(("stderr".into(), stderr));
    outputs.extend(requests(&server).await);
    assert_nothing_leaks(&values, &outputs);
}
