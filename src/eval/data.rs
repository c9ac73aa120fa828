//! Finding and reading labelled data sets in the Loghub layout: a CSV per data set with a
//! `Content` column (the message) and an `EventTemplate` column (its true template, `<*>` for
//! variables).
//!
//! Accepted layout of `DIR` (one level deep, hidden entries skipped):
//!
//! ```text
//! DIR/<Name>/*_structured_corrected.csv  corrected labels (preferred), e.g. Loghub-2.0's
//!                                          <Name>_2k.log_structured_corrected.csv
//! DIR/<Name>/*_structured.csv              if the folder has no corrected file
//! DIR/*_structured[_corrected].csv         DIR itself may be one data set's folder
//! ```
//!
//! A folder with one such file is one data set named after the folder; a folder with several is
//! one data set per file, named `<folder>/<file stem>`.

use std::path::{Path, PathBuf};

use super::EvalError;

/// Preferred: the Loghub-2.0 corrected ground truth.
const CORRECTED: &str = "_structured_corrected.csv";
/// Accepted when a folder has no corrected file: original Loghub labels, or a user's own.
const PLAIN: &str = "_structured.csv";

/// One labelled data set found under the directory: its display name and its CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFile {
    pub name: String,
    pub path: PathBuf,
}

/// One data set's lines: `contents[i]` is a message, `templates[i]` its true template.
#[derive(Debug, Clone, Default)]
pub struct Labelled {
    pub contents: Vec<String>,
    pub templates: Vec<String>,
}

