//! HTTP status codes: the one kind of number that names a problem rather than measuring it. An
//! on-call engineer reads `upstream returned HTTP 503` and `… HTTP 404` as two problems (a server
//! down, a wrong URL), so the service's templates keep a status where the words around it say it
//! is one (`HTTP 503`, `status=502`, `"status": 500`, `status code 403`, `returned 503,`).
//!
//! Loghub's labelling writes every number as a variable, statuses included (OpenStack's
//! `status: <*>`, Proxifier's `status code <*>`), so `log-gardener parse` and `eval` keep to
//! that convention ([`super::mask::Numbers`]); the service's fingerprint does not.

use std::ops::Range;

/// Where the status code in `tok` is, if `tok` holds one its context vouches for: the words
/// before it (`before`: nearest first, two at most) and the word after it. The token is
/// whitespace-free raw text (`503`, `503,`, `(503)`, `status=503`, `"status":503`).
pub fn status_in(
    before: [Option<&str>; 2],
    tok: &str,
    after: Option<&str>,
) -> Option<Range<usize>> {
    if let Some(span) = keyed(tok) {
        return Some(span);
    }
    let span = bare_code(tok)?;
    let [prev, prev2] = before;
    let cue = prev
        .map(word)
        .map_or(Cue::None, |w| cue_of(&w, prev2.map(word).as_deref()));
    // A status reads as the last word of its clause (`returned 503`, `returned 503, retrying`)
    // or before its reason phrase (`returned 503 Service Unavailable`); `returned 200 rows` is
    // a count.
    let ends_clause = span.end < tok.len()
        || after.is_none_or(|a| {
            a.starts_with(|c: char| c.is_ascii_uppercase() || !c.is_alphanumeric())
        });
    let named_after = after
        .map(word)
        .is_some_and(|w| w == "status" || w == "response");
    match cue {
        Cue::Strong => Some(span),
        Cue::Weak if ends_clause => Some(span),
        _ if named_after => Some(span),
        _ => None,
    }
}

/// How much a word before a number says it is a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    None,
    /// Says so alone: `HTTP`, `HTTP/1.1"`, `status`, `status code`, `→`.
    Strong,
    /// Says so when the number ends the clause: `returned`, `responded`, `response`.
    Weak,
}

fn cue_of(prev: &str, prev2: Option<&str>) -> Cue {
    match prev {
        "http" | "https" | "status" | "→" | "->" => Cue::Strong,
        _ if prev.starts_with("http/") => Cue::Strong, // `"GET /x HTTP/1.1" 503`
        // `exit code 137`, `exited with code 1`: a process's, not a server's.
        "code" if prev2.is_some_and(|w| matches!(w, "exit" | "exited" | "with" | "return")) => {
            Cue::None
        }
        "code" => Cue::Strong,
        "returned" | "responded" | "response" | "returns" | "answered" => Cue::Weak,
        _ => Cue::None,
    }
}

/// A word as a cue: lower case, without the quotes, brackets and `:`/`=` around it.
fn word(w: &str) -> String {
    w.trim_matches(|c: char| "\"'()[]{}<>,;:=".contains(c))
        .to_ascii_lowercase()
}

/// `503`, `503,`, `(503)`, `503.`: where the three digits are.
fn bare_code(tok: &str) -> Option<Range<usize>> {
    let start = tok.len() - tok.trim_start_matches(['(', '[', '"', '\'']).len();
    let core = tok[start..].trim_end_matches([',', '.', ';', ':', ')', ']', '"', '\'']);
    is_code(core).then(|| start..start + core.len())
}

/// Three digits from 100 to 599.
pub fn is_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && b.iter().all(u8::is_ascii_digit)
}

