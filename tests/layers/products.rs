//! The layer's three matrix products against a naive reference, over a grid of
//! shapes that covers both the small-product loop and the library GEMM, and
//! inputs given as strided (non-contiguous) views.

use crate::common;

use common::{random_matrix, rng};
use mixact::{Act, Dense, Layer};
use nalgebra::DMatrix;

fn naive(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(a.nrows(), b.ncols(), |i, j| {
        (0..a.ncols()).map(|p| a[(i, p)] * b[(p, j)]).sum()
    })
}

fn check(batch: usize, inputs: usize, outputs: usize) {
    let mut r = rng((batch * 31 + inputs * 7 + outputs) as u64);
    let w = random_matrix(inputs, outputs, &mut r);
    let bias = random_matrix(outputs, 1, &mut r);
    // Inputs as rows 1..=batch of a taller matrix: a strided view.
    let tall = random_matrix(batch + 2, inputs, &mut r);
    let x = tall.rows(1, batch).into_owned();
    let dy = random_matrix(batch, outputs, &mut r);
    let mut layer = Dense::from_parts(
        w.clone(),
        bias.as_slice().to_vec(),
        &vec![Act::Identity; outputs],
    )
    .unwrap();
    layer.forward(tall.rows(1, batch)).unwrap();
    layer
        .backward(tall.rows(1, batch), dy.as_view(), true)
        .unwrap();

    let mut z = naive(&x, &w);
    for j in 0..outputs {
        for i in 0..batch {
            z[(i, j)] += bias[j];
        }
    }
    let shape = format!("{batch} x {inputs} -> {outputs}");
    approx::assert_relative_eq!(
        layer.output().into_owned(),
        z,
        max_relative = 1e-12,
        epsilon = 1e-12
    );
    approx::assert_relative_eq!(
        layer.grad_weight(),
        naive(&x.transpose(), &dy),
        max_relative = 1e-12,
        epsilon = 1e-12
    );
    approx::assert_relative_eq!(
        layer.input_grad().into_owned(),
        naive(&dy, &w.transpose()),
        max_relative = 1e-12,
        epsilon = 1e-12
    );
    let db: Vec<f64> = (0..outputs).map(|j| dy.column(j).sum()).collect();
    for (a, b) in layer.grad_bias().iter().zip(&db) {
        assert!((a - b).abs() < 1e-12, "{shape}: bias gradient {a} vs {b}");
    }
}

#[test]
fn products_match_the_naive_reference_on_small_and_odd_shapes() {
    for &(b, i, o) in &[
        (1, 1, 1),
        (1, 7, 3),
        (5, 1, 9),
        (9, 5, 1),
        (33, 17, 5),
        (8, 8, 8),
        (31, 33, 35),
    ] {
        check(b, i, o);
    }
}

#[test]
fn products_match_the_naive_reference_on_shapes_that_use_the_library_gemm() {
    for &(b, i, o) in &[(40, 70, 300), (64, 64, 17), (3, 500, 101), (129, 1, 700)] {
        check(b, i, o);
    }
}
