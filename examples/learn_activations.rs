//! Let training choose each neuron's activation.
//!
//! On two 1-D regression tasks where one activation family is known to fit
//! better (a periodic target, where sin should win, and |x|, where relu
//! should), this trains a mixture network (every hidden neuron blends relu,
//! tanh, sin and identity with learned weights), prints the learned
//! assignment per layer, hardens it to a per-neuron mask (dense-layer cost),
//! reports the loss change, retrains briefly, and compares with fixed layouts
//! and the slope-only control at (nearly) equal parameter count.
//!
//! ```text
//! cargo run --release --example learn_activations [-- --seeds 3 --epochs 400]
//! ```

#[path = "common/flags.rs"]
mod flags;
use flags::Flags;
use mixact::data::{regression_1d, Target1d};
use mixact::rand::SeedableRng;
use mixact::rand_chacha::ChaCha8Rng;
use mixact::{
    evaluate, mask, Act, Adam, Dataset, Dense, FitConfig, Layer, Loss, Mixture, Network, Slope,
    Trainer,
};

const CANDIDATES: [Act; 4] = [Act::Relu, Act::Tanh, Act::Sin, Act::Identity];
const TARGET_PARAMS: usize = 1200;

#[derive(Clone, Copy, Debug)]
enum Layout {
    Dense(Act),
    Interleaved,
    Slope(Act),
    Mixture,
}

impl Layout {
    fn name(self) -> String {
        match self {
            Layout::Dense(a) => format!("dense {a}"),
            Layout::Interleaved => "per-neuron relu/tanh/sin/identity".into(),
            Layout::Slope(a) => format!("slope-only {a}"),
            Layout::Mixture => "learned mixture".into(),
        }
    }

    /// Parameters of 1 -> h -> h -> 1.
    fn params(self, h: usize) -> usize {
        let base = h * h + 4 * h + 1;
        match self {
            Layout::Dense(_) | Layout::Interleaved => base,
            Layout::Slope(_) => base + 2 * h,
            Layout::Mixture => base + 2 * h * CANDIDATES.len(),
        }
    }

    /// The width whose parameter count is closest to the target.
    fn width(self) -> usize {
        (2..200)
            .min_by_key(|&h| self.params(h).abs_diff(TARGET_PARAMS))
            .unwrap()
    }

    fn hidden(
        self,
        inputs: usize,
        h: usize,
        rng: &mut ChaCha8Rng,
    ) -> mixact::Result<mixact::extend::BoxedLayer<Act, f32>> {
        Ok(match self {
            Layout::Dense(a) => Dense::new(inputs, h, a, rng)?.into(),
            Layout::Interleaved => {
                Dense::per_neuron(inputs, &mask::pattern(&CANDIDATES, h)?, rng)?.into()
            }
            Layout::Slope(a) => Slope::new(inputs, h, a, rng)?.into(),
            Layout::Mixture => Mixture::new(inputs, h, &CANDIDATES, rng)?
                .with_entropy_penalty(1e-3)?
                .into(),
        })
    }

    fn network(self, seed: u64) -> mixact::Result<Network<Act>> {
        let h = self.width();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Network::new(vec![
            self.hidden(1, h, &mut rng)?,
            self.hidden(h, h, &mut rng)?,
            Dense::new(h, 1, Act::Identity, &mut rng)?.into(),
        ])
    }
}

fn train(net: &mut Network<Act>, data: &Dataset, epochs: usize, seed: u64) -> mixact::Result<()> {
    let config = FitConfig {
        epochs,
        batch_size: 32,
        seed,
        shuffle: true,
    };
    Trainer::new(Loss::Mse, Adam::new(0.005)?, config)?.fit(net, data)?;
    Ok(())
}

fn main() -> mixact::Result<()> {
    let flags = Flags::parse(
        "Let training choose each neuron's activation: mixtures vs fixed layouts on 1-D regression.\n\nUsage: cargo run --release --example learn_activations -- [--seeds N] [--epochs N]\n  --seeds N   seeds per layout [default: 3]\n  --epochs N  training epochs per run [default: 400]",
        &["seeds", "epochs"],
    );
    let seeds: u64 = flags.get("seeds", 3);
    let epochs: usize = flags.get("epochs", 400);
    let tasks = [
        ("sin(6x)", Target1d::Sin { w: 6.0 }),
        ("|x|", Target1d::Abs),
    ];
    for (task_name, target) in tasks {
        println!("=== task y = {task_name}, x in [-2, 2], 512 train / 512 test points, {epochs} epochs, MSE ===\n");
        let layouts = [
            Layout::Dense(Act::Relu),
            Layout::Dense(Act::Tanh),
            Layout::Dense(Act::Sin),
            Layout::Interleaved,
            Layout::Slope(Act::Tanh),
            Layout::Mixture,
        ];
        let mut rows = vec![];
        for layout in layouts {
            let mut losses = vec![];
            for seed in 0..seeds {
                let mut rng = ChaCha8Rng::seed_from_u64(500 + seed);
                let train_set = regression_1d::<f32, _>(target, 512, 2.0, 0.01, &mut rng)?;
                let test_set = regression_1d::<f32, _>(target, 512, 2.0, 0.0, &mut rng)?;
                let mut net = layout.network(seed)?;
                train(&mut net, &train_set, epochs, seed)?;
                if let Layout::Mixture = layout {
                    let before = evaluate(&mut net, &test_set, Loss::Mse)?.loss;
                    if seed == 0 {
                        for (i, layer) in net.layers().iter().enumerate() {
                            if let Some(m) = (layer.as_ref() as &dyn std::any::Any)
                                .downcast_ref::<Mixture<Act, f32>>()
                            {
                                println!(
                                    "learned assignment, layer {i} (seed 0):\n{}",
                                    m.assignment_table()
                                );
                            }
                        }
                    }
                    let (mut hard, report) = net.harden_on(&test_set, Loss::Mse)?;
                    let hardened = report.loss_after;
                    train(&mut hard, &train_set, epochs / 4, seed)?;
                    let retrained = evaluate(&mut hard, &test_set, Loss::Mse)?.loss;
                    println!(
                        "seed {seed}: mixture test MSE {before:.5}, hardened {hardened:.5}, after {} epochs of retraining {retrained:.5}",
                        epochs / 4
                    );
                    losses.push(retrained);
                } else {
                    losses.push(evaluate(&mut net, &test_set, Loss::Mse)?.loss);
                }
            }
            let params = layout.network(0)?.param_count();
            let mean = losses.iter().sum::<f64>() / losses.len() as f64;
            rows.push((layout.name(), layout.width(), params, mean));
        }
        println!(
            "\n{:<36} {:>6} {:>7} {:>14}",
            "layout", "width", "params", "test MSE"
        );
        for (name, width, params, mse) in rows {
            println!("{name:<36} {width:>6} {params:>7} {mse:>14.5}");
        }
        println!("(learned mixture: hardened and retrained, so it runs at dense-layer cost)\n");
    }
    Ok(())
}
