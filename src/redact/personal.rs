//! Personal data with no shape of its own but a key naming it — a person's name, a postal
//! address — and national identity numbers, known by their check digits ([`super::national`]).
//! A name or an address runs over spaces and commas: its value is read word by word, and ends
//! before the next key (`status=ok`), a status word or sentence punctuation.

use std::ops::Range;

use super::check::Check;
use super::patterns::{Follow, Gate, Kind, Source};

/// Keys naming a person (`customer_name`, `lastName`, `cardholder`): a first part, then
/// `name`. `name` alone is not one (a service's, a file's).
const NAME_FIRST_PARTS: [&str; 18] = [
    "customer",
    "full",
    "first",
    "last",
    "given",
    "family",
    "display",
    "holder",
    "recipient",
    "contact",
    "middle",
    "legal",
    "maiden",
    "sender",
    "patient",
    "passenger",
    "employee",
    "billing",
];

/// Keys naming a postal address or a part of one, as a first part and `address`
/// (`shipping_address`), and whole keys of their own.
const ADDRESS_FIRST_PARTS: [&str; 10] = [
    "shipping",
    "billing",
    "home",
    "street",
    "mailing",
    "postal",
    "delivery",
    "residential",
    "customer",
    "physical",
];

/// Short words a key ends with that other words end with too (`gzip`, `backstreet`): these
/// must be the key's whole last part (`billing_zip`, `zip_code`, `street`).
const ADDRESS_WORDS: [&str; 2] = ["zip", "street"];

/// The keys made of a first part and a last, as [`super::PERSONAL_KEY_ENDINGS`] reads them
/// (normalised: `customer_name` → `customername`), and their kind.
pub(super) const KEYS_OF_PARTS: [(&[&str], &str, &str); 2] = [
    (&NAME_FIRST_PARTS, "name", "name"),
    (&ADDRESS_FIRST_PARTS, "address", "address"),
];

/// The names' key as a regex alternation; `holder` only as a key's whole last part (not
/// `placeholder`).
fn name_key() -> String {
    format!(
        r"[\w.-]*?(?:(?:{})[_.-]?name|surname|cardholder(?:[_.-]?name)?)|(?:[\w.-]*[_.-])?holder(?:[_.-]?name)?",
        NAME_FIRST_PARTS.join("|")
    )
}

fn address_key() -> String {
    format!(
        r"[\w.-]*?(?:(?:{})[_.-]?address(?:[_.-]?line[_.-]?[1-3])?|address[_.-]?line[_.-]?[1-3]?)",
        ADDRESS_FIRST_PARTS.join("|"),
    )
}

/// A street's key: `street` as a key's whole last part (not `backstreet`).
const STREET_KEY: &str = r"(?:[\w.-]*[_.-])?street(?:[_.-]?(?:name|line[_.-]?[1-3]))?";

/// A postal code's key: `zip` as a key's whole last part (not `gzip`), `postal_code`.
const POSTAL_KEY: &str = r"[\w.-]*?post(?:al)?[_.-]?code|(?:[\w.-]*[_.-])?zip(?:[_.-]?code)?";

/// The gate's words: every key of both rules holds one.
fn gate_words() -> &'static [&'static str] {
    static WORDS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        // `post` for `postal_code`, `post_code`, `postcode` (`postal` for an XML tag, which
        // may go on for six letters only).
        let mut words: Vec<&'static str> = ["surname", "holder", "post", "postal"]
            .into_iter()
            .chain(ADDRESS_WORDS)
            .collect();
        for (parts, last) in [
            (&NAME_FIRST_PARTS[..], "name"),
            (&ADDRESS_FIRST_PARTS[..], "address"),
        ] {
            for first in parts {
                for join in ["", "_", "-", "."] {
                    words.push(String::leak(format!("{first}{join}{last}")));
                }
            }
        }
        for join in ["", "_", "-", "."] {
            words.push(String::leak(format!("address{join}line")));
        }
        words
    });
    &WORDS
}

