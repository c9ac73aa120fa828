//! What a rule's regex cannot say: that a value is random enough (entropy), passes Luhn, is not
//! prose after a colon, or is already a placeholder (so redaction is idempotent).

use std::ops::Range;

#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// Every match is a secret.
    None,
    /// Unless it is only placeholders (`[REDACTED:…]`, `<*>`) already.
    NotPlaceholder,
    /// A `user:password@host`'s password, unless only placeholders, or the `user` is a scheme
    /// whose part is an address (`mailto:`, `sip:`, `xmpp:`): then it is an email's local part.
    NotAddressScheme,
    /// A cookie header: a quoted value keeps its quotes.
    Quoted,
    /// `token: connection reset` is prose, `token: a8Fk2` is not: after a spaced separator a
    /// lone lowercase word followed by more words, or a status word, is no value.
    NotProse,
    /// A password under its name in another language: not prose ([`Check::NotProse`]), and
    /// under `clave` (Spanish for any key as much as a password) not a record's key
    /// (`clave: pedido-12345`: a word and a number).
    ForeignPassword,
    /// A value named in prose (`api key X`): not a status word, and not a word at all — it holds
    /// a digit or a symbol, or a capital after its first letter.
    NotWord,
    /// A value after a key-like word: at least 16 characters of two classes, this many bits of
    /// entropy per character.
    Entropy(f64),
    /// A bare token: random-looking by length-scaled entropy, of at least two classes.
    Random,
    /// A card number: Luhn-valid with a brand's prefix and length.
    Luhn,
    /// An international phone number: not a decimal, nor a zone offset and a year.
    Phone,
    /// A phone number written nationally, no constant of its shape
    /// ([`super::phone::national_phone`]).
    NationalPhone,
    /// A US social security number: none of the ranges never issued (area 000, 666, 900–999,
    /// group 00, serial 0000).
    Ssn,
    /// An IBAN: 15 to 34 characters whose check digits hold (ISO 13616, mod 97); a group the
    /// regex took after it is left out.
    Iban,
    /// A national id whose check digits hold ([`super::national`]), not a group of a longer
    /// run; `keyed`: after a key word, also unbroken, and groups the regex took after it left
    /// out.
    NationalId { keyed: bool },
    /// A person's name or address under its key ([`super::personal::personal_value`]).
    PersonalValue,
    /// A person or an address as an object ([`super::objects::personal_object`]).
    PersonalObject,
}

