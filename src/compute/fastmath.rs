//! (Not part of the public API: exposed for accuracy tests and benchmarks.)
//!
//! Branch-free f32 approximations of `exp`, `expm1`, `ln`, `tanh` and `ln_1p`.
//!
//! The std functions are libm calls, one per element, which stops the compiler
//! from vectorising an activation loop. These are straight-line arithmetic on
//! floats and integer bit patterns (Cephes' polynomials, with the range
//! reduction written without branches), so a loop over a slice compiles to
//! SIMD code. Their accuracy against std is tested in `tests/fastmath.rs`:
//! relative error at most 1e-6 over the whole f32 range away from zero
//! (absolute error at most 1e-7 near zero for `tanh`, `expm1`, `ln_1p`).

// Coefficients are kept as Cephes publishes them.
#![allow(clippy::excessive_precision)]

/// a * b + c, unfused: `f32::mul_add` is a libm call on CPUs built without FMA,
/// which would stop vectorisation.
#[inline(always)]
fn mad(a: f32, b: f32, c: f32) -> f32 {
    a * b + c
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in a part exact in f32 and a correction (Cody-Waite reduction).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding it rounds an f32 to the nearest integer, kept in the
/// low mantissa bits, without a `round` call (absent on baseline x86-64 SIMD).
const ROUND_MAGIC: f32 = 12_582_912.0;
/// Above this, exp overflows f32.
const EXP_HI: f32 = 88.37;
/// Below this, exp is under the smallest normal f32.
const EXP_LO: f32 = -87.33;

/// e^x, relative error about 2e-7; 0 below -87.33, +inf above 88.37, NaN for NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let xc = x.clamp(EXP_LO, EXP_HI);
    let t = mad(xc, LOG2E, ROUND_MAGIC);
    let n = t - ROUND_MAGIC;
    let n_int = t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits()) as i32;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = mad(p, r, 1.398_199_9e-3);
    let p = mad(p, r, 8.333_452e-3);
    let p = mad(p, r, 4.166_579_6e-2);
    let p = mad(p, r, 1.666_666_5e-1);
    let p = mad(p, r, 5.000_000_1e-1);
    let er = mad(p * r, r, r) + 1.0;
    let scale = f32::from_bits((n_int.wrapping_add(127) << 23) as u32);
    let y = er * scale;
    let y = if x < EXP_LO { 0.0 } else { y };
    if x > EXP_HI {
        f32::INFINITY
    } else {
        y
    }
}

/// e^x - 1, accurate near zero (a Taylor polynomial for |x| < 0.5).
#[inline(always)]
pub fn expm1(x: f32) -> f32 {
    let big = exp(x) - 1.0;
    // x + x^2/2! + ... + x^8/8!, Horner form.
    let p = 1.0 / 40_320.0_f32;
    let p = mad(p, x, 1.0 / 5040.0);
    let p = mad(p, x, 1.0 / 720.0);
    let p = mad(p, x, 1.0 / 120.0);
    let p = mad(p, x, 1.0 / 24.0);
    let p = mad(p, x, 1.0 / 6.0);
    let p = mad(p, x, 0.5);
    let small = mad(p * x, x, x);
    if x.abs() < 0.5 {
        small
    } else {
        big
    }
}

/// Natural logarithm for positive normal x (Cephes `logf`, branch-free).
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    // Mantissa scaled to [0.5, 1).
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let below = m < std::f32::consts::FRAC_1_SQRT_2;
    e -= below as i32;
    let m = if below { m + m - 1.0 } else { m - 1.0 };
    let ef = e as f32;
    let z = m * m;
    let p = 7.037_683_6e-2_f32;
    let p = mad(p, m, -1.151_461e-1);
    let p = mad(p, m, 1.167_699_9e-1);
    let p = mad(p, m, -1.242_014_1e-1);
    let p = mad(p, m, 1.424_932_3e-1);
    let p = mad(p, m, -1.666_805_8e-1);
    let p = mad(p, m, 2.000_071_4e-1);
    let p = mad(p, m, -2.499_999_4e-1);
    let p = mad(p, m, 3.333_333e-1);
    let mut y = p * m * z;
    y = mad(ef, LN2_LO, y);
    y = mad(z, -0.5, y);
    let r = m + y;
    mad(ef, LN2_HI, r)
}

/// ln(1 + u) for u >= 0, accurate for small u (Goldberg's correction).
#[inline(always)]
pub fn ln_1p(u: f32) -> f32 {
    let w = 1.0 + u;
    let d = w - 1.0;
    // ln(w) * u / (w - 1) cancels the rounding of 1 + u; for w == 1, ln(1+u) = u.
    let corrected = ln(w) * (u / d);
    if d == 0.0 {
        u
    } else {
        corrected
    }
}