/// A quoted value whole (JSON in text, also escaped), else this many words.
const QUOTED: &str = r#"\\?"[^"\r\n]*|'[^'\r\n]*"#;

/// The rules, in the order they run (after the key rules of identity documents).
pub fn sources(sep: &str, open_quote: &str) -> Vec<Source> {
    // A value's quotes are its own here: the quoted one is read whole.
    let keyed = |key: String, bare: &str| Source {
        // `bare` closes the value's group and says what must follow it.
        pattern: format!(r"\b(?P<k>(?i:{key})){sep}(?P<v>{QUOTED}|{bare}"),
        kind: Kind::Personal,
        check: Check::PersonalValue,
        gate: Gate {
            follow: Follow::KeyLike,
            words: gate_words(),
            ..Gate::default()
        },
    };
    // A name: a word, then capitalised words or the particles of names (`María de la Cruz`),
    // each ending before anything but a space or punctuation (`first_name=Bo status=ok`).
    let name_word = r"\p{L}[\p{L}\p{M}'’.-]*";
    let name_more = r"(?:\p{Lu}[\p{L}\p{M}'’.-]*|(?:de|da|del|della|di|du|dos|das|van|von|der|den|le|la|bin|ibn|al|el|y|ter|ten))";
    let end = r"(?:$|[^\p{L}\p{M}0-9_'’.=-])";
    // A name written in small letters (`maria garcía`, `van der berg`) goes on over small words.
    let small_word = r"\p{Ll}[\p{L}\p{M}'’.-]*";
    let name = format!(
        r"{small_word}(?:[ \t]+{name_word}){{0,4}}|{name_word}(?:[ \t]+{name_more}){{0,5}}){end}"
    );
    // A name under `name` alone (`name=JOHN SMITH`): two words or more, each capitalised;
    // [`bare_name`] tells it from a product's (`Cloud SQL Admin API`).
    let capitalised = r"\p{Lu}[\p{L}\p{M}'’.-]*";
    let bare_name = format!(r"{capitalised}(?:[ \t]+{name_more}){{1,4}}){end}");
    // An address: while it reads as one, a house number first (`221B Baker Street, London
    // NW1 6XE`), or capitalised words and then a number (`Hauptstraße 5, 10115 Berlin`); then
    // capitalised words, numbers, the particles of street names and commas, none of them a
    // key (`city: London`, `status=ok`). Prose after the key ends it (`billing_address:
    // rejected by the geocoder` keeps its words, and its own cluster).
    let address_chars = r#"[^\s"'|;{}\[\]<>=:(),]*"#;
    let number = format!("#?[0-9]{address_chars}");
    let capital = format!(r"\p{{Lu}}{address_chars}");
    let particle = "(?:de|da|del|della|di|du|des|dos|das|la|le|van|von|der|den|rue|via|calle|bis)";
    let address_more = format!(r"(?:,?[ \t]+(?:{number}|{capital}|{particle}))");
    let address_end = r#"(?:$|[\s,;)\]}"'|<>(])"#;
    let address = format!(
        r"(?:{number}|{capital}(?:[ \t]+(?:{capital}|{particle})){{0,4}},?[ \t]+{number}){address_more}{{0,11}}){address_end}"
    );
    // A street: a number or a capitalised word first, then as an address.
    let street = format!(r"(?:{number}|{capital}){address_more}{{0,7}}){address_end}");
    // A postal code: one token, and a British or Canadian inward code (`SW1A 1AA`, `K1A 0B6`).
    let postal = r"[0-9A-Za-z][0-9A-Za-z-]*(?:[ \t][0-9][A-Z][0-9A-Z])?)(?:$|[^\w-])";
    let ids = Source {
        pattern: format!(
            r"(?:^|[^\w.+/:-])(?P<v>{}|{}|{})(?:$|[^\w+/-]|\.(?:$|\s))",
            // CPF; NIR, unbroken or spaced (Corsica's 2A, 2B); a Chinese resident id.
            r"[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}|[12][0-9]{4}(?:[0-9]{2}|2[AB])[0-9]{8}|[12] [0-9]{2} [0-9]{2} (?:[0-9]{2}|2[AB]) [0-9]{3} [0-9]{3} [0-9]{2}|[1-8][0-9]{16}[0-9Xx]",
            // Aadhaar, SIN and Steuer-ID as printed, in groups.
            r"[2-9][0-9]{3}[ -][0-9]{4}[ -][0-9]{4}|[0-9]{3}[ -][0-9]{3}[ -][0-9]{3}|[1-9][0-9] [0-9]{3} [0-9]{3} [0-9]{3}",
            // DNI, NIE; NINO, unbroken or spaced.
            r"[0-9]{8}-?[A-Z]|[XYZ]-?[0-9]{7}-?[A-Z]|[A-Z]{2}[0-9]{6}[A-D]|[A-Z]{2} [0-9]{2} [0-9]{2} [0-9]{2} [A-D]",
        ),
        kind: Kind::Fixed("national_id"),
        check: Check::NationalId { keyed: false },
        gate: Gate {
            scan: Some(id_digits),
            ..Gate::default()
        },
    };
    // After a word naming a national id, in prose or as a key (`CPF 861…`, `身份证号：1101…`,
    // `applicant_sin="046 454 286"`): the number, maybe unbroken, whose check holds.
    let id_value = r"[0-9](?:[ .-]?[0-9]){7,17}(?:-?[0-9A-Z])?|[XYZ]-?[0-9]{7}-?[A-Z]|[A-Z]{2}(?: ?[0-9]{2}){3} ?[A-D]";
    let number = r"(?:\s*(?i:no\.?|nr\.?|num(?:ber|ero)?|n°|#)|号码?|號碼?)?(?:\\?[\x22'])?\s*(?:[:=#：]\s*)?";
    let keyed_id = |words: String, gate: &'static [&'static str], follow: Follow| Source {
        pattern: format!(r"(?:{words}){number}{open_quote}(?P<v>{id_value})"),
        kind: Kind::Fixed("national_id"),
        check: Check::NationalId { keyed: true },
        gate: Gate {
            words: gate,
            follow,
            ..Gate::default()
        },
    };
    use super::id_words::{id_gate_words, id_pattern, Prose};
    let leaked = |prose: &[Prose]| -> &'static [&'static str] { id_gate_words(prose).leak() };
    let keyed_ids = keyed_id(
        format!(
            r"\b(?i:{})|{}",
            id_pattern(&[Prose::AnyCase, Prose::Phrase]),
            id_pattern(&[Prose::Script])
        ),
        leaked(&[Prose::AnyCase, Prose::Phrase, Prose::Script]),
        Follow::Any,
    );
    // Short words: in prose as written (`SIN`), as a key its whole last word in any case.
    let written = id_pattern(&[Prose::Written]);
    let written_ids = keyed_id(
        format!(
            r"\b(?:{written})\b|\b(?:[\w.-]*[_.-])?(?i:{written})(?:[_-]?(?i:number|num|no|nr))?{sep}"
        ),
        leaked(&[Prose::Written]),
        Follow::WrittenOrKey,
    );
    // An element naming a person or an address part, maybe namespaced and with attributes
    // (SOAP's `<ns:lastName>`): its text up to the next tag, which must close it.
    let xml = Source {
        pattern: format!(
            r"<(?:[\w.-]+:)?(?P<k>(?i:{}|{}|{STREET_KEY}|{POSTAL_KEY}))(?:\s[^>]*)?>(?P<v>[^<]+)</",
            name_key(),
            address_key()
        ),
        kind: Kind::Personal,
        check: Check::PersonalValue,
        gate: Gate {
            follow: Follow::XmlTag,
            words: gate_words(),
            ..Gate::default()
        },
    };
    // The same under a user's key (`user=Marie Dupont logged in`): a login is one word, a
    // person's name two capitalised ones.
    let alone = Source {
        pattern: format!(
            r"(?:^|[^\w.-])(?P<k>(?i:name|user(?:[_-]?name)?)){sep}(?P<v>{QUOTED}|{bare_name}"
        ),
        kind: Kind::Fixed("name"),
        check: Check::PersonalValue,
        gate: Gate {
            follow: Follow::Alone,
            words: &NAME_ALONE_KEYS,
            ..Gate::default()
        },
    };
    vec![
        keyed(name_key(), &name),
        xml,
        alone,
        keyed(address_key(), &address),
        keyed(STREET_KEY.to_owned(), &street),
        keyed(POSTAL_KEY.to_owned(), postal),
        ids,
        keyed_ids,
        written_ids,
    ]
}

