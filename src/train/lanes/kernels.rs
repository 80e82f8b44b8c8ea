//! The lane kernels: the affine core's three products and its bias sum for
//! [`LANES`] networks at once, one network per vector lane.
//!
//! Layout: every tensor is the solo tensor with each element widened to
//! [`LANES`] consecutive values, one per member (`[.. ][lane]`). A `LANES`-wide
//! run of f32 is one AVX-512 vector (two AVX2 vectors), so each scalar
//! operation of the solo small-product loop becomes one vector operation
//! over the members. Activations keep [`row_stride`] rows per neuron, a
//! spare row or none past the batch's, which no kernel reads or writes;
//! weights keep [`weight_row`] runs per neuron, a spare run or none past
//! the inputs, always zero (its gradient is zero, so every element-wise
//! update leaves it zero).
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

/// The sizes of one layer's lane products. Activations are stored
/// `[neuron][row][lane]` with `stride` rows per neuron, `batch` of them in
/// use: see [`row_stride`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) batch: usize,
    pub(crate) stride: usize,
    pub(crate) inputs: usize,
    pub(crate) outputs: usize,
    /// The weight of output `o` and input `i` is lane run `o · w_out + i · w_in`.
    pub(crate) w_out: usize,
    pub(crate) w_in: usize,
}

impl Shape {
    /// A layer's forward shape: weights `[s][p]` with [`weight_row`] runs per neuron.
    pub(crate) fn layer(batch: usize, stride: usize, inputs: usize, outputs: usize) -> Self {
        Shape {
            batch,
            stride,
            inputs,
            outputs,
            w_out: weight_row(inputs),
            w_in: 1,
        }
    }

    /// The forward product of the layer run backwards (the input gradient):
    /// the layer's outputs are its inputs, its inputs its outputs, and the
    /// weights are read across their rows.
    pub(crate) fn backwards(self) -> Self {
        Shape {
            inputs: self.outputs,
            outputs: self.inputs,
            w_out: self.w_in,
            w_in: self.w_out,
            ..self
        }
    }

    /// The lane run of output `o`'s weight from input `i`.
    #[inline(always)]
    pub(crate) fn weight(&self, o: usize, i: usize) -> usize {
        o * self.w_out + i * self.w_in
    }
}

/// Lane runs per neuron in a widened weight tensor: the inputs, plus a
/// spare run when their count is even. The input gradient reads the weights
/// across their rows (one input of every neuron); at an even row of 32 runs
/// (2 KiB) a tile's runs fell into 16 of L1's 64 sets and were evicted
/// before their reuse, which cost more than copying the weights transposed
/// every step (3.98-4.08 against 3.43-3.58 ms per 100 steps of one block of
/// 16, Zen 5); an odd row spreads them over every set, as [`row_stride`]
/// does for the activations, and reading across then beat the copy (3.40-3.44
/// against 3.54-3.69).
pub(crate) fn weight_row(inputs: usize) -> usize {
    inputs | 1
}

/// Rows stored per neuron for a batch of `batch` rows: odd, so that the
/// runs a product walks across neurons (a 64-byte lane run every `stride`
/// runs) fall into different L1 sets. At a power-of-two stride (batch 32:
/// 2 KiB) they all fell into two of the 64 sets and the products ran from
/// L2: the input gradient at 0.25 ns per sixteen-lane multiply-add against
/// 0.15 with one spare row (AVX-512, Zen 5, measured in a C replica).
pub(crate) fn row_stride(batch: usize) -> usize {
    batch | 1
}

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
pub(crate) fn forward<T: Real>(x: &[T], w: &[T], bias: &[T], z: &mut [T], shape: Shape) {
    check_product("lane forward", x, w, z, shape);
    assert!(
        bias.len() == shape.outputs * LANES,
        "lane forward: bias size"
    );
    #[cfg(target_arch = "x86_64")]
    if avx512_f32() {
        if let (Some(x), Some(w), Some(bias)) = (as_f32(x), as_f32(w), as_f32(bias)) {
            let z = as_f32_mut(z).expect("z has the element type of x");
            // SAFETY: the CPU has AVX-512 F (checked by use_avx512), and the
            // buffer sizes were asserted above.
            unsafe { avx512::product(x, w, Some(bias), z, shape) };
            return;
        }
    }
    product_generic(x, w, Some(bias), z, shape);
}

/// The sizes `x · wᵀ → z` needs: `x` `[inputs][stride]`, `w` `[outputs][inputs]`, `z` `[outputs][stride]`
/// (also the weight gradient's: `x`, then `gw` as `w` and `dz` as `z`).
fn check_product<T>(what: &str, x: &[T], w: &[T], z: &[T], shape: Shape) {
    let Shape {
        batch,
        stride,
        inputs,
        outputs,
        ..
    } = shape;
    // The last weight run read lies inside `w` (the unchecked AVX-512 loads rely on it).
    let weights_fit = inputs == 0
        || outputs == 0
        || (shape.weight(outputs - 1, inputs - 1) + 1) * LANES <= w.len();
    assert!(
        batch <= stride
            && x.len() == inputs * stride * LANES
            && weights_fit
            && z.len() == outputs * stride * LANES,
        "{what}: buffer sizes"
    );
}

