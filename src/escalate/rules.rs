//! Rules and thresholds, compiled from the config, and the one function that applies them.

use regex::Regex;

use super::{Decision, Priority};
use crate::entry::Severity;

/// What a rule looks at. Every condition present must hold; a rule with none matches all.
#[derive(Debug, Clone, Default)]
pub struct RuleMatch {
    /// Matched against the cluster's template (the message with variables as `<*>`), so the
    /// same cluster always gets the same answer.
    pub message: Option<Regex>,
    /// Matched against the logger / module / function / file of the cluster.
    pub logger: Option<Regex>,
    pub service: Option<Regex>,
    /// Keeps out clusters that state a lower severity. DEFAULT states none (stdout/stderr
    /// with no level anywhere: a sidecar's `dial tcp …: i/o timeout`), so it is not kept out:
    /// its text is all there is to go by.
    pub min_severity: Option<Severity>,
    pub max_severity: Option<Severity>,
}

/// What a matching rule does to the priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// The priority is this, whatever the severity.
    Set(Priority),
    /// The severity's default priority moved by this many levels (negative = more urgent).
    Adjust(i32),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// Why the rule exists; shown next to the priority.
    pub description: Option<String>,
    pub matcher: RuleMatch,
    pub action: RuleAction,
    /// Whether count and spike thresholds may still raise the result (false for rules that
    /// demote informational noise: a flood of it is still noise).
    pub thresholds: bool,
}

/// "At least `at_least` entries in the window raises the priority by `raise` levels."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountTier {
    pub at_least: u64,
    pub raise: i32,
}

/// "A window with at least `factor` × the cluster's mean over its previous windows (and at
/// least `min_count` entries) raises the priority by `raise` levels."
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spike {
    pub factor: f64,
    pub min_count: u64,
    pub raise: i32,
}

/// The whole policy, validated at startup.
#[derive(Debug, Clone)]
pub struct Escalation {
    /// In file order; the first match decides.
    pub rules: Vec<Rule>,
    /// Sorted by `at_least`; the highest tier reached applies.
    pub count_tiers: Vec<CountTier>,
    pub spike: Option<Spike>,
    /// Thresholds never raise a cluster above this (P0 comes from rules only, by default P1).
    pub ceiling: Priority,
}

/// How far count and spike thresholds raise a cluster below WARNING (INFO, DEBUG, and DEFAULT,
/// which neither its payload nor its text marked as more) when no rule sets its priority:
/// informational, below `report.issue_min_priority`'s default, so a busy access log or a
/// cache's chatter opens no issue however often it repeats. A rule that sets a priority keeps
/// its thresholds (`client-error-request`: a flood of 4xx is a problem).
pub const QUIET_CEILING: Priority = Priority::P4;

/// The most a rule with a `min_severity` gives an entry that states no severity (DEFAULT,
/// unmarked by payload or text): its wording meets the rule, but text alone — a `print()`,
/// a help text, a test's output naming a database timeout — files an issue, it does not page.
pub const UNSTATED_CEILING: Priority = Priority::P2;

/// Everything the policy may look at for one cluster in one window.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    pub template: &'a str,
    pub logger: &'a str,
    pub service: &'a str,
    /// The most severe entry of the cluster in the window.
    pub severity: Severity,
    pub count: u64,
    /// Mean count over the cluster's previous windows; `None` for a cluster with no history.
    pub baseline: Option<f64>,
}