impl Check {
    /// The range of `text` to replace for a candidate secret at `v` after `key`, if it is one.
    /// `input` is the text before any rule rewrote it: evidence beside a secret (an AWS access
    /// key id) may already be a placeholder in `text`.
    pub fn accept(
        self,
        text: &str,
        v: Range<usize>,
        key: Option<Range<usize>>,
        input: &str,
    ) -> Option<Range<usize>> {
        let value = &text[v.clone()];
        // A value a mask already made a variable (`pw:<*>…`) is not read again as a secret:
        // masking masked text changes nothing.
        if value.starts_with("<*>") || is_placeholder(value) {
            return None;
        }
        let ok = match self {
            Check::None | Check::NotPlaceholder => true,
            Check::NotAddressScheme => !key.is_some_and(|k| {
                ["mailto", "sip", "sips", "xmpp", "im", "pres"]
                    .iter()
                    .any(|s| text[k.clone()].eq_ignore_ascii_case(s))
            }),
            Check::Quoted => {
                // `"v"`, `'v'`, JSON-escaped `\"v\"`: the value inside one pair of quotes. The
                // range is measured on what was stripped, so it stays inside `value`.
                if let Some(body) = value.trim_start_matches('\\').strip_prefix(['"', '\'']) {
                    let inner = body.strip_suffix(['"', '\'']).unwrap_or(body);
                    let inner = inner.strip_suffix('\\').unwrap_or(inner);
                    let start = v.end - body.len();
                    let r = start..start + inner.len();
                    return (!inner.is_empty() && !is_placeholder(inner)).then_some(r);
                }
                true
            }
            Check::NotProse => !prose(text, &v, key),
            Check::ForeignPassword => {
                // Prose as the rule had it before it named its key: status words only.
                let clave = key.is_some_and(|k| text[k].eq_ignore_ascii_case("clave"));
                let record = clave && record_key(value);
                !(prose(text, &v, None) || record)
            }
            Check::NotWord => {
                // Sentence punctuation around it is not part of it (`Refresh token expired.`).
                let bare = value
                    .trim_start_matches('(')
                    .trim_end_matches(['.', ',', ':', ';', '!', '?', ')']);
                !STATUS_WORDS.iter().any(|w| bare.eq_ignore_ascii_case(w))
                    && !bare.is_empty()
                    && !word(bare)
                    && !bare.starts_with('/')
            }
            Check::Phone => phone(value),
            Check::NationalPhone => super::phone::national_phone(text, v.clone()),
            Check::Entropy(min) => {
                value.len() >= 16 && classes(value) >= 2 && entropy(value) >= min
            }
            Check::Random => random(value) || aws_secret_beside_id(input, value),
            Check::Luhn => {
                return card_within(value).map(|r| v.start + r.start..v.start + r.end);
            }
            Check::Ssn => ssn(value),
            Check::Iban => {
                return iban_within(value).map(|end| v.start..v.start + end);
            }
            Check::NationalId { keyed: true } => {
                let r = super::national::national_id_within(value, true)?;
                return Some(v.start + r.start..v.start + r.end);
            }
            Check::NationalId { keyed: false } => {
                // A group of a longer run of groups (a card number's, an account's) is none.
                let bytes = text.as_bytes();
                let (before, after) = (&bytes[..v.start], &bytes[v.end..]);
                let sep = |b: Option<&u8>| b.is_some_and(|b| matches!(b, b' ' | b'.' | b'-'));
                let digit = |b: Option<&u8>| b.is_some_and(u8::is_ascii_digit);
                let glued = (sep(before.last()) && digit(before.iter().rev().nth(1)))
                    || (sep(after.first()) && digit(after.get(1)));
                !glued && super::national::national_id(value, false)
            }
            Check::PersonalObject => return super::objects::personal_object(text, v),
            Check::PersonalValue => {
                let key = key.map(|k| &text[k]);
                return super::personal::personal_value(text, v, key);
            }
        };
        ok.then_some(v)
    }
}

