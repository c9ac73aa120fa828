//! Configuration in two steps: the raw file/env form (serde, unknown keys rejected, every field
//! documented) and the validated [`Settings`] the program runs with. A mistake is a startup
//! error that names the key; nothing falls back silently.
//!
//! Sources, later ones overriding earlier ones: the built-in `config/default.toml`, the file
//! given with `--config`, then environment variables `LOG_GARDENER__SECTION__KEY` (an empty
//! value of a list key such as `LOG_GARDENER__ALERTS__ALERTMANAGER_URLS` is an empty list).
//! Every error names the key and where it was set: the file, the variable, or the defaults.

mod counting;
mod duration;
mod github;
mod live;
mod obs;
mod raw;
mod rules;
mod runtime;
mod source;
mod strict;
mod syntax;

use std::path::{Path, PathBuf};

use chrono::TimeDelta;

pub use counting::{FingerprintSettings, MAX_BUCKETS_PER_WINDOW, MAX_HISTORY};
pub use duration::{format_duration, parse_duration};
pub use live::{
    EventTimes, LiveSettings, OnMalformed, PubSubSettings, RedisSettings, StateSettings, Watermark,
};
pub use obs::{AlertSettings, MetricsSettings};
pub use raw::{RawConfig, RawRule};
pub use rules::{MAX_RULES, REGEX_BUDGET, REGEX_DFA_CACHE, REGEX_SIZE_LIMIT, REGEX_SOURCE_LIMIT};
pub use source::{Origin, ENV_PREFIX};

use crate::entry::Severity;
use crate::escalate::{Escalation, Priority};

/// The built-in configuration: window defaults and the default rules.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// A configuration that cannot be used; the program exits with code 2 and the message names
/// the file or the key. Fix it and start again.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed; the message names the file.
    #[error("{0}")]
    Load(#[from] config::ConfigError),
    /// The `--config` file cannot be read: missing, a directory, not UTF-8, no permission.
    #[error("cannot read the configuration file {path}: {detail}")]
    File { path: String, detail: String },
    /// A key is unknown, missing, or has a value that cannot work. `origin` says where it was
    /// set (`None` only for [`Settings::try_from`] on a [`RawConfig`] built in code).
    /// `others` are the keys a check across keys read besides `key` (`window.hop` must divide
    /// `window.length`), each with where it was set: said where that is not `key`'s origin.
    #[error(
        "{}{}: {message}{}",
        echoed(key),
        from(origin),
        others_from(origin, others)
    )]
    Invalid {
        key: String,
        origin: Option<Origin>,
        message: String,
        others: Vec<(String, Option<Origin>)>,
    },
}

impl ConfigError {
    /// The same error, saying that the check also read `keys` (their origins are attached
    /// with `key`'s).
    fn across(mut self, keys: &[&str]) -> ConfigError {
        if let ConfigError::Invalid { others, .. } = &mut self {
            others.extend(keys.iter().map(|k| ((*k).to_owned(), None)));
        }
        self
    }
}

fn from(origin: &Option<Origin>) -> String {
    origin
        .as_ref()
        .map(|o| format!(" (from {o})"))
        .unwrap_or_default()
}

/// `; window.length is from FILE` for each other key set elsewhere than the key in error.
fn others_from(origin: &Option<Origin>, others: &[(String, Option<Origin>)]) -> String {
    others
        .iter()
        .filter_map(|(key, o)| match o {
            Some(o) if Some(o) != origin.as_ref() => Some(format!("; {key} is from {o}")),
            _ => None,
        })
        .collect()
}

/// Characters of a value, key or line an error quotes back: a hostile one of any length
/// (a 200 KB line) makes an error of a line, not of its size.
const ECHOED: usize = 120;

/// `s` as an error quotes it: its first [`ECHOED`] characters, with `…` where it was cut.
fn echoed(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(ECHOED) {
        Some((end, _)) => format!("{}…", &s[..end]).into(),
        None => s.into(),
    }
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        origin: None,
        message: message.into(),
        others: Vec::new(),
    }
}

/// Window geometry, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSettings {
    pub length: TimeDelta,
    pub hop: TimeDelta,
    pub bucket: TimeDelta,
    pub allowed_lateness: TimeDelta,
    /// Live mode: a closed window is re-emitted with entries that arrive this long after its
    /// close (zero: they are only counted as late).
    pub revise_within: TimeDelta,
    pub history: usize,
}

