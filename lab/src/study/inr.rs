//! `mixact-lab inr`: implicit neural representations. Do sine networks
//! (SIREN, Sitzmann et al. 2020) represent signals better than relu, and do
//! mixes of sine and relu (per neuron, or a sine first layer then relu, as in
//! work on implicit representations) beat the best single activation?

use mixact::extend::BoxedLayer;
use mixact::metrics::psnr;
use mixact::prelude::*;
use mixact::Result;

use super::analysis::{pooled, CellEffect, Statistic};
use super::fit::{loss_on, standard_normal, train, Budget};
use super::{Endpoint, Estimate, RuleOutcome, RunScore, Scale, Study};

/// SIREN's frequency scale.
pub const OMEGA0: f64 = 30.0;
/// Fourier-feature frequencies (Tancik et al. 2020): 32, so 64 features.
pub const FOURIER_FEATURES: usize = 32;
/// Their scale σ: B ~ N(0, σ²).
pub const FOURIER_SCALE: f64 = 10.0;
const WIDTH: usize = 64;
const DEPTH: usize = 3;
const SIGNAL_SAMPLES: usize = 4096;
const IMAGE_SIDE: usize = 64;

/// The 1-D signal at `x` in [-1, 1]: a chirp, two steps and a smooth trend.
pub fn signal(x: f64) -> f64 {
    let chirp = 0.5 * (2.0 * std::f64::consts::PI * (4.0 * x + 6.0 * x * x)).sin();
    let steps = if x > 0.3 { 0.4 } else { 0.0 } - if x < -0.5 { 0.3 } else { 0.0 };
    chirp + steps + 0.3 * (1.5 * x).tanh()
}

/// "shapes" at (u, v) in [-1, 1]²: a smooth gradient with a disc, a
/// rectangle and a ring, all sharp-edged.
pub fn shapes(u: f64, v: f64) -> f64 {
    let mut p = 0.35 + 0.25 * u + 0.1 * (2.0 * v).sin();
    if (u - 0.3).powi(2) + (v + 0.2).powi(2) < 0.16 {
        p = 0.9 - 0.2 * v;
    }
    if (-0.8..-0.2).contains(&u) && (0.2..0.7).contains(&v) {
        p = 0.1;
    }
    let r = ((u + 0.4).powi(2) + (v + 0.5).powi(2)).sqrt();
    if (0.18..0.26).contains(&r) {
        p = 0.75;
    }
    p
}

/// "texture" at (u, v): gratings of several frequencies and orientations
/// with a checker pattern in one quadrant.
pub fn texture(u: f64, v: f64) -> f64 {
    use std::f64::consts::PI;
    let mut p =
        0.5 + 0.15 * (2.0 * PI * (3.0 * u + 2.0 * v)).sin() + 0.1 * (2.0 * PI * 7.0 * v).sin() * u;
    if u > 0.0 && v > 0.0 {
        let c = ((4.0 * u).floor() + (4.0 * v).floor()) as i64;
        p += if c % 2 == 0 { 0.15 } else { -0.15 };
    }
    p + 0.05 * (2.0 * PI * 11.0 * (u - v)).cos()
}

/// The arms: (name, is a single activation).
const ARMS: [(&str, bool); 7] = [
    ("relu", true),
    ("relu + Fourier features", true),
    ("gelu", true),
    ("SIREN", true),
    ("mask sin+relu", false),
    ("sine first then relu", false),
    ("mixture sin+relu+gelu", false),
];

/// The study (`quick`: the 1-D signal and one image, fewer steps and seeds).
pub struct Inr {
    /// The documented smaller version.
    pub quick: bool,
}

