//! Replacing a file whole: a reader sees the old content or the new, never half of either,
//! and after a crash the file is one or the other. The temporary file is created exclusively
//! (`O_EXCL`, a random name) in the target's directory, so a pre-placed file or symlink of a
//! predictable name can never be followed or overwritten; it is fsynced before the rename,
//! and the directory after it, so the rename itself survives a power cut — or, for a batch of
//! files made durable at once ([`Durability::Deferred`], what `replay` writes), by one [`sync`]
//! after the last of them.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// When a file written here is durable (survives a crash of the machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// When the write returns: the file is fsynced before the rename, its directory after.
    #[default]
    EachWrite,
    /// Once [`sync`] has been called for it. The rename still replaces the file whole for any
    /// reader; only the flushes wait, so a batch of files costs one flush, not two per file.
    Deferred,
}

/// Writes `bytes` to `path` atomically (see the module doc). Creates the directory if needed.
/// The file is readable by its owner only (state: the checkpoint, the GitHub outbox).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, bytes, None, Durability::EachWrite)
}

/// [`write`] for a report others read (a worklog, the GitHub sync details): with the mode a
/// file written the ordinary way gets (`0666` less the umask, `0644` usually), not only the
/// service's user's — a CI job uploading worklogs or a web server serving them runs as someone
/// else.
pub fn write_readable(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    write_with(path, bytes, Some(0o666 & !umask()), durability)
}

/// Makes `files`, written with [`Durability::Deferred`], durable with their directories: on
/// Linux one `syncfs` of the file system of each directory, elsewhere an fsync of each file
/// and directory.
pub fn sync(files: &[PathBuf]) -> std::io::Result<()> {
    let dirs: BTreeSet<&Path> = files.iter().map(|f| dir_of(f)).collect();
    #[cfg(target_os = "linux")]
    for dir in dirs {
        rustix::fs::syncfs(std::fs::File::open(dir)?)?;
    }
    #[cfg(not(target_os = "linux"))]
    {
        for f in files {
            std::fs::File::open(f)?.sync_all()?;
        }
        for d in dirs {
            if let Ok(d) = std::fs::File::open(d) {
                // Not every file system lets a directory be fsynced; the renames happened.
                let _ = d.sync_all();
            }
        }
    }
    Ok(())
}

fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The process's umask, from `/proc/self/status` (reading it with `umask(2)` would change it
/// for every thread for a moment); `022` where that is not available.
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("Umask:"))?;
                u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
            })
            .unwrap_or(0o022)
    })
}

fn write_with(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
    durability: Durability,
) -> std::io::Result<()> {
    let dir = dir_of(path);
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".log-gardener-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.as_file_mut().write_all(bytes)?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    if durability == Durability::Deferred {
        tmp.persist(path).map_err(|e| e.error)?;
        return Ok(());
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Not every file system lets a directory be fsynced; the rename happened either way.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_never_follows_a_planted_temp_name() {
        for durability in [Durability::EachWrite, Durability::Deferred] {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("w.json");
            let victim = dir.path().join("victim");
            std::fs::write(&victim, b"keep me").unwrap();
            // What the old code would have written through: `<stem>.json.tmp`.
            #[cfg(unix)]
            std::os::unix::fs::symlink(&victim, dir.path().join("w.json.tmp")).unwrap();
            write_with(&target, b"one", None, durability).unwrap();
            write_with(&target, b"two", None, durability).unwrap();
            assert_eq!(std::fs::read(&target).unwrap(), b"two");
            assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
            let names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".tmp") && n.starts_with(".log-gardener-"))
                .collect();
            assert!(
                names.is_empty(),
                "{durability:?}: no temporary files left: {names:?}"
            );
        }
    }

    /// Files written deferred are made durable by one `sync` over their directories; a file
    /// that is not there any more is an error, never a silent success.
    #[test]
    fn deferred_writes_are_synced_together_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = ["a/1.json", "a/1.md", "b/2.json"]
            .iter()
            .map(|f| dir.path().join(f))
            .collect();
        for f in &files {
            write_readable(f, b"{}", Durability::Deferred).unwrap();
        }
        sync(&files).unwrap();
        assert!(files.iter().all(|f| std::fs::read(f).unwrap() == b"{}"));
        std::fs::remove_dir_all(dir.path().join("b")).unwrap();
        assert!(sync(&files).is_err(), "a directory gone is said");
    }

    #[cfg(unix)]
    #[test]
    fn state_stays_private_and_reports_are_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let (state, report) = (dir.path().join("s.json"), dir.path().join("r.json"));
        let ordinary = dir.path().join("o.json");
        std::fs::write(&ordinary, b"{}").unwrap();
        write(&state, b"{}").unwrap();
        write_readable(&report, b"{}", Durability::EachWrite).unwrap();
        assert_eq!(mode(&state), 0o600);
        assert_eq!(
            mode(&report),
            mode(&ordinary),
            "what an ordinary write gives"
        );
        assert_ne!(
            mode(&report) & 0o044,
            0,
            "readable beyond the owner (umask 022 here)"
        );
        write_readable(&report, b"{ }", Durability::Deferred).unwrap();
        assert_eq!(mode(&report), mode(&ordinary), "a replaced report too");
    }
}

/// A piece of durable state replaced whole — a file written as above, or a Redis key written
/// only while this process holds the state lease (`driver::RedisCheckpoint::blob`) — so the
/// GitHub stage's outbox and index follow the checkpoint to wherever it lives.
pub trait Blob: Send + Sync + std::fmt::Debug {
    /// The content, or `None` if there is none yet.
    fn read(&self) -> std::io::Result<Option<Vec<u8>>>;
    /// Replaces the content whole; `None` removes it.
    fn write(&self, bytes: Option<&[u8]>) -> std::io::Result<()>;
    /// Where it is, for messages.
    fn name(&self) -> String;
}

/// A [`Blob`] in a file, written atomically.
#[derive(Debug, Clone)]
pub struct FileBlob(pub std::path::PathBuf);

impl Blob for FileBlob {
    fn read(&self) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(&self.0) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write(&self, bytes: Option<&[u8]>) -> std::io::Result<()> {
        match bytes {
            Some(b) => write(&self.0, b),
            None => match std::fs::remove_file(&self.0) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        }
    }

    fn name(&self) -> String {
        self.0.display().to_string()
    }
}
