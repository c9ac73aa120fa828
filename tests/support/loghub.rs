//! Loghub-2k message lines for tests and benches, from the labelled data shipped in
//! `tests/data/loghub-2k` (see its README for provenance, licence and citation).

use std::path::PathBuf;

/// The data sets in `tests/data/loghub-2k`.
pub const DATASETS: [&str; 8] = [
    "HDFS",
    "Hadoop",
    "Spark",
    "BGL",
    "Linux",
    "HealthApp",
    "Proxifier",
    "OpenStack",
];

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/loghub-2k")
}

/// The `Content` column of one data set's corrected structured CSV, in log order.
pub fn contents(name: &str) -> Result<Vec<String>, log_gardener::eval::EvalError> {
    let path = data_dir().join(format!("{name}/{name}_2k.log_structured_corrected.csv"));
    log_gardener::eval::data::load(&path).map(|set| set.contents)
}
