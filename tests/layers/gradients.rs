//! Finite-difference gradient checks (f64) for every layer kind with mixed
//! activations, every loss, and a whole 3-layer mixed network.

use crate::common;

use common::{assert_close, random_matrix, rng};
use mixact::{mask, Act, Concat, Dense, Layer, Loss, Network};

#[test]
fn dense_layer_gradients_match_finite_differences_for_every_activation() {
    for act in Act::ALL {
        let mut layer = Dense::<Act, f64>::new(3, 4, act, &mut rng(1)).unwrap();
        common::check_layer_gradients(&mut layer, 5, 2);
    }
}

#[test]
fn per_neuron_layer_with_all_activations_interleaved_matches_finite_differences() {
    // Interleaved, so the internal grouping permutes neurons.
    let m = mask::pattern(&Act::ALL, 23).unwrap();
    let mut layer = Dense::<Act, f64>::per_neuron(4, &m, &mut rng(3)).unwrap();
    assert!(layer.block_count() == Act::ALL.len());
    common::check_layer_gradients(&mut layer, 6, 4);
}

/// Batches of 64 rows or more take the per-neuron pass (smaller ones one
/// pass per activation block): both passes are checked, permuted and not.
#[test]
fn per_neuron_and_dense_layers_on_large_batches_match_finite_differences() {
    let m = mask::pattern(&Act::ALL, 13).unwrap();
    let mut mixed = Dense::<Act, f64>::per_neuron(3, &m, &mut rng(5)).unwrap();
    common::check_layer_gradients(&mut mixed, 70, 6);
    let mut dense = Dense::<Act, f64>::new(3, 5, Act::Gelu, &mut rng(7)).unwrap();
    common::check_layer_gradients(&mut dense, 66, 8);
}

#[test]
fn branch_layer_gradients_match_finite_differences() {
    let branches = [
        (3, Act::Relu),
        (2, Act::LeakyRelu),
        (4, Act::Tanh),
        (1, Act::Sin),
    ];
    let mut layer = Dense::<Act, f64>::branches(3, &branches, &mut rng(5)).unwrap();
    common::check_layer_gradients(&mut layer, 4, 6);
}

#[test]
fn deep_concat_gradients_match_finite_differences() {
    let mut r = rng(7);
    let deep = |a: Act, b: Act, r: &mut rand_chacha::ChaCha8Rng| {
        Network::<Act, f64>::new(vec![
            Dense::new(3, 4, a, r).unwrap().into(),
            Dense::new(4, 2, b, r).unwrap().into(),
        ])
        .unwrap()
    };
    let mut concat = Concat::of_networks(vec![
        deep(Act::Relu, Act::Tanh, &mut r),
        deep(Act::Sigmoid, Act::Gelu, &mut r),
    ])
    .unwrap();
    common::check_layer_gradients(&mut concat, 4, 8);
}

#[test]
fn average_gradients_match_finite_differences() {
    let mut r = rng(8);
    let deep = |a: Act, r: &mut rand_chacha::ChaCha8Rng| {
        Network::<Act, f64>::new(vec![
            Dense::new(3, 4, a, r).unwrap().into(),
            Dense::new(4, 2, Act::Identity, r).unwrap().into(),
        ])
        .unwrap()
    };
    let mut average = mixact::Average::new(vec![
        deep(Act::Tanh, &mut r).into(),
        deep(Act::Sin, &mut r).into(),
        deep(Act::Softplus, &mut r).into(),
    ])
    .unwrap();
    common::check_layer_gradients(&mut average, 4, 9);
}

fn check_loss(loss: Loss, target: nalgebra::DMatrix<f64>, seed: u64) {
    let mut r = rng(seed);
    let pred = random_matrix(target.nrows(), target.ncols(), &mut r) * 3.0;
    let mut grad = vec![0.0; pred.len()];
    loss.value_and_grad(pred.as_view(), target.as_view(), &mut grad)
        .unwrap();
    let h = 1e-6;
    for k in 0..pred.len() {
        let mut p = pred.clone();
        p[k] += h;
        let up = loss.value(p.as_view(), target.as_view()).unwrap();
        p[k] -= 2.0 * h;
        let down = loss.value(p.as_view(), target.as_view()).unwrap();
        assert_close(
            &format!("{loss:?} element {k}"),
            grad[k],
            (up - down) / (2.0 * h),
            1e-7,
        );
    }
}

