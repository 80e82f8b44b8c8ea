//! The transposed copy a small product takes of one operand (`xᵀ` for the
//! weight gradient), so that its loop runs over contiguous columns.
//!
//! Why it has its own kernel: for a 2-32-32-1 network the copies are two
//! 32 x 32 matrices per training step, and a scalar copy moves one element
//! per cycle at best; it took 14-18% of the step. An 8 x 8 tile transposed
//! in registers (24 shuffles for 64 elements, eight loads and eight
//! stores) moves several per cycle. The copy only moves values, so every
//! path gives the same bits.

use super::matrix::{contiguous, Buf, MatRef};
use super::real::Real;

/// Rows and columns of a register tile.
const TILE: usize = 8;

/// Writes the transpose of `m` into `out` (column-major).
pub(crate) fn transpose_into<T: Real>(m: &MatRef<'_, T>, out: &mut Buf<T>) {
    let (r, c) = m.shape();
    out.resize(c, r);
    let dst = out.as_mut_slice();
    let Some(src) = contiguous(m) else {
        for j in 0..c {
            for i in 0..r {
                dst[i * c + j] = m[(i, j)];
            }
        }
        return;
    };
    // Whole tiles in registers when the element is f32 and the CPU has AVX;
    // what is left (the last r mod 8 rows, the last c mod 8 columns) by element.
    let (r_tiled, c_tiled) = (r - r % TILE, c - c % TILE);
    let tiled = c_tiled > 0 && r_tiled > 0 && tiles_f32(src, dst, r, c, r_tiled, c_tiled);
    let (r_done, c_done) = if tiled { (r_tiled, c_tiled) } else { (0, 0) };
    for j in 0..c {
        let i_start = if j < c_done { r_done } else { 0 };
        for i in i_start..r {
            dst[i * c + j] = src[j * r + i];
        }
    }
}

/// Transposes the `r_tiled x c_tiled` top-left part in 8 x 8 register
/// tiles; false (nothing written) unless `T` is f32 and AVX is allowed.
fn tiles_f32<T: Real>(
    src: &[T],
    dst: &mut [T],
    r: usize,
    c: usize,
    r_tiled: usize,
    c_tiled: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if std::any::TypeId::of::<T>() != std::any::TypeId::of::<f32>()
            || !super::cpu::use_avx2_fma()
        {
            return false;
        }
        // SAFETY: T is f32 (checked above), so both slices are f32 slices.
        let src = unsafe { std::slice::from_raw_parts(src.as_ptr() as *const f32, src.len()) };
        let dst =
            unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr() as *mut f32, dst.len()) };
        assert!(src.len() == r * c && dst.len() == r * c);
        for j0 in (0..c_tiled).step_by(TILE) {
            for i0 in (0..r_tiled).step_by(TILE) {
                // SAFETY: the CPU has AVX (checked by use_avx2_fma); the
                // tile's eight source columns (rows i0..i0+8 of columns
                // j0..j0+8) and eight destination rows lie inside the
                // slices, whose lengths were asserted.
                unsafe { avx::tile(src, dst, r, c, i0, j0) };
            }
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (src, dst, r, c, r_tiled, c_tiled);
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::{
        _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_shuffle_ps, _mm256_storeu_ps,
        _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };

    /// The 8 x 8 tile at rows `i0..`, columns `j0..` of the column-major
    /// `r x c` `src`, transposed into the column-major `c x r` `dst`.
    ///
    /// # Safety
    /// The CPU has AVX; `i0 + 8 <= r`, `j0 + 8 <= c`, both slices hold `r · c`.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn tile(
        src: &[f32],
        dst: &mut [f32],
        r: usize,
        c: usize,
        i0: usize,
        j0: usize,
    ) {
        debug_assert!(i0 + 8 <= r && j0 + 8 <= c && src.len() >= r * c && dst.len() >= r * c);
        let s = src.as_ptr();
        let d = dst.as_mut_ptr();
        // Column k of the tile: rows i0..i0+8 of source column j0 + k.
        let col = |k: usize| unsafe { _mm256_loadu_ps(s.add((j0 + k) * r + i0)) };
        let (c0, c1, c2, c3) = (col(0), col(1), col(2), col(3));
        let (c4, c5, c6, c7) = (col(4), col(5), col(6), col(7));
        let t0 = _mm256_unpacklo_ps(c0, c1);
        let t1 = _mm256_unpackhi_ps(c0, c1);
        let t2 = _mm256_unpacklo_ps(c2, c3);
        let t3 = _mm256_unpackhi_ps(c2, c3);
        let t4 = _mm256_unpacklo_ps(c4, c5);
        let t5 = _mm256_unpackhi_ps(c4, c5);
        let t6 = _mm256_unpacklo_ps(c6, c7);
        let t7 = _mm256_unpackhi_ps(c6, c7);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        // Row i of the tile: source row i0 + i across the eight columns,
        // stored as destination column i0 + i, rows j0..j0+8.
        let rows = [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ];
        for (i, row) in rows.into_iter().enumerate() {
            unsafe { _mm256_storeu_ps(d.add((i0 + i) * c + j0), row) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::cpu::{set_kernel_limit, KernelPath};

    fn check<T: Real>(r: usize, c: usize, ld: usize) {
        let data: Vec<T> = (0..ld * c).map(|i| T::lit(i as f64 * 0.5 - 3.0)).collect();
        let view = MatRef::from_slice_with_strides_generic(
            &data,
            nalgebra::Dyn(r),
            nalgebra::Dyn(c),
            nalgebra::Const::<1>,
            nalgebra::Dyn(ld),
        );
        let mut out = Buf::new();
        transpose_into(&view, &mut out);
        let dst = out.as_slice();
        for i in 0..r {
            for j in 0..c {
                assert_eq!(
                    dst[i * c + j],
                    data[j * ld + i],
                    "({i}, {j}) of {r} x {c}, ld {ld}"
                );
            }
        }
    }

    #[test]
    fn every_shape_and_kernel_path_gives_the_exact_transpose() {
        for path in [KernelPath::Baseline, KernelPath::Avx512] {
            set_kernel_limit(path);
            for r in [0, 1, 7, 8, 9, 16, 32, 33] {
                for c in [0, 1, 2, 8, 15, 24, 32] {
                    check::<f32>(r, c, r);
                    check::<f32>(r, c, r + 3);
                    check::<f64>(r, c, r);
                }
            }
        }
        set_kernel_limit(KernelPath::Avx512);
    }
}
