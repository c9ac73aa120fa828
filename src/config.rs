//! Configuration in two steps: the raw file/env form (serde, unknown keys rejected, every field
//! documented) and the validated [`Settings`] the program runs with. A mistake is a startup
//! error that names the key; nothing falls back silently.
//!
//! Sources, later ones overriding earlier ones: the built-in `config/default.toml`, the file
//! given with `--config`, then environment variables `LOG_GARDENER__SECTION__KEY`.

mod duration;
mod live;
mod obs;
mod raw;

use std::path::{Path, PathBuf};

use chrono::TimeDelta;
use regex::Regex;

pub use duration::parse_duration;
pub use live::{LiveSettings, OnMalformed, PubSubSettings, Watermark};
pub use obs::{AlertSettings, MetricsSettings};
pub use raw::{RawConfig, RawRule};

use crate::entry::Severity;
use crate::escalate::{CountTier, Escalation, Priority, Rule, RuleAction, RuleMatch, Spike};

/// The built-in configuration: window defaults and the default rules.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// A configuration that cannot be used; the message names the file or the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed; fix the file and start again.
    #[error("{0}")]
    Load(#[from] config::ConfigError),
    /// A key has a value that cannot work; the message names the key.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// Window geometry, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSettings {
    pub length: TimeDelta,
    pub hop: TimeDelta,
    pub bucket: TimeDelta,
    pub allowed_lateness: TimeDelta,
    pub history: usize,
}

/// How split tracebacks are re-joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StitchSettings {
    pub max_gap: TimeDelta,
    pub max_lines: usize,
    pub horizon: TimeDelta,
}

/// What the program runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub window: WindowSettings,
    pub stitch: StitchSettings,
    pub escalation: Escalation,
    /// Clusters at or above this priority get a "create/update GitHub issue" action.
    pub issue_min_priority: Priority,
    pub worklog_dir: PathBuf,
    pub max_entry_bytes: usize,
    /// The subscription `run` pulls from.
    pub pubsub: PubSubSettings,
    /// Checkpointing and window closing of `run`.
    pub live: LiveSettings,
    /// The GitHub issues sink; `None` when `github.repo` is empty.
    pub github: Option<GithubSettings>,
    pub metrics: MetricsSettings,
    pub alerts: AlertSettings,
}

/// The GitHub issues sink, validated (see `config/default.toml`, `[github]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubSettings {
    pub owner: String,
    pub repo: String,
    pub api_url: String,
    /// Read at startup, after `GITHUB_TOKEN`; the token itself is never part of Settings.
    pub token_file: Option<PathBuf>,
    pub label: String,
    pub reopen_within: TimeDelta,
    pub write_spacing: std::time::Duration,
    pub max_writes_per_window: usize,
    pub max_rate_limit_wait: std::time::Duration,
    pub related_searches_per_window: usize,
    pub logging_project: Option<String>,
    /// `None`: the worklog directory.
    pub state_dir: Option<PathBuf>,
    /// Where the worklogs are published (`<url>/<window-end>.md` is linked from issues).
    pub worklog_url: Option<String>,
    /// Content-creating requests (creates, updates, comments) per minute and per hour at most:
    /// GitHub's secondary limits (80 and 500), kept before GitHub has to say so.
    pub writes_per_minute: usize,
    pub writes_per_hour: usize,
}

impl Settings {
    /// Loads built-in defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut b = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(f) = file {
            b = b.add_source(
                config::File::from(f)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let raw: RawConfig = b
            .add_source(
                config::Environment::with_prefix("LOG_GARDENER")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("alerts.alertmanager_urls"),
            )
            .build()?
            .try_deserialize()?;
        Settings::try_from(raw)
    }
}

impl TryFrom<RawConfig> for Settings {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Settings, ConfigError> {
        let window = window_settings(&raw.window)?;
        let stitch = StitchSettings {
            max_gap: dur("stitch.max_gap", &raw.stitch.max_gap)?,
            max_lines: positive("stitch.max_lines", raw.stitch.max_lines)?,
            horizon: dur("stitch.horizon", &raw.stitch.horizon)?,
        };
        let rules = raw
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| compile_rule(i, r))
            .collect::<Result<Vec<_>, _>>()?;
        let escalation = escalation(&raw.escalation, rules)?;
        Ok(Settings {
            window,
            stitch,
            escalation,
            issue_min_priority: priority(
                "report.issue_min_priority",
                &raw.report.issue_min_priority,
            )?,
            worklog_dir: PathBuf::from(&raw.report.dir),
            max_entry_bytes: positive("input.max_entry_bytes", raw.input.max_entry_bytes)?,
            github: github(&raw.github)?,
            pubsub: live::pubsub_settings(&raw.pubsub)?,
            live: live::live_settings(&raw.live)?,
            metrics: obs::metrics_settings(&raw.metrics)?,
            alerts: obs::alert_settings(&raw.alerts)?,
        })
    }
}

