//! Where every id points now: fine id → component slot → canonical id → template, plus the
//! former canonical ids that redirect.
//!
//! A stored template gets a *slot*; slots mirror the family's union-find (union by size, so a
//! lookup is a few hops), and only a component's root slot holds its canonical id. When
//! components join, or a component's template changes, one slot is updated, never every fine id
//! of the component: publishing a new template costs the roots whose template changed.

use std::sync::Arc;

use super::index::IdMap;

/// A fine id's cluster: its key (index into the fingerprinter's keys) and slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fine {
    pub key: u32,
    /// [`NO_SLOT`]: the fine id is its own canonical id (exact templates, templates not mined).
    pub slot: u32,
}

pub const NO_SLOT: u32 = u32::MAX;

#[derive(Debug, Default)]
pub struct Clusters {
    fine: IdMap<u64, Fine>,
    slot_parent: Vec<u32>,
    /// Fine ids in a root slot's component.
    slot_members: Vec<u32>,
    /// Canonical id of a root slot (0 until the slot's template is published).
    slot_canon: Vec<u64>,
    /// Canonical id -> template.
    templates: IdMap<u64, Arc<str>>,
    /// Canonical id -> how many root slots and slotless fine ids show it.
    refs: IdMap<u64, u32>,
    /// Former canonical id -> the canonical id it was folded into.
    redirect: IdMap<u64, u64>,
    /// Canonical id -> how many former ids redirect to it directly (none: none at all).
    redirect_into: IdMap<u64, u32>,
    /// Fine ids whose template is not stored (registered past a bound), oldest first: they
    /// may be forgotten and registered again.
    transient: Vec<u64>,
}

impl Clusters {
    fn root_slot(&self, mut s: u32) -> u32 {
        while self.slot_parent[s as usize] != s {
            s = self.slot_parent[s as usize];
        }
        s
    }

    /// The canonical id any id (fine, current or former canonical) resolves to now.
    pub fn current(&self, id: u64) -> u64 {
        let mut c = match self.fine.get(&id) {
            Some(f) if f.slot != NO_SLOT => self.slot_canon[self.root_slot(f.slot) as usize],
            _ => id,
        };
        // Redirect chains are acyclic (a live id never redirects); the bound guards bugs.
        for _ in 0..64 {
            match self.redirect.get(&c) {
                Some(next) if *next != c => c = *next,
                _ => break,
            }
        }
        c
    }

    pub fn template(&self, canonical: u64) -> Option<&Arc<str>> {
        self.templates.get(&canonical)
    }

    pub fn fine(&self, id: u64) -> Option<Fine> {
        self.fine.get(&id).copied()
    }

