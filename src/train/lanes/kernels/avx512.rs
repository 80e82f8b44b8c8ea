//! The lane kernels for f32 in AVX-512 intrinsics: one `__m512` per lane
//! run, so the vector dimension is the members by construction (the
//! auto-vectorised loops depend on LLVM's choice of dimension).
//!
//! Each function is the generic kernel's loop order with the same
//! per-element operations: `_mm512_mul_ps` then `_mm512_add_ps` (never a
//! fused multiply-add), sums from zero in the same index order, so the
//! results are the same bits. Callers assert the buffer sizes first.

use std::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_loadu_ps, _mm512_mul_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

use super::LANES;

/// Batch rows per pass of the weight gradient (its sums carried through `gw` between passes).
const GRAD_ROWS: usize = 32;

/// Lane run `i` of `s`.
#[inline(always)]
unsafe fn load(s: &[f32], i: usize) -> __m512 {
    debug_assert!((i + 1) * LANES <= s.len());
    // SAFETY (caller): run i lies inside s.
    unsafe { _mm512_loadu_ps(s.as_ptr().add(i * LANES)) }
}

#[inline(always)]
unsafe fn store(s: &mut [f32], i: usize, v: __m512) {
    debug_assert!((i + 1) * LANES <= s.len());
    // SAFETY (caller): run i lies inside s.
    unsafe { _mm512_storeu_ps(s.as_mut_ptr().add(i * LANES), v) }
}

/// `acc + a · b`, rounded after the product and after the sum.
#[inline(always)]
unsafe fn add_product(acc: __m512, a: __m512, b: __m512) -> __m512 {
    unsafe { _mm512_add_ps(acc, _mm512_mul_ps(a, b)) }
}

/// Register tile: rows (or inputs) by neurons (or inputs), 16 sums in
/// flight with 8 loads per 16 products: one load for two products, where a
/// one-dimensional tile needs more than one per product and the load ports,
/// not the arithmetic, set the pace.
const T: usize = 4;

/// See [`super::forward`]. Safety: AVX-512 F, and the asserted sizes.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn forward(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    z: &mut [f32],
    shape: (usize, usize, usize),
) {
    let batch = shape.0;
    let full = batch - batch % T;
    unsafe {
        for b0 in (0..full).step_by(T) {
            forward_rows::<T>(x, w, bias, z, b0, shape);
        }
        for b0 in full..batch {
            forward_rows::<1>(x, w, bias, z, b0, shape);
        }
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn forward_rows<const R: usize>(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    z: &mut [f32],
    b0: usize,
    shape: (usize, usize, usize),
) {
    let outputs = shape.2;
    let full = outputs - outputs % T;
    unsafe {
        for s0 in (0..full).step_by(T) {
            forward_tile::<R, T>(x, w, bias, z, (b0, s0), shape);
        }
        for s0 in full..outputs {
            forward_tile::<R, 1>(x, w, bias, z, (b0, s0), shape);
        }
    }
}

/// `z` for rows `b0..b0 + R` and neurons `s0..s0 + C`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn forward_tile<const R: usize, const C: usize>(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    z: &mut [f32],
    (b0, s0): (usize, usize),
    (batch, inputs, _): (usize, usize, usize),
) {
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); R]; C];
        let mut xs = [_mm512_setzero_ps(); R];
        for p in 0..inputs {
            for (r, v) in xs.iter_mut().enumerate() {
                *v = load(x, p * batch + b0 + r);
            }
            for (c, acc_c) in acc.iter_mut().enumerate() {
                let wv = load(w, (s0 + c) * inputs + p);
                for (a, &xv) in acc_c.iter_mut().zip(&xs) {
                    *a = add_product(*a, xv, wv);
                }
            }
        }
        for (c, acc_c) in acc.iter().enumerate() {
            let bs = load(bias, s0 + c);
            for (r, a) in acc_c.iter().enumerate() {
                store(z, (s0 + c) * batch + b0 + r, _mm512_add_ps(*a, bs));
            }
        }
    }
}

