//! Training works and repeats: mixed networks learn XOR and two spirals from a
//! fixed seed, and the same seed gives bit-identical weights.

use mixact::{
    data, evaluate, mask, Act, Adam, Dense, FitConfig, Layer, Loss, Network, Sgd, Trainer,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn mixed_net(seed: u64, width: usize) -> Network<Act> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    Network::new(vec![
        Dense::per_neuron(
            2,
            &mask::pattern(&[Act::Relu, Act::Tanh, Act::Sin, Act::Gelu], width).unwrap(),
            &mut r,
        )
        .unwrap()
        .into(),
        Dense::branches(
            width,
            &[(width / 2, Act::Tanh), (width / 2, Act::LeakyRelu)],
            &mut r,
        )
        .unwrap()
        .into(),
        Dense::new(width, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

#[test]
fn mixed_network_learns_xor() {
    let mut net = mixed_net(1, 8);
    let cfg = FitConfig {
        epochs: 300,
        batch_size: 4,
        seed: 1,
        shuffle: true,
    };
    let mut t = Trainer::new(
        Loss::BceWithLogits,
        Sgd::new(0.1_f32)
            .and_then(|o| o.with_momentum(0.9))
            .unwrap(),
        cfg,
    )
    .unwrap();
    t.fit(&mut net, &data::xor()).unwrap();
    let m = evaluate(&mut net, &data::xor(), Loss::BceWithLogits).unwrap();
    assert_eq!(m.accuracy, Some(1.0));
    assert!(m.loss < 0.05, "loss {}", m.loss);
}

#[test]
fn mixed_network_learns_two_spirals_to_high_accuracy() {
    let mut r = ChaCha8Rng::seed_from_u64(2);
    let train = data::two_spirals::<f32, _>(250, 1.5, 0.02, &mut r).unwrap();
    let test = data::two_spirals::<f32, _>(250, 1.5, 0.02, &mut r).unwrap();
    let mut net = mixed_net(2, 32);
    let cfg = FitConfig {
        epochs: 300,
        batch_size: 32,
        seed: 2,
        shuffle: true,
    };
    let mut t = Trainer::new(Loss::BceWithLogits, Adam::new(0.01_f32).unwrap(), cfg).unwrap();
    t.fit(&mut net, &train).unwrap();
    let acc = evaluate(&mut net, &test, Loss::BceWithLogits)
        .unwrap()
        .accuracy
        .unwrap();
    assert!(acc >= 0.97, "test accuracy {acc}");
}

#[test]
fn softmax_classification_trains_with_adamw() {
    let mut r = ChaCha8Rng::seed_from_u64(3);
    let spirals = data::two_spirals::<f32, _>(200, 1.0, 0.02, &mut r).unwrap();
    let labels: Vec<usize> = spirals.y().iter().map(|&v| v as usize).collect();
    let ds = mixact::Dataset::classification(spirals.x().clone(), &labels, 2).unwrap();
    let mut net: Network<Act> = Network::new(vec![
        Dense::per_neuron(
            2,
            &mask::pattern(&[Act::Silu, Act::Sin], 32).unwrap(),
            &mut r,
        )
        .unwrap()
        .into(),
        Dense::new(32, 2, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let cfg = FitConfig {
        epochs: 200,
        batch_size: 32,
        seed: 3,
        shuffle: true,
    };
    let mut t = Trainer::new(
        Loss::SoftmaxCrossEntropy,
        Adam::adamw(0.01_f32, 1e-4).unwrap(),
        cfg,
    )
    .unwrap();
    let h = t.fit(&mut net, &ds).unwrap();
    assert!(h.last().unwrap().train.accuracy.unwrap() > 0.95);
    assert!(h.last().unwrap().train.loss < h[0].train.loss / 4.0);
}

fn trained_weights(seed: u64) -> Vec<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let ds = data::two_spirals::<f32, _>(100, 1.0, 0.05, &mut r).unwrap();
    let mut net = mixed_net(seed, 16);
    let cfg = FitConfig {
        epochs: 5,
        batch_size: 16,
        seed,
        shuffle: true,
    };
    let mut t = Trainer::new(Loss::BceWithLogits, Adam::new(0.01_f32).unwrap(), cfg).unwrap();
    t.fit(&mut net, &ds).unwrap();
    let mut w = Vec::new();
    net.visit_params(&mut |p| w.extend_from_slice(p.value));
    w
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let (a, b) = (trained_weights(9), trained_weights(9));
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
}

#[test]
fn different_seeds_give_different_weights() {
    assert_ne!(trained_weights(9), trained_weights(10));
}

#[test]
fn early_stopping_callback_stops_the_fit_loop() {
    let mut net = mixed_net(4, 8);
    let cfg = FitConfig {
        epochs: 100,
        batch_size: 4,
        seed: 4,
        shuffle: false,
    };
    let mut t = Trainer::new(Loss::BceWithLogits, Sgd::new(0.1_f32).unwrap(), cfg).unwrap();
    let h = t
        .fit_with(&mut net, &data::xor(), |s, _| {
            if s.epoch == 2 {
                mixact::Control::Stop
            } else {
                mixact::Control::Continue
            }
        })
        .unwrap();
    assert_eq!(h.len(), 3);
}

/// Large products go through the threaded GEMM; results must still repeat bit for bit.
#[test]
fn training_through_the_threaded_gemm_is_bit_identical_across_runs() {
    let run = || {
        let mut r = ChaCha8Rng::seed_from_u64(11);
        let x = nalgebra::DMatrix::<f32>::from_fn(256, 64, |i, j| {
            ((i * 7 + j * 3) % 17) as f32 / 17.0 - 0.5
        });
        let labels: Vec<usize> = (0..256).map(|i| i % 4).collect();
        let ds = mixact::Dataset::classification(x, &labels, 4).unwrap();
        let m = mask::pattern(&[Act::Relu, Act::Tanh, Act::Gelu], 256).unwrap();
        let mut net: Network<Act> = Network::new(vec![
            Dense::per_neuron(64, &m, &mut r).unwrap().into(),
            Dense::new(256, 4, Act::Identity, &mut r).unwrap().into(),
        ])
        .unwrap();
        let cfg = FitConfig {
            epochs: 3,
            batch_size: 128,
            seed: 11,
            shuffle: true,
        };
        Trainer::new(Loss::SoftmaxCrossEntropy, Adam::new(0.01_f32).unwrap(), cfg)
            .unwrap()
            .fit(&mut net, &ds)
            .unwrap();
        let mut w = Vec::new();
        net.visit_params(&mut |p| w.extend(p.value.iter().map(|v| v.to_bits())));
        w
    };
    assert_eq!(run(), run());
}

fn weights_after(config: FitConfig) -> (Vec<f32>, usize) {
    let mut r = ChaCha8Rng::seed_from_u64(4);
    let ds = data::two_spirals::<f32, _>(50, 1.0, 0.05, &mut r).unwrap();
    let mut net = mixed_net(4, 8);
    let mut t = Trainer::new(Loss::BceWithLogits, Adam::new(0.01_f32).unwrap(), config).unwrap();
    let history = t.fit(&mut net, &ds).unwrap();
    let mut w = Vec::new();
    net.visit_params(&mut |p| w.extend_from_slice(p.value));
    (w, history.len())
}

#[test]
fn full_batch_training_is_one_unshuffled_batch_of_the_whole_set_per_epoch() {
    let (full, epochs) = weights_after(FitConfig::full_batch(6));
    let whole = FitConfig {
        epochs: 6,
        batch_size: 100, // two_spirals(50) has 100 points
        seed: 0,
        shuffle: false,
    };
    let (reference, _) = weights_after(whole);
    assert_eq!(epochs, 6);
    assert!(full
        .iter()
        .zip(&reference)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    // and it differs from mini-batches, so the comparison can fail
    let (mini, _) = weights_after(FitConfig {
        batch_size: 10,
        ..whole
    });
    assert_ne!(full, mini);
}
