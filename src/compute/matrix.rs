//! Matrices as the layers see them: borrowed nalgebra views in, reusable
//! owned buffers inside, and the one matrix product everything is built on.
//!
//! Layout: batch × features, column-major, so each neuron's values over the
//! batch are one contiguous column and a block of neurons is one contiguous slice.

use std::marker::PhantomData;

use nalgebra::{DMatrix, DMatrixView};

use crate::compute::real::sealed::Sealed;
use crate::compute::real::Real;

/// A borrowed batch × features matrix (any strides).
pub type MatRef<'a, T> = DMatrixView<'a, T>;

/// A column-major buffer that keeps its capacity: resizing it to a shape that
/// fits in what it once held does not allocate, so the steady-state training
/// step (same batch size, or a smaller last batch) allocates nothing.
///
/// Nor does it write: the storage keeps its largest length, and a shape is a
/// prefix of it. Shrinking and growing again (a training batch, then an
/// evaluation batch of 1 024 rows, every epoch) used to zero the grown part,
/// a `memset` of every layer's outputs per evaluation that took 3% of the
/// standard suite; callers write every value of the shape they ask for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Buf<T> {
    /// At least `nrows * ncols` values; past that, whatever was there.
    data: Vec<T>,
    nrows: usize,
    ncols: usize,
}

impl<T: Real> Buf<T> {
    pub(crate) fn new() -> Self {
        Buf {
            data: Vec::new(),
            nrows: 0,
            ncols: 0,
        }
    }

    /// Sets the shape; contents are unspecified afterwards (callers overwrite them).
    pub(crate) fn resize(&mut self, nrows: usize, ncols: usize) {
        let len = nrows * ncols;
        if self.data.len() < len {
            self.data.resize(len, T::zero());
        }
        self.nrows = nrows;
        self.ncols = ncols;
    }

    fn len(&self) -> usize {
        self.nrows * self.ncols
    }

    pub(crate) fn nrows(&self) -> usize {
        self.nrows
    }

    pub(crate) fn view(&self) -> MatRef<'_, T> {
        MatRef::from_slice(&self.data[..self.len()], self.nrows, self.ncols)
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        &self.data[..self.len()]
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        let len = self.len();
        &mut self.data[..len]
    }

    /// Columns `start..start + len`, one contiguous slice.
    pub(crate) fn cols(&self, start: usize, len: usize) -> &[T] {
        &self.data[start * self.nrows..(start + len) * self.nrows]
    }

    pub(crate) fn cols_mut(&mut self, start: usize, len: usize) -> &mut [T] {
        &mut self.data[start * self.nrows..(start + len) * self.nrows]
    }
}

/// The view's elements as one column-major slice, when its storage is that.
pub(crate) fn contiguous<'a, T: Real>(m: &MatRef<'a, T>) -> Option<&'a [T]> {
    let (rs, cs) = m.strides();
    let (r, c) = m.shape();
    if r * c == 0 {
        return Some(&[]);
    }
    if rs == 1 && (cs == r || c == 1) {
        // SAFETY: a view with these strides addresses exactly r * c consecutive
        // elements from its first, all inside the borrowed storage.
        Some(unsafe { std::slice::from_raw_parts(m.as_ptr(), r * c) })
    } else {
        None
    }
}

/// Copies column `src_col` of `src` into the contiguous `dst` (len = rows).
pub(crate) fn copy_col<T: Real>(src: &MatRef<'_, T>, src_col: usize, dst: &mut [T]) {
    match contiguous(src) {
        Some(s) => {
            let r = src.nrows();
            dst.copy_from_slice(&s[src_col * r..(src_col + 1) * r]);
        }
        None => {
            for (i, d) in dst.iter_mut().enumerate() {
                *d = src[(i, src_col)];
            }
        }
    }
}

/// One operand of a product: a matrix, or the transpose of one, as pointer and strides.
#[derive(Clone, Copy)]
pub(crate) struct Operand<'a, T> {
    ptr: *const T,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
    /// The operand borrows the storage `ptr` points into.
    _storage: PhantomData<&'a T>,
}

impl<'a, T: Real> Operand<'a, T> {
    pub(crate) fn of(m: &'a MatRef<'_, T>) -> Self {
        let (rs, cs) = m.strides();
        Operand {
            ptr: m.as_ptr(),
            rows: m.nrows(),
            cols: m.ncols(),
            rs: rs as isize,
            cs: cs as isize,
            _storage: PhantomData,
        }
    }

