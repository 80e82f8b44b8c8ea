//! The bottom floor: float types, vectorisable math, run-time kernel choice,
//! the matrix product, and the activation functions with their derivatives.
//! Nothing here knows what a layer is.

pub mod activation;
pub(crate) mod aligned;
pub(crate) mod cpu;
pub(crate) mod disjoint;
pub(crate) mod fastmath;
pub(crate) mod matrix;
pub(crate) mod pool;
pub(crate) mod prefetch;
pub mod product;
pub(crate) mod real;
#[cfg(target_arch = "x86_64")]
pub(crate) mod small_gemm_avx512;
pub(crate) mod transpose;
