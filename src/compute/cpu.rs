//! Run-time CPU feature detection for the element-wise and small-product loops.
//!
//! Hot loops are compiled three times on x86-64: for the baseline (SSE2), for
//! AVX2 + FMA and for AVX-512, and the widest version the CPU has runs. All
//! versions perform the same IEEE operations in the same order (Rust never
//! fuses a multiply and an add on its own), so results are bit-identical
//! whichever runs; `tests/kernels.rs` checks it on every path the machine has.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU8, Ordering};

/// The instruction sets the element-wise and small-product loops are
/// compiled for, narrowest first. Every path performs the same IEEE
/// operations in the same order, so results are bit-identical whichever runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelPath {
    /// SSE2 on x86-64 (and whatever the target has elsewhere).
    Baseline,
    /// AVX2 + FMA (the FMA unit is not used for fused operations: Rust
    /// never contracts a multiply and an add on its own).
    Avx2,
    /// AVX-512 F (with AVX2 + FMA): 16 f32 lanes.
    Avx512,
}

impl KernelPath {
    fn code(self) -> u8 {
        match self {
            KernelPath::Baseline => 2,
            KernelPath::Avx2 => 3,
            KernelPath::Avx512 => 4,
        }
    }
}

/// 0: not yet read from the environment; otherwise the widest allowed
/// path's code (see [`KernelPath::code`]).
static MODE: AtomicU8 = AtomicU8::new(0);

/// Caps the kernels at `path`: the CPU's widest path up to it runs. The
/// environment variable `MIXACT_KERNELS=baseline|avx2|avx512` sets the cap
/// at start-up (`MIXACT_FORCE_BASELINE=1` is the same as `baseline`). The
/// switch exists so that tests can prove bit-identity on any machine, to
/// measure one path against another, and to rule the wide kernels out when
/// chasing a problem.
pub fn set_kernel_limit(path: KernelPath) {
    MODE.store(path.code(), Ordering::Relaxed);
}

/// The cap, read on every kernel call: one relaxed load, inlined; the
/// environment is read once, out of line (with the reading inlined here,
/// the function's prologue alone was 2.7% of a tiny training step).
#[inline(always)]
fn cap() -> u8 {
    match MODE.load(Ordering::Relaxed) {
        0 => cap_from_env(),
        m => m,
    }
}

#[cold]
#[inline(never)]
fn cap_from_env() -> u8 {
    match MODE.load(Ordering::Relaxed) {
        0 => {
            let var = |k: &str| std::env::var(k).ok().map(|v| v.trim().to_ascii_lowercase());
            let mut cap = match kernels_from_env() {
                Ok(Some(path)) => path,
                Ok(None) => KernelPath::Avx512,
                Err(e) => {
                    // No caller to return an error to at this depth: say it
                    // once and take the safest path rather than the fastest.
                    eprintln!("mixact: {e}; running the baseline kernels");
                    KernelPath::Baseline
                }
            };
            if var("MIXACT_FORCE_BASELINE").as_deref() == Some("1") {
                cap = KernelPath::Baseline;
            }
            // A concurrent explicit setting wins over the environment.
            let _ = MODE.compare_exchange(0, cap.code(), Ordering::Relaxed, Ordering::Relaxed);
            MODE.load(Ordering::Relaxed)
        }
        m => m,
    }
}

/// The cap `MIXACT_KERNELS` asks for: `None` when unset or empty.
///
/// # Errors
/// [`Error::Format`] naming the variable, its value and the accepted values.
pub fn kernels_from_env() -> Result<Option<KernelPath>> {
    let Ok(raw) = std::env::var("MIXACT_KERNELS") else {
        return Ok(None);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "baseline" => Ok(Some(KernelPath::Baseline)),
        "avx2" => Ok(Some(KernelPath::Avx2)),
        "avx512" => Ok(Some(KernelPath::Avx512)),
        _ => Err(Error::Format {
            location: "environment variable MIXACT_KERNELS".into(),
            message: format!("unknown value \"{raw}\" (accepted: baseline, avx2, avx512)"),
        }),
    }
}

/// The path the loops take now: the widest the CPU has, within the cap.
pub fn kernel_path() -> KernelPath {
    let cap = cap();
    if cap >= KernelPath::Avx512.code() && cpu_has_avx512() {
        KernelPath::Avx512
    } else if cap >= KernelPath::Avx2.code() && cpu_has_avx2_fma() {
        KernelPath::Avx2
    } else {
        KernelPath::Baseline
    }
}

#[inline(always)]
fn cpu_has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[inline(always)]
fn cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        cpu_has_avx2_fma() && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the AVX-512 versions run (CPU has them, cap allows them).
#[inline(always)]
pub(crate) fn use_avx512() -> bool {
    cap() >= KernelPath::Avx512.code() && cpu_has_avx512()
}

/// Whether the AVX2 + FMA versions run (CPU has them, cap allows them).
#[inline(always)]
pub(crate) fn use_avx2_fma() -> bool {
    cap() >= KernelPath::Avx2.code() && cpu_has_avx2_fma()
}

/// Defines `$name`, which runs the `#[inline(always)]` function `$body` with
/// the same arguments, compiled for AVX-512 or AVX2 + FMA when the CPU has them.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident<$($g:ident: $b:path),*>($($arg:ident: $ty:ty),*) $(-> $ret:ty)? => $body:ident) => {
        $(#[$m])*
        #[inline(always)]
        $vis fn $name<$($g: $b),*>($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn widest<$($g: $b),*>($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn wide<$($g: $b),*>($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if $crate::compute::cpu::use_avx512() {
                    // SAFETY: the CPU supports the features `widest` is compiled for.
                    return unsafe { widest($($arg),*) };
                }
                if $crate::compute::cpu::use_avx2_fma() {
                    // SAFETY: the CPU supports the features `wide` is compiled for.
                    return unsafe { wide($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use multiversion;
