//! Loghub-2k message lines for tests and benches, read in place from `../shared/data` (the data
//! is licensed for evaluation only and is never copied into this repository).

use std::path::PathBuf;

/// The data sets present in `../shared/data/loghub-2k`.
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
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/loghub-2k")
}

/// The `Content` column of one data set's corrected structured CSV, in log order.
pub fn contents(name: &str) -> std::io::Result<Vec<String>> {
    let path = data_dir().join(format!("{name}/{name}_2k.log_structured_corrected.csv"));
    let mut reader = csv::Reader::from_path(&path).map_err(std::io::Error::other)?;
    let col = reader
        .headers()
        .map_err(std::io::Error::other)?
        .iter()
        .position(|h| h == "Content")
        .ok_or_else(|| std::io::Error::other(format!("{}: no Content column", path.display())))?;
    reader
        .records()
        .map(|r| {
            r.map(|r| r.get(col).unwrap_or_default().to_owned())
                .map_err(std::io::Error::other)
        })
        .collect()
}
