//! The formulas pinned to independent numbers: two steps of each optimiser
//! and each loss's value and gradient, against numbers computed outside
//! mixact, in Python float arithmetic from PyTorch's documented algorithms
//! (`torch.optim.SGD` with momentum and weight decay, `Adam`, `AdamW`;
//! `MSELoss`, `BCEWithLogitsLoss`, `CrossEntropyLoss` with probability
//! targets, all `reduction="mean"`); the script is at the end of this file,
//! and each number is written as Python printed it. Changing a constant in
//! a formula fails one of these (tried: Adam's beta2 0.999 -> 0.998, the
//! MSE gradient's denominator n -> n + 1).

use mixact::extend::ParamStates;
use mixact::{Act, Adam, Dense, Layer, Loss, Optimizer, Sgd};
use nalgebra::DMatrix;

/// A 1 -> 2 identity layer with weights [0.5, -0.3] and biases [0.1, 0.2],
/// after two optimiser steps at `x = 2`, the first with `dy = [1, -2]`
/// (weights' gradient [2, -4], biases' [1, -2]), the second with
/// `dy = [-0.5, 3]` ([-1, 6] and [-0.5, 3]). The gradients differ between
/// the steps: with a constant gradient Adam's step does not depend on its
/// betas. Returns (weights, biases).
fn two_steps<O: Optimizer<f64>>(optimizer: &O) -> (Vec<f64>, Vec<f64>) {
    let weight = DMatrix::from_row_slice(1, 2, &[0.5, -0.3]);
    let mut layer =
        Dense::<Act, f64>::from_parts(weight, vec![0.1, 0.2], &[Act::Identity; 2]).unwrap();
    let x = DMatrix::from_element(1, 1, 2.0);
    let mut states = ParamStates::new();
    for dy in [[1.0, -2.0], [-0.5, 3.0]] {
        let dy = DMatrix::from_row_slice(1, 2, &dy);
        layer.forward(x.as_view()).unwrap();
        layer.backward(x.as_view(), dy.as_view(), false).unwrap();
        assert_eq!(states.update(optimizer, &mut layer), None);
    }
    (layer.weight().as_slice().to_vec(), layer.bias())
}

fn assert_all_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{what}: {got:?} vs {want:?}"
        );
    }
}

#[test]
fn sgd_with_momentum_and_weight_decay_takes_pytorchs_two_steps() {
    // lr 0.1, momentum 0.9, weight decay 0.01 (weights only).
    let sgd = Sgd::new(0.1)
        .and_then(|o| o.with_momentum(0.9))
        .unwrap()
        .weight_decay(0.01)
        .unwrap();
    let (w, b) = two_steps(&sgd);
    assert_all_close(&w, &[0.2187505, -0.13953029999999994], "weights");
    assert_all_close(&b, &[-0.04000000000000001, 0.28], "biases");
}

#[test]
fn sgd_without_momentum_takes_pytorchs_two_steps() {
    // lr 0.1, momentum 0, weight decay 0.01 (weights only): w -= lr (g + wd w).
    let sgd = Sgd::new(0.1).unwrap().weight_decay(0.01).unwrap();
    let (w, b) = two_steps(&sgd);
    assert_all_close(&w, &[0.3992005, -0.4998003], "weights");
    assert_all_close(&b, &[0.05, 0.09999999999999998], "biases");
}

/// Without momentum the velocity is neither read nor kept: a state holding
/// anything (here NaN, as a diverged step could leave it) changes nothing,
/// and the step is `w -= lr · (g + wd · w)` to the bit.
#[test]
fn sgd_without_momentum_neither_reads_nor_writes_its_velocity() {
    use mixact::extend::{OwnedTensorId, Param, TensorUpdate};
    let sgd = Sgd::new(0.5_f32).unwrap().weight_decay(0.1).unwrap();
    let old = [1.0_f32, -2.0, 3.0, 0.0];
    let g = [0.25_f32, 0.5, -1.0, 0.0];
    let (mut w, mut state, mut backup) = (old, [f32::NAN; 4], [0.0_f32; 4]);
    let id = OwnedTensorId::new();
    let finite = sgd.update_tensor(TensorUpdate {
        param: Param {
            name: "weight",
            id: id.id(),
            value: &mut w,
            grad: &g,
            decay: true,
            lr_scale: 1.0,
        },
        state: &mut state,
        step: 1,
        backup: &mut backup,
    });
    assert!(finite);
    assert_eq!(backup, old);
    for i in 0..4 {
        let want = old[i] - 0.5 * (g[i] + 0.1 * old[i]);
        assert_eq!(w[i].to_bits(), want.to_bits(), "value {i}");
        assert!(state[i].is_nan(), "state {i} was written");
    }
}

