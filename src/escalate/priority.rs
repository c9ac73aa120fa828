//! The priority scale: P0 (service blocking, page now) to P5 (noise).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::entry::Severity;

/// P0 is the most urgent. `Ord` follows urgency: `P0 < P1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    P0,
    P1,
    P2,
    P3,
    P4,
    P5,
}

impl Priority {
    pub const ALL: [Priority; 6] = [
        Priority::P0,
        Priority::P1,
        Priority::P2,
        Priority::P3,
        Priority::P4,
        Priority::P5,
    ];

    pub fn level(self) -> i32 {
        self as i32
    }

    /// The priority `level`, clamped to P0..P5.
    pub fn from_level(level: i32) -> Priority {
        Priority::ALL[level.clamp(0, 5) as usize]
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn as_str(self) -> &'static str {
        ["P0", "P1", "P2", "P3", "P4", "P5"][self as usize]
    }

    /// What the priority means to the person reading the worklog.
    pub fn meaning(self) -> &'static str {
        [
            "critical: service blocking, act now",
            "high: user-facing failures, today",
            "medium: errors to fix this week",
            "low: warnings and hygiene, backlog",
            "informational: monitor only",
            "noise: no action",
        ][self as usize]
    }

    /// The priority an entry gets from its severity alone, when no rule matches.
    pub fn from_severity(sev: Severity) -> Priority {
        match sev {
            Severity::Critical | Severity::Alert | Severity::Emergency => Priority::P1,
            Severity::Error => Priority::P2,
            Severity::Warning => Priority::P3,
            Severity::Notice | Severity::Info => Priority::P4,
            Severity::Debug | Severity::Default => Priority::P5,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_defaults_follow_the_documented_table() {
        assert_eq!(Priority::from_severity(Severity::Emergency), Priority::P1);
        assert_eq!(Priority::from_severity(Severity::Critical), Priority::P1);
        assert_eq!(Priority::from_severity(Severity::Error), Priority::P2);
        assert_eq!(Priority::from_severity(Severity::Warning), Priority::P3);
        assert_eq!(Priority::from_severity(Severity::Notice), Priority::P4);
        assert_eq!(Priority::from_severity(Severity::Info), Priority::P4);
        assert_eq!(Priority::from_severity(Severity::Default), Priority::P5);
    }

    #[test]
    fn levels_clamp_and_parse() {
        assert_eq!(Priority::from_level(-3), Priority::P0);
        assert_eq!(Priority::from_level(9), Priority::P5);
        assert_eq!(Priority::parse(" p2"), Some(Priority::P2));
        assert_eq!(Priority::parse("P6"), None);
        assert!(Priority::P0 < Priority::P1);
    }
}
