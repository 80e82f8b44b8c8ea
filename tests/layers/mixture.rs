//! The learnable mixture and the slope-only control: gradients (f64 finite
//! differences, d-alpha included), limits, hardening.

use crate::common;

use common::{assert_close, random_matrix, rng};
use mixact::{Act, Dense, Error, Layer, Mixture, Network, Slope};
use nalgebra::DMatrix;

const CANDIDATES: [Act; 4] = [Act::Relu, Act::Tanh, Act::Sin, Act::Identity];

fn random_mixture(temperature: f64, seed: u64) -> Mixture<Act, f64> {
    let mut r = rng(seed);
    let (w, b) = (random_matrix(3, 5, &mut r), random_matrix(5, 1, &mut r));
    let alpha = random_matrix(5, CANDIDATES.len(), &mut r) * 2.0;
    Mixture::from_parts(w, b.as_slice().to_vec(), &CANDIDATES, alpha)
        .unwrap()
        .with_temperature(temperature)
        .unwrap()
}

#[test]
fn mixture_gradients_including_alpha_match_finite_differences() {
    let mut m = random_mixture(1.0, 1);
    common::check_layer_gradients(&mut m, 6, 2);
}

#[test]
fn mixture_gradients_match_finite_differences_at_another_temperature() {
    let mut m = random_mixture(0.3, 3);
    common::check_layer_gradients(&mut m, 4, 4);
}

#[test]
fn mixture_gradients_match_finite_differences_with_more_candidates_than_one_group() {
    // Every activation: the logit gradients' sums run eight candidates at a
    // time, so twelve is one full group and a partial one.
    let mut r = rng(5);
    let (w, b) = (random_matrix(3, 4, &mut r), random_matrix(4, 1, &mut r));
    let alpha = random_matrix(4, Act::ALL.len(), &mut r);
    let mut m = Mixture::from_parts(w, b.as_slice().to_vec(), &Act::ALL, alpha).unwrap();
    common::check_layer_gradients(&mut m, 5, 6);
}

#[test]
fn entropy_penalty_gradient_matches_finite_differences_of_the_penalised_objective() {
    let lambda = 0.7;
    let mut m = random_mixture(0.8, 5).with_entropy_penalty(lambda).unwrap();
    let mut r = rng(6);
    let x = random_matrix(4, 3, &mut r);
    let dy = random_matrix(4, 5, &mut r);
    let objective = |m: &mut Mixture<Act, f64>| {
        m.forward(x.as_view()).unwrap();
        let fit: f64 = m.output().iter().zip(dy.iter()).map(|(a, b)| a * b).sum();
        let p = m.mixture_weights();
        let entropy: f64 = p
            .iter()
            .map(|&q| if q > 0.0 { -q * q.ln() } else { 0.0 })
            .sum();
        fit + lambda * entropy
    };
    objective(&mut m);
    m.backward(x.as_view(), dy.as_view(), false).unwrap();
    let grad = m.grad_alpha();
    let h = 1e-6;
    for n in 0..5 {
        for k in 0..CANDIDATES.len() {
            let nudge = |m: &mut Mixture<Act, f64>, d: f64| {
                m.visit_params(&mut |p| {
                    if p.name == "alpha" {
                        p.value[n * CANDIDATES.len() + k] += d;
                    }
                })
            };
            nudge(&mut m, h);
            let up = objective(&mut m);
            nudge(&mut m, -2.0 * h);
            let down = objective(&mut m);
            nudge(&mut m, h);
            assert_close(
                &format!("alpha ({n}, {k})"),
                grad[(n, k)],
                (up - down) / (2.0 * h),
                1e-6,
            );
        }
    }
}

#[test]
fn a_mixture_strongly_favouring_one_activation_behaves_like_the_mask_layer() {
    let mut r = rng(7);
    let (w, b) = (random_matrix(3, 8, &mut r), random_matrix(8, 1, &mut r));
    let chosen = [
        Act::Sin,
        Act::Relu,
        Act::Tanh,
        Act::Sin,
        Act::Identity,
        Act::Relu,
        Act::Tanh,
        Act::Sin,
    ];
    let alpha = DMatrix::from_fn(8, 4, |n, k| {
        if CANDIDATES[k] == chosen[n] {
            40.0
        } else {
            0.0
        }
    });
    let mut mixture =
        Mixture::from_parts(w.clone(), b.as_slice().to_vec(), &CANDIDATES, alpha).unwrap();
    let mut mask = Dense::from_parts(w, b.as_slice().to_vec(), &chosen).unwrap();
    assert_eq!(mixture.assignment(), chosen);
    let x = random_matrix(6, 3, &mut r);
    mixture.forward(x.as_view()).unwrap();
    mask.forward(x.as_view()).unwrap();
    approx::assert_relative_eq!(
        mixture.output().into_owned(),
        mask.output().into_owned(),
        epsilon = 1e-12
    );
}