    pub(crate) fn of_owned(m: &'a DMatrix<T>) -> Self {
        Operand {
            ptr: m.as_ptr(),
            rows: m.nrows(),
            cols: m.ncols(),
            rs: 1,
            cs: m.nrows() as isize,
            _storage: PhantomData,
        }
    }

    /// The transpose, as strides: no copy.
    pub(crate) fn t(self) -> Self {
        Operand {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            _storage: PhantomData,
        }
    }
}

/// Products with at most this many multiply-adds (m·k·n) run in a plain loop:
/// for them a library GEMM's packing and per-call buffer allocation cost more
/// than the arithmetic (a 32-wide layer on a batch of 32 is 32³).
const SMALL_PRODUCT: usize = 1 << 16;

/// Whether an m × k by k × n product takes the small-product loop.
pub(crate) fn is_small_product(m: usize, k: usize, n: usize) -> bool {
    m * k * n <= SMALL_PRODUCT
}

/// `c = a · b + beta · c`, with `c` a column-major `a.rows × b.cols` slice.
///
/// Panics (an internal invariant) when the shapes do not agree.
pub(crate) fn gemm<T: Real>(a: Operand<'_, T>, b: Operand<'_, T>, beta: T, c: &mut [T]) {
    assert_eq!(a.cols, b.rows, "gemm: inner dimensions differ");
    assert_eq!(c.len(), a.rows * b.cols, "gemm: output has the wrong size");
    if c.is_empty() {
        return;
    }
    if is_small_product(a.rows, a.cols, b.cols) {
        #[cfg(target_arch = "x86_64")]
        if a.rs == 1
            && crate::compute::cpu::use_avx512()
            && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        {
            // T is f32, so this is beta itself.
            let beta = beta.as_f64() as f32;
            // SAFETY: T is f32 (so are the operands and c); the operands
            // borrow live storage with their own shapes and strides, c has
            // rows x cols elements (asserted above), and the CPU has AVX-512 F.
            unsafe {
                let c = std::slice::from_raw_parts_mut(c.as_mut_ptr() as *mut f32, c.len());
                crate::compute::small_gemm_avx512::small_gemm(
                    (a.rows, a.cols, b.cols),
                    a.ptr as *const f32,
                    a.cs,
                    b.ptr as *const f32,
                    (b.rs, b.cs),
                    beta,
                    c,
                );
            }
            return;
        }
        small_gemm(a, b, beta, c);
        return;
    }
    // SAFETY: `a` and `b` borrow live views or matrices (their lifetimes
    // outlast this call) and carry those matrices' own shapes and strides;
    // `c` is an exclusive slice of exactly rows × cols elements, so it cannot
    // overlap them.
    unsafe {
        <T as Sealed>::gemm_raw(
            a.rows,
            a.cols,
            b.cols,
            T::one(),
            a.ptr,
            a.rs,
            a.cs,
            b.ptr,
            b.rs,
            b.cs,
            beta,
            c.as_mut_ptr(),
            1,
            a.rows as isize,
        );
    }
}

crate::compute::cpu::multiversion! {
    /// The allocation-free loop for small products.
    fn small_gemm<T: Real>(a: Operand<'_, T>, b: Operand<'_, T>, beta: T, c: &mut [T]) => small_gemm_loops
}

