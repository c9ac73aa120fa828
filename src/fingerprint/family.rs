//! All distinct masked templates that share one set of key parts, clustered incrementally.
//!
//! Clusters are the connected components of two symmetric relations over the SET of templates:
//! [`miner::compatible`] pairs, and templates identical but for one plain lower-case word once
//! that slot has held [`SLOT_VALUES`] distinct words (user names). A union-find keeps the
//! components; `index.rs` finds every partner of a new template in a few hash lookups, so the
//! components equal those of a batch run over the same set, whatever the arrival order. A
//! component's template is kept by `columns.rs` (a function of its member set). Components of
//! different token counts whose templates share their constant words ([`miner::signature`]:
//! `delete <*>` / `delete <*> <*> <*>`) are shown as one template ([`miner::merge_across`]).
//!
//! Bounds ([`Limits`]): mining a template compares it with at most `max_candidates` others, and
//! a family stores at most `max_templates`. Past either, a template is not stored (see
//! [`Placed`]): below them the result depends only on the set of templates; the templates
//! stored are then the first ones, and `export` keeps them in that order, so a restart agrees.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use super::columns::Columns;
use super::index::{Candidates, IdHasher, IdMap, Index, Shape};
use super::miner;

/// Distinct plain words at one position (all else equal) that make the position a variable:
/// two may be two events (`spawn` / `destroy`), three or more are values (user names).
const SLOT_VALUES: u32 = 3;

/// Components sharing one signature beyond which no cross-length template is made (each keeps
/// its own): bounds the work of one insert; real families have a handful.
const GROUP_CAP: usize = 64;

/// The bounds of one family (see `FingerprintConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_templates: usize,
    pub max_candidates: usize,
}

/// One family's templates and clusters.
#[derive(Debug, Default)]
pub struct Family {
    members: Vec<Member>,
    /// Everything a family needs once it has two templates (most keys never get there).
    rich: Option<Box<Rich>>,
}

#[derive(Debug)]
struct Member {
    text: Box<str>,
    parent: u32,
    /// Members in the component (meaningful at roots).
    size: u32,
}

type IdSet = HashSet<u32, BuildHasherDefault<IdHasher>>;

#[derive(Debug, Default)]
struct Rich {
    index: Index,
    /// Root of a 2+ member component -> its reference member and what its members share.
    columns: IdMap<u32, (u32, Columns)>,
    /// Root of a 2+ member component -> its template (a lone member's is its own text).
    merged: IdMap<u32, Box<str>>,
    /// Signature -> roots whose template has it.
    groups: HashMap<u128, IdSet>,
    /// Signature -> the template shown for all its roots (groups spanning 2+ token counts).
    across: HashMap<u128, Box<str>>,
}

/// Where a new template went.
#[derive(Debug, PartialEq, Eq)]
pub enum Placed {
    /// Stored as this member; the components joined (gone root, kept root) and the roots whose
    /// final template may have changed.
    Member {
        member: u32,
        unions: Vec<(u32, u32)>,
        roots: Vec<u32>,
    },
    /// Not stored (the family is full, or the template has too many candidates to compare): it
    /// reads as the cluster of this root, a template it differs from in one token.
    Joins(u32),
    /// Not stored, and no such template: its own cluster, its masked text as template.
    Alone,
}

