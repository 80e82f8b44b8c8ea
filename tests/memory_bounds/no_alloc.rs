//! A steady-state training step allocates nothing: a counting global
//! allocator watches a few steps after warm-up. It counts the allocations of
//! the test's own thread, so the test harness's threads cannot disturb it
//! (the tiny network's products run on the calling thread).

use crate::watch::{shared, thread_allocations_during as allocations_during};
use mixact::{mask, Act, Adam, Dense, FitConfig, Loss, Network, Sgd, Trainer};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn tiny_mixed_net() -> Network<Act> {
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let m = mask::pattern(&[Act::Relu, Act::Tanh, Act::Sigmoid, Act::Gelu], 32).unwrap();
    Network::new(vec![
        Dense::per_neuron(2, &m, &mut r).unwrap().into(),
        Dense::branches(32, &[(16, Act::Sin), (16, Act::Silu)], &mut r)
            .unwrap()
            .into(),
        Dense::new(32, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

#[test]
fn steady_state_training_steps_allocate_nothing() {
    let _turn = shared();
    let mut net = tiny_mixed_net();
    let x = DMatrix::<f32>::from_fn(32, 2, |i, j| (i as f32 * 0.37 + j as f32).sin());
    let y = DMatrix::<f32>::from_fn(32, 1, |i, _| (i % 2) as f32);
    let mut sgd = Trainer::new(
        Loss::Mse,
        Sgd::new(0.01).and_then(|o| o.with_momentum(0.9)).unwrap(),
        FitConfig::default(),
    )
    .unwrap();
    let mut adam = Trainer::new(
        Loss::BceWithLogits,
        Adam::adamw(0.01, 1e-4).unwrap(),
        FitConfig::default(),
    )
    .unwrap();
    for _ in 0..3 {
        sgd.step(&mut net, x.as_view(), y.as_view()).unwrap();
        adam.step(&mut net, x.as_view(), y.as_view()).unwrap();
    }
    let n = allocations_during(|| {
        for _ in 0..10 {
            sgd.step(&mut net, x.as_view(), y.as_view()).unwrap();
            adam.step(&mut net, x.as_view(), y.as_view()).unwrap();
        }
    });
    assert_eq!(n, 0, "allocations in 20 steady-state steps");
}

#[test]
fn a_smaller_last_batch_reuses_the_buffers() {
    let _turn = shared();
    let mut net = tiny_mixed_net();
    let x = DMatrix::<f32>::from_element(32, 2, 0.5);
    let y = DMatrix::<f32>::from_element(32, 1, 1.0);
    let mut t = Trainer::new(Loss::Mse, Sgd::new(0.01).unwrap(), FitConfig::default()).unwrap();
    t.step(&mut net, x.as_view(), y.as_view()).unwrap();
    let n = allocations_during(|| {
        t.step(&mut net, x.rows(0, 7), y.rows(0, 7)).unwrap();
        t.step(&mut net, x.as_view(), y.as_view()).unwrap();
    });
    assert_eq!(n, 0);
}

#[test]
fn mixture_slope_and_deep_branch_layers_also_train_without_allocating() {
    let _turn = shared();
    use mixact::{Concat, Mixture, Slope};
    let mut r = ChaCha8Rng::seed_from_u64(2);
    let deep = |a: Act, r: &mut ChaCha8Rng| {
        Network::new(vec![
            Dense::new(16, 8, a, r).unwrap().into(),
            Dense::new(8, 8, a, r).unwrap().into(),
        ])
        .unwrap()
    };
    let mut net: Network<Act> = Network::new(vec![
        Mixture::new(2, 16, &[Act::Relu, Act::Tanh, Act::Sin], &mut r)
            .unwrap()
            .with_entropy_penalty(1e-3)
            .unwrap()
            .into(),
        Concat::of_networks(vec![deep(Act::Relu, &mut r), deep(Act::Gelu, &mut r)])
            .unwrap()
            .into(),
        Slope::new(16, 8, Act::Tanh, &mut r).unwrap().into(),
        Dense::new(8, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let x = DMatrix::<f32>::from_fn(32, 2, |i, j| (i as f32 * 0.21 - j as f32).cos());
    let y = DMatrix::<f32>::from_fn(32, 1, |i, _| (i % 3) as f32 / 2.0);
    let mut t = Trainer::new(Loss::Mse, Adam::new(0.01).unwrap(), FitConfig::default()).unwrap();
    for _ in 0..3 {
        t.step(&mut net, x.as_view(), y.as_view()).unwrap();
    }
    let n = allocations_during(|| {
        for _ in 0..10 {
            t.step(&mut net, x.as_view(), y.as_view()).unwrap();
        }
    });
    assert_eq!(n, 0);
}
