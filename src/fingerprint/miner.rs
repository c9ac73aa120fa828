//! Template mining over a SET of masked templates: which distinct templates are one event, and
//! what their shared template is.
//!
//! Two templates of the same length are *compatible* when they differ only in places that look
//! like values: a masked variable against a word (`rhost=<*>` / `rhost=zummit.com`), or a few
//! value-like words (digits or inner punctuation: `bglio716`, `U11`, host names) in a message
//! that shares more words than it differs in. They are never compatible when the first word
//! differs (it names the event: `klogd startup` / `cupsd startup`), when two plain words differ
//! (`VM Started` / `VM Paused`; `family.rs` turns a slot with many plain words into a variable),
//! when both sides are upper-case constants (states and enum names: `from NEW to RUNNING`), or
//! when both are HTTP statuses the service's masks kept (`HTTP 503` / `HTTP 404`).
//! Clusters are the connected components of that relation, so they depend only on the set of
//! templates, never on the order they arrived in. A cluster's template keeps the tokens all
//! members share and writes `<*>` (with the punctuation all values share, like `(<*>)`) where
//! they differ.

use super::mask::VAR;

/// How two tokens at the same position differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Diff {
    Same,
    /// One side is (or contains) a variable where the other has text: free to merge, except as
    /// the whole first token.
    Soft {
        whole: bool,
    },
    /// Two different value-like words (with digits or inner punctuation, or units).
    Word,
    /// Two different plain words or constants: never merge pairwise.
    Hard,
}

/// A token made only of variables and punctuation (`<*>`, `<*>:<*>`, `[<*>]`).
pub fn is_var_shaped(t: &str) -> bool {
    // Most tokens hold no `<`: answered without a substring search.
    // (A plain loop: tokens are short, memchr's set-up would cost more than the scan.)
    t.bytes().any(|c| c == b'<')
        && t.contains(VAR)
        && !t
            .split(VAR)
            .any(|rest| rest.bytes().any(|c| c.is_ascii_alphanumeric()))
}

/// Length of the common prefix of `a` and `b`, backed off so it ends at a delimiter and never
/// inside a `<*>`.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    backoff_prefix(a, raw_prefix(a, b))
}

