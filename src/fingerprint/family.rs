//! All distinct masked templates that share one set of key parts, clustered incrementally.
//!
//! Clusters are connected components of [`miner::compatible`] among templates of equal token
//! count, kept with a union-find, so inserting a template costs one comparison per template of
//! its length and the components equal those of a batch run over the same set in any order.
//! Templates identical but for one plain lower-case word join too once that slot has held
//! [`SLOT_VALUES`] distinct words (user names), a relation on the set, not on arrival order.
//! A component's template is [`miner::merge`] of its members (a function of the member set).
//! Components of different lengths whose templates share their constant words
//! ([`miner::signature`]: `delete <*>` / `delete <*> <*> <*>`) are shown as one template
//! ([`miner::merge_across`]).

use std::collections::{BTreeMap, HashMap};

use super::miner;

/// One family's templates and clusters.
#[derive(Debug, Default, Clone)]
pub struct Family {
    templates: Vec<String>,
    by_len: HashMap<usize, Vec<u32>>,
    parent: Vec<u32>,
    /// Root -> members of its component (sorted, so the merged template is order-free).
    members: HashMap<u32, Vec<u32>>,
    /// Root -> merged template of its component.
    merged: HashMap<u32, String>,
    /// Signature -> token count -> roots whose template has that signature.
    by_sig: HashMap<String, BTreeMap<usize, Vec<u32>>>,
    /// Signature -> template shared across lengths (only signatures seen with 2+ lengths).
    across: HashMap<String, String>,
    /// Word slot (template with one plain word blanked) -> the words seen there and members.
    slots: HashMap<String, Slot>,
}

/// Templates identical but for one plain word.
#[derive(Debug, Default, Clone)]
struct Slot {
    words: Vec<String>,
    members: Vec<u32>,
}

/// Distinct plain words at one position (all else equal) that make the position a variable:
/// two may be two events (`spawn` / `destroy`), three or more are values (user names).
const SLOT_VALUES: usize = 3;

impl Family {
    pub fn new() -> Self {
        Self::default()
    }

    /// The distinct templates in insertion order (member index = position).
    pub fn templates(&self) -> &[String] {
        &self.templates
    }

    /// Adds a never-seen template; returns its member index and every member whose final
    /// template may have changed (including the new one).
    pub fn insert(&mut self, template: String) -> (u32, Vec<u32>) {
        let id = self.templates.len() as u32;
        let len = template.split(' ').count();
        let mut roots = self.compatible_roots(&template, len);
        roots.extend(self.slot_roots(&template, id));
        roots.sort_unstable();
        roots.dedup();
        self.templates.push(template);
        self.parent.push(id);
        self.by_len.entry(len).or_default().push(id);
        self.members.insert(id, vec![id]);
        let mut affected_keys = Vec::new();
        for root in roots {
            if let Some(key) = self.unindex(root, len) {
                affected_keys.push(key);
            }
            self.union_into(id, root);
        }
        let root = self.find(id);
        let merged = self.merge_component(root);
        let key = miner::signature(&merged);
        self.by_sig
            .entry(key.clone())
            .or_default()
            .entry(len)
            .or_default()
            .push(root);
        self.merged.insert(root, merged);
        affected_keys.push(key);
        affected_keys.sort_unstable();
        affected_keys.dedup();
        for key in &affected_keys {
            self.refresh_across(key);
        }
        (id, self.members_under(&affected_keys))
    }

    /// Roots of the components holding a template compatible with `template` (one match per
    /// component is enough: components are connected by any compatible pair).
    fn compatible_roots(&self, template: &str, len: usize) -> Vec<u32> {
        let toks: Vec<&str> = template.split(' ').collect();
        let mut roots: Vec<u32> = Vec::new();
        for &m in self.by_len.get(&len).map(Vec::as_slice).unwrap_or_default() {
            let root = self.find(m);
            if roots.contains(&root) {
                continue;
            }
            let other: Vec<&str> = self.templates[m as usize].split(' ').collect();
            if miner::compatible(&toks, &other) {
                roots.push(root);
            }
        }
        roots
    }

    /// Records `template`'s word slots; returns the roots of the members of every slot that now
    /// has enough distinct words to be a variable.
    fn slot_roots(&mut self, template: &str, id: u32) -> Vec<u32> {
        let mut members = Vec::new();
        for (key, word) in miner::word_slots(template) {
            let slot = self.slots.entry(key).or_default();
            if !slot.words.iter().any(|w| w == word) {
                slot.words.push(word.to_string());
            }
            if slot.words.len() >= SLOT_VALUES {
                members.extend(slot.members.iter().copied());
            }
            slot.members.push(id);
        }
        let mut roots: Vec<u32> = members.into_iter().map(|m| self.find(m)).collect();
        roots.sort_unstable();
        roots.dedup();
        roots
    }

