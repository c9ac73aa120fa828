//! What redaction gave for short texts that come back: JSON keys and the short values beside
//! them (`severity`, `logName`, a resource's labels) repeat in nearly every entry, and
//! [`super::redact`] and [`super::secret_key_kind`] are pure functions of the text. Per
//! thread (no lock on the hot path) and bounded: texts up to [`MEMO_BYTES`], up to
//! [`MEMO_TEXTS`] of them; when full it starts again. The answer is the same either way.

use std::cell::RefCell;
use std::collections::HashMap;
use std::thread::LocalKey;

/// The longest text remembered: keys and short values; a message or a payload is not.
pub(super) const MEMO_BYTES: usize = 128;
/// Texts remembered per memo and thread (at most ~0.7 MB each with their answers).
pub(super) const MEMO_TEXTS: usize = 4096;

pub(super) type Memo<V> = RefCell<HashMap<Box<str>, V>>;

/// `compute(text)`, remembered in `memo` when `text` is short. A memo already in use on this
/// thread (`compute` reaching the same memo again) is passed by, not waited for.
pub(super) fn remembered<V: Clone + 'static>(
    memo: &'static LocalKey<Memo<V>>,
    text: &str,
    compute: impl FnOnce(&str) -> V,
) -> V {
    if text.len() > MEMO_BYTES {
        return compute(text);
    }
    let known = memo.with(|m| m.try_borrow().ok()?.get(text).cloned());
    if let Some(v) = known {
        return v;
    }
    let v = compute(text);
    memo.with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            if m.len() >= MEMO_TEXTS {
                m.clear();
            }
            m.insert(text.into(), v.clone());
        }
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static LENGTHS: Memo<usize> = RefCell::new(HashMap::new());
    }

    #[test]
    fn a_short_text_is_computed_once_a_long_one_every_time_and_the_memo_stays_bounded() {
        let calls = std::cell::Cell::new(0);
        let len = |t: &str| {
            calls.set(calls.get() + 1);
            t.len()
        };
        assert_eq!(remembered(&LENGTHS, "severity", len), 8);
        assert_eq!(remembered(&LENGTHS, "severity", len), 8);
        assert_eq!(calls.get(), 1, "the second answer was remembered");
        let long = "x".repeat(MEMO_BYTES + 1);
        remembered(&LENGTHS, &long, len);
        remembered(&LENGTHS, &long, len);
        assert_eq!(calls.get(), 3, "a long text is not remembered");
        for i in 0..MEMO_TEXTS + 10 {
            remembered(&LENGTHS, &format!("key{i}"), len);
        }
        assert!(LENGTHS.with(|m| m.borrow().len()) <= MEMO_TEXTS);
    }
}