/// tanh(x): an odd polynomial for |x| < 0.625, 1 - 2/(e^{2|x|} + 1) beyond.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let ax = x.abs();
    let s = x * x;
    let p = -5.704_988_7e-3_f32;
    let p = mad(p, s, 2.063_908_8e-2);
    let p = mad(p, s, -5.373_971_6e-2);
    let p = mad(p, s, 1.333_144_2e-1);
    let p = mad(p, s, -3.333_328_2e-1);
    let small = mad(p * s, x, x);
    let e = exp(2.0 * ax);
    let big = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    if ax < 0.625 {
        small
    } else {
        big
    }
}

/// π/2 in two parts: the high part has 33 significant bits, so `k · HI` is
/// exact for |k| < 2^20 and the reduction keeps full accuracy up to |x| ≈ 1.6e6.
const PIO2_HI: f64 = 1.570_796_326_734_125_6;
const PIO2_LO: f64 = 6.077_100_506_506_192e-11;

/// sin r (`use_cos` false) or cos r (true), |r| ≤ π/4 after reduction, by
/// the minimax polynomials of Cephes' `sinf`/`cosf` (degree 7 and 8)
/// evaluated in f64: their error, a few 1e-9 relative, is a small fraction
/// of f32's half ulp. Both have the form `a + b·z·(p0 + z·(p1 + z·p2))`
/// with z = r², so each lane picks its coefficients and evaluates one
/// polynomial, not both (with Taylor series of both, sin was 2.7x tanh on
/// AVX-512).
#[inline(always)]
fn sin_or_cos_reduced(r: f64, use_cos: bool) -> f64 {
    const SIN: [f64; 3] = [-1.666_665_461_1e-1, 8.332_160_873_6e-3, -1.951_529_589_1e-4];
    const COS: [f64; 3] = [
        4.166_664_568_298_827e-2,
        -1.388_731_625_493_765e-3,
        2.443_315_711_809_948e-5,
    ];
    let z = r * r;
    let (a, b) = if use_cos { (1.0 - 0.5 * z, z) } else { (r, r) };
    let p0 = if use_cos { COS[0] } else { SIN[0] };
    let p1 = if use_cos { COS[1] } else { SIN[1] };
    let p2 = if use_cos { COS[2] } else { SIN[2] };
    a + b * z * (p0 + z * (p1 + z * p2))
}

/// sin(x) (`cos_shift` = 0) or cos(x) (= 1), branch-free so the loop
/// vectorises: x = k·π/2 + r in f64 with |r| ≤ π/4, then the quadrant
/// (k + shift) mod 4 picks ±sin r or ±cos r. Accurate to within 1 ulp of f32
/// for |x| ≤ 1e5 (tested to 1e4 against f64). The documented fallback beyond
/// about 1.6e6, where one f32 step spans many periods: the reduction is no
/// longer exact and the result, still finite and in [-1, 1], is not sin x.
/// NaN and ±inf give NaN.
#[inline(always)]
fn sin_or_cos(x: f32, cos_shift: i64) -> f32 {
    let x = x as f64;
    // k = round(x · 2/π) by the 1.5·2^52 trick: the sum rounds to an integer
    // whose low mantissa bits are k in two's complement, so the quadrant is a
    // bit mask (AVX2 has no vector f64 -> i64 conversion; a cast would
    // scalarise the loop). Exact for |x · 2/π| < 2^51.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let shifted = x * std::f64::consts::FRAC_2_PI + SHIFTER;
    let k = shifted - SHIFTER;
    // Beyond about 1.6e6 the reduction is inexact and r can be anywhere:
    // clamping keeps the polynomials in range (and the result in [-1, 1]);
    // at such |x| one f32 step already spans many periods. NaN stays NaN.
    let r = ((x - k * PIO2_HI) - k * PIO2_LO).clamp(-0.8, 0.8);
    // Only the low two bits of k matter; for huge or non-finite x they are
    // arbitrary, and r is clamped (huge x) or NaN (non-finite x) anyway.
    let q = (shifted.to_bits() as i64).wrapping_add(cos_shift) & 3;
    let v = sin_or_cos_reduced(r, q & 1 == 1);
    let v = if q & 2 == 0 { v } else { -v };
    // Non-finite input: r is NaN, and so is the result.
    v as f32
}

/// sin(x) for f32, vectorisable (see `sin_or_cos`).
#[inline(always)]
pub(crate) fn sin(x: f32) -> f32 {
    sin_or_cos(x, 0)
}