/// The bias gradient and the weight gradient of one layer:
/// `gb[s] = Σ_b dz[s][b]` (eight interleaved partial sums, as `column_sum`)
/// and `gw[s][p] = Σ_b x[p][b] · dz[s][b]` (from zero, b in order).
pub(crate) fn param_grads<T: Real>(x: &[T], dz: &[T], gw: &mut [T], gb: &mut [T], shape: Shape) {
    // `gw` has the weights' sizes and `dz` the outputs'.
    check_product("lane parameter gradients", x, gw, dz, shape);
    assert!(
        gb.len() == shape.outputs * LANES,
        "lane parameter gradients: bias gradient size"
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

/// The input gradient: `dx[p][b] = Σ_s dz[s][b] · w[s][p]` (from zero, s
/// in order), the weights read across their rows (see [`weight_row`]).
pub(crate) fn input_grad<T: Real>(dz: &[T], w: &[T], dx: &mut [T], shape: Shape) {
    // The forward product of the layer run backwards: dz's neurons are its
    // inputs, the layer's inputs its neurons.
    let back = shape.backwards();
    check_product("lane input gradient", dz, w, dx, back);
    #[cfg(target_arch = "x86_64")]
    if avx512_f32() {
        if let (Some(dz), Some(w)) = (as_f32(dz), as_f32(w)) {
            let dx = as_f32_mut(dx).expect("dx has the element type of dz");
            // SAFETY: as in `forward`.
            unsafe { avx512::product(dz, w, None, dx, back) };
            return;
        }
    }
    product_generic(dz, w, None, dx, back);
}

multiversion! {
    /// [`forward`] and [`input_grad`] on the auto-vectorised path.
    fn product_generic<T: Real>(x: &[T], w: &[T], bias: Option<&[T]>, z: &mut [T], shape: Shape) => product_loops
}

#[inline(always)]
fn product_loops<T: Real>(x: &[T], w: &[T], bias: Option<&[T]>, z: &mut [T], shape: Shape) {
    let batch = shape.batch;
    for b0 in (0..batch).step_by(ROWS) {
        let rows = ROWS.min(batch - b0);
        for s in 0..shape.outputs {
            if rows == TILE {
                product_tile::<T, TILE>(x, w, bias, z, s, b0, shape);
            } else {
                for b in b0..b0 + rows {
                    product_tile::<T, 1>(x, w, bias, z, s, b, shape);
                }
            }
        }
    }
}

/// Rows `b0..b0 + R` of neuron `s`: the sum from zero, then the bias if any.
#[inline(always)]
fn product_tile<T: Real, const R: usize>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    z: &mut [T],
    s: usize,
    b0: usize,
    shape: Shape,
) {
    let Shape { stride, inputs, .. } = shape;
    let mut acc = [[T::zero(); LANES]; R];
    for p in 0..inputs {
        let wp = lane(w, shape.weight(s, p));
        for (t, acc_t) in acc.iter_mut().enumerate() {
            add_product(acc_t, lane(x, p * stride + b0 + t), wp);
        }
    }
    for (t, acc_t) in acc.iter().enumerate() {
        let out = lane_mut(z, s * stride + b0 + t);
        match bias {
            Some(bias) => {
                let bs = lane(bias, s);
                for l in 0..LANES {
                    out[l] = acc_t[l] + bs[l];
                }
            }
            None => *out = *acc_t,
        }
    }
}

multiversion! {
    /// [`param_grads`] on the auto-vectorised path.
    fn param_grads_generic<T: Real>(x: &[T], dz: &[T], gw: &mut [T], gb: &mut [T], shape: Shape) => param_grads_loops
}

#[inline(always)]
fn param_grads_loops<T: Real>(x: &[T], dz: &[T], gw: &mut [T], gb: &mut [T], shape: Shape) {
    let Shape {
        batch,
        stride,
        inputs,
        outputs,
        ..
    } = shape;
    for s in 0..outputs {
        // The bias gradient, in column_sum's order.
        let dzs = &dz[s * stride * LANES..(s * stride + batch) * LANES];
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
                weight_grad_tile::<T, TILE>(x, dz, gw, (s, p0), rows, shape);
            }
            for p0 in full..inputs {
                weight_grad_tile::<T, 1>(x, dz, gw, (s, p0), rows, shape);
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
    shape: Shape,
) {
    let stride = shape.stride;
    let mut acc = [[T::zero(); LANES]; R];
    if b0 > 0 {
        for (t, acc_t) in acc.iter_mut().enumerate() {
            *acc_t = *lane(gw, shape.weight(s, p0 + t));
        }
    }
    for b in b0..b0 + n {
        let d = lane(dz, s * stride + b);
        for (t, acc_t) in acc.iter_mut().enumerate() {
            add_product(acc_t, lane(x, (p0 + t) * stride + b), d);
        }
    }
    for (t, acc_t) in acc.iter().enumerate() {
        *lane_mut(gw, shape.weight(s, p0 + t)) = *acc_t;
    }
}

/// Every lane's mean squared error and its gradient, as `Loss::Mse`
/// computes them for one member: per lane, each value's
/// [`squared_error`](crate::train::loss::squared_error) summed from zero
/// column by column (`(j, i)` in column-major order), the mean `sum / n`,
/// with `n = batch · outputs`.
/// `y`, `t` and `dy` are `[o][b][lane]` with `stride` rows per output.
pub(crate) fn mse<T: Real>(
    y: &[T],
    t: &[T],
    dy: &mut [T],
    (batch, stride, outputs): (usize, usize, usize),
) -> [T; LANES] {
    let size = outputs * stride * LANES;
    assert!(
        batch <= stride && y.len() == size && t.len() == size && dy.len() == size,
        "lane loss: buffer sizes"
    );
    let n = T::lit((batch * outputs) as f64);
    let mut total = [T::zero(); LANES];
    for j in 0..outputs {
        for i in 0..batch {
            let at = j * stride + i;
            let (p, q) = (lane(y, at), lane(t, at));
            let g = lane_mut(dy, at);
            for l in 0..LANES {
                let (square, g_l) = crate::train::loss::squared_error(p[l], q[l], n);
                total[l] += square;
                g[l] = g_l;
            }
        }
    }
    total.map(|sum| sum / n)
}
