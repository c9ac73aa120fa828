//! Nothing secret leaves: a corpus of planted secrets (`synth::secrets`: every kind × every
//! place a LogEntry carries text × constant and varying values) is replayed through the binary
//! with logs at debug level, once as a GitHub dry run and once against the GitHub fake; no
//! planted value, nor any 8-character piece of one, may appear in any output file, in stderr,
//! or in any request GitHub received (URLs, search queries and bodies).

mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use log_gardener::synth::{gcloud_export, secrets};
use support::github::{Fake, OWNER, REPO, TOKEN};

const PIECE: usize = 8;

/// Writes the corpus as a gcloud export; returns the planted values.
fn plant(dir: &Path) -> (std::path::PathBuf, Vec<String>) {
    let (entries, values) = secrets::corpus("2025-09-15T19:00:00Z".parse().unwrap(), 11);
    let tagged: Vec<(&'static str, serde_json::Value)> =
        entries.into_iter().map(|e| ("secret", e)).collect();
    let input = dir.join("export.json");
    let export = gcloud_export(&tagged);
    // The check can fail: every planted value is found in the input itself.
    let found = leaks(&values, &[("input".into(), export.clone())]);
    assert_eq!(
        found.len(),
        values.len(),
        "the detector misses planted values"
    );
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

/// Every file under `dir`, as (path, text).
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p != dir.join("export.json") {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            out.push((p.display().to_string(), text));
        }
    }
    out
}

/// The planted values (or 8-character pieces of them) found in `outputs`, with where. One pass
/// over the outputs: every 8-byte window is looked up among the pieces (the values are ASCII).
fn leaks(values: &[String], outputs: &[(String, String)]) -> Vec<String> {
    let mut pieces: HashMap<&[u8], &str> = HashMap::new();
    for v in values {
        assert!(v.is_ascii() && v.len() >= PIECE, "{v:?}");
        for w in v.as_bytes().windows(PIECE) {
            pieces.insert(w, v);
        }
    }
    let mut found: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (name, text) in outputs {
        let b = text.as_bytes();
        for (at, w) in b.windows(PIECE).enumerate() {
            let Some(v) = pieces.get(w) else { continue };
            if seen.insert(v) {
                let context =
                    String::from_utf8_lossy(&b[at.saturating_sub(60)..(at + 60).min(b.len())]);
                found.push(format!(
                    "{:?} of {v:?} in {name}: …{context}…",
                    String::from_utf8_lossy(w)
                ));
            }
        }
    }
    found
}

fn assert_nothing_leaks(values: &[String], outputs: &[(String, String)]) {
    let found = leaks(values, outputs);
    assert!(
        found.is_empty(),
        "{} of {} planted values leaked:\n{}",
        found.len(),
        values.len(),
        found
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
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
    for r in server.received_requests().await.unwrap_or_default() {
        outputs.push((
            format!("{} {}", r.method, r.url),
            format!(
                "{}\n{}",
                percent_decoded(r.url.as_str()),
                String::from_utf8_lossy(&r.body)
            ),
        ));
    }
    assert_nothing_leaks(&values, &outputs);
}

/// A URL with its percent-escapes decoded (a search query travels encoded).
fn percent_decoded(url: &str) -> String {
    percent_encoding::percent_decode_str(&url.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}
