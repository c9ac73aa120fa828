//! The no-leak detector shared by tests/no_leak.rs (`replay`) and tests/no_leak_live.rs
//! (`run`): which planted values, or 8-character pieces of them, occur in what a process let
//! out, and the collectors that gather those outputs (files, GitHub fake requests).

use std::collections::{HashMap, HashSet};
use std::path::Path;

/// A piece this long of a planted value counts as a leak: long enough that no honest output
/// holds one by chance (the values are random), short enough that a half-masked value is caught.
pub const PIECE: usize = 8;

/// The planted values (or 8-character pieces of them) found in `outputs` (name, text), with
/// where. One pass over the outputs: every 8-byte window is looked up among the pieces (a
/// value in another script has its pieces as bytes too).
///
/// A piece of digits only inside a longer run of digits that goes on differently from the
/// planted value is a coincidence, not a leak: 8 digits of a planted card number turn up by
/// chance in the millisecond timestamps a checkpoint holds (seen once in CI).
pub fn leaks(values: &[String], outputs: &[(String, String)]) -> Vec<String> {
    let mut pieces: HashMap<&[u8], (&str, usize)> = HashMap::new();
    for v in values {
        assert!(v.len() >= PIECE, "{v:?}");
        for (off, w) in v.as_bytes().windows(PIECE).enumerate() {
            pieces.insert(w, (v, off));
        }
    }
    let mut found: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (name, text) in outputs {
        let b = text.as_bytes();
        for (at, w) in b.windows(PIECE).enumerate() {
            let Some(&(v, off)) = pieces.get(w) else {
                continue;
            };
            if w.iter().all(u8::is_ascii_digit)
                && (digits_go_on_differently(v, off, b, at) || in_time_fraction(b, at))
            {
                continue;
            }
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

/// Whether the digit before or after the piece at `at` of `out` (the piece at `off` of `v`)
/// is not the one `v` has there.
fn digits_go_on_differently(v: &str, off: usize, out: &[u8], at: usize) -> bool {
    let v = v.as_bytes();
    let before = at.checked_sub(1).map(|i| out[i]);
    let after = out.get(at + PIECE).copied();
    let differs = |o: Option<u8>, planted: Option<u8>| matches!(o, Some(d) if d.is_ascii_digit() && planted != Some(d));
    differs(before, off.checked_sub(1).map(|i| v[i])) || differs(after, v.get(off + PIECE).copied())
}

/// Whether the digits at `at` of `out` are the fraction of a time of day (`12:34:56.<digits>`):
/// RFC 3339 timestamps with nanoseconds hold nine random-looking digits, and a planted
/// 10-digit value shares eight of them now and then (seen once: `.446357394Z` beside a planted
/// `8446357394`). A masked value never ends up there.
fn in_time_fraction(out: &[u8], at: usize) -> bool {
    let start = out[..at]
        .iter()
        .rposition(|c| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let Some(t) = start.checked_sub(9).map(|i| &out[i..start]) else {
        return false;
    };
    t[8] == b'.'
        && t[2] == b':'
        && t[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&k| t[k].is_ascii_digit())
}

pub fn assert_nothing_leaks(values: &[String], outputs: &[(String, String)]) {
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

/// The check can fail: every planted value is found in the input that carried it.
pub fn assert_finds_every_value(values: &[String], input: &str) {
    let found = leaks(values, &[("input".into(), input.to_owned())]);
    assert_eq!(
        found.len(),
        values.len(),
        "the detector misses planted values"
    );
}

/// Every file under `dir` (recursively), as (path, text).
pub fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            out.push((p.display().to_string(), text));
        }
    }
    out
}

/// Every request a wiremock server received: its URL with percent-escapes decoded (a search
/// query travels encoded) and its body.
pub async fn requests(server: &wiremock::MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                format!("{} {}", r.method, r.url),
                format!(
                    "{}\n{}",
                    percent_decoded(r.url.as_str()),
                    String::from_utf8_lossy(&r.body)
                ),
            )
        })
        .collect()
}

/// A URL with its percent-escapes decoded.
pub fn percent_decoded(url: &str) -> String {
    percent_encoding::percent_decode_str(&url.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}