/// What a rule's `logger` is matched against for a code location: its logger, function and
/// file, as far as known, space-separated.
pub fn logger_of(loc: &crate::entry::CodeLocation) -> String {
    [
        loc.logger.as_deref(),
        loc.function.as_deref(),
        loc.file.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
}

impl RuleMatch {
    pub fn matches(&self, ev: &Evidence<'_>) -> bool {
        let re =
            |r: &Option<Regex>, s: &str| r.as_ref().is_none_or(|r| super::matching::is_match(r, s));
        // The severity bounds first: a comparison rules a rule out before any regex runs
        // (each window close asks this of every cluster).
        self.min_severity
            .is_none_or(|m| ev.severity >= m || ev.severity == Severity::Default)
            && self.max_severity.is_none_or(|m| ev.severity <= m)
            && re(&self.message, ev.template)
            && re(&self.logger, ev.logger)
            && re(&self.service, ev.service)
    }
}

impl Escalation {
    /// The priority of one cluster in one window, and why.
    pub fn decide(&self, ev: &Evidence<'_>) -> Decision {
        let default = Priority::from_severity(ev.severity);
        let rule = self.rules.iter().find(|r| r.matcher.matches(ev));
        let mut unstated = false;
        let (base, mut reason, thresholds) = match rule {
            None => (default, format!("severity {} default", ev.severity), true),
            Some(r) => {
                let p = match r.action {
                    RuleAction::Set(p) => p,
                    RuleAction::Adjust(d) => Priority::from_level(default.level() + d),
                };
                let mut why = r
                    .description
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                unstated = ev.severity == Severity::Default
                    && r.matcher.min_severity.is_some()
                    && p < UNSTATED_CEILING;
                if unstated {
                    why.push_str(&format!(
                        " (no severity stated: at most {UNSTATED_CEILING})"
                    ));
                }
                let p = if unstated { UNSTATED_CEILING } else { p };
                (p, format!("rule `{}`{why}", r.name), r.thresholds)
            }
        };
        let mut priority = base;
        let quiet = ev.severity < Severity::Warning
            && !rule.is_some_and(|r| matches!(r.action, RuleAction::Set(_)));
        let ceiling = if quiet {
            self.ceiling.max(QUIET_CEILING)
        } else if unstated {
            self.ceiling.max(UNSTATED_CEILING)
        } else {
            self.ceiling
        };
        if thresholds {
            for (raise, why) in self.threshold_raises(ev) {
                let raised = Priority::from_level(priority.level() - raise).max(ceiling);
                if raised < priority {
                    priority = raised;
                    reason.push_str(&format!("; raised to {raised} by {why}"));
                }
            }
        }
        Decision {
            priority,
            reason,
            rule: rule.map(|r| r.name.clone()),
        }
    }

    fn threshold_raises(&self, ev: &Evidence<'_>) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        if let Some(t) = self
            .count_tiers
            .iter()
            .rev()
            .find(|t| ev.count >= t.at_least)
        {
            out.push((
                t.raise,
                format!("count {} ≥ {} in the window", ev.count, t.at_least),
            ));
        }
        if let (Some(s), Some(base)) = (self.spike, ev.baseline) {
            if ev.count >= s.min_count && ev.count as f64 >= s.factor * base.max(1.0) {
                out.push((
                    s.raise,
                    format!("spike {} vs mean {base:.1} of previous windows", ev.count),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(template: &str, severity: Severity, count: u64, baseline: Option<f64>) -> Evidence<'_> {
        Evidence {
            template,
            logger: "app.db",
            service: "backend",
            severity,
            count,
            baseline,
        }
    }

    fn policy(rules: Vec<Rule>) -> Escalation {
        Escalation {
            rules,
            count_tiers: vec![
                CountTier {
                    at_least: 100,
                    raise: 1,
                },
                CountTier {
                    at_least: 1000,
                    raise: 2,
                },
            ],
            spike: Some(Spike {
                factor: 5.0,
                min_count: 20,
                raise: 1,
            }),
            ceiling: Priority::P1,
        }
    }

    fn rule(name: &str, message: &str, action: RuleAction, thresholds: bool) -> Rule {
        Rule {
            name: name.into(),
            description: None,
            matcher: RuleMatch {
                message: Some(Regex::new(message).unwrap()),
                ..Default::default()
            },
            action,
            thresholds,
        }
    }

    #[test]
    fn severity_default_when_no_rule_matches() {
        let d = policy(vec![]).decide(&ev("x <*>", Severity::Error, 3, None));
        assert_eq!(d.priority, Priority::P2);
        assert_eq!(d.reason, "severity ERROR default");
        assert_eq!(d.rule, None);
    }

    #[test]
    fn first_matching_rule_sets_and_names_itself() {
        let p = policy(vec![
            rule("sql", "(?i)cloud sql", RuleAction::Set(Priority::P0), true),
            rule("any", ".", RuleAction::Set(Priority::P5), true),
        ]);
        let d = p.decide(&ev(
            "Cloud SQL connection failed <*>",
            Severity::Error,
            1,
            None,
        ));
        assert_eq!((d.priority, d.rule.as_deref()), (Priority::P0, Some("sql")));
        assert!(d.reason.starts_with("rule `sql`"));
    }

    #[test]
    fn demotion_without_thresholds_stays_demoted_under_a_flood() {
        let p = policy(vec![rule(
            "golden",
            "GOLDEN PATH",
            RuleAction::Set(Priority::P4),
            false,
        )]);
        let d = p.decide(&ev(
            "GOLDEN PATH AUTH <*>",
            Severity::Critical,
            5000,
            Some(1.0),
        ));
        assert_eq!(d.priority, Priority::P4);
    }

    #[test]
    fn adjust_moves_the_severity_default() {
        let p = policy(vec![rule("w", "slow", RuleAction::Adjust(-1), true)]);
        assert_eq!(
            p.decide(&ev("slow query", Severity::Warning, 1, None))
                .priority,
            Priority::P2
        );
    }

    #[test]
    fn count_tiers_take_the_highest_reached_and_stop_at_the_ceiling() {
        let p = policy(vec![]);
        assert_eq!(
            p.decide(&ev("t", Severity::Warning, 99, None)).priority,
            Priority::P3
        );
        assert_eq!(
            p.decide(&ev("t", Severity::Warning, 100, None)).priority,
            Priority::P2
        );
        let d = p.decide(&ev("t", Severity::Warning, 1000, None));
        assert_eq!(d.priority, Priority::P1);
        assert!(d.reason.contains("count 1000 ≥ 1000"), "{}", d.reason);
        assert_eq!(
            p.decide(&ev("t", Severity::Error, 5000, None)).priority,
            Priority::P1
        );
    }

    #[test]
    fn spike_needs_history_and_a_minimum() {
        let p = policy(vec![]);
        assert_eq!(
            p.decide(&ev("t", Severity::Warning, 50, None)).priority,
            Priority::P3
        );
        assert_eq!(
            p.decide(&ev("t", Severity::Warning, 50, Some(2.0)))
                .priority,
            Priority::P2
        );
        assert_eq!(
            p.decide(&ev("t", Severity::Warning, 50, Some(20.0)))
                .priority,
            Priority::P3
        );
        assert_eq!(
            p.decide(&ev("t", Severity::Warning, 10, Some(0.0)))
                .priority,
            Priority::P3
        );
    }

    #[test]
    fn thresholds_leave_chatter_informational_unless_a_rule_sets_it() {
        let p = policy(vec![rule(
            "4xx",
            "→ 4",
            RuleAction::Set(Priority::P5),
            true,
        )]);
        for sev in [Severity::Info, Severity::Debug, Severity::Default] {
            let d = p.decide(&ev("cache refresh done in <*>", sev, 1500, None));
            assert_eq!(d.priority, Priority::P4, "{sev}: raised at most to P4");
            let d = p.decide(&ev("GET <*> 200", sev, 300, Some(2.0)));
            assert_eq!(d.priority, Priority::P4, "{sev}: a spike too");
        }
        // Unchanged: WARNING and above still climb to the ceiling, by count or by spike.
        assert_eq!(
            p.decide(&ev("t", Severity::Warning, 1500, None)).priority,
            Priority::P1
        );
        assert_eq!(
            p.decide(&ev("t", Severity::Warning, 50, Some(2.0)))
                .priority,
            Priority::P2
        );
        // A rule that sets the priority keeps its thresholds whatever the severity.
        assert_eq!(
            p.decide(&ev("GET /x → 404", Severity::Info, 1500, None))
                .priority,
            Priority::P3
        );
        // An adjusting rule starts from the severity, so the quiet ceiling holds.
        let adj = policy(vec![rule(
            "nb",
            "non-blocking",
            RuleAction::Adjust(1),
            true,
        )]);
        assert_eq!(
            adj.decide(&ev("non-blocking <*>", Severity::Info, 5000, None))
                .priority,
            Priority::P4
        );
    }

    #[test]
    fn default_severity_is_not_kept_out_by_min_severity() {
        let mut r = rule("db", "(?i)i/o timeout", RuleAction::Set(Priority::P0), true);
        r.matcher.min_severity = Some(Severity::Error);
        let p = policy(vec![r]);
        let at = |sev| p.decide(&ev("dial tcp <*>: i/o timeout", sev, 1, None));
        // Its text meets the rule, but text alone files an issue, it does not page: a help
        // text or a test's output can name a database timeout too. Volume does not page it.
        assert_eq!(at(Severity::Default).priority, UNSTATED_CEILING);
        assert!(at(Severity::Default).reason.contains("no severity stated"));
        let many = p.decide(&ev(
            "dial tcp <*>: i/o timeout",
            Severity::Default,
            5000,
            None,
        ));
        assert_eq!(many.priority, UNSTATED_CEILING);
        assert_eq!(at(Severity::Error).priority, Priority::P0);
        // A severity stated below the minimum still keeps the rule out.
        assert_eq!(at(Severity::Warning).rule, None);
        assert_eq!(at(Severity::Debug).rule, None);
        assert_eq!(at(Severity::Info).priority, Priority::P4);
    }

    #[test]
    fn same_evidence_same_decision() {
        let p = policy(vec![rule(
            "sql",
            "SQL",
            RuleAction::Set(Priority::P0),
            true,
        )]);
        let e = ev("SQL <*>", Severity::Error, 120, Some(3.0));
        assert_eq!(p.decide(&e), p.decide(&e));
    }
}