/// The labelled CSVs under `dir`, ordered by name.
///
/// # Errors
/// [`EvalError::BadDir`] if `dir` cannot be listed, [`EvalError::NoDataSets`] if nothing in it
/// matches the layout.
pub fn discover(dir: &Path) -> Result<Vec<SetFile>, EvalError> {
    let bad_dir = |source| EvalError::BadDir {
        dir: dir.to_owned(),
        source,
    };
    let mut found = sets_in(dir, None).map_err(bad_dir)?;
    for sub in sorted_entries(dir).map_err(bad_dir)? {
        let folder = file_name(&sub);
        // A subfolder that cannot be listed is reported when a file in it is read, not here:
        // it may not be a data set at all.
        if sub.is_dir() && !folder.starts_with('.') {
            found.extend(sets_in(&sub, Some(&folder)).unwrap_or_default());
        }
    }
    if found.is_empty() {
        return Err(EvalError::NoDataSets {
            dir: dir.to_owned(),
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The data sets directly in `folder`: its corrected CSVs if it has any, else its plain ones.
/// `label` names a subfolder's sets; `None` for `DIR` itself.
fn sets_in(folder: &Path, label: Option<&str>) -> std::io::Result<Vec<SetFile>> {
    let files: Vec<PathBuf> = sorted_entries(folder)?
        .into_iter()
        .filter(|p| p.is_file() && !file_name(p).starts_with('.'))
        .collect();
    let with = |suffix: &str| -> Vec<PathBuf> {
        files
            .iter()
            .filter(|p| file_name(p).ends_with(suffix))
            .cloned()
            .collect()
    };
    let (chosen, suffix) = match with(CORRECTED) {
        c if !c.is_empty() => (c, CORRECTED),
        _ => (with(PLAIN), PLAIN),
    };
    let single = chosen.len() == 1;
    Ok(chosen
        .into_iter()
        .map(|path| {
            let stem = stem(&file_name(&path), suffix);
            let name = match label {
                Some(l) if single => l.to_owned(),
                Some(l) => format!("{l}/{stem}"),
                None => stem,
            };
            SetFile { name, path }
        })
        .collect())
}

/// `HDFS_2k.log_structured_corrected.csv` → `HDFS`; `api.log_structured.csv` → `api`.
fn stem(file: &str, suffix: &str) -> String {
    let s = file.strip_suffix(suffix).unwrap_or(file);
    let s = s.strip_suffix(".log").unwrap_or(s);
    let s = s.strip_suffix("_2k").unwrap_or(s);
    s.to_owned()
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    paths.sort();
    Ok(paths)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads one labelled CSV. Bytes that are not UTF-8 are replaced, not refused (one odd byte must
/// not lose a data set), as `log-gardener parse` does with its input.
///
/// # Errors
/// [`EvalError::Unreadable`] if the file cannot be read or is not CSV (ragged rows included),
/// [`EvalError::MissingColumn`] without `Content` or `EventTemplate`, [`EvalError::Empty`]
/// without a data row.
pub fn load(path: &Path) -> Result<Labelled, EvalError> {
    let unreadable = |source| EvalError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(unreadable)?;
    let headers = reader.byte_headers().map_err(unreadable)?.clone();
    let column = |name: &'static str| {
        headers
            .iter()
            .position(|h| trim_bom(h) == name.as_bytes())
            .ok_or_else(|| EvalError::MissingColumn {
                path: path.to_owned(),
                column: name,
            })
    };
    let (content, template) = (column("Content")?, column("EventTemplate")?);
    let mut set = Labelled::default();
    for record in reader.byte_records() {
        let record = record.map_err(unreadable)?;
        let field = |i| String::from_utf8_lossy(record.get(i).unwrap_or_default()).into_owned();
        set.contents.push(field(content));
        set.templates.push(field(template));
    }
    if set.contents.is_empty() {
        return Err(EvalError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(set)
}

fn trim_bom(header: &[u8]) -> &[u8] {
    header.strip_prefix(b"\xef\xbb\xbf").unwrap_or(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    const CSV: &str = "LineId,Content,EventTemplate\n1,a 1,a <*>\n";

    #[test]
    fn loghub_layout_prefers_corrected_labels_and_names_sets_after_folders() {
        let d = tempfile::tempdir().unwrap();
        let hdfs = write(d.path(), "HDFS/HDFS_2k.log_structured_corrected.csv", CSV);
        write(d.path(), "HDFS/HDFS_2k.log_structured.csv", CSV);
        write(d.path(), "HDFS/HDFS_2k.log_templates_corrected.csv", CSV);
        let api = write(d.path(), "api/api.log_structured.csv", CSV);
        write(d.path(), ".hidden/x_structured.csv", CSV);
        write(d.path(), "notes/readme.txt", "not data");
        let found = discover(d.path()).unwrap();
        let want = [("HDFS", hdfs), ("api", api)];
        let want: Vec<SetFile> = want
            .into_iter()
            .map(|(n, path)| SetFile {
                name: n.into(),
                path,
            })
            .collect();
        assert_eq!(found, want);
    }

    #[test]
    fn a_folder_with_several_files_gives_one_set_each_and_dir_itself_may_be_a_set() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "svc/web_structured.csv", CSV);
        write(d.path(), "svc/worker_structured.csv", CSV);
        write(d.path(), "mine_2k.log_structured.csv", CSV);
        let names: Vec<String> = discover(d.path())
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["mine", "svc/web", "svc/worker"]);
    }

    #[test]
    fn nothing_recognisable_or_no_directory_is_a_bad_dir() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "HDFS/HDFS_2k.log", "raw lines only");
        assert!(matches!(
            discover(d.path()),
            Err(EvalError::NoDataSets { .. })
        ));
        assert!(matches!(
            discover(&d.path().join("absent")),
            Err(EvalError::BadDir { .. })
        ));
    }

    #[test]
    fn load_reads_the_two_columns_in_any_position_with_quotes_and_a_bom() {
        let d = tempfile::tempdir().unwrap();
        let text = "\u{feff}EventTemplate,LineId,Content\n\"a, <*>\",1,\"a, 1\"\nb,2,b\n";
        let set = load(&write(d.path(), "x_structured.csv", text)).unwrap();
        assert_eq!(set.contents, ["a, 1", "b"]);
        assert_eq!(set.templates, ["a, <*>", "b"]);
    }

    #[test]
    fn load_names_what_is_wrong_with_a_file() {
        let d = tempfile::tempdir().unwrap();
        let missing = write(d.path(), "m_structured.csv", "LineId,Content\n1,a\n");
        assert!(matches!(
            load(&missing),
            Err(EvalError::MissingColumn {
                column: "EventTemplate",
                ..
            })
        ));
        let empty = write(d.path(), "e_structured.csv", "Content,EventTemplate\n");
        assert!(matches!(load(&empty), Err(EvalError::Empty { .. })));
        let ragged = write(
            d.path(),
            "r_structured.csv",
            "Content,EventTemplate\na,b,c\n",
        );
        assert!(matches!(load(&ragged), Err(EvalError::Unreadable { .. })));
        let absent = d.path().join("absent_structured.csv");
        assert!(matches!(load(&absent), Err(EvalError::Unreadable { .. })));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("b_structured.csv");
        std::fs::write(&p, b"Content,EventTemplate\nab\xff,ab<*>\n").unwrap();
        assert_eq!(load(&p).unwrap().contents, ["ab\u{fffd}"]);
    }
}
