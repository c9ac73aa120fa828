//! What receivers are sent, pure: Alertmanager API v2 postable alerts (labels, annotations,
//! `startsAt`, `endsAt`, `generatorURL`) and the Slack-compatible webhook text. The sample is
//! redacted and cut here, the last step before it leaves the process.

use serde_json::{json, Map, Value};

use crate::alerting::{AlertPost, Change};

/// Longest sample quoted in an alert; Alertmanager and Slack show alerts, not logs.
const SAMPLE_CHARS: usize = 1000;

/// Link context every alert carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// Google Cloud project of the logs; without it no Cloud Logging link is made.
    pub logging_project: Option<String>,
}

fn summary(p: &AlertPost) -> String {
    let what = match p.kind {
        super::AlertKind::NewCluster => "New",
        super::AlertKind::Escalation => "Escalated to",
    };
    format!(
        "{what} {} cluster in {}: {}",
        p.priority, p.service, p.template
    )
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The longest literal run of the template: what a text search for the cluster looks for.
fn literal(template: &str) -> &str {
    template
        .split("<*>")
        .map(str::trim)
        .max_by_key(|s| s.len())
        .unwrap_or("")
}

/// A Cloud Logging query for the cluster's service and its template's longest literal.
pub fn logging_link(p: &AlertPost, links: &Links) -> Option<String> {
    let project = links.logging_project.as_deref()?;
    let mut query = format!(
        "resource.labels.service_name=\"{}\"",
        p.service.replace('"', "")
    );
    let lit = literal(&p.template).replace(['"', '\\'], "");
    if !lit.is_empty() {
        query.push_str(&format!("\n\"{lit}\""));
    }
    Some(format!(
        "https://console.cloud.google.com/logs/query;query={};timeRange=PT1H?project={}",
        percent_encode(&query),
        percent_encode(project)
    ))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn annotations(p: &AlertPost, links: &Links) -> Map<String, Value> {
    let mut a = Map::new();
    a.insert("summary".into(), summary(p).into());
    a.insert("template".into(), p.template.clone().into());
    if let Some(s) = &p.sample {
        let redacted = crate::redact::redact(s);
        a.insert("sample".into(), cut(&redacted, SAMPLE_CHARS).into());
    }
    if let Some(n) = p.count {
        a.insert("count".into(), n.to_string().into());
    }
    if let Some(i) = &p.issue_url {
        a.insert("issue".into(), i.clone().into());
    }
    if let Some(l) = logging_link(p, links) {
        a.insert("logs".into(), l.into());
    }
    a
}

/// The Alertmanager labels: the alert's identity. All bounded except `cluster`, whose
/// cardinality is that of alerting clusters (P0/P1 by default), which is small by design.
pub fn labels(p: &AlertPost) -> Value {
    json!({
        "alertname": p.kind.alertname(),
        "service": p.service,
        "priority": p.priority.as_str(),
        "cluster": p.cluster.to_string(),
    })
}

/// The body of `POST /api/v2/alerts`.
pub fn alertmanager_body(posts: &[AlertPost], links: &Links) -> Value {
    let alerts: Vec<Value> = posts
        .iter()
        .map(|p| {
            let mut v = json!({
                "labels": labels(p),
                "annotations": annotations(p, links),
                "startsAt": p.starts_at.to_rfc3339(),
                "endsAt": p.ends_at.to_rfc3339(),
            });
            if let Some(l) = logging_link(p, links) {
                v["generatorURL"] = l.into();
            }
            v
        })
        .collect();
    Value::Array(alerts)
}

/// The webhook message for a post, or None for posts a chat does not need (re-posts:
/// Alertmanager needs them, people do not).
pub fn webhook_text(p: &AlertPost, links: &Links) -> Option<String> {
    let head = match p.change {
        Change::Fired => format!(":rotating_light: {}", summary(p)),
        Change::Resolved => format!(
            ":white_check_mark: Resolved: {} cluster {} in {} ({})",
            p.priority, p.cluster, p.service, p.template
        ),
        Change::Reposted => return None,
    };
    let mut text = head;
    if p.change == Change::Fired {
        if let Some(n) = p.count {
            text.push_str(&format!("\n{n} entries in the last hour"));
        }
        if let Some(s) = &p.sample {
            text.push_str(&format!("\n> {}", cut(&crate::redact::redact(s), 300)));
        }
    }
    if let Some(i) = &p.issue_url {
        text.push_str(&format!("\nIssue: {i}"));
    }
    if let Some(l) = logging_link(p, links) {
        text.push_str(&format!("\nLogs: {l}"));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalate::Priority;
    use crate::fingerprint::ClusterId;
    use crate::sinks::alert::AlertKind;

    fn post(change: Change) -> AlertPost {
        AlertPost {
            change,
            kind: AlertKind::NewCluster,
            cluster: ClusterId(0xab),
            service: "api".into(),
            priority: Priority::P0,
            template: "Cloud SQL timeout after <*> for <*>".into(),
            sample: Some("Cloud SQL timeout for user alice@example.com".into()),
            count: Some(42),
            issue_url: Some("https://github.com/o/r/issues/1".into()),
            starts_at: "2026-01-01T10:00:00Z".parse().unwrap(),
            ends_at: "2026-01-01T10:05:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn alertmanager_alert_has_identity_labels_and_redacted_annotations() {
        let links = Links {
            logging_project: Some("proj".into()),
        };
        let body = alertmanager_body(&[post(Change::Fired)], &links);
        let a = &body[0];
        assert_eq!(a["labels"]["alertname"], "LogGardenerNewCluster");
        assert_eq!(a["labels"]["cluster"], "00000000000000ab");
        assert_eq!(a["labels"]["priority"], "P0");
        assert_eq!(a["startsAt"], "2026-01-01T10:00:00+00:00");
        assert_eq!(a["annotations"]["issue"], "https://github.com/o/r/issues/1");
        assert_eq!(a["annotations"]["count"], "42");
        let sample = a["annotations"]["sample"].as_str().unwrap_or_default();
        assert!(!sample.contains("alice@example.com"), "{sample}");
        let logs = a["annotations"]["logs"].as_str().unwrap_or_default();
        assert!(
            logs.contains("project=proj") && logs.contains("Cloud%20SQL%20timeout"),
            "{logs}"
        );
    }

    #[test]
    fn webhook_speaks_on_fire_and_resolve_only() {
        let links = Links::default();
        let fired = webhook_text(&post(Change::Fired), &links).unwrap_or_default();
        assert!(fired.contains("New P0 cluster in api") && fired.contains("issues/1"));
        assert!(webhook_text(&post(Change::Resolved), &links).is_some());
        assert!(fired.contains("42 entries"));
        assert!(webhook_text(&post(Change::Reposted), &links).is_none());
    }
}
