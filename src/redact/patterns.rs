//! The secret shapes the recogniser looks for, most specific first: a later rule must not see
//! half of a secret an earlier one should have taken whole (a URL's `user:pass@host` would
//! otherwise read as an email). Three families, as gitleaks and detect-secrets have them: key
//! words in any syntax, vendor prefixes, and long random tokens (checked by entropy).
//!
//! Each rule's regex names the secret `v` (else the whole match is the secret) and, when the
//! kind follows from a key name, that key `k`. Everything else a match covers stays.

use super::check::Check;

/// What a rule's secret is called in `[REDACTED:<kind>]`.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Fixed(&'static str),
    /// Named after the key in group `k` (`dbPassword` → `password`).
    FromKey,
    /// Named after the personal-data key in group `k` (`date_of_birth` → `birth_date`).
    Personal,
}

pub struct Source {
    pub pattern: String,
    pub kind: Kind,
    pub check: Check,
    pub gate: Gate,
}

/// What a text must have for a rule to match at all, checked without a regex: most log lines
/// have none of it, and skip the rules. A gate must never be stricter than its rule (the
/// tests run every rule's examples with and without gates).
#[derive(Debug, Clone, Copy, Default)]
pub struct Gate {
    /// One of these (ASCII case-insensitive); empty: none needed.
    pub words: &'static [&'static str],
    /// A run of at least this many token characters ([`is_token_byte`]).
    pub run: usize,
    /// A run of bare token characters ([`is_bare_byte`]) the random-token check accepts.
    pub random: bool,
    /// A shape a byte scan finds where the rule may match, far cheaper than its regex.
    pub scan: Option<fn(&[u8]) -> bool>,
    /// What must be around a word for this rule to match there.
    pub follow: Follow,
}

const fn words(words: &'static [&'static str]) -> Gate {
    Gate {
        words,
        run: 0,
        random: false,
        scan: None,
        follow: Follow::Any,
    }
}

const fn followed(words: &'static [&'static str], follow: Follow) -> Gate {
    Gate {
        follow,
        ..self::words(words)
    }
}

/// What a rule needs around one of its gate words, read off its regex. Each is looser than the
/// regex (the gate tests hold that), and each closes the gate on most of the words in prose:
/// `token` in "invalid token for user", `key` in "duplicate key value", `SK` in "TASK".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Follow {
    /// Nothing: the word opens the rule.
    #[default]
    Any,
    /// The word as written (the rule is case-sensitive), at a word boundary when it starts
    /// with a word character and the rule's `\b` is right before it.
    Literal,
    /// A key name ending in [`KEY_END`]: at most six more of `[A-Za-z_-]` (`pass`+`phrase`,
    /// `key`+`_id`), then [`SEP`] or the `>` of an XML tag.
    KeyEnd,
    /// A key name holding a [`KEY_LIKE`] word: the rest of its `[\w.-]` run, then [`SEP`].
    KeyLike,
    /// A command-line flag (`--db-password x`): a key name ending in [`KEY_END`] (at most six
    /// more of `[A-Za-z_-]`), then whitespace, in a run of `[\w-]` that starts with `-` after
    /// whitespace or at the start.
    Flag,
    /// A query-string key: at most five more of `[A-Za-z_]` (`auth`+`_code`), then `=`.
    QueryKey,
    /// A session cookie name: the rest of its `[A-Za-z_-]` run, then `=`.
    Session,
    /// A URL path segment: a run of `[\w-]` with a `/` on either side.
    PathSegment,
    /// An XML tag's name ending in [`KEY_END`]: after `<` and `[\w.:-]`, at most six more of
    /// `[A-Za-z0-9_-]`, then `>` or whitespace (its attributes).
    XmlTag,
    /// A short word naming a national id: as written (the gate word's case) between word
    /// boundaries, or as a key's last word in any case (not after a letter or digit; at most
    /// seven more of `[A-Za-z_-]`, then [`SEP`]).
    WrittenOrKey,
    /// A key naming a person or an address whose value is an object: the word ends the key
    /// (maybe quoted), then a separator and `{` or `[`.
    Object,
    /// A key that is the word alone (not after `[\w.-]`), then [`SEP`].
    Alone,
}

impl Follow {
    /// Whether the rule may match around `word`, found at `at` in `text` (ASCII
    /// case-insensitively).
    pub fn holds(self, text: &[u8], at: std::ops::Range<usize>, word: &str) -> bool {
        let after = |len: usize, more: fn(u8) -> bool, end: fn(&[u8], usize) -> bool| {
            let mut j = at.end;
            loop {
                if end(text, j) {
                    return true;
                }
                if j - at.end >= len || !text.get(j).is_some_and(|&b| more(b)) {
                    return false;
                }
                j += 1;
            }
        };
        let key_char = |b: u8| b.is_ascii_alphabetic() || b == b'_' || b == b'-';
        match self {
            Follow::Any => true,
            Follow::Literal => {
                // The case first: it closes most (`sk` in "task"), before the vendor list is read.
                &text[at.clone()] == word.as_bytes()
                    && !(at.start > 0
                        && is_word_byte(text[at.start - 1])
                        && word.as_bytes()[0].is_ascii_alphanumeric()
                        && !unbounded(word))
            }
            Follow::KeyEnd => after(6, key_char, |t, j| {
                t.get(j) == Some(&b'>') || sep_starts(t, j)
            }),
            Follow::Flag => {
                let mut s = at.start;
                while s > 0 && (is_word_byte(text[s - 1]) || text[s - 1] == b'-') {
                    s -= 1;
                }
                text[s] == b'-'
                    && (s == 0 || !text[s - 1].is_ascii() || text[s - 1].is_ascii_whitespace())
                    && after(6, key_char, |t, j| {
                        t.get(j)
                            .is_some_and(|&b| !b.is_ascii() || b.is_ascii_whitespace())
                    })
            }
            Follow::KeyLike => after(
                usize::MAX,
                |b| is_word_byte(b) || b == b'.' || b == b'-',
                sep_starts,
            ),
            Follow::QueryKey => after(
                5,
                |b| b.is_ascii_alphabetic() || b == b'_',
                |t, j| t.get(j) == Some(&b'='),
            ),
            Follow::Session => after(usize::MAX, key_char, |t, j| t.get(j) == Some(&b'=')),
            Follow::XmlTag => {
                let name = |b: &u8| is_word_byte(*b) || matches!(b, b'.' | b':' | b'-');
                let tag_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
                text[..at.start].iter().rev().find(|b| !name(b)) == Some(&b'<')
                    && after(6, tag_char, |t, j| {
                        t.get(j)
                            .is_some_and(|&b| b == b'>' || b.is_ascii_whitespace())
                    })
            }
            Follow::WrittenOrKey => {
                let bounded = |i: Option<&u8>| !i.is_some_and(|&b| is_word_byte(b));
                let before = at.start.checked_sub(1).map(|i| &text[i]);
                (&text[at.clone()] == word.as_bytes()
                    && bounded(before)
                    && bounded(text.get(at.end)))
                    || (!before.is_some_and(u8::is_ascii_alphanumeric)
                        && after(7, key_char, sep_starts))
            }
            Follow::Object => {
                let mut j = at.end;
                let skip = |j: &mut usize, what: fn(u8) -> bool| {
                    while text.get(*j).is_some_and(|&b| what(b)) {
                        *j += 1;
                    }
                };
                // The regex's `\s` (ASCII whitespace and the vertical tab; a byte of a
                // character beyond ASCII may be Unicode's, so there the regex decides).
                fn blank(b: u8) -> bool {
                    b.is_ascii_whitespace() || b == 0x0b
                }
                skip(&mut j, |b| matches!(b, b'"' | b'\'' | b'\\'));
                let space = j;
                skip(&mut j, blank);
                // A tab among the blanks is the separator itself (`address\t{…}`).
                let tab = text[space..j].contains(&b'\t');
                let opens = |b: Option<&u8>| matches!(b, Some(b'{' | b'[' | b'%' | 0x80..));
                match text.get(j) {
                    // Percent-encoded, PHP's `] =>`, or beyond ASCII: the regex decides.
                    Some(b'%' | b']' | 0x80..) => true,
                    Some(b':' | b'=') => {
                        j += 1;
                        skip(&mut j, |b| b == b'>' || blank(b));
                        opens(text.get(j))
                    }
                    b => tab && opens(b),
                }
            }
            Follow::Alone => {
                let key = |b: &u8| is_word_byte(*b) || matches!(b, b'.' | b'-');
                !at.start.checked_sub(1).is_some_and(|i| key(&text[i])) && sep_starts(text, at.end)
            }
            Follow::PathSegment => {
                let segment = |b: u8| is_word_byte(b) || b == b'-';
                let before = text[..at.start].iter().rev().find(|&&b| !segment(b));
                before == Some(&b'/') && after(usize::MAX, segment, |t, j| t.get(j) == Some(&b'/'))
            }
        }
    }
}

