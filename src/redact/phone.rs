//! A phone number written nationally with no word naming it (`SMS au 06 42 87 19 53`,
//! `06.42.87.19.53`, `020 7946 0958`, `03-1234-5678`): the trunk prefix `0` and a digit 1–9
//! open the first group, then two to four more groups of 2–4 digits joined by one separator,
//! 10 or 11 digits in all — how France, the UK, Germany, Italy, the Netherlands, Japan and
//! Australia print a subscriber's number. Without a trunk prefix, only the shapes of mobile
//! numbers: a Spanish one's `612 34 56 78` and `612 345 678` (`6`, or `71`–`74`, first: the
//! only nine-digit counts it takes are the 600 to 749 millions spaced in thousands), and an
//! Italian one's `347 123 4567` (North American numbers are spaced so too) and `347 1234567`.
//! Unbroken (`3471234567`), a mobile number is any id of ten digits: only a word naming it
//! tells. The international form (`+33 6 42 87 19 53`, `+39 347 1234567`) and North American
//! numbers with dashes have rules of their own.
//!
//! A constant of that shape is not one: a date and a time (`01 02 2024 12 30`), a time with
//! its fraction (`09.42.17.1234`), an IP address (`010.100.20.050`), a duration or a size (a
//! unit after it), a group of a longer run of groups (a card's, a hex dump's), a counted
//! sequence (`01 02 03 04 05`). Nine digits after a `0` are left to the identity rules
//! (`046 454 286` is a SIN's shape) and thousands are never written with a leading `0`.

use std::ops::Range;

/// The rule's regex: the value `v` after no word character, `+`, `.`, `:`, `/` or `-` (a
/// version's, a port's, a path's or a negative number's digits), one separator throughout,
/// ending before what is no part of a word or a number (a sentence's `.` or `:` may end it).
pub const PATTERN: &str = r"(?:^|[^\w+.:/-])(?P<v>0[1-9][0-9]{0,2}(?:(?: [0-9]{2,4}){2,4}|(?:\.[0-9]{2,4}){2,4}|(?:-[0-9]{2,4}){2,4})|[6-9][0-9]{2}(?: [0-9]{2}){3}|(?:6[0-9]{2}|7[1-4][0-9]) [0-9]{3} [0-9]{3}|[1-9][0-9]{2} [0-9]{3} [0-9]{4}|3[1-9][0-9] [0-9]{7})(?:$|[^\w.:/-]|[.:](?:$|\s))";

/// Whether the value at `v` of `text` (matched by [`PATTERN`]) is a phone number, not a
/// constant of its shape.
pub fn national_phone(text: &str, v: Range<usize>) -> bool {
    let value = &text[v.clone()];
    let Some(sep) = value.bytes().find(|b| !b.is_ascii_digit()) else {
        return false;
    };
    let groups: Vec<&str> = value.split(char::from(sep)).collect();
    let digits: usize = groups.iter().map(|g| g.len()).sum();
    let (before, after) = (&text.as_bytes()[..v.start], &text.as_bytes()[v.end..]);
    // A group of a longer run (`12 06 42 87 19 53`, `… 0532 0130 00 77`).
    let glued = (before
        .last()
        .is_some_and(|b| matches!(b, b' ' | b'.' | b'-'))
        && before.iter().rev().nth(1).is_some_and(u8::is_ascii_digit))
        || (after.first() == Some(&sep) && after.get(1).is_some_and(u8::is_ascii_digit));
    let constant = glued
        || date(&groups)
        || time(&groups)
        || (sep == b'.' && ip(&groups))
        || sequence(&groups)
        || unit_after(&text[v.end..]);
    // The shapes without a trunk prefix have their digits fixed by the regex.
    let enough = !value.starts_with('0') || (10..=11).contains(&digits);
    enough && !constant
}

fn number(group: &str) -> u32 {
    group
        .bytes()
        .fold(0, |n, b| n * 10 + u32::from(b.wrapping_sub(b'0')))
}

/// A year (1900–2099) after its day and month or before its month and day, each a two-digit
/// group up to 31: a date, maybe with its time in the groups after (`01 02 2024 12 30`;
/// `2024`-first is no match at all). A year-like group beside one such group is no date: Milan's
/// `02 2019 4567` is a number to call.
fn date(groups: &[&str]) -> bool {
    let day_and_month = |pair: Option<&[&str]>| {
        pair.is_some_and(|p| {
            p.iter()
                .all(|d| d.len() == 2 && (1..=31).contains(&number(d)))
        })
    };
    groups.iter().enumerate().any(|(i, g)| {
        g.len() == 4
            && (1900..=2099).contains(&number(g))
            && (day_and_month(i.checked_sub(2).map(|j| &groups[j..i]))
                || day_and_month(groups.get(i + 1..i + 3)))
    })
}

