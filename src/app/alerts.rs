//! Driver events → alert events: which cluster, its template, and the priority the
//! escalation policy gives it now — the same rules the window report applies at close, on the
//! evidence there is so far (its key, its code location as the report will tell it, its
//! severity class, the count that triggered it).

use crate::alerting::{AlertEvent, AlertKind};
use crate::driver::Event;
use crate::entry::{Severity, SeverityClass};
use crate::escalate::{logger_of, Evidence};
use crate::pipeline::Pipeline;

/// The alert event for `event`, or `None` when its cluster is unknown (cannot happen for an
/// event the driver just emitted, but a restart may race a merge).
pub fn to_alert(event: &Event, pipeline: &Pipeline) -> Option<AlertEvent> {
    let (kind, fine, severity, count, at) = match *event {
        Event::NewCluster {
            fine, severity, at, ..
        } => (AlertKind::NewCluster, fine, Some(severity), 1, at),
        Event::Escalation {
            fine, count, at, ..
        } => (AlertKind::Escalation, fine, None, count, at),
    };
    let fp = pipeline.fingerprinter();
    let cluster = fp.resolve(fine)?;
    let (service, class, key) = fp.key_of(fine)?;
    let severity = severity.unwrap_or_else(|| representative(class));
    // The report's rules see the logger, function *and* file of the cluster's first entry; the
    // key holds two of them at most, or `<other loggers>` past `fingerprint.max_keys`.
    let logger = match pipeline.location_of(fine) {
        Some(location) => logger_of(&location),
        None => key.replace(':', " "),
    };
    let decision = pipeline.settings().escalation.decide(&Evidence {
        template: &cluster.template,
        logger: &logger,
        service: &service,
        severity,
        count,
        baseline: None,
    });
    Some(AlertEvent {
        kind,
        cluster: cluster.id,
        aliases: vec![fine],
        service,
        priority: decision.priority,
        template: cluster.template,
        // No entry text reaches the driver's events; the closed window's sample follows as
        // an annotation.
        sample: None,
        count: Some(count),
        issue_url: None,
        at,
    })
}

/// The severity a class stands for when no entry is at hand (the lowest of the class, so a
/// rule's `min_severity` is never met by accident).
fn representative(class: SeverityClass) -> Severity {
    match class {
        SeverityClass::Debug => Severity::Debug,
        SeverityClass::Info => Severity::Info,
        SeverityClass::Warning => Severity::Warning,
        SeverityClass::Error => Severity::Error,
        SeverityClass::Critical => Severity::Critical,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Settings;
    use crate::escalate::{Priority, Rule, RuleAction, RuleMatch};
    use crate::fingerprint::{Fingerprinter, KeyParts};
    use crate::pipeline::Outcome;
    use crate::source::{Boundedness, Origin, RawEntry};
    use crate::window::{MemoryStore, Schedule};

    fn pipeline(s: Settings) -> Pipeline {
        let store = MemoryStore::new(Schedule::new(&s.window), s.window.history);
        let fp = Arc::new(Fingerprinter::new());
        Pipeline::new(Arc::new(s), fp, Arc::new(store), Boundedness::Unbounded)
    }

    #[test]
    fn new_clusters_and_escalations_get_the_policy_s_priority() {
        let p = pipeline(Settings::load(None).unwrap());
        let fp = p.fingerprinter();
        let key = KeyParts {
            service: "api",
            class: SeverityClass::Error,
            location: "app.db:connect",
        };
        let db = fp.fingerprint(
            &key,
            "Database initialization timeout after 25.0s in staging",
        );
        let at = "2026-11-23T05:00:00Z".parse().unwrap();
        let new = Event::NewCluster {
            cluster: fp.resolve(db).unwrap().id,
            fine: db,
            severity: Severity::Error,
            at,
        };
        let a = to_alert(&new, &p).unwrap();
        assert_eq!(
            (a.kind, a.priority, a.service.as_str()),
            (AlertKind::NewCluster, Priority::P0, "api")
        );
        assert_eq!(
            (a.cluster, a.aliases.clone()),
            (fp.resolve(db).unwrap().id, vec![db])
        );
        let other = fp.fingerprint(&key, "cache miss for key 42");
        let up = Event::Escalation {
            cluster: fp.resolve(other).unwrap().id,
            fine: other,
            count: 150,
            at_least: 100,
            raise: 1,
            at,
        };
        let e = to_alert(&up, &p).unwrap();
        assert_eq!(
            (e.kind, e.priority),
            (AlertKind::Escalation, Priority::P1),
            "ERROR P2 raised by ≥100"
        );
        let unknown = Event::NewCluster {
            cluster: crate::fingerprint::ClusterId(1),
            fine: crate::fingerprint::ClusterId(1),
            severity: Severity::Error,
            at,
        };
        assert!(to_alert(&unknown, &p).is_none());
    }

    /// A rule on the file pages as the worklog judges the cluster, though the cluster key
    /// names only the logger and function.
    #[test]
    fn a_rule_on_the_file_pages_at_the_priority_the_report_gives() {
        let mut s = Settings::load(None).unwrap();
        s.escalation.rules.insert(
            0,
            Rule {
                name: "payments-ledger".into(),
                description: None,
                matcher: RuleMatch {
                    logger: Some(regex::Regex::new(r"payments/ledger\.py").unwrap()),
                    ..RuleMatch::default()
                },
                action: RuleAction::Set(Priority::P0),
                thresholds: false,
            },
        );
        let mut p = pipeline(s);
        let entry = serde_json::json!({
            "timestamp": "2026-11-23T05:00:00Z",
            "severity": "WARNING",
            "insertId": "a1",
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}},
            "jsonPayload": {"message": "balance drift of 3 cents on account 12", "logger": "app"},
            "sourceLocation": {"file": "app/payments/ledger.py", "line": "88", "function": "settle"},
        });
        let raw = RawEntry {
            data: entry.to_string().into(),
            origin: Origin::File {
                path: "t".into(),
                line: 1,
            },
        };
        let mut out = Vec::new();
        p.ingest(&raw, &mut out);
        let [Outcome::Counted(c)] = out[..] else {
            panic!("{out:?}")
        };
        let new = Event::NewCluster {
            cluster: c.cluster,
            fine: c.fine,
            severity: c.severity,
            at: c.at,
        };
        let a = to_alert(&new, &p).unwrap();
        assert_eq!(a.priority, Priority::P0, "the rule names the file");
    }
}
