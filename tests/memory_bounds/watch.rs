//! The one global allocator of this binary, watching what the tests need:
//! per thread, how many allocations and the largest one; for the process,
//! the peak of live bytes and the largest allocation; for marked threads
//! (a test's own pool), how many allocations.
//!
//! Per-thread figures are undisturbed by other threads, so tests that read
//! only those run side by side ([`shared`]); tests that read process-wide
//! figures run alone ([`alone`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub struct Watch;

thread_local! {
    static THREAD_COUNT: Cell<usize> = const { Cell::new(0) };
    static THREAD_LARGEST: Cell<usize> = const { Cell::new(0) };
    static MARK: Cell<usize> = const { Cell::new(0) };
}
static MARKED_COUNT: AtomicUsize = AtomicUsize::new(0);
/// The mark whose threads' allocations count now (0: none).
static COUNTED_MARK: AtomicUsize = AtomicUsize::new(0);
static NEXT_MARK: AtomicUsize = AtomicUsize::new(1);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static TURNS: RwLock<()> = RwLock::new(());

fn allocated(size: usize) {
    THREAD_COUNT.with(|c| c.set(c.get() + 1));
    THREAD_LARGEST.with(|l| l.set(l.get().max(size)));
    let mark = MARK.with(Cell::get);
    if mark != 0 && mark == COUNTED_MARK.load(Ordering::SeqCst) {
        MARKED_COUNT.fetch_add(1, Ordering::SeqCst);
    }
    let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
    LARGEST.fetch_max(size, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        allocated(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The old and the new block coexist during a moving realloc.
        allocated(new_size);
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        p
    }
}

/// For a test that reads process-wide figures: no other test runs meanwhile.
pub fn alone() -> RwLockWriteGuard<'static, ()> {
    TURNS.write().unwrap_or_else(|e| e.into_inner())
}

/// For a test that reads only its own thread's figures.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    TURNS.read().unwrap_or_else(|e| e.into_inner())
}

/// Allocations by this thread while `f` runs.
pub fn thread_allocations_during(f: impl FnOnce()) -> usize {
    let before = THREAD_COUNT.with(Cell::get);
    f();
    THREAD_COUNT.with(Cell::get) - before
}

/// The largest single allocation by this thread while `f` runs.
pub fn thread_largest_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = THREAD_LARGEST.with(|l| l.replace(0));
    let r = f();
    let largest = THREAD_LARGEST.with(|l| l.replace(before.max(l.get())));
    (r, largest)
}

/// A mark no thread carries yet, for the threads of one measurement.
pub fn new_mark() -> usize {
    NEXT_MARK.fetch_add(1, Ordering::SeqCst)
}

/// Gives the calling thread `mark`: [`marked_allocations_during`] with that
/// mark counts its allocations.
pub fn mark_thread(mark: usize) {
    MARK.with(|m| m.set(mark));
}

/// Allocations by the threads that carry `mark` while `f` runs.
///
/// Not every thread's: the test harness's own threads allocate whenever a
/// test starts or ends (a thread for the next test, the line that reports
/// the last), also while a test that runs [`alone`] counts; and the threads
/// of a pool an earlier test dropped may still be exiting, which frees and
/// allocates in their thread-local destructors.
pub fn marked_allocations_during(mark: usize, f: impl FnOnce()) -> usize {
    let before = MARKED_COUNT.load(Ordering::SeqCst);
    COUNTED_MARK.store(mark, Ordering::SeqCst);
    f();
    COUNTED_MARK.store(0, Ordering::SeqCst);
    MARKED_COUNT.load(Ordering::SeqCst) - before
}

/// The peak of live bytes above the starting level while `f` runs (call
/// under [`alone`]).
pub fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed).saturating_sub(start))
}

/// As [`peak_during`], with the largest single allocation while `f` runs.
pub fn peak_and_largest_during<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    let (r, peak) = peak_during(f);
    (r, peak, LARGEST.load(Ordering::Relaxed))
}
