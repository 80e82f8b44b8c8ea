//! Asking the cache for data a few microseconds before it is read.
//!
//! A lane block's step reads each member's next batch once, after a pass
//! over a few hundred KiB of widened parameters and activations has pushed
//! it out of the near caches; the scatter that widens it then waits on
//! every line (3% of a tiny network's lane step). A hint issued one step
//! ahead brings the lines into L2 while the step computes.

use crate::compute::matrix::{contiguous, MatRef};

/// Bytes per cache line on every x86-64 and AArch64 core we run on.
const LINE: usize = 64;

/// Hints that the values of `m` will be read soon (into L2). Only a hint:
/// it changes no value, and does nothing off x86-64 or for a view that is
/// not one contiguous run.
pub(crate) fn prefetch_view<T>(m: &MatRef<'_, T>)
where
    T: crate::compute::real::Real,
{
    if let Some(values) = contiguous(m) {
        prefetch_slice(values);
    }
}

fn prefetch_slice<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        let bytes = std::mem::size_of_val(values);
        let base = values.as_ptr().cast::<i8>();
        // Every line the slice touches, the last one too when the slice
        // does not start on a line boundary.
        let last = bytes.saturating_sub(1);
        for offset in (0..bytes).step_by(LINE).chain((bytes > 0).then_some(last)) {
            // SAFETY: `offset` is inside the borrowed slice, so the address
            // is in bounds; a prefetch reads nothing into the program and
            // cannot fault, and SSE is part of the x86-64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(base.add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}
