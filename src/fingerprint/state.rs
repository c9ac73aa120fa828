//! What survives a restart: the distinct masked templates per key, and former canonical ids.
//! Everything else (clusters, templates, canonical ids) is recomputed from the templates, which
//! gives the same answer because mining depends only on the template set.

use serde::{Deserialize, Serialize};

use super::ClusterId;
use crate::entry::SeverityClass;

/// Serializable fingerprinter state (`Fingerprinter::export` / `Fingerprinter::from_state`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintState {
    /// One entry per set of key parts, sorted by key.
    pub families: Vec<FamilyState>,
    /// Former canonical id -> the canonical id it was folded into.
    pub redirects: Vec<(ClusterId, ClusterId)>,
    /// Templates registered as they are (request lines), never mined; sorted by key.
    #[serde(default)]
    pub exact: Vec<FamilyState>,
}

/// The distinct masked templates seen under one set of key parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyState {
    pub service: String,
    pub class: SeverityClass,
    pub location: String,
    pub templates: Vec<String>,
}