/// How split tracebacks are re-joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StitchSettings {
    pub max_gap: TimeDelta,
    pub max_lines: usize,
    pub horizon: TimeDelta,
    /// Lines of released tracebacks a live stitcher remembers (0: none).
    pub remember_lines: usize,
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
    /// `input.slice_bytes`: a larger replayed file is read a slice of event time at a time.
    pub slice_bytes: u64,
    /// Bounds of fingerprinting and of the clusters held (`[fingerprint]`).
    pub fingerprint: FingerprintSettings,
    /// The subscription `run` pulls from.
    pub pubsub: PubSubSettings,
    /// Checkpointing and window closing of `run`.
    pub live: LiveSettings,
    /// Where `run` keeps its checkpoint.
    pub state: StateSettings,
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
    /// Loads built-in defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::load_from(file, source::process_env()?)
    }

    /// Like [`Settings::load`] with the environment given as name/value pairs (only the
    /// `LOG_GARDENER__*` ones are read), so tests need not touch the process environment.
    pub fn load_from<I, K, V>(file: Option<&Path>, env: I) -> Result<Settings, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Settings::load_with_provenance(file, env).map(|(s, _)| s)
    }

    /// What `replay`, `run` and `check-config` use: [`Settings::load`], then
    /// [`Settings::check_runtime`] with `GITHUB_TOKEN` from the process environment.
    pub fn load_checked(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let (s, prov) = Settings::load_with_provenance(file, source::process_env()?)?;
        let token = std::env::var("GITHUB_TOKEN").ok();
        s.check_runtime(token.as_deref())
            .map_err(|e| prov.attach(e))?;
        Ok(s)
    }

    fn load_with_provenance<I, K, V>(
        file: Option<&Path>,
        env: I,
    ) -> Result<(Settings, source::Provenance), ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env = source::EnvSource::new(env)?;
        let mut b = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(f) = file {
            b = b.add_source(source::FileSource::read(f)?);
        }
        let merged = b.add_source(env.clone()).build()?;
        let prov = source::Provenance::new(&merged, &env, file);
        strict::check_types(&prov)?;
        let raw: RawConfig = merged.try_deserialize().map_err(|e| prov.locate(e))?;
        let settings = Settings::try_from(raw).map_err(|e| prov.attach(e))?;
        Ok((settings, prov))
    }
}

impl TryFrom<RawConfig> for Settings {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Settings, ConfigError> {
        let window = counting::window_settings(&raw.window)?;
        let stitch = counting::stitch_settings(&raw.stitch)?;
        let rules = rules::compile_rules(&raw.rules)?;
        let escalation = rules::escalation(&raw.escalation, rules)?;
        if raw.report.dir.trim().is_empty() {
            return Err(invalid("report.dir", "needs a directory path"));
        }
        let pubsub = live::pubsub_settings(&raw.pubsub)?;
        Ok(Settings {
            window,
            stitch,
            escalation,
            issue_min_priority: priority(
                "report.issue_min_priority",
                &raw.report.issue_min_priority,
            )?,
            worklog_dir: PathBuf::from(&raw.report.dir),
            max_entry_bytes: counting::max_entry_bytes(&raw.input)?,
            slice_bytes: counting::slice_bytes(&raw.input)?,
            fingerprint: counting::fingerprint_settings(&raw.fingerprint)?,
            github: github::github(&raw.github)?,
            state: live::state_settings(&raw.state, &pubsub)?,
            pubsub,
            live: live::live_settings(&raw.live)?,
            metrics: obs::metrics_settings(&raw.metrics)?,
            alerts: obs::alert_settings(&raw.alerts)?,
        })
    }
}

fn dur(key: &str, s: &str) -> Result<TimeDelta, ConfigError> {
    parse_duration(s).map_err(|m| invalid(key, m))
}

/// A duration within `lo..=hi`, both quoted in the message.
fn dur_in(key: &str, s: &str, lo: TimeDelta, hi: TimeDelta) -> Result<TimeDelta, ConfigError> {
    let d = dur(key, s)?;
    if d < lo || d > hi {
        return Err(invalid(
            key,
            format!(
                "must be between {} and {}",
                format_duration(lo),
                format_duration(hi)
            ),
        ));
    }
    Ok(d)
}

/// A list of at most `max` `items` (a noun): every item costs at run time, and a list of
/// thousands is a generated file gone wrong, not a configuration.
fn at_most(key: &str, len: usize, max: usize, items: &str) -> Result<(), ConfigError> {
    if len > max {
        return Err(invalid(key, format!("{len} {items}; at most {max}")));
    }
    Ok(())
}

/// A number within `lo..=hi`, both quoted in the message.
fn in_range<T: PartialOrd + std::fmt::Display>(
    key: &str,
    n: T,
    lo: T,
    hi: T,
) -> Result<T, ConfigError> {
    if n < lo || n > hi {
        return Err(invalid(key, format!("must be between {lo} and {hi}")));
    }
    Ok(n)
}

fn priority(key: &str, s: &str) -> Result<Priority, ConfigError> {
    Priority::parse(s).ok_or_else(|| invalid(key, format!("{:?} is not one of P0..P5", echoed(s))))
}

fn severity(key: &str, s: &str) -> Result<Severity, ConfigError> {
    Severity::parse(s).ok_or_else(|| {
        let s = echoed(s);
        invalid(key, format!("{s:?} is not a LogSeverity (DEBUG, INFO, …)"))
    })
}

#[cfg(test)]
mod tests;
