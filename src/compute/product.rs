//! Which library computes the large matrix products, chosen at run time.
//!
//! Products above the small-product threshold go to a library GEMM. Two are
//! built in: [matrixmultiply](https://docs.rs/matrixmultiply) (always) and
//! [faer](https://docs.rs/faer) (Cargo feature `faer`, on by default). Both
//! pick their own CPU kernels at run time (AVX-512 / AVX2+FMA / baseline), so
//! the choice here is only *which library*. faer is the default where it is
//! compiled in because it was the fastest candidate on the large product the
//! benchmarks time (`cargo bench --bench hot_loop -- peers_w0` times every
//! candidate in one run, so the ranking can be checked on any machine; the
//! README's Performance section gives the sittings and their machines).
//!
//! Reproducibility: for a given library, thread count and CPU path, a product
//! is bit-identical from run to run. Switching library changes the summation
//! order, so the last bits of results may change.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU8, Ordering};

/// A library that computes the large matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GemmBackend {
    /// matrixmultiply 0.3 with its own threads (`MATMUL_NUM_THREADS`).
    MatrixMultiply,
    /// faer 0.24 on rayon's global pool (needs the `faer` feature).
    Faer,
}

impl GemmBackend {
    /// The name `MIXACT_GEMM` accepts: `"matrixmultiply"` or `"faer"`.
    pub fn name(self) -> &'static str {
        match self {
            GemmBackend::MatrixMultiply => "matrixmultiply",
            GemmBackend::Faer => "faer",
        }
    }

    /// Whether this build can run the backend.
    pub fn available(self) -> bool {
        match self {
            GemmBackend::MatrixMultiply => true,
            GemmBackend::Faer => cfg!(feature = "faer"),
        }
    }

    fn code(self) -> u8 {
        match self {
            GemmBackend::MatrixMultiply => 1,
            GemmBackend::Faer => 2,
        }
    }

    fn default_for_build() -> Self {
        if GemmBackend::Faer.available() {
            GemmBackend::Faer
        } else {
            GemmBackend::MatrixMultiply
        }
    }
}

/// 0: not yet read from the environment; otherwise a backend's code.
static BACKEND: AtomicU8 = AtomicU8::new(0);

/// Chooses the library for large products. Returns `false` (and changes
/// nothing) when this build lacks it. The environment variable
/// `MIXACT_GEMM=matrixmultiply|faer` sets it at start-up; an unknown or
/// unavailable name there falls back to the default.
///
/// ```
/// use mixact::{gemm_backend, set_gemm_backend, GemmBackend};
/// assert!(set_gemm_backend(GemmBackend::MatrixMultiply));
/// assert_eq!(gemm_backend(), GemmBackend::MatrixMultiply);
/// ```
pub fn set_gemm_backend(backend: GemmBackend) -> bool {
    if !backend.available() {
        return false;
    }
    BACKEND.store(backend.code(), Ordering::Relaxed);
    true
}

/// The backend `MIXACT_GEMM` asks for: `None` when unset or empty.
///
/// # Errors
/// [`Error::Format`] for an unknown name or one this build lacks.
pub fn gemm_from_env() -> Result<Option<GemmBackend>> {
    let Ok(raw) = std::env::var("MIXACT_GEMM") else {
        return Ok(None);
    };
    let v = raw.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let found = [GemmBackend::MatrixMultiply, GemmBackend::Faer]
        .into_iter()
        .find(|b| b.name() == v);
    match found {
        Some(b) if b.available() => Ok(Some(b)),
        Some(b) => Err(Error::Format {
            location: "environment variable MIXACT_GEMM".into(),
            message: format!(
                "\"{}\" is not in this build (Cargo feature `{}`)",
                b.name(),
                b.name()
            ),
        }),
        None => Err(Error::Format {
            location: "environment variable MIXACT_GEMM".into(),
            message: format!("unknown value \"{raw}\" (accepted: matrixmultiply, faer)"),
        }),
    }
}