/// See [`super::param_grads`]. Safety: AVX-512 F, and the asserted sizes.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn param_grads(
    x: &[f32],
    dz: &[f32],
    gw: &mut [f32],
    gb: &mut [f32],
    shape: (usize, usize, usize),
) {
    let (batch, inputs, outputs) = shape;
    unsafe {
        for s in 0..outputs {
            let mut parts = [_mm512_setzero_ps(); 8];
            let full = batch - batch % 8;
            for b in (0..full).step_by(8) {
                for (j, part) in parts.iter_mut().enumerate() {
                    *part = _mm512_add_ps(*part, load(dz, s * batch + b + j));
                }
            }
            let mut tail = _mm512_setzero_ps();
            for b in full..batch {
                tail = _mm512_add_ps(tail, load(dz, s * batch + b));
            }
            let q = parts;
            let sum = _mm512_add_ps(
                _mm512_add_ps(
                    _mm512_add_ps(_mm512_add_ps(q[0], q[4]), _mm512_add_ps(q[1], q[5])),
                    _mm512_add_ps(_mm512_add_ps(q[2], q[6]), _mm512_add_ps(q[3], q[7])),
                ),
                tail,
            );
            store(gb, s, sum);
        }
        let s_full = outputs - outputs % T;
        for b0 in (0..batch).step_by(GRAD_ROWS) {
            let rows = (b0, GRAD_ROWS.min(batch - b0));
            for s0 in (0..s_full).step_by(T) {
                weight_grad_inputs::<T>(x, dz, gw, s0, rows, shape);
            }
            for s0 in s_full..outputs {
                weight_grad_inputs::<1>(x, dz, gw, s0, rows, shape);
            }
        }
        let _ = inputs;
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn weight_grad_inputs<const C: usize>(
    x: &[f32],
    dz: &[f32],
    gw: &mut [f32],
    s0: usize,
    rows: (usize, usize),
    shape: (usize, usize, usize),
) {
    let inputs = shape.1;
    let full = inputs - inputs % T;
    unsafe {
        for p0 in (0..full).step_by(T) {
            weight_grad_tile::<T, C>(x, dz, gw, (p0, s0), rows, shape);
        }
        for p0 in full..inputs {
            weight_grad_tile::<1, C>(x, dz, gw, (p0, s0), rows, shape);
        }
    }
}

/// `gw[s][p]` for inputs `p0..p0 + R` and neurons `s0..s0 + C`, over rows
/// `b0..b0 + n` (from zero when `b0` is 0, else from the sums so far).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn weight_grad_tile<const R: usize, const C: usize>(
    x: &[f32],
    dz: &[f32],
    gw: &mut [f32],
    (p0, s0): (usize, usize),
    (b0, n): (usize, usize),
    (batch, inputs, _): (usize, usize, usize),
) {
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); R]; C];
        if b0 > 0 {
            for (c, acc_c) in acc.iter_mut().enumerate() {
                for (r, a) in acc_c.iter_mut().enumerate() {
                    *a = load(gw, (s0 + c) * inputs + p0 + r);
                }
            }
        }
        let mut xs = [_mm512_setzero_ps(); R];
        for b in b0..b0 + n {
            for (r, v) in xs.iter_mut().enumerate() {
                *v = load(x, (p0 + r) * batch + b);
            }
            for (c, acc_c) in acc.iter_mut().enumerate() {
                let d = load(dz, (s0 + c) * batch + b);
                for (a, &xv) in acc_c.iter_mut().zip(&xs) {
                    *a = add_product(*a, xv, d);
                }
            }
        }
        for (c, acc_c) in acc.iter().enumerate() {
            for (r, a) in acc_c.iter().enumerate() {
                store(gw, (s0 + c) * inputs + p0 + r, *a);
            }
        }
    }
}

/// See [`super::input_grad`]. Safety: AVX-512 F, and the asserted sizes.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn input_grad(
    dz: &[f32],
    w: &[f32],
    dx: &mut [f32],
    shape: (usize, usize, usize),
) {
    let batch = shape.0;
    let full = batch - batch % T;
    unsafe {
        for b0 in (0..full).step_by(T) {
            input_grad_rows::<T>(dz, w, dx, b0, shape);
        }
        for b0 in full..batch {
            input_grad_rows::<1>(dz, w, dx, b0, shape);
        }
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn input_grad_rows<const R: usize>(
    dz: &[f32],
    w: &[f32],
    dx: &mut [f32],
    b0: usize,
    shape: (usize, usize, usize),
) {
    let inputs = shape.1;
    let full = inputs - inputs % T;
    unsafe {
        for p0 in (0..full).step_by(T) {
            input_grad_tile::<R, T>(dz, w, dx, (b0, p0), shape);
        }
        for p0 in full..inputs {
            input_grad_tile::<R, 1>(dz, w, dx, (b0, p0), shape);
        }
    }
}

/// `dx[p][b]` for rows `b0..b0 + R` and inputs `p0..p0 + C`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn input_grad_tile<const R: usize, const C: usize>(
    dz: &[f32],
    w: &[f32],
    dx: &mut [f32],
    (b0, p0): (usize, usize),
    (batch, inputs, outputs): (usize, usize, usize),
) {
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); R]; C];
        let mut ds = [_mm512_setzero_ps(); R];
        for s in 0..outputs {
            for (r, v) in ds.iter_mut().enumerate() {
                *v = load(dz, s * batch + b0 + r);
            }
            for (c, acc_c) in acc.iter_mut().enumerate() {
                let wv = load(w, s * inputs + p0 + c);
                for (a, &dv) in acc_c.iter_mut().zip(&ds) {
                    *a = add_product(*a, dv, wv);
                }
            }
        }
        for (c, acc_c) in acc.iter().enumerate() {
            for (r, a) in acc_c.iter().enumerate() {
                store(dx, (p0 + c) * batch + b0 + r, *a);
            }
        }
    }
}
