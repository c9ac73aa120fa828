//! The `[window]`, `[stitch]` and `[input]` sections, validated: window geometry that divides
//! evenly (a zero hop would divide by zero), bounded bucket counts, stitching limits.

use chrono::TimeDelta;

use super::raw::{RawFingerprint, RawInput, RawStitch, RawWindow};
use super::{dur_in, in_range, invalid, ConfigError, StitchSettings, WindowSettings};

/// Buckets per window at most: each cluster keeps up to this many counters per window.
pub const MAX_BUCKETS_PER_WINDOW: i64 = 3600;
/// Windows one entry falls in at most (`window.length / window.hop`): each is a worklog that
/// lists the entry's cluster, so this bounds what one entry costs and writes. 60 is a
/// one-hour window closing every minute.
pub const MAX_OVERLAPPING_WINDOWS: i64 = 60;
/// Windows of history per cluster at most (the spike baseline; 720 = 30 days of hours).
pub const MAX_HISTORY: usize = 720;
/// Lines of counted tracebacks a live stitcher remembers at most: each is a parsed record in
/// memory and its redacted JSON in every checkpoint.
pub const MAX_REMEMBER_LINES: usize = 1_000_000;

pub(super) fn window_settings(w: &RawWindow) -> Result<WindowSettings, ConfigError> {
    let day = TimeDelta::days(1);
    let bucket = dur_in(
        "window.bucket",
        &w.bucket,
        TimeDelta::seconds(1),
        TimeDelta::hours(1),
    )?;
    let hop = dur_in("window.hop", &w.hop, TimeDelta::seconds(1), day)?;
    let length = dur_in("window.length", &w.length, TimeDelta::seconds(1), day)?;
    // Both are at least a second here, so the remainders below never divide by zero.
    let divides = |a: TimeDelta, b: TimeDelta| b.num_milliseconds() % a.num_milliseconds() == 0;
    if !divides(bucket, hop) {
        return Err(invalid("window.bucket", "must divide window.hop").across(&["window.hop"]));
    }
    if hop > length || !divides(hop, length) {
        return Err(invalid("window.hop", "must divide window.length").across(&["window.length"]));
    }
    let overlapping = length.num_milliseconds() / hop.num_milliseconds();
    if overlapping > MAX_OVERLAPPING_WINDOWS {
        return Err(invalid(
            "window.hop",
            format!(
                "window.length / window.hop is {overlapping}: at most \
                 {MAX_OVERLAPPING_WINDOWS} windows may overlap (each entry is counted, and its \
                 cluster written, in every window it falls in)"
            ),
        )
        .across(&["window.length"]));
    }
    if !divides(hop, day) {
        return Err(invalid(
            "window.hop",
            "must divide a day (windows are aligned to midnight UTC)",
        ));
    }
    let buckets = length.num_milliseconds() / bucket.num_milliseconds();
    if buckets > MAX_BUCKETS_PER_WINDOW {
        return Err(invalid(
            "window.bucket",
            format!(
                "window.length / window.bucket is {buckets}: at most \
                 {MAX_BUCKETS_PER_WINDOW} buckets per window (each cluster counts per bucket)"
            ),
        )
        .across(&["window.length"]));
    }
    Ok(WindowSettings {
        length,
        hop,
        bucket,
        allowed_lateness: dur_in(
            "window.allowed_lateness",
            &w.allowed_lateness,
            TimeDelta::zero(),
            length,
        )
        .map_err(|e| e.across(&["window.length"]))?,
        // Counts of closed windows are kept this long; Pub/Sub keeps unacked messages 7 days.
        revise_within: dur_in(
            "window.revise_within",
            &w.revise_within,
            TimeDelta::zero(),
            TimeDelta::days(7),
        )?,
        history: in_range("window.history", w.history, 0, MAX_HISTORY)?,
    })
}

pub(super) fn stitch_settings(s: &RawStitch) -> Result<StitchSettings, ConfigError> {
    let max_gap = dur_in(
        "stitch.max_gap",
        &s.max_gap,
        TimeDelta::zero(),
        TimeDelta::minutes(1),
    )?;
    Ok(StitchSettings {
        max_gap,
        max_lines: in_range("stitch.max_lines", s.max_lines, 1, 10_000)?,
        horizon: dur_in("stitch.horizon", &s.horizon, max_gap, TimeDelta::hours(1))?,
        remember_lines: in_range(
            "stitch.remember_lines",
            s.remember_lines,
            0,
            MAX_REMEMBER_LINES,
        )?,
    })
}

/// Pub/Sub carries at most 10 MB per message; Cloud Logging's own limit is 256 KB.
pub(super) fn max_entry_bytes(i: &RawInput) -> Result<usize, ConfigError> {
    in_range("input.max_entry_bytes", i.max_entry_bytes, 1024, 10 << 20)
}

/// Below a kilobyte every entry would be a slice of its own; past a terabyte nothing is.
pub(super) fn slice_bytes(i: &RawInput) -> Result<u64, ConfigError> {
    in_range("input.slice_bytes", i.slice_bytes, 1 << 10, 1 << 40)
}

/// Bounds of fingerprinting and of the clusters held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FingerprintSettings {
    pub config: crate::fingerprint::FingerprintConfig,
    pub max_keys: usize,
    pub max_clusters: usize,
}

pub(super) fn fingerprint_settings(f: &RawFingerprint) -> Result<FingerprintSettings, ConfigError> {
    let config = crate::fingerprint::FingerprintConfig {
        max_tokens: in_range("fingerprint.max_tokens", f.max_tokens, 8, 4096)?,
        max_templates_per_key: in_range(
            "fingerprint.max_templates_per_key",
            f.max_templates_per_key,
            16,
            1_000_000,
        )?,
        max_template_tokens: in_range(
            "fingerprint.max_template_tokens",
            f.max_template_tokens,
            1_000,
            100_000_000,
        )?,
        ..crate::fingerprint::FingerprintConfig::default()
    };
    Ok(FingerprintSettings {
        config,
        max_keys: in_range("fingerprint.max_keys", f.max_keys, 16, 1_000_000)?,
        max_clusters: in_range("fingerprint.max_clusters", f.max_clusters, 16, 10_000_000)?,
    })
}