#[test]
fn mse_gradient_matches_finite_differences() {
    check_loss(Loss::Mse, random_matrix(5, 3, &mut rng(11)), 12);
}

#[test]
fn bce_with_logits_gradient_matches_finite_differences() {
    let t = nalgebra::DMatrix::from_fn(5, 2, |i, j| ((i + j) % 2) as f64);
    check_loss(Loss::BceWithLogits, t, 13);
}

#[test]
fn softmax_cross_entropy_gradient_matches_finite_differences_for_hard_and_soft_targets() {
    let hard = mixact::data::one_hot::<f64>(&[0, 2, 1, 2], 3).unwrap();
    check_loss(Loss::SoftmaxCrossEntropy, hard, 14);
    let soft = nalgebra::DMatrix::from_row_slice(2, 3, &[0.2, 0.5, 0.3, 0.1, 0.1, 0.8]);
    check_loss(Loss::SoftmaxCrossEntropy, soft, 15);
}

#[test]
fn losses_stay_finite_for_huge_logits() {
    let pred = nalgebra::DMatrix::from_row_slice(2, 2, &[1000.0_f32, -1000.0, -1000.0, 1000.0]);
    let t = nalgebra::DMatrix::from_row_slice(2, 2, &[0.0_f32, 1.0, 1.0, 0.0]);
    for loss in [Loss::BceWithLogits, Loss::SoftmaxCrossEntropy] {
        let mut g = vec![0.0; 4];
        let v = loss
            .value_and_grad(pred.as_view(), t.as_view(), &mut g)
            .unwrap();
        assert!(v.is_finite() && v > 100.0, "{loss:?}: {v}");
        assert!(g.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn three_layer_mixed_network_gradients_match_finite_differences_through_the_loss() {
    let mut r = rng(21);
    let mut net = Network::<Act, f64>::new(vec![
        Dense::per_neuron(
            3,
            &mask::pattern(&[Act::Relu, Act::Sin, Act::Tanh], 7).unwrap(),
            &mut r,
        )
        .unwrap()
        .into(),
        Dense::branches(7, &[(3, Act::Gelu), (3, Act::Sigmoid)], &mut r)
            .unwrap()
            .into(),
        Dense::new(6, 3, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let x = random_matrix(5, 3, &mut r);
    let t = mixact::data::one_hot::<f64>(&[0, 1, 2, 1, 0], 3).unwrap();
    let loss = Loss::SoftmaxCrossEntropy;
    let value_at = |net: &mut Network<Act, f64>, x: &nalgebra::DMatrix<f64>| {
        net.forward(x.as_view()).unwrap();
        loss.value(net.output(), t.as_view()).unwrap()
    };
    value_at(&mut net, &x);
    let mut g = vec![0.0; 15];
    loss.value_and_grad(net.output(), t.as_view(), &mut g)
        .unwrap();
    let dy = nalgebra::DMatrix::from_column_slice(5, 3, &g);
    net.backward(x.as_view(), dy.as_view(), true).unwrap();
    let mut grads = Vec::new();
    net.visit_params(&mut |p| grads.extend_from_slice(p.grad));
    let dx = net.input_grad().into_owned();
    let h = 1e-6;
    for (k, &gk) in grads.iter().enumerate() {
        let nudge = |net: &mut Network<Act, f64>, d: f64| {
            let mut base = 0;
            net.visit_params(&mut |p| {
                if (base..base + p.value.len()).contains(&k) {
                    p.value[k - base] += d;
                }
                base += p.value.len();
            });
        };
        nudge(&mut net, h);
        let up = value_at(&mut net, &x);
        nudge(&mut net, -2.0 * h);
        let down = value_at(&mut net, &x);
        nudge(&mut net, h);
        assert_close(&format!("parameter {k}"), gk, (up - down) / (2.0 * h), 1e-6);
    }
    for k in 0..x.len() {
        let mut xp = x.clone();
        xp[k] += h;
        let up = value_at(&mut net, &xp);
        xp[k] -= 2.0 * h;
        let down = value_at(&mut net, &xp);
        assert_close(&format!("input {k}"), dx[k], (up - down) / (2.0 * h), 1e-6);
    }
}