/// Hours, minutes, seconds and a fraction (`09.42.17.1234`).
fn time(groups: &[&str]) -> bool {
    matches!(groups, [h, m, s, f, ..]
        if h.len() == 2 && m.len() == 2 && s.len() == 2 && f.len() >= 3
            && number(h) <= 23 && number(m) <= 59 && number(s) <= 59)
}

/// Four dotted groups each at most 255: an address with its zeros padded.
fn ip(groups: &[&str]) -> bool {
    groups.len() == 4 && groups.iter().all(|g| number(g) <= 255)
}

/// Groups of one length counting up or down by one, or all alike (`01 02 03 04 05`).
fn sequence(groups: &[&str]) -> bool {
    let same_length = groups.iter().all(|g| g.len() == groups[0].len());
    let steps: Vec<i64> = groups
        .windows(2)
        .map(|w| i64::from(number(w[1])) - i64::from(number(w[0])))
        .collect();
    same_length && steps.iter().all(|&s| s == steps[0] && s.abs() <= 1)
}

/// A unit of time or size right after the number (`ms`, `s`, `KB`, `bytes`, `%`): a
/// measure, not a number to call.
fn unit_after(rest: &str) -> bool {
    const UNITS: [&str; 24] = [
        "ns", "us", "µs", "ms", "s", "sec", "secs", "seconds", "m", "min", "mins", "h", "d", "b",
        "kb", "mb", "gb", "tb", "kib", "mib", "gib", "bytes", "%", "x",
    ];
    let rest = rest.trim_start_matches([' ', '\t']);
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphabetic() || *c == '%')
        .flat_map(char::to_lowercase)
        .collect();
    UNITS.contains(&word.as_str())
}

/// Where the rule may match, for its gate: after no `[0-9A-Za-z_+.:/-]` (a byte that is not
/// ASCII may be a boundary), `0` and a digit 1–9 opening a group of 2–4 digits, or a digit 1–9
/// opening one of 3; then groups of 2–4 digits joined by single spaces, dots or dashes, nine
/// digits at least in three groups before a group of another length, or a group of 7 after
/// that one of 3. A timestamp's `081109 203615` or a year opens nothing.
pub fn shape(t: &[u8]) -> bool {
    // One table lookup a byte, one branch taken only where a value may start (a digit after a
    // boundary): most bytes are inside words and numbers.
    let mut boundary = true; // the start of the text
    for (i, &b) in t.iter().enumerate() {
        let class = CLASSES[usize::from(b)];
        if boundary && class == DIGIT && groups_at(t, i) {
            return true;
        }
        boundary = class == BOUNDARY;
    }
    false
}

/// A byte after which a value may start (not `[0-9A-Za-z_+.:/-]`; a byte that is not ASCII
/// may be a boundary), and a digit.
const BOUNDARY: u8 = 1;
const DIGIT: u8 = 2;

static CLASSES: [u8; 256] = {
    let mut t = [BOUNDARY; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_digit() {
            t[b] = DIGIT;
        } else if c.is_ascii_alphabetic() || matches!(c, b'_' | b'+' | b'.' | b':' | b'/' | b'-') {
            t[b] = 0;
        }
        b += 1;
    }
    t
};

/// Whether the groups of digits from `i` (a digit after a boundary) fit the rule, as [`shape`]
/// says.
fn groups_at(t: &[u8], i: usize) -> bool {
    let (mut digits, mut groups, mut j) = (0, 0, i);
    loop {
        let run = t[j..].iter().take_while(|b| b.is_ascii_digit()).count();
        let fits = match groups {
            0 if t[i] == b'0' => (2..=4).contains(&run) && t[i + 1] != b'0',
            0 => run == 3,
            // An Italian mobile's `347 1234567`.
            1 if t[i] != b'0' && run == 7 => return true,
            _ => (2..=4).contains(&run),
        };
        if !fits {
            return false;
        }
        digits += run;
        groups += 1;
        j += run;
        if digits >= 9 && groups >= 3 {
            return true;
        }
        match (t.get(j), t.get(j + 1)) {
            (Some(b' ' | b'.' | b'-'), Some(d)) if d.is_ascii_digit() => j += 1,
            _ => return false,
        }
    }
}
