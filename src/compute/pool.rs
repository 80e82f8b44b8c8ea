//! Where a large training step runs: on rayon's pool, handed off once.
//!
//! A large product (faer's) and a large optimiser update run on rayon's
//! pool. Called from a user's thread, each one is a hand-off: the caller
//! queues the job, sleeps on a futex and is woken when a pool thread has
//! finished it, a few microseconds each way, and a step of a 784-512-512-10
//! MLP makes about ten of them. Run from a pool thread, the same calls go
//! straight to the pool's queues, and the other pool thread, still spinning
//! from the last product, picks its half up at once. Measured on that step
//! (2 cores, interleaved runs of 50 steps): 4-6% less time per step.

/// Forward-pass multiply-adds (batch rows x parameters) from which a step
/// is handed to the pool whole; below it a step makes no large product, and
/// the one hand-off (microseconds) would cost a tiny step (a few
/// microseconds) more than it saves.
pub(crate) const POOL_STEP_WORK: usize = 1 << 22;

/// Runs `work` on rayon's pool when `rows x params` reaches
/// [`POOL_STEP_WORK`], the caller is not a pool thread already and the
/// pool has more than one thread; here otherwise. The result is the same
/// either way: only the thread that runs the work differs.
pub(crate) fn on_pool_if_large<R: Send>(
    rows: usize,
    params: usize,
    work: impl FnOnce() -> R + Send,
) -> R {
    if rows.saturating_mul(params) >= POOL_STEP_WORK
        && rayon::current_thread_index().is_none()
        && rayon::current_num_threads() > 1
    {
        rayon::scope(|_| work())
    } else {
        work()
    }
}