fn github(g: &raw::RawGithub) -> Result<Option<GithubSettings>, ConfigError> {
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
    if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
        return Err(invalid("github.api_url", "must be an http(s) URL"));
    }
    let std_dur = |key: &str, s: &str| {
        dur(key, s)?
            .to_std()
            .map_err(|_| invalid(key, "must not be negative"))
    };
    let label = g.label.trim().to_owned();
    if label.is_empty() || label.chars().count() > 50 {
        return Err(invalid("github.label", "1 to 50 characters"));
    }
    let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    Ok(Some(GithubSettings {
        owner,
        repo,
        api_url,
        token_file: non_empty(&g.token_file).map(PathBuf::from),
        label,
        reopen_within: dur("github.reopen_within", &g.reopen_within)?,
        write_spacing: std_dur("github.write_spacing", &g.write_spacing)?,
        max_writes_per_window: positive("github.max_writes_per_window", g.max_writes_per_window)?,
        max_rate_limit_wait: std_dur("github.max_rate_limit_wait", &g.max_rate_limit_wait)?,
        related_searches_per_window: g.related_searches_per_window,
        logging_project: non_empty(&g.logging_project),
        state_dir: non_empty(&g.state_dir).map(PathBuf::from),
        worklog_url: match non_empty(&g.worklog_url) {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => Some(u),
            Some(_) => return Err(invalid("github.worklog_url", "must be an http(s) URL")),
            None => None,
        },
        writes_per_minute: positive("github.writes_per_minute", g.writes_per_minute)?,
        writes_per_hour: positive("github.writes_per_hour", g.writes_per_hour)?,
    }))
}

fn dur(key: &str, s: &str) -> Result<TimeDelta, ConfigError> {
    parse_duration(s).map_err(|m| invalid(key, m))
}

fn positive(key: &str, n: usize) -> Result<usize, ConfigError> {
    if n == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(n)
}

fn priority(key: &str, s: &str) -> Result<Priority, ConfigError> {
    Priority::parse(s).ok_or_else(|| invalid(key, format!("{s:?} is not one of P0..P5")))
}

fn severity(key: &str, s: &str) -> Result<Severity, ConfigError> {
    Severity::parse(s)
        .ok_or_else(|| invalid(key, format!("{s:?} is not a LogSeverity (DEBUG, INFO, …)")))
}

fn regex(key: &str, s: &str) -> Result<Regex, ConfigError> {
    Regex::new(s).map_err(|e| invalid(key, format!("not a valid regex: {e}")))
}

fn window_settings(w: &raw::RawWindow) -> Result<WindowSettings, ConfigError> {
    let s = WindowSettings {
        length: dur("window.length", &w.length)?,
        hop: dur("window.hop", &w.hop)?,
        bucket: dur("window.bucket", &w.bucket)?,
        allowed_lateness: dur("window.allowed_lateness", &w.allowed_lateness)?,
        history: w.history,
    };
    let divides = |a: TimeDelta, b: TimeDelta| b.num_milliseconds() % a.num_milliseconds() == 0;
    if s.bucket < TimeDelta::seconds(1) || !divides(s.bucket, s.hop) {
        return Err(invalid(
            "window.bucket",
            "must be at least 1s and divide window.hop",
        ));
    }
    if s.hop > s.length || !divides(s.hop, s.length) {
        return Err(invalid("window.hop", "must divide window.length"));
    }
    if s.length > TimeDelta::days(1) || !divides(s.hop, TimeDelta::days(1)) {
        return Err(invalid(
            "window.length",
            "at most 24h, and window.hop must divide a day",
        ));
    }
    if s.allowed_lateness > s.length {
        return Err(invalid(
            "window.allowed_lateness",
            "must not exceed window.length",
        ));
    }
    Ok(s)
}

fn compile_rule(i: usize, r: &RawRule) -> Result<Rule, ConfigError> {
    let key = |f: &str| format!("rules[{i}].{f}");
    let opt_re = |f: &str, v: &Option<String>| v.as_deref().map(|s| regex(&key(f), s)).transpose();
    let opt_sev =
        |f: &str, v: &Option<String>| v.as_deref().map(|s| severity(&key(f), s)).transpose();
    let action = match (&r.priority, r.adjust) {
        (Some(p), None) => RuleAction::Set(priority(&key("priority"), p)?),
        (None, Some(d)) if (-5..=5).contains(&d) => RuleAction::Adjust(d),
        (None, Some(_)) => return Err(invalid(key("adjust"), "must be between -5 and 5")),
        _ => {
            return Err(invalid(
                key("priority"),
                "give exactly one of `priority` or `adjust`",
            ))
        }
    };
    if r.name.trim().is_empty() {
        return Err(invalid(
            key("name"),
            "every rule needs a name (it is quoted as the reason)",
        ));
    }
    Ok(Rule {
        name: r.name.clone(),
        description: r.description.clone(),
        matcher: RuleMatch {
            message: opt_re("message", &r.message)?,
            logger: opt_re("logger", &r.logger)?,
            service: opt_re("service", &r.service)?,
            min_severity: opt_sev("min_severity", &r.min_severity)?,
            max_severity: opt_sev("max_severity", &r.max_severity)?,
        },
        action,
        thresholds: r.thresholds,
    })
}

fn escalation(e: &raw::RawEscalation, rules: Vec<Rule>) -> Result<Escalation, ConfigError> {
    let mut count_tiers = Vec::new();
    for (i, t) in e.count.iter().enumerate() {
        if t.at_least == 0 || !(1..=5).contains(&t.raise) {
            return Err(invalid(
                format!("escalation.count[{i}]"),
                "at_least ≥ 1 and raise in 1..=5",
            ));
        }
        count_tiers.push(CountTier {
            at_least: t.at_least,
            raise: t.raise,
        });
    }
    count_tiers.sort_by_key(|t| t.at_least);
    let spike = match &e.spike {
        Some(s) if s.factor <= 1.0 || !(1..=5).contains(&s.raise) => {
            return Err(invalid(
                "escalation.spike",
                "factor must be > 1 and raise in 1..=5",
            ))
        }
        Some(s) => Some(Spike {
            factor: s.factor,
            min_count: s.min_count,
            raise: s.raise,
        }),
        None => None,
    };
    Ok(Escalation {
        rules,
        count_tiers,
        spike,
        ceiling: priority("escalation.ceiling", &e.ceiling)?,
    })
}

#[cfg(test)]
mod tests;
