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
    /// each template counted as its tokens plus 16: what a stored template costs grows with
    /// its tokens (a slot per token) on top of its own bookkeeping. 2,000,000: some 85,000
    /// templates of 8 tokens, 14,000 of 128. Past it no key
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

/// Cuts a masked template after `max_tokens` tokens, writing the cut as a trailing `<*>` token.
/// Idempotent: a cut template is cut the same way again.
pub fn cap_tokens(masked: &mut String, max_tokens: usize) {
    let max_tokens = max_tokens.max(1);
    // Tokens are a byte or more, one space apart: a short text cannot have too many.
    if masked.len() < 2 * max_tokens {
        return;
    }
    if let Some((at, _)) = memchr::memchr_iter(b' ', masked.as_bytes())
        .enumerate()
        .nth(max_tokens - 1)
        .map(|(i, at)| (at, i))
    {
        masked.truncate(at);
        masked.push(' ');
        masked.push_str(VAR);
    }
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
}
