//! Issue titles, labels and bodies, rendered from a cluster report and the issue's state. Pure.
//!
//! Everything quoted from logs is redacted (the report was) and sits in a fence or code span it
//! cannot break out of, or is made inert (`safe::inert`); the body stays under GitHub's 65,536
//! characters by cutting the sample first, and says so.

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use super::model::{RelatedIssue, TrackedState};
use super::safe::{inert_title, label, truncate};
use crate::config::GithubSettings;
use crate::redact::{redact, redact_json};
use crate::report::{readable, ClusterReport};
use crate::sinks::markdown::{code_span, fence};

/// GitHub rejects bodies over 65,536 characters; leave room for the markers and a margin.
pub const MAX_BODY: usize = 60_000;
const MAX_TITLE: usize = 120;
const MAX_TEMPLATE: usize = 2_000;

/// `c` with its log-derived text redacted again. The report was redacted when built; an issue
/// may be public and outlives the worklog, so the sink does not rely on that alone.
fn redacted(c: &ClusterReport) -> ClusterReport {
    let r = |s: &str| redact(s).into_owned();
    let mut c = c.clone();
    c.template = r(&c.template);
    c.service = r(&c.service);
    c.modules = c.modules.iter().map(|m| r(m)).collect();
    c.functions = c.functions.iter().map(|f| r(f)).collect();
    if let Some(sample) = &mut c.sample {
        redact_json(sample);
    }
    c
}

/// "[P1] Database connection to <*> failed", redacted and inert.
pub fn title(c: &ClusterReport) -> String {
    let text = readable(&redact(&c.template));
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let (cut, _) = truncate(&one_line, MAX_TITLE);
    format!("[{}] {}", c.priority, inert_title(&cut))
}

/// Our label, then priority, service and kind (the rule that set the priority, or the severity).
pub fn labels(c: &ClusterReport, ours: &str) -> Vec<String> {
    let kind = match &c.rule {
        Some(rule) => rule.clone(),
        None => c.severity.to_string().to_lowercase(),
    };
    vec![
        ours.to_owned(),
        format!("priority:{}", c.priority),
        label("service:", &c.service),
        label("kind:", &kind),
    ]
}

/// The longest literal stretch of the template: what a search or a log query can look for.
pub fn key_phrase(template: &str) -> String {
    let best = template
        .split("<*>")
        .map(|s| s.trim_matches(|c: char| !c.is_alphanumeric()))
        .max_by_key(|s| s.chars().filter(|c| c.is_alphabetic()).count())
        .unwrap_or("");
    let words: Vec<&str> = best.split_whitespace().take(8).collect();
    words.join(" ")
}

/// A Cloud Logging console link for the cluster: service, severity and its key phrase.
pub fn logging_link(c: &ClusterReport, project: Option<&str>) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut filter = format!(
        "resource.labels.service_name={}\nseverity={}",
        quote(&c.service),
        c.severity
    );
    let phrase = key_phrase(&c.template);
    if !phrase.is_empty() {
        let _ = write!(filter, "\n{}", quote(&phrase));
    }
    let mut url = format!(
        "https://console.cloud.google.com/logs/query;query={}",
        utf8_percent_encode(&filter, NON_ALPHANUMERIC)
    );
    if let Some(p) = project {
        let _ = write!(url, "?project={}", utf8_percent_encode(p, NON_ALPHANUMERIC));
    }
    url
}