/// The shapes of the national id rule's alternatives, a byte class a character: `9` a
/// digit, `1` 1–2, `2` 2–9, `N` 1–9, `C` 1–8, `x` a digit or `X`/`x`, `A` a capital, `X` one of
/// `XYZ`, `E` A–D, `B` A–B, `_` a space or a dash; anything else itself. An optional dash is
/// written both ways.
const ID_FORMS: [&[u8]; 17] = [
    b"999.999.999-99",
    b"199999999999999",
    b"199992B99999999",
    b"1 99 99 99 999 999 99",
    b"1 99 99 2B 999 999 99",
    b"C9999999999999999x",
    b"2999_9999_9999",
    b"999_999_999",
    b"N9 999 999 999",
    b"99999999A",
    b"99999999-A",
    b"X9999999A",
    b"X-9999999A",
    b"X9999999-A",
    b"X-9999999-A",
    b"AA999999E",
    b"AA 99 99 99 E",
];

/// Whether a national id's shape ([`ID_FORMS`]) starts somewhere the rule's regex may start
/// (not after `[\w.+/:-]`: `blk_-1608…`, `/10.250.19.102`): a date or a long id opens nothing.
fn id_digits(t: &[u8]) -> bool {
    // Where a value may start is found first, one table lookup a byte and one branch taken
    // only there: most bytes of a line are inside a word or a number, and measuring each of
    // those (digits ahead, the run it opens) had cost more than the rest of the gates together.
    let mut before = ID_BOUNDARY; // the start of the text
    for (i, &b) in t.iter().enumerate() {
        let class = ID_CLASSES[usize::from(b)];
        if before & (class >> 1) != 0 && id_at(&t[i..]) {
            return true;
        }
        before = class;
    }
    false
}

