//! Scoring: `Loss::value` and `evaluate`, which take no gradient and copy
//! no rows, give the numbers the training path's arithmetic gives.

use crate::common::{random_matrix, rng};
use mixact::{evaluate, Act, Dataset, Dense, Layer, Loss, Network};
use nalgebra::DMatrix;

/// Predictions and valid targets for `loss`: 37 rows, 3 columns, f32.
fn batch(loss: Loss) -> (DMatrix<f32>, DMatrix<f32>) {
    let mut r = rng(7);
    let pred = random_matrix(37, 3, &mut r).map(|v| (4.0 * v) as f32);
    let target = match loss {
        Loss::Mse => random_matrix(37, 3, &mut r).map(|v| v as f32),
        Loss::BceWithLogits => random_matrix(37, 3, &mut r).map(|v| f32::from(v > 0.0)),
        Loss::SoftmaxCrossEntropy => DMatrix::from_fn(37, 3, |i, j| f32::from(i % 3 == j)),
    };
    (pred, target)
}

#[test]
fn loss_value_is_the_value_and_grad_value_bit_for_bit() {
    for loss in [Loss::Mse, Loss::BceWithLogits, Loss::SoftmaxCrossEntropy] {
        let (pred, target) = batch(loss);
        let mut grad = vec![0.0; pred.len()];
        let with_grad = loss
            .value_and_grad(pred.as_view(), target.as_view(), &mut grad)
            .unwrap();
        let alone = loss.value(pred.as_view(), target.as_view()).unwrap();
        assert_eq!(alone.to_bits(), with_grad.to_bits(), "{loss:?}");
    }
}

#[test]
fn loss_value_refuses_what_value_and_grad_refuses_with_the_same_error() {
    let (pred, target) = batch(Loss::Mse);
    let short = target.rows(0, 36).into_owned();
    let empty = DMatrix::<f32>::zeros(0, 3);
    let one_column = DMatrix::<f32>::zeros(4, 1);
    let cases = [
        (Loss::Mse, &pred, &short),
        (Loss::Mse, &empty, &empty),
        (Loss::SoftmaxCrossEntropy, &one_column, &one_column),
    ];
    for (loss, p, t) in cases {
        let alone = loss.value(p.as_view(), t.as_view()).unwrap_err();
        let mut grad = vec![0.0; p.len()];
        let with_grad = loss
            .value_and_grad(p.as_view(), t.as_view(), &mut grad)
            .unwrap_err();
        assert_eq!(alone, with_grad, "{loss:?} on {:?}", p.shape());
    }
}

#[test]
fn evaluate_over_several_batches_equals_one_pass_over_every_row() {
    let mut r = rng(3);
    let n = 2500; // three batches of at most 1024 rows, the last partial
    let x = random_matrix(n, 4, &mut r);
    let y = random_matrix(n, 2, &mut r);
    let layers = vec![
        Dense::<Act, f64>::new(4, 8, Act::Tanh, &mut r)
            .unwrap()
            .into(),
        Dense::<Act, f64>::new(8, 2, Act::Identity, &mut r)
            .unwrap()
            .into(),
    ];
    let mut net = Network::new(layers).unwrap();
    let scored = evaluate(
        &mut net,
        &Dataset::new(x.clone(), y.clone()).unwrap(),
        Loss::Mse,
    )
    .unwrap();
    net.forward(x.as_view()).unwrap();
    let whole = Loss::Mse.value(net.output(), y.as_view()).unwrap();
    let mae = (net.output() - &y).abs().mean();
    assert!(
        (scored.loss - whole).abs() <= 1e-12 * whole,
        "{} vs {whole}",
        scored.loss
    );
    assert!((scored.mae.unwrap() - mae).abs() <= 1e-12 * mae);
}
