//! Where configuration values come from: the environment as a `config` source whose every
//! value remembers the variable that set it, and the lookup that turns a key back into its
//! [`Origin`] (the built-in defaults, a file, or an environment variable) for error messages.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::Path;

use config::{Map, Source, Value, ValueKind};

use super::{echoed, ConfigError};

/// Environment variables `LOG_GARDENER__SECTION__KEY` set `section.key` (case-insensitive).
pub const ENV_PREFIX: &str = "LOG_GARDENER__";

/// The `--config` file is read up to this many bytes: a device or a runaway file
/// (`/dev/zero`) is an error, not all of memory.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// Keys whose environment value is a comma-separated list; an empty value is an empty list.
const LIST_KEYS: &[&str] = &["alerts.alertmanager_urls"];

/// Where a configuration value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `config/default.toml`, compiled into the binary.
    BuiltIn,
    /// The file given with `--config`.
    File(String),
    /// An environment variable, by its name.
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("the built-in defaults"),
            Origin::File(path) => write!(f, "{path}"),
            Origin::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

/// The `LOG_GARDENER__*` variables of the process environment. A variable whose value is not
/// UTF-8 is an error naming it (the `config` crate would name only the lowercased key).
pub fn process_env() -> Result<Vec<(String, String)>, ConfigError> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().filter(|n| has_prefix(n)) else {
            continue;
        };
        let value = value.into_string().map_err(|_| ConfigError::Invalid {
            key: key_of(name).unwrap_or_default(),
            origin: Some(Origin::Env(name.to_owned())),
            message: "the value is not valid UTF-8".into(),
            others: Vec::new(),
        })?;
        vars.push((name.to_owned(), value));
    }
    Ok(vars)
}

fn has_prefix(name: &str) -> bool {
    name.len() >= ENV_PREFIX.len() && name[..ENV_PREFIX.len()].eq_ignore_ascii_case(ENV_PREFIX)
}

/// `LOG_GARDENER__WINDOW__HOP` → `window.hop`; `None` for a name that is not a key path.
fn key_of(name: &str) -> Option<String> {
    let rest = name.get(ENV_PREFIX.len()..)?;
    let segments: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    let ident =
        |s: &String| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    segments.iter().all(ident).then(|| segments.join("."))
}

/// The environment as a `config` source; each value's origin is its variable's name.
#[derive(Debug, Clone)]
pub struct EnvSource {
    vars: Vec<(String, String)>,
}

impl EnvSource {
    /// Keeps the `LOG_GARDENER__*` variables of `vars`; a malformed name is an error.
    pub fn new<I, K, V>(vars: I) -> Result<EnvSource, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut kept = Vec::new();
        for (name, value) in vars {
            let name = name.into();
            if !has_prefix(&name) {
                continue;
            }
            if key_of(&name).is_none() {
                return Err(ConfigError::Invalid {
                    key: name.clone(),
                    origin: Some(Origin::Env(name)),
                    message: "not a key: use LOG_GARDENER__SECTION__KEY (letters, digits, _)"
                        .into(),
                    others: Vec::new(),
                });
            }
            kept.push((name, value.into()));
        }
        kept.sort();
        Ok(EnvSource { vars: kept })
    }

    pub fn names(&self) -> BTreeSet<String> {
        self.vars.iter().map(|(n, _)| n.clone()).collect()
    }
}

impl Source for EnvSource {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    /// Values stay strings: the deserializer parses numbers and booleans where the field
    /// wants one, and a type error then names the variable.
    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        let mut m = Map::new();
        for (name, value) in &self.vars {
            let key = key_of(name).expect("checked in EnvSource::new");
            let origin = Some(name);
            let kind = if LIST_KEYS.contains(&key.as_str()) {
                let items = value
                    .split(',')
                    .map(str::trim)
                    .filter(|_| !value.trim().is_empty());
                ValueKind::Array(
                    items
                        .map(|s| Value::new(origin, ValueKind::String(s.to_owned())))
                        .collect(),
                )
            } else {
                ValueKind::String(value.clone())
            };
            m.insert(key, Value::new(origin, kind));
        }
        Ok(m)
    }
}