/// Bytes `a` and `b` share at the start.
pub fn raw_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Bytes `a` and `b` share at the end.
pub fn raw_suffix(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// The longest prefix of `a[..p]` that ends at a delimiter and not inside a `<*>` (monotone in
/// `p`, so backing off the shortest shared prefix of a set is the set's backed-off prefix).
pub fn backoff_prefix(a: &[u8], mut p: usize) -> usize {
    while p > 0 {
        let open_var = a[..p].ends_with(b"<") || a[..p].ends_with(b"<*");
        if open_var || a[p - 1].is_ascii_alphanumeric() || a[p - 1] >= 0x80 {
            p -= 1;
        } else {
            break;
        }
    }
    p
}

/// Length of the common suffix (after `skip` prefix bytes), backed off the same way.
fn common_suffix(a: &[u8], b: &[u8], skip: usize) -> usize {
    let max = a.len().min(b.len()) - skip;
    backoff_suffix(a, raw_suffix(a, b).min(max))
}

/// The longest suffix of `a` no longer than `s` that starts at a delimiter and not inside a
/// `<*>` (monotone in `s`).
pub fn backoff_suffix(a: &[u8], mut s: usize) -> usize {
    while s > 0 {
        let tail = &a[a.len() - s..];
        let open_var = tail.starts_with(b">") || tail.starts_with(b"*>");
        let c = tail[0];
        if open_var || c.is_ascii_alphanumeric() || c >= 0x80 {
            s -= 1;
        } else {
            break;
        }
    }
    s
}

/// A word that reads like a value rather than part of the sentence: it carries digits or inner
/// punctuation (`bglio716`, `U11`, `zummit.com`, `a_b`).
fn is_value_like(m: &[u8]) -> bool {
    let inner = m.windows(3).any(|w| {
        w[0].is_ascii_alphanumeric() && b"._-/:@".contains(&w[1]) && w[2].is_ascii_alphanumeric()
    });
    inner || m.iter().any(u8::is_ascii_digit)
}

/// An upper-case constant such as a state or an event type (`RUNNING`, `TIME_TICK`, `HTTPS`).
fn is_constant_name(m: &[u8]) -> bool {
    let letters = m.iter().filter(|c| c.is_ascii_uppercase()).count();
    letters >= 3
        && m[0].is_ascii_uppercase()
        && m.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// Size and time units: when the unit changes (`5.2 KB` / `93.0 B`) it belongs to the value.
fn is_unit(m: &[u8]) -> bool {
    const UNITS: [&[u8]; 18] = [
        b"B", b"KB", b"MB", b"GB", b"TB", b"PB", b"KiB", b"MiB", b"GiB", b"TiB", b"ns", b"us",
        b"ms", b"s", b"sec", b"secs", b"min", b"h",
    ];
    UNITS.contains(&m)
}

fn token_diff(a: &str, b: &str) -> Diff {
    if a == b {
        return Diff::Same;
    }
    let (va, vb) = (is_var_shaped(a), is_var_shaped(b));
    if va && vb {
        return Diff::Same;
    }
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let p = common_prefix(ab, bb);
    let s = common_suffix(ab, bb, p);
    let (ma, mb) = (&ab[p..ab.len() - s], &bb[p..bb.len() - s]);
    if va || vb || contains_var(ma) || contains_var(mb) {
        return Diff::Soft { whole: p + s == 0 };
    }
    if ma.is_empty() || mb.is_empty() {
        return Diff::Hard;
    }
    if is_constant_name(ma) && is_constant_name(mb) {
        return Diff::Hard;
    }
    // Two HTTP statuses the masks kept (`HTTP 503` / `HTTP 404`): two problems, not two values.
    if super::status::is_code(as_str(ma)) && super::status::is_code(as_str(mb)) {
        return Diff::Hard;
    }
    if (is_unit(ma) && is_unit(mb)) || is_value_like(ma) || is_value_like(mb) {
        return Diff::Word;
    }
    Diff::Hard
}

/// `m` as text when it is (a middle cut at ASCII delimiters is, for any token).
fn as_str(m: &[u8]) -> &str {
    std::str::from_utf8(m).unwrap_or_default()
}

fn contains_var(m: &[u8]) -> bool {
    m.windows(3).any(|w| w == b"<*>")
}

/// Whether two templates (same token count) are one event.
#[cfg(test)]
pub fn compatible(a: &[&str], b: &[&str]) -> bool {
    a.len() == b.len() && compatible_pairs(a.iter().copied().zip(b.iter().copied()), a.len())
}

/// [`compatible`] over the aligned tokens of two templates of `len` tokens, stopping at the first
/// pair that rules it out.
pub fn compatible_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, len: usize) -> bool {
    let (mut words, mut differ, mut shared) = (0, 0, 0);
    for (i, (x, y)) in pairs.enumerate() {
        match token_diff(x, y) {
            Diff::Same if x == y && !is_var_shaped(x) => shared += 1,
            Diff::Same => {}
            Diff::Hard => return false,
            // The first word names the event; it may carry a value, not be one.
            Diff::Soft { whole: true } | Diff::Word if i == 0 => return false,
            Diff::Soft { .. } => differ += 1,
            Diff::Word => {
                words += 1;
                differ += 1;
            }
        }
    }
    // Same event: more shared words than differing ones, and one value-like word or at most a
    // third of the words differing.
    // (Templates that differ only in the shape of their variables are always one.)
    differ == 0 || (shared > 0 && differ <= shared && (words <= 1 || words * 3 < len))
}

/// A token that can only ever be equal to or [`Diff::Hard`] against another such token: no
/// variable, no digit, no inner punctuation, no unit. Two templates whose rigid tokens differ at
/// one position are never [`compatible`], which is what lets `index.rs` look partners up by
/// their rigid tokens instead of comparing with every template.
pub fn is_rigid(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && !contains_var(b)
        && !is_value_like(b)
        && !b
            .split(|c| !(c.is_ascii_alphanumeric() || *c >= 0x80))
            .any(is_unit)
}

/// The template shared by `members` (same token count, at least one).
#[cfg(test)]
pub fn merge(members: &[Vec<&str>]) -> String {
    use super::columns::Columns;
    let Some((first, rest)) = members.split_first() else {
        return String::new();
    };
    let mut cols = Columns::of(first);
    for m in rest {
        cols.absorb(first, &Columns::of(m), m);
    }
    cols.render(first)
}

/// Joins tokens with spaces; a mined variable next to another variable is one variable (a
/// value that spans two words, like `5.2 KB`).
pub fn join(tokens: &[(String, bool)]) -> String {
    let mut out = String::new();
    let mut prev_mined = false;
    for (tok, mined) in tokens {
        let glue = (prev_mined || *mined) && out.ends_with(VAR) && tok.starts_with(VAR);
        if glue {
            out.push_str(&tok[VAR.len()..]);
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(tok);
        }
        prev_mined = *mined;
    }
    out
}

/// The constant words of a template, in order: every token that is not variable-shaped and not
/// a unit. Templates of different lengths with the same signature differ only in how many
/// variables they carry (`delete <*>` / `delete <*> <*> <*>`, `<*> bytes sent` /
/// `<*> bytes (<*> KB) sent`), so they are one event. Empty when the template has no words.
#[cfg(test)]
pub fn signature(template: &str) -> String {
    let mut sig = String::new();
    for tok in template.split(' ').filter(|t| is_constant_token(t)) {
        sig.push_str(tok);
        sig.push('\u{1f}');
    }
    sig
}

/// A hash of [`signature`] without building it; `None` for a template without words.
pub fn signature_hash(template: &str) -> Option<u128> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut any = false;
    for tok in template.split(' ').filter(|t| is_constant_token(t)) {
        h.update(tok.as_bytes());
        h.update(&[0x1f]);
        any = true;
    }
    any.then(|| h.digest128())
}

