//! Configuration in two steps: the raw file/env form (serde, unknown keys rejected, every field
//! documented) and the validated [`Settings`] the program runs with. A mistake is a startup
//! error that names the key; nothing falls back silently.
//!
//! Sources, later ones overriding earlier ones: the built-in `config/default.toml`, the file
//! given with `--config`, then environment variables `LOG_GARDENER__SECTION__KEY`.

mod duration;
mod obs;
mod raw;

use std::path::{Path, PathBuf};

use chrono::TimeDelta;
use regex::Regex;

pub use duration::parse_duration;
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
    pub metrics: MetricsSettings,
    pub alerts: AlertSettings,
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
            metrics: obs::metrics_settings(&raw.metrics)?,
            alerts: obs::alert_settings(&raw.alerts)?,
        })
    }
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
