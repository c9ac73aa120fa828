//! A cluster's template, kept up to date as members join, in time linear in the template.
//!
//! Per position the cluster keeps what all its members share there: whether they all carry the
//! same token, whether all are variables, and the longest prefix and suffix (in bytes) they all
//! share. Each is a property of the member SET (the shortest shared prefix of a set of strings is
//! the same whichever member it is measured from), so the rendered template does not depend on
//! which member came first, and joining two clusters combines their summaries without looking at
//! their members again.

use super::mask::{push_var, VAR};
use super::miner::{backoff_prefix, backoff_suffix, is_var_shaped, join, raw_prefix, raw_suffix};

/// What the members of one cluster share, position by position. Measured against a reference
/// member's tokens, which the caller passes back in (the struct does not own text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    cols: Vec<Col>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Col {
    /// Every member has the reference's token here.
    same: bool,
    /// Every member has a variable-shaped token here.
    all_vars: bool,
    /// Bytes every member's token shares with the reference's at the start and at the end.
    prefix: u32,
    suffix: u32,
    /// The shortest token here.
    min_len: u32,
}

impl Columns {
    /// The summary of a one-member cluster.
    pub fn of(tokens: &[&str]) -> Self {
        let cols = tokens
            .iter()
            .map(|t| Col {
                same: true,
                all_vars: is_var_shaped(t),
                prefix: t.len() as u32,
                suffix: t.len() as u32,
                min_len: t.len() as u32,
            })
            .collect();
        Columns { cols }
    }

    /// Joins another cluster (`other`, measured against `other_ref`) into this one (measured
    /// against `reference`). Both have the same token count.
    pub fn absorb(&mut self, reference: &[&str], other: &Columns, other_ref: &[&str]) {
        let parts = self.cols.iter_mut().zip(&other.cols);
        for ((mine, theirs), (r, o)) in parts.zip(reference.iter().zip(other_ref)) {
            let (rb, ob) = (r.as_bytes(), o.as_bytes());
            let equal = r == o;
            mine.same &= theirs.same && equal;
            mine.all_vars &= theirs.all_vars;
            let (p, s) = if equal {
                (rb.len(), rb.len())
            } else {
                (raw_prefix(rb, ob), raw_suffix(rb, ob))
            };
            // The shortest shared prefix of a union is the shortest of the two sets' and the
            // one between their references (prefixes of strings nest).
            mine.prefix = mine.prefix.min(theirs.prefix).min(p as u32);
            mine.suffix = mine.suffix.min(theirs.suffix).min(s as u32);
            mine.min_len = mine.min_len.min(theirs.min_len);
        }
    }

    /// The template: shared tokens kept, `<*>` (with the punctuation all members share around
    /// it) where they differ.
    pub fn render(&self, reference: &[&str]) -> String {
        let tokens: Vec<(String, bool)> = self
            .cols
            .iter()
            .zip(reference)
            .map(|(c, r)| c.render(r))
            .collect();
        join(&tokens)
    }
}

impl Col {
    /// One position; the flag says whether it became a variable by mining (a word was seen).
    fn render(&self, r: &str) -> (String, bool) {
        if self.same {
            return (r.to_string(), false);
        }
        if self.all_vars {
            return (VAR.to_string(), false);
        }
        let b = r.as_bytes();
        let pre = backoff_prefix(b, self.prefix as usize);
        let room = (self.min_len as usize).saturating_sub(pre);
        let suf = backoff_suffix(b, (self.suffix as usize).min(room));
        let mut out = r[..pre].to_string();
        push_var(&mut out);
        out.push_str(&r[r.len() - suf..]);
        (out, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<&str> {
        s.split(' ').collect()
    }

    fn fold(set: &[&str]) -> String {
        let first = toks(set[0]);
        let mut c = Columns::of(&first);
        for m in &set[1..] {
            c.absorb(&first, &Columns::of(&toks(m)), &toks(m));
        }
        c.render(&first)
    }

    #[test]
    fn the_template_is_a_function_of_the_member_set() {
        let set = [
            "connection from <*> (<*>) at x",
            "connection from <*> () at x",
            "connection from <*> (host8.topspot.net) at x",
            "connection from 10.2.3.4 (h) at x",
        ];
        let want = fold(&set);
        assert_eq!(want, "connection from <*> (<*>) at x");
        for rot in 1..set.len() {
            let mut s = set;
            s.rotate_left(rot);
            assert_eq!(fold(&s), want);
        }
    }

    #[test]
    fn joining_two_clusters_equals_folding_their_members() {
        let (a, b) = (
            ["rhost=a1.x.com y", "rhost=b2.x.com y"],
            ["rhost=<*> y", "rhost=c3.x.org y"],
        );
        let (ra, rb) = (toks(a[0]), toks(b[0]));
        let mut ca = Columns::of(&ra);
        ca.absorb(&ra, &Columns::of(&toks(a[1])), &toks(a[1]));
        let mut cb = Columns::of(&rb);
        cb.absorb(&rb, &Columns::of(&toks(b[1])), &toks(b[1]));
        ca.absorb(&ra, &cb, &rb);
        assert_eq!(ca.render(&ra), fold(&[a[0], a[1], b[0], b[1]]));
        assert_eq!(ca.render(&ra), "rhost=<*> y");
    }
}