    /// The template a member is shown with now.
    pub fn final_template(&self, member: u32) -> String {
        let root = self.find(member);
        let merged = self.merged.get(&root).cloned().unwrap_or_default();
        match self.across.get(&miner::signature(&merged)) {
            Some(across) => across.clone(),
            None => merged,
        }
    }

    /// Recomputes the cross-length template of one signature.
    fn refresh_across(&mut self, key: &str) {
        let lengths = self.by_sig.get(key);
        if key.is_empty() || lengths.is_none_or(|l| l.len() < 2) {
            self.across.remove(key);
            return;
        }
        // Sorted by text, so the result is a function of the set of component templates.
        let mut texts: Vec<&str> = lengths
            .into_iter()
            .flat_map(|l| l.values().flatten())
            .filter_map(|r| self.merged.get(r).map(String::as_str))
            .collect();
        texts.sort_unstable();
        texts.dedup();
        let across = miner::merge_across(&texts);
        self.across.insert(key.to_string(), across);
    }

    fn find(&self, mut m: u32) -> u32 {
        while self.parent[m as usize] != m {
            m = self.parent[m as usize];
        }
        m
    }

    /// Joins the component of `other_root` into the one holding `id`, keeping the smaller
    /// index as root.
    fn union_into(&mut self, id: u32, other_root: u32) {
        let a = self.find(id);
        let b = other_root;
        if a == b {
            return;
        }
        let (keep, gone) = if a < b { (a, b) } else { (b, a) };
        self.parent[gone as usize] = keep;
        let moved = self.members.remove(&gone).unwrap_or_default();
        let list = self.members.entry(keep).or_default();
        list.extend(moved);
        list.sort_unstable();
        self.merged.remove(&gone);
    }

    /// Removes a root's current template from the signature index; returns its key.
    fn unindex(&mut self, root: u32, len: usize) -> Option<String> {
        let merged = self.merged.remove(&root)?;
        let key = miner::signature(&merged);
        if let Some(lengths) = self.by_sig.get_mut(&key) {
            if let Some(roots) = lengths.get_mut(&len) {
                roots.retain(|r| *r != root);
                if roots.is_empty() {
                    lengths.remove(&len);
                }
            }
            if lengths.is_empty() {
                self.by_sig.remove(&key);
            }
        }
        Some(key)
    }

    fn merge_component(&self, root: u32) -> String {
        let members = self
            .members
            .get(&root)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // Sorted by text, so the merged template is a function of the member set alone.
        let mut texts: Vec<&str> = members
            .iter()
            .map(|m| self.templates[*m as usize].as_str())
            .collect();
        texts.sort_unstable();
        let toks: Vec<Vec<&str>> = texts.iter().map(|t| t.split(' ').collect()).collect();
        miner::merge(&toks)
    }

    fn members_under(&self, keys: &[String]) -> Vec<u32> {
        let mut out = Vec::new();
        for key in keys {
            for roots in self.by_sig.get(key).into_iter().flat_map(|l| l.values()) {
                for r in roots {
                    out.extend(self.members.get(r).into_iter().flatten().copied());
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finals(templates: &[&str]) -> Vec<String> {
        let mut f = Family::new();
        let ids: Vec<u32> = templates
            .iter()
            .map(|t| f.insert(t.to_string()).0)
            .collect();
        ids.iter().map(|id| f.final_template(*id)).collect()
    }

    #[test]
    fn order_does_not_matter() {
        let set = [
            "session closed for user cyrus7",
            "session closed for user news3",
            "<*> Transitioned from NEW to RUNNING",
            "session closed for user <*>",
            "<*> Transitioned from RUNNING to DONE",
        ];
        let forward = finals(&set);
        let mut rev = set;
        rev.reverse();
        let mut backward = finals(&rev);
        backward.reverse();
        assert_eq!(forward, backward);
        assert_eq!(forward[0], "session closed for user <*>");
        assert_eq!(forward[2], "<*> Transitioned from NEW to RUNNING");
    }

    #[test]
    fn three_plain_words_in_one_slot_are_values() {
        let two = finals(&["Took <*> s to spawn it", "Took <*> s to destroy it"]);
        assert_eq!(
            two,
            vec!["Took <*> s to spawn it", "Took <*> s to destroy it"]
        );
        let users = [
            "opened for user cyrus now",
            "opened for user news now",
            "opened for user test now",
        ];
        assert_eq!(finals(&users), vec!["opened for user <*> now"; 3]);
        let mut rev = users;
        rev.reverse();
        assert_eq!(finals(&rev), vec!["opened for user <*> now"; 3]);
    }

    #[test]
    fn variable_runs_collapse_across_lengths() {
        let out = finals(&["ask <*> to delete <*>", "ask <*> to delete <*> <*> <*>"]);
        assert_eq!(out, vec!["ask <*> to delete <*>", "ask <*> to delete <*>"]);
        assert_eq!(
            finals(&["REPORT : <*> <*> <*>"]),
            vec!["REPORT : <*> <*> <*>"]
        );
    }
}