/// cos(x) for f32, vectorisable (see `sin_or_cos`).
#[inline(always)]
pub(crate) fn cos(x: f32) -> f32 {
    sin_or_cos(x, 1)
}

// The f32 approximations that make activations vectorisable, against std (in f64).
// Stated bound: relative error <= 1e-6 away from zero; near zero the bound is
// absolute (<= 1e-7) for the functions that vanish there.
#[cfg(test)]
mod tests {
    use crate::compute::fastmath;

    /// Distance in f32 ulps between `got` and the exact `want` (the spacing of f32 at `want`).
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        let spacing = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
        (got as f64 - want).abs() / spacing.max(f32::MIN_POSITIVE as f64)
    }

    #[test]
    fn sin_and_cos_are_within_one_ulp_up_to_1e4() {
        let mut worst = (0.0f64, 0.0f32);
        for i in 0..=2_000_000u32 {
            let x = -1.0e4f32 + 2.0e4 * i as f32 / 2.0e6;
            for (got, want) in [
                (fastmath::sin(x), (x as f64).sin()),
                (fastmath::cos(x), (x as f64).cos()),
            ] {
                let e = ulps(got, want);
                if e > worst.0 {
                    worst = (e, x);
                }
            }
        }
        assert!(worst.0 <= 1.0, "{} ulp at {}", worst.0, worst.1);
    }

    #[test]
    fn sin_and_cos_of_special_values() {
        assert!(fastmath::sin(f32::NAN).is_nan());
        assert!(fastmath::sin(f32::INFINITY).is_nan());
        assert!(fastmath::cos(f32::NEG_INFINITY).is_nan());
        assert_eq!(fastmath::sin(0.0), 0.0);
        assert_eq!(fastmath::cos(0.0), 1.0);
        for x in [1e6f32, 1e9, 3e38, -3e38] {
            let (s, c) = (fastmath::sin(x), fastmath::cos(x));
            assert!(
                (-1.0..=1.0).contains(&s) && (-1.0..=1.0).contains(&c),
                "{x}: {s} {c}"
            );
        }
    }

    fn grid(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
    }

    fn check(name: &str, f: fn(f32) -> f32, exact: fn(f64) -> f64, lo: f32, hi: f32) {
        let mut worst = (0.0_f64, 0.0_f32);
        for x in grid(lo, hi, 200_000) {
            let want = exact(x as f64);
            let got = f(x) as f64;
            let err = if want.abs() > 1e-1 {
                ((got - want) / want).abs()
            } else {
                (got - want).abs() * 10.0
            };
            if err > worst.0 {
                worst = (err, x);
            }
        }
        assert!(
            worst.0 <= 1e-6,
            "{name}: error {:e} at {}",
            worst.0,
            worst.1
        );
    }

    #[test]
    fn exp_is_within_1e_6_relative_over_the_f32_range() {
        check("exp", fastmath::exp, f64::exp, -87.0, 88.0);
    }

    #[test]
    fn exp_saturates_like_std() {
        assert_eq!(fastmath::exp(-1000.0), 0.0);
        assert_eq!(fastmath::exp(1000.0), f32::INFINITY);
        assert!(fastmath::exp(f32::NAN).is_nan());
    }

    #[test]
    fn expm1_is_accurate_near_zero_and_beyond() {
        check("expm1", fastmath::expm1, f64::exp_m1, -20.0, 20.0);
        let tiny = 1e-5_f32;
        assert!(
            ((fastmath::expm1(tiny) as f64 - (tiny as f64).exp_m1()) / (tiny as f64)).abs() < 1e-6
        );
    }

    #[test]
    fn tanh_is_within_1e_6_relative() {
        check("tanh", fastmath::tanh, f64::tanh, -20.0, 20.0);
        assert_eq!(fastmath::tanh(1000.0), 1.0);
        assert_eq!(fastmath::tanh(-1000.0), -1.0);
    }

    #[test]
    fn ln_is_within_1e_6_relative_on_positive_normals() {
        check("ln", fastmath::ln, f64::ln, 1e-30, 4.0);
        check("ln", fastmath::ln, f64::ln, 4.0, 1e30);
    }

    #[test]
    fn ln_1p_is_accurate_near_zero() {
        check("ln_1p", fastmath::ln_1p, f64::ln_1p, 0.0, 1.0);
        let tiny = 3e-9_f32;
        assert!(
            ((fastmath::ln_1p(tiny) as f64 - (tiny as f64).ln_1p()) / (tiny as f64)).abs() < 1e-6
        );
    }
}
