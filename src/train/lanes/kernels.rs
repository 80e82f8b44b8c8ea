//! The lane kernels: the affine core's three products and its bias sum for
//! [`LANES`] networks at once, one network per vector lane.
//!
//! Layout: every tensor is the solo tensor with each element widened to
//! [`LANES`] consecutive values, one per member (`[.. ][lane]`). A `LANES`-wide
//! run of f32 is one AVX-512 vector (two AVX2 vectors), so each scalar
//! operation of the solo small-product loop becomes one vector operation
//! over the members.
//!
//! Bit-identity with the solo path: each lane performs exactly the
//! operations, in exactly the order, that the solo small-product loop
//! (`compute::matrix::small_gemm`, taken when `batch · inputs · outputs` is at
//! most its threshold) and `column_sum` perform for one element: products
//! summed from zero in index order with a separate multiply and add (Rust
//! never fuses them), the bias added to the finished sum, the bias gradient
//! in eight interleaved partial sums. Lanes never mix, so a member's bits do
//! not depend on which lane it sits in or on its neighbours.

#[cfg(target_arch = "x86_64")]
mod avx512;

use crate::compute::cpu::multiversion;
use crate::compute::real::Real;

/// Members per lane block: one AVX-512 vector of f32.
pub(crate) const LANES: usize = 16;

/// Independent sums a kernel keeps in registers at once: eight chains of
/// vector additions hide the adder's latency (about four cycles at two per
/// cycle). Tiling changes no element's order: each sum is its own chain.
const TILE: usize = 8;

/// Batch rows per cache block: every kernel walks the batch in blocks of
/// this many rows (outermost), so a block's activations (rows x width
/// vectors of 64 bytes: 16 KiB at width 32) stay in L1 while the weights
/// stream past once per block, instead of the activations streaming past
/// once per neuron. A sum over the batch carries on across blocks through
/// memory, which stores its exact value: the order is unchanged.
const ROWS: usize = 8;

/// `acc += a · b`, lane by lane (a separate multiply and add, as the solo loop).
#[inline(always)]
fn add_product<T: Real>(acc: &mut [T; LANES], a: &[T; LANES], b: &[T; LANES]) {
    for l in 0..LANES {
        acc[l] += a[l] * b[l];
    }
}

/// Run `i` of a widened buffer, bounds-checked.
///
/// The checks matter beyond safety: they keep LLVM from vectorising a
/// tile across its rows (with gathers, ten times slower, as measured when
/// they were removed), so the SLP vectoriser makes one vector per lane run.
/// The AVX-512 kernels in [`avx512`] do not depend on that.
#[inline(always)]
fn lane<T: Real>(s: &[T], i: usize) -> &[T; LANES] {
    s[i * LANES..(i + 1) * LANES]
        .try_into()
        .expect("a lane run is LANES long")
}

#[inline(always)]
fn lane_mut<T: Real>(s: &mut [T], i: usize) -> &mut [T; LANES] {
    (&mut s[i * LANES..(i + 1) * LANES])
        .try_into()
        .expect("a lane run is LANES long")
}

/// The slices as f32 slices, when `T` is f32.
#[cfg(target_arch = "x86_64")]
fn as_f32<T: Real>(s: &[T]) -> Option<&[f32]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        // SAFETY: T is f32, so the slice is a slice of f32.
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len()) })
}

#[cfg(target_arch = "x86_64")]
fn as_f32_mut<T: Real>(s: &mut [T]) -> Option<&mut [f32]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        // SAFETY: T is f32, so the slice is a slice of f32; the borrow is exclusive.
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut f32, s.len()) })
}

/// The explicit AVX-512 path for f32, when the CPU and the kernel cap allow it.
#[cfg(target_arch = "x86_64")]
fn avx512_f32() -> bool {
    crate::compute::cpu::use_avx512()
}

/// `z[s][b] = Σ_p x[p][b] · w[s][p] + bias[s]` (sum from zero, p in order).
pub(crate) fn forward<T: Real>(
    x: &[T],
    w: &[T],
    bias: &[T],
    z: &mut [T],
    shape: (usize, usize, usize),
) {
    let (batch, inputs, outputs) = shape;
    assert!(
        x.len() == inputs * batch * LANES
            && w.len() == outputs * inputs * LANES
            && bias.len() == outputs * LANES
            && z.len() == outputs * batch * LANES,
        "lane forward: buffer sizes"
    );
    #[cfg(target_arch = "x86_64")]
    if avx512_f32() {
        if let (Some(x), Some(w), Some(bias)) = (as_f32(x), as_f32(w), as_f32(bias)) {
            let z = as_f32_mut(z).expect("z has the element type of x");
            // SAFETY: the CPU has AVX-512 F (checked by use_avx512), and the
            // buffer sizes were asserted above.
            unsafe { avx512::forward(x, w, bias, z, shape) };
            return;
        }
    }
    forward_generic(x, w, bias, z, shape);
}

