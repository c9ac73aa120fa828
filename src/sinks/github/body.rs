//! Issue titles, labels and bodies, rendered from a tracked problem and the issue's state.
//! Pure, and the one place issue text is built.
//!
//! Everything quoted from logs is redacted (the report was) and sits in a fence or code span it
//! cannot break out of, or is made inert (`safe::inert`); the body stays under GitHub's 65,536
//! characters by cutting the sample first, and says so.

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use super::model::{RelatedIssue, TrackedState};
use super::problem::Problem;
use super::safe::{inert_title, label, truncate};
use crate::config::GithubSettings;
use crate::escalate::Priority;
use crate::redact::{redact, redact_json};
use crate::report::readable;
use crate::sinks::markdown::{code_span, fence};

/// GitHub rejects bodies over 65,536 characters; leave room for the markers and a margin.
pub const MAX_BODY: usize = 60_000;
const MAX_TITLE: usize = 120;
const MAX_TEMPLATE: usize = 2_000;

/// `c` with its log-derived text redacted again. The report was redacted when built; an issue
/// may be public and outlives the worklog, so the sink does not rely on that alone.
fn redacted(c: &Problem) -> Problem {
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
pub fn title(c: &Problem, priority: Priority) -> String {
    let text = readable(&redact(&c.template));
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let (cut, _) = truncate(&one_line, MAX_TITLE);
    format!("[{priority}] {}", inert_title(&cut))
}

/// Our label, then priority, service and kind (the rule that set the priority, or the severity).
pub fn labels(c: &Problem, priority: Priority, ours: &str) -> Vec<String> {
    let kind = match &c.rule {
        Some(rule) => rule.clone(),
        None => c.severity.to_string().to_lowercase(),
    };
    vec![
        ours.to_owned(),
        format!("priority:{priority}"),
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
    // Bounded: a 200 KB word must not become a search query or a link of that size.
    let words: Vec<String> = best
        .split_whitespace()
        .take(8)
        .map(|w| w.chars().take(40).collect())
        .collect();
    words.join(" ")
}

/// A Cloud Logging console link for the cluster: service, severity and its key phrase.
pub fn logging_link(c: &Problem, project: Option<&str>) -> String {
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

/// The worklog of the window ending at `end`, under `github.worklog_url`.
pub fn worklog_link(end: DateTime<Utc>, g: &GithubSettings) -> Option<String> {
    let base = g.worklog_url.as_deref()?;
    Some(format!(
        "{}/{}.md",
        base.trim_end_matches('/'),
        crate::sinks::worklog::stem(end)
    ))
}

/// The whole body: markers, summary table, trend per window, sample, modules, links.
pub fn render(c: &Problem, state: &TrackedState, settings: &GithubSettings) -> String {
    let c = &redacted(c);
    // The issue keeps the id it was opened for; later ids join as aliases.
    let mut o = state.markers(state.id.as_ref().unwrap_or(&c.id));
    head(&mut o, c, state);
    counts(&mut o, state, settings);
    let mut tail = String::new();
    modules(&mut tail, c);
    links(&mut tail, c, &state.related, settings);
    tail.push_str("\n---\n*Kept current by log-gardener at every window close. A `log-gardener:quiet` label stops its comments; closing as not planned stops it for good.*\n");
    let room = MAX_BODY.saturating_sub(o.len() + tail.len());
    sample(&mut o, c, room);
    o.push_str(&tail);
    o
}

/// `body` (one of ours, as [`render`] made it) with only its counts made those of `state`: the
/// hidden state, the entries row and the trend. The rest (template, sample, links, what a
/// person wrote above the marker) stays: a correction of counts knows nothing newer. A section
/// a person edited away stays away.
pub fn recount(body: &str, state: &TrackedState, settings: &GithubSettings) -> String {
    let preamble = super::model::preamble(body);
    let mut rest = &body[preamble.len()..];
    // Our two hidden lines come first; they are written anew.
    while rest.starts_with("<!-- log-gardener:") {
        rest = rest.split_once('\n').map_or("", |(_, r)| r);
    }
    let mut o = String::from(preamble);
    if let Some(id) = &state.id {
        o.push_str(&state.markers(id));
    }
    let mut trend = String::new();
    counts(&mut trend, state, settings);
    let mut at = 0;
    let mut in_trend = false;
    for (start, line) in super::model::unfenced_lines(rest) {
        if in_trend && (line.starts_with("## ") || line == "---") {
            // The trend's table and the blank line after it were skipped.
            at = start;
            in_trend = false;
        }
        if line.starts_with("| **Entries** |") {
            o.push_str(&rest[at..start]);
            let _ = writeln!(
                o,
                "| **Entries** | {} in all tracked windows |",
                state.total
            );
            at = start
                + rest[start..]
                    .find('\n')
                    .map_or(rest.len() - start, |n| n + 1);
        } else if line == "## Trend per window" {
            o.push_str(&rest[at..start]);
            o.push_str(trend.trim_start_matches('\n'));
            o.push('\n');
            in_trend = true;
        }
    }
    if !in_trend {
        o.push_str(&rest[at..]);
    }
    o
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn head(o: &mut String, c: &Problem, s: &TrackedState) {
    o.push_str("## Summary\n\n| | |\n|---|---|\n");
    let _ = writeln!(
        o,
        "| **Priority** | **{}** ({}) |",
        s.priority,
        s.priority.meaning()
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
    if let Some(r) = resource(c) {
        let _ = writeln!(o, "| **Resource** | {r} |");
    }
    let ids: Vec<String> = s.ids.iter().map(|i| code_span(&i.0)).collect();
    let _ = writeln!(o, "| **Ids** | {} |", ids.join(", "));
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

/// The sample's monitored resource and revision (Cloud Run, GKE, …), as code spans.
fn resource(c: &Problem) -> Option<String> {
    let r = c.sample.as_ref()?.get("resource")?;
    let mut parts = Vec::new();
    if let Some(t) = r.get("type").and_then(|t| t.as_str()) {
        parts.push(code_span(t));
    }
    let labels = r.get("labels").and_then(|l| l.as_object());
    for key in [
        "revision_name",
        "service_name",
        "location",
        "namespace_name",
        "pod_name",
    ] {
        if let Some(v) = labels.and_then(|l| l.get(key)).and_then(|v| v.as_str()) {
            let (v, _) = truncate(v, 120);
            parts.push(format!("{key} {}", code_span(&v)));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The trend: newest window first, with its count, priority, a bar and its worklog.
fn counts(o: &mut String, s: &TrackedState, g: &GithubSettings) {
    o.push_str("\n## Trend per window\n\n| window end (UTC) | entries | priority | | worklog |\n|---|---|---|---|---|\n");
    let max = s.windows.values().copied().max().unwrap_or(0).max(1);
    for (end, n) in s.windows.iter().rev() {
        let p = s
            .priorities
            .get(end)
            .map(|p| p.to_string())
            .unwrap_or_default();
        // A bar of at most 20 blocks, at least one for any entry.
        let bar = "█".repeat(((n * 20).div_ceil(max)) as usize);
        let log = worklog_link(*end, g)
            .map(|u| format!("[worklog]({u})"))
            .unwrap_or_default();
        let _ = writeln!(o, "| {} | {n} | {p} | {bar} | {log} |", ts(*end));
    }
    let shown: u64 = s.windows.values().sum();
    if shown < s.total {
        let _ = writeln!(o, "| earlier windows | {} | | | |", s.total - shown);
    }
}

fn sample(o: &mut String, c: &Problem, room: usize) {
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

fn modules(o: &mut String, c: &Problem) {
    if c.modules.is_empty() && c.functions.is_empty() {
        return;
    }
    o.push_str("\n## Related modules\n\n");
    for m in c.modules.iter().chain(&c.functions).take(30) {
        let (m, _) = truncate(m, 200);
        let _ = writeln!(o, "- {}", code_span(&m));
    }
}

fn links(o: &mut String, c: &Problem, related: &[RelatedIssue], g: &GithubSettings) {
    let _ = write!(
        o,
        "\n## Links\n\n- [Cloud Logging query for this problem]({})\n",
        logging_link(c, g.logging_project.as_deref())
    );
    if let Some(u) = worklog_link(c.window_end, g) {
        let _ = writeln!(
            o,
            "- [Worklog of the window ending {}]({u})",
            ts(c.window_end)
        );
    }
    for r in related.iter().take(10) {
        let (t, _) = truncate(&r.title, 100);
        let _ = writeln!(o, "- possibly related: #{} {}", r.number, code_span(&t));
    }
}

#[cfg(test)]
mod tests;
