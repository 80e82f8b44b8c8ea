//! Run-time settings of the compute kernels, one pair of functions each:
//! `set_*` changes a setting for the whole process, the getter reads it.
//! Both also come from the environment at start-up, and the `*_from_env`
//! functions say whether the environment's value is valid.
//!
//! | setting | set | read | environment |
//! |---|---|---|---|
//! | widest SIMD path of mixact's own loops | [`set_kernel_limit`] | [`kernel_path`] (the path that runs) | `MIXACT_KERNELS=baseline\|avx2\|avx512` |
//! | library of the large products | [`set_gemm_backend`] | [`gemm_backend`] | `MIXACT_GEMM=matrixmultiply\|faer` |
//!
//! Every kernel path gives bit-identical results (tested); a different
//! product library changes the last bits.
//!
//! ```
//! use mixact::settings::{kernel_path, set_kernel_limit, KernelPath};
//! set_kernel_limit(KernelPath::Baseline);
//! assert_eq!(kernel_path(), KernelPath::Baseline);
//! set_kernel_limit(KernelPath::Avx512); // back to the widest the CPU has
//! ```

pub use crate::compute::cpu::{kernel_path, kernels_from_env, set_kernel_limit, KernelPath};
pub use crate::compute::product::{gemm_backend, gemm_from_env, set_gemm_backend, GemmBackend};