/// The bias gradient and the weight gradient of one layer:
/// `gb[s] = Σ_b dz[s][b]` (eight interleaved partial sums, as `column_sum`)
/// and `gw[s][p] = Σ_b x[p][b] · dz[s][b]` (from zero, b in order).
pub(crate) fn param_grads<T: Real>(
    x: &[T],
    dz: &[T],
    gw: &mut [T],
    gb: &mut [T],
    shape: (usize, usize, usize),
) {
    let (batch, inputs, outputs) = shape;
    assert!(
        x.len() == inputs * batch * LANES
            && dz.len() == outputs * batch * LANES
            && gw.len() == outputs * inputs * LANES
            && gb.len() == outputs * LANES,
        "lane parameter gradients: buffer sizes"
    );
    #[cfg(target_arch = "x86_64")]
    if avx512_f32() {
        if let (Some(x), Some(dz)) = (as_f32(x), as_f32(dz)) {
            let gw = as_f32_mut(gw).expect("gw has the element type of x");
            let gb = as_f32_mut(gb).expect("gb has the element type of x");
            // SAFETY: as in `forward`.
            unsafe { avx512::param_grads(x, dz, gw, gb, shape) };
            return;
        }
    }
    param_grads_generic(x, dz, gw, gb, shape);
}

/// The input gradient: `dx[p][b] = Σ_s dz[s][b] · w[s][p]` (from zero, s in order).
pub(crate) fn input_grad<T: Real>(dz: &[T], w: &[T], dx: &mut [T], shape: (usize, usize, usize)) {
    let (batch, inputs, outputs) = shape;
    assert!(
        dz.len() == outputs * batch * LANES
            && w.len() == outputs * inputs * LANES
            && dx.len() == inputs * batch * LANES,
        "lane input gradient: buffer sizes"
    );
    #[cfg(target_arch = "x86_64")]
    if avx512_f32() {
        if let (Some(dz), Some(w)) = (as_f32(dz), as_f32(w)) {
            let dx = as_f32_mut(dx).expect("dx has the element type of dz");
            // SAFETY: as in `forward`.
            unsafe { avx512::input_grad(dz, w, dx, shape) };
            return;
        }
    }
    input_grad_generic(dz, w, dx, shape);
}

multiversion! {
    /// [`forward`] on the auto-vectorised path.
    fn forward_generic<T: Real>(x: &[T], w: &[T], bias: &[T], z: &mut [T], shape: (usize, usize, usize)) => forward_loops
}

#[inline(always)]
fn forward_loops<T: Real>(
    x: &[T],
    w: &[T],
    bias: &[T],
    z: &mut [T],
    (batch, inputs, outputs): (usize, usize, usize),
) {
    for b0 in (0..batch).step_by(ROWS) {
        let rows = ROWS.min(batch - b0);
        for s in 0..outputs {
            if rows == TILE {
                forward_tile::<T, TILE>(x, w, bias, z, s, b0, (batch, inputs));
            } else {
                for b in b0..b0 + rows {
                    forward_tile::<T, 1>(x, w, bias, z, s, b, (batch, inputs));
                }
            }
        }
    }
}

/// Rows `b0..b0 + R` of neuron `s`.
#[inline(always)]
fn forward_tile<T: Real, const R: usize>(
    x: &[T],
    w: &[T],
    bias: &[T],
    z: &mut [T],
    s: usize,
    b0: usize,
    (batch, inputs): (usize, usize),
) {
    let mut acc = [[T::zero(); LANES]; R];
    for p in 0..inputs {
        let wp = lane(w, s * inputs + p);
        for (t, acc_t) in acc.iter_mut().enumerate() {
            add_product(acc_t, lane(x, p * batch + b0 + t), wp);
        }
    }
    let bs = lane(bias, s);
    for (t, acc_t) in acc.iter().enumerate() {
        let out = lane_mut(z, s * batch + b0 + t);
        for l in 0..LANES {
            out[l] = acc_t[l] + bs[l];
        }
    }
}

multiversion! {
    /// [`param_grads`] on the auto-vectorised path.
    fn param_grads_generic<T: Real>(x: &[T], dz: &[T], gw: &mut [T], gb: &mut [T], shape: (usize, usize, usize)) => param_grads_loops
}

