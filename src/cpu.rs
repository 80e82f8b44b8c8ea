//! Run-time CPU feature detection for the element-wise and small-product loops.
//!
//! Hot loops are compiled twice on x86-64: for the baseline (SSE2) and for
//! AVX2 + FMA, and the wider version runs where the CPU has it. Both versions
//! perform the same IEEE operations in the same order (Rust never fuses a
//! multiply and an add on its own), so results are bit-identical whichever runs.

/// Whether this CPU runs the AVX2 + FMA versions (cached by std after the first call).
#[inline(always)]
pub(crate) fn has_avx2_fma() -> bool {
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
    ($(#[$m:meta])* $vis:vis fn $name:ident<$($g:ident: $b:path),*>($($arg:ident: $ty:ty),*) => $body:ident) => {
        $(#[$m])*
        #[inline(always)]
        $vis fn $name<$($g: $b),*>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn wide<$($g: $b),*>($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if $crate::cpu::has_avx2_fma() {
                    // SAFETY: the CPU supports the features `wide` is compiled for.
                    return unsafe { wide($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use multiversion;
