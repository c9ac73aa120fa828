//! Bodies: log text stays inside its fence, pings nobody, links nothing, and the whole body
//! stays under GitHub's limit.

use super::*;
use crate::escalate::Priority;
use crate::report::ClusterReport;
use crate::sinks::github::plan::tests::{cluster, settings, t};

fn state_for(c: &ClusterReport) -> TrackedState {
    let mut s = TrackedState::empty(c.id.into(), c.priority);
    s.first_seen = c.first_seen;
    s.last_seen = c.last_seen;
    s.merge_window(t("21:00"), c.count, c.priority, 0);
    s
}

fn problem(c: &ClusterReport) -> Problem {
    Problem::from_cluster(c, t("21:00"))
}

/// The body with fenced blocks and code spans taken out: what GitHub renders as markdown.
fn outside_code(body: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<String> = None;
    for line in body.lines() {
        let ticks: String = line.chars().take_while(|&c| c == '`').collect();
        match &fence {
            Some(f) if ticks.len() >= f.len() && line.trim() == ticks => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                // Drop code spans: text between backtick runs of equal length.
                let mut rest = line;
                while let Some(i) = rest.find('`') {
                    out.push_str(&rest[..i]);
                    let run = rest[i..].chars().take_while(|&c| c == '`').count();
                    let close = "`".repeat(run);
                    match rest[i + run..].find(&close) {
                        Some(j) => rest = &rest[i + run + j + run..],
                        None => {
                            rest = &rest[i + run..];
                        }
                    }
                }
                out.push_str(rest);
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn hostile_log_text_cannot_escape_ping_or_link() {
    let mut c = cluster(1, Priority::P1);
    c.template = "```\n@everyone see #1 https://evil.example [x](http://e) <img src=x>".into();
    c.service = "svc @admin #2".into();
    c.modules = vec!["mod`ule @ops".into()];
    c.reason = "rule x: @team #4 www.evil.example".into();
    c.sample = Some(serde_json::json!({"m": "````\n@root #3 http://evil.example\n````"}));
    let body = render(&problem(&c), &state_for(&c), &settings());
    let visible = outside_code(&body);
    for bad in [
        "@everyone",
        "@admin",
        "@ops",
        "@team",
        "@root",
        "#1",
        "#2",
        "#3",
        "#4",
        "evil.example/",
        "<img",
        "www.evil",
    ] {
        assert!(!visible.contains(bad), "{bad:?} renders in:\n{visible}");
    }
    assert!(
        !title(&problem(&c), c.priority).contains("@e")
            && !title(&problem(&c), c.priority).contains("#1")
    );
}

#[test]
fn a_huge_sample_is_cut_to_fit_and_says_so() {
    let mut c = cluster(1, Priority::P1);
    c.sample = Some(serde_json::json!({"m": "x".repeat(200_000)}));
    let body = render(&problem(&c), &state_for(&c), &settings());
    assert!(body.chars().count() < 65_536, "{}", body.chars().count());
    assert!(body.contains("cut to"), "the cut is not stated");
    assert!(
        body.contains("## Links"),
        "sections after the sample were lost"
    );
}

#[test]
fn logging_link_encodes_the_filter() {
    let c = cluster(1, Priority::P1);
    let url = logging_link(&problem(&c), Some("acme-prod"));
    assert!(url.starts_with("https://console.cloud.google.com/logs/query;query="));
    assert!(url.ends_with("?project=acme%2Dprod"));
    let q = url.split("query=").nth(1).unwrap();
    assert!(!q.contains(' ') && !q.contains('"') && !q.contains(')'));
    assert!(q.contains("Database%20connection%20to"), "{q}");
    assert_eq!(
        key_phrase("<*> retry <*> Database connection to <*>"),
        "Database connection to"
    );
}

#[test]
fn the_trend_shows_every_window_newest_first_with_priority_and_worklog() {
    let c = cluster(1, Priority::P1);
    let mut s = state_for(&c);
    s.merge_window(t("22:00"), 30, Priority::P0, 0);
    let body = render(&problem(&c), &s, &settings());
    let a = body
        .find("| 2025-09-15T22:00:00Z | 30 | P0 | ████████████████████ | [worklog](https://worklogs.example.com/prod/2025-09-15T220000Z.md) |")
        .expect(&body);
    let b = body
        .find("| 2025-09-15T21:00:00Z | 12 | P1 | ████████ |")
        .unwrap();
    assert!(a < b);
}

#[test]
fn secrets_are_redacted_again_in_title_and_body() {
    let mut c = cluster(1, Priority::P1);
    c.template = "login failed password=hunter2 for <*>".into();
    c.sample =
        Some(serde_json::json!({"message": "login failed password=hunter2", "token": "abc"}));
    let body = render(&problem(&c), &state_for(&c), &settings());
    assert!(!body.contains("hunter2"), "{body}");
    assert!(
        !title(&problem(&c), c.priority).contains("hunter2"),
        "{}",
        title(&problem(&c), c.priority)
    );
}
