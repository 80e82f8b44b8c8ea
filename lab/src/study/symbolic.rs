//! `mixact-lab symbolic`: do varied nonlinearities help on symbolic
//! formulas, where "KAN or MLP: a fairer comparison" (Yu et al. 2024) found
//! the one setting in which learned/varied activations beat MLPs at equal
//! parameters? Ten Feynman-type formulas (from the AI Feynman collection,
//! Udrescu & Tegmark 2020, with their sampling ranges) with 2 to 5 inputs,
//! generated here.

use std::f64::consts::PI;

use mixact::prelude::*;
use mixact::Result;
use rand::distr::Uniform;

use super::analysis::{pooled, CellEffect, Statistic};
use super::fit::{loss_on, train, Budget};
use super::{Endpoint, RuleOutcome, RunScore, Scale, Study};
use crate::{Config, Hidden};

/// A formula: its name, its inputs' sampling ranges, and its value.
pub struct Formula {
    /// Its AI Feynman label and expression.
    pub name: &'static str,
    /// Uniform sampling range per input.
    pub ranges: &'static [(f64, f64)],
    /// The value at a point.
    pub f: fn(&[f64]) -> f64,
}

/// The ten formulas.
pub const FORMULAS: [Formula; 10] = [
    Formula {
        name: "I.6.2 exp(-(t/s)^2/2)/(sqrt(2pi)s)",
        ranges: &[(1.0, 3.0), (1.0, 3.0)],
        f: |v| (-(v[0] / v[1]).powi(2) / 2.0).exp() / ((2.0 * PI).sqrt() * v[1]),
    },
    Formula {
        name: "I.12.2 q1q2/(4pi r^2)",
        ranges: &[(1.0, 5.0), (1.0, 5.0), (1.0, 5.0)],
        f: |v| v[0] * v[1] / (4.0 * PI * v[2] * v[2]),
    },
    Formula {
        name: "I.15.3x (x-ut)/sqrt(1-u^2/c^2)",
        ranges: &[(5.0, 10.0), (1.0, 2.0), (1.0, 2.0), (3.0, 10.0)],
        f: |v| (v[0] - v[1] * v[2]) / (1.0 - v[1] * v[1] / (v[3] * v[3])).sqrt(),
    },
    Formula {
        name: "I.18.4 (m1r1+m2r2)/(m1+m2)",
        ranges: &[(1.0, 5.0), (1.0, 5.0), (1.0, 5.0), (1.0, 5.0)],
        f: |v| (v[0] * v[2] + v[1] * v[3]) / (v[0] + v[1]),
    },
    Formula {
        name: "I.24.6 m(w^2+w0^2)x^2/4",
        ranges: &[(1.0, 3.0), (1.0, 3.0), (1.0, 3.0), (1.0, 3.0)],
        f: |v| v[0] * (v[1] * v[1] + v[2] * v[2]) * v[3] * v[3] / 4.0,
    },
    Formula {
        name: "I.29.16 sqrt(x1^2+x2^2-2x1x2cos(t1-t2))",
        ranges: &[(1.0, 5.0), (1.0, 5.0), (1.0, 5.0), (1.0, 5.0)],
        f: |v| (v[0] * v[0] + v[1] * v[1] - 2.0 * v[0] * v[1] * (v[2] - v[3]).cos()).sqrt(),
    },
    Formula {
        name: "I.37.4 I1+I2+2sqrt(I1I2)cos(d)",
        ranges: &[(1.0, 5.0), (1.0, 5.0), (1.0, 5.0)],
        f: |v| v[0] + v[1] + 2.0 * (v[0] * v[1]).sqrt() * v[2].cos(),
    },
    Formula {
        name: "I.40.1 n0 exp(-mgx/T)",
        ranges: &[(1.0, 5.0), (1.0, 5.0), (1.0, 5.0), (1.0, 5.0), (1.0, 5.0)],
        f: |v| v[0] * (-v[1] * v[2] * v[3] / (v[4] * 10.0)).exp(),
    },
    Formula {
        name: "I.50.26 x1(cos(wt)+a cos(wt)^2)",
        ranges: &[(1.0, 3.0), (1.0, 3.0), (1.0, 3.0), (1.0, 3.0)],
        f: |v| {
            let c = (v[1] * v[2]).cos();
            v[0] * (c + v[3] * c * c)
        },
    },
    Formula {
        name: "II.35.18 n0/(exp(mB/T)+exp(-mB/T))",
        ranges: &[(1.0, 3.0), (1.0, 3.0), (1.0, 3.0), (1.0, 3.0)],
        f: |v| {
            let a = v[1] * v[2] / v[3];
            v[0] / (a.exp() + (-a).exp())
        },
    },
];