/// Answers "where was this key set?" from the merged configuration.
pub struct Provenance {
    root: Map<String, Value>,
    env_names: BTreeSet<String>,
    /// The `--config` file as the user wrote it.
    file: Option<String>,
}

impl Provenance {
    pub fn new(merged: &config::Config, env: &EnvSource, file: Option<&Path>) -> Provenance {
        Provenance {
            // `Config::get` would deserialize and drop the origins; the collected tree keeps them.
            root: merged.collect().unwrap_or_default(),
            env_names: env.names(),
            file: file.map(|f| f.display().to_string()),
        }
    }

    /// The origin of `key` (e.g. `window.hop`, `rules[2].message`), or of the deepest part of
    /// its path that exists.
    pub fn origin(&self, key: &str) -> Option<Origin> {
        let mut found: Option<&Value> = None;
        let mut table = Some(&self.root);
        for part in key.split('.') {
            let (name, indices) = part.split_once('[').unwrap_or((part, ""));
            let Some(mut v) = table.and_then(|t| t.get(name)) else {
                break;
            };
            for i in indices.split('[').map(|i| i.trim_end_matches(']')) {
                let next = match (&v.kind, i.parse::<usize>()) {
                    (ValueKind::Array(a), Ok(i)) => a.get(i),
                    _ => None,
                };
                match next {
                    Some(n) => v = n,
                    None => break,
                }
            }
            found = Some(v);
            table = match &v.kind {
                ValueKind::Table(t) => Some(t),
                _ => None,
            };
        }
        found.map(|v| self.origin_of(v))
    }

    /// Where `v` was set. A table the `config` crate made for a deeper key has no origin of
    /// its own (`LOG_GARDENER__NOPE__X` makes the table `nope`): it is where its first value
    /// with one was set.
    pub fn origin_of(&self, v: &Value) -> Origin {
        fn first(v: &Value) -> Option<&str> {
            v.origin().or_else(|| match &v.kind {
                ValueKind::Table(t) => t.values().find_map(first),
                ValueKind::Array(a) => a.iter().find_map(first),
                _ => None,
            })
        }
        self.classify(first(v))
    }

    /// The merged values, each with its origin.
    pub fn values(&self) -> &Map<String, Value> {
        &self.root
    }

    /// Where a value with the `config` crate's `origin` was set.
    pub fn classify(&self, origin: Option<&str>) -> Origin {
        match origin {
            None => Origin::BuiltIn,
            Some(o) if self.env_names.contains(o) => Origin::Env(o.to_owned()),
            Some(o) => Origin::File(self.file.clone().unwrap_or_else(|| o.to_owned())),
        }
    }

    /// Adds the origin to an error from validation.
    pub fn attach(&self, e: ConfigError) -> ConfigError {
        match e {
            ConfigError::Invalid {
                key,
                origin: None,
                message,
                others,
            } => ConfigError::Invalid {
                origin: self.origin(&key),
                key,
                message,
                others: others
                    .into_iter()
                    .map(|(k, o)| {
                        let o = o.or_else(|| self.origin(&k));
                        (k, o)
                    })
                    .collect(),
            },
            other => other,
        }
    }

    /// Turns a deserialization error (unknown key, wrong type, missing key) into one that names
    /// the key and where it was set.
    pub fn locate(&self, e: config::ConfigError) -> ConfigError {
        let (parent, inner) = match e {
            config::ConfigError::At { error, key, .. } => (key, *error),
            other => (None, other),
        };
        let join = |k: &str| match &parent {
            Some(p) if k.starts_with('[') => format!("{p}{k}"),
            Some(p) => format!("{p}.{k}"),
            None => k.to_owned(),
        };
        let (key, message) = match inner {
            config::ConfigError::Message(m) => match unknown_field(&m) {
                Some((field, expected)) => (join(field), format!("unknown key{expected}")),
                None => return ConfigError::Load(config::ConfigError::Message(m)),
            },
            config::ConfigError::Type {
                unexpected,
                expected,
                key,
                ..
            } => (
                join(&dotted(key.as_deref().unwrap_or_default())),
                format!(
                    "invalid type: {}, expected {expected}",
                    echoed(&unexpected.to_string())
                ),
            ),
            config::ConfigError::NotFound(k) => {
                (join(&dotted(&k)), "required key is missing".into())
            }
            other => return ConfigError::Load(other),
        };
        ConfigError::Invalid {
            origin: self.origin(&key),
            key,
            message,
            others: Vec::new(),
        }
    }
}

