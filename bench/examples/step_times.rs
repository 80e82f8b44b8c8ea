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
//! `LaneEnsemble`, 100 steps per call; K = 16 is one full block alone). The
//! networks and data are the bench's own (`bench/workloads.rs`).

use std::time::Instant;

use mixact::{Act, Dense, FitConfig, LaneEnsemble, Layer, Loss, Sgd, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[path = "../workloads.rs"]
mod workloads;
use workloads::{member_batches, mixed4_mask, mlp, random, tiny_members};

/// The most members `lanes K` builds: each is a network, a trainer and 100
/// batches, so K is bounded before anything is allocated.
const MAX_MEMBERS: usize = 4096;

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
            let x = random(128, 784, &mut rng);
            let labels: Vec<usize> = (0..128).map(|i| i % 10).collect();
            let y = mixact::data::one_hot::<f32>(&labels, 10).unwrap();
            let mut net = mlp(&[784, 512, 512, 10], mixed4_mask, &mut rng);
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
            let mixed = mixed4_mask(1024);
            let mut layer = Dense::<Act>::per_neuron(1024, &mixed, &mut rng).unwrap();
            median_ms(30, 10, || {
                layer.forward(x.as_view()).unwrap();
                layer.backward(x.as_view(), dy.as_view(), true).unwrap();
            })
        }
        "lanes" => {
            let arg = std::env::args().nth(2);
            let k = match arg.as_deref().map(str::parse::<usize>) {
                None => 20,
                Some(Ok(k)) if (1..=MAX_MEMBERS).contains(&k) => k,
                Some(_) => {
                    eprintln!(
                        "lanes K: K must be a whole number from 1 to {MAX_MEMBERS}, got {:?}",
                        arg.unwrap_or_default()
                    );
                    std::process::exit(2);
                }
            };
            let members = tiny_members(k);
            let data = member_batches(k, 100);
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
