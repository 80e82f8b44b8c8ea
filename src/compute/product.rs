//! Which library computes the large matrix products, chosen at run time.
//!
//! Products above the small-product threshold go to a library GEMM. Two are
//! built in: [matrixmultiply](https://docs.rs/matrixmultiply) (always) and
//! [faer](https://docs.rs/faer)'s x86-64 kernels (Cargo feature `faer`, on by
//! default; the crate `private-gemm-x86`, which faer's own products call).
//! Both pick their CPU kernels at run time (AVX-512 / AVX2+FMA; on a CPU
//! with neither, or off x86-64, faer's products run on matrixmultiply), so
//! the choice here is only *which library*. faer is the default where it is
//! compiled in because it was the fastest candidate on the large product the
//! benchmarks time (`cargo bench --bench hot_loop -- peers_w0` times every
//! candidate in one run, so the ranking can be checked on any machine; the
//! README's Performance section gives the sittings and their machines).
//!
//! Reproducibility: for a given library, thread count and CPU path, a product
//! is bit-identical from run to run, also while other products run at the
//! same time (with faer, a product that meets another in flight runs on one
//! thread with the pool's sums). Switching library changes the summation
//! order, so the last bits of results may change.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU8, Ordering};

/// A library that computes the large matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GemmBackend {
    /// matrixmultiply 0.3 with its own threads (`MATMUL_NUM_THREADS`).
    MatrixMultiply,
    /// faer's x86-64 kernels (`private-gemm-x86`, the code faer 0.24 runs
    /// for these products) on rayon's global pool; needs the `faer` feature
    /// and an x86-64 CPU with AVX2+FMA or AVX-512, and runs on
    /// matrixmultiply otherwise.
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
            GemmBackend::Faer => cfg!(all(feature = "faer", target_arch = "x86_64")),
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
/// use mixact::settings::{GemmBackend, gemm_backend, set_gemm_backend};
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