/// A byte after which the rule's regex may start a value (not `[\w.+/:-]`).
const ID_BOUNDARY: u8 = 1;
/// A byte a value starts with (a digit or a capital), one bit above [`ID_BOUNDARY`].
const ID_START: u8 = 2;

static ID_CLASSES: [u8; 256] = {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let inside =
            c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'/' | b':' | b'-');
        t[b] = if inside { 0 } else { ID_BOUNDARY }
            | if c.is_ascii_digit() || c.is_ascii_uppercase() {
                ID_START
            } else {
                0
            };
        b += 1;
    }
    t
};

/// Whether one of [`ID_FORMS`] matches at the start of `t` (a digit or a capital).
fn id_at(t: &[u8]) -> bool {
    // Only the forms that may match a start of this byte and this run of digits are compared
    // (a line's numbers and capitalised words are tried against one or two, not all).
    let run = t.iter().take(31).take_while(|b| b.is_ascii_digit()).count();
    let index = &*ID_INDEX;
    let forms = index.first[usize::from(t[0])] & index.by_run[run];
    forms != 0
        && (t[0].is_ascii_uppercase() || id_run(run))
        && ID_FORMS.iter().enumerate().any(|(i, form)| {
            forms & (1 << i) != 0
                && t.get(..form.len())
                    .is_some_and(|s| s.iter().zip(*form).all(|(&b, &c)| form_class(c, b)))
        })
}

