//! Times one workload in repeated short runs and prints the median, for
//! comparing two builds on a noisy machine: criterion runs minutes apart
//! moved by up to 30% on a shared VM, so a 5% change shows only when two
//! builds alternate. How docs/performance.md's "interleaved runs" were made:
//!
//! ```text
//! git checkout A && cargo build --release -p mixact-bench --example step_times
//! cp target/release/examples/step_times /tmp/a     # same for B into /tmp/b
//! for i in $(seq 10); do /tmp/a mlp; /tmp/b mlp; done   # compare the medians of the medians
//! ```
//!
//! Workloads (the `hot_loop` bench's shapes): `mlp` = `mlp_train_step/mixed4`
//! (784-512-512-10, batch 128, softmax cross-entropy, Sgd 0.01), `layer` =
//! `layer_fwd_bwd/mask_mixed4` (256 x 1024 -> 1024, forward + backward),
//! `lanes K` = `ensemble_train_step/mixed4_xK` (K 2-32-32-1 members in a
//! `LaneEnsemble`, 100 steps per call; K = 16 is one full block alone).

use std::time::Instant;

use mixact::{mask, Act, Dense, FitConfig, LaneEnsemble, Layer, Loss, Network, Sgd, Trainer};
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MIXED4: [Act; 4] = [Act::Relu, Act::Tanh, Act::Sigmoid, Act::Gelu];

fn random(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> DMatrix<f32> {
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// Median milliseconds per call of `f` over `reps` runs of `calls` calls.
fn median_ms(reps: usize, calls: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            t.elapsed().as_secs_f64() * 1e3 / calls as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

fn main() {
    let workload = std::env::args().nth(1).unwrap_or_else(|| "mlp".into());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let ms = match workload.as_str() {
        "mlp" => {
            let widths = [784, 512, 512, 10];
            let x = random(128, 784, &mut rng);
            let labels: Vec<usize> = (0..128).map(|i| i % 10).collect();
            let y = mixact::data::one_hot::<f32>(&labels, 10).unwrap();
            let layers = (0..3)
                .map(|i| {
                    let acts = if i == 2 {
                        vec![Act::Identity; 10]
                    } else {
                        mask::pattern(&MIXED4, widths[i + 1]).unwrap()
                    };
                    Dense::per_neuron(widths[i], &acts, &mut rng)
                        .unwrap()
                        .into()
                })
                .collect();
            let mut net = Network::new(layers).unwrap();
            let sgd = Sgd::new(0.01).unwrap();
            let mut trainer =
                Trainer::new(Loss::SoftmaxCrossEntropy, sgd, FitConfig::default()).unwrap();
            median_ms(40, 50, || {
                trainer.step(&mut net, x.as_view(), y.as_view()).unwrap();
            })
        }
        "layer" => {
            let x = random(256, 1024, &mut rng);
            let dy = random(256, 1024, &mut rng);
            let mixed = mask::pattern(&MIXED4, 1024).unwrap();
            let mut layer = Dense::<Act>::per_neuron(1024, &mixed, &mut rng).unwrap();
            median_ms(30, 10, || {
                layer.forward(x.as_view()).unwrap();
                layer.backward(x.as_view(), dy.as_view(), true).unwrap();
            })
        }
        "lanes" => {
            let k: usize = std::env::args()
                .nth(2)
                .and_then(|a| a.parse().ok())
                .unwrap_or(20);
            let members = (0..k)
                .map(|_| {
                    let acts = mask::pattern(&MIXED4, 32).unwrap();
                    let layers = vec![
                        Dense::per_neuron(2, &acts, &mut rng).unwrap().into(),
                        Dense::per_neuron(32, &acts, &mut rng).unwrap().into(),
                        Dense::new(32, 1, Act::Identity, &mut rng).unwrap().into(),
                    ];
                    let net = Network::new(layers).unwrap();
                    let sgd = Sgd::new(0.01).unwrap();
                    (
                        net,
                        Trainer::new(Loss::Mse, sgd, FitConfig::default()).unwrap(),
                    )
                })
                .collect();
            let data: Vec<Vec<(DMatrix<f32>, DMatrix<f32>)>> = (0..k)
                .map(|_| {
                    (0..100)
                        .map(|_| (random(32, 2, &mut rng), random(32, 1, &mut rng)))
                        .collect()
                })
                .collect();
            let views: Vec<Vec<_>> = data
                .iter()
                .map(|seq| {
                    seq.iter()
                        .map(|(x, y)| (x.as_view(), y.as_view()))
                        .collect()
                })
                .collect();
            let sequences: Vec<&[_]> = views.iter().map(|v| v.as_slice()).collect();
            let mut losses: Vec<mixact::Result<f32>> = (0..k).map(|_| Ok(0.0)).collect();
            let mut lanes = LaneEnsemble::new(members).unwrap();
            median_ms(30, 10, || {
                lanes.step_sequence(&sequences, &mut losses).unwrap();
            })
        }
        other => {
            eprintln!("unknown workload {other:?} (mlp, layer or lanes K)");
            std::process::exit(2);
        }
    };
    println!("{workload}: median {ms:.3} ms");
}