/// A word and a number joined by `-` or `_` (`pedido-12345`, `order_42`): how records are
/// keyed.
fn record_key(value: &str) -> bool {
    value.split_once(['-', '_']).is_some_and(|(word, number)| {
        !word.is_empty()
            && word.bytes().all(|b| b.is_ascii_lowercase())
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Only placeholders (and punctuation): what redaction or masking already wrote.
pub fn is_placeholder(value: &str) -> bool {
    let mut rest = value.replace("<*>", "");
    while let Some(i) = rest.find("[REDACTED:") {
        match rest[i..].find(']') {
            Some(j) => rest.replace_range(i..i + j + 1, ""),
            None => break,
        }
    }
    rest.len() < value.len() && !rest.chars().any(char::is_alphanumeric)
}

/// Words that follow `password:` or `token =` in prose, never as the secret.
const STATUS_WORDS: [&str; 24] = [
    "expired",
    "invalid",
    "missing",
    "required",
    "empty",
    "null",
    "none",
    "nil",
    "true",
    "false",
    "undefined",
    "unknown",
    "not",
    "is",
    "was",
    "ok",
    "error",
    "failed",
    "revoked",
    "rejected",
    "denied",
    "present",
    "absent",
    "unset",
];

/// One of [`STATUS_WORDS`], in any case.
pub(super) fn status_word(value: &str) -> bool {
    STATUS_WORDS.iter().any(|w| value.eq_ignore_ascii_case(w))
}

fn prose(text: &str, v: &Range<usize>, key: Option<Range<usize>>) -> bool {
    let value = &text[v.clone()];
    if status_word(value) {
        return true;
    }
    let sep = key.clone().map_or("", |k| &text[k.end..v.start]);
    let spaced = sep.ends_with(char::is_whitespace);
    let key_plain = key.is_some_and(|k| text[k].bytes().all(|b| b.is_ascii_alphabetic()));
    let word = value.bytes().all(|b| b.is_ascii_lowercase());
    // A word redacted already (`… user [REDACTED:email]`) was a word: redacting again keeps
    // what the first pass kept.
    let more = text[v.end..].strip_prefix(' ').is_some_and(|r| {
        r.starts_with(|c: char| c.is_ascii_alphabetic()) || r.starts_with("[REDACTED:")
    });
    spaced && key_plain && word && more
}

/// Words: letters only, each capitalised at most at its first, maybe joined by `-` (`Reset`,
/// `changed`, `PIN`, `auto-rotation`).
fn word(value: &str) -> bool {
    value.split('-').all(|w| {
        let b = w.as_bytes();
        !b.is_empty()
            && b.iter().all(u8::is_ascii_alphabetic)
            && (b.iter().skip(1).all(u8::is_ascii_lowercase)
                || b.iter().all(u8::is_ascii_uppercase))
    })
}

/// An international phone number, not what reads like one: a decimal (`+3601.123456789`, Go's
/// monotonic clock reading) or a time zone offset and a year (`+1000 2025`, Ruby's dates).
fn phone(value: &str) -> bool {
    // Its separator when it has exactly one.
    let mut separators = value.bytes().skip(1).filter(|b| !b.is_ascii_digit());
    let single = match (separators.next(), separators.next()) {
        (Some(sep), None) => Some(sep),
        _ => None,
    };
    let decimal = single == Some(b'.');
    let offset_and_year = value.len() == 10 && single == Some(b' ') && value.as_bytes()[5] == b' ';
    !decimal && !offset_and_year
}

/// How many of upper, lower, digit (and symbol) appear.
fn classes(s: &str) -> usize {
    ByteSet::of(s).classes()
}

/// The distinct bytes of a text, one bit each.
struct ByteSet([u128; 2]);

impl ByteSet {
    fn of(s: &str) -> ByteSet {
        let mut seen = [0u128; 2];
        for b in s.bytes() {
            seen[usize::from(b >> 7)] |= 1 << (b & 127);
        }
        ByteSet(seen)
    }

    /// How many of upper, lower and digit it holds.
    fn classes(&self) -> usize {
        let range = Self::range;
        [range(b'A', b'Z'), range(b'a', b'z'), range(b'0', b'9')]
            .iter()
            .filter(|&&class| self.0[0] & class != 0)
            .count()
    }

    /// Letters of one case and digits, nothing else.
    fn one_case_alnum(&self) -> bool {
        let [low, high] = self.0;
        let (upper, lower, digit) = (
            Self::range(b'A', b'Z'),
            Self::range(b'a', b'z'),
            Self::range(b'0', b'9'),
        );
        high == 0 && (low & !(upper | digit) == 0 || low & !(lower | digit) == 0)
    }

    /// Hex digits only (either case).
    fn hex(&self) -> bool {
        let hex = Self::range(b'0', b'9') | Self::range(b'a', b'f') | Self::range(b'A', b'F');
        self.0[1] == 0 && self.0[0] & !hex == 0
    }

    /// The bits of the bytes `from..=to`.
    const fn range(from: u8, to: u8) -> u128 {
        (u128::MAX >> (127 - (to - from))) << from
    }

    fn len(&self) -> u32 {
        self.0[0].count_ones() + self.0[1].count_ones()
    }
}

/// Shannon entropy in bits per byte.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// A long bare token that reads as random: identifiers and hex ids have less entropy than a
/// random base64 string of their length (hex is at most 4 bits, words repeat letters).
pub(super) fn random(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    // An identifier is never random, however random its body; asked last, as most runs (a
    // block id, a path) fail the cheaper tests first.
    (mixed_random(body) || random_by_entropy(body)) && !identifier(body)
}

/// [`random`] by the entropy of the bytes, for what [`mixed_random`] does not take.
fn random_by_entropy(body: &str) -> bool {
    if body.len() < 24 || body.starts_with('/') || name_of_parts(body) {
        return false;
    }
    // The bytes it holds, in one pass: the classes, and a bound on the entropy (at most log2
    // of the distinct bytes), which most ids are below.
    let bytes = ByteSet::of(body);
    if bytes.classes() < 2 {
        return false;
    }
    let n = (body.len() as f64).log2();
    // Base62 is expected near log2(62) ≈ 5.95 bits a byte; letters of one case and digits (36
    // symbols) near 5.17, so that bar would miss two in three of 40-character ones. Those are
    // held to a lower bar (0.03 to 0.23 % missed at 24 to 64 characters) when the run is letters
    // and digits alone (a path or a dashed name is not one), not hex (commit and trace ids are
    // variables, not secrets; hex stays below 4 bits a byte whatever the bar), and switches
    // between letters and digits as random text does, at least once in six bytes
    // (`mysqlconnectionpool2workerthread7` switches three times, a random 40 about 16).
    let threshold = if bytes.one_case_alnum() && !bytes.hex() && switches(body) * 6 >= body.len() {
        (0.74 * n).min(4.3)
    } else {
        (0.85 * n).min(4.5)
    };
    f64::from(bytes.len()).log2() >= threshold && entropy(body) >= threshold
}

/// What an identifier looks like, however random its body: a short object id after a type
/// prefix known to name objects, not secrets (Stripe's `ch_3N…`, `cus_…`, `pi_…`; `usr_…`,
/// `org_…`), a ULID (26 Crockford base32 characters of one case, the first 0–7: a timestamp),
/// or a name of words joined by `-` or `_` (`Ocp-Apim-Subscription-Key`). Any other prefix
/// (`gsk_`, `ntn_`, `live_`) keeps the randomness check, and so does a body past 30 characters
/// whatever its prefix: Stripe's ids run to 24-28, keys to 32 and beyond.
fn identifier(body: &str) -> bool {
    const OBJECT_PREFIXES: [&str; 30] = [
        "acct", "ba", "btok", "card", "ch", "cn", "cs", "cus", "dp", "evt", "ii", "in", "ipi",
        "pi", "pm", "po", "price", "py", "pyr", "re", "seti", "si", "src", "sub", "txn", "usr",
        "user", "org", "team", "ord",
    ];
    let object_id = body.split_once('_').is_some_and(|(prefix, id)| {
        // Stripe's product ids are `prod_` and 14 characters; a longer `prod_` token is a key.
        let most = if prefix == "prod" { 16 } else { 30 };
        (OBJECT_PREFIXES.contains(&prefix) || prefix == "prod")
            && (10..=most).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let crockford =
        |b: u8| b.is_ascii_digit() || (b.is_ascii_alphabetic() && !b"ILOUilou".contains(&b));
    let ulid = body.len() == 26
        && matches!(body.as_bytes()[0], b'0'..=b'7')
        && body.bytes().all(crockford)
        && !(body.bytes().any(|b| b.is_ascii_uppercase())
            && body.bytes().any(|b| b.is_ascii_lowercase()));
    let words = body.split(['-', '_']).count() >= 2
        && body.split(['-', '_']).all(|w| !w.is_empty() && word(w));
    object_id || ulid || words
}

/// A name made of short parts and no capital: a Cloud Run revision
/// (`billing-svc-prod-00433-kf2`), a Kubernetes pod (`notify-svc-4e349d9872-6wm9s`), a job id
/// (`bquxjob_5e4f3a2b_18c9d0e1f2a`). Three parts or more of at most 12 bytes, joined by `-` or
/// `_`. Random base64 has a capital in all but 1 in 30,000 runs of 24 bytes, and a secret of
/// small letters and digits alone is not cut into short parts.
pub(super) fn name_of_parts(body: &str) -> bool {
    let parts = || body.split(['-', '_']);
    !body.bytes().any(|b| b.is_ascii_uppercase())
        && parts().count() >= 3
        && parts().all(|p| !p.is_empty() && p.len() <= 12)
}

/// Letters of both cases and digits, at least 16, that read as random. Below 24 characters
/// entropy alone cannot tell such a token from a name (`ConnectionManager2Impl`), and above it
/// the entropy bar below still misses one random token in 50; this holds it to what random text
/// does and names do not. Unless it breaks into short pieces (a small letter then a capital, or
/// a digit beside a letter, at least every third byte: a name is a few words, `Connection`,
/// `Manager`, `2`, `Impl`), it holds no word: no run of five small letters with a vowel. About
/// 1 in 100 random ones is missed (`random_tokens_are_missed_rarely_at_any_length`); one
/// without a digit always is.
fn mixed_random(body: &str) -> bool {
    let b = body.as_bytes();
    if b.len() < 16 || !b.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let pieces = 1 + b
        .windows(2)
        .filter(|w| {
            (w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
                || w[0].is_ascii_digit() != w[1].is_ascii_digit()
        })
        .count();
    let word = b
        .split(|c| !c.is_ascii_lowercase())
        .any(|run| run.len() >= 5 && run.iter().any(|c| b"aeiouy".contains(c)));
    ByteSet::of(body).classes() == 3
        && (pieces * 3 >= b.len() || !word)
        && entropy(body) >= (0.8 * (b.len() as f64).log2()).min(4.5)
}

/// How often `s` switches between a digit and another byte.
fn switches(s: &str) -> usize {
    let b = s.as_bytes();
    b.windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count()
}

/// Whether [`Check::Random`] may accept a value whose body is `run` (a whole run of bare token
/// characters in `text`): the value adds at most two `=` of padding.
pub fn may_be_random(text: &str, run: &str) -> bool {
    random(run) || ((38..=40).contains(&run.len()) && beside_aws_id(text, run))
}

/// A bare 40-character AWS secret access key in the same text as an access key id: random
/// enough by construction, so the mixed classes are proof enough there.
fn aws_secret_beside_id(text: &str, value: &str) -> bool {
    value.len() == 40 && beside_aws_id(text, value)
}

fn beside_aws_id(text: &str, value: &str) -> bool {
    classes(value) >= 2 && ["AKIA", "ASIA"].iter().any(|id| text.contains(id))
}

/// The longest run of `value`'s digit groups that is a card number: a number written beside
/// the card (`paid 3 times 4000 0000 0000 0002 0`) joins it through the separators the regex
/// allows, and must not hide it.
fn card_within(value: &str) -> Option<Range<usize>> {
    let mut cuts = vec![0];
    for (i, c) in value.char_indices() {
        if c == ' ' || c == '-' {
            cuts.push(i);
            cuts.push(i + 1);
        }
    }
    cuts.push(value.len());
    // Group spans: (start of a group, end of a later group), longest first.
    let starts: Vec<usize> = cuts.iter().step_by(2).copied().collect();
    let ends: Vec<usize> = cuts.iter().skip(1).step_by(2).copied().collect();
    let mut spans: Vec<(usize, usize)> = starts
        .iter()
        .flat_map(|&a| ends.iter().filter(move |&&b| b > a).map(move |&b| (a, b)))
        .collect();
    spans.sort_by_key(|&(a, b)| (std::cmp::Reverse(b - a), a));
    spans
        .into_iter()
        .find(|&(a, b)| card(&value[a..b]))
        .map(|(a, b)| a..b)
}

/// `ddd-dd-dddd` outside the ranges never issued.
fn ssn(s: &str) -> bool {
    let (area, group, serial) = (&s[..3], &s[4..6], &s[7..]);
    !matches!(area, "000" | "666") && !area.starts_with('9') && group != "00" && serial != "0000"
}

/// Where the longest IBAN at the start of `value` ends: all of it, or less its last groups.
fn iban_within(value: &str) -> Option<usize> {
    let mut end = value.len();
    loop {
        if iban(&value[..end]) {
            return Some(end);
        }
        end = value[..end].rfind(' ')?;
    }
}

fn iban(s: &str) -> bool {
    let c: Vec<u8> = s.bytes().filter(|&b| b != b' ').collect();
    if !(15..=34).contains(&c.len()) {
        return false;
    }
    // Country and check digits moved to the end, letters as 10–35, the number mod 97 is 1.
    let mut rest = 0u32;
    for &b in c[4..].iter().chain(&c[..4]) {
        rest = match b {
            b'0'..=b'9' => (rest * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => (rest * 100 + u32::from(b - b'A') + 10) % 97,
            b'a'..=b'z' => (rest * 100 + u32::from(b - b'a') + 10) % 97,
            _ => return false,
        };
    }
    rest == 1
}

/// Whether an unbroken run of digits is a card number the card rule may take whole: at most
/// 19 digits (a longer run has no end the rule's regex accepts), a brand's and Luhn-valid.
pub fn card_run(digits: &[u8]) -> bool {
    digits.len() <= 19 && std::str::from_utf8(digits).is_ok_and(card)
}

fn card(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    let n = digits.len();
    let brand = match digits.first() {
        Some(4) => matches!(n, 13 | 16 | 19),
        Some(5) | Some(2) => n == 16,
        Some(3) => (14..=16).contains(&n),
        Some(6) => matches!(n, 16 | 19),
        _ => false,
    };
    if !brand {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2 == 1, d * 2) {
            (true, dd) if dd > 9 => dd - 9,
            (true, dd) => dd,
            (false, _) => d,
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_brands() {
        assert!(card("4111 1111 1111 1111"));
        assert!(card("5500-0000-0000-0004"));
        assert!(card("378282246310005"));
        assert!(!card("4111 1111 1111 1112"));
        assert!(!card("1700000000000")); // an epoch in milliseconds
        let v = "4000000000000002 0";
        assert_eq!(card_within(v).map(|r| &v[r]), Some("4000000000000002"));
        let v = "3 4111 1111 1111 1111";
        assert_eq!(card_within(v).map(|r| &v[r]), Some("4111 1111 1111 1111"));
        assert_eq!(card_within("4111 1111 1111 1112"), None);
    }

    #[test]
    fn ssns_and_ibans() {
        assert!(ssn("123-45-6789"));
        assert!(!ssn("000-12-3456") && !ssn("666-12-3456") && !ssn("912-34-5678"));
        assert!(!ssn("123-00-4567") && !ssn("123-45-0000"));
        assert!(iban("DE89 3704 0044 0532 0130 00"));
        assert!(iban("GB82WEST12345698765432"));
        assert!(!iban("DE89 3704 0044 0532 0130 01"));
        assert_eq!(iban_within("GB82 WEST 1234 5698 7654 32 ABC"), Some(27));
        assert_eq!(iban_within("AB12 CDEF GHIJ"), None);
    }

    #[test]
    fn random_tokens_but_not_identifiers_or_hex() {
        assert!(random("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
        assert!(random("q8Zr2LmX0vT5bN7cYp3KdW1s"));
        assert!(!random("AbstractHttp2ConnectionHandlerBuilder"));
        assert!(!random("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(!random("backend-7d9f8b6c4-x2x9z-abcdef"));
        // One case and digits: held to their own bar, but never hex or a path.
        assert!(random("p6afqfjzczbttof7jyu5jsjc616i76bofbcixgy2"));
        assert!(random("XJQI3OGZ5KOK16ZV0MWUFXBV932BYV7S6EHOGFQR"));
        // Entropy 4.11 bits a byte: below the bar of mixed-case tokens, above this one's.
        assert!(random("r64qcnbkbqpuf60sccv0hvro7p0d0hbrbb08ic05"));
        assert!(!random("7e8990a946474907823bf1ee8ebc68487e8990a9"));
        assert!(!random(
            "projects/acme-prod/traces/7e8990a946474907823bf1ee8ebc6848"
        ));
        assert!(!random("hadoopmapreducejobhistoryserver2"));
        assert!(!random("mysqlconnectionpool2workerthread7"));
        assert!(!random("containere1234567890123456789012"));
        // Shorter than 24: only what mixes all three classes as random text does.
        assert!(random("x7Kp2QmZ9vT4bN8cYw"));
        assert!(random("Zr2LmX0vT5bN7cYp"));
        assert!(!random("ConnectionManager2Impl"));
        assert!(!random("Log4jConfigLoader"));
        assert!(!random("Http11NioProtocol"));
        assert!(!random("HTTP2ConnectionHandler"));
        assert!(!random("d41d8cd98f00b204e980"));
        assert!(!random("backend-7d9f8b6c4-x2x9z"));
        assert!(!random("AbstractHttp2Conn"));
    }

    #[test]
    fn object_ids_but_not_prefixed_keys() {
        // Keys after a prefix no object id has, or too long for one, stay random.
        for key in [
            "gsk_q8Zr2LmX0vT5bN7cYp3KdW1sAb9Qx4LkTr6Hj0PzWv3NmXy7Rb2Ks9Eh",
            "ntn_4Fq8Zr2LmX0vT5bN7cYp3KdW1sAb9Qx4LkTr6Hj0Pz",
            "live_q8Zr2LmX0vT5bN7cYp3KdW1sAb9Qx4LkTr6H",
            "prod_q8Zr2LmX0vT5bN7cYp3KdW1sAb9Qx4LkTr6Hj0PzWv3NmXy",
            "usr_q8Zr2LmX0vT5bN7cYp3KdW1sAb9Qx4LkTr6Hj0PzWv3",
        ] {
            assert!(!identifier(key), "{key}");
            assert!(random(key), "{key}");
        }
        for id in [
            "ch_3NkT2bLkdIwHu7ix0X1Y2Z3a",
            "pi_3NkT2bLkdIwHu7ix1ABCdefG",
            "cus_NffrFeUfNV2Hib",
            "prod_NWjs8kKbJWmuuc",
            "usr_2bLkdIwHu7ix0X1Y2Z3a9",
            "evt_1NkT2bLkdIwHu7ixQz9Xy8Wv",
        ] {
            assert!(identifier(id), "{id}");
            assert!(!random(id), "{id}");
        }
    }

    /// How many of `n` random tokens of `len` drawn from `alphabet` (with at least one of each
    /// `required` class, as generators of keys make them) [`random`] misses.
    fn misses(alphabet: &[u8], required: &[&[u8]], len: usize, n: usize) -> usize {
        let mut rng = crate::synth::Rng::new(len as u64);
        let mut pick = |set: &[u8]| set[rng.below(set.len() as u64) as usize];
        (0..n)
            .filter(|_| {
                let mut token: Vec<u8> = required.iter().map(|set| pick(set)).collect();
                token.extend((token.len()..len).map(|_| pick(alphabet)));
                !random(std::str::from_utf8(&token).expect("ASCII"))
            })
            .count()
    }

    #[test]
    fn random_tokens_are_missed_rarely_at_any_length() {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
        const DIGITS: &[u8] = b"0123456789";
        let base62 = [UPPER, LOWER, DIGITS].concat();
        let base36 = [LOWER, DIGITS].concat();
        // Short ones: under 1.5 in 100 (measured 0.7 to 1.2).
        for len in [16, 18, 20, 23] {
            let missed = misses(&base62, &[UPPER, LOWER, DIGITS], len, 10_000);
            assert!(missed < 150, "{missed} of 10,000 at {len}");
        }
        // Long ones: under 1 in 200 (measured 0 to 0.23 in 100; base62 missed 1.4 to 2.4 before
        // mixed classes had a rule of their own).
        for len in [24, 32, 40, 64] {
            let missed = misses(&base36, &[LOWER, DIGITS], len, 10_000);
            assert!(missed < 50, "{missed} of 10,000 base36 at {len}");
            let missed = misses(&base62, &[UPPER, LOWER, DIGITS], len, 10_000);
            assert!(missed < 50, "{missed} of 10,000 base62 at {len}");
        }
    }

    #[test]
    fn placeholders() {
        assert!(is_placeholder("[REDACTED:password]"));
        assert!(is_placeholder("<*>"));
        assert!(!is_placeholder("<*>hunter2"));
        assert!(!is_placeholder("hunter2"));
    }
}
