//! The three layer kinds are one computation: equal weights give equal outputs.

use crate::common;

use common::{random_matrix, rng};
use mixact::{mask, Act, Dense, Layer, Network};
use nalgebra::DMatrix;

#[test]
fn per_neuron_layer_with_uniform_mask_equals_dense_layer_exactly() {
    let mut r = rng(1);
    let (w, b) = (random_matrix(5, 8, &mut r), random_matrix(8, 1, &mut r));
    let x = random_matrix(7, 5, &mut r);
    let mut dense = Dense::from_parts(w.clone(), b.as_slice().to_vec(), &[Act::Tanh; 8]).unwrap();
    let mut masked = Dense::from_parts(
        w,
        b.as_slice().to_vec(),
        &mask::pattern(&[Act::Tanh], 8).unwrap(),
    )
    .unwrap();
    dense.forward(x.as_view()).unwrap();
    masked.forward(x.as_view()).unwrap();
    assert_eq!(dense.output(), masked.output());
}

#[test]
fn branch_layer_equals_per_neuron_layer_with_the_matching_block_mask_exactly() {
    let branches = [(3, Act::Relu), (4, Act::Sin), (2, Act::Sigmoid)];
    let block_mask: Vec<Act> = branches.iter().flat_map(|&(n, a)| vec![a; n]).collect();
    let mut b = Dense::<Act, f64>::branches(6, &branches, &mut rng(2)).unwrap();
    let mut m = Dense::<Act, f64>::per_neuron(6, &block_mask, &mut rng(2)).unwrap();
    assert_eq!(b.weight(), m.weight(), "same seed, same initial weights");
    let x = random_matrix(5, 6, &mut rng(3));
    let dy = random_matrix(5, 9, &mut rng(4));
    b.forward(x.as_view()).unwrap();
    m.forward(x.as_view()).unwrap();
    assert_eq!(b.output(), m.output());
    b.backward(x.as_view(), dy.as_view(), true).unwrap();
    m.backward(x.as_view(), dy.as_view(), true).unwrap();
    assert_eq!(b.grad_weight(), m.grad_weight());
    assert_eq!(b.input_grad(), m.input_grad());
}

#[test]
fn grouped_storage_keeps_the_users_neuron_order_visible() {
    // Neuron j of an interleaved mask must compute f_j(x · w_j + b_j) in output column j.
    let m = mask::pattern(&[Act::Relu, Act::Sin, Act::Tanh], 7).unwrap();
    let mut r = rng(5);
    let (w, b) = (random_matrix(3, 7, &mut r), random_matrix(7, 1, &mut r));
    let mut layer = Dense::from_parts(w.clone(), b.as_slice().to_vec(), &m).unwrap();
    assert_eq!(layer.mask(), &m[..]);
    assert_eq!(layer.weight(), w);
    assert_eq!(layer.bias(), b.as_slice());
    let x = random_matrix(4, 3, &mut r);
    layer.forward(x.as_view()).unwrap();
    for j in 0..7 {
        for i in 0..4 {
            let z = (x.row(i) * w.column(j))[0] + b[j];
            let want = mixact::ActivationSet::value(m[j], z);
            approx::assert_relative_eq!(layer.output()[(i, j)], want, max_relative = 1e-14);
        }
    }
}

#[test]
fn permuting_a_layers_neurons_and_the_next_layers_inputs_leaves_the_network_output_unchanged() {
    let mut r = rng(6);
    let m = mask::pattern(&[Act::Relu, Act::Sin, Act::Gelu, Act::Sigmoid], 8).unwrap();
    let (w1, b1) = (random_matrix(3, 8, &mut r), random_matrix(8, 1, &mut r));
    let (w2, b2) = (random_matrix(8, 2, &mut r), random_matrix(2, 1, &mut r));
    let perm = [5, 2, 7, 0, 3, 6, 1, 4];
    let w1p = DMatrix::from_fn(3, 8, |i, j| w1[(i, perm[j])]);
    let b1p: Vec<f64> = perm.iter().map(|&p| b1[p]).collect();
    let mp: Vec<Act> = perm.iter().map(|&p| m[p]).collect();
    let w2p = DMatrix::from_fn(8, 2, |i, j| w2[(perm[i], j)]);
    let build = |w1, b1, m: &[Act], w2| {
        Network::<Act, f64>::new(vec![
            Dense::from_parts(w1, b1, m).unwrap().into(),
            Dense::from_parts(w2, b2.as_slice().to_vec(), &[Act::Identity; 2])
                .unwrap()
                .into(),
        ])
        .unwrap()
    };
    let a = build(w1, b1.as_slice().to_vec(), &m, w2);
    let b = build(w1p, b1p, &mp, w2p);
    let x = random_matrix(6, 3, &mut r);
    let (ya, yb) = (a.predict(&x).unwrap(), b.predict(&x).unwrap());
    // Same values, summed in a different order in the second layer: equal to rounding.
    approx::assert_relative_eq!(ya, yb, max_relative = 1e-12);
}