#[inline(always)]
fn param_grads_loops<T: Real>(
    x: &[T],
    dz: &[T],
    gw: &mut [T],
    gb: &mut [T],
    (batch, inputs, outputs): (usize, usize, usize),
) {
    for s in 0..outputs {
        // The bias gradient, in column_sum's order.
        let dzs = &dz[s * batch * LANES..(s + 1) * batch * LANES];
        let mut parts = [[T::zero(); LANES]; 8];
        let full = batch - batch % 8;
        for b in 0..full {
            let d = lane(dzs, b);
            let part = &mut parts[b % 8];
            for l in 0..LANES {
                part[l] += d[l];
            }
        }
        let mut tail = [T::zero(); LANES];
        for b in full..batch {
            let d = lane(dzs, b);
            for l in 0..LANES {
                tail[l] += d[l];
            }
        }
        let g = lane_mut(gb, s);
        let q = &parts;
        for l in 0..LANES {
            g[l] = ((q[0][l] + q[4][l]) + (q[1][l] + q[5][l]))
                + ((q[2][l] + q[6][l]) + (q[3][l] + q[7][l]))
                + tail[l];
        }
    }
    // The weight gradient: each sum runs over the whole batch in order,
    // carried in `gw` from one block of rows to the next.
    let full = inputs - inputs % TILE;
    for b0 in (0..batch).step_by(ROWS) {
        let rows = (b0, ROWS.min(batch - b0));
        for s in 0..outputs {
            for p0 in (0..full).step_by(TILE) {
                weight_grad_tile::<T, TILE>(x, dz, gw, (s, p0), rows, (batch, inputs));
            }
            for p0 in full..inputs {
                weight_grad_tile::<T, 1>(x, dz, gw, (s, p0), rows, (batch, inputs));
            }
        }
    }
}

/// `gw[s][p]` for inputs `p0..p0 + R`, over rows `b0..b0 + n` (from zero
/// when `b0` is 0, else from the sums so far).
#[inline(always)]
fn weight_grad_tile<T: Real, const R: usize>(
    x: &[T],
    dz: &[T],
    gw: &mut [T],
    (s, p0): (usize, usize),
    (b0, n): (usize, usize),
    (batch, inputs): (usize, usize),
) {
    let mut acc = [[T::zero(); LANES]; R];
    if b0 > 0 {
        for (t, acc_t) in acc.iter_mut().enumerate() {
            *acc_t = *lane(gw, s * inputs + p0 + t);
        }
    }
    for b in b0..b0 + n {
        let d = lane(dz, s * batch + b);
        for (t, acc_t) in acc.iter_mut().enumerate() {
            add_product(acc_t, lane(x, (p0 + t) * batch + b), d);
        }
    }
    for (t, acc_t) in acc.iter().enumerate() {
        *lane_mut(gw, s * inputs + p0 + t) = *acc_t;
    }
}

multiversion! {
    /// [`input_grad`] on the auto-vectorised path.
    fn input_grad_generic<T: Real>(dz: &[T], w: &[T], dx: &mut [T], shape: (usize, usize, usize)) => input_grad_loops
}

#[inline(always)]
fn input_grad_loops<T: Real>(
    dz: &[T],
    w: &[T],
    dx: &mut [T],
    (batch, inputs, outputs): (usize, usize, usize),
) {
    for b0 in (0..batch).step_by(ROWS) {
        let rows = ROWS.min(batch - b0);
        for p in 0..inputs {
            if rows == TILE {
                input_grad_tile::<T, TILE>(dz, w, dx, p, b0, (batch, inputs, outputs));
            } else {
                for b in b0..b0 + rows {
                    input_grad_tile::<T, 1>(dz, w, dx, p, b, (batch, inputs, outputs));
                }
            }
        }
    }
}

/// `dx[p][b]` for rows `b0..b0 + R`.
#[inline(always)]
fn input_grad_tile<T: Real, const R: usize>(
    dz: &[T],
    w: &[T],
    dx: &mut [T],
    p: usize,
    b0: usize,
    (batch, inputs, outputs): (usize, usize, usize),
) {
    let mut acc = [[T::zero(); LANES]; R];
    for s in 0..outputs {
        let ws = lane(w, s * inputs + p);
        for (t, acc_t) in acc.iter_mut().enumerate() {
            add_product(acc_t, lane(dz, s * batch + b0 + t), ws);
        }
    }
    for (t, acc_t) in acc.iter().enumerate() {
        *lane_mut(dx, p * batch + b0 + t) = *acc_t;
    }
}
