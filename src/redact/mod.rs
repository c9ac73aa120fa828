//! Secrets and personal data recognised in any text, before anything is fingerprinted or
//! written: worklogs and GitHub issues may be public, alerts go to chat rooms.
//!
//! One recogniser ([`patterns`], [`check`]) with two renderings: [`redact`] writes
//! `[REDACTED:<kind>]` for output, [`mask_secrets`] writes the fingerprint variable `<*>` so no
//! template ever holds a secret, constant or not. [`redact_json`] rewrites a sample entry, also
//! dropping the values of keys that name a secret whatever those values look like. Each rule has
//! a gate ([`patterns::Gate`]: its key words, found for all rules in one Aho-Corasick pass, with
//! what the rule needs around them — a separator after a key name, the case of a vendor prefix
//! — and the runs of characters its secrets are made of, measured only when a rule still open
//! needs them); only rules whose gate opens run their regex, so a clean line costs about one
//! pass and comes back borrowed.

mod check;
mod id_words;
mod inert;
mod kept;
mod memo;
mod national;
mod objects;
mod patterns;
mod personal;
mod phone;
mod serialize;
mod writer;

pub(crate) use inert::{code_span, fence};
pub use inert::{neutralise, Inert, InertJson};
pub use kept::KeptEntry;
pub use writer::InertWriter;

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use regex::Regex;
use serde_json::Value;

use check::Check;
use patterns::{Follow, Gate, Kind};

struct Rule {
    regex: Regex,
    kind: Kind,
    check: Check,
    gate: Gate,
}

/// A set of rules, one bit each.
type Rules = u64;

struct Recogniser {
    rules: Vec<Rule>,
    /// Every gate word of every rule, found in one pass.
    words: AhoCorasick,
    /// For each word, the rules it opens, by what they need around it.
    opens: Vec<Opens>,
}

/// What one gate word opens: the rules, grouped by what they need around it.
struct Opens {
    word: &'static str,
    rules: Vec<(Follow, Rules)>,
}

static RECOGNISER: LazyLock<Recogniser> = LazyLock::new(|| {
    let sources = patterns::sources();
    assert!(sources.len() <= Rules::BITS as usize, "one bit per rule");
    let mut opens: Vec<Opens> = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        for &word in s.gate.words {
            let at = opens
                .iter()
                .position(|o| o.word == word)
                .unwrap_or_else(|| {
                    opens.push(Opens {
                        word,
                        rules: Vec::new(),
                    });
                    opens.len() - 1
                });
            let rules = &mut opens[at].rules;
            match rules.iter_mut().find(|(f, _)| *f == s.gate.follow) {
                Some((_, set)) => *set |= 1 << i,
                None => rules.push((s.gate.follow, 1 << i)),
            }
        }
    }
    let words: Vec<&str> = opens.iter().map(|o| o.word).collect();
    Recogniser {
        // The patterns and words are constants covered by the tests; failing here is a build
        // defect.
        words: AhoCorasick::builder()
            .ascii_case_insensitive(true)
            // A DFA: twice the speed of the default on log lines, a few hundred KB once.
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&words)
            .expect("redaction gate words build"),
        opens,
        rules: sources
            .into_iter()
            .map(|s| Rule {
                regex: Regex::new(&patterns::ascii(&s.pattern))
                    .expect("redaction patterns compile"),
                kind: s.kind,
                check: s.check,
                gate: s.gate,
            })
            .collect(),
    }
});

