//! Every built-in activation: derivative against finite differences (f64),
//! safety at large |z| (f32), stable names.

use crate::common;

use mixact::{Act, ActivationSet};

/// Points away from the kinks of relu / leaky relu / elu at 0.
const POINTS: [f64; 12] = [
    -6.0, -3.1, -1.7, -0.9, -0.31, -0.04, 0.03, 0.27, 0.8, 1.6, 2.9, 5.5,
];

#[test]
fn every_derivative_matches_central_differences_in_f64() {
    for act in Act::ALL {
        for &z in &POINTS {
            let h = 1e-6;
            let numeric = (act.value(z + h) - act.value(z - h)) / (2.0 * h);
            let analytic = act.derivative(z, act.value(z));
            common::assert_close(&format!("{act} at {z}"), analytic, numeric, 1e-7);
        }
    }
}

#[test]
fn slice_kernels_agree_with_scalar_definitions() {
    let z: Vec<f64> = POINTS.to_vec();
    let dy: Vec<f64> = POINTS.iter().map(|p| 0.5 - p).collect();
    for act in Act::ALL {
        let mut y = vec![0.0; z.len()];
        act.forward(&z, &mut y);
        let mut dz = vec![0.0; z.len()];
        act.backward(&z, &y, &dy, &mut dz);
        for i in 0..z.len() {
            assert_eq!(y[i], act.value(z[i]), "{act} forward at {}", z[i]);
            assert_eq!(
                dz[i],
                dy[i] * act.derivative(z[i], y[i]),
                "{act} backward at {}",
                z[i]
            );
        }
    }
}

#[test]
fn no_activation_overflows_or_gives_nan_at_plus_minus_1000_in_f32() {
    let z = [-1000.0_f32, -100.0, -88.5, 88.5, 100.0, 1000.0];
    for act in Act::ALL {
        let mut y = [0.0_f32; 6];
        act.forward(&z, &mut y);
        let mut dz = [0.0_f32; 6];
        act.backward(&z, &y, &[1.0; 6], &mut dz);
        for i in 0..z.len() {
            let bounded = matches!(act, Act::Sin | Act::Tanh | Act::Sigmoid);
            assert!(y[i].is_finite(), "{act}({}) = {}", z[i], y[i]);
            assert!(!bounded || y[i].abs() <= 1.0, "{act}({}) = {}", z[i], y[i]);
            assert!(dz[i].is_finite(), "{act}'({}) = {}", z[i], dz[i]);
        }
    }
}

#[test]
fn saturating_activations_reach_their_limits_in_f32() {
    let cases = [
        (Act::Sigmoid, 1000.0_f32, 1.0_f32),
        (Act::Sigmoid, -1000.0, 0.0),
        (Act::Tanh, 1000.0, 1.0),
        (Act::Tanh, -1000.0, -1.0),
        (Act::Softplus, 1000.0, 1000.0),
        (Act::Softplus, -1000.0, 0.0),
        (Act::Gelu, -1000.0, 0.0),
        (Act::Gelu, 1000.0, 1000.0),
        (Act::GeluErf, -1000.0, 0.0),
        (Act::Silu, -1000.0, 0.0),
        (Act::Elu, -1000.0, -1.0),
    ];
    for (act, z, want) in cases {
        assert_eq!(act.value(z), want, "{act}({z})");
    }
}

#[test]
fn names_are_unique_and_round_trip() {
    for act in Act::ALL {
        assert_eq!(Act::from_name(act.name()), Some(act));
        assert_eq!(
            Act::ALL.iter().filter(|a| a.name() == act.name()).count(),
            1
        );
    }
    assert_eq!(Act::from_name("swish2"), None);
}

#[test]
fn gelu_forms_agree_to_the_known_approximation_error() {
    for &z in &POINTS {
        let (a, b) = (Act::Gelu.value(z), Act::GeluErf.value(z));
        assert!((a - b).abs() < 1e-3, "gelu {a} vs gelu_erf {b} at {z}");
    }
}

#[test]
fn gelu_erf_matches_the_exact_normal_cdf_to_its_stated_bound() {
    // Φ(1) = 0.8413447460685429, Φ(-2) = 0.022750131948179195 (tables).
    assert!((Act::GeluErf.value(1.0_f64) - 0.841_344_746_068_542_9).abs() < 1.2e-7);
    let exact = -2.0 * 0.022_750_131_948_179_195;
    assert!((Act::GeluErf.value(-2.0_f64) - exact).abs() < 1.2e-7 * exact.abs());
}

#[test]
fn f32_activations_match_f64_within_2e_6_relative_or_1e_6_absolute() {
    for act in Act::ALL {
        let mut worst = (0.0_f64, 0.0_f32);
        for i in 0..=40_000 {
            let z = -20.0_f32 + 40.0 * i as f32 / 40_000.0;
            let want = act.value(z as f64);
            let got = act.value(z) as f64;
            let err = if want.abs() > 0.5 {
                ((got - want) / want).abs()
            } else {
                (got - want).abs() * 2.0
            };
            if err > worst.0 {
                worst = (err, z);
            }
            let dwant = act.derivative(z as f64, want);
            let dgot = act.derivative(z, act.value(z)) as f64;
            let derr = if dwant.abs() > 0.5 {
                ((dgot - dwant) / dwant).abs()
            } else {
                (dgot - dwant).abs() * 2.0
            };
            assert!(derr <= 4e-6, "{act}' at {z}: f32 {dgot} vs f64 {dwant}");
        }
        assert!(worst.0 <= 2e-6, "{act}: error {:e} at {}", worst.0, worst.1);
    }
}
