//! The lane kernels for f32 in AVX-512 intrinsics: one `__m512` per lane
//! run, so the vector dimension is the members by construction (the
//! auto-vectorised loops depend on LLVM's choice of dimension).
//!
//! Each function is the generic kernel's loop order with the same
//! per-element operations: `_mm512_mul_ps` then `_mm512_add_ps` (never a
//! fused multiply-add), sums from zero in the same index order, so the
//! results are the same bits. Callers assert the buffer sizes first.
//!
//! Tile shapes (measured on Zen 5 in a C replica of these loops, all
//! buffers in L1): a tile of 2 rows by 8 neurons, its neurons walked over
//! every row, ran at 0.15 ns per sixteen-lane multiply-add, a 4 x 4 tile
//! at 0.23-0.25 (the unfused arithmetic's limit there: 0.126). The weight
//! gradient's tile is 2 inputs by 8 neurons over every row: one input per
//! tile loaded nine runs for eight multiply-adds and was limited by loads
//! (with `weight_row`'s odd rows, one block of 16 members went from 3.40-3.44
//! to 3.27-3.37 ms per 100 steps; 3 inputs tied with 2, 4 were slower).

use std::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_loadu_ps, _mm512_mul_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

use super::{Shape, LANES};

/// Batch rows per pass of the weight gradient (its sums carried through `gw` between passes).
const GRAD_ROWS: usize = 32;

/// Inputs per register tile of the weight gradient (by `WIDE` neurons).
const GRAD_INPUTS: usize = 2;

/// Register tile of the products: `NARROW` rows by `WIDE` neurons.
const NARROW: usize = 2;
const WIDE: usize = 8;
/// Rows per tile of a neuron left over after the wide tiles.
const LONE_ROWS: usize = 8;

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

/// `z[s][b] = Σ_p x[p][b] · w[s][p] (+ bias[s])`: the forward product, and
/// (with the weights read across their rows and no bias) the input gradient. See
/// [`super::forward`] and [`super::input_grad`]. Safety: AVX-512 F, and
/// the asserted sizes.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn product(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    z: &mut [f32],
    shape: Shape,
) {
    let outputs = shape.outputs;
    let full = outputs - outputs % WIDE;
    unsafe {
        for s0 in (0..full).step_by(WIDE) {
            product_rows::<NARROW, WIDE>(x, w, bias, z, s0, shape);
        }
        for s0 in full..outputs {
            product_rows::<LONE_ROWS, 1>(x, w, bias, z, s0, shape);
        }
    }
}

/// Neurons `s0..s0 + C` for every row, `R` rows per tile.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn product_rows<const R: usize, const C: usize>(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    z: &mut [f32],
    s0: usize,
    shape: Shape,
) {
    let batch = shape.batch;
    let full = batch - batch % R;
    unsafe {
        for b0 in (0..full).step_by(R) {
            product_tile::<R, C>(x, w, bias, z, (b0, s0), shape);
        }
        for b0 in full..batch {
            product_tile::<1, C>(x, w, bias, z, (b0, s0), shape);
        }
    }
}

/// `z` for rows `b0..b0 + R` and neurons `s0..s0 + C`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn product_tile<const R: usize, const C: usize>(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    z: &mut [f32],
    (b0, s0): (usize, usize),
    shape: Shape,
) {
    let Shape { stride, inputs, .. } = shape;
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); R]; C];
        let mut xs = [_mm512_setzero_ps(); R];
        for p in 0..inputs {
            for (r, v) in xs.iter_mut().enumerate() {
                *v = load(x, p * stride + b0 + r);
            }
            for (c, acc_c) in acc.iter_mut().enumerate() {
                let wv = load(w, shape.weight(s0 + c, p));
                for (a, &xv) in acc_c.iter_mut().zip(&xs) {
                    *a = add_product(*a, xv, wv);
                }
            }
        }
        for (c, acc_c) in acc.iter().enumerate() {
            let bs = bias.map(|bias| load(bias, s0 + c));
            for (r, &a) in acc_c.iter().enumerate() {
                let out = match bs {
                    Some(bs) => _mm512_add_ps(a, bs),
                    None => a,
                };
                store(z, (s0 + c) * stride + b0 + r, out);
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
    shape: Shape,
) {
    let Shape {
        batch,
        stride,
        outputs,
        ..
    } = shape;
    unsafe {
        for s in 0..outputs {
            let mut parts = [_mm512_setzero_ps(); 8];
            let full = batch - batch % 8;
            for b in (0..full).step_by(8) {
                for (j, part) in parts.iter_mut().enumerate() {
                    *part = _mm512_add_ps(*part, load(dz, s * stride + b + j));
                }
            }
            let mut tail = _mm512_setzero_ps();
            for b in full..batch {
                tail = _mm512_add_ps(tail, load(dz, s * stride + b));
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
        let s_full = outputs - outputs % WIDE;
        for b0 in (0..batch).step_by(GRAD_ROWS) {
            let rows = (b0, GRAD_ROWS.min(batch - b0));
            for s0 in (0..s_full).step_by(WIDE) {
                weight_grad_inputs::<GRAD_INPUTS, WIDE>(x, dz, gw, s0, rows, shape);
            }
            for s0 in s_full..outputs {
                weight_grad_inputs::<LONE_ROWS, 1>(x, dz, gw, s0, rows, shape);
            }
        }
    }
}

/// Neurons `s0..s0 + C` for every input, `R` inputs per tile.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn weight_grad_inputs<const R: usize, const C: usize>(
    x: &[f32],
    dz: &[f32],
    gw: &mut [f32],
    s0: usize,
    rows: (usize, usize),
    shape: Shape,
) {
    let inputs = shape.inputs;
    let full = inputs - inputs % R;
    unsafe {
        for p0 in (0..full).step_by(R) {
            weight_grad_tile::<R, C>(x, dz, gw, (p0, s0), rows, shape);
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
    shape: Shape,
) {
    let stride = shape.stride;
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); R]; C];
        if b0 > 0 {
            for (c, acc_c) in acc.iter_mut().enumerate() {
                for (r, a) in acc_c.iter_mut().enumerate() {
                    *a = load(gw, shape.weight(s0 + c, p0 + r));
                }
            }
        }
        let mut xs = [_mm512_setzero_ps(); R];
        for b in b0..b0 + n {
            for (r, v) in xs.iter_mut().enumerate() {
                *v = load(x, (p0 + r) * stride + b);
            }
            for (c, acc_c) in acc.iter_mut().enumerate() {
                let d = load(dz, (s0 + c) * stride + b);
                for (a, &xv) in acc_c.iter_mut().zip(&xs) {
                    *a = add_product(*a, xv, d);
                }
            }
        }
        for (c, acc_c) in acc.iter().enumerate() {
            for (r, a) in acc_c.iter().enumerate() {
                store(gw, shape.weight(s0 + c, p0 + r), *a);
            }
        }
    }
}
