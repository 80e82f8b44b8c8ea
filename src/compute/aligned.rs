//! Buffers that start on a cache line.
//!
//! Sixteen f32 (64 bytes) are one AVX-512 load. When a buffer starts off a
//! 64-byte boundary, as the allocator's 16-byte alignment leaves it, such
//! loads straddle two cache lines and are split: the lane kernels ran at
//! 0.47-0.59 ns per 16-wide multiply-add from misaligned buffers, 0.33-0.40
//! ns from aligned ones (timed alone on this session's AMD EPYC; the
//! arithmetic's own limit there is 0.28 ns). The lane blocks' buffers are
//! of this type. (Layers' buffers are not: the solo small-product loop,
//! whose loads are masked column runs, measured no faster with them aligned.)

use std::ops::{Deref, DerefMut};

/// Bytes of alignment: one cache line.
const ALIGN: usize = 64;

/// Spare elements after the end: 64 bytes or more, so two blocks on
/// different cores never write to one cache line (the allocator packs small
/// buffers of different blocks side by side; sharing lines cost a fifth of
/// a two-block step).
const PAD: usize = 64;

/// A vector of `len` elements whose first element sits on a 64-byte
/// boundary (for element sizes that divide 64, as f32 and f64 do), with
/// [`PAD`] spare elements after its end.
#[derive(Debug)]
pub(crate) struct AlignedVec<T> {
    buf: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: Clone> AlignedVec<T> {
    /// `len` copies of `value`.
    pub(crate) fn filled(len: usize, value: T) -> Self {
        let mut v = AlignedVec::default();
        v.resize(len, value);
        v
    }

    /// Resized to `len`: the first `min(len, old len)` elements keep their
    /// values, new ones are `value`. Allocates only when the capacity is short.
    pub(crate) fn resize(&mut self, len: usize, value: T) {
        let size = std::mem::size_of::<T>().max(1);
        let slack = ALIGN / size;
        let needed = slack + len + PAD;
        if self.buf.len() < needed {
            let mut buf = vec![value.clone(); needed];
            let misalign = buf.as_ptr() as usize % ALIGN;
            let start = if misalign == 0 || !misalign.is_multiple_of(size) {
                0
            } else {
                (ALIGN - misalign) / size
            };
            let kept = self.len.min(len);
            buf[start..start + kept].clone_from_slice(&self.buf[self.start..self.start + kept]);
            self.buf = buf;
            self.start = start;
        } else if len > self.len {
            self.buf[self.start + self.len..self.start + len].fill(value);
        }
        self.len = len;
    }
}

impl<T: Clone> Clone for AlignedVec<T> {
    /// A copy in its own aligned allocation (a plain copy of the vector
    /// would keep the offset of the old allocation's alignment).
    fn clone(&self) -> Self {
        let mut v = AlignedVec::default();
        if let Some(first) = self.first() {
            v.resize(self.len, first.clone());
            v.clone_from_slice(self);
        }
        v
    }
}

impl<T> Default for AlignedVec<T> {
    fn default() -> Self {
        AlignedVec {
            buf: Vec::new(),
            start: 0,
            len: 0,
        }
    }
}

impl<T> Deref for AlignedVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl<T> DerefMut for AlignedVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::AlignedVec;

    #[test]
    fn starts_on_a_cache_line_and_keeps_values_across_resizes() {
        let mut v = AlignedVec::filled(10, 1.0_f32);
        assert_eq!(v.as_ptr() as usize % 64, 0);
        assert_eq!(&v[..], &[1.0; 10]);
        v[3] = 7.0;
        v.resize(5000, 2.0);
        assert_eq!(v.as_ptr() as usize % 64, 0);
        assert_eq!(v.len(), 5000);
        assert_eq!((v[3], v[9], v[10], v[4999]), (7.0, 1.0, 2.0, 2.0));
        v.resize(4, 0.0);
        v.resize(6, 3.0);
        assert_eq!(&v[..], &[1.0, 1.0, 1.0, 7.0, 3.0, 3.0]);
        let e = AlignedVec::<f64>::filled(0, 0.0);
        assert!(e.is_empty());
        assert!(e.clone().is_empty());
    }

    #[test]
    fn a_clone_is_aligned_in_its_own_allocation() {
        let mut v = AlignedVec::filled(37, 0.5_f32);
        v[36] = 9.0;
        let c = v.clone();
        assert_eq!(c.as_ptr() as usize % 64, 0);
        assert_eq!(&c[..], &v[..]);
        assert_ne!(c.as_ptr(), v.as_ptr());
    }
}