impl Recogniser {
    /// The rules that may match `text` (what the rules before left of `input`): those whose
    /// gate it passes. One pass for the words, one over the bytes for the runs; a clean log
    /// line usually opens none.
    fn candidates(&self, text: &str, input: &str) -> Rules {
        let all = Rules::MAX >> (Rules::BITS as usize - self.rules.len());
        // `(?i)` folds `ſ` to `s` and the Kelvin sign to `k`, which no ASCII word gate sees.
        if !text.is_ascii() && text.contains(['\u{17f}', '\u{212a}']) {
            return all;
        }
        let mut worded: Rules = 0;
        for m in self.words.find_overlapping_iter(text) {
            let o = &self.opens[m.pattern().as_usize()];
            for &(follow, rules) in &o.rules {
                if rules & !worded != 0 && follow.holds(text.as_bytes(), m.range(), o.word) {
                    worded |= rules;
                }
            }
        }
        // Each run is measured only when a rule still open needs it, and only as far as needed.
        let (mut token, mut random) = (None, None);
        let mut open = 0;
        for (i, r) in self.rules.iter().enumerate() {
            let g = &r.gate;
            let opens = (g.words.is_empty() || worded & (1 << i) != 0)
                && (g.run == 0 || *token.get_or_insert_with(|| longest_token_run(text)) >= g.run)
                && (!g.random || *random.get_or_insert_with(|| random_run(text, input)))
                && g.scan.is_none_or(|scan| scan(text.as_bytes()));
            open |= Rules::from(opens) << i;
        }
        open
    }
}

const TOKEN: u8 = 1;
const BARE: u8 = 2;
const DIGIT: u8 = 4;
const SEPARATOR: u8 = 8;
/// What may not come right before a card number (`[A-Za-z0-9.+-]`).
const NOT_BEFORE_CARD: u8 = 16;
/// What a card number starts with (`[2-6]`).
const CARD_START: u8 = 32;

/// Each byte's classes, one table lookup a byte for every run the gates measure.
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if patterns::is_token_byte(c) { TOKEN } else { 0 }
            | if patterns::is_bare_byte(c) { BARE } else { 0 }
            | if c.is_ascii_digit() { DIGIT } else { 0 }
            | if c == b' ' || c == b'-' { SEPARATOR } else { 0 }
            | if c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-') {
                NOT_BEFORE_CARD
            } else {
                0
            }
            | if matches!(c, b'2'..=b'6') {
                CARD_START
            } else {
                0
            };
        b += 1;
    }
    t
};

/// The longest run of [`patterns::is_token_byte`] in `text`.
fn longest_token_run(text: &str) -> usize {
    text.as_bytes()
        .split(|&b| CLASSES[b as usize] & TOKEN == 0)
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

/// Whether `text` has a run of [`patterns::is_bare_byte`] the random-token check may accept;
/// the check looks for its evidence in `input`, as [`check::Check::accept`] does.
fn random_run(text: &str, input: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    bytes
        .split(|&b| CLASSES[b as usize] & BARE == 0)
        .any(|run| {
            let start = at;
            at += run.len() + 1;
            // Bare bytes are ASCII: the run's ends are character boundaries.
            run.len() >= 16 && check::may_be_random(input, &text[start..start + run.len()])
        })
}

/// Four groups of four digits joined by dots (`4622.6104.0639.9630`): where the dotted card
/// rule may match.
fn dotted_card(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'.', bytes).any(|dot| {
        dot >= 4
            && bytes.get(dot - 4..dot + 15).is_some_and(|w| {
                (w.iter().enumerate()).all(|(k, b)| {
                    if k % 5 == 4 {
                        *b == b'.'
                    } else {
                        b.is_ascii_digit()
                    }
                })
            })
    })
}