/// Coordinates and values of a cell: rows of inputs, targets.
fn cell_data(cell: usize) -> (DMatrix<f64>, Vec<f64>) {
    if cell == 0 {
        let xs: Vec<f64> = (0..SIGNAL_SAMPLES)
            .map(|i| -1.0 + 2.0 * i as f64 / (SIGNAL_SAMPLES - 1) as f64)
            .collect();
        let ys = xs.iter().map(|&x| signal(x)).collect();
        return (DMatrix::from_column_slice(SIGNAL_SAMPLES, 1, &xs), ys);
    }
    let f = if cell == 1 { shapes } else { texture };
    let n = IMAGE_SIDE * IMAGE_SIDE;
    let c = |k: usize| -1.0 + 2.0 * k as f64 / (IMAGE_SIDE - 1) as f64;
    let x = DMatrix::from_fn(n, 2, |r, j| {
        if j == 0 {
            c(r % IMAGE_SIDE)
        } else {
            c(r / IMAGE_SIDE)
        }
    });
    let ys = (0..n)
        .map(|r| f(c(r % IMAGE_SIDE), c(r / IMAGE_SIDE)))
        .collect();
    (x, ys)
}

/// Held-out coordinates: every other sample (1-D), or the pixels with odd
/// i + j (images): the fit must interpolate between the ones it saw.
fn is_test(cell: usize, r: usize) -> bool {
    if cell == 0 {
        r % 2 == 1
    } else {
        (r % IMAGE_SIDE + r / IMAGE_SIDE) % 2 == 1
    }
}

/// Gaussian Fourier features of `x`: [sin 2πBx, cos 2πBx].
fn fourier(x: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let proj = x * b.transpose();
    let m = b.nrows();
    DMatrix::from_fn(x.nrows(), 2 * m, |r, j| {
        let a = 2.0 * std::f64::consts::PI * proj[(r, j % m)];
        if j < m {
            a.sin()
        } else {
            a.cos()
        }
    })
}

fn rows(x: &DMatrix<f64>, idx: &[usize]) -> DMatrix<f32> {
    DMatrix::from_fn(idx.len(), x.ncols(), |r, j| x[(idx[r], j)] as f32)
}

fn targets(y: &[f64], idx: &[usize]) -> DMatrix<f32> {
    DMatrix::from_iterator(idx.len(), 1, idx.iter().map(|&r| y[r] as f32))
}

fn build(arm: &str, inputs: usize, rng: &mut ChaCha8Rng) -> Result<Network<Act, f32>> {
    let mut layers: Vec<BoxedLayer<Act, f32>> = Vec::new();
    for k in 0..DEPTH {
        let n_in = if k == 0 { inputs } else { WIDTH };
        layers.push(match arm {
            "relu" | "relu + Fourier features" => Dense::new(n_in, WIDTH, Act::Relu, rng)?.into(),
            "gelu" => Dense::new(n_in, WIDTH, Act::Gelu, rng)?.into(),
            "SIREN" => Slope::siren(n_in, WIDTH, Act::Sin, OMEGA0, k == 0, rng)?.into(),
            "mask sin+relu" => {
                Dense::per_neuron(n_in, &mask::pattern(&[Act::Sin, Act::Relu], WIDTH)?, rng)?.into()
            }
            "sine first then relu" if k == 0 => {
                Slope::siren(n_in, WIDTH, Act::Sin, OMEGA0, true, rng)?.into()
            }
            "sine first then relu" => Dense::new(n_in, WIDTH, Act::Relu, rng)?.into(),
            "mixture sin+relu+gelu" => {
                Mixture::new(n_in, WIDTH, &[Act::Sin, Act::Relu, Act::Gelu], rng)?.into()
            }
            _ => {
                return Err(mixact::Error::Empty {
                    what: "a known arm name",
                })
            }
        });
    }
    layers.push(Dense::new(WIDTH, 1, Act::Identity, rng)?.into());
    Network::new(layers)
}

impl Inr {
    fn steps(&self) -> usize {
        if self.quick {
            300
        } else {
            1_000
        }
    }
}

