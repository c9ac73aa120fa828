//! The worklog's "GitHub" section: what the GitHub sink said it did at this window's close.
//! Titles and bodies are GitHub markdown: shown as code here.

use std::fmt::Write;

use super::{code_span, fence};
use crate::report::GithubSummary;

pub(super) fn section(o: &mut String, g: &GithubSummary) {
    o.push_str("## GitHub\n");
    if g.dry_run {
        let _ = writeln!(
            o,
            "Dry run (no token): nothing was sent to {}. Planned actions, with full bodies in {}:\n",
            code_span(&g.repo),
            code_span(&g.details)
        );
    } else {
        let _ = writeln!(
            o,
            "Repository {}: {} of our issues known; every request in {}.\n",
            code_span(&g.repo),
            g.issues_known,
            code_span(&g.details)
        );
    }
    if g.actions.is_empty() {
        o.push_str("No changes.\n");
    }
    for (i, a) in g.actions.iter().enumerate() {
        let issue = match (a.issue, g.dry_run) {
            (Some(n), false) => format!(" #{n}"),
            // Numbered by the dry run's in-memory repository, not GitHub's.
            (Some(n), true) => format!(" (dry-run issue {n})"),
            (None, _) => String::new(),
        };
        let what = match (&a.title, &a.comment) {
            (Some(t), _) => code_span(t),
            (None, Some(c)) => code_span(c),
            (None, None) => "counts and state".to_owned(),
        };
        let outcome = match &a.error {
            Some(e) => format!(" — **failed**: {}", code_span(e)),
            None => String::new(),
        };
        let _ = writeln!(
            o,
            "{}. **{}**{issue} (cluster `{}`): {what}{outcome}",
            i + 1,
            a.kind,
            a.cluster
        );
        if let Some(body) = &a.body {
            let _ = write!(
                o,
                "\n<details><summary>body</summary>\n\n{}\n</details>\n\n",
                fence(body, "markdown")
            );
        }
    }
    if g.deferred > 0 {
        let _ = writeln!(
            o,
            "\n{} clusters wait in the outbox for the next window.",
            g.deferred
        );
    }
    if let Some(why) = &g.stopped {
        let _ = writeln!(o, "\nStopped early: {}", code_span(why));
    }
    o.push('\n');
}
