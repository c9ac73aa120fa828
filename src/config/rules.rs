//! The `[escalation]` section and the `[[rules]]`, validated and compiled, within a memory
//! budget: each pattern's text and compiled size are capped, so is their sum and the number of
//! rules.
//!
//! Why a budget: a Unicode class is large once compiled (`\w{3,40}` is about 2 MiB), so ten
//! thousand such rules would take the process down long before the first entry arrives; and a
//! long alternation of words is matched by an automaton the compiled-size cap does not see.

use regex::{Regex, RegexBuilder};

use super::raw::{RawEscalation, RawRule};
use super::{at_most, invalid, priority, severity, ConfigError};
use crate::escalate::{CountTier, Escalation, Rule, RuleAction, RuleMatch, Spike};

/// At most this many rules (the built-in list has ten; rules are tried in order per cluster).
pub const MAX_RULES: usize = 500;
/// At most this many count tiers (each is looked at per cluster and window; five raises
/// need no more than five).
pub const MAX_COUNT_TIERS: usize = 16;
/// One pattern's compiled program may take at most this much memory (`\w{3,40}` fits).
pub const REGEX_SIZE_LIMIT: usize = 2 << 20;
/// One pattern's text may be at most this long. `regex` matches an alternation of 3,000
/// literals or more with an Aho-Corasick automaton instead of its program, and
/// [`REGEX_SIZE_LIMIT`] does not bound that automaton (a million words, 8.9 MB of text, took
/// 1.2 GB); parsing, too, takes memory in proportion to the text. Under 9,000 bytes no
/// alternation holds 3,000 literals of two bytes or more (each takes three with its `|`),
/// and single bytes make at most 256 states; every other pattern goes through the program.
pub const REGEX_SOURCE_LIMIT: usize = 8 << 10;
/// All patterns together: the sum of their compiled sizes, each rounded up to a power of two
/// from 16 KiB (the built-in rules take 464 KiB, the database rule's wordings 128 of it).
pub const REGEX_BUDGET: usize = 32 << 20;
/// The lazy DFA's transition cache per pattern (regex's default is 2 MiB): rules are matched
/// once per new cluster and window, not per entry, so a small cache costs no throughput.
pub const REGEX_DFA_CACHE: usize = 256 << 10;
/// The smallest size a pattern is charged.
const REGEX_MIN_CHARGE: usize = 16 << 10;

/// What the patterns compiled so far take from [`REGEX_BUDGET`]. Each is charged at least
/// [`REGEX_MIN_CHARGE`], which covers its text (kept by the `Regex`, at most
/// [`REGEX_SOURCE_LIMIT`]).
struct Budget {
    used: usize,
}

impl Budget {
    /// Compiles `pattern` and charges it: the smallest power of two (from 16 KiB) its program
    /// fits in. A failed try stops as soon as the program outgrows the limit, so finding the
    /// size costs about one more compile.
    fn compile(&mut self, key: &str, pattern: &str) -> Result<Regex, ConfigError> {
        if pattern.len() > REGEX_SOURCE_LIMIT {
            return Err(invalid(
                key,
                format!(
                    "the pattern is {} bytes long; at most {} KiB (a long list of words \
                     `a|b|…` is matched outside the compiled-size budget; match what the \
                     words share, or split the list over several rules)",
                    pattern.len(),
                    REGEX_SOURCE_LIMIT >> 10
                ),
            ));
        }
        let mut limit = REGEX_MIN_CHARGE;
        loop {
            let built = RegexBuilder::new(pattern)
                .size_limit(limit)
                .dfa_size_limit(REGEX_DFA_CACHE)
                .build();
            match built {
                Ok(re) => return self.charge(key, limit).map(|()| re),
                Err(regex::Error::CompiledTooBig(_)) if limit < REGEX_SIZE_LIMIT => limit *= 2,
                Err(regex::Error::CompiledTooBig(_)) => {
                    return Err(invalid(
                        key,
                        format!(
                            "the compiled pattern exceeds {} MiB (a Unicode class such as \\w \
                             under a large repetition; try (?-u)\\w or a smaller count)",
                            REGEX_SIZE_LIMIT >> 20
                        ),
                    ))
                }
                Err(e) => return Err(invalid(key, format!("not a valid regex: {e}"))),
            }
        }
    }

    fn charge(&mut self, key: &str, size: usize) -> Result<(), ConfigError> {
        self.used += size;
        if self.used > REGEX_BUDGET {
            return Err(invalid(
                key,
                format!(
                    "the rules' patterns together exceed {} MiB compiled; this one brings them \
                     to {} KiB",
                    REGEX_BUDGET >> 20,
                    self.used >> 10
                ),
            ));
        }
        Ok(())
    }
}

