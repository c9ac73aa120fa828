//! Typed masks: one pass over a message that writes every variable part (numbers, durations,
//! hex, UUIDs, IPs and host:port, MACs, emails, URLs, paths, timestamps, ids, booleans) as `<*>`.
//! Secrets are a variable too, recognised first by the redactor's rules
//! ([`crate::redact::mask_secrets`]): the scanners keep what does not vary, so a token repeated
//! in every message of a cluster would otherwise be template text, and templates become issue
//! titles, search queries and alert summaries.
//!
//! The output follows the Loghub-2.0 template convention, so templates read the way a person
//! labels them: structure punctuation stays (`<*>:<*>` for host:port, `key=<*>`, `[<*>]`),
//! variables joined by `.` or by nothing collapse into one `<*>`, whitespace runs become one
//! space. Tokens are classified by hand-written byte scanners, not regexes, because this runs on
//! every log line (see `benches/fingerprint.rs`).

use super::shapes::{
    is_bare_host_port, is_chunk_delim, is_code_name, is_date, is_email, is_host_port, is_var_at,
    is_word_delim, quoted_value, special_run,
};
use super::words::{is_domain, is_id_like, is_uuid, is_var_word, month_or_day, starts_timestamp};

/// How a variable is written in templates.
pub const VAR: &str = "<*>";

/// The masked template of `message`.
pub fn mask(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    mask_into(message, &mut out);
    out
}

/// Which numbers a template keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    /// Every number is a variable, as Loghub labels them (`log-gardener parse` and `eval`).
    Variable,
    /// An HTTP status its words vouch for stays (`HTTP 503`, `status=404`; see `status.rs`):
    /// the service's clusters, where a 503 and a 404 are two problems.
    KeepStatus,
}

/// Writes the masked template of `message` into `out` (cleared first), every number a
/// variable, so a caller can reuse one buffer per thread on the hot path.
pub fn mask_into(message: &str, out: &mut String) {
    mask_into_with(message, Numbers::Variable, out);
}

/// [`mask_into`], keeping the numbers `numbers` says.
pub fn mask_into_with(message: &str, numbers: Numbers, out: &mut String) {
    out.clear();
    // Secrets out, then invisible characters, then secrets again if that changed anything: a
    // zero-width character inside a key word must not hide the secret after it.
    let once = crate::redact::mask_secrets(message);
    let clean = crate::redact::neutralise(&once);
    let message = match clean {
        std::borrow::Cow::Borrowed(_) => once,
        std::borrow::Cow::Owned(c) => {
            std::borrow::Cow::Owned(crate::redact::mask_secrets(&c).into_owned())
        }
    };
    let mut tokens = message.split_ascii_whitespace().peekable();
    let mut before: [Option<&str>; 2] = [None, None];
    while let Some(tok) = tokens.next() {
        if !out.is_empty() {
            out.push(' ');
        }
        let context = before;
        before = [Some(tok), context[0]];
        if numbers == Numbers::KeepStatus {
            if let Some(code) = super::status::status_in(context, tok, tokens.peek().copied()) {
                mask_token(&tok[..code.start], out);
                out.push_str(&tok[code.clone()]);
                mask_token(&tok[code.end..], out);
                continue;
            }
        }
        if month_or_day(tok) {
            let consumed = starts_timestamp(tok, tokens.clone());
            if consumed > 0 {
                // `[Weekday] Month day hh:mm:ss [year]`: written like the clock it ends with.
                for _ in 0..consumed {
                    tokens.next();
                }
                out.push_str("<*>:<*>:<*>");
                continue;
            }
        }
        if tok.starts_with("HTTP/") && out.ends_with("<*> ") {
            if let Some(rest) = http_version_rest(tok) {
                // `"GET /path HTTP/1.1"`: the target and the protocol version are one value.
                out.pop();
                out.push_str(rest);
                continue;
            }
        }
        mask_token(tok, out);
    }
}

/// For `HTTP/1.1"` returns what follows the version (`"`).
fn http_version_rest(tok: &str) -> Option<&str> {
    let v = tok.strip_prefix("HTTP/")?;
    let end = v
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    (end > 0).then(|| &v[end..])
}

/// Appends one variable, applying the Loghub merge rules: `<*><*>` and `<*>.<*>` are one `<*>`.
pub fn push_var(out: &mut String) {
    if out.ends_with(VAR) {
        return;
    }
    if out.ends_with("<*>.") {
        out.pop();
        return;
    }
    out.push_str(VAR);
}