/// Whether `text` holds the 13 digits of a card number the card rule may match: digits joined
/// by single spaces or dashes, from a `2`–`6` after no `[A-Za-z0-9.+-]` (where the rule may
/// start); digits not joined by any, only when they are a card number.
fn card_digits(bytes: &[u8]) -> bool {
    // Most lines do not hold 13 digits at all; counting them is one vectorised pass.
    let digits: u32 = bytes
        .iter()
        .map(|b| u32::from(b.wrapping_sub(b'0') < 10))
        .sum();
    if digits < 13 {
        return false;
    }
    let class = |i: usize| CLASSES[bytes[i] as usize];
    let mut i = 0;
    while i < bytes.len() {
        if class(i) & CARD_START == 0 || (i > 0 && class(i - 1) & NOT_BEFORE_CARD != 0) {
            i += 1;
            continue;
        }
        // Digits from here, each after a digit or a single separator. A start inside this
        // chain would count a part of it: the search goes on where it breaks.
        let (mut digits, mut separated, mut grouped) = (0, false, false);
        let mut j = i;
        while j < bytes.len() {
            let c = class(j);
            if c & DIGIT != 0 {
                digits += 1;
                grouped |= separated;
                separated = false;
            } else if c & SEPARATOR != 0 && !separated {
                separated = true;
            } else {
                break;
            }
            j += 1;
        }
        // One unbroken run is the card rule's whole value or none (it ends where no digit
        // follows), so it opens the rule only as a card: a block id of 19 digits does not.
        if digits >= 13 && (grouped || check::card_run(&bytes[i..i + digits])) {
            return true;
        }
        i = j.max(i + 1);
    }
    false
}

/// `text` with every secret recognised replaced by `[REDACTED:<kind>]`: keyed values in any
/// syntax (`k=v`, `k: v`, `"k": "v"`, headers, query strings, env dumps, XML), DSN passwords,
/// vendor tokens, JWTs, bearer tokens, private keys, random tokens, emails and card numbers.
/// Keys, schemes and hosts stay, so the text still reads.
pub fn redact(text: &str) -> Cow<'_, str> {
    thread_local! {
        /// A short text's redaction, `None` when it is clean.
        static REDACTED: memo::Memo<Option<Box<str>>> = Default::default();
    }
    if text.len() > memo::MEMO_BYTES {
        return redact_now(text);
    }
    let redacted = memo::remembered(&REDACTED, text, |t| match redact_now(t) {
        Cow::Borrowed(_) => None,
        Cow::Owned(r) => Some(r.into_boxed_str()),
    });
    match redacted {
        None => Cow::Borrowed(text),
        Some(r) => Cow::Owned(r.into_string()),
    }
}

/// [`redact`] worked out, not remembered.
fn redact_now(text: &str) -> Cow<'_, str> {
    let marker = |kind: &str, out: &mut String| {
        out.push_str("[REDACTED:");
        out.push_str(kind);
        out.push(']');
    };
    let mut out = recognise(text, marker);
    // What a pass leaves can read as a secret once a neighbour is a marker (`user:x@host`
    // after an email became `[REDACTED:email]`): passes repeat while they find more, so a
    // redacted text redacts to itself. Text without secrets takes one pass.
    for _ in 0..MAX_PASSES {
        let Cow::Owned(done) = &out else { break };
        match recognise(done, marker) {
            Cow::Borrowed(_) => break,
            Cow::Owned(more) => out = Cow::Owned(more),
        }
    }
    out
}

/// Passes [`redact`] makes after the first at most (each only while the one before found a
/// secret).
const MAX_PASSES: usize = 4;

/// `text` with every secret [`redact`] would replace written as the fingerprint variable
/// `<*>` instead: the template of a message never holds one, and a message's cluster does not
/// depend on the secret's value.
pub fn mask_secrets(text: &str) -> Cow<'_, str> {
    recognise(text, |_, out| out.push_str("<*>"))
}

fn recognise(text: &str, render: impl Fn(&str, &mut String) + Copy) -> Cow<'_, str> {
    apply(text, true, render)
}

/// `text` with the rules applied in order, each to what the ones before left; when `gated`,
/// only the rules whose gate that text opens (what a rewrite leaves is gated anew: the rest of
/// a run a secret was cut from may be a secret of its own).
fn apply(text: &str, gated: bool, render: impl Fn(&str, &mut String) + Copy) -> Cow<'_, str> {
    let r = &*RECOGNISER;
    let input = text;
    let gate = |text: &str| {
        if gated {
            r.candidates(text, input)
        } else {
            Rules::MAX
        }
    };
    let mut open = gate(text);
    let mut out = Cow::Borrowed(text);
    for (i, rule) in r.rules.iter().enumerate() {
        if open & (1 << i) != 0 {
            if let Some(s) = rule.rewrite(&out, text, render) {
                open = gate(&s);
                out = Cow::Owned(s);
            }
        }
    }
    out
}

