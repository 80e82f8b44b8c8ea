//! Run-time CPU feature detection for the element-wise and small-product loops.
//!
//! Hot loops are compiled twice on x86-64: for the baseline (SSE2) and for
//! AVX2 + FMA, and the wider version runs where the CPU has it. Both versions
//! perform the same IEEE operations in the same order (Rust never fuses a
//! multiply and an add on its own), so results are bit-identical whichever runs.

use std::sync::atomic::{AtomicU8, Ordering};

/// 0: not yet read from the environment; 1: auto; 2: baseline forced.
static MODE: AtomicU8 = AtomicU8::new(0);

/// Forces the baseline (SSE2) versions of the activation and small-product
/// loops even where the CPU has AVX2 + FMA (`true`), or lets the CPU decide
/// (`false`). Both versions are bit-identical by construction; the switch
/// exists so that tests can prove it on any machine, and to rule the wide
/// kernels out when chasing a problem. The environment variable
/// `MIXACT_FORCE_BASELINE=1` sets it at start-up.
pub fn force_baseline_kernels(on: bool) {
    MODE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
}

/// Whether the baseline kernels are forced (see [`force_baseline_kernels`]).
pub fn baseline_kernels_forced() -> bool {
    let mode = match MODE.load(Ordering::Relaxed) {
        0 => {
            let forced = std::env::var_os("MIXACT_FORCE_BASELINE").is_some_and(|v| v == "1");
            let mode = if forced { 2 } else { 1 };
            // A concurrent explicit setting wins over the environment.
            let _ = MODE.compare_exchange(0, mode, Ordering::Relaxed, Ordering::Relaxed);
            MODE.load(Ordering::Relaxed)
        }
        m => m,
    };
    mode == 2
}

/// Whether the AVX2 + FMA versions run: the CPU has them (cached by std
/// after the first call) and the baseline is not forced.
#[inline(always)]
pub(crate) fn has_avx2_fma() -> bool {
    if baseline_kernels_forced() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `$name`, which runs the `#[inline(always)]` function `$body` with
/// the same arguments, compiled for AVX2 + FMA when the CPU has them.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident<$($g:ident: $b:path),*>($($arg:ident: $ty:ty),*) $(-> $ret:ty)? => $body:ident) => {
        $(#[$m])*
        #[inline(always)]
        $vis fn $name<$($g: $b),*>($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn wide<$($g: $b),*>($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if $crate::compute::cpu::has_avx2_fma() {
                    // SAFETY: the CPU supports the features `wide` is compiled for.
                    return unsafe { wide($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use multiversion;