fn is_constant_token(t: &str) -> bool {
    let core = t.trim_matches(|c: char| c.is_ascii_punctuation());
    !t.is_empty() && !is_var_shaped(t) && !is_unit(core.as_bytes())
}

/// The template of templates that share one [`signature`] but not one length: the constants,
/// with each gap between them kept when all members agree and written `<*>` otherwise.
pub fn merge_across(templates: &[&str]) -> String {
    let gapped: Vec<Vec<Vec<&str>>> = templates.iter().map(|t| gaps(t)).collect();
    let Some(first) = gapped.first() else {
        return String::new();
    };
    let constants: Vec<&str> = templates[0]
        .split(' ')
        .filter(|t| is_constant_token(t))
        .collect();
    let mut tokens: Vec<(String, bool)> = Vec::new();
    for g in 0..first.len() {
        let column: Vec<&Vec<&str>> = gapped.iter().filter_map(|m| m.get(g)).collect();
        if column.iter().all(|c| *c == column[0]) {
            tokens.extend(column[0].iter().map(|t| (t.to_string(), false)));
        } else {
            tokens.push((VAR.to_string(), true));
        }
        if let Some(c) = constants.get(g) {
            tokens.push((c.to_string(), false));
        }
    }
    join(&tokens)
}

/// The variable-ish tokens before, between and after the constants of a template.
fn gaps(template: &str) -> Vec<Vec<&str>> {
    let mut out = vec![Vec::new()];
    for tok in template.split(' ') {
        if is_constant_token(tok) {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(tok);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<&str> {
        s.split(' ').collect()
    }

    #[test]
    fn kept_statuses_are_constants() {
        let a = toks("upstream inventory returned HTTP 503");
        let b = toks("upstream inventory returned HTTP 404");
        assert!(!compatible(&a, &b));
        assert!(!compatible(
            &toks("x status=503, retrying"),
            &toks("x status=404, retrying")
        ));
        // A value beside them still merges.
        assert!(compatible(
            &toks("call <*> returned HTTP 503"),
            &toks("call bglio716 returned HTTP 503")
        ));
    }

    #[test]
    fn values_merge_constants_do_not() {
        let a = toks("session closed for user <*>");
        let b = toks("session closed for user news");
        assert!(compatible(&a, &b));
        let c = toks("<*> Transitioned from NEW to RUNNING");
        let d = toks("<*> Transitioned from RUNNING to SUCCEEDED");
        assert!(!compatible(&c, &d));
        assert!(!compatible(
            &toks("klogd startup succeeded"),
            &toks("cupsd startup succeeded")
        ));
        assert!(!compatible(
            &toks("cupsd startup succeeded"),
            &toks("cupsd shutdown succeeded")
        ));
        let e = toks("action:android.intent.action.TIME_TICK");
        let f = toks("action:android.intent.action.SCREEN_ON");
        assert!(!compatible(&e, &f));
        let g = toks("[instance: <*>] VM Resumed (Lifecycle Event)");
        let h = toks("[instance: <*>] VM Paused (Lifecycle Event)");
        assert!(!compatible(&g, &h));
        let i = toks("Lustre mount FAILED : bglio559 : point <*>");
        let j = toks("Lustre mount FAILED : bglio46 : point <*>");
        assert!(compatible(&i, &j));
        assert!(!compatible(&toks("setX=<*>"), &toks("<*>|<*>")));
    }

    #[test]
    fn merged_templates_keep_shared_punctuation() {
        let m = [
            toks("connection from <*> (<*>) at x"),
            toks("connection from <*> () at x"),
            toks("connection from <*> (host8.topspot.net) at x"),
        ];
        assert_eq!(merge(&m), "connection from <*> (<*>) at x");
        let r = [
            toks("rhost=<*>.netvigator.com user=<*>"),
            toks("rhost=zummit.org user=<*>"),
        ];
        assert_eq!(merge(&r), "rhost=<*> user=<*>");
        let u = [
            toks("size <*> KB, free <*> KB)"),
            toks("size <*> B, free <*> KB)"),
        ];
        assert_eq!(merge(&u), "size <*>, free <*> KB)");
        let v = [toks("a <*>:<*> b"), toks("a <*>,<*> b"), toks("a <*> b")];
        assert_eq!(merge(&v), "a <*> b");
    }

    #[test]
    fn different_lengths_merge_by_signature() {
        let a = "ask <*> to delete <*>";
        let b = "ask <*> to delete <*> <*> <*>";
        assert_eq!(signature(a), signature(b));
        assert_eq!(merge_across(&[a, b]), "ask <*> to delete <*>");
        let c = "<*> close, <*> bytes sent, lifetime <*>:<*>";
        let d = "<*> close, <*> bytes (<*> KB) sent, lifetime <<*> sec";
        assert_eq!(signature(c), signature(d));
        assert_eq!(
            merge_across(&[c, d]),
            "<*> close, <*> bytes <*> sent, lifetime <*>"
        );
        assert_ne!(signature("took <*> ms"), signature("took <*> ms to stop"));
    }
}