/// `[0-9A-Za-z_]`, the patterns' `\w` (see [`ascii`]).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether [`SEP`] may start at `j`: a quote, `\`, `%`, `=` or `:`, or ASCII whitespace
/// holding a tab or followed by `%`, `=` or `:`. `\s` is Unicode in the keyed patterns, so any
/// non-ASCII byte may start one too.
fn sep_starts(text: &[u8], j: usize) -> bool {
    let opens = |b: u8| matches!(b, b'%' | b'=' | b':') || !b.is_ascii();
    // The regex's `\s`: ASCII whitespace and the vertical tab.
    let blank = |b: &u8| b.is_ascii_whitespace() || *b == 0x0b;
    match text.get(j) {
        Some(b'"' | b'\'' | b'\\' | b']') => true,
        Some(b) if blank(b) => {
            let space = text[j..].iter().take_while(|b| blank(b));
            space.clone().any(|&b| b == b'\t')
                || text.get(j + space.count()).is_some_and(|&b| opens(b))
        }
        Some(&b) => opens(b),
        None => false,
    }
}

/// The characters every long token is made of (vendor tokens, AWS ids, random strings).
pub const fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'~' | b'+' | b'/' | b'=' | b'-')
}

/// What a random token is made of: a token character but `.` and `=`, so dotted names and
/// `k=v` pairs do not open the random-token rule.
pub const fn is_bare_byte(b: u8) -> bool {
    is_token_byte(b) && !matches!(b, b'.' | b'=')
}

/// Key-name endings in [`KEY_END`], as words a gate looks for.
const KEY_END_WORDS: &[&str] = &[
    "pass",
    "pin",
    // The key-name check allows six letters after a word: these go on with more or a digit.
    "pin_number",
    "pin-number",
    "pinnumber",
    "cvv2",
    "cvc2",
    "cvv",
    "cvc",
    "pw",
    "secret",
    "token",
    "credential",
    "signature",
    "auth",
    "bearer",
    "otp",
    "key",
    "samlresponse",
    "samlrequest",
];

/// Endings of key names whose value is a secret. A key must *end* with one, so `tokenizer` and
/// `max_tokens` are not secrets while `csrf_token`, `dbPassword`, `X-Api-Key`,
/// `AWS_SECRET_ACCESS_KEY`, `JWT_SECRET_KEY` and `AccountKey` are.
const KEY_END: &str = r"(?:pass(?:word|wd|phrase)?|pwd?|secret|token|credentials?|signature|auth|bearer|otp|api[_-]?key|(?:access|secret|private|account|shared[_-]?access|client|signing|encryption|master|auth|session|app|license|service|subscription)[_-]?key|private[_-]?key[_-]?id|saml(?:response|request)|cv[vc]2?|(?:\b|[_-])pin(?:[_-]?(?:code|number))?)";

/// Between a key and its value: `=`, `:`, `=>`, each maybe spaced, or a tab (tab-separated
/// columns, `password<TAB>value`); the key maybe quoted (also JSON-escaped, `\"`), and the same
/// percent-encoded (`%3D`, `%3A`, `%22`, once or twice).
const SEP: &str = r#"(?:\]\s*=>|(?:\\?["']|%(?:25)?2[27])?\s*(?:%(?:25)?20)*(?:=>|[:=\t]|%(?:25)?3[aAdD]))\s*(?:%(?:25)?20)*"#;
const OPEN_QUOTE: &str = r#"(?:\\?["']|%(?:25)?2[27])?"#;

/// Names that are a secret's and nothing else, as prose writes them: the value follows after a
/// space. `token` or `secret` alone are not among them (`invalid token for user bob`). Single
/// words, and pairs that a space, `_` or `-` may join: the one list the rule's regex and its
/// gate words are made from.
const SPACED_KEY_WORDS: [&str; 4] = ["passwd", "password", "passphrase", "pwd"];
const SPACED_KEY_PAIRS: [(&str, &str); 8] = [
    ("api", "key"),
    ("access", "token"),
    ("auth", "token"),
    ("refresh", "token"),
    ("bearer", "token"),
    ("api", "token"),
    ("client", "secret"),
    ("secret", "key"),
];

/// The spaced key names as a regex alternation.
fn spaced_key() -> String {
    let pairs = SPACED_KEY_PAIRS.map(|(a, b)| format!("{a}[ _-]?{b}"));
    let names: Vec<&str> = SPACED_KEY_WORDS
        .into_iter()
        .chain(pairs.iter().map(String::as_str))
        .collect();
    format!("(?:{})", names.join("|"))
}

/// The spaced key names written out, every way a pair may be joined: the gate's words.
fn spaced_key_words() -> &'static [&'static str] {
    static WORDS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut words = SPACED_KEY_WORDS.to_vec();
        words.extend(joined(&SPACED_KEY_PAIRS, &["", " ", "_", "-"]));
        words
    });
    &WORDS
}

/// "Password" in other languages: ASCII spellings (a key may end with one, `db_passwort`, but
/// for the last [`FOREIGN_WHOLE_KEYS`], which must be the whole key), then spellings with other
/// letters (written alone: no ASCII `\b` reads them). Lower case; the rule is
/// case-insensitive.
pub(super) const FOREIGN_PASSWORD_WORDS: ([&str; 21], [&str; 11]) = (
    [
        "passwort",
        "kennwort",
        "contrasena",
        "wachtwoord",
        "wagwoord",
        "mot[ _-]?de[ _-]?passe",
        "heslo",
        "haslo",
        "sifre",
        "parola[ _-]?d[ _'-]?ordine",
        "passord",
        "losenord",
        "salasana",
        "adgangskode",
        "lozinka",
        "geslo",
        "jelszo",
        // Whole keys only (`resenha` is a review, `mdp` also a model's name, `clave` any key:
        // [`Check::ForeignPassword`]).
        "clave",
        "senha",
        "mdp",
        "psw",
    ],
    [
        "contraseña",
        "hasło",
        "şifre",
        "lösenord",
        "jelszó",
        "密码",
        "密碼",
        "口令",
        "パスワード",
        "비밀번호",
        "пароль",
    ],
);

pub(super) const FOREIGN_WHOLE_KEYS: usize = 4;

/// [`FOREIGN_PASSWORD_WORDS`] as a gate finds them (ASCII case-insensitively): the ASCII ones
/// by their last part (`passe` of `mot_de_passe`, which the key's end follows), the others also
/// capitalised and in capitals.
fn foreign_password_words() -> &'static [&'static str] {
    static WORDS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut words: Vec<&'static str> = FOREIGN_PASSWORD_WORDS
            .0
            .iter()
            .map(|w| w.rsplit("]?").next().unwrap_or(w))
            .collect();
        for w in FOREIGN_PASSWORD_WORDS.1 {
            let mut chars = w.chars();
            let capital: String = chars
                .next()
                .into_iter()
                .flat_map(char::to_uppercase)
                .chain(chars)
                .collect();
            for form in [w.to_owned(), capital, w.to_uppercase()] {
                if !words.contains(&form.as_str()) {
                    words.push(Box::leak(form.into_boxed_str()));
                }
            }
        }
        words
    });
    &WORDS
}