impl Rule {
    /// `text` with this rule's secrets rendered, `None` when it has none. `input` is the text
    /// before the rules ran, for checks that look beside the secret (see [`Check::accept`]).
    fn rewrite(
        &self,
        text: &str,
        input: &str,
        render: impl Fn(&str, &mut String),
    ) -> Option<String> {
        let mut out: Option<String> = None;
        let (mut at, mut copied) = (0, 0);
        while at <= text.len() {
            let Some(caps) = self.regex.captures_at(text, at) else {
                break;
            };
            let whole = caps.get(0).expect("group 0 is the match");
            let v = caps.name("v").unwrap_or(whole);
            let key = caps.name("k").map(|k| k.range());
            // Go on from the end of the value: a boundary character after it may start the next.
            let mut next = v.end().max(next_char(text, whole.start()));
            if let Some(range) = self.check.accept(text, v.range(), key.clone(), input) {
                // A secret found inside the value (a card in a run of digit groups): the rest
                // of the value is looked at again, or a second pass would find what this left.
                if range.end < v.end() {
                    next = range.end.max(next_char(text, whole.start()));
                }
                let kind = match self.kind {
                    Kind::Fixed(kind) => kind,
                    Kind::FromKey => patterns::key_kind(key.map_or("", |k| &text[k])),
                    Kind::Personal => personal_key_kind(key.map_or("", |k| &text[k])),
                };
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..range.start]);
                render(kind, o);
                copied = range.end;
            }
            at = next;
        }
        let mut o = out?;
        o.push_str(&text[copied..]);
        Some(o)
    }
}

/// The byte index of the character after the one at `i`.
fn next_char(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(i + 1, |c| i + c.len_utf8())
}

