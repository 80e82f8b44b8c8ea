//! Fit a 1-D signal from its coordinate, as the work on implicit neural
//! representations does: relu, a SIREN (sine layers with ω0 and SIREN's
//! initialisation), a per-neuron sin + relu mix, and Jagtap's adaptive tanh
//! with slope recovery, scored by PSNR on held-out coordinates.
//!
//! The signal (4096 samples on [-1, 1]) is a chirp, two steps and a smooth
//! trend; even samples train, odd ones test. Full-batch Adam, equal widths.
//! A demonstration of the library pieces, with a few seeds: the lab's
//! experiments, with selection seeds and intervals, are the evidence.
//!
//! ```text
//! cargo run --release --example signal_fit [-- --seeds 3 --epochs 200 --width 32]
//! ```

#[path = "common/flags.rs"]
mod flags;
use flags::Flags;
use mixact::metrics::psnr;
use mixact::prelude::*;

/// The signal at `x` in [-1, 1]: a chirp whose frequency rises along x, two
/// steps, and a smooth trend.
fn signal(x: f64) -> f64 {
    let chirp = 0.5 * (2.0 * std::f64::consts::PI * (4.0 * x + 6.0 * x * x)).sin();
    let steps = if x > 0.3 { 0.4 } else { 0.0 } - if x < -0.5 { 0.3 } else { 0.0 };
    let trend = 0.3 * (1.5 * x).tanh();
    chirp + steps + trend
}

#[derive(Clone, Copy, Debug)]
enum Model {
    Relu,
    Siren,
    SinReluMix,
    AdaptiveTanh,
}

impl Model {
    const ALL: [Model; 4] = [
        Model::Relu,
        Model::Siren,
        Model::SinReluMix,
        Model::AdaptiveTanh,
    ];

    fn name(self) -> &'static str {
        match self {
            Model::Relu => "relu",
            Model::Siren => "SIREN (omega0 = 30)",
            Model::SinReluMix => "per-neuron sin + relu",
            Model::AdaptiveTanh => "adaptive tanh (n = 10, slope recovery)",
        }
    }

    /// Three hidden layers of `width`, then a linear output.
    fn build(self, width: usize, rng: &mut ChaCha8Rng) -> Result<Network<Act>, mixact::Error> {
        let mut layers: Vec<mixact::extend::BoxedLayer<Act, f32>> = Vec::new();
        for k in 0..3 {
            let inputs = if k == 0 { 1 } else { width };
            layers.push(match self {
                Model::Relu => Dense::new(inputs, width, Act::Relu, rng)?.into(),
                Model::Siren => Slope::siren(inputs, width, Act::Sin, 30.0, k == 0, rng)?.into(),
                Model::SinReluMix => {
                    Dense::per_neuron(inputs, &mask::pattern(&[Act::Sin, Act::Relu], width)?, rng)?
                        .into()
                }
                Model::AdaptiveTanh => {
                    Slope::adaptive(inputs, width, Act::Tanh, 10.0, true, rng)?.into()
                }
            });
        }
        layers.push(Dense::new(width, 1, Act::Identity, rng)?.into());
        Network::new(layers)
    }
}

fn main() -> Result<(), mixact::Error> {
    let flags = Flags::parse(
        "signal_fit [--seeds N] [--epochs N] [--width N]",
        &["seeds", "epochs", "width"],
    );
    let (seeds, epochs, width) = (
        flags.get("seeds", 3u64),
        flags.get("epochs", 200usize),
        flags.get("width", 32usize),
    );
    let n = 4096;
    let xs: Vec<f64> = (0..n)
        .map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64)
        .collect();
    let half = |parity: usize| {
        let rows: Vec<f64> = xs.iter().copied().skip(parity).step_by(2).collect();
        let x = DMatrix::from_iterator(rows.len(), 1, rows.iter().map(|&v| v as f32));
        let y = DMatrix::from_iterator(rows.len(), 1, rows.iter().map(|&v| signal(v) as f32));
        (x, y)
    };
    let (train_x, train_y) = half(0);
    let (test_x, test_y) = half(1);
    let peak = {
        let (lo, hi) = test_y
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        f64::from(hi - lo)
    };
    let train = Dataset::new(train_x, train_y)?;
    println!(
        "signal: {n} samples, train on {} and test on {} held-out coordinates; \
         width {width}, 3 hidden layers, {epochs} full-batch Adam steps, {seeds} seeds",
        train.len(),
        test_y.nrows()
    );
    println!("{:<42} {:>12} {:>10}", "model", "test PSNR", "sd");
    for model in Model::ALL {
        let mut scores = Vec::new();
        for seed in 0..seeds {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut net = model.build(width, &mut rng)?;
            let lr = if matches!(model, Model::Siren) {
                1e-4
            } else {
                1e-3
            };
            let mut trainer =
                Trainer::new(Loss::Mse, Adam::new(lr)?, FitConfig::full_batch(epochs))?;
            if matches!(model, Model::AdaptiveTanh) {
                trainer = trainer.with_slope_recovery(1.0)?;
            }
            // A diverged run scores as the worst: say so rather than drop it.
            let score = match trainer.fit(&mut net, &train) {
                Ok(_) => psnr(&net.predict(&test_x)?, &test_y, peak)?,
                Err(e) => {
                    eprintln!("{} seed {seed}: {e}", model.name());
                    f64::NEG_INFINITY
                }
            };
            scores.push(score);
        }
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>()
            / (scores.len().max(2) - 1) as f64)
            .sqrt();
        println!("{:<42} {:>9.2} dB {:>10.2}", model.name(), mean, sd);
    }
    Ok(())
}