/// The candidate activations the mixes draw from.
pub const MIX: [Act; 5] = [Act::Sin, Act::Tanh, Act::Relu, Act::Square, Act::Identity];
/// The single-activation candidates for the baseline.
pub const SINGLES: [Act; 5] = [Act::Relu, Act::Tanh, Act::Sin, Act::Gelu, Act::Silu];
/// The parameter budget every arm is matched to (two hidden layers of 32
/// relu neurons on 4 inputs has 1 249).
pub const PARAMS: usize = 1_250;
const DEPTH: usize = 2;
const TRAIN_POINTS: usize = 1_000;
const TEST_POINTS: usize = 10_000;

/// The study (`quick`: 3 formulas, fewer seeds, shorter training: the same
/// code in a few minutes, no claims).
pub struct Symbolic {
    /// The documented smaller version.
    pub quick: bool,
}

fn arm_config(arm: &str) -> Option<Config<Act>> {
    let mix_name = MIX.iter().map(|a| a.name()).collect::<Vec<_>>().join("+");
    if arm == format!("mask {mix_name}") {
        return Some(Config::new(Hidden::Interleaved(MIX.to_vec()), DEPTH));
    }
    if arm == format!("mixture {mix_name}") {
        return Some(Config::new(Hidden::Mixture(MIX.to_vec()), DEPTH));
    }
    if let Some(a) = arm.strip_prefix("slope ") {
        return Act::from_name(a).map(|a| Config::new(Hidden::Slope(a), DEPTH));
    }
    Act::from_name(arm).map(|a| Config::new(Hidden::Dense(a), DEPTH))
}

/// `n` points of formula `k`, inputs scaled to [-1, 1], targets raw.
fn sample(k: usize, n: usize, seed: u64) -> (DMatrix<f32>, Vec<f64>) {
    let f = &FORMULAS[k];
    let d = f.ranges.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let unit = Uniform::new(-1.0f64, 1.0).expect("a valid range");
    let mut x = DMatrix::<f32>::zeros(n, d);
    let mut y = Vec::with_capacity(n);
    let mut v = vec![0.0; d];
    for i in 0..n {
        for (j, &(lo, hi)) in f.ranges.iter().enumerate() {
            let u = rng.sample(unit);
            x[(i, j)] = u as f32;
            v[j] = lo + (hi - lo) * (u + 1.0) / 2.0;
        }
        y.push((f.f)(&v));
    }
    (x, y)
}

fn column(y: &[f64], mean: f64, sd: f64) -> DMatrix<f32> {
    DMatrix::from_iterator(y.len(), 1, y.iter().map(|&v| ((v - mean) / sd) as f32))
}

impl Symbolic {
    fn budget(&self) -> Budget {
        Budget {
            epochs: if self.quick { 150 } else { 600 },
            batch: 64,
            patience: Some(if self.quick { 20 } else { 60 }),
            slope_recovery: 0.0,
        }
    }
}