    /// Every id other than `canonical` that resolves to it.
    pub fn aliases(&self, canonical: u64) -> Vec<u64> {
        let fine = self.fine.keys();
        let former = self.redirect.keys();
        let mut out: Vec<u64> = fine
            .chain(former)
            .filter(|a| **a != canonical && self.current(**a) == canonical)
            .copied()
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The canonical id of fine id `fine` and its [`aliases`](Self::aliases). Without a scan
    /// of every id when `fine` is its cluster's only member and no former id redirects to it:
    /// the first entry of every new cluster, which escalation counts at once.
    pub fn with_aliases(&self, fine: u64) -> (u64, Vec<u64>) {
        let canonical = self.current(fine);
        let alone = self.fine.contains_key(&fine)
            && self.members_with(fine) <= 1
            && !self.redirect_into.contains_key(&canonical);
        if !alone {
            return (canonical, self.aliases(canonical));
        }
        let aliases = if fine == canonical {
            vec![]
        } else {
            vec![fine]
        };
        (canonical, aliases)
    }

    /// A new slot for a stored template.
    pub fn new_slot(&mut self) -> u32 {
        let s = self.slot_parent.len() as u32;
        self.slot_parent.push(s);
        self.slot_members.push(0);
        self.slot_canon.push(0);
        s
    }

    /// Points a fine id at a slot (or at itself, with its template, for [`NO_SLOT`]).
    pub fn add_fine(&mut self, id: u64, fine: Fine, template: &str) {
        self.fine.insert(id, fine);
        if fine.slot == NO_SLOT {
            self.show(id, template);
        } else {
            let root = self.root_slot(fine.slot) as usize;
            self.slot_members[root] += 1;
        }
    }

    /// [`add_fine`](Self::add_fine) for a fine id whose template is not stored.
    pub fn add_transient(&mut self, id: u64, fine: Fine, template: &str) {
        self.add_fine(id, fine, template);
        self.transient.push(id);
    }

    pub fn transient_len(&self) -> usize {
        self.transient.len()
    }

    /// Removes the transient fine ids `keep` says no to, as if never added; returns them.
    pub fn forget_transient(&mut self, keep: impl Fn(u64) -> bool) -> Vec<u64> {
        let (kept, gone): (Vec<u64>, Vec<u64>) = std::mem::take(&mut self.transient)
            .into_iter()
            .partition(|id| keep(*id));
        for id in &gone {
            self.forget(*id);
        }
        self.transient = kept;
        gone
    }

    fn forget(&mut self, id: u64) {
        let Some(f) = self.fine.remove(&id) else {
            return;
        };
        if f.slot == NO_SLOT {
            if self.unref(id) {
                self.templates.remove(&id);
            }
        } else {
            let root = self.root_slot(f.slot) as usize;
            self.slot_members[root] -= 1;
        }
    }

    /// How many fine ids share `id`'s cluster, itself included: its component's members, or
    /// more than one if other components show the same canonical id. 0 for an unknown id.
    pub fn members_with(&self, id: u64) -> usize {
        let Some(f) = self.fine.get(&id) else {
            return 0;
        };
        let canonical = self.current(id);
        let shown_by = self.refs.get(&canonical).copied().unwrap_or(0) as usize;
        if f.slot == NO_SLOT {
            return shown_by.max(1);
        }
        let here = self.slot_members[self.root_slot(f.slot) as usize] as usize;
        here + shown_by.saturating_sub(1)
    }

    /// Component `gone` joined `kept`; returns the canonical id `gone` showed, to release once
    /// the kept root's template is published.
    pub fn union(&mut self, gone: u32, kept: u32) -> u64 {
        self.slot_parent[gone as usize] = kept;
        let moved = std::mem::take(&mut self.slot_members[gone as usize]);
        self.slot_members[kept as usize] += moved;
        std::mem::take(&mut self.slot_canon[gone as usize])
    }

    /// A root slot now shows `template` under `canonical`.
    pub fn set_root(&mut self, slot: u32, canonical: u64, template: &str) {
        let old = self.slot_canon[slot as usize];
        if old == canonical {
            return;
        }
        self.slot_canon[slot as usize] = canonical;
        self.show(canonical, template);
        self.release(old, canonical);
    }

    fn show(&mut self, canonical: u64, template: &str) {
        self.templates
            .entry(canonical)
            .or_insert_with(|| template.into());
        *self.refs.entry(canonical).or_default() += 1;
        // A canonical id that comes back into use stops redirecting (no cycles).
        self.unredirect(canonical);
    }

    /// One fewer root shows `old`; when none does, it redirects to `to`.
    pub fn release(&mut self, old: u64, to: u64) {
        if old == 0 || old == to {
            if old != 0 {
                self.unref(old);
            }
            return;
        }
        if self.unref(old) {
            self.templates.remove(&old);
            self.redirect_to(old, to);
        }
    }

    /// Drops one reference; whether it was the last.
    fn unref(&mut self, id: u64) -> bool {
        let Some(n) = self.refs.get_mut(&id) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            self.refs.remove(&id);
            return true;
        }
        false
    }

    /// The canonical id a slot's component shows now.
    pub fn slot_canonical(&self, slot: u32) -> u64 {
        self.slot_canon[self.root_slot(slot) as usize]
    }

    /// Adds a former canonical id from exported state (unless that would make a cycle).
    pub fn restore_redirect(&mut self, from: u64, to: u64) {
        if self.current(to) != from
            && !self.refs.contains_key(&from)
            && !self.redirect.contains_key(&from)
        {
            self.redirect_to(from, to);
        }
    }

    fn redirect_to(&mut self, from: u64, to: u64) {
        self.unredirect(from);
        self.redirect.insert(from, to);
        *self.redirect_into.entry(to).or_default() += 1;
    }

    fn unredirect(&mut self, from: u64) {
        let Some(to) = self.redirect.remove(&from) else {
            return;
        };
        if let Some(n) = self.redirect_into.get_mut(&to) {
            *n -= 1;
            if *n == 0 {
                self.redirect_into.remove(&to);
            }
        }
    }

    pub fn redirects(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.redirect.iter().map(|(a, b)| (*a, *b))
    }
}