/// Every rule, compiled in order, within [`MAX_RULES`] and the regex budget.
pub(super) fn compile_rules(raw: &[RawRule]) -> Result<Vec<Rule>, ConfigError> {
    at_most("rules", raw.len(), MAX_RULES, "rules")?;
    // First match decides: a rule without a condition matches every cluster, so it can only
    // be the last (an "everything else" rule); before others it silently disables them.
    if let Some(i) = raw
        .iter()
        .rev()
        .skip(1)
        .position(RawRule::matches_everything)
    {
        let i = raw.len() - 2 - i;
        return Err(invalid(
            format!("rules[{i}]"),
            format!(
                "has no condition (message, logger, service, min_severity, max_severity), so it \
                 matches every cluster and rules[{}] after it are never tried; give it a \
                 condition or make it the last rule",
                if i + 2 == raw.len() {
                    format!("{}", i + 1)
                } else {
                    format!("{}..{}", i + 1, raw.len() - 1)
                }
            ),
        ));
    }
    let mut budget = Budget { used: 0 };
    raw.iter()
        .enumerate()
        .map(|(i, r)| compile_rule(i, r, &mut budget))
        .collect()
}

fn compile_rule(i: usize, r: &RawRule, budget: &mut Budget) -> Result<Rule, ConfigError> {
    let key = |f: &str| format!("rules[{i}].{f}");
    if r.name.trim().is_empty() {
        return Err(invalid(
            key("name"),
            "every rule needs a name (it is quoted as the reason)",
        ));
    }
    let action = match (&r.priority, r.adjust) {
        (Some(p), None) => RuleAction::Set(priority(&key("priority"), p)?),
        (None, Some(d)) if (-5..=5).contains(&d) => RuleAction::Adjust(d),
        (None, Some(_)) => return Err(invalid(key("adjust"), "must be between -5 and 5")),
        _ => {
            return Err(invalid(
                key("priority"),
                "give exactly one of `priority` or `adjust`",
            )
            .across(&[&key("adjust")]))
        }
    };
    let mut re =
        |f: &str, v: &Option<String>| v.as_deref().map(|s| budget.compile(&key(f), s)).transpose();
    let matcher = RuleMatch {
        message: re("message", &r.message)?,
        logger: re("logger", &r.logger)?,
        service: re("service", &r.service)?,
        min_severity: opt_severity(&key("min_severity"), &r.min_severity)?,
        max_severity: opt_severity(&key("max_severity"), &r.max_severity)?,
    };
    Ok(Rule {
        name: r.name.clone(),
        description: r.description.clone(),
        matcher,
        action,
        thresholds: r.thresholds,
    })
}

fn opt_severity(
    key: &str,
    v: &Option<String>,
) -> Result<Option<crate::entry::Severity>, ConfigError> {
    v.as_deref().map(|s| severity(key, s)).transpose()
}

/// Count tiers and the spike rule, checked: counts and factors that can trigger, raises that
/// stay within P0..P5.
pub(super) fn escalation(e: &RawEscalation, rules: Vec<Rule>) -> Result<Escalation, ConfigError> {
    at_most("escalation.count", e.count.len(), MAX_COUNT_TIERS, "tiers")?;
    let mut count_tiers = Vec::new();
    for (i, t) in e.count.iter().enumerate() {
        if t.at_least == 0 {
            return Err(invalid(
                format!("escalation.count[{i}].at_least"),
                "must be at least 1",
            ));
        }
        if !(1..=5).contains(&t.raise) {
            return Err(invalid(
                format!("escalation.count[{i}].raise"),
                "must be between 1 and 5",
            ));
        }
        count_tiers.push(CountTier {
            at_least: t.at_least,
            raise: t.raise,
        });
    }
    count_tiers.sort_by_key(|t| t.at_least);
    let spike = match &e.spike {
        // `!(x > 1.0)` also refuses NaN, which every comparison answers with false.
        Some(s) if !(s.factor > 1.0 && s.factor <= 1000.0) => {
            return Err(invalid(
                "escalation.spike.factor",
                "must be a number above 1 and at most 1000",
            ))
        }
        Some(s) if s.min_count == 0 => {
            return Err(invalid("escalation.spike.min_count", "must be at least 1"))
        }
        Some(s) if !(1..=5).contains(&s.raise) => {
            return Err(invalid("escalation.spike.raise", "must be between 1 and 5"))
        }
        Some(s) => Some(Spike {
            factor: s.factor,
            min_count: s.min_count,
            raise: s.raise,
        }),
        None => None,
    };
    Ok(Escalation {
        rules,
        count_tiers,
        spike,
        ceiling: priority("escalation.ceiling", &e.ceiling)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawConfig;

    /// What the README says of the built-in rules' charge, measured: the shipped rules leave
    /// nearly all of the budget to a team's own.
    #[test]
    fn the_built_in_rules_take_a_small_part_of_the_regex_budget() {
        let raw: RawConfig = config::Config::builder()
            .add_source(config::File::from_str(
                crate::config::DEFAULT_TOML,
                config::FileFormat::Toml,
            ))
            .build()
            .and_then(|c| c.try_deserialize())
            .unwrap();
        let mut budget = Budget { used: 0 };
        for (i, r) in raw.rules.iter().enumerate() {
            compile_rule(i, r, &mut budget).unwrap();
        }
        let (i, database) = raw
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.name == "database-unavailable")
            .expect("the built-in database rule");
        let mut alone = Budget { used: 0 };
        compile_rule(i, database, &mut alone).unwrap();
        eprintln!(
            "built-in rules: {} rules, {} KiB charged; the database rule {} KiB",
            raw.rules.len(),
            budget.used >> 10,
            alone.used >> 10
        );
        assert!(
            budget.used <= REGEX_BUDGET / 32,
            "{} KiB",
            budget.used >> 10
        );
    }
}
