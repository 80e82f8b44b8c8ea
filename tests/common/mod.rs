//! Shared helpers: finite-difference gradient checks in f64.
#![allow(dead_code)]

use mixact::extend::MatRef;
use mixact::{ActivationSet, Layer};
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn random_matrix(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// sum(output ⊙ r): a scalar whose gradient with respect to the output is r.
fn projected_output<A: ActivationSet, L: Layer<A, f64> + ?Sized>(
    layer: &mut L,
    x: &DMatrix<f64>,
    r: &DMatrix<f64>,
) -> f64 {
    layer.forward(x.as_view()).unwrap();
    layer
        .output()
        .iter()
        .zip(r.iter())
        .map(|(a, b)| a * b)
        .sum()
}

fn nudge_param<A: ActivationSet, L: Layer<A, f64> + ?Sized>(
    layer: &mut L,
    index: usize,
    delta: f64,
) {
    let mut base = 0;
    layer.visit_params(&mut |p| {
        if (base..base + p.value.len()).contains(&index) {
            p.value[index - base] += delta;
        }
        base += p.value.len();
    });
}

fn analytic_param_grads<A: ActivationSet, L: Layer<A, f64> + ?Sized>(layer: &mut L) -> Vec<f64> {
    let mut g = Vec::new();
    layer.visit_params(&mut |p| g.extend_from_slice(p.grad));
    g
}

pub fn assert_close(what: &str, analytic: f64, numeric: f64, tol: f64) {
    let scale = 1.0_f64.max(analytic.abs()).max(numeric.abs());
    assert!(
        (analytic - numeric).abs() <= tol * scale,
        "{what}: analytic {analytic:e} vs finite difference {numeric:e}"
    );
}

/// Checks every parameter gradient and every input gradient of `layer`
/// against central differences of sum(output ⊙ r).
pub fn check_layer_gradients<A: ActivationSet, L: Layer<A, f64> + ?Sized>(
    layer: &mut L,
    batch: usize,
    seed: u64,
) {
    let mut rng = rng(seed);
    let x = random_matrix(batch, layer.input_width(), &mut rng);
    let r = random_matrix(batch, layer.output_width(), &mut rng);
    layer.forward(x.as_view()).unwrap();
    layer.backward(x.as_view(), r.as_view(), true).unwrap();
    let grads = analytic_param_grads(layer);
    let dx: DMatrix<f64> = layer.input_grad().into_owned();
    let h = 1e-6;
    for (k, &g) in grads.iter().enumerate() {
        nudge_param(layer, k, h);
        let up = projected_output(layer, &x, &r);
        nudge_param(layer, k, -2.0 * h);
        let down = projected_output(layer, &x, &r);
        nudge_param(layer, k, h);
        assert_close(&format!("parameter {k}"), g, (up - down) / (2.0 * h), 1e-6);
    }
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            let mut xp = x.clone();
            xp[(i, j)] += h;
            let up = projected_output(layer, &xp, &r);
            xp[(i, j)] -= 2.0 * h;
            let down = projected_output(layer, &xp, &r);
            assert_close(
                &format!("input ({i}, {j})"),
                dx[(i, j)],
                (up - down) / (2.0 * h),
                1e-6,
            );
        }
    }
}

pub fn view(m: &DMatrix<f64>) -> MatRef<'_, f64> {
    m.as_view()
}
