//! Bounds on the work and memory of fingerprinting: per message, per template mined, per key.

use super::family::Limits;
use super::mask::VAR;

/// How much of a message counts and how much a key may hold. Every bound keeps every entry: a
/// cut message still has an id, a template past a bound still has a fine and a canonical id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FingerprintConfig {
    /// Tokens of the masked message that count for its id and template; the rest is written as
    /// one trailing `<*>`. 128 like Loki's pattern miner (Elastic categorizes on 100): the
    /// longest Loghub-2k message has 105 tokens, and a message that agrees with another on its
    /// first 128 is the same event. Bounds mining work per message; masking stays linear in
    /// bytes.
    pub max_tokens: usize,
    /// Distinct templates stored and mined per key (service, severity class, location). A
    /// further template reads as the cluster of a stored template it differs from in one token,
    /// else as its own (fine id = canonical id, its masked text as template); none is dropped.
    pub max_templates_per_key: usize,
    /// Tokens of the templates stored (mined, or registered exactly) over all keys together,
    /// each template counted as its tokens (or its bytes / 16, if more) plus 16: what a stored
    /// template costs grows with its tokens (a slot per token) and its text on top of its own
    /// bookkeeping. 2,000,000: some 85,000 templates of 8 tokens, 14,000 of 128. Past it no key
    /// stores another: a new template reads as above, and its fine id is kept only while a
    /// window holds it (see [`super::Fingerprinter::forget_transient`]), so neither memory nor
    /// the checkpoint grows with distinct messages spread over many keys.
    pub max_template_tokens: usize,
    /// Stored templates a new one is compared with in full when it is mined. A template with
    /// more candidates than that is not stored and reads as above.
    pub max_candidates: usize,
}

impl Default for FingerprintConfig {
    fn default() -> Self {
        FingerprintConfig {
            max_tokens: 128,
            max_templates_per_key: 10_000,
            max_template_tokens: 2_000_000,
            max_candidates: 1_024,
        }
    }
}

impl FingerprintConfig {
    pub(super) fn limits(&self) -> Limits {
        Limits {
            max_templates: self.max_templates_per_key,
            max_candidates: self.max_candidates,
        }
    }

    /// The limits of a key while templates of `stored` tokens are stored over all keys: none
    /// may store another once they reach [`max_template_tokens`](Self::max_template_tokens).
    pub(super) fn limits_with(&self, stored: usize) -> Limits {
        let mut limits = self.limits();
        if stored >= self.max_template_tokens {
            limits.max_templates = 0;
        }
        limits
    }
}

/// The longest token a template keeps as it is: a longer one (a blob, a dump, a run of
/// padding) is a value, written `<*>`. Loghub's longest constant token is under 100 bytes.
pub const MAX_TOKEN_BYTES: usize = 256;
/// The longest template: cut before it at a token boundary, the cut written as a trailing
/// `<*>`. With [`MAX_TOKEN_BYTES`] it bounds what every cluster keeps of its text, transient
/// ones included, whatever `input.max_entry_bytes` lets in.
pub const MAX_TEMPLATE_BYTES: usize = 4096;

/// Cuts a masked template after `max_tokens` tokens and [`MAX_TEMPLATE_BYTES`] bytes, writing
/// the cut as a trailing `<*>` token, and writes each token longer than [`MAX_TOKEN_BYTES`]
/// as `<*>`. Idempotent: a cut template is cut the same way again.
pub fn cap_tokens(masked: &mut String, max_tokens: usize) {
    let max_tokens = max_tokens.max(1);
    if masked.len() > MAX_TOKEN_BYTES {
        mask_long_tokens(masked);
    }
    // Tokens are a byte or more, one space apart: a short text cannot have too many.
    if masked.len() >= 2 * max_tokens {
        if let Some(at) = memchr::memchr_iter(b' ', masked.as_bytes()).nth(max_tokens - 1) {
            cut_at(masked, at);
        }
    }
    if masked.len() > MAX_TEMPLATE_BYTES {
        // The last boundary that leaves room for ` <*>`; a text without one keeps `<*>` alone.
        let room = MAX_TEMPLATE_BYTES - VAR.len() - 1;
        let at = memchr::memrchr(b' ', &masked.as_bytes()[..=room]).unwrap_or(0);
        if at == 0 {
            masked.clear();
            masked.push_str(VAR);
        } else {
            cut_at(masked, at);
        }
    }
}

/// `masked` up to the space at `at`, then ` <*>`.
fn cut_at(masked: &mut String, at: usize) {
    masked.truncate(at);
    masked.push(' ');
    masked.push_str(VAR);
}

fn mask_long_tokens(masked: &mut String) {
    if !masked.split(' ').any(|t| t.len() > MAX_TOKEN_BYTES) {
        return;
    }
    let out: Vec<&str> = masked
        .split(' ')
        .map(|t| if t.len() > MAX_TOKEN_BYTES { VAR } else { t })
        .collect();
    *masked = out.join(" ");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(s: &str, n: usize) -> String {
        let mut m = s.to_string();
        cap_tokens(&mut m, n);
        m
    }

    #[test]
    fn the_cut_is_a_trailing_variable() {
        assert_eq!(cap("a b c d", 4), "a b c d");
        assert_eq!(cap("a b c d e", 4), "a b c d <*>");
        assert_eq!(cap("a b c d e f g", 4), "a b c d <*>");
        assert_eq!(cap(&cap("a b c d e f g", 4), 4), "a b c d <*>");
        assert_eq!(cap("", 4), "");
        assert_eq!(cap("a b", 0), "a <*>");
    }

    #[test]
    fn long_tokens_and_long_templates_are_cut_to_bounds() {
        let blob = "x".repeat(MAX_TOKEN_BYTES + 1);
        let kept = "y".repeat(MAX_TOKEN_BYTES);
        assert_eq!(
            cap(&format!("upload {blob} {kept} ok"), 128),
            format!("upload <*> {kept} ok")
        );
        // 200 tokens of 100 bytes: the token cap alone would keep 12 KB.
        let long = vec!["z".repeat(99); 200].join(" ");
        let cut = cap(&long, 128);
        assert!(cut.len() <= MAX_TEMPLATE_BYTES, "{}", cut.len());
        assert!(cut.ends_with(" <*>") && cut.starts_with(&"z".repeat(99)));
        assert!(
            cut.split(' ').all(|t| t == "<*>" || t.len() == 99),
            "cut between tokens"
        );
        // The bounds hold for anything, and cutting again changes nothing.
        for text in [
            long.clone(),
            format!("{blob} {long}"),
            "a ".repeat(5000),
            blob.repeat(40),
            format!("{} {blob}", "b".repeat(4094)),
        ] {
            let once = cap(&text, 128);
            assert!(once.len() <= MAX_TEMPLATE_BYTES);
            assert!(once.split(' ').all(|t| t.len() <= MAX_TOKEN_BYTES));
            assert_eq!(cap(&once, 128), once);
        }
    }
}