/// Whether byte `b` is of the class `c` of an [`ID_FORMS`] shape.
fn form_class(c: u8, b: u8) -> bool {
    match c {
        b'9' => b.is_ascii_digit(),
        b'1' => matches!(b, b'1' | b'2'),
        b'2' => matches!(b, b'2'..=b'9'),
        b'N' => matches!(b, b'1'..=b'9'),
        b'C' => matches!(b, b'1'..=b'8'),
        b'x' => b.is_ascii_digit() || b == b'X' || b == b'x',
        b'A' => b.is_ascii_uppercase(),
        b'X' => matches!(b, b'X' | b'Y' | b'Z'),
        b'E' => matches!(b, b'A'..=b'D'),
        b'B' => matches!(b, b'A' | b'B'),
        b'_' => matches!(b, b' ' | b'-'),
        _ => c == b,
    }
}

/// [`ID_FORMS`] as sets, one bit a form: those whose first class takes a byte, and those that
/// may match where a run of exactly so many digits starts (the classes before it all take a
/// digit, the one at its end a byte that is none). Either is a superset of the forms matching
/// there, so comparing only their common forms finds every match.
struct IdIndex {
    first: [u32; 256],
    by_run: [u32; 32],
}

static ID_INDEX: std::sync::LazyLock<IdIndex> = std::sync::LazyLock::new(|| {
    assert!(ID_FORMS.len() <= 32, "one bit per form");
    let takes_digit = |c: u8| (b'0'..=b'9').any(|b| form_class(c, b));
    let takes_other = |c: u8| (0..=255u8).any(|b| !b.is_ascii_digit() && form_class(c, b));
    let mut index = IdIndex {
        first: [0; 256],
        by_run: [0; 32],
    };
    for (i, form) in ID_FORMS.iter().enumerate() {
        for b in 0..=255u8 {
            if form_class(form[0], b) {
                index.first[usize::from(b)] |= 1 << i;
            }
        }
        for (run, set) in index.by_run.iter_mut().enumerate() {
            let digits = form.iter().take(run).all(|&c| takes_digit(c));
            let ends = form.get(run).is_none_or(|&c| takes_other(c));
            if digits && ends {
                *set |= 1 << i;
            }
        }
    }
    index
});

/// Whether a run of `run` digits is as long as a form that starts with digits begins with
/// (`081109` is none: no form opens with six).
fn id_run(run: usize) -> bool {
    static RUNS: std::sync::LazyLock<u32> = std::sync::LazyLock::new(|| {
        let digit = |c: &u8| matches!(c, b'9' | b'1' | b'2' | b'N' | b'C');
        ID_FORMS
            .iter()
            .filter(|f| digit(&f[0]))
            .fold(0u32, |runs, f| {
                let run = f.iter().take_while(|c| digit(c)).count();
                // `x`: a digit or X, so the run may be one longer.
                let maybe = u32::from(f.get(run) == Some(&b'x'));
                runs | (1 << run) | (maybe << (run + 1))
            })
    });
    *RUNS & (1 << run) != 0
}