impl Study for Symbolic {
    fn name(&self) -> &'static str {
        "symbolic"
    }
    fn title(&self) -> &'static str {
        "Symbolic formulas: per-neuron mixes of sin, tanh, relu, x² and identity against the best single activation"
    }
    fn claim(&self) -> &'static str {
        "At equal parameters MLPs match or beat KANs everywhere except symbolic-formula fitting, where varied \
         or learned nonlinearities help (Liu et al. 2024, \"KAN\"; Yu et al. 2024, \"KAN or MLP: a fairer \
         comparison\"). The mixact version: a per-neuron mix of {sin, tanh, relu, x², identity}, and a learned \
         mixture of the same five, against the best single activation, at equal parameter counts."
    }
    fn protocol(&self) -> String {
        let b = self.budget();
        format!(
            "- Cells: {} Feynman-type formulas with 2-5 inputs (AI Feynman ranges; I.40.1 with kb·10 so the \
             exponent stays in range), inputs scaled to [-1, 1], targets standardised on the training points.\n\
             - Per seed: {TRAIN_POINTS} training points (80% fit, 20% validation), drawn from the seed; \
             {TEST_POINTS} test points, fixed per formula.\n\
             - Networks: {DEPTH} hidden layers, width matched per arm to {PARAMS} parameters; linear output.\n\
             - Arms: singles {}; the mask of all five mix activations interleaved; the learned mixture of the \
             five; the slope control (learned per-neuron slope) on the cell's best single.\n\
             - Training: Adam, batch {}, at most {} epochs, early stopping on the validation MSE (patience {}, \
             best weights restored); rate per arm chosen from {:?} on the selection seeds.\n\
             - Seeds: selection {:?}; scored {:?}.",
            self.cells().len(),
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
        "- Endpoint: test RMSE (standardised target units) on the 10 000 test points; per formula, the \
geometric mean over scored seeds of the ratio arm / baseline (the best single on the selection seeds, by \
validation MSE).\n\
- Statistic: the median over formulas of the per-formula log ratio; 95% interval by resampling scored seeds \
jointly across formulas (10 000 resamples).\n\
- **Win**: median ratio below 0.80 and the interval's upper end below 1. **Loss**: the interval's lower end \
above 1. **No win** otherwise.\n\
- The claim is supported when the per-neuron mask wins (the primary test). The learned mixture and the slope \
control are decided by the same rule and reported beside it; a slope-control win would say the gain comes \
from adaptive scaling rather than from mixing."
    }
    fn endpoint(&self) -> Endpoint {
        Endpoint {
            name: "test RMSE",
            higher_is_better: false,
            scale: Scale::Log,
        }
    }
    fn cells(&self) -> Vec<String> {
        let n = if self.quick { 3 } else { FORMULAS.len() };
        FORMULAS[..n].iter().map(|f| f.name.to_string()).collect()
    }
    fn singles(&self, _cell: usize) -> Vec<String> {
        SINGLES.iter().map(|a| a.name().to_string()).collect()
    }
    fn fixed(&self, _cell: usize) -> Vec<String> {
        let mix = MIX.iter().map(|a| a.name()).collect::<Vec<_>>().join("+");
        vec![format!("mask {mix}"), format!("mixture {mix}")]
    }
    fn derived(&self, _cell: usize, ranking: &[String]) -> Vec<String> {
        ranking
            .first()
            .map(|b| vec![format!("slope {b}")])
            .unwrap_or_default()
    }
    fn lr_grid(&self, _cell: usize, _arm: &str) -> Vec<f64> {
        if self.quick {
            vec![3e-3]
        } else {
            vec![1e-3, 3e-3, 1e-2]
        }
    }
    fn selection_seeds(&self) -> Vec<u64> {
        if self.quick {
            vec![1000, 1001]
        } else {
            (1000..1005).collect()
        }
    }
    fn scored_seeds(&self) -> Vec<u64> {
        (0..if self.quick { 6 } else { 30 }).collect()
    }
    fn run(&self, cell: usize, arm: &str, lr: f64, seed: u64) -> Result<RunScore> {
        let config = arm_config(arm).ok_or(mixact::Error::Empty {
            what: "a known arm name",
        })?;
        let inputs = FORMULAS[cell].ranges.len();
        let (x, y) = sample(cell, TRAIN_POINTS, seed.wrapping_mul(7919) + 11);
        let fit_n = TRAIN_POINTS * 4 / 5;
        let mean = y[..fit_n].iter().sum::<f64>() / fit_n as f64;
        let sd = (y[..fit_n].iter().map(|v| (v - mean).powi(2)).sum::<f64>() / fit_n as f64)
            .sqrt()
            .max(1e-12);
        let all = Dataset::new(x, column(&y, mean, sd))?;
        let fit = all.select(&(0..fit_n).collect::<Vec<_>>())?;
        let valid = all.select(&(fit_n..TRAIN_POINTS).collect::<Vec<_>>())?;
        let (tx, ty) = sample(cell, TEST_POINTS, 0x7e57 + cell as u64);
        let test = Dataset::new(tx, column(&ty, mean, sd))?;
        let width = config.width_for(inputs, 1, PARAMS)?;
        let mut net = config.build(inputs, 1, width, seed)?;
        let select = train(
            &mut net,
            (Loss::Mse, lr, seed),
            self.budget(),
            &fit,
            Some(&valid),
            |_, _| {},
        )?;
        let endpoint = if select.is_finite() {
            loss_on(&mut net, &test, Loss::Mse)?.sqrt()
        } else {
            f64::NAN
        };
        Ok(RunScore {
            select,
            endpoint,
            secondary: [f64::NAN; 2],
        })
    }
    fn decide(&self, effects: &[CellEffect]) -> Vec<RuleOutcome> {
        let mix = MIX.iter().map(|a| a.name()).collect::<Vec<_>>().join("+");
        let tests = [
            (
                format!("mask {mix}"),
                "primary: the per-neuron mask of the five",
            ),
            (format!("mixture {mix}"), "the learned mixture of the five"),
            (
                "slope ".to_string(),
                "control: learned slope on the best single",
            ),
        ];
        tests
            .into_iter()
            .map(|(arm, what)| {
                let e = pooled(effects, Scale::Log, Statistic::Median, |c| {
                    if arm.ends_with(' ') {
                        c.arm.starts_with(&arm)
                    } else {
                        c.arm == arm
                    }
                });
                RuleOutcome {
                    claim: format!("{what}, median test-RMSE ratio over formulas"),
                    outcome: win_rule(e.as_ref()),
                    estimate: e,
                }
            })
            .collect()
    }
}

/// The symbolic win rule on a pooled ratio (see [`Symbolic::rules`]).
pub fn win_rule(e: Option<&super::Estimate>) -> &'static str {
    match e {
        Some(e) if e.seeds < crate::effect::MIN_SEEDS => "no win",
        Some(e) if e.value < 0.8 && e.high < 1.0 => "win",
        Some(e) if e.low > 1.0 => "loss",
        _ => "no win",
    }
}