/// One whitespace-free token.
fn mask_token(tok: &str, out: &mut String) {
    let b = tok.as_bytes();
    // Fast paths for the commonest tokens, with the result the general path gives them: a word
    // of letters is a variable only as a value word (`true`, `null`), digits always are.
    if b.iter().all(u8::is_ascii_alphabetic) {
        if is_var_word(b) {
            push_var(out);
        } else {
            out.push_str(tok);
        }
        return;
    }
    if b.iter().all(u8::is_ascii_digit) {
        push_var(out);
        return;
    }
    if let Some(at) = scheme_sep(b) {
        let mut start = at;
        while start > 0 && (b[start - 1].is_ascii_alphanumeric() || b"+.-".contains(&b[start - 1]))
        {
            start -= 1;
        }
        if start < at {
            // scheme://anything: the scheme says what it is, the rest is the variable.
            let mut end = tok.len();
            while end > at + 3 && b")]}\"',;".contains(&b[end - 1]) {
                end -= 1;
            }
            mask_chunks(&tok[..start], out);
            out.push_str(&tok[start..at + 3]);
            let rest = &tok[at + 3..end];
            if is_bare_host_port(rest) {
                out.push_str("<*>:<*>"); // scheme://host:port with nothing else: as host:port
            } else if !rest.is_empty() {
                push_var(out);
            }
            out.push_str(&tok[end..]);
            return;
        }
    }
    mask_chunks(tok, out);
}

/// Where `://` first occurs.
fn scheme_sep(b: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b':', b).find(|&i| b[i + 1..].starts_with(b"//"))
}

/// Splits a token at chunk delimiters and masks each chunk.
fn mask_chunks(tok: &str, out: &mut String) {
    let b = tok.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if let Some(end) = quoted_value(b, i) {
            out.push(b[i] as char);
            if is_code_name(&b[i + 1..end - 1]) {
                out.push_str(&tok[i + 1..end - 1]);
            } else {
                push_var(out);
            }
            out.push(b[end - 1] as char);
            i = end;
            continue;
        }
        if is_chunk_delim(b[i]) && !is_var_at(b, i) {
            out.push(b[i] as char);
            i += 1;
            continue;
        }
        if let Some(end) = special_run(b, i) {
            push_var(out);
            i = end;
            continue;
        }
        // A path keeps its query string (`/a?x=1&y=2`) in one variable.
        let path = b[i] == b'/' || b[i] == b'\\';
        let mut end = i;
        while end < b.len() {
            let c = b[end];
            if !is_chunk_delim(c) || (path && c == b'=') {
                end += 1;
            } else if is_var_at(b, end) {
                end += VAR.len(); // `<` is a chunk delimiter, `<*>` is not
            } else {
                break;
            }
        }
        let chunk = &tok[i..end];
        if is_host_port(b, i, end) {
            push_var(out);
        } else {
            mask_chunk(chunk, out);
        }
        i = end;
    }
}

/// One chunk (no chunk delimiters inside).
fn mask_chunk(chunk: &str, out: &mut String) {
    let b = chunk.as_bytes();
    let relative = b.starts_with(b"./") || b.starts_with(b"../");
    if (b.len() > 1 && (b[0] == b'/' || b[0] == b'\\')) || relative {
        push_var(out); // a path
        return;
    }
    let mut first = true;
    for sub in chunk.split('/') {
        if !first {
            out.push('/');
        }
        first = false;
        mask_subchunk(sub, out);
    }
}

/// A chunk part between slashes.
fn mask_subchunk(s: &str, out: &mut String) {
    let b = s.as_bytes();
    if b.is_empty() {
        return;
    }
    if is_date(b) {
        out.push_str("<*>-<*>-<*>");
        return;
    }
    // A sentence's full stop is not part of the id before it.
    let (core, dot) = match s.strip_suffix('.') {
        Some(core) if !core.is_empty() && !core.ends_with('.') => (core, "."),
        _ => (s, ""),
    };
    let c = core.as_bytes();
    // One pass for the bytes each shape needs, so most words skip the shape checks.
    let (mut at, mut joined, mut digit, mut dotted) = (false, false, false, false);
    for (i, ch) in c.iter().enumerate() {
        match ch {
            b'@' => at = true,
            b'_' | b'-' => joined |= i > 0,
            // A masked secret (`<*>`) counts as a number would.
            b'0'..=b'9' | b'*' => digit = true,
            b'.' => dotted = true,
            _ => {}
        }
    }
    let shaped = (c.len() == 36 && is_uuid(c))
        || (at && is_email(c))
        || (joined && digit && is_id_like(c))
        || (dotted && is_domain(c));
    if shaped {
        push_var(out);
        out.push_str(dot);
        return;
    }
    mask_words(s, out);
}

