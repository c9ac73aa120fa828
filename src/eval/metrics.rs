//! The Loghub-2.0 accuracy metrics (GA, FGA, PA, FTA) over one labelled data set: pure functions
//! of the ground-truth templates and the parsed templates, line by line.
//!
//! Both sides are keyed by their whitespace-normalised template string, as the LogPAI and
//! Loghub-2.0 evaluators (and `loghub_eval.py`) do: two lines are in the same parsed group iff the
//! parser gave them the same template.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

/// The scores of one data set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Grouping accuracy: the share of lines whose parsed group holds exactly the lines of their
    /// ground-truth group.
    #[serde(rename = "GA")]
    pub ga: f64,
    /// F1 of grouping: correct groups over parsed groups (precision) and over ground-truth
    /// groups (recall).
    #[serde(rename = "FGA")]
    pub fga: f64,
    /// Parsing accuracy: the share of lines whose parsed template equals their ground truth.
    #[serde(rename = "PA")]
    pub pa: f64,
    /// F1 of templates: a parsed template is correct iff every line carrying it has exactly
    /// that ground-truth template; precision over parsed, recall over ground-truth templates.
    #[serde(rename = "FTA")]
    pub fta: f64,
    /// Distinct parsed templates.
    pub groups: usize,
    /// Distinct ground-truth templates.
    pub gt_groups: usize,
}

