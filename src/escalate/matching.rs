//! `Regex::is_match` on the texts each window close matches again: cluster templates and
//! loggers, against every escalation rule and the incident wording. A Unicode `\b` stops the
//! regex crate's lazy DFA at the first non-ASCII byte, and what it falls back to (the PikeVM)
//! costs 10–100× as much: a template with an `→` or an emoji met it at every close, for each
//! rule it reached. The answers for non-ASCII texts are remembered per thread (bounded; the
//! same pattern source is the same regex, whatever its size limits); ASCII texts go to the DFA.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;

/// Bytes of remembered texts per thread before the memo starts again.
const MEMO_BYTES: usize = 1 << 20;

#[derive(Default)]
struct Memo {
    /// Pattern source → text → whether it matched.
    by_pattern: HashMap<Box<str>, HashMap<Box<str>, bool>>,
    bytes: usize,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::default();
}

/// `re.is_match(text)`, remembered when `text` is not ASCII.
pub fn is_match(re: &Regex, text: &str) -> bool {
    if text.is_ascii() {
        return re.is_match(text);
    }
    let pattern = re.as_str();
    let known = MEMO.with(|m| m.borrow().by_pattern.get(pattern)?.get(text).copied());
    if let Some(matched) = known {
        return matched;
    }
    let matched = evaluated(re, text);
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.bytes + text.len() + pattern.len() > MEMO_BYTES {
            *m = Memo::default();
        }
        m.bytes += text.len() + pattern.len();
        m.by_pattern
            .entry(pattern.into())
            .or_default()
            .insert(text.into(), matched);
    });
    matched
}

/// Every regex run for a non-ASCII text goes through here (counted in tests).
fn evaluated(re: &Regex, text: &str) -> bool {
    #[cfg(test)]
    RUNS.with(|n| n.set(n.get() + 1));
    re.is_match(text)
}

#[cfg(test)]
thread_local! {
    static RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_ascii_text_is_matched_once_per_pattern_with_the_regexs_answer() {
        let runs = || RUNS.with(|n| n.get());
        let word = Regex::new(r"(?i)\bretrying\b").unwrap();
        let status = Regex::new(r"→ 5\d\d$").unwrap();
        let before = runs();
        for _ in 0..3 {
            for text in [
                "GET /x → 503",
                "Retrying → 200",
                "retrying now",
                "Xretrying → 1",
            ] {
                assert_eq!(is_match(&word, text), word.is_match(text), "{text}");
                assert_eq!(is_match(&status, text), status.is_match(text), "{text}");
            }
        }
        // Three non-ASCII texts, two patterns: each pair run once; ASCII texts never remembered.
        assert_eq!(runs() - before, 6);
    }

    #[test]
    fn the_memo_starts_again_when_full() {
        let re = Regex::new(r"\bé").unwrap();
        let long = "é".repeat(MEMO_BYTES / 4);
        for i in 0..8 {
            assert!(is_match(&re, &format!("{i} {long}")));
        }
        assert!(MEMO.with(|m| m.borrow().bytes) <= MEMO_BYTES);
    }
}
