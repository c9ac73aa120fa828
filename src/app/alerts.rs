//! Driver events → alert events: which cluster, its template, and the priority the
//! escalation policy gives it now — the same rules the window report applies at close, on the
//! evidence there is so far (its key, its severity class, the count that triggered it).

use crate::alerting::{AlertEvent, AlertKind};
use crate::driver::Event;
use crate::entry::{Severity, SeverityClass};
use crate::escalate::{Escalation, Evidence};
use crate::fingerprint::Fingerprinter;

/// The alert event for `event`, or `None` when its cluster is unknown (cannot happen for an
/// event the driver just emitted, but a restart may race a merge).
pub fn to_alert(event: &Event, fp: &Fingerprinter, policy: &Escalation) -> Option<AlertEvent> {
    let (kind, fine, severity, count, at) = match *event {
        Event::NewCluster {
            fine, severity, at, ..
        } => (AlertKind::NewCluster, fine, Some(severity), 1, at),
        Event::Escalation {
            fine, count, at, ..
        } => (AlertKind::Escalation, fine, None, count, at),
    };
    let cluster = fp.resolve(fine)?;
    let (service, class, location) = fp.key_of(fine)?;
    let severity = severity.unwrap_or_else(|| representative(class));
    let decision = policy.decide(&Evidence {
        template: &cluster.template,
        logger: &location.replace(':', " "),
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
    use super::*;
    use crate::config::Settings;
    use crate::escalate::Priority;
    use crate::fingerprint::KeyParts;

    #[test]
    fn new_clusters_and_escalations_get_the_policy_s_priority() {
        let s = Settings::load(None).unwrap();
        let fp = Fingerprinter::new();
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
        let a = to_alert(&new, &fp, &s.escalation).unwrap();
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
        let e = to_alert(&up, &fp, &s.escalation).unwrap();
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
        assert!(to_alert(&unknown, &fp, &s.escalation).is_none());
    }
}