/// The gate's words for a name/value pair: the value key and what may follow it.
const NAME_VALUE_WORDS: &[&str] = &[
    "value\"",
    "value'",
    "value\\\"",
    "value\\'",
    "value:",
    "value=",
    "val\"",
    "val'",
    "val\\\"",
    "val\\'",
    "val:",
    "val=",
];

/// Key names whose value is an identity document's number ([`super::id_words::ID_WORDS`] but
/// the short words, which need the number's check) or a birth date; the kind each names is
/// [`super::personal_key_kind`]'s.
fn personal_key() -> String {
    use super::id_words::{id_pattern, Prose};
    let documents = id_pattern(&[Prose::No, Prose::AnyCase]);
    format!(r"(?:{documents})(?:[_-]?(?:number|num|no))?|birth(?:[_-]?(?:date|day))?|dob|iban")
}

/// Words of [`personal_key`] a gate looks for.
fn personal_key_words() -> &'static [&'static str] {
    static WORDS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        use super::id_words::{id_gate_words, Prose};
        let mut words = id_gate_words(&[Prose::No, Prose::AnyCase]);
        words.extend(["birth", "dob", "iban"]);
        words
    });
    &WORDS
}

/// Words of a path segment after which a URL holds a capability token (`reset`,
/// `invitations`, `email-verification`): the rule's regex and its gate's words.
const CAPABILITY_PATH_WORDS: &[&str] = &[
    "reset",
    "invit",
    "verif",
    "confirm",
    "activat",
    "magic",
    "unsubscribe",
    "recover",
    "claim",
];

/// What comes before a password in SQL (MySQL, Oracle, PostgreSQL).
const SQL_PASSWORD: &str = r"identified\s+(?:with\s+\S+\s+)?(?:by|as)(?:\s+password)?|password\s*\(|with\s+(?:encrypted\s+)?password|set\s+password(?:\s+for\s+\S+)?\s*=\s*(?:password\s*\(\s*)?";

/// Characters a bare value runs over. `,;&` end it (log lines list fields with them).
const BARE_VALUE: &str = r#"[^\s"'\\&,;`]+"#;

/// A token after a key-like word is a secret when long and random enough
/// ([`Check::Entropy`]): `cache_key=users` stays, `signing_key_v2=8fK2pQ…` goes.
const KEY_LIKE: &str =
    r"(?:key|keys|cred|creds|salt|hmac|nonce|seed|cert|hash|sign|pk|sk|priv|jwt|sas)";

