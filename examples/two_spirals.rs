//! The main example: is mixing activations better on two spirals?
//!
//! Trains four layouts of the same 2 -> 32 -> 32 -> 1 network (equal
//! parameter count) over paired seeds: a relu network, a tanh network, a
//! per-neuron mixed network (relu, tanh, sin, gelu interleaved) and a
//! concatenated-branch network (16 relu ++ 16 tanh per layer). Each seed
//! gives every layout the same data and the same batch order.
//!
//! ```text
//! cargo run --release --example two_spirals [-- --seeds 5 --epochs 300]
//! ```

#[path = "common/flags.rs"]
mod flags;
use flags::Flags;
use std::time::Instant;

use mixact::rand::SeedableRng;
use mixact::rand_chacha::ChaCha8Rng;
use mixact::{data, evaluate, mask, Act, Adam, Dense, FitConfig, Layer, Loss, Network, Trainer};

const WIDTH: usize = 32;

#[derive(Clone, Copy)]
enum Layout {
    Dense(Act),
    Mixed,
    Branches,
}

impl Layout {
    fn name(self) -> String {
        match self {
            Layout::Dense(a) => format!("dense {a}"),
            Layout::Mixed => "per-neuron relu/tanh/sin/gelu".into(),
            Layout::Branches => "branches relu ++ tanh".into(),
        }
    }

    fn hidden(self, inputs: usize, rng: &mut ChaCha8Rng) -> mixact::Result<Dense<Act>> {
        match self {
            Layout::Dense(a) => Dense::new(inputs, WIDTH, a, rng),
            Layout::Mixed => {
                let m = mask::pattern(&[Act::Relu, Act::Tanh, Act::Sin, Act::Gelu], WIDTH)?;
                Dense::per_neuron(inputs, &m, rng)
            }
            Layout::Branches => Dense::branches(
                inputs,
                &[(WIDTH / 2, Act::Relu), (WIDTH / 2, Act::Tanh)],
                rng,
            ),
        }
    }

    fn network(self, seed: u64) -> mixact::Result<Network<Act>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Network::new(vec![
            self.hidden(2, &mut rng)?.into(),
            self.hidden(WIDTH, &mut rng)?.into(),
            Dense::new(WIDTH, 1, Act::Identity, &mut rng)?.into(),
        ])
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64;
    (m, var.sqrt())
}

fn main() -> mixact::Result<()> {
    let flags = Flags::parse(
        "Relu vs tanh vs per-neuron mixed vs branches on two spirals, at equal parameter count.\n\nUsage: cargo run --release --example two_spirals -- [--seeds N] [--epochs N]\n  --seeds N   seeds per layout [default: 5]\n  --epochs N  training epochs per run [default: 300]",
        &["seeds", "epochs"],
    );
    let seeds: u64 = flags.get("seeds", 5);
    let epochs: usize = flags.get("epochs", 300);
    let layouts = [
        Layout::Dense(Act::Relu),
        Layout::Dense(Act::Tanh),
        Layout::Mixed,
        Layout::Branches,
    ];
    println!("two spirals (1.5 turns, noise 0.05), 2 x 500 train / 2 x 500 test points");
    println!("network 2 -> {WIDTH} -> {WIDTH} -> 1, Adam lr 0.01, batch 32, {epochs} epochs, seeds 0..{seeds}\n");
    println!(
        "{:<32} {:>7} {:>16} {:>12} {:>9}",
        "layout", "params", "test acc (sd)", "train loss", "time/run"
    );
    for layout in layouts {
        let (mut accs, mut losses, mut secs, mut params) = (vec![], vec![], vec![], 0);
        for seed in 0..seeds {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
            let train = data::two_spirals::<f32, _>(500, 1.5, 0.05, &mut rng)?;
            let test = data::two_spirals::<f32, _>(500, 1.5, 0.05, &mut rng)?;
            let mut net = layout.network(seed)?;
            params = net.param_count();
            let config = FitConfig {
                epochs,
                batch_size: 32,
                seed,
                shuffle: true,
            };
            let mut trainer = Trainer::new(Loss::BceWithLogits, Adam::new(0.01)?, config)?;
            let start = Instant::now();
            let history = trainer.fit(&mut net, &train)?;
            secs.push(start.elapsed().as_secs_f64());
            losses.push(history.last().map_or(f64::NAN, |s| s.train.loss));
            accs.push(
                evaluate(&mut net, &test, Loss::BceWithLogits)?
                    .accuracy
                    .unwrap_or(0.0),
            );
        }
        let (acc, sd) = mean_sd(&accs);
        let (loss, _) = mean_sd(&losses);
        let (time, _) = mean_sd(&secs);
        println!(
            "{:<32} {:>7} {:>9.2}% ({:.2}) {:>12.4} {:>8.2}s",
            layout.name(),
            params,
            100.0 * acc,
            100.0 * sd,
            loss,
            time
        );
    }
    println!("\nA few seeds on one task: a demonstration, not evidence. For the fair comparison");
    println!("(best single activation, paired statistics), see the layout-comparison suite.");
    Ok(())
}