impl Study for Inr {
    fn name(&self) -> &'static str {
        "inr"
    }
    fn title(&self) -> &'static str {
        "Implicit neural representations: SIREN, Fourier features and sine/relu mixes on a 1-D signal and two images"
    }
    fn claim(&self) -> &'static str {
        "Sine networks with a frequency scale ω0 = 30 in the first layer and a matching initialisation (SIREN, \
         Sitzmann et al., NeurIPS 2020) represent signals and images far better than relu networks; work on \
         implicit representations also mixes activations across layers (a sine first layer, relu after). \
         The mixact questions: does SIREN beat relu here, and does a mix of sine and relu beat the best single \
         activation?"
    }
    fn protocol(&self) -> String {
        format!(
            "- Cells: a 1-D signal ({SIGNAL_SAMPLES} samples on [-1, 1]: a chirp, two steps and a smooth trend; \
             every other sample held out){}; coordinates are the inputs, the value the output.\n\
             - Per seed: 10% of the training coordinates are drawn out as validation data; the seed also draws \
             the weights and the Fourier-feature matrix.\n\
             - Networks: {DEPTH} hidden layers of {WIDTH} (equal widths, as in the INR literature), linear \
             output. relu + Fourier features: inputs mapped to [sin 2πBx, cos 2πBx] with B ~ N(0, \
             {FOURIER_SCALE}²), {FOURIER_FEATURES} frequencies. SIREN: sin(ω0 z), ω0 = {OMEGA0}, SIREN's \
             uniform initialisation (first and hidden layers). Mask sin+relu: neurons alternate sin and relu \
             (plain initialisation). Sine first then relu: a SIREN first layer, then relu. Mixture: a learned \
             per-neuron blend of sin, relu and gelu.\n\
             - Training: full-batch Adam, {} steps (no early stopping); rate per arm chosen from {:?} on the \
             selection seeds by the validation MSE.\n\
             - Seeds: selection {:?}; scored {:?}.",
            if self.quick {
                " and the 64x64 \"shapes\" image (edges and gradients); the texture image only in the full run"
            } else {
                "; two 64x64 synthetic images, \"shapes\" (smooth gradients, sharp-edged disc, rectangle and \
                 ring) and \"texture\" (gratings of several frequencies, a checker quadrant); the pixels with odd \
                 row + column held out"
            },
            self.steps(),
            self.lr_grid(0, "relu"),
            self.selection_seeds(),
            self.scored_seeds()
        )
    }
    fn rules(&self) -> &'static str {
        "- Endpoint: PSNR (dB) of the fit on the held-out coordinates, with the signal's range as peak.\n\
- Effect: the per-seed PSNR difference arm - baseline (the best single activation on the selection seeds: \
relu, relu + Fourier features, gelu or SIREN), averaged over scored seeds per cell and then over the cells; \
95% interval by resampling scored seeds jointly across cells (10 000 resamples).\n\
- **Win**: a pooled gain of at least 1 dB with the interval's lower end above 0. **Loss**: the interval's \
upper end below 0. **No win** otherwise.\n\
- The literature's claim is tested by the same rule on SIREN - relu (pooled over the cells): *reproduced* on \
a win, *not reproduced* otherwise.\n\
- Each of the three mixes (mask sin+relu; sine first then relu; the learned mixture) is decided against \
the best single by the rule; reported as three tests, no correction (each is also shown per cell)."
    }
    fn endpoint(&self) -> Endpoint {
        Endpoint {
            name: "test PSNR (dB)",
            higher_is_better: true,
            scale: Scale::Linear,
        }
    }
    fn cells(&self) -> Vec<String> {
        let all = [
            "1-D chirp+steps+trend",
            "image shapes 64x64",
            "image texture 64x64",
        ];
        all[..if self.quick { 2 } else { 3 }]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn singles(&self, _cell: usize) -> Vec<String> {
        ARMS.iter()
            .filter(|a| a.1)
            .map(|a| a.0.to_string())
            .collect()
    }
    fn fixed(&self, _cell: usize) -> Vec<String> {
        ARMS.iter()
            .filter(|a| !a.1)
            .map(|a| a.0.to_string())
            .collect()
    }
    fn lr_grid(&self, _cell: usize, _arm: &str) -> Vec<f64> {
        if self.quick {
            vec![1e-4, 1e-3]
        } else {
            vec![1e-4, 3e-4, 1e-3]
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
    fn run(&self, cell: usize, arm: &str, lr: f64, seed: u64) -> Result<RunScore> {
        let (coords, ys) = cell_data(cell);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = if arm == "relu + Fourier features" {
            let b = DMatrix::from_fn(FOURIER_FEATURES, coords.ncols(), |_, _| {
                FOURIER_SCALE * standard_normal(&mut rng)
            });
            fourier(&coords, &b)
        } else {
            coords
        };
        let (mut train_rows, test_rows): (Vec<usize>, Vec<usize>) =
            (0..ys.len()).partition(|&r| !is_test(cell, r));
        train_rows.shuffle(&mut rng);
        let n_valid = train_rows.len() / 10;
        let (valid_rows, fit_rows) = train_rows.split_at(n_valid);
        let fit = Dataset::new(rows(&x, fit_rows), targets(&ys, fit_rows))?;
        let valid = Dataset::new(rows(&x, valid_rows), targets(&ys, valid_rows))?;
        let test_x = rows(&x, &test_rows);
        let test_y = targets(&ys, &test_rows);
        let mut net = build(arm, x.ncols(), &mut rng)?;
        let budget = Budget {
            epochs: self.steps(),
            batch: usize::MAX,
            patience: None,
            slope_recovery: 0.0,
        };
        let done = train(
            &mut net,
            (Loss::Mse, lr, seed),
            budget,
            &fit,
            None,
            |_, _| {},
        )?;
        if done.is_nan() {
            return Ok(RunScore {
                select: f64::NAN,
                endpoint: f64::NAN,
                secondary: [f64::NAN; 2],
            });
        }
        let (lo, hi) = ys
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let select = loss_on(&mut net, &valid, Loss::Mse)?;
        let endpoint = psnr(&net.predict(&test_x)?, &test_y, hi - lo)?;
        Ok(RunScore {
            select,
            endpoint: if endpoint.is_finite() {
                endpoint
            } else {
                f64::NAN
            },
            secondary: [f64::NAN; 2],
        })
    }
    fn decide(&self, effects: &[CellEffect]) -> Vec<RuleOutcome> {
        let mut out = Vec::new();
        // SIREN - relu: both against the same baseline per seed, so the
        // difference of their paired values is SIREN's PSNR minus relu's.
        let per_cell = super::analysis::between(effects, &self.cells(), "SIREN", "relu");
        let refs: Vec<&[f64]> = per_cell.iter().map(|v| v.as_slice()).collect();
        let e = super::bootstrap_stat(&refs, Statistic::Mean, 41);
        let siren = win_rule(e.as_ref());
        out.push(RuleOutcome {
            claim: "the literature's claim: SIREN - relu PSNR, pooled over the cells".into(),
            outcome: if siren == "win" {
                "reproduced"
            } else {
                "not reproduced"
            },
            estimate: e,
        });
        for arm in ARMS.iter().filter(|a| !a.1).map(|a| a.0) {
            let e = pooled(effects, Scale::Linear, Statistic::Mean, |c| c.arm == arm);
            out.push(RuleOutcome {
                claim: format!("{arm} - best single, PSNR pooled over the cells"),
                outcome: win_rule(e.as_ref()),
                estimate: e,
            });
        }
        out
    }
}

/// The inr win rule on a pooled PSNR difference in dB (see [`Inr::rules`]).
pub fn win_rule(e: Option<&Estimate>) -> &'static str {
    match e {
        Some(e) if e.seeds < crate::effect::MIN_SEEDS => "no win",
        Some(e) if e.value >= 1.0 && e.low > 0.0 => "win",
        Some(e) if e.high < 0.0 => "loss",
        _ => "no win",
    }
}