/// Redacts a JSON value in place for quoting: every string (and object key) through
/// [`redact`], a large number whose digits [`redact`] finds something in (a card number
/// written unquoted) as the redacted text, and the whole value of any key that names a secret
/// (`authorization`, `cookie`, `password`, `*_token`, `api_key`, `session`…), whatever its
/// type.
pub fn redact_json(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            if map.keys().any(|k| matches!(redact(k), Cow::Owned(_))) {
                let old = std::mem::take(map);
                for (k, value) in old {
                    map.insert(redact(&k).into_owned(), value);
                }
            }
            let named = map
                .iter()
                .find_map(|(k, v)| secret_named_by(k, v.as_str()?));
            for (key, value) in map.iter_mut() {
                let kind = match named {
                    Some(kind) if NAME_VALUE_KEYS.1.contains(&key.as_str()) => Some(kind),
                    _ => secret_key_kind(key).or_else(|| personal_value_kind(key, value)),
                };
                match kind {
                    Some(kind) if !kept_under_secret_key(key, value) => {
                        *value = Value::String(format!("[REDACTED:{kind}]"));
                    }
                    _ => redact_json(value),
                }
            }
        }
        Value::Number(n) => {
            let magnitude = n.as_f64().map_or(f64::INFINITY, f64::abs);
            if let Some(r) = serialize::number_redacted(magnitude, || n.to_string()) {
                *v = Value::String(r);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// An entry's raw JSON text as [`redact_json`] leaves it (text that is not JSON as [`redact`]
/// leaves it), cut to about [`SAMPLE_BYTES`]: for state that keeps a sample entry and is written
/// to disk and into worklogs. A 250 KB payload is kept as its first 2 KB, so 20,000 clusters'
/// samples stay a few hundred megabytes at most, and a worklog stays readable.
pub fn redact_entry(raw: &str) -> String {
    match serde_json::from_str::<Value>(raw) {
        Ok(mut v) => {
            redact_json(&mut v);
            let mut budget = SAMPLE_BYTES;
            trim_sample(&mut v, &mut budget);
            v.to_string()
        }
        Err(_) => {
            let mut text = redact(raw).into_owned();
            cut_string(&mut text, SAMPLE_BYTES);
            text
        }
    }
}

/// About how much of an entry a kept sample holds.
pub const SAMPLE_BYTES: usize = 8 * 1024;
/// The longest string value a sample keeps whole.
const SAMPLE_STRING: usize = 2 * 1024;

/// Cuts `v` to about `budget` bytes of JSON, depth first in document order: strings past
/// [`SAMPLE_STRING`] or the budget are cut with a note of what was left out, and the items and
/// fields past the budget are replaced by one that counts them.
fn trim_sample(v: &mut Value, budget: &mut usize) {
    match v {
        Value::String(s) => {
            cut_string(s, SAMPLE_STRING.min(*budget));
            *budget = budget.saturating_sub(s.len() + 2);
        }
        Value::Array(items) => {
            let kept = fitting(items.iter_mut().map(|item| (0, item)), budget);
            if kept < items.len() {
                let more = items.len() - kept;
                items.truncate(kept);
                items.push(Value::String(format!("… {more} more items")));
            }
        }
        Value::Object(map) => {
            let fields = map.iter_mut().map(|(key, value)| (key.len() + 4, value));
            let kept = fitting(fields, budget);
            if kept < map.len() {
                let more = map.len() - kept;
                let mut n = 0;
                map.retain(|_, _| {
                    n += 1;
                    n <= kept
                });
                map.insert("…".into(), Value::String(format!("{more} more fields")));
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => *budget = budget.saturating_sub(8),
    }
}

/// How many of `items` (each with the bytes it costs besides its value) fit: trimmed in
/// document order while the budget lasts.
fn fitting<'a>(items: impl Iterator<Item = (usize, &'a mut Value)>, budget: &mut usize) -> usize {
    let mut kept = 0;
    for (overhead, item) in items {
        if *budget == 0 {
            break;
        }
        *budget = budget.saturating_sub(overhead);
        trim_sample(item, budget);
        kept += 1;
    }
    kept
}

/// `s` cut to at most `max` bytes (on a character boundary), with a note of how much went.
fn cut_string(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    let more = s.len() - at;
    s.truncate(at);
    s.push_str(&format!("… [{more} more bytes]"));
}

/// Normalised key endings that mark a secret value (`X-Api-Key` → `xapikey`).
const SECRET_KEY_ENDINGS: [&str; 34] = [
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "pw",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "privatekeyid",
    "accountkey",
    "signingkey",
    "subscriptionkey",
    "encryptionkey",
    "authorization",
    "cookie",
    "credential",
    "credentials",
    "session",
    "sessionid",
    "sessid",
    "signature",
    "clientsecret",
    "jwt",
    "pincode",
    "pinnumber",
    "cvv",
    "cvc",
    "cvv2",
    "cvc2",
    "samlresponse",
    "samlrequest",
];

/// Normalised key endings that mark personal data, and its kind: the client's address
/// (`httpRequest.remoteIp`, `X-Forwarded-For`: [`patterns::client_address_endings`]), phone
/// numbers, identity documents' numbers (US social security, passport, national and tax ids,
/// driver's licences), birth dates, IBANs.
static PERSONAL_KEY_ENDINGS: LazyLock<Vec<(String, &str)>> = LazyLock::new(|| {
    let mut endings: Vec<(String, &str)> = patterns::client_address_endings()
        .map(|e| (e, "ip"))
        .collect();
    let others = [
        ("phone", "phone"),
        ("phonenumber", "phone"),
        ("mobilenumber", "phone"),
        ("msisdn", "phone"),
        ("faxnumber", "phone"),
        ("dob", "birth_date"),
        ("dateofbirth", "birth_date"),
        ("birthdate", "birth_date"),
        ("birthday", "birth_date"),
        ("iban", "iban"),
        ("surname", "name"),
        ("cardholder", "name"),
        ("cardholdername", "name"),
        ("postalcode", "address"),
        ("postcode", "address"),
        ("zipcode", "address"),
        ("streetname", "address"),
    ];
    endings.extend(others.map(|(e, kind)| (e.to_owned(), kind)));
    for (firsts, last, kind) in personal::KEYS_OF_PARTS {
        for first in firsts {
            endings.push((format!("{first}{last}"), kind));
        }
    }
    for n in ["", "1", "2", "3"] {
        endings.push((format!("addressline{n}"), "address"));
    }
    // Identity documents, maybe with `number` after: the short words are last words instead
    // (`personal_word_kind`).
    for w in id_words::ID_WORDS
        .iter()
        .filter(|w| w.prose != id_words::Prose::Written)
    {
        for name in w.endings {
            for suffix in ["", "number", "num", "no"] {
                endings.push((format!("{name}{suffix}"), w.kind));
            }
        }
    }
    endings
});

/// The kind of personal data a key names, by [`PERSONAL_KEY_ENDINGS`] or its last word
/// ([`personal_word_kind`]); `personal` when none of them ends it.
fn personal_key_kind(key: &str) -> &'static str {
    personal_ending_kind(&normalised_key(key))
        .or_else(|| personal_word_kind(key))
        .or_else(|| objects::object_kind(key))
        .unwrap_or("personal")
}

/// Short key names that end other words too (`gzip`, `using`, `placeholder`): personal data
/// only as a key's whole last word (`billing_zip`, `billingZip`, `"sin"`), and its kind.
fn personal_word_kind(key: &str) -> Option<&'static str> {
    const WORDS: [(&str, &str); 3] = [
        ("zip", "address"),
        ("street", "address"),
        ("holder", "name"),
    ];
    let last = last_word(key).to_ascii_lowercase();
    let ids = id_words::ID_WORDS
        .iter()
        .filter(|w| w.prose == id_words::Prose::Written)
        .flat_map(|w| w.endings.iter().map(|e| (*e, w.kind)));
    WORDS
        .into_iter()
        .chain(ids)
        .find(|(w, _)| *w == last)
        .map(|(_, kind)| kind)
}