/// `c = a · b + beta · c` through faer's x86-64 kernels, on strided
/// storage, when the CPU has AVX2+FMA or AVX-512; returns `false` (and
/// touches nothing) otherwise, and the caller computes the product with
/// matrixmultiply. Whether faer computes a product depends on its shape and
/// the CPU alone, never on what else is running, so a product's bits do
/// not depend on the timing of other threads.
///
/// Why the kernel crate and not faer itself: for products of this size
/// faer 0.24 calls exactly this function (`private_gemm_x86::gemm`, the
/// crate faer's x86 products are written in), and depending on it alone
/// leaves out faer's linear-algebra crate and its small-matrix and complex
/// kernels, which took more than half of a fresh build.
///
/// Memory: the kernels keep a packing buffer of twice the L3 cache per
/// thread (520 MiB on a 260 MiB-L3 Xeon), and when that thread-local buffer
/// is in use, as when a pool thread waiting inside one product steals a job
/// that starts another, they allocate a fresh one for the call. So every
/// product runs on rayon's pool (a user thread's call is handed to it);
/// before that, eight user threads predicting at once reserved 8 x 520 MiB,
/// and a container's address-space limit aborted the process. And only one
/// product at a time uses the whole pool; one that finds it in flight runs
/// on one thread. A one-thread product never waits, so it never steals, and
/// the only thread that steals while its buffer is in use is the one that
/// runs the product in flight: beside the buffer of each pool thread, at
/// most one fresh buffer exists at any moment, for the length of one call.
///
/// Why a product that finds another in flight still runs here, on one
/// thread: it used to fall back to matrixmultiply, whose sums run in
/// another order, so two trainings running at once (the lab's workers on
/// full-batch studies) got results that changed from run to run with which
/// of their products met. The kernels sum every element over the same
/// blocks of the inner dimension in the same order whatever their thread
/// count (a test compares one thread with the pool's), and on one thread
/// they never enter the thread team (`spindle`) of the product in flight.
///
/// Why a product of up to [`SPLIT_COLUMNS_UP_TO`] multiply-adds that may
/// use the pool is cut into column blocks, one one-thread product per
/// thread, joined once: the kernels' own thread team shares its packed
/// panels between the threads and claims each tile through atomics, so its
/// cores exchange cache lines all through the product. On the shared VM of
/// docs/performance.md the MLP step of `mlp_train_step/mixed4` (784-512-
/// 512-10, batch 128) took 1.15-1.40 ms split against 1.26-2.45 through
/// the team, faster in 9 of 10 alternating runs of `step_times mlp`, and
/// 1.31 against 2.45 in the one pair that met a phase of slow traffic
/// between the vCPUs (`core_round_trip`). Larger products
/// (`layer_fwd_bwd`'s 256 x 1024 x 1024) were 1-5% slower split, each
/// thread packing all of `a`, so they use the team; so do products with
/// fewer than 32 columns a thread, which the team splits by rows. Each
/// block sums its elements as the whole product does (the inner
/// dimension's blocks do not depend on the column count), so the bits are
/// the same, as a test checks; and a thread that has finished its block
/// holds no buffer while it waits for the others.
///
/// # Safety
/// As [`Sealed::gemm_raw`](crate::compute::real::sealed::Sealed::gemm_raw);
/// `T` must be the float `dtype` names.
#[cfg(all(feature = "faer", target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
#[must_use]
pub(crate) unsafe fn try_faer_gemm<T>(
    dtype: private_gemm_x86::DType,
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
    T: crate::compute::real::Real,
{
    use private_gemm_x86::{Accum, DstKind, IType, InstrSet};

    /// Frees the slot when the product ends, also if it unwinds.
    struct Slot;
    impl Drop for Slot {
        fn drop(&mut self) {
            FAER_BUSY.store(false, Ordering::Release);
        }
    }
    // faer sends vector shapes (a dimension of 1) and negative strides
    // elsewhere before it calls the kernels; so does this function.
    if m <= 1 || n <= 1 || k <= 1 || rsc < 0 || csc < 0 || rsa < 0 || csa < 0 || rsb < 0 || csb < 0
    {
        return false;
    }
    let instructions = if std::arch::is_x86_feature_detected!("avx512f") {
        InstrSet::Avx512
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        InstrSet::Avx256
    } else {
        return false;
    };
    // The first product in flight may use the whole pool; one that finds
    // it busy runs on one thread (same bits, see above).
    let parallel = FAER_BUSY
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_ok();
    let _slot = parallel.then_some(Slot);

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
    let threads = if parallel && !faer_one_thread() {
        rayon::current_num_threads().max(1)
    } else {
        1
    };
    // Raw pointers as addresses, so the closure below may cross to a pool
    // thread; the caller keeps the memory alive and untouched until this
    // function returns (`rayon::scope` returns after the closure has run).
    let (a, b, c) = (a as usize, b as usize, c as usize);
    let size = std::mem::size_of::<T>() as isize;
    // Columns `start..start + cols` of `c` on `threads` threads.
    let columns = move |start: usize, cols: usize, threads: usize| {
        let alpha = T::one();
        let b = (b as isize + start as isize * csb * size) as usize;
        let c = (c as isize + start as isize * csc * size) as usize;
        // SAFETY: as this function's contract; the columns are inside `c`
        // and `b`, and alpha lives until the call ends.
        unsafe {
            private_gemm_x86::gemm(
                dtype,
                IType::U64,
                instructions,
                m,
                cols,
                k,
                c as *mut (),
                rsc,
                csc,
                core::ptr::null(),
                core::ptr::null(),
                DstKind::Full,
                accum,
                a as *const (),
                rsa,
                csa,
                false,
                core::ptr::null(),
                0,
                b as *const (),
                rsb,
                csb,
                false,
                &raw const alpha as *const (),
                threads,
            )
        }
    };
    let product = move || {
        // One thread, too few columns to cut (a tall product the team
        // splits by rows), or large enough for the team's shared packing.
        if threads <= 1
            || n < 32 * threads
            || m.saturating_mul(n).saturating_mul(k) > SPLIT_COLUMNS_UP_TO
        {
            columns(0, n, threads);
            return;
        }
        let chunk = n.div_ceil(threads).next_multiple_of(16);
        rayon::scope(|scope| {
            let mut start = chunk;
            while start < n {
                let cols = chunk.min(n - start);
                scope.spawn(move |_| columns(start, cols, 1));
                start += chunk;
            }
            columns(0, chunk.min(n), 1);
        });
    };
    if rayon::current_thread_index().is_some() {
        product();
    } else {
        // From a user's thread, the product runs on rayon's pool, so that
        // only pool threads ever hold the kernels' buffers.
        rayon::scope(move |_| product());
    }
    true
}

/// Products of at most this many multiply-adds (m x k x n) that may use
/// the pool are split into column blocks, one per thread, each a one-thread
/// product; larger ones use the kernels' own thread team (see
/// [`try_faer_gemm`] for the measurements that set it between the MLP
/// step's 5.1e7 and a 1024-wide layer's 2.7e8).
#[cfg(all(feature = "faer", target_arch = "x86_64"))]
const SPLIT_COLUMNS_UP_TO: usize = 1 << 27;

/// Whether a faer product is in flight (its thread count is the pool's).
#[cfg(all(feature = "faer", target_arch = "x86_64"))]
static FAER_BUSY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set by tests: every faer product on one thread, as one that finds
/// another in flight runs.
#[cfg(all(test, feature = "faer", target_arch = "x86_64"))]
static FAER_ONE_THREAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(all(test, feature = "faer", target_arch = "x86_64"))]
fn faer_one_thread() -> bool {
    FAER_ONE_THREAD.load(Ordering::Relaxed)
}