/// The whole body: markers, summary table, counts per window, sample, modules, links.
pub fn render(c: &ClusterReport, state: &TrackedState, settings: &GithubSettings) -> String {
    let c = &redacted(c);
    let mut o = state.markers(c.id);
    head(&mut o, c, state);
    counts(&mut o, state);
    let mut tail = String::new();
    modules(&mut tail, c);
    links(&mut tail, c, &state.related, settings);
    tail.push_str("\n---\n*Kept current by log-gardener at every window close. A `log-gardener:quiet` label stops its comments; closing as not planned stops it for good.*\n");
    let room = MAX_BODY.saturating_sub(o.len() + tail.len());
    sample(&mut o, c, room);
    o.push_str(&tail);
    o
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn head(o: &mut String, c: &ClusterReport, s: &TrackedState) {
    o.push_str("## Summary\n\n| | |\n|---|---|\n");
    let _ = writeln!(
        o,
        "| **Priority** | **{}** ({}) |",
        c.priority,
        c.priority.meaning()
    );
    let why = c.reason.replace('|', "\\|").replace(['\n', '\r'], " ");
    let _ = writeln!(o, "| **Why** | {} |", inert_title(&why));
    if let Some(rule) = &c.rule {
        let _ = writeln!(o, "| **Rule** | {} |", code_span(rule));
    }
    let _ = writeln!(o, "| **Service** | {} |", code_span(&c.service));
    let _ = writeln!(o, "| **Severity** | {} |", c.severity);
    let _ = writeln!(o, "| **Entries** | {} in all tracked windows |", s.total);
    let _ = writeln!(
        o,
        "| **First / last seen** | {} / {} |",
        ts(s.first_seen),
        ts(s.last_seen)
    );
    let ids: Vec<String> = s.ids.iter().map(|i| format!("`{i}`")).collect();
    let _ = writeln!(o, "| **Cluster ids** | {} |", ids.join(", "));
    if let Some(n) = s.previous {
        let _ = writeln!(
            o,
            "| **Previously** | #{n} (closed; this kind came back later) |"
        );
    }
    let (template, cut) = truncate(&c.template, MAX_TEMPLATE);
    let note = if cut { " (cut)" } else { "" };
    let _ = write!(o, "\n**Template**{note}:\n{}", fence(&template, "text"));
}

fn counts(o: &mut String, s: &TrackedState) {
    o.push_str("\n## Counts per window\n\n| window end (UTC) | entries |\n|---|---|\n");
    for (end, n) in s.windows.iter().rev() {
        let _ = writeln!(o, "| {} | {n} |", ts(*end));
    }
    let shown: u64 = s.windows.values().sum();
    if shown < s.total {
        let _ = writeln!(o, "| earlier windows | {} |", s.total - shown);
    }
}

fn sample(o: &mut String, c: &ClusterReport, room: usize) {
    let Some(sample) = &c.sample else { return };
    let pretty = serde_json::to_string_pretty(sample).unwrap_or_default();
    // The fence may grow with the text's backtick runs; 200 covers it and the heading.
    let budget = room.saturating_sub(200);
    let (text, cut) = truncate(&pretty, budget);
    let note = if cut {
        format!(
            " (cut to {budget} of {} characters to fit GitHub's limit)",
            pretty.chars().count()
        )
    } else {
        String::new()
    };
    let _ = write!(
        o,
        "\n## Sample entry\n\nThe earliest entry of the latest window, redacted{note}:\n{}",
        fence(&text, "json")
    );
}

fn modules(o: &mut String, c: &ClusterReport) {
    if c.modules.is_empty() && c.functions.is_empty() {
        return;
    }
    o.push_str("\n## Related modules\n\n");
    for m in c.modules.iter().chain(&c.functions).take(30) {
        let (m, _) = truncate(m, 200);
        let _ = writeln!(o, "- {}", code_span(&m));
    }
}

fn links(o: &mut String, c: &ClusterReport, related: &[RelatedIssue], g: &GithubSettings) {
    let _ = write!(
        o,
        "\n## Links\n\n- [Cloud Logging query for this cluster]({})\n",
        logging_link(c, g.logging_project.as_deref())
    );
    for r in related.iter().take(10) {
        let (t, _) = truncate(&r.title, 100);
        let _ = writeln!(o, "- possibly related: #{} {}", r.number, code_span(&t));
    }
}

#[cfg(test)]
mod tests;