/// A key's last word: after its last `_`, `-`, `.` or space, or its last capital after a
/// small letter (`billingZip` → `Zip`).
fn last_word(key: &str) -> &str {
    let b = key.as_bytes();
    let cut = (1..b.len())
        .rev()
        .find(|&i| {
            !b[i].is_ascii_alphanumeric()
                || (b[i].is_ascii_uppercase() && b[i - 1].is_ascii_lowercase())
        })
        .map_or(0, |i| {
            if b[i].is_ascii_alphanumeric() {
                i
            } else {
                i + 1
            }
        });
    key.get(cut..).unwrap_or(key)
}

fn personal_ending_kind(norm: &str) -> Option<&'static str> {
    PERSONAL_KEY_ENDINGS
        .iter()
        .find(|(ending, _)| norm.ends_with(ending.as_str()))
        .map(|&(_, kind)| kind)
}

/// A key name's letters and digits, lower case: how its ending is compared.
fn normalised_key(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `key` ends with the word `pass` (`pass`, `smtp_pass`, `db.pass`, `smtpPass`), not
/// with a word that ends so (`bypass`, `compass`).
fn ends_with_pass_word(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let Some(before) = lower.strip_suffix("pass") else {
        return false;
    };
    let cut = before.len();
    before.is_empty()
        || before.ends_with(['_', '-', '.', ' '])
        || (key.as_bytes()[cut] == b'P' && key.as_bytes()[cut - 1].is_ascii_lowercase())
}

/// The keys of a name/value pair (`{"name": "DB_PASSWORD", "value": …}`, as Kubernetes env
/// lists, HAR headers and AWS tags write them): when a name key's string names a secret, the
/// value keys' values are the secret.
const NAME_VALUE_KEYS: ([&str; 4], [&str; 4]) = (
    ["name", "key", "Name", "Key"],
    ["value", "Value", "val", "Val"],
);

/// The redaction kind when `key` is a name key of a name/value pair and `name` names a secret:
/// the first such key of an object decides for its value keys ([`redact_json`] and the
/// serializer alike).
fn secret_named_by(key: &str, name: &str) -> Option<&'static str> {
    NAME_VALUE_KEYS
        .0
        .contains(&key)
        .then(|| secret_key_kind(name))
        .flatten()
}