/// What a value under a name's or an address's key (`key`) is: the quoted text, or the
/// words before a status word (`missing`, `failed`); not a placeholder, not prose opening with
/// a status word; without sentence punctuation at its end. Under `name` alone only what reads
/// as a person's name ([`bare_name`]); under a display name, not a product's.
pub fn personal_value(text: &str, v: Range<usize>, key: Option<&str>) -> Option<Range<usize>> {
    let value = &text[v.clone()];
    let unescaped = value.trim_start_matches('\\');
    let (start, body) = match unescaped.strip_prefix(['"', '\'']) {
        Some(body) => (v.end - body.len(), body.strip_suffix('\\').unwrap_or(body)),
        None => {
            // Words up to a status word (an address may run on into prose).
            let mut end = 0;
            for word in value.split([' ', '\t']) {
                let bare = word.trim_end_matches([',', '.', ';', ':', ')', '!', '?', '"', '\'']);
                if super::check::status_word(bare) {
                    if end == 0 {
                        return None;
                    }
                    break;
                }
                end += word.len() + 1;
            }
            (v.start, &value[..(end.saturating_sub(1)).min(value.len())])
        }
    };
    let lead = body.len() - body.trim_start().len();
    let inner = body
        .trim()
        .trim_end_matches([',', '.', ';', ':', ')', '!', '?', '"', '\'']);
    let key = key.unwrap_or("").to_ascii_lowercase();
    let shaped = match key.as_str() {
        k if name_alone_key(k) => bare_name(inner),
        k if k.ends_with("display_name") || k.ends_with("displayname") => !product(inner),
        _ => true,
    };
    let ok = shaped
        && !inner.is_empty()
        && !super::check::status_word(inner)
        && !matches!(inner, "-" | "n/a" | "N/A")
        && !super::check::is_placeholder(inner);
    ok.then_some(start + lead..start + lead + inner.len())
}

/// Keys under which only a value reading as a person's name ([`bare_name`]) is one: `name`
/// alone (a service's, a file's otherwise) and a user's (a login otherwise).
const NAME_ALONE_KEYS: [&str; 5] = ["name", "user", "username", "user_name", "user-name"];

/// Whether `key` is one of [`NAME_ALONE_KEYS`], in any case.
pub fn name_alone_key(key: &str) -> bool {
    NAME_ALONE_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k))
}

/// Whether a value under `name` alone reads as a person's name: two to six words, each
/// capitalised or in capitals (`John Smith`, `JOHN SMITH`, `Jean-Luc O'Brien`) or a particle
/// (`de la`), and no product's word (`Cloud Run`, `Default Pool`: resources are named so too).
pub fn bare_name(value: &str) -> bool {
    let words: Vec<&str> = value.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    // Each part of a joined name in one case after its first letter (`Jean-Luc`, `O'Brien`).
    let part = |p: &str| {
        let rest = p.chars().skip(1);
        rest.clone().all(char::is_lowercase) || rest.clone().all(char::is_uppercase)
    };
    let word = |w: &&str| {
        w.chars().next().is_some_and(char::is_uppercase)
            && w.chars().all(|c| c.is_alphabetic() || "'’.-".contains(c))
            && w.split(['\'', '’', '.', '-']).all(part)
    };
    let particle = |w: &&str| PARTICLES.contains(w);
    (2..=6).contains(&words.len())
        && words.iter().all(|w| word(w) || particle(w))
        && words.iter().filter(|w| word(w)).count() >= 2
        && !product(value)
}

/// The particles of names, in small letters (`María de la Cruz`, `Ludwig van Beethoven`).
const PARTICLES: [&str; 22] = [
    "de", "da", "del", "della", "di", "du", "dos", "das", "van", "von", "der", "den", "le", "la",
    "bin", "ibn", "al", "el", "y", "ter", "ten", "zu",
];

