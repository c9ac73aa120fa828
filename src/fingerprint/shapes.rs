//! Shapes of variables that a word-by-word look cannot see: byte classes, quoted values,
//! host:port, MAC-like hex runs, Windows paths, dates and emails. Used by `mask.rs`.

use super::mask::VAR;

/// A 256-entry membership table, so classifying a byte is one load on the hot path.
const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        set[bytes[i] as usize] = true;
        i += 1;
    }
    set
}

/// Delimiters that end a chunk; they are kept verbatim in the template (Loghub's path delimiters).
static CHUNK_DELIMS: [bool; 256] = byte_set(b",!;:=|\"'[](){}<>");

/// Delimiters between the words of one chunk (Loghub's token delimiters, plus `/` and `\\`).
static WORD_DELIMS: [bool; 256] = byte_set(b".-+@#$%&/\\");

pub(super) fn is_chunk_delim(b: u8) -> bool {
    CHUNK_DELIMS[b as usize]
}

pub(super) fn is_word_delim(b: u8) -> bool {
    WORD_DELIMS[b as usize]
}

/// An already masked `<*>` starts at `i`: it reads as a word, not as delimiters, so masking a
/// template again changes nothing.
pub(super) fn is_var_at(b: &[u8], i: usize) -> bool {
    b[i] == b'<' && b[i..].starts_with(VAR.as_bytes())
}

/// Whether the byte before `i` ends a word (a masked `<*>` counts as one).
fn follows_word(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[..i].ends_with(VAR.as_bytes()))
}

/// `host:port` and nothing else (no user, no path).
pub(super) fn is_bare_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-_".contains(&c))
                && !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// A one-word quoted value (`'hlt'`, `name="x1"`): the quotes stay, the value is a variable.
/// Returns the index after the closing quote. Apostrophes inside words (`can't`) do not open.
pub(super) fn quoted_value(b: &[u8], i: usize) -> Option<usize> {
    let q = b[i];
    if q != b'\'' && q != b'"' {
        return None;
    }
    if follows_word(b, i) || (i > 0 && !is_chunk_delim(b[i - 1])) {
        return None;
    }
    let len = b[i + 1..].iter().position(|c| *c == q)?;
    let end = i + 1 + len + 1;
    let closes = end == b.len() || (is_chunk_delim(b[end]) && !is_var_at(b, end)) || b[end] == b'.';
    let inner = &b[i + 1..end - 1];
    let plain = !inner.iter().any(|c| *c == b'\'' || *c == b'"');
    // Quoted text already holding a `<*>` was masked before (`"A:A:/a"A"` → `"A:<*>"`): read as
    // one value it would mask again to `"<*>"`.
    let masked = inner.windows(VAR.len()).any(|w| w == VAR.as_bytes());
    (len > 0 && closes && plain && !masked && b[i + 1] != b'<').then_some(end)
}

/// A name from code — a dotted module or class path (`app.services.monitoring`,
/// `java.util.List`): text a program is written with, not data it handles (a single word, even
/// snake_case, may be either, and stays a variable as Loghub labels it). Quoted, it stays literal so a title can say which module is missing;
/// where it varies between messages the miner still makes it `<*>`. Digit runs, hex and long
/// segments (tokens, hashes) are never code names.
pub(super) fn is_code_name(b: &[u8]) -> bool {
    if b.len() < 3 || b.len() > 120 {
        return false;
    }
    let mut segments = 0;
    for seg in b.split(|c| *c == b'.') {
        let ok = !seg.is_empty()
            && seg.len() <= 40
            && (seg[0].is_ascii_alphabetic() || seg[0] == b'_')
            && seg.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
            && seg.iter().filter(|c| c.is_ascii_digit()).count() <= 2
            && !(seg.len() >= 6 && seg.iter().all(u8::is_ascii_hexdigit));
        if !ok {
            return false;
        }
        segments += 1;
    }
    segments >= 2
}