/// Splits a subchunk into words at word delimiters; variable words become `<*>`.
fn mask_words(s: &str, out: &mut String) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if is_word_delim(c) {
            let signed_number = (c == b'-' || c == b'+')
                && b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && (i == 0 || is_word_delim(b[i - 1]));
            if !signed_number {
                out.push(c as char);
            }
            i += 1;
            continue;
        }
        let mut end = i;
        while end < b.len() && !is_word_delim(b[end]) {
            end += 1;
        }
        let word = &s[i..end];
        if word == VAR || is_var_word(word.as_bytes()) {
            push_var(out);
        } else {
            out.push_str(word);
        }
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    fn check(input: &str, want: &str) {
        assert_eq!(mask(input), want, "input: {input}");
    }

    #[test]
    fn numbers_durations_and_units() {
        check("took 25.0s and 300ms", "took <*> and <*>");
        check("Took 19.05 seconds to build", "Took <*> seconds to build");
        check(
            "headroom=<memory:10240, vCores:-17>",
            "headroom=<memory:<*>, vCores:<*>>",
        );
        check("port 55904.", "port <*>.");
    }

    #[test]
    fn network_addresses() {
        check("10.251.30.85:50010:Got exception", "<*>:<*>:Got exception");
        check("from /10.251.42.84", "from <*>");
        check("proxy.cse.cuhk.edu.hk:5070 open", "<*>:<*> open");
        check("Old: msra-sa-41/10.190.173.170:9000", "Old: <*>/<*>:<*>");
        check("mLp(FF:F2:9F:16:CF:A1)", "mLp(<*>)");
        check("at Foo.java:42", "at Foo.java:<*>");
    }

    #[test]
    fn ids_hex_uuids() {
        check("block blk_-1727475099218615100 done", "block <*> done");
        // A block number that reads as a card is masked as a secret first: the id masks the same.
        check("block blk_38865049064139660 done", "block <*> done");
        check("block blk_4111111111111111 done", "block <*> done");
        check("task main_542bede9 by demo-user-001", "task <*> by <*>");
        check(
            "[instance: b9000564-fe1a-409b-b8cc-1e88b294cd1d] ok",
            "[instance: <*>] ok",
        );
        check("iar 003a90fc dear ffff3000", "iar <*> dear <*>");
        check("generating core.2275", "generating core.<*>");
        check(
            "CPU#0 hadoop-metrics2.properties",
            "CPU#<*> hadoop-metrics2.properties",
        );
    }

    #[test]
    fn urls_paths_emails_timestamps() {
        check(
            "Input split: hdfs://10.10.34.11:9000/a/b.log:1+2",
            "Input split: hdfs://<*>",
        );
        check("file /var/lib/x_del complete", "file <*> complete");
        check("mail bob.smith@example.com now", "mail <*> now");
        check("at Fri Jun 17 07:07:00 2005", "at <*>:<*>:<*>");
        check(
            "from 2017-05-16 05:00:00 to",
            "from <*>-<*>-<*> <*>:<*>:<*> to",
        );
        check("copy C:\\Users\\bob\\x.txt done", "copy <*> done");
        check("fs [hdfs://msra-sa-41:9000]", "fs [hdfs://<*>:<*>]");
        check(
            "1.2.3.4 \"GET /v2/x?a=1&b=2 HTTP/1.1\" 200",
            "<*> \"GET <*>\" <*>",
        );
        check("failed on host8.topspot.net now", "failed on <*> now");
        check("job job_1445144423722_0020.", "job <*>.");
        check("use mapred.task.id instead", "use mapred.task.id instead");
    }

    #[test]
    fn quoted_values() {
        check("Checking 'hlt' instruction", "Checking '<*>' instruction");
        check(
            "No module named 'app.services.monitoring'",
            "No module named 'app.services.monitoring'",
        );
        check("unknown key 'feature_flags'", "unknown key '<*>'");
        check("token 'a1b2c3d4e5f6.x9'", "token '<*>'");
        check("job 'job_20250915_1234'", "job '<*>'");
        check("name=\"x1\", done.", "name=\"<*>\", done.");
        check("can't stop", "can't stop");
        check("\"GET /x HTTP/1.1\" 200", "\"GET <*>\" <*>");
    }

    #[test]
    fn the_service_keeps_an_http_status_its_words_vouch_for() {
        use super::{mask_into_with, Numbers};
        let keep = |input: &str| {
            let mut out = String::new();
            mask_into_with(input, Numbers::KeepStatus, &mut out);
            out
        };
        for (input, want) in [
            (
                "upstream returned HTTP 503 after 120ms",
                "upstream returned HTTP 503 after <*>",
            ),
            (
                "API responded status=502, attempt 3",
                "API responded status=502, attempt <*>",
            ),
            ("query returned 200 rows", "query returned <*> rows"),
            ("exited with code 137", "exited with code <*>"),
        ] {
            assert_eq!(keep(input), want, "input: {input}");
            assert_eq!(keep(want), want, "masking again: {want}");
        }
        // Where masking takes the cue itself (an access log's protocol joins its target; a JSON
        // text's quoted key masks as any one-word quoted value does) the status still stays;
        // masked again, nothing says it is one.
        assert_eq!(
            keep("1.2.3.4 \"GET /x HTTP/1.1\" 404 512"),
            "<*> \"GET <*>\" 404 <*>"
        );
        assert_eq!(
            keep("{\"status\":404,\"id\":9912}"),
            "{\"<*>\":404,\"<*>\":<*>}"
        );
        // Loghub's convention, for `parse` and `eval`: every number is a variable.
        check("upstream returned HTTP 503", "upstream returned HTTP <*>");
    }

    #[test]
    fn words_stay_words() {
        check(
            "BLOCK* NameSystem.delete: ok",
            "BLOCK* NameSystem.delete: ok",
        );
        check("Slf4jLogger started  now", "Slf4jLogger started now");
        check("flag=true user=root", "flag=<*> user=<*>");
    }
}
