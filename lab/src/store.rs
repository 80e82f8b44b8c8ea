//! The one way every mode keeps its work resumable and runs it in parallel:
//! a piece of work (a suite unit, a sweep or confirmation cell) is loaded
//! from its stored file when an earlier run finished it, and otherwise run
//! and stored at once, atomically, so that a killed run loses at most the
//! pieces that were running; the pieces run on a fixed number of workers and
//! come back in their own order, whatever order they finished in.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use mixact::{Error, Result};

/// The piece at `path` (when the run keeps a store): `load`ed when stored,
/// else `run` and `save`d there. Without a path, just `run`.
///
/// # Errors
/// What `load`, `run` or `save` return.
pub(crate) fn resume_or_run<R>(
    path: Option<&Path>,
    load: impl FnOnce(&Path) -> Result<R>,
    run: impl FnOnce() -> Result<R>,
    save: impl FnOnce(&Path, &R) -> Result<()>,
) -> Result<R> {
    match path {
        Some(p) if p.exists() => load(p),
        Some(p) => {
            let r = run()?;
            save(p, &r)?;
            Ok(r)
        }
        None => run(),
    }
}

/// Checks that a stored piece was trained on the seeds this run uses: a
/// folder can outlive a change of protocol, and a piece from another one
/// must be an error, never silently mixed in.
///
/// # Errors
/// [`Error::Format`] naming the file and both seed lists.
pub(crate) fn check_stored_seeds(
    path: &Path,
    stored: impl Iterator<Item = u64>,
    wanted: &[u64],
) -> Result<()> {
    let mut stored: Vec<u64> = stored.collect();
    stored.sort_unstable();
    stored.dedup();
    let mut wanted = wanted.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    if stored != wanted {
        return Err(Error::Format {
            location: path.display().to_string(),
            message: format!(
                "stored piece was trained on seeds {stored:?}, this run uses {wanted:?} (use \
                 another --out folder, or remove the stored pieces)"
            ),
        });
    }
    Ok(())
}

/// `work(item)` for every item on `workers` threads, the results in item
/// order; `progress(done, total)` after each.
pub(crate) fn execute<I: Sync, R: Send>(
    items: &[I],
    workers: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
    work: impl Fn(&I) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    let total = items.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<R>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    progress(0, total);
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, total.max(1)) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(k) else {
                    break;
                };
                let r = work(item);
                *slots[k].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                progress(done.fetch_add(1, Ordering::SeqCst) + 1, total);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item ran: the workers take each index once")
        })
        .collect()
}
