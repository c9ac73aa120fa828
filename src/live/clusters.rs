//! What a checkpoint keeps of the fingerprinter, behind one seam. The fingerprinter being
//! rewritten elsewhere exports its own state (`Fingerprinter::export` → `FingerprintState`,
//! `Fingerprinter::from_state`); this copy's scaffold cannot, so here the clusters' templates
//! are re-learned from the sample entries the window state holds. (Which fine clusters are
//! *known* — never "new" again — is kept by the pipeline's own snapshot either way.)
//!
//! When merging with the new fingerprinter: `ClusterMemory` becomes `FingerprintState`,
//! `export` returns `fp.export()`, `restore` returns `Fingerprinter::from_state(memory)`, and
//! the checkpoint schema moves to v2.

use serde::{Deserialize, Serialize};

use crate::fingerprint::Fingerprinter;
use crate::pipeline::relearn_templates;

/// The fingerprinter's durable state (nothing, with the scaffold fingerprinter).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMemory {}

/// What to write into a checkpoint.
pub fn export(_fp: &Fingerprinter) -> ClusterMemory {
    ClusterMemory {}
}

/// A fingerprinter that knows the clusters of a checkpoint; `samples` are the raw JSON sample
/// entries its window state holds.
pub fn restore<'a>(
    _memory: ClusterMemory,
    samples: impl Iterator<Item = &'a str>,
) -> Fingerprinter {
    let fp = Fingerprinter::new();
    relearn_templates(&fp, samples);
    fp
}