/// The redaction kind for a JSON key that names a secret or personal data, `None` for any
/// other key.
fn secret_key_kind(key: &str) -> Option<&'static str> {
    thread_local! {
        static KINDS: memo::Memo<Option<&'static str>> = Default::default();
    }
    memo::remembered(&KINDS, key, key_kind_now)
}

/// [`secret_key_kind`] worked out, not remembered.
fn key_kind_now(key: &str) -> Option<&'static str> {
    let norm = normalised_key(key);
    let foreign = || {
        let (ascii, other) = &patterns::FOREIGN_PASSWORD_WORDS;
        let (endings, whole) = ascii.split_at(ascii.len() - patterns::FOREIGN_WHOLE_KEYS);
        endings
            .iter()
            .chain(other)
            .filter(|w| !w.contains('['))
            .chain(&["motdepasse", "paroladordine"])
            .any(|w| norm.ends_with(w))
            || whole.contains(&norm.as_str())
    };
    if let Some(kind) = script_id_kind(&norm) {
        return Some(kind);
    }
    // The other endings are ASCII: compared without the key's other letters, as before
    // (`password確認` ends with `password`).
    let norm: String = norm.chars().filter(char::is_ascii_alphanumeric).collect();
    if foreign() || ends_with_pass_word(key) || norm.ends_with("passwords") {
        return Some("password");
    }
    let secret = SECRET_KEY_ENDINGS.iter().any(|e| norm.ends_with(e))
        || matches!(norm.as_str(), "auth" | "sid" | "pin");
    if secret {
        return Some(patterns::key_kind(&norm));
    }
    if norm == "ip" {
        return Some("ip");
    }
    personal_ending_kind(&norm).or_else(|| personal_word_kind(key))
}

/// The kind of personal data a value is by its key and itself: a person or an address written
/// as an object (`"shipping": {"line1": …}`), a person's name under `name` alone or a user's
/// key (`"name": "JOHN SMITH"`, `"user": "Marie Dupont"`, not `"name": "billing-api"` nor
/// `"user": "bob"`).
fn personal_value_kind(key: &str, value: &Value) -> Option<&'static str> {
    objects::json_object_kind(key, value).or_else(|| {
        let name = personal::name_alone_key(key) && value.as_str().is_some_and(personal::bare_name);
        name.then_some("name")
    })
}

/// Whether [`personal_value_kind`] may find something under `key`: what the serializer asks
/// before it builds the value.
fn may_be_personal_value(key: &str) -> bool {
    objects::object_kind(key).is_some() || personal::name_alone_key(key)
}

/// The kind of a national id a key in another script names (`身份证号`).
fn script_id_kind(norm: &str) -> Option<&'static str> {
    id_words::ID_WORDS
        .iter()
        .filter(|w| w.prose == id_words::Prose::Script)
        .find(|w| w.endings.iter().any(|e| norm.ends_with(e)))
        .map(|w| w.kind)
}

/// Whether a value under a key naming a secret stays as it is: `null`, a number under a
/// key that is `pass` alone (a count of passes, `{"pass": 12, "fail": 0}`; a password is a
/// string, and `db_pass` names one), and a product's display name (`Cloud SQL Admin API`).
fn kept_under_secret_key(key: &str, value: &Value) -> bool {
    let display = normalised_key(key).ends_with("displayname");
    value.is_null()
        || (value.is_number() && key.eq_ignore_ascii_case("pass"))
        || (display && value.as_str().is_some_and(personal::product))
}

#[cfg(test)]
mod tests;
