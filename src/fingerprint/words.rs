//! What a variable word looks like: the byte-level classifiers behind the typed masks.
//!
//! Each rule is a general statement about log variables (a word starting with a digit is a
//! number or a measurement, a long hex run is an address or a digest, an underscore-joined
//! word with a numeric part is a generated id), never a word taken from some particular log.

/// A word (no delimiters inside) that is a variable on its own.
pub fn is_var_word(w: &[u8]) -> bool {
    let Some(&first) = w.first() else {
        return false;
    };
    if first.is_ascii_digit() {
        return true; // numbers, `25.0s`, `300ms`, `0x1f`, `16K`, `80x25`
    }
    let digits = w.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return is_value_word(w);
    }
    // `v2` is a version; 5+ digits glued to a word is a counter or a timestamp.
    let version = (first == b'v' || first == b'V') && w[1..].iter().all(u8::is_ascii_digit);
    let hex = w.len() >= 6 && w.iter().all(u8::is_ascii_hexdigit);
    version || hex || digits >= 5
}

/// Booleans, null and the well-known account names: values, not message words (the Loghub-2.0
/// labelling convention treats them as variables).
fn is_value_word(w: &[u8]) -> bool {
    const VALUES: [&[u8]; 5] = [b"true", b"false", b"null", b"root", b"admin"];
    w.len() <= 5 && VALUES.iter().any(|v| v.eq_ignore_ascii_case(w))
}

/// A generated identifier: parts joined by `_` or `-` (`blk_-123`, `main_542bede9`,
/// `demo-user-001`, `attempt_1445_0020_m_000000_0`, `R25-M1-N2`) with a numeric part, or with
/// two parts that carry digits.
pub fn is_id_like(w: &[u8]) -> bool {
    let joined = w
        .iter()
        .enumerate()
        .any(|(i, c)| i > 0 && (*c == b'_' || *c == b'-'));
    // A secret masked inside it (`blk_<*>` from a card-like block number) is a variable part:
    // the token masks as it would with any other number there.
    let masked = |part: &[u8]| part == super::mask::VAR.as_bytes();
    if !joined || !w.iter().any(|c| c.is_ascii_digit() || *c == b'*') {
        return false;
    }
    let mut var_parts = 0;
    let mut digit_parts = 0;
    for part in w.split(|c| matches!(c, b'_' | b'-' | b'.')) {
        // A signed number (`x-+5`) is the variable that masking its words would make.
        let unsigned = part.strip_prefix(b"+").unwrap_or(part);
        if is_var_word(unsigned) || masked(part) {
            var_parts += 1;
        }
        if part.iter().any(u8::is_ascii_digit) {
            digit_parts += 1;
        }
    }
    var_parts > 0 || digit_parts >= 2
}

/// `8-4-4-4-12` hex digits.
pub fn is_uuid(w: &[u8]) -> bool {
    w.len() == 36
        && w.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A host name under a common top-level domain (`host8.topspot.net`, `zummit.com`). Dotted
/// names under other endings (`org.apache.Foo`, `mapred.task.id`) are code, not hosts.
pub fn is_domain(w: &[u8]) -> bool {
    const TLDS: [&[u8]; 25] = [
        b"com", b"net", b"org", b"edu", b"gov", b"mil", b"int", b"io", b"info", b"biz", b"us",
        b"uk", b"hk", b"cn", b"de", b"jp", b"fr", b"ru", b"br", b"au", b"ca", b"nl", b"kr", b"tw",
        b"local",
    ];
    let Some(dot) = w.iter().rposition(|c| *c == b'.') else {
        return false;
    };
    let labels_ok = w
        .split(|c| *c == b'.')
        .all(|l| !l.is_empty() && l.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-'));
    labels_ok && TLDS.contains(&&w[dot + 1..])
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn is_month(t: &str) -> bool {
    t.len() == 3 && MONTHS.iter().any(|m| m.eq_ignore_ascii_case(t))
}

fn is_day(t: &str) -> bool {
    t.len() == 3 && DAYS.iter().any(|d| d.eq_ignore_ascii_case(t))
}

/// Cheap pre-check: could `t` open a `[Weekday] Month day hh:mm:ss [year]` timestamp?
pub fn month_or_day(t: &str) -> bool {
    is_month(t) || is_day(t)
}

/// `hh:mm:ss` or `hh:mm:ss.fff`.
fn is_clock(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 8
        && b[..8].iter().enumerate().all(|(i, c)| match i {
            2 | 5 => *c == b':',
            _ => c.is_ascii_digit(),
        })
        && (b.len() == 8 || (b[8] == b'.' && b[9..].iter().all(u8::is_ascii_digit)))
}

/// How many tokens after `first` belong to a timestamp that `first` opens (0: none).
pub fn starts_timestamp<'a>(first: &str, mut rest: impl Iterator<Item = &'a str>) -> usize {
    let mut consumed = 0;
    if is_day(first) {
        match rest.next() {
            Some(m) if is_month(m) => consumed += 1,
            _ => return 0,
        }
    }
    let day_ok = rest
        .next()
        .is_some_and(|d| d.len() <= 2 && d.bytes().all(|c| c.is_ascii_digit()));
    if !day_ok || !rest.next().is_some_and(is_clock) {
        return 0;
    }
    consumed += 2;
    if rest
        .next()
        .is_some_and(|y| y.len() == 4 && y.bytes().all(|c| c.is_ascii_digit()))
    {
        consumed += 1;
    }
    consumed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_words() {
        for w in [
            "42",
            "25.0s",
            "0x1f",
            "v2",
            "ffff3000",
            "Steps1514044800223",
            "TRUE",
            "null",
        ] {
            assert!(is_var_word(w.as_bytes()), "{w}");
        }
        for w in [
            "Slf4jLogger",
            "HttpServer2",
            "SOCKS5",
            "L3",
            "added",
            "tty2",
            "",
            "rooted",
        ] {
            assert!(!is_var_word(w.as_bytes()), "{w}");
        }
    }

    #[test]
    fn ids() {
        for w in [
            "blk_-123",
            "main_542bede9",
            "demo-user-001",
            "R25-M1-N2",
            "rdd_2_0",
        ] {
            assert!(is_id_like(w.as_bytes()), "{w}");
        }
        for w in [
            "BIOS-e820",
            "hadoop-metrics2.properties",
            "network-vif-plugged",
            "-17",
        ] {
            assert!(!is_id_like(w.as_bytes()), "{w}");
        }
    }

    #[test]
    fn timestamps() {
        let t = |s: &str| {
            let mut it = s.split(' ');
            let first = it.next().unwrap_or_default();
            starts_timestamp(first, it)
        };
        assert_eq!(t("Fri Jun 17 07:07:00 2005"), 4);
        assert_eq!(t("Jun 17 07:07:00 rest"), 2);
        assert_eq!(t("Sat May 8 09:04:50 EDT"), 3);
        assert_eq!(t("May be 8 times"), 0);
        assert!(is_uuid(b"b9000564-fe1a-409b-b8cc-1e88b294cd1d"));
        assert!(is_domain(b"host8.topspot.net") && is_domain(b"zummit.com"));
        assert!(!is_domain(b"mapred.task.id") && !is_domain(b"org.apache.Foo"));
    }
}