/// Python's `" ".join(s.split())`: runs of whitespace become one space, none at either end.
/// Python's `str.split()` also splits on the ASCII separators U+001C..U+001F, which Rust's
/// `char::is_whitespace` does not count; both are used so the scores match the reference tool.
pub fn normalize(template: &str) -> String {
    let is_space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
    let mut out = String::with_capacity(template.len());
    for word in template.split(is_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Scores `parsed` against `truth`, one template per line each, in the same line order.
/// Templates are normalised here ([`normalize`]). An empty data set scores 0 everywhere.
///
/// # Panics
/// If the two slices differ in length: the caller pairs each line with its own answer.
pub fn score<T: AsRef<str>, P: AsRef<str>>(truth: &[T], parsed: &[P]) -> Scores {
    assert_eq!(truth.len(), parsed.len(), "one parsed template per line");
    let truth: Vec<String> = truth.iter().map(|t| normalize(t.as_ref())).collect();
    let parsed: Vec<String> = parsed.iter().map(|p| normalize(p.as_ref())).collect();
    let (ga, fga, groups) = group_accuracy(&truth, &parsed);
    let gt_groups = truth.iter().collect::<HashSet<_>>().len();
    let equal = truth.iter().zip(&parsed).filter(|(t, p)| t == p).count();
    Scores {
        ga,
        fga,
        pa: ratio(equal, truth.len()),
        fta: template_accuracy(&truth, &parsed),
        groups,
        gt_groups,
    }
}

/// GA, FGA and the number of parsed groups. A parsed group is correct iff all its lines share one
/// ground-truth template and it holds every line of that template.
fn group_accuracy(truth: &[String], parsed: &[String]) -> (f64, f64, usize) {
    let mut truth_size: HashMap<&str, usize> = HashMap::new();
    let mut members: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
    for (t, p) in truth.iter().zip(parsed) {
        *truth_size.entry(t).or_default() += 1;
        *members.entry(p).or_default().entry(t).or_default() += 1;
    }
    let (mut correct_lines, mut correct_groups) = (0, 0);
    for counts in members.values() {
        let mut it = counts.iter();
        if let (Some((t, n)), None) = (it.next(), it.next()) {
            if truth_size[t] == *n {
                correct_lines += n;
                correct_groups += 1;
            }
        }
    }
    let ga = ratio(correct_lines, truth.len());
    let fga = f1(
        ratio(correct_groups, members.len()),
        ratio(correct_groups, truth_size.len()),
    );
    (ga, fga, members.len())
}

/// FTA. A parsed template that carries lines of exactly one ground-truth template, equal to
/// itself, is correct even if another parsed template took some lines of the same truth (a split
/// group): Loghub-2.0 judges the template text here, GA judges the grouping.
fn template_accuracy(truth: &[String], parsed: &[String]) -> f64 {
    let mut members: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (t, p) in truth.iter().zip(parsed) {
        members.entry(p).or_default().insert(t);
    }
    let correct = members
        .iter()
        .filter(|(p, ts)| ts.len() == 1 && ts.contains(*p))
        .count();
    let truth_templates = truth.iter().collect::<HashSet<_>>().len();
    f1(
        ratio(correct, members.len()),
        ratio(correct, truth_templates),
    )
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn a_perfect_parse_scores_one() {
        let t = ["a <*>", "a <*>", "b"];
        let s = score(&t, &t);
        assert_eq!((s.ga, s.fga, s.pa, s.fta), (1.0, 1.0, 1.0, 1.0));
        assert_eq!((s.groups, s.gt_groups), (2, 2));
    }

    /// Truth A A B C; the parser puts A A B into one group P and gets C right.
    /// GA: only C's line is in a correct group, 1/4. Groups: P wrong, C right: precision 1/2,
    /// recall 1/3, F1 = 2·(1/6)/(5/6) = 0.4. PA: line 4 only, 1/4. FTA: C correct, P not: 0.4.
    #[test]
    fn a_parsed_group_merging_two_truth_groups_is_wrong_for_all_its_lines() {
        let s = score(&["A", "A", "B", "C"], &["P", "P", "P", "C"]);
        assert!(close(s.ga, 0.25), "{s:?}");
        assert!(close(s.fga, 0.4), "{s:?}");
        assert!(close(s.pa, 0.25), "{s:?}");
        assert!(close(s.fta, 0.4), "{s:?}");
        assert_eq!((s.groups, s.gt_groups), (2, 3));
    }

    /// Truth A A A B; the parser gives the third A line another template A2.
    /// GA: group A has 2 of A's 3 lines, A2 has 1: both wrong; B right: 1/4. Groups: 1 of 3
    /// parsed, 1 of 2 truth: F1 = 2·(1/6)/(5/6) = 0.4. PA: lines 1, 2, 4: 3/4.
    /// FTA: parsed template A carries only truth A and equals it, so it counts as correct despite
    /// the split; A2 does not; B does: precision 2/3, recall 2/2, F1 = 2·(2/3)/(5/3) = 0.8.
    #[test]
    fn a_parsed_group_splitting_a_truth_group_fails_ga_but_its_exact_template_counts_for_fta() {
        let s = score(&["A", "A", "A", "B"], &["A", "A", "A2", "B"]);
        assert!(close(s.ga, 0.25), "{s:?}");
        assert!(close(s.fga, 0.4), "{s:?}");
        assert!(close(s.pa, 0.75), "{s:?}");
        assert!(close(s.fta, 0.8), "{s:?}");
        assert_eq!((s.groups, s.gt_groups), (3, 2));
    }

    /// Templates that differ only in whitespace are one template, on both sides.
    #[test]
    fn templates_equal_after_normalisation_are_the_same_group_and_a_correct_parse() {
        let truth = ["open  <*> failed", "open <*> failed ", "close"];
        let parsed = [" open <*>\tfailed", "open <*>\u{1f}failed", "close\n"];
        let s = score(&truth, &parsed);
        assert_eq!((s.ga, s.fga, s.pa, s.fta), (1.0, 1.0, 1.0, 1.0));
        assert_eq!((s.groups, s.gt_groups), (2, 2));
    }

    /// A correct grouping with wrong template text: GA and FGA 1, PA and FTA 0.
    #[test]
    fn right_groups_with_wrong_text_score_on_grouping_only() {
        let s = score(&["x <*>", "x <*>", "y"], &["x 1", "x 1", "y <*>"]);
        assert_eq!((s.ga, s.fga, s.pa, s.fta), (1.0, 1.0, 0.0, 0.0));
    }

    #[test]
    fn normalize_collapses_whitespace_like_python_split() {
        assert_eq!(normalize("  a \t b\r\n c  "), "a b c");
        assert_eq!(normalize("a\u{a0}b\u{1c}c\u{3000}d"), "a b c d");
        assert_eq!(normalize(" \t "), "");
    }

    #[test]
    fn an_empty_data_set_scores_zero() {
        let none: [&str; 0] = [];
        let s = score(&none, &none);
        assert_eq!(
            (s.ga, s.fga, s.pa, s.fta, s.groups),
            (0.0, 0.0, 0.0, 0.0, 0)
        );
    }

    #[test]
    #[should_panic(expected = "one parsed template per line")]
    fn lengths_must_match() {
        score(&["a"], &["a", "b"]);
    }
}
