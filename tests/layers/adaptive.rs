//! Slope layers beyond the plain control: Jagtap's locally adaptive
//! activations (scale factor n, per neuron or per layer) and SIREN's sine
//! layers (fixed ω0, SIREN's initialisation).

use crate::common;

use mixact::{Act, Dense, Error, Layer, Network, Slope};
use nalgebra::DMatrix;

fn adaptive(per_neuron: bool) -> Slope<Act, f64> {
    Slope::adaptive(3, 5, Act::Tanh, 10.0, per_neuron, &mut common::rng(1)).unwrap()
}

#[test]
fn adaptive_slopes_per_neuron_and_per_layer_are_gradient_checked() {
    for per_neuron in [true, false] {
        let mut layer = adaptive(per_neuron);
        // move the slopes off 1/n so that the check sees a general point
        layer.visit_params(&mut |p| {
            if p.name == "slope" {
                for (k, a) in p.value.iter_mut().enumerate() {
                    *a = 0.05 + 0.03 * k as f64;
                }
            }
        });
        common::check_layer_gradients::<Act, _>(&mut layer, 4, 2);
    }
}

#[test]
fn siren_layers_are_gradient_checked_with_their_slopes_fixed() {
    let mut layer =
        Slope::<Act, f64>::siren(3, 4, Act::Sin, 30.0, false, &mut common::rng(3)).unwrap();
    let mut names = Vec::new();
    layer.visit_params(&mut |p| names.push(p.name));
    assert_eq!(names, ["weight", "bias"]);
    assert_eq!(layer.param_count(), 3 * 4 + 4);
    common::check_layer_gradients::<Act, _>(&mut layer, 4, 5);
}

#[test]
fn an_adaptive_layer_starts_as_its_plain_activation() {
    for per_neuron in [true, false] {
        let mut layer = adaptive(per_neuron);
        let mut plain =
            Dense::<Act, f64>::from_parts(layer.weight(), layer.bias(), &[Act::Tanh; 5]).unwrap();
        let x = DMatrix::from_fn(3, 3, |i, j| i as f64 * 0.4 - j as f64 * 0.3);
        layer.forward(x.as_view()).unwrap();
        plain.forward(x.as_view()).unwrap();
        for (a, b) in layer.output().iter().zip(plain.output().iter()) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
        assert_eq!(layer.slopes().len(), if per_neuron { 5 } else { 1 });
    }
}

#[test]
fn siren_weights_are_drawn_within_sirens_bounds_and_the_layer_computes_sin_of_omega0_z() {
    let first = Slope::<Act, f64>::siren(4, 64, Act::Sin, 30.0, true, &mut common::rng(7)).unwrap();
    assert!(first.weight().iter().all(|w| w.abs() <= 1.0 / 4.0));
    let hidden =
        Slope::<Act, f64>::siren(64, 64, Act::Sin, 30.0, false, &mut common::rng(7)).unwrap();
    let bound = (6.0f64 / 64.0).sqrt() / 30.0;
    assert!(hidden.weight().iter().all(|w| w.abs() <= bound));
    assert!(hidden.weight().iter().any(|w| w.abs() > 0.5 * bound));
    assert!(hidden.bias().iter().all(|b| b.abs() <= 1.0 / 8.0));
    let mut layer = first;
    let x = DMatrix::from_fn(2, 4, |i, j| (i + j) as f64 * 0.1);
    layer.forward(x.as_view()).unwrap();
    let z = &x * layer.weight();
    for j in 0..64 {
        let want = (30.0 * (z[(1, j)] + layer.bias()[j])).sin();
        assert!((layer.output()[(1, j)] - want).abs() < 1e-12);
    }
}

/// The share of `w` below each quartile of U(-c, c), and the variance
/// against c²/3: a drawn layer that is not uniform on SIREN's interval (a
/// normal, a wrong bound, a one-sided draw) fails one of them.
fn assert_uniform_on(w: &[f64], c: f64) {
    let n = w.len() as f64;
    for (q, share) in [(-0.5 * c, 0.25), (0.0, 0.5), (0.5 * c, 0.75)] {
        let below = w.iter().filter(|&&v| v < q).count() as f64 / n;
        assert!(
            (below - share).abs() < 0.02,
            "{below} below {q}, want {share}"
        );
    }
    let mean = w.iter().sum::<f64>() / n;
    let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < 0.02 * c, "mean {mean}");
    assert!((var / (c * c / 3.0) - 1.0).abs() < 0.05, "variance {var}");
}

