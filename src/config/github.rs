//! The `[github]` section, validated: the repository, an API root octocrab accepts, pacing
//! within what GitHub allows.

use std::path::PathBuf;
use std::time::Duration;

use chrono::TimeDelta;

use super::raw::RawGithub;
use super::{dur_in, in_range, invalid, ConfigError, GithubSettings};

pub(super) fn github(g: &RawGithub) -> Result<Option<GithubSettings>, ConfigError> {
    if g.repo.trim().is_empty() {
        return Ok(None);
    }
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    let (owner, repo) = match g.repo.trim().split_once('/') {
        Some((o, r)) if name_ok(o) && name_ok(r) => (o.to_owned(), r.to_owned()),
        _ => return Err(invalid("github.repo", "must be \"owner/name\"")),
    };
    let api_url = g.api_url.trim().trim_end_matches('/').to_owned();
    // The client is built from this at startup (`run`) or at the first window (`replay`).
    let uri_ok = api_url
        .parse::<http::Uri>()
        .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if !uri_ok {
        return Err(invalid(
            "github.api_url",
            "must be an http(s) URL with a host",
        ));
    }
    let label = g.label.trim().to_owned();
    if label.is_empty() || label.chars().count() > 50 {
        return Err(invalid("github.label", "1 to 50 characters"));
    }
    let std_dur = |key: &str, s: &str, hi: TimeDelta| -> Result<Duration, ConfigError> {
        let d = dur_in(key, s, TimeDelta::zero(), hi)?;
        Ok(d.to_std().unwrap_or_default())
    };
    let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    Ok(Some(GithubSettings {
        owner,
        repo,
        api_url,
        token_file: non_empty(&g.token_file).map(PathBuf::from),
        label,
        reopen_within: dur_in(
            "github.reopen_within",
            &g.reopen_within,
            TimeDelta::zero(),
            TimeDelta::days(365),
        )?,
        // GitHub allows about 80 writes a minute; a pause over a minute stalls a window.
        write_spacing: std_dur(
            "github.write_spacing",
            &g.write_spacing,
            TimeDelta::minutes(1),
        )?,
        max_writes_per_window: in_range(
            "github.max_writes_per_window",
            g.max_writes_per_window,
            1,
            5000,
        )?,
        max_rate_limit_wait: std_dur(
            "github.max_rate_limit_wait",
            &g.max_rate_limit_wait,
            TimeDelta::hours(1),
        )?,
        // The search API allows 30 requests a minute.
        related_searches_per_window: in_range(
            "github.related_searches_per_window",
            g.related_searches_per_window,
            0,
            30,
        )?,
        logging_project: non_empty(&g.logging_project),
        state_dir: non_empty(&g.state_dir).map(PathBuf::from),
        worklog_url: match non_empty(&g.worklog_url) {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => Some(u),
            // The URL is not quoted back: it may carry a secret path.
            Some(_) => return Err(invalid("github.worklog_url", "must be an http(s) URL")),
            None => None,
        },
        // GitHub's documented secondary limits: 80 content-creating requests a minute, 500
        // an hour; stay inside them before being told.
        writes_per_minute: in_range("github.writes_per_minute", g.writes_per_minute, 1, 80)?,
        writes_per_hour: in_range("github.writes_per_hour", g.writes_per_hour, 1, 500)?,
    }))
}