/// (pattern, kind, check), applied in this order.
pub fn sources() -> Vec<Source> {
    let keyed = |pattern: String, check: Check, gate: Gate| Source {
        pattern,
        kind: Kind::FromKey,
        check,
        gate,
    };
    let fixed = |pattern: &str, kind: &'static str, check: Check, gate: Gate| Source {
        pattern: pattern.to_owned(),
        kind: Kind::Fixed(kind),
        check,
        gate,
    };
    let mut rules = vec![
        fixed(
            r"(?s)-----BEGIN[ A-Z0-9_-]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[ A-Z0-9_-]*PRIVATE KEY(?: BLOCK)?-----|\z)",
            "private_key",
            Check::None,
            followed(&["-----BEGIN"], Follow::Literal),
        ),
        fixed(
            r#"(?i)\b(?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?(?:(?:bearer|basic|token|digest|negotiate|apikey|sso-key|dpop|gsstoken)\s+)?(?P<v>[^\s"'\\,;]+)"#,
            "authorization",
            Check::NotPlaceholder,
            words(&["authorization"]),
        ),
        // An HTTP Digest answer (`Authorization: Digest username="jane", …, response="<md5>"`):
        // the password hashed with the nonce, which a dictionary cracks offline. The rule above
        // takes one parameter, and hex is no random token.
        fixed(
            r#"(?i)\bdigest\s[^\r\n]*?\bresponse=\\?"?(?P<v>[0-9a-f]{32,128})"#,
            "authorization",
            Check::None,
            words(&["digest"]),
        ),
        // Stripe's `Stripe-Signature: t=…,v1=<hex>`: the whole value, which the key rules would
        // end at its first `,`.
        fixed(
            r#"(?i)\bstripe-signature\\?["']?\s*[:=]\s*\\?["']?(?P<v>[^\s"'\\]+)"#,
            "signature",
            Check::NotPlaceholder,
            words(&["stripe-signature"]),
        ),
        fixed(
            r"(?i)\bbearer\s+(?P<v>[A-Za-z0-9\-._~+/]{8,}=*)",
            "bearer",
            Check::NotPlaceholder,
            words(&["bearer"]),
        ),
        // scheme://user:password@host; the password may hold `@` and `:`, the last `@` ends it.
        // Never `<` or `>` (a URL escapes them): a mask's `<*>` is no password, so masking
        // text twice gives what masking it once gave.
        fixed(
            r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@\[\]]*:(?P<v>[^\s/?#<>]+)@",
            "password",
            Check::NotPlaceholder,
            words(&["://"]),
        ),
        // scheme://<key>@host with no password (Sentry DSNs, token-as-user git URLs).
        fixed(
            r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?P<v>[A-Za-z0-9_-]{16,})@",
            "token",
            Check::None,
            words(&["://"]),
        ),
        // Go/MySQL `user:pass@tcp(host:3306)/db`, and `user:pass@host` without a scheme (not
        // over a mask's `<*>`, as above: `a:[/a{a@a` masks to `a:[<*>{a@a` and stays so; nor
        // right after one: `@0+:a@a` masks to `@<*>+:a@a`, `0*>A:A@A` to `<*>>A:A@A`).
        fixed(
            // Not after a scheme whose part is an address (`mailto:ops.team@example.org` in a
            // user agent): the email rule takes it whole.
            r"(?:^>?|[^\w.+:/@\[>-]|[^*>]>)(?P<k>[\w.+-]+):(?P<v>[^\s:@/'\x22\]<>]+)@(?:(?:tcp6?|udp|unix)\(|[A-Za-z0-9][\w-]*(?:\.[\w-]+)*(?::\d+)?\b)",
            "password",
            Check::NotAddressScheme,
            words(&["@"]),
        ),
        fixed(
            r"(?i)(?:hooks\.slack\.com/(?:services|workflows|triggers)/|discord(?:app)?\.com/api/webhooks/|webhook\.office\.com/webhookb2/|api\.telegram\.org/bot|outlook\.office\.com/webhook/)(?P<v>[\w/@+.:-]+)",
            "webhook",
            Check::None,
            words(&["hooks.slack.com/", "discord.com/api/webhooks/", "discordapp.com/api/webhooks/", "webhook.office.com/webhookb2/", "api.telegram.org/bot", "outlook.office.com/webhook/"]),
        ),
        // A JWT: its header is base64url JSON, `{"` (`eyJ`) or `{ "` (`eyA`). No `\b` before
        // it: a token glued to a name (`idtoken_eyJ…`) is still one, and three dotted
        // base64url segments after `eyJ` do not occur in prose.
        fixed(
            r"ey[JA][A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
            "jwt",
            Check::None,
            followed(JWT_HEADERS, Follow::Literal),
        ),
        fixed(
            r#"(?i)\b(?:set-)?cookie\\?["']?\s*[:=]\s*(?P<v>\\?"(?:[^"\\]|\\[^"])*\\?"|'[^']*'|[^\r\n]+)"#,
            "cookie",
            Check::Quoted,
            words(&["cookie"]),
        ),
        fixed(
            r#"(?i)\b(?:[\w.-]*[_.-])?(?:session(?:[_-]?(?:id|key|token))?|sessid|jsessionid|phpsessid|sid)=(?P<v>[^\s;&,"'<>]+)"#,
            "session",
            Check::NotPlaceholder,
            followed(&["sess", "sid"], Follow::Session),
        ),
        // Quoted values first, so one with spaces goes whole.
        keyed(
            format!(r#"(?i)\b(?P<k>[\w.-]*?{KEY_END}){SEP}\s*(?:\[\s*)?\\?"(?P<v>[^"\\\r\n]+)"#),
            Check::NotPlaceholder,
            followed(KEY_END_WORDS, Follow::KeyEnd),
        ),
        keyed(
            format!(r#"(?i)\b(?P<k>[\w.-]*?{KEY_END}){SEP}\s*(?:\[\s*)?'(?P<v>[^'\\\r\n]+)"#),
            Check::NotPlaceholder,
            followed(KEY_END_WORDS, Follow::KeyEnd),
        ),
        keyed(
            // Maybe with a namespace and attributes (`<wsse:Password Type="…">`).
            format!(r"(?i)<(?:[\w.-]+:)?(?P<k>[\w.-]*?{KEY_END})(?:\s[^>]*)?>(?P<v>[^<]+)</"),
            Check::NotPlaceholder,
            followed(KEY_END_WORDS, Follow::XmlTag),
        ),
        keyed(
            format!(r"(?i)\b(?P<k>[\w.-]*?{KEY_END}){SEP}{OPEN_QUOTE}(?P<v>{BARE_VALUE})"),
            Check::NotProse,
            followed(KEY_END_WORDS, Follow::KeyEnd),
        ),
        // Redis `AUTH [user] password`, as `MONITOR`, `redis-cli` and proxies log it (`"AUTH"
        // "default" "X"`): a value that is no word (`AUTH failed`).
        fixed(
            r#"(?i)"auth"\s+(?:"[^"]*"\s+)?"(?P<v>[^"]+)""#,
            "password",
            Check::NotPlaceholder,
            words(&["\"auth\""]),
        ),
        fixed(
            r#"(?i)> ?auth[ \t]+(?:[\w@.-]+[ \t]+)?(?P<v>[^\s"]+)"#,
            "password",
            Check::NotPlaceholder,
            words(&[">auth", "> auth"]),
        ),
        // A password under its name in another language (`passwort=`, `contraseña:`,
        // `密码：`), as localised apps and their users log it.
        fixed(
            &{
                let (ascii, other) = FOREIGN_PASSWORD_WORDS;
                let (endings, whole) = ascii.split_at(ascii.len() - FOREIGN_WHOLE_KEYS);
                format!(r"(?i)(?P<k>\b[\w.-]*?(?:{})|\b(?:{})|(?:{}))(?:{SEP}|\s*[：＝]\s*){OPEN_QUOTE}(?P<v>{BARE_VALUE})", endings.join("|"), whole.join("|"), other.join("|"))
            },
            "password",
            Check::ForeignPassword,
            followed(foreign_password_words(), Follow::KeyEnd),
        ),
        // A name/value pair naming a secret, as Kubernetes env lists and HAR headers write them
        // (`{"name": "DB_PASSWORD", "value": "X"}`), also escaped or in a Python repr, as XML
        // attributes (`<property name="password" value="X"/>`) or Spring's binding errors
        // (`Property: spring.datasource.password Value: "X"`).
        keyed(
            format!(r#"(?i)\b(?:name|key|property)\\?["']?\s*[:=]\s*\\?["']?(?P<k>[\w.-]*?{KEY_END}|(?:proxy-)?authorization|(?:set-)?cookie)\\?["']?\s*,?\s*\\?["']?(?:value|val)(?:\\?["']\s*[:=]|[:=])\s*\\?["'](?P<v>[^"'\\\r\n]+)"#),
            Check::NotPlaceholder,
            words(NAME_VALUE_WORDS),
        ),
        // SQL that sets a password: quoted after `IDENTIFIED BY`, `PASSWORD(`, `WITH PASSWORD`,
        // `SET PASSWORD … =`; unquoted only in `CREATE`/`ALTER USER … IDENTIFIED BY X`
        // (Oracle), not in prose (`job identified by job-12345`).
        fixed(
            &format!(r#"(?i)\b(?:{SQL_PASSWORD})\s*\\?["'](?P<v>[^"'\r\n]+)"#),
            "password",
            Check::NotPlaceholder,
            words(&["identified", "password"]),
        ),
        fixed(
            r#"(?i)\b(?:create|alter)\s+user\s+\S+\s+identified\s+(?:with\s+\S+\s+)?by\s+(?P<v>[^\s'\x22;]+)"#,
            "password",
            Check::NotPlaceholder,
            words(&["identified"]),
        ),
        // A command-line flag with the value after a space (`--password x`, `-db-pass x`; `=` is
        // the rule above).
        keyed(
            format!(r"(?i)(?:^|\s)--?(?P<k>[\w-]*?{KEY_END})\s+{OPEN_QUOTE}(?P<v>[^\s\x22'\\&,;`-][^\s\x22'\\&,;`]*)"),
            Check::NotProse,
            followed(KEY_END_WORDS, Follow::Flag),
        ),
        // Passwords on the command lines of common tools, as a shell history or a job's log
        // echoes them: `mysql -pX` (glued; `-P` is the port), `sshpass -p X`, `redis-cli -a X`,
        // `docker login -p X`, `curl -u user:X`, `sqlplus user/X@db`, `htpasswd -b file user X`
        // (`-nb user X`: no file).
        fixed(
            r#"(?:\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mariadb|mariadb-dump)\b[^\n]*?\s-p|\bsshpass\s+-p\s*|\bredis-cli\b[^\n]*?\s-a\s+|\b(?:docker|podman|nerdctl|buildah|skopeo|helm|oras|crane)\b[^\n]*?\blogin\b[^\n]*?\s-p\s+|\bcurl\b[^\n]*?\s(?:-u|-U|--user|--proxy-user)[\s=]*[^\s:'"]*:|\b(?:sqlplus|sqlldr|expdp|impdp|rman)\s+(?:-\w+\s+)*[\w$#]+/|\bhtpasswd\s+(?:-\w+\s+)*-[A-Za-z]*(?:n[A-Za-z]*b|b[A-Za-z]*n)[A-Za-z]*\s+(?:-\w+\s+)*[^\s-]\S*\s+|\bhtpasswd\s+(?:-\w+\s+)*-[A-Za-z]*b[A-Za-z]*\s+(?:-\w+\s+)*[^\s-]\S*\s+[^\s-]\S*\s+|\bldap(?:search|modify|add|delete|whoami|passwd|compare|modrdn|exop)\b[^\n]*?\s-w\s+|\b(?i:net use)\s+(?:[A-Za-z]:\s+|\*\s+)?\\\\[^\s\\]+\\\S+\s+|\b(?i:net use)\b[^\n]*?\s(?i:/user):\S+\s+)(?P<v>'[^'\n]+'|"[^"\n]+"|[^\s"'`@/<>]+)"#,
            "password",
            Check::NotPlaceholder,
            words(&["mysql", "mariadb", "sshpass", "redis-cli", "login", "curl", "sqlplus", "sqlldr", "expdp", "impdp", "rman", "htpasswd", "ldap", "net use"]),
        ),
        // A secret named in prose, the value after a space: `api key X`, `passwd X`, `with
        // access token X`. Only names that are nothing but a secret's, and only a value that
        // cannot be a word ([`Check::NotWord`]): `password reset failed` stays.
        keyed(
            format!(r"(?i)\b(?P<k>{})\s+(?:(?:is|was):?\s+)?{OPEN_QUOTE}(?P<v>[^\s\x22'\\,;`<>]{{6,}})", spaced_key()),
            Check::NotWord,
            words(spaced_key_words()),
        ),
        // A password in a sentence, its value after what it is for or what happened to it:
        // `the admin password for staging is X`, `password changed to: X`, `password has been
        // reset to X`; a value that is no word, as above (`password for bob is incorrect`).
        keyed(
            format!(r"(?i)\b(?P<k>{})(?:\s+(?:for|of|on)\s+[^\s\x22'=:]+){{0,2}}\s+(?:(?:is|was)(?:\s+(?:now|set\s+to|changed\s+to))?:?|(?:(?:has\s+been|was|is)\s+)?(?:changed|set|reset|updated|rotated)\s+to:?|=|:)\s+{OPEN_QUOTE}(?P<v>[^\s\x22'\\,;`<>]{{6,}})", SPACED_KEY_WORDS.join("|")),
            Check::NotWord,
            words(&SPACED_KEY_WORDS),
        ),
        // PHP's `var_dump`: `["password"]=>` and, on the next line, `string(8) "X"`.
        keyed(
            format!(r#"(?i)\["(?P<k>[\w.-]*?{KEY_END})"(?::\w+)?\]\s*=>\s*string\(\d+\)\s*"(?P<v>[^"\r\n]+)"#),
            Check::NotPlaceholder,
            followed(KEY_END_WORDS, Follow::KeyEnd),
        ),
        // A Terraform plan or state showing a generated password's `result`.
        fixed(
            r#"random_password\b[^}]{0,600}?\bresult\s*=\s*"(?P<v>[^"\r\n]+)""#,
            "password",
            Check::NotPlaceholder,
            words(&["random_password"]),
        ),
        // SMTP AUTH: PLAIN's base64 `\0user\0password` on the command, LOGIN's answers to its
        // base64 prompts (`334 UGFzc3dvcmQ6`, "Password:").
        fixed(
            r"(?i)\bAUTH (?:PLAIN|LOGIN|XOAUTH2?|OAUTHBEARER)[ \t]+(?P<v>[A-Za-z0-9+/]{6,}={0,2})",
            "password",
            Check::NotPlaceholder,
            words(&["auth plain", "auth login", "auth xoauth", "auth oauthbearer"]),
        ),
        fixed(
            r"334 (?:UGFzc3dvcmQ6|VXNlcm5hbWU6)\s*(?:[<>CS]:?\s*)?(?P<v>[A-Za-z0-9+/]{4,}={0,2})",
            "password",
            Check::NotWord,
            words(&["334 UGFzc3dvcmQ6", "334 VXNlcm5hbWU6"]),
        ),
        // An Oracle-style connect string after a login word: `login bob/X@orcl`,
        // `connect app/X@//db:1521/svc`.
        fixed(
            r"(?i)(?:\b(?:login|logon|connect|conn)[ \t]+(?:as[ \t]+)?|jdbc:oracle:\w+:)[\w$#.-]+/(?P<v>[^\s/@\x22'`<>]+)@[\w/.:-]",
            "password",
            Check::NotPlaceholder,
            // The words with the blank after them: `Connection reset` opens nothing.
            words(&["login ", "login\t", "logon ", "logon\t", "connect ", "connect\t", "conn ", "conn\t", "jdbc:oracle:"]),
        ),
        // A capability URL's token, in the path after what it opens (`/password/reset/<token>`,
        // `/invite/accept/<token>`, Django's `/reset/<uid>/<token>/`): whoever has the link can
        // use it. One short segment may stand between; the token is a whole segment of 16 or
        // more that is no word (`reset-password-request-page`), so ids and dates stay.
        fixed(
            &format!(r#"(?i)/[\w-]*?(?:{})[\w-]*/(?:[A-Za-z0-9_-]{{1,12}}/)?(?P<v>[A-Za-z0-9_-]{{16,}})(?:$|[/?#&\s"'<>),;]|\.(?:$|\s))"#, CAPABILITY_PATH_WORDS.join("|")),
            "token",
            Check::NotWord,
            followed(CAPABILITY_PATH_WORDS, Follow::PathSegment),
        ),
        // Query-string keys that are secrets only there: `?key=`, OAuth `?code=`, SAS `sig=`.
        keyed(
            r#"(?i)(?:[?&;]|%(?:25)?26|%(?:25)?3[fF])(?P<k>key|code|sig|sas|ticket|jwt|hmac|assertion|otp|auth_code|authcode|apikey|samlresponse|samlrequest)=(?P<v>[^\s&#"'<>]+)"#.into(),
            Check::NotPlaceholder,
            followed(&["key", "code", "sig", "sas", "ticket", "jwt", "hmac", "assertion", "otp", "auth", "samlresponse", "samlrequest"], Follow::QueryKey),
        ),
        keyed(
            format!(r#"(?i)\b(?P<k>[\w.-]*?{KEY_LIKE}[\w.-]*?){SEP}{OPEN_QUOTE}(?P<v>[A-Za-z0-9+/=_.~-]{{16,}})"#),
            Check::Entropy(3.3),
            Gate { run: 16, ..followed(&["key", "cred", "salt", "hmac", "nonce", "seed", "cert", "hash", "sign", "pk", "sk", "priv", "jwt", "sas"], Follow::KeyLike) },
        ),
        Source {
            pattern: vendor_pattern(),
            kind: Kind::Fixed("token"),
            check: Check::None,
            gate: Gate {
                run: 15,
                ..followed(vendor_words(), Follow::Literal)
            },
        },
        fixed(
            r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b",
            "aws_key",
            Check::None,
            Gate {
                run: 20,
                ..followed(
                    &[
                        "A3T", "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA",
                        "ANPA", "ANVA", "APKA",
                    ],
                    Follow::Literal,
                )
            },
        ),
        // A password hash in the crypt formats (bcrypt `$2b$12$…`, sha512-crypt `$6$…`,
        // yescrypt `$y$…`, Argon2 `$argon2id$v=19$…`, Django's `pbkdf2_sha256$…`): whoever has
        // one can guess the password offline. Before the random tokens, which would take it
        // apart at its `.` and `$` and leave the pieces after them.
        fixed(
            r"\$(?:2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}|[156]\$(?:rounds=[0-9]+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{22,86}|y\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{1,86}\$[./A-Za-z0-9]{43}|argon2(?:id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+)|\bpbkdf2_sha(?:1|256|512)\$[0-9]+\$[A-Za-z0-9./+]+\$[A-Za-z0-9+/=]+",
            "password_hash",
            Check::None,
            words(&["$2a$", "$2b$", "$2x$", "$2y$", "$1$", "$5$", "$6$", "$y$", "$argon2", "pbkdf2_sha"]),
        ),
        // Before the random tokens and cards, which would take a part of it: its check digits
        // make it certain.
        fixed(
            // In small letters only as printed, in groups (`de89 3704 0044 0532 0130 00`):
            // unbroken, a hex id would pass the check one time in 97.
            r"\b(?P<v>[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?|[a-z]{2}[0-9]{2}(?: [a-z0-9]{4}){2,7}(?: [a-z0-9]{1,3})?)\b",
            "iban",
            Check::Iban,
            scanned(iban_shape),
        ),
        // An email address, before the random tokens, which would take a part of it and leave
        // the rest (`login=Xk7pQ2mZ9rT4vW8y%40example.com`: the rule after a name's `=` reads
        // the local part up to the `%`). Also percent-encoded, as a query string carries one
        // (`?email=jane%40example.org`, and twice in a redirect's `%2540`); in any script
        // (`jürgen.straße@bücher-müller.de`, `用户@例子.中国`) and with a quoted local part
        // (`"olaf hansen"@example.net`, also JSON-escaped).
        fixed(
            r#"(?:\\?"[^"\\\r\n<>]{1,64}\\?"|[\p{L}\p{N}._%+-]+)(?:@|%(?:25)?40)[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}"#,
            "email",
            Check::None,
            words(&["@", "%40", "%2540"]),
        ),
        fixed(
            r"(?:^|[^A-Za-z0-9+/_=.~-])(?P<v>[A-Za-z0-9+/_~-]{16,}={0,2})(?:$|[^A-Za-z0-9+/_=~-])",
            "secret",
            Check::Random,
            Gate {
                random: true,
                ..Gate::default()
            },
        ),
        // A random key as a whole URL path segment (`/api/v1/hooks/<key>`): the rule above
        // reads a path as one run from its first `/`, and a path is no token.
        fixed(
            r#"/(?P<v>[A-Za-z0-9_-]{32,64})(?:$|[/?#&\s"'<>),;])"#,
            "secret",
            Check::Random,
            scanned(long_path_segment),
        ),
        // The same after a name's `=` (`ref=…`: a key no rule knows still holds one), letters
        // and digits only, maybe with base64's padding (`payload=eyJwYXNz…In0=`): a value with
        // `/` or `-` there is a path or a key made of parts
        // (`comment=escalation/2025-09-15T20:00:00+00:00/P1`), not a token.
        fixed(
            r"\w=(?P<v>[A-Za-z0-9]{16,}={0,2})(?:$|[^A-Za-z0-9+/_=~-])",
            "secret",
            Check::Random,
            Gate {
                random: true,
                ..Gate::default()
            },
        ),
        fixed(
            // Glued to a name by `_` too (`card_4111…`): Luhn and the brands keep ids out.
            r"(?:^|[^A-Za-z0-9.+-])(?P<v>[2-6](?:[ -]?[0-9]){12,18})(?:$|[^A-Za-z0-9-])",
            "card",
            Check::Luhn,
            // A card number's 13 digits, maybe spaced or dashed, from where the rule may start.
            scanned(super::card_digits),
        ),
        // The same in four dotted groups (`4622.6104.0639.9630`, as some forms write it): four
        // groups of four only, so a version or an address is never read as one.
        fixed(
            r"(?:^|[^A-Za-z0-9.+-])(?P<v>[2-6][0-9]{3}(?:\.[0-9]{4}){3})(?:$|[^A-Za-z0-9.-]|\.(?:$|[^0-9]))",
            "card",
            Check::Luhn,
            scanned(super::dotted_card),
        ),
        // Personal data beside emails and cards: phone numbers, US social security numbers,
        // IBANs, and the client's address where a key names it.
        // A phone number in international form: `+`, then 8 to 15 digits, maybe spaced,
        // dotted, dashed or with the area code in parentheses (`+1 (415) 555-0132`).
        fixed(
            r"(?:^|[^\w+])(?P<v>\+[1-9](?:[ .-]?\(?[0-9]\)?){7,14})(?:$|[^\w])",
            "phone",
            Check::Phone,
            scanned(plus_digits),
        ),
        // A North American number written nationally: `(415) 555-0132`, `415-555-0132`,
        // `415.555.0132` (area code and exchange 2–9 first, as the plan issues them).
        fixed(
            r"(?:^|[^\w+./-])(?P<v>(?:1[ .-]?)?(?:\([2-9][0-9]{2}\) ?[2-9][0-9]{2}-[0-9]{4}|[2-9][0-9]{2}-[2-9][0-9]{2}-[0-9]{4}|[2-9][0-9]{2}\.[2-9][0-9]{2}\.[0-9]{4}))(?:$|[^\w.-]|\.(?:$|\W))",
            "phone",
            Check::None,
            scanned(national_phone_shape),
        ),
        // Elsewhere, a national number after its trunk `0`, in groups (`06 42 87 19 53`,
        // `020 7946 0958`): [`super::phone`] tells it from the constants of its shape.
        fixed(
            super::phone::PATTERN,
            "phone",
            Check::NationalPhone,
            scanned(super::phone::shape),
        ),
        // Any phone number after a key naming one (`phone_number=0301234567`, `"mobile": …`).
        fixed(
            &format!(r"(?i)\b(?P<k>[\w.-]*?(?:phone|mobile|msisdn|cell|fax)(?:[_-]?(?:number|num|no))?){SEP}{OPEN_QUOTE}(?P<v>\+?\(?[0-9](?:[ .()-]{{0,2}}[0-9]){{6,14}})"),
            "phone",
            Check::NotPlaceholder,
            followed(&["phone", "mobile", "msisdn", "cell", "fax"], Follow::KeyLike),
        ),
        // A number written nationally after a word naming a phone, in a sentence or a
        // signature (`Tel. 030 1234567`, `Telefon: 030 12345678`, `電話: 03-1234-5678`): seven
        // digits or more, so `phone 2 retries` stays.
        fixed(
            r"(?i)(?:\b(?:tel|t\x{e9}l|fon|mob)\.?|\b(?:phone|mobile|telefon[eo]?|tel[e\x{e9}]fono|telephone|handy|whatsapp)(?:[ _-]?(?:number|num|no|nr)\.?)?|\x{96fb}\x{8a71}(?:\x{756a}\x{53f7})?|\x{7535}\x{8bdd}|\x{624b}\x{673a})\s*[:=\x{ff1a}]?\s*(?P<v>\+?\(?[0-9](?:[ .()/-]{0,2}[0-9]){6,14})",
            "phone",
            Check::NotPlaceholder,
            words(&["tel", "t\u{e9}l", "t\u{c9}l", "fon", "mob", "phone", "handy", "whatsapp", "\u{96fb}\u{8a71}", "\u{7535}\u{8bdd}", "\u{624b}\u{673a}"]),
        ),
        // An identity document's number or a birth date after a key naming it
        // (`passport_number=X1234567`, `date_of_birth: 1956-03-19`, `ssn=123456789`).
        Source {
            pattern: format!(r"(?i)\b(?P<k>[\w.-]*?(?:{})){SEP}{OPEN_QUOTE}(?P<v>[A-Za-z0-9][\w./:+-]*(?:,?[ ]+(?:[0-9][\w./:+-]*|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?)){{0,3}})", personal_key()),
            kind: Kind::Personal,
            check: Check::NotProse,
            gate: followed(personal_key_words(), Follow::KeyLike),
        },
        // Dashed or spaced (`123 45 6789`, as forms print it), one separator throughout.
        fixed(
            r"(?:^|[^\w-])(?P<v>[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4})(?:$|[^\w-])",
            "ssn",
            Check::Ssn,
            scanned(ssn_shape),
        ),
        // The client's address under a key that names it (`remote_ip=`, `X-Forwarded-For:`,
        // every hop of a list, IPv4-mapped ones too: `::ffff:203.0.113.7`); an address in prose
        // stays (a server's, in most logs).
        fixed(
            &format!(r"(?i)\b(?P<k>[\w.-]*?(?:{})){SEP}{OPEN_QUOTE}(?P<v>(?:::)?[0-9a-f][0-9a-f:.]*[0-9a-f](?:,\s*(?:::)?[0-9a-f][0-9a-f:.]*[0-9a-f])*)", client_address_key()),
            "ip",
            Check::NotPlaceholder,
            followed(client_address_words(), Follow::KeyLike),
        ),
        // RFC 7239's `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"`: each
        // hop's client address, under a parameter the key rule above does not read. An
        // address shape only (four dotted numbers, or hex groups with at least two colons, an
        // IPv4-mapped one's dotted tail too: `::ffff:192.0.2.60`).
        fixed(
            r#"(?i)\bfor=\\?"?\[?(?P<v>[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3})"#,
            "ip",
            Check::NotPlaceholder,
            words(&["for="]),
        ),
    ];
    // Names, addresses and national ids: after cards and phones, whose digits are no id's;
    // a person or an address as an object first, whole.
    rules.extend(super::objects::sources(SEP));
    rules.extend(super::personal::sources(SEP, OPEN_QUOTE));
    rules
}

/// Key names whose value is the client's network address, as two parts that `_` or `-` may
/// join (`remote_ip`, `X-Forwarded-For`), and what the second may go on with (`addr`, `address`).
/// The one list the rule's regex, its gate words and the JSON key endings are made from.
const CLIENT_ADDRESS_NAMES: [(&str, &str, &str); 14] = [
    ("remote", "ip", ""),
    ("client", "ip", ""),
    // PostgreSQL's `client_addr`; Cloud Audit Logs' `requestMetadata.callerIp`.
    ("client", "addr", "ess"),
    ("caller", "ip", ""),
    ("remote", "addr", "ess"),
    ("forwarded", "for", ""),
    ("real", "ip", ""),
    ("ip", "addr", "ess"),
    ("source", "ip", ""),
    ("src", "ip", ""),
    ("user", "ip", ""),
    ("peer", "ip", ""),
    ("connecting", "ip", ""),
    // Envoy's `x-envoy-external-address`: the client's address as the edge proxy saw it.
    ("external", "addr", "ess"),
];

/// [`CLIENT_ADDRESS_NAMES`] as a regex alternation.
fn client_address_key() -> String {
    CLIENT_ADDRESS_NAMES
        .iter()
        .map(|(a, b, more)| match *more {
            "" => format!("{a}[_-]?{b}"),
            more => format!("{a}[_-]?{b}(?:{more})?"),
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// [`CLIENT_ADDRESS_NAMES`] written out, every way `_` or `-` joins them: the gate's words
/// (`ip` alone would open it on `skip` and `zip`; a longer name holds its shorter one).
fn client_address_words() -> &'static [&'static str] {
    static WORDS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        joined(
            &CLIENT_ADDRESS_NAMES.map(|(a, b, _)| (a, b)),
            &["", "_", "-"],
        )
    });
    &WORDS
}

/// [`CLIENT_ADDRESS_NAMES`] with nothing between their parts, each way it may be written
/// (`remoteip`, `remoteaddr`, `remoteaddress`): what a JSON key naming one ends with.
pub(super) fn client_address_endings() -> impl Iterator<Item = String> {
    CLIENT_ADDRESS_NAMES.into_iter().flat_map(|(a, b, more)| {
        let longer = (!more.is_empty()).then(|| format!("{a}{b}{more}"));
        std::iter::once(format!("{a}{b}")).chain(longer)
    })
}

/// Each pair joined each way.
fn joined(pairs: &[(&str, &str)], joins: &[&str]) -> Vec<&'static str> {
    let mut words = Vec::new();
    for (a, b) in pairs {
        for join in joins {
            words.push(&*String::leak(format!("{a}{join}{b}")));
        }
    }
    words
}

const fn scanned(scan: fn(&[u8]) -> bool) -> Gate {
    Gate {
        scan: Some(scan),
        ..words(&[])
    }
}

/// A `+`, a digit 1–9, and eight digits in the 29 bytes from it (each digit may come with a
/// separator and parentheses): where an international phone
/// number may start.
fn plus_digits(t: &[u8]) -> bool {
    memchr::memchr_iter(b'+', t).any(|i| {
        t.get(i + 1).is_some_and(|b| matches!(b, b'1'..=b'9'))
            && t[i + 1..]
                .iter()
                .take(29)
                .filter(|b| b.is_ascii_digit())
                .count()
                >= 8
    })
}

/// `(ddd)`, `ddd-ddd-dddd` or `ddd.ddd.dddd` somewhere: where a North American number written
/// nationally may be, found from a `)` or its first separator.
fn national_phone_shape(t: &[u8]) -> bool {
    let digits = |r: std::ops::Range<usize>| t[r].iter().all(u8::is_ascii_digit);
    memchr::memchr3_iter(b')', b'-', b'.', t).any(|i| {
        if t[i] == b')' {
            return i >= 4 && t[i - 4] == b'(' && digits(i - 3..i);
        }
        i >= 3
            && i + 9 <= t.len()
            && t[i + 4] == t[i]
            && digits(i - 3..i)
            && digits(i + 1..i + 4)
            && digits(i + 5..i + 9)
    })
}

/// A `/` and a whole segment of 32 to 64 of `[A-Za-z0-9_-]` after it that the random-token
/// check may accept: where a path segment may be a key. A longer run, or one going on into
/// what may not end the rule's value, has no match at that `/`; a segment of 40 the check may
/// take beside an AWS key id, which only the text before the rules shows.
fn long_path_segment(t: &[u8]) -> bool {
    let segment = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-');
    // What the rule's regex lets follow the value: `$|[/?#&\s"'<>),;]` (a Unicode space is
    // not ASCII).
    let ends = |b: Option<&u8>| {
        b.is_none_or(|&b| {
            !b.is_ascii()
                || b.is_ascii_whitespace()
                || matches!(
                    b,
                    0x0b | b'/'
                        | b'?'
                        | b'#'
                        | b'&'
                        | b'"'
                        | b'\''
                        | b'<'
                        | b'>'
                        | b')'
                        | b','
                        | b';'
                )
        })
    };
    memchr::memchr_iter(b'/', t).any(|i| {
        let run = t[i + 1..].iter().take_while(|b| segment(b)).count();
        (32..=64).contains(&run)
            && ends(t.get(i + 1 + run))
            && (run == 40
                || std::str::from_utf8(&t[i + 1..i + 1 + run]).is_ok_and(super::check::random))
    })
}

/// `ddd-dd-dddd` or `ddd dd dddd` somewhere, found from its first separator.
fn ssn_shape(t: &[u8]) -> bool {
    let digits = |r: std::ops::Range<usize>| t[r].iter().all(u8::is_ascii_digit);
    memchr::memchr2_iter(b'-', b' ', t).any(|i| {
        i >= 3
            && i + 8 <= t.len()
            && t[i + 3] == t[i]
            && digits(i - 3..i)
            && digits(i + 1..i + 3)
            && digits(i + 4..i + 8)
    })
}

/// Two capitals and two digits (`DE89`), or two small letters, two digits and a space (`de89 `):
/// where an IBAN may start.
fn iban_shape(t: &[u8]) -> bool {
    // A capital after a capital is rarer in log text than a digit after a digit: tested first.
    let upper = t.windows(4).any(|w| {
        w[1].is_ascii_uppercase()
            && w[0].is_ascii_uppercase()
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
    });
    // In small letters an IBAN is read only in groups: two digits before a space.
    upper
        || memchr::memchr_iter(b' ', t).any(|p| {
            p >= 4
                && t[p - 1].is_ascii_digit()
                && t[p - 2].is_ascii_digit()
                && t[p - 3].is_ascii_lowercase()
                && t[p - 4].is_ascii_lowercase()
        })
}

/// Tokens known by their vendor prefix (gitleaks' rule set names these; the code is ours):
/// (what comes before the literal, the literal, what follows). The literal is also the gate's
/// word, so the regex and the gate cannot drift apart.
const VENDOR: &[(&str, &str, &str)] = &[
    (
        "",
        "sk-",
        r"(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|live-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    ),
    ("", "rk_", r"(?:live|test|prod)_[A-Za-z0-9]{10,}"),
    ("", "sk_", r"(?:live|test|prod)_[A-Za-z0-9]{10,}"),
    ("", "pk_", r"(?:live|test|prod)_[A-Za-z0-9]{10,}"),
    ("", "whsec_", r"[A-Za-z0-9+/=]{20,}"),
    ("", "ghp_", r"[A-Za-z0-9]{30,}"),
    ("", "gho_", r"[A-Za-z0-9]{30,}"),
    ("", "ghu_", r"[A-Za-z0-9]{30,}"),
    ("", "ghs_", r"[A-Za-z0-9]{30,}"),
    ("", "ghr_", r"[A-Za-z0-9]{30,}"),
    ("", "github_pat_", r"[A-Za-z0-9_]{22,}"),
    ("", "xox", r"[abposrce]-[A-Za-z0-9-]{10,}"),
    ("", "xapp-", r"[A-Za-z0-9-]{10,}"),
    ("", "glpat-", r"[A-Za-z0-9_-]{20,}"),
    ("", "glptt-", r"[A-Za-z0-9_-]{20,}"),
    ("", "gldt-", r"[A-Za-z0-9_-]{20,}"),
    ("", "glrt-", r"[A-Za-z0-9_-]{20,}"),
    ("", "glcbt-", r"[A-Za-z0-9_-]{20,}"),
    ("", "gloas-", r"[A-Za-z0-9_-]{20,}"),
    ("", "glsoat-", r"[A-Za-z0-9_-]{20,}"),
    ("", "glft-", r"[A-Za-z0-9_-]{20,}"),
    ("", "glimt-", r"[A-Za-z0-9_-]{20,}"),
    ("", "glagent-", r"[A-Za-z0-9_-]{20,}"),
    ("", "gldeploy-", r"[A-Za-z0-9_-]{20,}"),
    ("", "glcs-", r"[A-Za-z0-9_-]{20,}"),
    ("", "ya29.", r"[A-Za-z0-9_-]{20,}"),
    ("", "GOCSPX-", r"[A-Za-z0-9_-]{20,}"),
    ("", "AIza", r"[0-9A-Za-z_-]{35}"),
    ("", "1//0", r"[A-Za-z0-9_-]{30,}"),
    ("", "SG.", r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    ("", "npm_", r"[A-Za-z0-9]{30,}"),
    ("", "pypi-", r"[A-Za-z0-9_-]{50,}"),
    ("", "hf_", r"[A-Za-z0-9]{30,}"),
    ("", "dapi", r"[a-f0-9]{32}"),
    ("", "shpat_", r"[a-fA-F0-9]{32}"),
    ("", "shpca_", r"[a-fA-F0-9]{32}"),
    ("", "shppa_", r"[a-fA-F0-9]{32}"),
    ("", "shpss_", r"[a-fA-F0-9]{32}"),
    ("", "doo_v1_", r"[a-f0-9]{64}"),
    ("", "dop_v1_", r"[a-f0-9]{64}"),
    ("", "dor_v1_", r"[a-f0-9]{64}"),
    ("", "hvs.", r"[A-Za-z0-9_-]{24,}"),
    ("", "hvb.", r"[A-Za-z0-9_-]{24,}"),
    ("", "hvr.", r"[A-Za-z0-9_-]{24,}"),
    ("", "lin_api_", r"[A-Za-z0-9]{40}"),
    ("", "PMAK-", r"[a-f0-9]{24}-[a-f0-9]{34}"),
    ("", "NRAK-", r"[A-Z0-9]{27}"),
    ("", "glsa_", r"[A-Za-z0-9_]{32,}"),
    ("", "glc_", r"[A-Za-z0-9+/=]{32,}"),
    ("", "AGE-SECRET-KEY-1", r"[0-9A-Z]{58}"),
    ("", "key-", r"[0-9a-zA-Z]{32}"),
    ("", "SK", r"[0-9a-fA-F]{32}"),
    ("", "sq0atp-", r"[0-9A-Za-z_-]{22,}"),
    ("", "sq0csp-", r"[0-9A-Za-z_-]{22,}"),
    ("", "rubygems_", r"[a-f0-9]{48}"),
    ("", "figd_", r"[A-Za-z0-9_-]{40}"),
    ("", "dp.", r"(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}"),
    ("", "ATATT3", r"[A-Za-z0-9_=-]{100,}"),
    (r"[a-zA-Z0-9_~.]{3}\d", "Q~", r"[a-zA-Z0-9_~.-]{31,34}"),
    ("[0-9]{8,10}", ":AA", r"[0-9A-Za-z_-]{33}"),
    ("", "EAA", r"[A-Za-z0-9]{90,}"),
    ("", "xkeysib-", r"[a-f0-9]{64}-[A-Za-z0-9]{16}"),
    ("", "sntrys_", r"[A-Za-z0-9+/=_]{40,}"),
    ("", "dckr_pat_", r"[A-Za-z0-9_-]{27}"),
    ("", "pscale_", r"(?:tkn|pw|oauth)_[A-Za-z0-9=._-]{32,}"),
    ("[0-9a-f]{32}", "-us", r"[0-9]{1,2}"),
    (
        "",
        "access_token$",
        r"(?:production|sandbox|development|qa)\$[0-9a-z]{16}\$[0-9a-f]{32}",
    ),
    ("", "pk.eyJ", r"[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    ("", "sk.eyJ", r"[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    ("", "tk.eyJ", r"[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
];

/// The vendor rule's regex, one alternative per token kind; a [`glued`] literal needs no word
/// boundary before it.
fn vendor_pattern() -> String {
    let alternatives = |glue: bool| -> String {
        let alts: Vec<String> = VENDOR
            .iter()
            .filter(|(before, literal, _)| before.is_empty() && glued(literal) == glue)
            .map(|(_, literal, after)| format!("{}{after}", regex::escape(literal)))
            .collect();
        alts.join("|")
    };
    let patterned: Vec<String> = VENDOR
        .iter()
        .filter(|(before, _, _)| !before.is_empty())
        .map(|(before, literal, after)| format!("{before}{}{after}", regex::escape(literal)))
        .collect();
    format!(
        r"\b(?:{}|{})|(?:{})",
        alternatives(false),
        patterned.join("|"),
        alternatives(true)
    )
}

/// A vendor literal no word ends in (four characters or more, holding punctuation: `ghp_`,
/// `glpat-`, `ya29.`), so a token glued to a name (`tokenghp_…`, `x-glpat-…`) is still one.
/// `sk-` (`task-…`), `key-` (`apikey-…`) and `xapp-` (`inboxapp-api`) end words, and need the
/// boundary.
fn glued(literal: &str) -> bool {
    literal.len() >= 4
        && !["key-", "xapp-"].contains(&literal)
        && literal.bytes().any(|b| !b.is_ascii_alphanumeric())
}

/// Literals a rule matches with no `\b` right before them: the JWT headers, [`glued`] vendor
/// literals, and vendor literals with a pattern before them (the rule's `\b` is before that:
/// `Q~` follows a digit).
fn unbounded(word: &str) -> bool {
    JWT_HEADERS.contains(&word)
        || VENDOR
            .iter()
            .any(|(before, literal, _)| *literal == word && (!before.is_empty() || glued(literal)))
}

/// How a JWT starts: its header is base64url JSON, `{"` or `{ "`.
const JWT_HEADERS: &[&str] = &["eyJ", "eyA"];

/// The vendor rule's gate words: a token holds its kind's literal.
fn vendor_words() -> &'static [&'static str] {
    static WORDS: std::sync::LazyLock<Vec<&'static str>> =
        std::sync::LazyLock::new(|| VENDOR.iter().map(|(_, literal, _)| *literal).collect());
    &WORDS
}

/// ASCII word boundaries and classes: log text is mostly ASCII, and Unicode `\b` would push the
/// regex engine off its fast DFA path for every message.
pub fn ascii(pattern: &str) -> String {
    pattern
        .replace(r"\b", r"(?-u:\b)")
        .replace(r"\w", r"[0-9A-Za-z_]")
}

/// The kind a secret's key name suggests: `dbPassword` → `password`, `api_key` → `api_key`.
pub fn key_kind(key: &str) -> &'static str {
    let k = key.to_ascii_lowercase();
    let rules: [(&[&str], &'static str); 13] = [
        (&["cookie"], "cookie"),
        (&["authorization"], "authorization"),
        (&["pass", "pw"], "password"),
        (&["session", "sessid", "sid"], "session"),
        (
            &[
                "apikey",
                "api_key",
                "api-key",
                "accesskey",
                "access_key",
                "access-key",
                "accountkey",
            ],
            "api_key",
        ),
        (&["pin_code", "pin-code", "pincode"], "pin"),
        (&["code"], "code"),
        (&["token", "auth", "jwt", "bearer"], "token"),
        (&["sig"], "signature"),
        (&["secret", "credential", "private"], "secret"),
        (&["key"], "api_key"),
        // Last: `pin` is inside other words (`ping_token`).
        (&["cvv", "cvc"], "card_code"),
        (&["pin"], "pin"),
    ];
    rules
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| k.contains(n)))
        .map_or("secret", |(_, kind)| kind)
}