#[cfg(all(not(test), feature = "faer", target_arch = "x86_64"))]
fn faer_one_thread() -> bool {
    false
}

/// Runs every faer product on one thread while `on` (for tests that compare
/// the two ways a product runs).
#[cfg(all(test, feature = "faer", target_arch = "x86_64"))]
fn set_faer_one_thread(on: bool) {
    FAER_ONE_THREAD.store(on, Ordering::Relaxed);
}

/// Products with fewer multiply-adds than this go to matrixmultiply even
/// when faer is chosen: faer's gain is on large products, and each call
/// from outside rayon's pool costs a hand-off to a pool thread.
#[cfg(all(feature = "faer", target_arch = "x86_64"))]
pub(crate) const FAER_MIN_PRODUCT: usize = 1 << 22;

#[cfg(all(test, feature = "faer", target_arch = "x86_64"))]
mod faer_tests {
    use super::*;

    /// `a · b` (column-major, `m x k` by `k x n`) through faer, or `None`
    /// when the CPU has neither AVX2+FMA nor AVX-512.
    fn faer_product(a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize)) -> Option<Vec<f32>> {
        let mut c = vec![0.0f32; m * n];
        // SAFETY: the buffers hold m x k, k x n and m x n column-major values.
        let done = unsafe {
            try_faer_gemm(
                private_gemm_x86::DType::F32,
                m,
                k,
                n,
                a.as_ptr(),
                1,
                m as isize,
                b.as_ptr(),
                1,
                k as isize,
                0.0,
                c.as_mut_ptr(),
                1,
                m as isize,
            )
        };
        done.then_some(c)
    }

    /// `len` values in [-1, 1), from `seed`.
    fn random(len: usize, seed: u64) -> Vec<f32> {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// One of these tests at a time: the second holds the slot of the
    /// product in flight, which would turn the first's pool run into a
    /// one-thread run and its comparison into one that cannot fail.
    static ONE_TEST: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Square-ish, deep (several blocks of the inner dimension), wide, and
    /// tall enough that one thread walks the tiles by rows; sizes that leave
    /// partial tiles at the edges and column blocks of unequal widths; one
    /// past `SPLIT_COLUMNS_UP_TO`, which the kernels' thread team computes.
    const SHAPES: [(usize, usize, usize); 9] = [
        (520, 512, 520),
        (4096, 64, 64),
        (2048, 300, 96),
        (96, 1500, 40),
        (6000, 48, 8),
        (64, 128, 2048),
        (37, 700, 45),
        (50, 64, 300),
        (40000, 40, 24),
    ];

    #[test]
    fn a_faer_product_has_the_same_bits_on_one_thread_as_on_the_pool() {
        let _turn = ONE_TEST.lock().unwrap_or_else(|e| e.into_inner());
        for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
            let (a, b) = (random(m * k, 2 * i as u64), random(k * n, 2 * i as u64 + 1));
            set_faer_one_thread(false);
            let Some(pool) = faer_product(&a, &b, (m, k, n)) else {
                return;
            };
            set_faer_one_thread(true);
            let one = faer_product(&a, &b, (m, k, n)).expect("the CPU ran faer above");
            set_faer_one_thread(false);
            assert_eq!(bits(&pool), bits(&one), "shape {m} x {k} x {n}");
        }
    }

    #[test]
    fn a_faer_product_that_finds_another_in_flight_still_runs_in_faer_with_the_same_bits() {
        let _turn = ONE_TEST.lock().unwrap_or_else(|e| e.into_inner());
        let (m, k, n) = SHAPES[0];
        let (a, b) = (random(m * k, 11), random(k * n, 12));
        let Some(alone) = faer_product(&a, &b, (m, k, n)) else {
            return;
        };
        // Another product in flight (the slot taken as a running product takes it).
        while FAER_BUSY
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        let beside = faer_product(&a, &b, (m, k, n));
        FAER_BUSY.store(false, Ordering::Release);
        let beside = beside.expect("a busy slot no longer sends the product elsewhere");
        assert_eq!(bits(&alone), bits(&beside));
    }
}
