//! `mixact-lab midscale`: activation mixes at a larger scale, scored on
//! log-loss, as in the work on activation ensembles (Harmon & Klabjan 2017)
//! and learned blends (Sütfeld et al. 2018, who found the gains come
//! largely from adaptive scaling): MNIST-1D regenerated at 40 000 samples,
//! an MLP 2 x 256.

use mixact::prelude::*;
use mixact::Result;

use super::analysis::{pooled, CellEffect, Statistic};
use super::fit::{loss_on, train, Budget};
use super::mnist1d::generate;
use super::{Endpoint, Estimate, RuleOutcome, RunScore, Scale, Study};
use crate::{Config, Hidden};

/// The baseline candidates.
pub const SINGLES: [Act; 4] = [Act::Relu, Act::Tanh, Act::Gelu, Act::Sin];
const DEPTH: usize = 2;
const WIDTH: usize = 256;
/// The generator's seed (the package's default, 42).
const DATA_SEED: u64 = 42;

/// The study (`quick`: 8 000 samples, fewer epochs and seeds).
pub struct Midscale {
    /// The documented smaller version.
    pub quick: bool,
}

impl Midscale {
    fn samples(&self) -> usize {
        if self.quick {
            8_000
        } else {
            40_000
        }
    }
    fn budget(&self) -> Budget {
        Budget {
            epochs: if self.quick { 8 } else { 60 },
            batch: 128,
            patience: Some(if self.quick { 3 } else { 6 }),
            slope_recovery: 0.0,
        }
    }
}

fn mixture_name() -> String {
    format!("mixture {}", SINGLES.map(|a| a.name()).join("+"))
}

fn config(arm: &str) -> Option<Config<Act>> {
    if arm == mixture_name() {
        return Some(Config::new(Hidden::Mixture(SINGLES.to_vec()), DEPTH));
    }
    if let Some(pair) = arm.strip_prefix("mask ") {
        let acts: Option<Vec<Act>> = pair.split('+').map(Act::from_name).collect();
        return acts.map(|a| Config::new(Hidden::Interleaved(a), DEPTH));
    }
    if let Some(a) = arm.strip_prefix("slope ") {
        return Act::from_name(a).map(|a| Config::new(Hidden::Slope(a), DEPTH));
    }
    Act::from_name(arm).map(|a| Config::new(Hidden::Dense(a), DEPTH))
}

