//! Column-major storage that parallel tasks write column by column.
//!
//! A per-neuron pass writes neuron `s`'s column of `z` and `dz` and the
//! user's column `order[s]` of `y`: disjoint columns for disjoint neurons,
//! but not a contiguous range a safe split (`chunks_mut`) could hand out
//! when the mask is permuted. This type hands out single columns and leaves
//! the disjointness to its (few, crate-internal) callers.

use std::marker::PhantomData;
use std::ops::Range;

/// A column-major matrix's storage, shared between tasks that each touch
/// only their own columns.
pub(crate) struct DisjointColumns<'a, T> {
    ptr: *mut T,
    rows: usize,
    cols: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: the type is a `&mut [T]` whose columns are handed out one at a
// time under `column`'s contract; sending or sharing it is sending `&mut [T]`.
unsafe impl<T: Send> Send for DisjointColumns<'_, T> {}
// SAFETY: as above: shared use only reaches the data through `column`.
unsafe impl<T: Send> Sync for DisjointColumns<'_, T> {}

impl<'a, T> DisjointColumns<'a, T> {
    /// `data` as `rows`-long columns (`data.len()` must be a multiple of `rows`).
    pub(crate) fn new(data: &'a mut [T], rows: usize) -> Self {
        assert!(rows > 0 && data.len().is_multiple_of(rows), "whole columns");
        DisjointColumns {
            ptr: data.as_mut_ptr(),
            rows,
            cols: data.len() / rows,
            _borrow: PhantomData,
        }
    }

    /// Column `c`, mutably.
    ///
    /// # Safety
    /// No other reference to column `c` (from this function or elsewhere)
    /// may be alive while the returned one is.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn column(&self, c: usize) -> &'a mut [T] {
        assert!(c < self.cols, "column {c} of {}", self.cols);
        // SAFETY: in bounds (checked); exclusive by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(c * self.rows), self.rows) }
    }
}

/// Runs `task` over `0..n` in ranges of at least `min_len`, on rayon's
/// pool when `parallel`, else as one range here. Ranges are disjoint.
pub(crate) fn for_each_range(
    n: usize,
    min_len: usize,
    parallel: bool,
    task: impl Fn(Range<usize>) + Send + Sync,
) {
    use rayon::prelude::*;
    if !parallel || n <= min_len {
        task(0..n);
        return;
    }
    let chunks = n.div_ceil(min_len);
    (0..chunks).into_par_iter().for_each(|c| {
        let start = c * min_len;
        task(start..(start + min_len).min(n));
    });
}