/// Column-axpy form when `a`'s columns are contiguous (vectorises over rows);
/// dot-product form when `a`'s rows and `b`'s columns are (as in `xᵀ · dz`);
/// element by element otherwise.
#[inline(always)]
fn small_gemm_loops<T: Real>(a: Operand<'_, T>, b: Operand<'_, T>, beta: T, c: &mut [T]) {
    let (m, k) = (a.rows, a.cols);
    // SAFETY (all reads below): indices stay within each operand's own
    // rows × cols, which its strides map inside the borrowed storage; a unit
    // stride makes a row or column that many consecutive elements.
    let at = |i: usize, p: usize| unsafe { *a.ptr.offset(i as isize * a.rs + p as isize * a.cs) };
    let bt = |p: usize, j: usize| unsafe { *b.ptr.offset(p as isize * b.rs + j as isize * b.cs) };
    let a_col =
        |p: usize| unsafe { std::slice::from_raw_parts(a.ptr.offset(p as isize * a.cs), m) };
    let a_row =
        |i: usize| unsafe { std::slice::from_raw_parts(a.ptr.offset(i as isize * a.rs), k) };
    let b_col =
        |j: usize| unsafe { std::slice::from_raw_parts(b.ptr.offset(j as isize * b.cs), k) };
    // The starting value of an output element: beta · c (no pass over c
    // when beta is 0 or 1).
    let start = |v: T| {
        if beta == T::zero() {
            T::zero()
        } else if beta == T::one() {
            v
        } else {
            v * beta
        }
    };
    if a.rs == 1 {
        // Register tiles of 8 rows x 4 columns: each loaded piece of a
        // column of `a` feeds four columns of `c`. Every output element still
        // sums its k products in order p = 0, 1, ..., so the tiling changes
        // no bit of the result.
        const NC: usize = 4;
        let n = b.cols;
        let full = n - n % NC;
        let rows8 = m - m % 8;
        for j0 in (0..full).step_by(NC) {
            let (_, rest) = c.split_at_mut(j0 * m);
            let tile = &mut rest[..NC * m];
            for i0 in (0..rows8).step_by(8) {
                let mut acc = [[T::zero(); 8]; NC];
                for (jj, accj) in acc.iter_mut().enumerate() {
                    for l in 0..8 {
                        accj[l] = start(tile[jj * m + i0 + l]);
                    }
                }
                for p in 0..k {
                    let a8 = &a_col(p)[i0..i0 + 8];
                    for (jj, accj) in acc.iter_mut().enumerate() {
                        let bpj = bt(p, j0 + jj);
                        for l in 0..8 {
                            accj[l] += a8[l] * bpj;
                        }
                    }
                }
                for (jj, accj) in acc.iter().enumerate() {
                    tile[jj * m + i0..jj * m + i0 + 8].copy_from_slice(accj);
                }
            }
            for jj in 0..NC {
                axpy_rows(
                    &a_col,
                    &bt,
                    start,
                    rows8,
                    k,
                    j0 + jj,
                    &mut tile[jj * m..(jj + 1) * m],
                );
            }
        }
        for (j, cj) in c.chunks_exact_mut(m).enumerate().skip(full) {
            for i0 in (0..rows8).step_by(8) {
                let mut acc = [T::zero(); 8];
                for l in 0..8 {
                    acc[l] = start(cj[i0 + l]);
                }
                for p in 0..k {
                    let bpj = bt(p, j);
                    let a8 = &a_col(p)[i0..i0 + 8];
                    for l in 0..8 {
                        acc[l] += a8[l] * bpj;
                    }
                }
                cj[i0..i0 + 8].copy_from_slice(&acc);
            }
            axpy_rows(&a_col, &bt, start, rows8, k, j, cj);
        }
        return;
    }
    for (j, cj) in c.chunks_exact_mut(m).enumerate() {
        cj.iter_mut().for_each(|v| *v = start(*v));
        if a.cs == 1 && b.rs == 1 {
            let bj = b_col(j);
            for (i, ci) in cj.iter_mut().enumerate() {
                *ci += dot(a_row(i), bj);
            }
        } else {
            for (i, ci) in cj.iter_mut().enumerate() {
                let mut s = T::zero();
                for p in 0..k {
                    s += at(i, p) * bt(p, j);
                }
                *ci += s;
            }
        }
    }
}

/// The rows from `done` on of output column `j` (fewer than 8), one
/// element at a time in the same order as the tiles.
#[inline(always)]
fn axpy_rows<'a, T: Real>(
    a_col: &impl Fn(usize) -> &'a [T],
    bt: &impl Fn(usize, usize) -> T,
    start: impl Fn(T) -> T,
    done: usize,
    k: usize,
    j: usize,
    cj: &mut [T],
) {
    for (i, ci) in cj.iter_mut().enumerate().skip(done) {
        let mut acc = start(*ci);
        for p in 0..k {
            acc += a_col(p)[i] * bt(p, j);
        }
        *ci = acc;
    }
}