#[test]
fn siren_weights_are_uniform_on_sirens_intervals_for_first_and_hidden_layers() {
    // First layer: U(-1/fan_in, 1/fan_in); hidden: U(-sqrt(6/fan_in)/ω0, +).
    let first =
        Slope::<Act, f64>::siren(4, 4096, Act::Sin, 30.0, true, &mut common::rng(3)).unwrap();
    assert_uniform_on(first.weight().as_slice(), 1.0 / 4.0);
    let hidden =
        Slope::<Act, f64>::siren(256, 256, Act::Sin, 30.0, false, &mut common::rng(4)).unwrap();
    assert_uniform_on(hidden.weight().as_slice(), (6.0f64 / 256.0).sqrt() / 30.0);
}

#[test]
fn adaptive_and_siren_layers_save_and_load_with_their_scale_slopes_and_training_flag() {
    let mut r = common::rng(11);
    let net: Network<Act, f64> = Network::new(vec![
        Slope::siren(2, 8, Act::Sin, 30.0, true, &mut r)
            .unwrap()
            .into(),
        Slope::adaptive(8, 6, Act::Tanh, 10.0, false, &mut r)
            .unwrap()
            .into(),
        Slope::adaptive(6, 4, Act::Relu, 5.0, true, &mut r)
            .unwrap()
            .into(),
        Dense::new(4, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let back = Network::<Act, f64>::from_model_bytes(&net.to_model_bytes().unwrap()).unwrap();
    let x = DMatrix::from_fn(5, 2, |i, j| i as f64 * 0.2 - j as f64 * 0.5);
    assert_eq!(net.predict(&x).unwrap(), back.predict(&x).unwrap());
    assert_eq!(net.param_count(), back.param_count());
    assert_eq!(back.describe(), net.describe());
}

#[test]
fn bad_scale_factors_and_frequencies_are_errors() {
    let mut r = common::rng(1);
    for n in [0.5, 0.0, f64::NAN, f64::INFINITY] {
        let e = Slope::<Act, f64>::adaptive(2, 2, Act::Tanh, n, true, &mut r).unwrap_err();
        assert!(matches!(e, Error::HyperParameter { .. }), "n = {n}: {e}");
    }
    // finite in f64 but infinite in f32: refused, not NaN outputs later
    assert!(matches!(
        Slope::<Act, f32>::adaptive(2, 2, Act::Tanh, 1e300, true, &mut r),
        Err(Error::HyperParameter { .. })
    ));
    assert!(matches!(
        Slope::<Act, f32>::siren(2, 2, Act::Sin, 1e300, true, &mut r),
        Err(Error::HyperParameter { .. })
    ));
    for w0 in [0.0, -30.0, f64::NAN] {
        let e = Slope::<Act, f64>::siren(2, 2, Act::Sin, w0, true, &mut r).unwrap_err();
        assert!(
            matches!(e, Error::HyperParameter { .. }),
            "omega0 = {w0}: {e}"
        );
    }
}

#[test]
fn a_model_file_with_a_bad_slope_scale_is_refused() {
    let mut r = common::rng(2);
    let net: Network<Act, f64> =
        Network::new(vec![Slope::adaptive(2, 3, Act::Tanh, 10.0, true, &mut r)
            .unwrap()
            .into()])
        .unwrap();
    let mut bad = net.to_model_bytes().unwrap();
    // in the header (JSON inside a JSON string): \"scale\":10.0
    let needle = br#"\"scale\":10.0"#;
    let at = bad
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the scale is written");
    bad[at + needle.len() - 4..at + needle.len()].copy_from_slice(b"-1.0");
    assert!(matches!(
        Network::<Act, f64>::from_model_bytes(&bad),
        Err(Error::Model { .. })
    ));
}

fn slope_values(net: &mut Network<Act, f64>) -> Vec<f64> {
    let mut v = Vec::new();
    net.visit_params(&mut |p| {
        if p.name == "slope" {
            v.extend_from_slice(p.value)
        }
    });
    v
}

fn slope_grads(net: &mut Network<Act, f64>) -> Vec<f64> {
    let mut v = Vec::new();
    net.visit_params(&mut |p| {
        if p.name == "slope" {
            v.extend_from_slice(p.grad)
        }
    });
    v
}

fn set_slope(net: &mut Network<Act, f64>, index: usize, value: f64) {
    let mut k = 0;
    net.visit_params(&mut |p| {
        if p.name == "slope" {
            for a in p.value.iter_mut() {
                if k == index {
                    *a = value;
                }
                k += 1;
            }
        }
    });
}

#[test]
fn the_slope_recovery_term_is_jagtaps_formula_and_its_gradient_matches_finite_differences() {
    use mixact::tree::slope_recovery;
    let mut r = common::rng(21);
    let mut net: Network<Act, f64> = Network::new(vec![
        Slope::adaptive(2, 3, Act::Tanh, 10.0, true, &mut r)
            .unwrap()
            .into(),
        Slope::adaptive(3, 4, Act::Tanh, 10.0, false, &mut r)
            .unwrap()
            .into(),
        Dense::new(4, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    for (k, a) in [0.12, 0.07, 0.2, 0.15].into_iter().enumerate() {
        set_slope(&mut net, k, a);
    }
    // S = K / Σ_k exp(mean a_k), K = 2 layers: means 0.13 and 0.15
    let want = 2.0 / (0.13f64.exp() + 0.15f64.exp());
    let before = slope_grads(&mut net);
    let s = slope_recovery(&mut net, 1.0);
    assert!((s - want).abs() < 1e-15, "{s} vs {want}");
    let grad: Vec<f64> = slope_grads(&mut net)
        .iter()
        .zip(&before)
        .map(|(g, b)| g - b)
        .collect();
    let a0 = slope_values(&mut net);
    let h = 1e-6;
    for (k, &g) in grad.iter().enumerate() {
        set_slope(&mut net, k, a0[k] + h);
        let up = slope_recovery(&mut net, 1.0);
        set_slope(&mut net, k, a0[k] - h);
        let down = slope_recovery(&mut net, 1.0);
        set_slope(&mut net, k, a0[k]);
        let fd = (up - down) / (2.0 * h);
        assert!((g - fd).abs() < 1e-8, "slope {k}: {g} vs {fd}");
    }
    // layers without adaptive slopes contribute nothing
    let mut plain: Network<Act, f64> =
        Network::new(vec![Dense::new(2, 1, Act::Tanh, &mut r).unwrap().into()]).unwrap();
    assert_eq!(slope_recovery(&mut plain, 1.0), 0.0);
}

#[test]
fn training_with_slope_recovery_raises_the_slopes_more_than_without() {
    use mixact::{data, Adam, FitConfig, Loss, Trainer};
    let run = |recovery: f64| {
        let mut r = common::rng(5);
        let mut net: Network<Act, f64> = Network::new(vec![
            Slope::adaptive(1, 8, Act::Tanh, 10.0, true, &mut r)
                .unwrap()
                .into(),
            Dense::new(8, 1, Act::Identity, &mut r).unwrap().into(),
        ])
        .unwrap();
        let x = DMatrix::from_fn(64, 1, |i, _| i as f64 / 32.0 - 1.0);
        let y = x.map(|v| (6.0 * v).sin() + v.abs());
        let ds = data::Dataset::new(x, y).unwrap();
        let mut t = Trainer::new(
            Loss::Mse,
            Adam::new(1e-3).unwrap(),
            FitConfig::full_batch(50),
        )
        .unwrap()
        .with_slope_recovery(recovery)
        .unwrap();
        t.fit(&mut net, &ds).unwrap();
        slope_values(&mut net).iter().sum::<f64>()
    };
    assert!(run(1.0) > run(0.0));
    assert!(matches!(
        Trainer::new(
            Loss::Mse,
            Adam::<f64>::new(1e-3).unwrap(),
            FitConfig::default()
        )
        .unwrap()
        .with_slope_recovery(f64::NAN),
        Err(Error::HyperParameter { .. })
    ));
}
