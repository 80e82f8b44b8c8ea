//! The float types mixact computes in: `f32` for speed, `f64` for gradient checks.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use num_traits::Float;

use crate::compute::fastmath;

pub(crate) mod sealed {
    #[cfg(all(feature = "faer", target_arch = "x86_64"))]
    use crate::compute::product::GemmBackend;

    /// Closes [`Real`](super::Real) to `f32` and `f64`, and carries the raw
    /// product, which only the crate can name.
    pub trait Sealed: Sized {
        /// `c = alpha * a * b + beta * c` on strided storage (a: m x k, b: k x n, c: m x n).
        ///
        /// # Safety
        /// Every element the strides address must lie inside the pointed-to
        /// allocations, and `c` must not overlap `a` or `b`.
        #[allow(clippy::too_many_arguments)]
        unsafe fn gemm_raw(
            m: usize,
            k: usize,
            n: usize,
            alpha: Self,
            a: *const Self,
            rsa: isize,
            csa: isize,
            b: *const Self,
            rsb: isize,
            csb: isize,
            beta: Self,
            c: *mut Self,
            rsc: isize,
            csc: isize,
        );
    }
    impl Sealed for f32 {
        unsafe fn gemm_raw(
            m: usize,
            k: usize,
            n: usize,
            alpha: Self,
            a: *const Self,
            rsa: isize,
            csa: isize,
            b: *const Self,
            rsb: isize,
            csb: isize,
            beta: Self,
            c: *mut Self,
            rsc: isize,
            csc: isize,
        ) {
            #[cfg(all(feature = "faer", target_arch = "x86_64"))]
            if alpha == 1.0
                && m.saturating_mul(k).saturating_mul(n)
                    >= crate::compute::product::FAER_MIN_PRODUCT
                && crate::compute::product::gemm_backend() == GemmBackend::Faer
                && crate::compute::product::try_faer_gemm(
                    private_gemm_x86::DType::F32,
                    m,
                    k,
                    n,
                    a,
                    rsa,
                    csa,
                    b,
                    rsb,
                    csb,
                    beta,
                    c,
                    rsc,
                    csc,
                )
            {
                return;
            }
            matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
    impl Sealed for f64 {
        unsafe fn gemm_raw(
            m: usize,
            k: usize,
            n: usize,
            alpha: Self,
            a: *const Self,
            rsa: isize,
            csa: isize,
            b: *const Self,
            rsb: isize,
            csb: isize,
            beta: Self,
            c: *mut Self,
            rsc: isize,
            csc: isize,
        ) {
            #[cfg(all(feature = "faer", target_arch = "x86_64"))]
            if alpha == 1.0
                && m.saturating_mul(k).saturating_mul(n)
                    >= crate::compute::product::FAER_MIN_PRODUCT
                && crate::compute::product::gemm_backend() == GemmBackend::Faer
                && crate::compute::product::try_faer_gemm(
                    private_gemm_x86::DType::F64,
                    m,
                    k,
                    n,
                    a,
                    rsa,
                    csa,
                    b,
                    rsb,
                    csb,
                    beta,
                    c,
                    rsc,
                    csc,
                )
            {
                return;
            }
            matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
}

/// A float type the library computes in: implemented for `f32` and `f64` only.
///
/// Beyond [`num_traits::Float`] it carries the transcendental functions the
/// activations need in a form the compiler can vectorise (for `f32`, branch-free
/// polynomial approximations with relative error at most 1e-6; for `f64`, the
/// std functions, so that gradient checks in `f64` are as exact as possible),
/// and the matrix product the layers are built on.
pub trait Real:
    Float
    + nalgebra::Scalar
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + sealed::Sealed
    + 'static
{
    /// `"f32"` or `"f64"`: how a saved model names its float type.
    const NAME: &'static str;

    /// Converts an `f64` constant (rounding to nearest for `f32`).
    fn lit(x: f64) -> Self;
    /// Widens (or keeps) the value as `f64`.
    fn as_f64(self) -> f64;
    /// e^x, vectorisable.
    fn exp_fast(self) -> Self;
    /// e^x - 1, accurate near zero, vectorisable.
    fn expm1_fast(self) -> Self;
    /// ln(1 + x) for x >= 0, accurate near zero, vectorisable.
    fn ln_1p_fast(self) -> Self;
    /// tanh(x), vectorisable.
    fn tanh_fast(self) -> Self;
    /// sin(x), vectorisable (f32: within 1 ulp for |x| ≤ 1e5; f64: std).
    fn sin_fast(self) -> Self;
    /// cos(x), vectorisable (as [`sin_fast`](Self::sin_fast)).
    fn cos_fast(self) -> Self;
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn lit(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        fastmath::exp(self)
    }
    #[inline(always)]
    fn expm1_fast(self) -> Self {
        fastmath::expm1(self)
    }
    #[inline(always)]
    fn ln_1p_fast(self) -> Self {
        fastmath::ln_1p(self)
    }
    #[inline(always)]
    fn tanh_fast(self) -> Self {
        fastmath::tanh(self)
    }
    #[inline(always)]
    fn sin_fast(self) -> Self {
        fastmath::sin(self)
    }
    #[inline(always)]
    fn cos_fast(self) -> Self {
        fastmath::cos(self)
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    #[inline(always)]
    fn lit(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn expm1_fast(self) -> Self {
        self.exp_m1()
    }
    #[inline(always)]
    fn ln_1p_fast(self) -> Self {
        self.ln_1p()
    }
    #[inline(always)]
    fn tanh_fast(self) -> Self {
        self.tanh()
    }
    #[inline(always)]
    fn sin_fast(self) -> Self {
        self.sin()
    }
    #[inline(always)]
    fn cos_fast(self) -> Self {
        self.cos()
    }
}