/// Variables that span chunk delimiters: MAC-like `hh:hh:hh:hh` and Windows paths `C:\..`.
/// Returns where the run ends.
pub(super) fn special_run(b: &[u8], i: usize) -> Option<usize> {
    let rest = &b[i..];
    if rest.len() >= 3
        && rest[0].is_ascii_alphabetic()
        && rest[1] == b':'
        && (rest[2] == b'\\' || rest[2] == b'/')
        && !follows_word(b, i)
    {
        return Some(path_end(b, i + 2));
    }
    let mut j = i;
    let mut groups = 0;
    while j + 2 <= b.len() && b[j].is_ascii_hexdigit() && b[j + 1].is_ascii_hexdigit() {
        groups += 1;
        j += 2;
        if j < b.len() && (b[j] == b':') && groups < 16 {
            j += 1;
        } else {
            break;
        }
    }
    let clean_end = j == b.len() || !b[j].is_ascii_alphanumeric();
    if groups >= 4 && clean_end && b[j - 1] != b':' {
        return Some(j);
    }
    None
}

/// End of a path that starts at `i`: the rest of the token, minus closing punctuation.
fn path_end(b: &[u8], i: usize) -> usize {
    let mut end = b.len();
    while end > i + 1 && b")]}>\"',;:".contains(&b[end - 1]) {
        end -= 1;
    }
    end
}

/// `host:port` where host is a dotted or dashed name: the host is a variable too.
pub(super) fn is_host_port(b: &[u8], start: usize, end: usize) -> bool {
    if end + 1 >= b.len() || b[end] != b':' {
        return false;
    }
    let mut p = end + 1;
    while p < b.len() && b[p].is_ascii_digit() {
        p += 1;
    }
    let digits = p - end - 1;
    if digits == 0 || digits > 5 || (p < b.len() && b[p].is_ascii_alphanumeric()) {
        return false;
    }
    let host = &b[start..end];
    let hostish = host
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'-' || *c == b'_');
    let dotted = host.contains(&b'.') || host.contains(&b'-');
    let has_alpha = host.iter().any(|c| c.is_ascii_alphabetic());
    hostish && dotted && has_alpha && !is_source_file(host)
}

/// `Main.java:42` is a source position, not a host and port.
fn is_source_file(host: &[u8]) -> bool {
    let ext = match host.iter().rposition(|c| *c == b'.') {
        Some(dot) => &host[dot + 1..],
        None => return false,
    };
    const EXTS: [&[u8]; 14] = [
        b"java", b"py", b"rs", b"go", b"js", b"ts", b"c", b"cc", b"cpp", b"h", b"rb", b"scala",
        b"kt", b"cs",
    ];
    EXTS.iter().any(|e| e.eq_ignore_ascii_case(ext))
}

/// `2017-05-16`: kept as `<*>-<*>-<*>` like the reference templates write dates.
pub(super) fn is_date(b: &[u8]) -> bool {
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// `user@example.com`.
pub(super) fn is_email(b: &[u8]) -> bool {
    let Some(at) = b.iter().position(|c| *c == b'@') else {
        return false;
    };
    let (user, domain) = (&b[..at], &b[at + 1..]);
    !user.is_empty()
        && user
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._+-".contains(c))
        && domain.len() > 2
        && domain.contains(&b'.')
        && domain
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b".-".contains(c))
        && domain.last().is_some_and(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_open_only_at_a_boundary() {
        assert_eq!(quoted_value(b"'hlt'", 0), Some(5));
        assert_eq!(quoted_value(b"x='a1'.", 2), Some(6));
        assert_eq!(quoted_value(b"can't", 3), None);
        assert_eq!(quoted_value(b"'a'5", 0), None);
        assert_eq!(quoted_value(b"''", 0), None);
        assert_eq!(
            quoted_value(b"\"A:<*>\"", 0),
            None,
            "masked text is not read again"
        );
    }

    #[test]
    fn hosts_ports_and_runs() {
        let t = b"proxy.cse.edu.hk:5070";
        assert!(is_host_port(t, 0, 16));
        let key = b"PendingReds:1";
        assert!(!is_host_port(key, 0, 11));
        let src = b"Main.java:42";
        assert!(!is_host_port(src, 0, 9));
        assert!(is_bare_host_port("msra-sa-41:9000"));
        assert!(!is_bare_host_port("user@h:1"));
        assert_eq!(special_run(b"FF:F2:9F:16:CF:A1)", 0), Some(17));
        assert_eq!(special_run(b"C:\\Users\\x.txt,", 0), Some(14));
        assert_eq!(special_run(b"ab:cd", 0), None);
    }

    #[test]
    fn dates_and_emails() {
        assert!(is_date(b"2017-05-16"));
        assert!(!is_date(b"2017-05-1x"));
        assert!(is_email(b"a.b+c@mail.example.org"));
        assert!(!is_email(b"bob@localhost") && !is_email(b"@x.com"));
    }
}
