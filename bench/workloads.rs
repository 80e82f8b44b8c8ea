//! The workloads' shapes and data, shared by the `hot_loop` bench and the
//! `step_times` example so that both time the same networks on the same
//! numbers (`../shared/peers/WORKLOADS.md` defines them).

use mixact::{mask, Act, Dense, FitConfig, Loss, Network, Sgd, Trainer};
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The "mixed" variants' activations: neuron i gets `MIXED4[i % 4]`.
pub const MIXED4: [Act; 4] = [Act::Relu, Act::Tanh, Act::Sigmoid, Act::Gelu];

/// A `rows x cols` matrix of uniform values in [-1, 1).
pub fn random(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> DMatrix<f32> {
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// The mixed mask of a hidden layer `n` wide.
pub fn mixed4_mask(n: usize) -> Vec<Act> {
    mask::pattern(&MIXED4, n).unwrap()
}

/// An MLP of dense layers `widths[0] -> widths[1] -> ...`: hidden layers
/// masked by `hidden`, the output layer identity.
pub fn mlp(
    widths: &[usize],
    hidden: impl Fn(usize) -> Vec<Act>,
    rng: &mut ChaCha8Rng,
) -> Network<Act> {
    let mut layers: Vec<mixact::extend::BoxedLayer<Act, f32>> = vec![];
    for i in 0..widths.len() - 1 {
        let last = i == widths.len() - 2;
        let acts = if last {
            vec![Act::Identity; widths[i + 1]]
        } else {
            hidden(widths[i + 1])
        };
        layers.push(Dense::per_neuron(widths[i], &acts, rng).unwrap().into());
    }
    Network::new(layers).unwrap()
}

/// W4's members' batches: each member's `steps` batches of W3's shape
/// (32 rows, 2 inputs, 1 target).
pub fn member_batches(members: usize, steps: usize) -> Vec<Vec<(DMatrix<f32>, DMatrix<f32>)>> {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    (0..members)
        .map(|_| {
            (0..steps)
                .map(|_| (random(32, 2, &mut rng), random(32, 1, &mut rng)))
                .collect()
        })
        .collect()
}

/// W4's members: `members` 2-32-32-1 mixed networks with plain SGD trainers.
pub fn tiny_members(members: usize) -> Vec<(Network<Act>, Trainer<f32, Sgd>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    (0..members)
        .map(|_| {
            let net = mlp(&[2, 32, 32, 1], mixed4_mask, &mut rng);
            let t = Trainer::new(Loss::Mse, Sgd::new(0.01).unwrap(), FitConfig::default());
            (net, t.unwrap())
        })
        .collect()
}