/// A dot product with eight independent partial sums, so it vectorises
/// without reassociating a single running sum (which the compiler may not do).
#[inline(always)]
fn dot<T: Real>(x: &[T], y: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] += xs[l] * ys[l];
        }
    }
    let mut tail = T::zero();
    for (&a, &b) in xr.iter().zip(yr) {
        tail += a * b;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

crate::compute::cpu::multiversion! {
    /// The sum of a column (a bias gradient), in eight interleaved partial
    /// sums: vectorised, and the same order on every kernel path.
    pub(crate) fn column_sum<T: Real>(x: &[T]) -> T => column_sum_lanes
}

crate::compute::cpu::multiversion! {
    /// [`column_sum`] of each `rows`-long column of `x` into `out`, with one
    /// kernel dispatch for all of them (small batches: a call per column
    /// cost more than its sum).
    pub(crate) fn column_sums<T: Real>(x: &[T], rows: usize, out: &mut [T]) => column_sums_loops
}

#[inline(always)]
fn column_sums_loops<T: Real>(x: &[T], rows: usize, out: &mut [T]) {
    for (col, o) in x.chunks_exact(rows).zip(out.iter_mut()) {
        *o = column_sum_lanes(col);
    }
}

#[inline(always)]
fn column_sum_lanes<T: Real>(x: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for xs in chunks {
        for l in 0..8 {
            acc[l] += xs[l];
        }
    }
    let mut tail = T::zero();
    for &v in rest {
        tail += v;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// The upstream gradient as one column-major slice: `dy` itself when it is
/// contiguous, else copied into `scratch`.
pub(crate) fn contiguous_or_copy<'a, T: Real>(
    dy: &MatRef<'a, T>,
    scratch: &'a mut Buf<T>,
) -> &'a [T] {
    if let Some(s) = contiguous(dy) {
        return s;
    }
    let (batch, outputs) = dy.shape();
    scratch.resize(batch, outputs);
    for j in 0..outputs {
        copy_col(dy, j, scratch.cols_mut(j, 1));
    }
    scratch.as_slice()
}

#[cfg(test)]
mod tests {
    //! matrixmultiply's habit: sweep odd shapes and strides, poison the
    //! output with NaN, and run every kernel path (forced baseline and the
    //! CPU's own) against a naive reference.
    use super::*;
    use crate::compute::cpu::{set_kernel_limit, KernelPath};

    fn value(i: usize, salt: usize) -> f64 {
        (((i * 7919 + salt * 104_729) % 1000) as f64) / 500.0 - 1.0
    }

    /// A column-major `rows × cols` matrix stored inside a larger one
    /// (leading dimension `rows + pad`), optionally transposed.
    struct Strided {
        data: Vec<f64>,
        rows: usize,
        cols: usize,
        ld: usize,
    }

    impl Strided {
        fn new(rows: usize, cols: usize, pad: usize, salt: usize) -> Self {
            let ld = rows + pad;
            let data = (0..ld * cols.max(1)).map(|i| value(i, salt)).collect();
            Strided {
                data,
                rows,
                cols,
                ld,
            }
        }
        fn view(&self) -> MatRef<'_, f64> {
            MatRef::from_slice_with_strides_generic(
                &self.data,
                nalgebra::Dyn(self.rows),
                nalgebra::Dyn(self.cols),
                nalgebra::Const::<1>,
                nalgebra::Dyn(self.ld),
            )
        }
        fn at(&self, i: usize, j: usize) -> f64 {
            self.data[j * self.ld + i]
        }
    }

    fn naive(a: &Strided, at: bool, b: &Strided, bt: bool, beta: f64, c0: &[f64]) -> Vec<f64> {
        let ga = |i: usize, p: usize| if at { a.at(p, i) } else { a.at(i, p) };
        let gb = |p: usize, j: usize| if bt { b.at(j, p) } else { b.at(p, j) };
        let (m, k) = if at {
            (a.cols, a.rows)
        } else {
            (a.rows, a.cols)
        };
        let n = if bt { b.rows } else { b.cols };
        let mut c = vec![0.0; m * n];
        for j in 0..n {
            for i in 0..m {
                let s: f64 = (0..k).map(|p| ga(i, p) * gb(p, j)).sum();
                let prior = if beta == 0.0 {
                    0.0
                } else {
                    beta * c0[j * m + i]
                };
                c[j * m + i] = s + prior;
            }
        }
        c
    }

    fn run(a: &Strided, at: bool, b: &Strided, bt: bool, beta: f64, c: &mut [f64]) {
        let (av, bv) = (a.view(), b.view());
        let oa = if at {
            Operand::of(&av).t()
        } else {
            Operand::of(&av)
        };
        let ob = if bt {
            Operand::of(&bv).t()
        } else {
            Operand::of(&bv)
        };
        gemm(oa, ob, beta, c);
    }

    #[test]
    fn products_match_the_naive_reference_on_every_path_shape_and_stride() {
        let shapes = [1usize, 2, 7, 8, 9, 17, 33, 70];
        let mut cases = 0;
        for &m in &shapes {
            for &k in &shapes {
                for &n in &[1usize, 3, 8, 19, 64] {
                    for (at, bt) in [(false, false), (true, false), (false, true), (true, true)] {
                        for pad in [0usize, 3] {
                            for beta in [0.0, 1.0, 0.5] {
                                let a = if at {
                                    Strided::new(k, m, pad, 1)
                                } else {
                                    Strided::new(m, k, pad, 1)
                                };
                                let b = if bt {
                                    Strided::new(n, k, pad, 2)
                                } else {
                                    Strided::new(k, n, pad, 2)
                                };
                                let c0: Vec<f64> = if beta == 0.0 {
                                    vec![f64::NAN; m * n]
                                } else {
                                    (0..m * n).map(|i| value(i, 3)).collect()
                                };
                                let want = naive(&a, at, &b, bt, beta, &c0);
                                let mut results = Vec::new();
                                for baseline in [true, false] {
                                    set_kernel_limit(if baseline {
                                        KernelPath::Baseline
                                    } else {
                                        KernelPath::Avx512
                                    });
                                    let mut c = c0.clone();
                                    run(&a, at, &b, bt, beta, &mut c);
                                    for (x, w) in c.iter().zip(&want) {
                                        assert!(
                                            (x - w).abs() <= 1e-12 * (1.0 + w.abs()),
                                            "m {m} k {k} n {n} at {at} bt {bt} pad {pad} beta {beta}: {x} vs {w}"
                                        );
                                    }
                                    results.push(c);
                                }
                                set_kernel_limit(KernelPath::Avx512);
                                let bits =
                                    |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                                assert_eq!(bits(&results[0]), bits(&results[1]));
                                cases += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 8 * 8 * 5 * 4 * 2 * 3);
    }

    /// The f32 small products have their own AVX-512 loop: the same bits as
    /// the generic loop on every shape, stride and beta, as the lane
    /// kernels and the solo path's bit-identity rely on.
    #[test]
    fn f32_small_products_give_the_same_bits_on_every_kernel_path() {
        let mut cases = 0;
        for &m in &[1usize, 2, 7, 15, 16, 17, 31, 32, 33, 45] {
            for &k in &[1usize, 2, 9, 32] {
                for &n in &[1usize, 3, 4, 5, 32] {
                    for (at, bt) in [(false, false), (true, false), (false, true)] {
                        for beta in [0.0f32, 1.0, 0.5] {
                            let pad = 3;
                            let (ar, ac) = if at { (k, m) } else { (m, k) };
                            let (br, bc) = if bt { (n, k) } else { (k, n) };
                            let a: Vec<f32> =
                                (0..(ar + pad) * ac).map(|i| value(i, 1) as f32).collect();
                            let b: Vec<f32> =
                                (0..(br + pad) * bc).map(|i| value(i, 2) as f32).collect();
                            fn view(d: &[f32], r: usize, c: usize, pad: usize) -> MatRef<'_, f32> {
                                MatRef::from_slice_with_strides_generic(
                                    &d[..(r + pad) * c],
                                    nalgebra::Dyn(r),
                                    nalgebra::Dyn(c),
                                    nalgebra::Const::<1>,
                                    nalgebra::Dyn(r + pad),
                                )
                            }
                            let (av, bv) = (view(&a, ar, ac, pad), view(&b, br, bc, pad));
                            let c0: Vec<f32> = (0..m * n).map(|i| value(i, 3) as f32).collect();
                            let mut results = Vec::new();
                            for path in [KernelPath::Baseline, KernelPath::Avx2, KernelPath::Avx512]
                            {
                                set_kernel_limit(path);
                                let oa = if at {
                                    Operand::of(&av).t()
                                } else {
                                    Operand::of(&av)
                                };
                                let ob = if bt {
                                    Operand::of(&bv).t()
                                } else {
                                    Operand::of(&bv)
                                };
                                let mut c = c0.clone();
                                gemm(oa, ob, beta, &mut c);
                                results.push(c.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
                            }
                            set_kernel_limit(KernelPath::Avx512);
                            assert_eq!(
                                results[0], results[1],
                                "m {m} k {k} n {n} at {at} bt {bt} beta {beta}"
                            );
                            assert_eq!(
                                results[0], results[2],
                                "m {m} k {k} n {n} at {at} bt {bt} beta {beta}"
                            );
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 10 * 4 * 5 * 3 * 3);
    }
}