/// The library that computes large products now (see [`set_gemm_backend`]).
pub fn gemm_backend() -> GemmBackend {
    let code = match BACKEND.load(Ordering::Relaxed) {
        0 => {
            let chosen = match gemm_from_env() {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("mixact: {e}; using the default");
                    None
                }
            }
            .unwrap_or_else(GemmBackend::default_for_build);
            // A concurrent explicit setting wins over the environment.
            let _ =
                BACKEND.compare_exchange(0, chosen.code(), Ordering::Relaxed, Ordering::Relaxed);
            BACKEND.load(Ordering::Relaxed)
        }
        c => c,
    };
    if code == GemmBackend::Faer.code() {
        GemmBackend::Faer
    } else {
        GemmBackend::MatrixMultiply
    }
}

/// `c = a · b + beta · c` through faer, on strided storage, when no other
/// faer product is running; returns `false` (and touches nothing) otherwise,
/// and the caller computes the product with matrixmultiply.
///
/// Why one at a time: faer's x86 kernels keep a packing buffer of twice the
/// L3 cache per thread (520 MiB on a 260 MiB-L3 Xeon), and when that
/// thread-local buffer is already in use, as when a pool thread waiting
/// inside one faer product steals a job that starts another, they allocate
/// a fresh one for the call. Eight user threads predicting at once then
/// reserved 8 x 520 MiB, and a container's address-space limit aborted the
/// process. With one product in flight, and that product always on rayon's
/// pool, the buffers exist once per pool thread and are never duplicated.
///
/// # Safety
/// As [`Sealed::gemm_raw`](crate::compute::real::sealed::Sealed::gemm_raw).
#[cfg(feature = "faer")]
#[allow(clippy::too_many_arguments)]
#[must_use]
pub(crate) unsafe fn try_faer_gemm<T>(
    m: usize,
    k: usize,
    n: usize,
    a: *const T,
    rsa: isize,
    csa: isize,
    b: *const T,
    rsb: isize,
    csb: isize,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
) -> bool
where
    T: faer::traits::ComplexField + crate::compute::real::Real,
{
    use faer::{Accum, MatMut, MatRef, Par};
    use std::sync::atomic::AtomicBool;

    static FAER_BUSY: AtomicBool = AtomicBool::new(false);
    /// Frees the slot when the product ends, also if it unwinds.
    struct Slot;
    impl Drop for Slot {
        fn drop(&mut self) {
            FAER_BUSY.store(false, Ordering::Release);
        }
    }
    if FAER_BUSY
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    let _slot = Slot;

    let accum = if beta == T::zero() {
        Accum::Replace
    } else {
        if beta != T::one() {
            for j in 0..n as isize {
                for i in 0..m as isize {
                    let v = c.offset(i * rsc + j * csc);
                    *v *= beta;
                }
            }
        }
        Accum::Add
    };
    let dst = MatMut::from_raw_parts_mut(c, m, n, rsc, csc);
    let lhs = MatRef::from_raw_parts(a, m, k, rsa, csa);
    let rhs = MatRef::from_raw_parts(b, k, n, rsb, csb);
    let par = match rayon::current_num_threads() {
        0 | 1 => Par::Seq,
        t => Par::rayon(t),
    };
    if rayon::current_thread_index().is_some() {
        faer::linalg::matmul::matmul(dst, accum, lhs, rhs, T::one(), par);
        return true;
    }
    // From a user's thread, the product runs on rayon's pool, so that only
    // pool threads ever hold faer's buffers.
    struct Product<'a, T>(MatMut<'a, T>, MatRef<'a, T>, MatRef<'a, T>);
    // SAFETY: the views point to memory the caller keeps alive and does not
    // touch until this function returns; `rayon::scope` returns only after
    // the closure has run on the pool thread.
    unsafe impl<T> Send for Product<'_, T> {}
    let product = Product(dst, lhs, rhs);
    rayon::scope(move |_| {
        let p = product;
        faer::linalg::matmul::matmul(p.0, accum, p.1, p.2, T::one(), par);
    });
    true
}

/// Products with fewer multiply-adds than this go to matrixmultiply even
/// when faer is chosen: faer's gain is on large products, and each call
/// from outside rayon's pool costs a hand-off to a pool thread.
#[cfg(feature = "faer")]
pub(crate) const FAER_MIN_PRODUCT: usize = 1 << 22;
