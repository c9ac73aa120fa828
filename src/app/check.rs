//! `log-gardener check-config FILE`: what a valid configuration sets, in two lines.

use std::path::Path;

use crate::config::Settings;

/// The summary `check-config` prints for a configuration that loaded.
pub fn describe(s: &Settings, file: &Path) -> String {
    let w = &s.window;
    let rules: Vec<&str> = s.escalation.rules.iter().map(|r| r.name.as_str()).collect();
    let mut out = format!(
        "{}: ok. window {}s, hop {}s, bucket {}s, lateness {}s; pubsub {}; {} rules: {}",
        file.display(),
        w.length.num_seconds(),
        w.hop.num_seconds(),
        w.bucket.num_seconds(),
        w.allowed_lateness.num_seconds(),
        s.pubsub
            .subscription
            .as_deref()
            .unwrap_or("(no subscription)"),
        rules.len(),
        rules.join(", ")
    );
    out.push('\n');
    match &s.github {
        Some(g) => out.push_str(&format!(
            "github: {}/{} at {}, label {:?}, issues for {} and above",
            g.owner, g.repo, g.api_url, g.label, s.issue_min_priority
        )),
        None => out.push_str("github: off (github.repo is empty)"),
    }
    out
}
