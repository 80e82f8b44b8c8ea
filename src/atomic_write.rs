//! Writing a file so that a reader (or a crash) sees the old content or the
//! new, never a half-written file: model saves and the sweep's stored cells.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// How old a leftover temporary file of an interrupted save must be before
/// a later save to the same path deletes it: one hour.
pub const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

static SAVE_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The prefix of every temporary file a save to `file_name` creates.
fn temp_prefix(file_name: &std::ffi::OsStr) -> String {
    format!(".{}.tmp-", file_name.to_string_lossy())
}

/// Removes temporary files of earlier saves to `file_name` in `dir` that are
/// older than [`STALE_TEMP_AGE`] (their writer was killed). Best effort.
fn remove_stale_temps(dir: &Path, file_name: &std::ffi::OsStr) {
    let prefix = temp_prefix(file_name);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` through a uniquely named temporary file in the
/// same folder, flushed and renamed over `path`: a reader (or a crash) sees
/// the old content or the new, never a half-written file. Model saves use
/// it; so can anything else that must not lose the previous file.
///
/// # Errors
/// [`Error::Io`] naming the path; the temporary file is removed and the
/// old file left as it was.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::io(path, std::io::Error::other("not a file path")))?;
    remove_stale_temps(&dir, file_name);
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    let counter = SAVE_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        "{}{}-{thread}-{counter}",
        temp_prefix(file_name),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable where the platform allows.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