/// `status=503`, `http_status:503`, `{"statusCode":503,…}`, `code=404,`: a key that names a
/// status, then `=` or `:`, then the code and no further digit. A key about a process's exit
/// (`exit_status=137`) is not one.
fn keyed(tok: &str) -> Option<Range<usize>> {
    let b = tok.as_bytes();
    tok.match_indices(['=', ':']).find_map(|(sep, _)| {
        let key = tok[..sep].trim_end_matches(['"', '\'']);
        // Past the last character that is not part of a key (`éstatus=503`: after the `é`,
        // which takes two bytes).
        let key_start = key
            .char_indices()
            .rfind(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let key: String = key[key_start..]
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let names_status = key.ends_with("status")
            || key.ends_with("statuscode")
            || matches!(key.as_str(), "code" | "httpcode" | "responsecode");
        if !names_status || key.contains("exit") {
            return None;
        }
        let mut at = sep + 1;
        while at < b.len() && (b[at] == b'"' || b[at] == b'\'' || b[at] == b' ') {
            at += 1;
        }
        let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        // `status=503,` and `status=503.` end there; `status=503.5` and `status=503ms` do not.
        let ends = match b.get(at + digits) {
            None => true,
            Some(b'.') => !b.get(at + digits + 1).is_some_and(u8::is_ascii_digit),
            Some(c) => !c.is_ascii_alphanumeric(),
        };
        (ends && is_code(&tok[at..at + digits])).then_some(at..at + digits)
    })
}

#[cfg(test)]
mod tests {
    use super::{is_code, status_in};

    /// The status `message`'s words hold, each as its context reads it.
    fn statuses(message: &str) -> Vec<&str> {
        let words: Vec<&str> = message.split_ascii_whitespace().collect();
        let mut out = Vec::new();
        for (i, tok) in words.iter().enumerate() {
            let before = [
                i.checked_sub(1).map(|j| words[j]),
                i.checked_sub(2).map(|j| words[j]),
            ];
            if let Some(r) = status_in(before, tok, words.get(i + 1).copied()) {
                out.push(&tok[r]);
            }
        }
        out
    }

    proptest::proptest! {
        /// Any text, whatever its characters: a status found is three ASCII digits of it, and
        /// nothing panics (a key after a multi-byte character once cut inside it).
        #[test]
        fn any_text_is_read_without_panicking(
            message in r"(\PC|[éß€ 😀=:\x22'(),.]|status|code|HTTP|returned|503|\d){0,40}"
        ) {
            for found in statuses(&message) {
                proptest::prop_assert!(is_code(found), "{found:?} in {message:?}");
            }
        }
    }

    #[test]
    fn a_key_after_a_character_of_several_bytes_is_read() {
        assert_eq!(statuses("éstatus=503"), ["503"]);
        assert_eq!(statuses("éRuntimeError:"), [] as [&str; 0]);
        assert_eq!(statuses("日本status_code:404,"), ["404"]);
    }

    #[test]
    fn a_status_is_kept_where_its_words_say_it_is_one() {
        for (message, want) in [
            ("upstream returned HTTP 503", vec!["503"]),
            ("upstream returned 503", vec!["503"]),
            ("upstream returned 404 Not Found", vec!["404"]),
            ("payment API responded status=502, retrying", vec!["502"]),
            (r#"{"status":500,"path":"/x"}"#, vec!["500"]),
            (r#"callback failed "status": 429"#, vec!["429"]),
            ("proxy refused, status code 403", vec!["403"]),
            ("got a 503 response from billing", vec!["503"]),
            (r#"10.0.0.1 "GET /x HTTP/1.1" 502 0"#, vec!["502"]),
            ("GET /api/orders → 504", vec!["504"]),
            ("statusCode=401 for /login", vec!["401"]),
        ] {
            assert_eq!(statuses(message), want, "{message}");
        }
    }

    #[test]
    fn counts_sizes_and_exit_codes_stay_numbers() {
        for message in [
            "query returned 200 rows",
            "sent 404 bytes to client",
            "container exited with code 137",
            "process exit code 143",
            "exit_status=137",
            "HTTP 42 is no status",
            "HTTP 600 is none either",
            "status=5030",
            "took 503 ms",
        ] {
            assert!(
                statuses(message).is_empty(),
                "{message}: {:?}",
                statuses(message)
            );
        }
    }

    /// Through the service's fingerprint: a 503 and a 404 are two clusters whatever else
    /// varies, each titled by its status; `parse` keeps Loghub's `<*>`.
    #[test]
    fn the_service_keeps_statuses_apart_and_parse_does_not() {
        use crate::fingerprint::{parse_lines, Fingerprinter, KeyParts};

        let fp = Fingerprinter::new();
        let key = KeyParts::DEFAULT;
        let lines: Vec<String> = (0..40)
            .map(|i| {
                let code = if i % 2 == 0 { 503 } else { 404 };
                format!(
                    "upstream inventory returned HTTP {code} for request req-{}",
                    7000 + i
                )
            })
            .collect();
        let ids: Vec<_> = lines.iter().map(|l| fp.fingerprint(&key, l)).collect();
        let titles: std::collections::BTreeSet<String> = ids
            .iter()
            .map(|id| fp.resolve(*id).unwrap().template)
            .collect();
        assert_eq!(
            titles.into_iter().collect::<Vec<_>>(),
            [
                "upstream inventory returned HTTP 404 for request <*>",
                "upstream inventory returned HTTP 503 for request <*>",
            ]
        );
        let parsed = parse_lines(lines.iter().map(String::as_str));
        assert!(parsed
            .iter()
            .all(|(_, t)| t == "upstream inventory returned HTTP <*> for request <*>"));
    }
}
