//! A TOML syntax error as one line: the key of the line it is on and where it was set, the
//! line and column, the parser's message, and the line quoted cut short (the parser's own
//! rendering quotes the whole line and underlines it, however long it is).

use super::source::Origin;
use super::{echoed, ConfigError};

/// A TOML syntax error in the file at `path`, naming the key of the line it is on (with its
/// table) where there is one, and quoting that line cut short: the parser's own message
/// quotes the whole line, and underlines it, however long it is.
pub(super) fn not_toml(path: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let mut at = e.span().map_or(0, |s| s.start).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = text[..start].matches('\n').count() + 1;
    let column = text[start..at].chars().count() + 1;
    let content = text[start..end].trim_end_matches('\r');
    let detail = format!(
        "not TOML at line {line}, column {column}: {} (the line: `{}`)",
        echoed(&e.message().trim().replace('\n', "; ")),
        echoed(content.trim())
    );
    match line_key(&text[..start], content) {
        Some(key) => ConfigError::Invalid {
            key,
            origin: Some(Origin::File(path.to_owned())),
            message: detail,
            others: Vec::new(),
        },
        None => ConfigError::File {
            path: path.to_owned(),
            detail,
        },
    }
}

/// The key a TOML line sets (`hop = …` under `[window]`: `window.hop`), or the table it opens;
/// `None` for a line that does neither. `before` is the text above the line.
fn line_key(before: &str, line: &str) -> Option<String> {
    let header = |l: &str| {
        let l = l.trim();
        l.starts_with('[').then(|| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
    };
    if let Some(table) = header(line) {
        return Some(table);
    }
    let key = line.split_once('=')?.0.trim();
    if key.is_empty() {
        return None;
    }
    Some(match before.lines().rev().find_map(header) {
        Some(table) if !table.is_empty() => format!("{table}.{key}"),
        _ => key.to_owned(),
    })
}