/// Whether a display name is a product's or a resource's (`Cloud SQL Admin API`, `Compute
/// Engine default service account`): one of their words, or a digit. A person's name holds
/// neither; what is cheap to tell apart is told, the rest is redacted.
pub fn product(value: &str) -> bool {
    const WORDS: [&str; 40] = [
        "api",
        "apis",
        "sql",
        "cloud",
        "service",
        "services",
        "admin",
        "server",
        "engine",
        "storage",
        "database",
        "account",
        "bot",
        "app",
        "platform",
        "manager",
        "console",
        "pool",
        "cluster",
        "function",
        "functions",
        "gateway",
        "default",
        "system",
        "worker",
        "job",
        "queue",
        "bucket",
        "network",
        "node",
        "instance",
        "project",
        "agent",
        "controller",
        "proxy",
        "cache",
        "scheduler",
        "monitoring",
        "logging",
        "run",
    ];
    value.chars().any(|c| c.is_ascii_digit())
        || value
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| WORDS.iter().any(|p| w.eq_ignore_ascii_case(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest of [`ID_FORMS`], and the fewest digits any of them holds: the gate skipped
    /// a start with fewer ahead before it looked only at the forms a start may open.
    const ID_REACH: usize = 21;
    const ID_DIGITS: usize = 6;

    #[test]
    fn every_id_form_lies_within_the_reach_and_digits_the_gate_skips_by() {
        for form in ID_FORMS {
            let digits = form
                .iter()
                .filter(|c| matches!(c, b'9' | b'1' | b'2' | b'N' | b'C'))
                .count();
            assert!(form.len() <= ID_REACH, "{}", String::from_utf8_lossy(form));
            assert!(digits >= ID_DIGITS, "{}", String::from_utf8_lossy(form));
        }
        assert!(id_digits(b"ticket for CPF 861.665.137-39 opened"));
        assert!(id_digits(b"NINO AB 12 34 56 C"));
        assert!(!id_digits(
            b"Receiving block blk_-1608999687919862906 src: /10.250.19.102"
        ));
        assert!(!id_digits(
            b"081109 203615 148 INFO dfs.DataNode$PacketResponder"
        ));
        // Each form, filled in, opens the gate (a run the forms start with is tried).
        for form in ID_FORMS {
            let filled: Vec<u8> = form
                .iter()
                .map(|c| match c {
                    b'9' | b'x' => b'7',
                    b'1' => b'1',
                    b'2' | b'N' | b'C' => b'3',
                    b'A' => b'K',
                    b'X' => b'Y',
                    b'E' | b'B' => b'A',
                    b'_' => b' ',
                    c => *c,
                })
                .collect();
            assert!(id_digits(&filled), "{}", String::from_utf8_lossy(&filled));
        }
    }

    #[test]
    fn the_form_index_finds_what_comparing_every_form_finds() {
        // Every form compared at every start, as before the index.
        let every = |t: &[u8]| {
            (0..t.len()).any(|i| {
                (i == 0 || ID_CLASSES[usize::from(t[i - 1])] & ID_BOUNDARY != 0)
                    && (t[i].is_ascii_uppercase() || t[i].is_ascii_digit())
                    && t[i..]
                        .iter()
                        .take(ID_REACH)
                        .filter(|b| b.is_ascii_digit())
                        .count()
                        >= ID_DIGITS
                    && (t[i].is_ascii_uppercase()
                        || id_run(
                            t[i..]
                                .iter()
                                .take(31)
                                .take_while(|b| b.is_ascii_digit())
                                .count(),
                        ))
                    && ID_FORMS.iter().any(|form| {
                        t.get(i..i + form.len())
                            .is_some_and(|s| s.iter().zip(*form).all(|(&b, &c)| form_class(c, b)))
                    })
            })
        };
        let pieces: [&[u8]; 14] = [
            b"1", b"2", b"7", b"0", b"X", b"A", b"B", b"C", b" ", b"-", b".", b"x", b"=", b"12345",
        ];
        let mut rng = crate::synth::Rng::new(12);
        let mut found = 0;
        for _ in 0..200_000 {
            let n = 1 + rng.below(24) as usize;
            let t: Vec<u8> = (0..n)
                .flat_map(|_| {
                    pieces[rng.below(pieces.len() as u64) as usize]
                        .iter()
                        .copied()
                })
                .collect();
            assert_eq!(id_digits(&t), every(&t), "{}", String::from_utf8_lossy(&t));
            found += usize::from(every(&t));
        }
        assert!(found > 1000, "{found} texts holding a form");
    }
}