impl Family {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored templates in insertion order (member index = position).
    pub fn templates(&self) -> impl ExactSizeIterator<Item = &str> {
        self.members.iter().map(|m| &*m.text)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Adds a template never offered before.
    pub fn insert(&mut self, template: &str, limits: &Limits) -> Placed {
        let full = self.members.len() >= limits.max_templates;
        if self.members.is_empty() && !full {
            self.push(template);
            return Placed::Member {
                member: 0,
                unions: Vec::new(),
                roots: vec![0],
            };
        }
        self.ensure_rich();
        let shape = Shape::new(template);
        // A full family mines nothing: no comparisons then.
        let partners = (!full)
            .then(|| self.partners(&shape, limits.max_candidates))
            .flatten();
        let Some(mut partners) = partners else {
            // Not mined: it reads as the cluster of a template it differs from in one token
            // (found through a slot), the older one if several, else as its own.
            return self
                .slot_partners(&shape)
                .into_iter()
                .map(|m| self.find(m))
                .min()
                .map_or(Placed::Alone, Placed::Joins);
        };
        let id = self.push(template);
        if let Some(rich) = self.rich.as_deref_mut() {
            rich.index.add(id, &shape);
        }
        partners.extend(self.join_slots(id, &shape));
        let mut roots: Vec<u32> = partners.into_iter().map(|m| self.find(m)).collect();
        roots.sort_unstable();
        roots.dedup();
        let (unions, roots) = self.join(id, &roots);
        Placed::Member {
            member: id,
            unions,
            roots,
        }
    }

    fn push(&mut self, template: &str) -> u32 {
        let id = self.members.len() as u32;
        self.members.push(Member {
            text: template.into(),
            parent: id,
            size: 1,
        });
        id
    }

    /// The index and signature group of the first member, built when a second arrives.
    fn ensure_rich(&mut self) {
        if self.rich.is_some() {
            return;
        }
        self.rich = Some(Box::default());
        if let Some(first) = self.members.first() {
            let text = first.text.clone();
            let shape = Shape::new(&text);
            if let Some(rich) = self.rich.as_deref_mut() {
                rich.index.add(0, &shape);
            }
            self.join_slots(0, &shape);
            self.regroup(0, &text);
        }
    }

    /// Members compatible with `shape`, one per component; `None` when too many to compare.
    fn partners(&self, shape: &Shape<'_>, limit: usize) -> Option<Vec<u32>> {
        let rich = self.rich.as_deref()?;
        let Candidates::Some(candidates) = rich.index.candidates(shape, limit) else {
            return None;
        };
        let mut found: Vec<(u32, u32)> = Vec::new();
        for m in candidates {
            let root = self.find(m);
            if found.iter().any(|(r, _)| *r == root) {
                continue;
            }
            let text = &*self.members[m as usize].text;
            let n = shape.tokens.len();
            let pairs = shape.tokens.iter().copied().zip(text.split(' '));
            // Most candidates differ at the first tokens: compare before counting.
            if miner::compatible_pairs(pairs, n)
                && memchr::memchr_iter(b' ', text.as_bytes()).count() + 1 == n
            {
                found.push((root, m));
            }
        }
        Some(found.into_iter().map(|(_, m)| m).collect())
    }

    /// Whether member `m` has the tokens of `shape` everywhere but at `pos` (a slot key matched:
    /// this rules out a hash collision).
    fn same_but_at(&self, m: u32, shape: &Shape<'_>, pos: usize) -> bool {
        let text = &*self.members[m as usize].text;
        let mut n = 0;
        for (i, (a, b)) in text.split(' ').zip(&shape.tokens).enumerate() {
            if i != pos && a != *b {
                return false;
            }
            n += 1;
        }
        n == shape.tokens.len() && memchr::memchr_iter(b' ', text.as_bytes()).count() + 1 == n
    }

    /// Members a template not stored reads as: those it would join through a word slot, and
    /// those it differs from in one token and is compatible with. Records nothing.
    fn slot_partners(&self, shape: &Shape<'_>) -> Vec<u32> {
        let Some(rich) = self.rich.as_deref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (pos, key, word) in shape.slots() {
            let Some(s) = rich.index.slot(key) else {
                continue;
            };
            if !self.same_but_at(s.any, shape, pos) {
                continue;
            }
            if word && s.word_count + 1 >= SLOT_VALUES {
                out.extend(s.words);
            }
            let text = &*self.members[s.any as usize].text;
            let pairs = shape.tokens.iter().copied().zip(text.split(' '));
            if miner::compatible_pairs(pairs, shape.tokens.len()) {
                out.push(s.any);
            }
        }
        out
    }

    /// Records member `id` in its slots; returns the members it joins through word slots.
    fn join_slots(&mut self, id: u32, shape: &Shape<'_>) -> Vec<u32> {
        let mut out = Vec::new();
        for (pos, key, word) in shape.slots() {
            let slot = self.rich.as_deref().and_then(|r| r.index.slot(key));
            if let Some(s) = slot {
                if !self.same_but_at(s.any, shape, pos) {
                    continue; // a hash collision, not a slot mate
                }
                if word && s.word_count + 1 == SLOT_VALUES {
                    out.extend(s.words); // the third word: all three are one
                } else if word && s.word_count + 1 > SLOT_VALUES {
                    out.push(s.words[0]); // the others are joined already
                }
            }
            if let Some(rich) = self.rich.as_deref_mut() {
                rich.index.join_slot(key, id, word);
            }
        }
        out
    }

    fn find(&self, mut m: u32) -> u32 {
        while self.members[m as usize].parent != m {
            m = self.members[m as usize].parent;
        }
        m
    }

    /// Joins the new member `id` with the components of `roots`; returns the unions made and
    /// the roots whose final template may have changed.
    fn join(&mut self, id: u32, roots: &[u32]) -> (Vec<(u32, u32)>, Vec<u32>) {
        let mut sigs: Vec<u128> = Vec::new();
        let mut unions = Vec::new();
        let mut keep = id;
        let before = roots.first().map(|r| self.template_of(*r).to_string());
        for &r in roots {
            if let Some(sig) = self.ungroup(r) {
                sigs.push(sig);
            }
            let (kept, gone) = self.union(keep, r);
            unions.push((gone, kept));
            keep = kept;
        }
        let text = self.refresh_merged(keep);
        let unchanged = roots.len() == 1 && before.as_deref() == Some(&*text);
        sigs.extend(self.regroup(keep, &text));
        sigs.sort_unstable();
        sigs.dedup();
        let mut changed = vec![keep];
        if !unchanged {
            for sig in sigs {
                changed.extend(self.refresh_across(sig));
            }
        }
        changed.sort_unstable();
        changed.dedup();
        (unions, changed)
    }

    /// Union by size (ties: the older root stays), merging the two components' summaries.
    fn union(&mut self, a: u32, b: u32) -> (u32, u32) {
        let (sa, sb) = (self.members[a as usize].size, self.members[b as usize].size);
        let (keep, gone) = if sa > sb || (sa == sb && a < b) {
            (a, b)
        } else {
            (b, a)
        };
        let (kref, mut kcols) = self.columns_of(keep);
        let (gref, gcols) = self.columns_of(gone);
        let ktoks: Vec<&str> = self.members[kref as usize].text.split(' ').collect();
        let gtoks: Vec<&str> = self.members[gref as usize].text.split(' ').collect();
        kcols.absorb(&ktoks, &gcols, &gtoks);
        self.members[gone as usize].parent = keep;
        self.members[keep as usize].size = sa + sb;
        if let Some(rich) = self.rich.as_deref_mut() {
            rich.columns.remove(&gone);
            rich.merged.remove(&gone);
            rich.columns.insert(keep, (kref, kcols));
        }
        (keep, gone)
    }

    /// A root's reference member and summary (a lone member is its own reference).
    fn columns_of(&self, root: u32) -> (u32, Columns) {
        let stored = self.rich.as_deref().and_then(|r| r.columns.get(&root));
        match stored {
            Some((reference, cols)) => (*reference, cols.clone()),
            None => {
                let toks: Vec<&str> = self.members[root as usize].text.split(' ').collect();
                (root, Columns::of(&toks))
            }
        }
    }

    /// Re-renders a root's template from its summary.
    fn refresh_merged(&mut self, root: u32) -> Box<str> {
        let Some(rich) = self.rich.as_deref() else {
            return self.members[root as usize].text.clone();
        };
        let Some((reference, cols)) = rich.columns.get(&root) else {
            return self.members[root as usize].text.clone();
        };
        let toks: Vec<&str> = self.members[*reference as usize].text.split(' ').collect();
        let text: Box<str> = cols.render(&toks).into();
        if let Some(rich) = self.rich.as_deref_mut() {
            rich.merged.insert(root, text.clone());
        }
        text
    }

    /// The mined template of a root (before any cross-length merge).
    fn template_of(&self, root: u32) -> &str {
        let merged = self.rich.as_deref().and_then(|r| r.merged.get(&root));
        merged.map_or(&*self.members[root as usize].text, |t| t)
    }

    /// Removes a root from its signature group; returns the signature.
    fn ungroup(&mut self, root: u32) -> Option<u128> {
        let sig = miner::signature_hash(self.template_of(root))?;
        let rich = self.rich.as_deref_mut()?;
        if let Some(group) = rich.groups.get_mut(&sig) {
            group.remove(&root);
            if group.is_empty() {
                rich.groups.remove(&sig);
            }
        }
        Some(sig)
    }

    /// Adds a root to the group of its template's signature; returns the signature.
    fn regroup(&mut self, root: u32, text: &str) -> Option<u128> {
        let sig = miner::signature_hash(text)?;
        let rich = self.rich.as_deref_mut()?;
        rich.groups.entry(sig).or_default().insert(root);
        Some(sig)
    }

    /// Recomputes the cross-length template of one signature; returns the roots whose final
    /// template it may have changed.
    fn refresh_across(&mut self, sig: u128) -> Vec<u32> {
        let Some(rich) = self.rich.as_deref() else {
            return Vec::new();
        };
        let roots: Vec<u32> = rich
            .groups
            .get(&sig)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let mut texts: Vec<&str> = roots.iter().map(|r| self.template_of(*r)).collect();
        let counts: HashSet<usize> = texts.iter().map(|t| t.split(' ').count()).collect();
        // Sorted by text, so the result is a function of the set of component templates.
        texts.sort_unstable();
        texts.dedup();
        let across = (counts.len() >= 2 && roots.len() <= GROUP_CAP)
            .then(|| Box::<str>::from(miner::merge_across(&texts)));
        let Some(rich) = self.rich.as_deref_mut() else {
            return Vec::new();
        };
        let old = match across {
            Some(a) => rich.across.insert(sig, a),
            None => rich.across.remove(&sig),
        };
        let now = rich.across.get(&sig);
        if old.is_none() && now.is_none() {
            return Vec::new();
        }
        roots
    }

    /// The template a member is shown with now.
    pub fn final_template(&self, member: u32) -> String {
        self.final_of_root(self.find(member)).to_string()
    }

    /// The root of a member's component.
    #[cfg(test)]
    pub fn root(&self, member: u32) -> u32 {
        self.find(member)
    }

    /// The template shown for a root.
    pub fn final_of_root(&self, root: u32) -> &str {
        let mined = self.template_of(root);
        let across = self.rich.as_deref().and_then(|r| {
            let sig = miner::signature_hash(mined)?;
            r.across.get(&sig)
        });
        across.map_or(mined, |a| a)
    }
}

#[cfg(test)]
mod tests;
