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

use crate::compute::cpu::multiversion;
use crate::compute::real::Real;

/// Members per lane block: one AVX-512 vector of f32.
pub(crate) const LANES: usize = 16;

/// Rows of the batch a forward tile keeps in registers.
const TILE: usize = 4;

#[inline(always)]
fn lane<T: Real>(s: &[T], i: usize) -> &[T; LANES] {
    s[i * LANES..(i + 1) * LANES]
        .try_into()
        .expect("a lane run is LANES long")
}

multiversion! {
    /// `z[s][b] = Σ_p x[p][b] · w[s][p] + bias[s]` (sum from zero, p in order).
    pub(crate) fn forward<T: Real>(x: &[T], w: &[T], bias: &[T], z: &mut [T], shape: (usize, usize, usize)) => forward_loops
}

#[inline(always)]
fn forward_loops<T: Real>(
    x: &[T],
    w: &[T],
    bias: &[T],
    z: &mut [T],
    (batch, inputs, outputs): (usize, usize, usize),
) {
    assert!(
        x.len() == inputs * batch * LANES
            && w.len() == outputs * inputs * LANES
            && bias.len() == outputs * LANES
            && z.len() == outputs * batch * LANES,
        "lane forward: buffer sizes"
    );
    let full = batch - batch % TILE;
    for s in 0..outputs {
        let bs = lane(bias, s);
        let zs = &mut z[s * batch * LANES..(s + 1) * batch * LANES];
        for b0 in (0..full).step_by(TILE) {
            let mut acc = [[T::zero(); LANES]; TILE];
            for p in 0..inputs {
                let wp = lane(w, s * inputs + p);
                for (t, acc_t) in acc.iter_mut().enumerate() {
                    let xp = lane(x, p * batch + b0 + t);
                    for l in 0..LANES {
                        acc_t[l] += xp[l] * wp[l];
                    }
                }
            }
            for (t, acc_t) in acc.iter().enumerate() {
                let out = &mut zs[(b0 + t) * LANES..(b0 + t + 1) * LANES];
                for l in 0..LANES {
                    out[l] = acc_t[l] + bs[l];
                }
            }
        }
        for b in full..batch {
            let mut acc = [T::zero(); LANES];
            for p in 0..inputs {
                let (wp, xp) = (lane(w, s * inputs + p), lane(x, p * batch + b));
                for l in 0..LANES {
                    acc[l] += xp[l] * wp[l];
                }
            }
            let out = &mut zs[b * LANES..(b + 1) * LANES];
            for l in 0..LANES {
                out[l] = acc[l] + bs[l];
            }
        }
    }
}

multiversion! {
    /// The bias gradient and the weight gradient of one layer:
    /// `gb[s] = Σ_b dz[s][b]` (eight interleaved partial sums, as `column_sum`)
    /// and `gw[s][p] = Σ_b x[p][b] · dz[s][b]` (from zero, b in order).
    pub(crate) fn param_grads<T: Real>(x: &[T], dz: &[T], gw: &mut [T], gb: &mut [T], shape: (usize, usize, usize)) => param_grads_loops
}

#[inline(always)]
fn param_grads_loops<T: Real>(
    x: &[T],
    dz: &[T],
    gw: &mut [T],
    gb: &mut [T],
    (batch, inputs, outputs): (usize, usize, usize),
) {
    assert!(
        x.len() == inputs * batch * LANES
            && dz.len() == outputs * batch * LANES
            && gw.len() == outputs * inputs * LANES
            && gb.len() == outputs * LANES,
        "lane parameter gradients: buffer sizes"
    );
    for s in 0..outputs {
        let dzs = &dz[s * batch * LANES..(s + 1) * batch * LANES];
        // The bias gradient, in column_sum's order.
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
        let g = &mut gb[s * LANES..(s + 1) * LANES];
        for l in 0..LANES {
            let q = &parts;
            g[l] = ((q[0][l] + q[4][l]) + (q[1][l] + q[5][l]))
                + ((q[2][l] + q[6][l]) + (q[3][l] + q[7][l]))
                + tail[l];
        }
        // The weight gradient, two inputs at a time (each its own sum).
        let gws = &mut gw[s * inputs * LANES..(s + 1) * inputs * LANES];
        let pairs = inputs - inputs % 2;
        for p in (0..pairs).step_by(2) {
            let mut acc = [[T::zero(); LANES]; 2];
            for b in 0..batch {
                let d = lane(dzs, b);
                let (x0, x1) = (lane(x, p * batch + b), lane(x, (p + 1) * batch + b));
                for l in 0..LANES {
                    acc[0][l] += x0[l] * d[l];
                    acc[1][l] += x1[l] * d[l];
                }
            }
            gws[p * LANES..(p + 2) * LANES].copy_from_slice(acc.as_flattened());
        }
        for p in pairs..inputs {
            let mut acc = [T::zero(); LANES];
            for b in 0..batch {
                let (d, xp) = (lane(dzs, b), lane(x, p * batch + b));
                for l in 0..LANES {
                    acc[l] += xp[l] * d[l];
                }
            }
            gws[p * LANES..(p + 1) * LANES].copy_from_slice(&acc);
        }
    }
}

multiversion! {
    /// The input gradient: `dx[p][b] = Σ_s dz[s][b] · w[s][p]` (from zero, s in order).
    pub(crate) fn input_grad<T: Real>(dz: &[T], w: &[T], dx: &mut [T], shape: (usize, usize, usize)) => input_grad_loops
}

#[inline(always)]
fn input_grad_loops<T: Real>(
    dz: &[T],
    w: &[T],
    dx: &mut [T],
    (batch, inputs, outputs): (usize, usize, usize),
) {
    assert!(
        dz.len() == outputs * batch * LANES
            && w.len() == outputs * inputs * LANES
            && dx.len() == inputs * batch * LANES,
        "lane input gradient: buffer sizes"
    );
    let full = batch - batch % TILE;
    for p in 0..inputs {
        let dxp = &mut dx[p * batch * LANES..(p + 1) * batch * LANES];
        for b0 in (0..full).step_by(TILE) {
            let mut acc = [[T::zero(); LANES]; TILE];
            for s in 0..outputs {
                let ws = lane(w, s * inputs + p);
                for (t, acc_t) in acc.iter_mut().enumerate() {
                    let d = lane(dz, s * batch + b0 + t);
                    for l in 0..LANES {
                        acc_t[l] += d[l] * ws[l];
                    }
                }
            }
            dxp[b0 * LANES..(b0 + TILE) * LANES].copy_from_slice(acc.as_flattened());
        }
        for b in full..batch {
            let mut acc = [T::zero(); LANES];
            for s in 0..outputs {
                let (ws, d) = (lane(w, s * inputs + p), lane(dz, s * batch + b));
                for l in 0..LANES {
                    acc[l] += d[l] * ws[l];
                }
            }
            dxp[b * LANES..(b + 1) * LANES].copy_from_slice(&acc);
        }
    }
}