#[test]
fn adam_takes_pytorchs_two_steps() {
    // lr 0.01, betas (0.9, 0.999), eps 1e-8.
    let (w, b) = two_steps(&Adam::new(0.01).unwrap());
    assert_all_close(&w, &[0.48733662967024316, -0.29247701818148425], "weights");
    assert_all_close(&b, &[0.08733662973709032, 0.20752298179837314], "biases");
}

#[test]
fn adamw_decays_the_weights_before_adams_step_as_pytorch_does() {
    // lr 0.01, weight decay 0.1 (weights only): w <- w (1 - lr wd), then Adam.
    let (w, b) = two_steps(&Adam::adamw(0.01, 0.1).unwrap());
    assert_all_close(&w, &[0.48634712967019317, -0.29188731818145924], "weights");
    assert_all_close(&b, &[0.08733662973709032, 0.20752298179837314], "biases");
}

/// The loss of predictions [[0.5, -1], [2, 0]] against `target` (row-major
/// 2 x 2), and its gradient, row-major.
fn loss_of(loss: Loss, target: &[f64]) -> (f64, Vec<f64>) {
    let pred = DMatrix::from_row_slice(2, 2, &[0.5, -1.0, 2.0, 0.0]);
    let target = DMatrix::from_row_slice(2, 2, target);
    let mut grad = vec![0.0; 4];
    let value = loss
        .value_and_grad(pred.as_view(), target.as_view(), &mut grad)
        .unwrap();
    // The buffer is column-major: back to row-major for comparison.
    (value, vec![grad[0], grad[2], grad[1], grad[3]])
}

#[test]
fn mse_is_the_mean_over_all_elements_with_its_gradient() {
    let (v, g) = loss_of(Loss::Mse, &[0.0, 1.0, 1.5, 0.5]);
    assert_all_close(&[v], &[1.1875], "value");
    assert_all_close(&g, &[0.25, -1.0, 0.25, -0.25], "gradient");
}

#[test]
fn bce_with_logits_matches_its_definition_and_gradient() {
    let (v, g) = loss_of(Loss::BceWithLogits, &[0.0, 1.0, 1.0, 0.25]);
    assert_all_close(&[v], &[0.7768534658253119], "value");
    assert_all_close(
        &g,
        &[
            0.15561483280046365,
            -0.18276464465750122,
            -0.02980073050552942,
            0.0625,
        ],
        "gradient",
    );
}

#[test]
fn softmax_cross_entropy_averages_over_rows_with_soft_targets() {
    let (v, g) = loss_of(Loss::SoftmaxCrossEntropy, &[0.0, 1.0, 0.7, 0.3]);
    assert_all_close(&[v], &[1.2141706445128624], "value");
    assert_all_close(
        &g,
        &[
            0.4087872380968218,
            -0.4087872380968218,
            0.09039853898894123,
            -0.09039853898894122,
        ],
        "gradient",
    );
}

// The script (Python 3, no packages):
//
// import math
// G_w = [[2.0, -4.0], [-1.0, 6.0]]; G_b = [[1.0, -2.0], [-0.5, 3.0]]
// def sgd(w, G, lr, mu, wd):                       # torch.optim.SGD
//     v = [0.0] * len(w)
//     for g in G:
//         v = [mu * vi + gi + wd * wi for vi, gi, wi in zip(v, g, w)]
//         w = [wi - lr * vi for wi, vi in zip(w, v)]
//     return w
// def adam(w, G, lr, wd, b1=0.9, b2=0.999, eps=1e-8):   # torch.optim.AdamW (Adam: wd = 0)
//     m = [0.0] * len(w); v = [0.0] * len(w)
//     for t, g in enumerate(G, 1):
//         w = [wi - lr * wd * wi for wi in w]
//         m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
//         v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
//         w = [wi - lr * (mi / (1 - b1**t)) / (math.sqrt(vi / (1 - b2**t)) + eps)
//              for wi, mi, vi in zip(w, m, v)]
//     return w
// sgd([0.5, -0.3], G_w, 0.1, 0.9, 0.01); sgd([0.1, 0.2], G_b, 0.1, 0.9, 0.0)
// adam([0.5, -0.3], G_w, 0.01, 0.0); adam([0.5, -0.3], G_w, 0.01, 0.1); adam([0.1, 0.2], G_b, 0.01, 0.0)
// P = [[0.5, -1.0], [2.0, 0.0]]; sig = lambda x: 1 / (1 + math.exp(-x))
// mse: sum((p - t)**2) / 4, gradient 2 (p - t) / 4
// bce: sum(-(t log sig(p) + (1 - t) log(1 - sig(p)))) / 4, gradient (sig(p) - t) / 4
// cross-entropy: per row -sum(t log softmax(p)), mean over the 2 rows, gradient (softmax(p) - t) / 2
