//! Trainings that run at once give the bits each gives alone, also when
//! their products are large enough for faer, which runs one product at a
//! time on the whole pool: a product that meets another in flight must not
//! be computed with sums in another order.

use mixact::{Act, Adam, Dataset, Dense, FitConfig, Layer, Loss, Network, Trainer};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// 2048 rows of 64 features, trained in full batches: the forward product is
/// 2048 x 64 x 64 (8 M multiply-adds, above the threshold for faer) and the
/// weight gradient sums over 2048 rows, several of faer's blocks of the
/// inner dimension, so another library's sums would differ in the last bits.
fn weights_after_training(seed: u64) -> Vec<u32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut net: Network<Act> = Network::new(vec![
        Dense::new(64, 64, Act::Tanh, &mut r).unwrap().into(),
        Dense::new(64, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let x = DMatrix::from_fn(2048, 64, |i, j| ((i * 31 + j * 7) % 97) as f32 / 97.0 - 0.5);
    let y = DMatrix::from_fn(2048, 1, |i, _| ((i * 13) % 11) as f32 / 11.0);
    let data = Dataset::new(x, y).unwrap();
    let cfg = FitConfig {
        epochs: 12,
        batch_size: 2048,
        seed,
        shuffle: false,
    };
    let mut t = Trainer::new(Loss::Mse, Adam::new(0.01_f32).unwrap(), cfg).unwrap();
    t.fit(&mut net, &data).unwrap();
    let mut w = Vec::new();
    net.visit_params(&mut |p| w.extend(p.value.iter().map(|v| v.to_bits())));
    w
}

const SEEDS: [u64; 4] = [1, 2, 3, 4];

fn one_after_the_other() -> Vec<Vec<u32>> {
    SEEDS.iter().map(|&s| weights_after_training(s)).collect()
}

#[test]
fn trainings_on_user_threads_at_once_equal_the_same_trainings_one_after_the_other() {
    let alone = one_after_the_other();
    for _ in 0..3 {
        let together: Vec<Vec<u32>> = std::thread::scope(|s| {
            let handles: Vec<_> = SEEDS
                .iter()
                .map(|&seed| s.spawn(move || weights_after_training(seed)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(together == alone, "a concurrent training changed bits");
    }
}

#[test]
fn trainings_on_the_pool_at_once_equal_the_same_trainings_one_after_the_other() {
    let alone = one_after_the_other();
    for _ in 0..3 {
        let together: Vec<Vec<u32>> = SEEDS
            .par_iter()
            .map(|&seed| weights_after_training(seed))
            .collect();
        assert!(together == alone, "a concurrent training changed bits");
    }
}