#[test]
fn a_layer_used_in_f32_and_f64_agrees_to_f32_precision() {
    let mut l64 =
        Dense::<Act, f64>::per_neuron(4, &mask::pattern(&Act::ALL, 11).unwrap(), &mut rng(8))
            .unwrap();
    let mut l32 =
        Dense::<Act, f32>::per_neuron(4, &mask::pattern(&Act::ALL, 11).unwrap(), &mut rng(8))
            .unwrap();
    let x = random_matrix(5, 4, &mut rng(9));
    l64.forward(x.as_view()).unwrap();
    l32.forward(x.map(|v| v as f32).as_view()).unwrap();
    for (a, b) in l64.output().iter().zip(l32.output().iter()) {
        assert!((a - *b as f64).abs() < 1e-5, "{a} vs {b}");
    }
}

/// Batches under 64 rows apply each activation once per block of neurons,
/// larger ones once per neuron: the rows of a large batch and the same rows
/// split into small batches must give the same bits (outputs and input
/// gradients are per row), for a permuted mask and an unpermuted layer.
#[test]
fn small_and_large_batches_give_each_row_the_same_bits() {
    use mixact::prelude::*;
    let masks = [
        mixact::mask::pattern(&[Act::Relu, Act::Tanh, Act::Sin, Act::Gelu], 12).unwrap(),
        vec![Act::Sigmoid; 12],
    ];
    for mask in masks {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut layer: Dense<Act> = Dense::per_neuron(5, &mask, &mut rng).unwrap();
        let rows = 100;
        let x = DMatrix::<f32>::from_fn(rows, 5, |i, j| ((i * 7 + j * 3) % 23) as f32 / 11.0 - 1.0);
        let dy = DMatrix::<f32>::from_fn(rows, 12, |i, j| ((i * 5 + j) % 19) as f32 / 9.0 - 1.0);
        layer.forward(x.as_view()).unwrap();
        let big_y = layer.output().clone_owned();
        layer.backward(x.as_view(), dy.as_view(), true).unwrap();
        let big_dx = layer.input_grad().clone_owned();
        for (start, len) in [(0, 50), (50, 50)] {
            let xs = x.rows(start, len).clone_owned();
            let dys = dy.rows(start, len).clone_owned();
            layer.forward(xs.as_view()).unwrap();
            let y = layer.output().clone_owned();
            layer.backward(xs.as_view(), dys.as_view(), true).unwrap();
            let dx = layer.input_grad().clone_owned();
            for i in 0..len {
                for j in 0..12 {
                    assert_eq!(
                        y[(i, j)].to_bits(),
                        big_y[(start + i, j)].to_bits(),
                        "y row {}",
                        start + i
                    );
                }
                for j in 0..5 {
                    assert_eq!(
                        dx[(i, j)].to_bits(),
                        big_dx[(start + i, j)].to_bits(),
                        "dx row {}",
                        start + i
                    );
                }
            }
        }
    }
}

/// A wide layer's per-neuron pass (batch x outputs of 65 536 values and
/// more) is split between the pool's threads: on one thread and on three
/// it gives the same bits, outputs and every gradient, for a permuted mask
/// and an unpermuted layer.
#[test]
fn a_wide_layer_gives_the_same_bits_on_one_thread_and_on_three() {
    use mixact::prelude::*;
    let (rows, inputs, outputs) = (96, 7, 700);
    let masks = [
        mixact::mask::pattern(&[Act::Relu, Act::Tanh, Act::Sin, Act::Gelu], outputs).unwrap(),
        vec![Act::Sigmoid; outputs],
    ];
    for mask in masks {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut rng = ChaCha8Rng::seed_from_u64(5);
                let mut layer: Dense<Act> = Dense::per_neuron(inputs, &mask, &mut rng).unwrap();
                let x = random_matrix(rows, inputs, &mut rng).map(|v| v as f32);
                let dy = random_matrix(rows, outputs, &mut rng).map(|v| v as f32);
                layer.forward(x.as_view()).unwrap();
                layer.backward(x.as_view(), dy.as_view(), true).unwrap();
                let bits = |m: &[f32]| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                [
                    bits(layer.output().clone_owned().as_slice()),
                    bits(layer.input_grad().clone_owned().as_slice()),
                    bits(layer.grad_weight().as_slice()),
                    bits(&layer.grad_bias()),
                ]
            })
        };
        let (one, three) = (run(1), run(3));
        for (what, (a, b)) in ["y", "dx", "dW", "db"].iter().zip(one.iter().zip(&three)) {
            assert_eq!(a, b, "{what} differs between one thread and three");
        }
    }
}
