//! The small-product loop for f32 in AVX-512 intrinsics, for `a` with
//! unit row stride (every product of the affine core: `x·W`, `xᵀ·dz` from
//! the transposed copy, `dz·Wᵀ`).
//!
//! Same per-element order as the generic loop (`matrix::small_gemm`):
//! each output starts at `beta · c` (0 or `c` itself when beta is 0 or 1)
//! and adds its k products in order p = 0, 1, ..., a separate multiply
//! and add each (never fused), so results are the same bits on every
//! kernel path. What changes is the register tile: 32 rows (two vectors)
//! by 4 columns, eight independent sums in flight instead of four 8-wide
//! ones, which the adder's latency had been limiting.

use std::arch::x86_64::{
    __mmask16, _mm512_add_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_mul_ps,
    _mm512_set1_ps, _mm512_setzero_ps,
};

/// Columns per register tile.
const NC: usize = 4;
/// Vectors (of 16 rows) per register tile.
const NV: usize = 2;

/// `c = a · b + beta · c`: `a` is m × k with unit row stride and column
/// stride `a_cs`; `b` is k × n with strides (`b_rs`, `b_cs`); `c` is
/// column-major m × n (leading dimension m).
///
/// # Safety
/// The CPU has AVX-512 F; `a` and `b` address m × k and k × n elements
/// inside live allocations with these strides; `c.len() == m * n`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn small_gemm(
    (m, k, n): (usize, usize, usize),
    a: *const f32,
    a_cs: isize,
    b: *const f32,
    (b_rs, b_cs): (isize, isize),
    beta: f32,
    c: &mut [f32],
) {
    debug_assert_eq!(c.len(), m * n);
    let tile_rows = 16 * NV;
    let full_cols = n - n % NC;
    unsafe {
        let mut j0 = 0;
        while j0 < n {
            let cols = if j0 < full_cols { NC } else { 1 };
            let mut i0 = 0;
            while i0 < m {
                let rows = tile_rows.min(m - i0);
                let at = (i0, rows, j0);
                let (ab, bs) = ((a, a_cs), (b, b_rs, b_cs));
                match (cols, rows > 16) {
                    (NC, true) => tile::<NC, 2>((m, k), ab, bs, beta, c, at),
                    (NC, false) => tile::<NC, 1>((m, k), ab, bs, beta, c, at),
                    (_, true) => tile::<1, 2>((m, k), ab, bs, beta, c, at),
                    (_, false) => tile::<1, 1>((m, k), ab, bs, beta, c, at),
                }
                i0 += rows;
            }
            j0 += cols;
        }
    }
}

/// The mask of the first `rows` of a 16-row vector (all of it from 16 on).
#[inline(always)]
fn mask(rows: usize) -> __mmask16 {
    if rows >= 16 {
        0xFFFF
    } else {
        ((1u32 << rows) - 1) as __mmask16
    }
}

/// Rows `i0..i0 + rows` (at most `16 · V`) of columns `j0..j0 + C`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const C: usize, const V: usize>(
    (m, k): (usize, usize),
    (a, a_cs): (*const f32, isize),
    (b, b_rs, b_cs): (*const f32, isize, isize),
    beta: f32,
    c: &mut [f32],
    (i0, rows, j0): (usize, usize, usize),
) {
    let mut masks = [0 as __mmask16; V];
    for (v, mk) in masks.iter_mut().enumerate() {
        *mk = mask(rows.saturating_sub(16 * v));
    }
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); V]; C];
        if beta != 0.0 {
            let scale = _mm512_set1_ps(beta);
            for (jj, acc_j) in acc.iter_mut().enumerate() {
                let col = c.as_ptr().add((j0 + jj) * m + i0);
                for (v, slot) in acc_j.iter_mut().enumerate() {
                    let old = _mm512_maskz_loadu_ps(masks[v], col.add(16 * v));
                    *slot = if beta == 1.0 {
                        old
                    } else {
                        _mm512_mul_ps(old, scale)
                    };
                }
            }
        }
        let mut av = [_mm512_setzero_ps(); V];
        for p in 0..k {
            let a_col = a.offset(p as isize * a_cs).add(i0);
            for (v, slot) in av.iter_mut().enumerate() {
                *slot = _mm512_maskz_loadu_ps(masks[v], a_col.add(16 * v));
            }
            let b_row = b.offset(p as isize * b_rs);
            for (jj, acc_j) in acc.iter_mut().enumerate() {
                let bv = _mm512_set1_ps(*b_row.offset((j0 + jj) as isize * b_cs));
                for (slot, &x) in acc_j.iter_mut().zip(&av) {
                    *slot = _mm512_add_ps(*slot, _mm512_mul_ps(x, bv));
                }
            }
        }
        for (jj, acc_j) in acc.iter().enumerate() {
            let col = c.as_mut_ptr().add((j0 + jj) * m + i0);
            for (v, slot) in acc_j.iter().enumerate() {
                _mm512_mask_storeu_ps(col.add(16 * v), masks[v], *slot);
            }
        }
    }
}