/// The crate joins an index and a field without a dot: `rules[0]name` → `rules[0].name`.
fn dotted(k: &str) -> String {
    k.replace(']', "].")
        .replace("].[", "][")
        .trim_end_matches('.')
        .to_owned()
}

/// serde's "unknown field `x`, expected one of …" → ("x", "; expected one of …").
fn unknown_field(m: &str) -> Option<(&str, String)> {
    let rest = m.strip_prefix("unknown field `")?;
    let (field, tail) = rest.split_once('`')?;
    let expected = tail.trim_start_matches(',').trim();
    let expected = if expected.is_empty() {
        String::new()
    } else {
        format!("; {expected}")
    };
    Some((field, expected))
}

/// The `--config` file as a `config` source; its values' origin is the path as given.
///
/// It is read here, not by the `config` crate, which calls a directory or an unreadable file
/// "not found" and, for a missing `NAME`, would quietly load `NAME.toml` instead.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: String,
    text: String,
}

impl FileSource {
    /// Reads `path` whole; an error names it and says what is wrong with it.
    pub fn read(path: &Path) -> Result<FileSource, ConfigError> {
        let shown = path.display().to_string();
        let fail = |detail: String| ConfigError::File {
            path: shown.clone(),
            detail,
        };
        if path.is_dir() {
            return Err(fail("it is a directory; give the TOML file in it".into()));
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|e| {
                fail(match e.kind() {
                    std::io::ErrorKind::NotFound => "not found".into(),
                    _ => e.to_string(),
                })
            })?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(fail(format!(
                "larger than {} MiB: not a configuration (500 rules of the longest patterns \
                 take a few)",
                MAX_FILE_BYTES >> 20
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(format!(
                "not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let text = text
            .strip_prefix('\u{feff}')
            .map(str::to_owned)
            .unwrap_or(text);
        let table = toml::de::DeTable::parse(&text)
            .map_err(|e| super::syntax::not_toml(&shown, &text, &e))?
            .into_inner();
        if let Some((key, number)) = out_of_range(table) {
            return Err(ConfigError::Invalid {
                key,
                origin: Some(Origin::File(shown)),
                message: format!(
                    "{number} is out of range (an integer must fit in 64 bits, a float must be \
                     finite)"
                ),
                others: Vec::new(),
            });
        }
        Ok(FileSource { path: shown, text })
    }
}

/// The key and text of the first number in a TOML table that the `config` crate cannot hold
/// (`99999999999999999999`, `1e309`): its own error names only the file.
fn out_of_range(table: toml::de::DeTable<'_>) -> Option<(String, String)> {
    use toml::de::DeValue;
    fn walk(key: String, v: &DeValue<'_>) -> Option<(String, String)> {
        match v {
            DeValue::Integer(i) if i64::from_str_radix(i.as_str(), i.radix()).is_err() => {
                let prefix = match i.radix() {
                    16 => "0x",
                    8 => "0o",
                    2 => "0b",
                    _ => "",
                };
                Some((key, format!("{prefix}{}", i.as_str())))
            }
            DeValue::Float(f)
                if !f.as_str().contains("inf")
                    && !f.as_str().parse::<f64>().is_ok_and(f64::is_finite) =>
            {
                Some((key, f.as_str().to_owned()))
            }
            DeValue::Table(t) => t.iter().find_map(|(k, v)| {
                let key = if key.is_empty() {
                    k.get_ref().to_string()
                } else {
                    format!("{key}.{}", k.get_ref())
                };
                walk(key, v.get_ref())
            }),
            DeValue::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(format!("{key}[{i}]"), v.get_ref())),
            _ => None,
        }
    }
    walk(String::new(), &DeValue::Table(table))
}

impl Source for FileSource {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        config::Format::parse(&config::FileFormat::Toml, Some(&self.path), &self.text).map_err(
            |cause| config::ConfigError::FileParse {
                uri: Some(self.path.clone()),
                cause,
            },
        )
    }
}
