use super::*;

const LIMITS: Limits = Limits {
    max_templates: 10_000,
    max_candidates: 512,
};

fn finals_with(templates: &[&str], limits: &Limits) -> Vec<String> {
    let mut f = Family::new();
    let placed: Vec<Placed> = templates.iter().map(|t| f.insert(t, limits)).collect();
    placed
        .iter()
        .zip(templates)
        .map(|(p, t)| match p {
            Placed::Member { member, .. } => f.final_template(*member),
            Placed::Joins(root) => f.final_of_root(*root).to_string(),
            Placed::Alone => t.to_string(),
        })
        .collect()
}

fn finals(templates: &[&str]) -> Vec<String> {
    finals_with(templates, &LIMITS)
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

#[test]
fn the_first_word_may_carry_a_value_but_not_be_one() {
    let out = finals(&["x=<*> started now", "x=abc started now"]);
    assert_eq!(out, vec!["x=<*> started now"; 2]);
    let out = finals(&["klogd startup succeeded", "cupsd startup succeeded"]);
    assert_eq!(
        out,
        vec!["klogd startup succeeded", "cupsd startup succeeded"]
    );
    let out = finals(&["<*> startup succeeded", "cupsd startup succeeded"]);
    assert_eq!(
        out,
        vec!["<*> startup succeeded", "cupsd startup succeeded"]
    );
}

#[test]
fn a_full_family_stores_nothing_more_and_maps_into_frozen_clusters() {
    let limits = Limits {
        max_templates: 4,
        max_candidates: 512,
    };
    let mut f = Family::new();
    for t in [
        "opened for user cyrus now",
        "opened for user news now",
        "opened for user test now",
        "took <*> for job alpha",
    ] {
        assert!(matches!(f.insert(t, &limits), Placed::Member { .. }));
    }
    let before: Vec<String> = (0..4).map(|m| f.final_template(m)).collect();
    // A fifth user joins the users' cluster through the slot, read-only.
    let root = f.root(0);
    assert_eq!(
        f.insert("opened for user zoe now", &limits),
        Placed::Joins(root)
    );
    // Compatible with a stored template: joins it.
    assert_eq!(
        f.insert("took 5s for job alpha", &limits),
        Placed::Joins(f.root(3))
    );
    assert_eq!(f.insert("something else entirely", &limits), Placed::Alone);
    assert_eq!(f.len(), 4);
    let after: Vec<String> = (0..4).map(|m| f.final_template(m)).collect();
    assert_eq!(before, after, "a full family never changes");
}

#[test]
fn too_many_candidates_is_not_mined() {
    let limits = Limits {
        max_templates: 1_000,
        max_candidates: 8,
    };
    let mut f = Family::new();
    // Value-like words are not rigid: every one of these is a candidate for the next.
    for i in 0..9 {
        let t = format!("user a{i} b{i} c{i}");
        assert!(
            matches!(f.insert(&t, &limits), Placed::Member { .. }),
            "{t}"
        );
    }
    assert_eq!(f.insert("user a1 x2 y3", &limits), Placed::Alone);
    // One token off a stored template (a slot): read as its cluster.
    assert_eq!(
        f.insert("user a1 b1 zz9", &limits),
        Placed::Joins(f.root(1))
    );
    assert_eq!(f.len(), 9);
}

#[test]
fn mining_work_is_bounded_per_template() {
    // 2,000 distinct messages that share their bucket and every rigid word: a pass over the
    // family would compare each with all before it.
    let mut f = Family::new();
    let limits = LIMITS;
    let mut joined = 0;
    for i in 0..2_000 {
        let t = format!("worker w{i} finished step <*> of <*>");
        match f.insert(&t, &limits) {
            Placed::Member { roots, .. } => assert!(roots.len() <= GROUP_CAP + 1),
            Placed::Joins(root) => {
                assert_eq!(root, f.root(0));
                joined += 1;
            }
            Placed::Alone => panic!("{t} has a slot mate"),
        }
    }
    // The first templates are mined (one cluster); later ones find too many candidates and
    // read as that cluster through a slot.
    assert_eq!(f.final_template(0), "worker <*> finished step <*> of <*>");
    assert_eq!(f.len(), limits.max_candidates + 1);
    assert_eq!(joined, 2_000 - f.len());
}