#[test]
fn hardening_a_network_replaces_mixtures_by_their_argmax_masks_with_the_same_weights() {
    let mixture = random_mixture(1.0, 8);
    let assignment = mixture.assignment();
    let weight = mixture.weight();
    let mut r = rng(9);
    let net = Network::new(vec![
        mixture.into(),
        Dense::new(5, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let hard = net.hardened();
    let first: &dyn std::any::Any = hard.layers()[0].as_ref();
    let dense = first
        .downcast_ref::<Dense<Act, f64>>()
        .expect("hardened to a dense mask");
    assert_eq!(dense.mask(), &assignment[..]);
    assert_eq!(dense.weight(), weight);
}

#[test]
fn assignment_table_counts_every_neuron_once() {
    let m = random_mixture(1.0, 10);
    let total: usize = m.assignment_counts().iter().map(|&(_, c)| c).sum();
    assert_eq!(total, 5);
    assert!(m.assignment_table().contains("relu"));
}

#[test]
fn mixture_param_count_includes_the_logits() {
    let m = Mixture::<Act, f32>::new(4, 6, &CANDIDATES, &mut rng(11)).unwrap();
    assert_eq!(m.param_count(), 4 * 6 + 6 + 6 * 4);
    assert!(
        m.mixture_weights()
            .iter()
            .all(|&p| (p - 0.25).abs() < 1e-12),
        "starts uniform"
    );
}

#[test]
fn mixture_rejects_bad_options_and_parts() {
    let mut r = rng(12);
    assert_eq!(
        Mixture::<Act, f32>::new(3, 4, &[], &mut r).unwrap_err(),
        Error::Empty {
            what: "mixture candidates"
        }
    );
    let m = Mixture::<Act, f32>::new(3, 4, &CANDIDATES, &mut r).unwrap();
    assert!(matches!(
        m.clone().with_temperature(0.0).unwrap_err(),
        Error::HyperParameter {
            name: "temperature",
            ..
        }
    ));
    assert!(matches!(
        m.clone().with_entropy_penalty(-1.0).unwrap_err(),
        Error::HyperParameter { .. }
    ));
    assert!(matches!(
        m.with_alpha_lr_scale(f32::NAN).unwrap_err(),
        Error::HyperParameter { .. }
    ));
    let bad_alpha = Mixture::<Act, f32>::from_parts(
        DMatrix::zeros(3, 4),
        vec![0.0; 4],
        &CANDIDATES,
        DMatrix::zeros(4, 3),
    );
    assert!(matches!(
        bad_alpha.unwrap_err(),
        Error::Shape {
            what: "mixture logits",
            ..
        }
    ));
}

#[test]
fn slope_layer_gradients_including_slopes_match_finite_differences() {
    for act in [Act::Tanh, Act::Relu, Act::Sin, Act::Gelu] {
        let mut r = rng(13);
        let (w, b) = (random_matrix(3, 4, &mut r), random_matrix(4, 1, &mut r));
        let slopes = vec![0.5, 1.5, -0.7, 2.0];
        let mut s = Slope::from_parts(w, b.as_slice().to_vec(), act, slopes).unwrap();
        common::check_layer_gradients(&mut s, 5, 14);
    }
}

#[test]
fn slope_layer_with_unit_slopes_equals_the_dense_layer() {
    let mut r = rng(15);
    let (w, b) = (random_matrix(3, 4, &mut r), random_matrix(4, 1, &mut r));
    let mut s =
        Slope::from_parts(w.clone(), b.as_slice().to_vec(), Act::Gelu, vec![1.0; 4]).unwrap();
    let mut d = Dense::from_parts(w, b.as_slice().to_vec(), &[Act::Gelu; 4]).unwrap();
    let x = random_matrix(5, 3, &mut r);
    s.forward(x.as_view()).unwrap();
    d.forward(x.as_view()).unwrap();
    assert_eq!(s.output(), d.output());
}