impl Study for Midscale {
    fn name(&self) -> &'static str {
        "midscale"
    }
    fn title(&self) -> &'static str {
        "Mid-scale: MNIST-1D at 40 000 samples, MLP 2 x 256, scored on test log-loss"
    }
    fn claim(&self) -> &'static str {
        "Activation ensembles (Harmon & Klabjan 2017) and learned blends of activations (Sütfeld et al. 2018) \
         improve MLPs trained on tens of thousands of samples; Sütfeld et al. found the gains come largely \
         from adaptive scaling. Tested here: the best-two per-neuron mix, the learned mixture and a learned \
         slope (the scaling control) against the best single activation, on log-loss."
    }
    fn protocol(&self) -> String {
        let b = self.budget();
        format!(
            "- Data: MNIST-1D regenerated with a port of its generator (lab/src/study/mnist1d.rs: the package's \
             templates, transformations and defaults, ChaCha8 random numbers, seed {DATA_SEED}), {} samples: \
             the first 80% train (of which 10%, drawn per seed, validate), the last 20% test.\n\
             - Networks: {DEPTH} hidden layers; relu at width {WIDTH}, every other arm at the width that \
             matches relu's parameter count; linear output, softmax cross-entropy.\n\
             - Arms: singles {}; the learned mixture of the four; after selection, the best two singles \
             interleaved per neuron (mask) and a learned per-neuron slope on the best.\n\
             - Training: Adam, batch {}, at most {} epochs, early stopping on the validation loss (patience {}, \
             best weights restored); rate per arm chosen from {:?} on the selection seeds.\n\
             - Seeds: selection {:?}; scored {:?}.",
            self.samples(),
            SINGLES.map(|a| a.name()).join(", "),
            b.batch,
            b.epochs,
            b.patience.unwrap_or(0),
            self.lr_grid(0, "relu"),
            self.selection_seeds(),
            self.scored_seeds()
        )
    }
    fn rules(&self) -> &'static str {
        "- Endpoint: test log-loss (mean softmax cross-entropy on the test part).\n\
- Effect: the geometric mean over scored seeds of the log-loss ratio arm / baseline (the best single on \
the selection seeds, by validation loss); 95% seed-bootstrap interval (10 000 resamples).\n\
- **Win**: the interval's upper end below 0.97. **Loss**: the interval's lower end above 1. **No win** \
otherwise.\n\
- The primary test is the best-two mix; the learned mixture and the slope control are decided by the same \
rule and reported beside it (a slope win with no mix win would side with Sütfeld et al.: scaling, not \
mixing).\n\
- Secondary (reported, not decided): test accuracy."
    }
    fn endpoint(&self) -> Endpoint {
        Endpoint {
            name: "test log-loss",
            higher_is_better: false,
            scale: Scale::Log,
        }
    }
    fn secondary(&self) -> [Option<&'static str>; 2] {
        [Some("test accuracy"), None]
    }
    fn cells(&self) -> Vec<String> {
        vec![format!("MNIST-1D {}", self.samples())]
    }
    fn singles(&self, _cell: usize) -> Vec<String> {
        SINGLES.iter().map(|a| a.name().to_string()).collect()
    }
    fn fixed(&self, _cell: usize) -> Vec<String> {
        vec![mixture_name()]
    }
    fn derived(&self, _cell: usize, ranking: &[String]) -> Vec<String> {
        match ranking {
            [a, b, ..] => vec![format!("mask {a}+{b}"), format!("slope {a}")],
            _ => Vec::new(),
        }
    }
    fn lr_grid(&self, _cell: usize, _arm: &str) -> Vec<f64> {
        if self.quick {
            vec![1e-3]
        } else {
            vec![1e-3, 3e-3]
        }
    }
    fn selection_seeds(&self) -> Vec<u64> {
        if self.quick {
            vec![1000]
        } else {
            vec![1000, 1001]
        }
    }
    fn scored_seeds(&self) -> Vec<u64> {
        (0..if self.quick { 6 } else { 12 }).collect()
    }
    fn run(&self, _cell: usize, arm: &str, lr: f64, seed: u64) -> Result<RunScore> {
        let cfg = config(arm).ok_or(mixact::Error::Empty {
            what: "a known arm name",
        })?;
        let (x, labels) = generate(self.samples(), DATA_SEED);
        let data = Dataset::classification(x, &labels, 10)?;
        let n_train = self.samples() * 4 / 5;
        let mut train_rows: Vec<usize> = (0..n_train).collect();
        train_rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed));
        let n_valid = n_train / 10;
        let valid = data.select(&train_rows[..n_valid])?;
        let fit = data.select(&train_rows[n_valid..])?;
        let test = data.select(&(n_train..self.samples()).collect::<Vec<_>>())?;
        let relu_params = Config::new(Hidden::Dense(Act::Relu), DEPTH)
            .build(40, 10, WIDTH, 0)?
            .param_count();
        let width = if arm == "relu" {
            WIDTH
        } else {
            cfg.width_for(40, 10, relu_params)?
        };
        let mut net = cfg.build(40, 10, width, seed)?;
        let loss = Loss::SoftmaxCrossEntropy;
        let select = train(
            &mut net,
            (loss, lr, seed),
            self.budget(),
            &fit,
            Some(&valid),
            |_, _| {},
        )?;
        if select.is_nan() {
            return Ok(RunScore {
                select,
                endpoint: f64::NAN,
                secondary: [f64::NAN; 2],
            });
        }
        let m = evaluate(&mut net, &test, loss)?;
        Ok(RunScore {
            select,
            endpoint: loss_on(&mut net, &test, loss)?,
            secondary: [m.accuracy.unwrap_or(f64::NAN), f64::NAN],
        })
    }
    fn decide(&self, effects: &[CellEffect]) -> Vec<RuleOutcome> {
        let tests: [(&str, &str); 3] = [
            ("mask ", "primary: the best-two mix"),
            ("mixture ", "the learned mixture"),
            ("slope ", "control: learned slope on the best single"),
        ];
        tests
            .into_iter()
            .map(|(prefix, what)| {
                let e = pooled(effects, Scale::Log, Statistic::Mean, |c| {
                    c.arm.starts_with(prefix)
                });
                RuleOutcome {
                    claim: format!("{what}, test log-loss ratio to the best single"),
                    outcome: win_rule(e.as_ref()),
                    estimate: e,
                }
            })
            .collect()
    }
}

/// The midscale win rule on a log-loss ratio (see [`Midscale::rules`]).
pub fn win_rule(e: Option<&Estimate>) -> &'static str {
    match e {
        Some(e) if e.seeds < crate::effect::MIN_SEEDS => "no win",
        Some(e) if e.high < 0.97 => "win",
        Some(e) if e.low > 1.0 => "loss",
        _ => "no win",
    }
}
