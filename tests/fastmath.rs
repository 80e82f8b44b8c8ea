//! The f32 approximations that make activations vectorisable, against std (in f64).
//! Stated bound: relative error <= 1e-6 away from zero; near zero the bound is
//! absolute (<= 1e-7) for the functions that vanish there.

use mixact::fastmath;

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
    assert!(((fastmath::expm1(tiny) as f64 - (tiny as f64).exp_m1()) / (tiny as f64)).abs() < 1e-6);
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
    assert!(((fastmath::ln_1p(tiny) as f64 - (tiny as f64).ln_1p()) / (tiny as f64)).abs() < 1e-6);
}
