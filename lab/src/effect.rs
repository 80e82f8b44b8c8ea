//! Effect sizes first: how much more (or less) test error a layout has than
//! its baseline, as a ratio with a confidence interval, and a verdict read
//! off that interval against a declared margin.
//!
//! The quantity is the geometric mean over paired seeds of the per-seed
//! error ratio `layout error / baseline error` (error = 1 - accuracy, or
//! MSE). Several cells of one task share their seeds (a seed fixes the split
//! in every cell), so the interval comes from a bootstrap that resamples
//! *seeds*, each carrying all its cells along: per seed, the mean log ratio
//! over the cells that ran it; then the percentile interval of the mean of
//! those per-seed values over 10 000 resamples.
//!
//! The verdict, decided before any run and applied by [`EffectVerdict::of`]:
//! - **equivalent**: the 95% interval lies inside `[1 - margin, 1 + margin]`;
//! - **better**: otherwise, the interval lies below 1;
//! - **worse**: otherwise, the interval lies above 1;
//! - **inconclusive**: anything else (the data cannot tell).
//!
//! A diverged run (no finite test error) is not dropped, which would score
//! only the runs that trained: it counts as a loss, with the worst finite
//! error of its comparison (cell) as its error; two diverged runs of one
//! seed tie (ratio 1). [`ErrorRatio::diverged`] says how many there were.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::stats::{mean_sd, normal_quantile, wilcoxon_signed_rank};
use crate::Metric;

/// The default equivalence margin: ±5% test error.
pub const DEFAULT_MARGIN: f64 = 0.05;

/// Errors below this are raised to it before a ratio is taken, so a seed
/// where both runs are perfect counts as a ratio of 1, not 0/0.
pub const ERROR_FLOOR: f64 = 1e-4;

/// The test error of a metric value: 1 - accuracy, or the MSE itself.
pub fn error_of(metric: Metric, value: f64) -> f64 {
    match metric {
        Metric::Accuracy => 1.0 - value,
        Metric::Mse => value,
    }
}

/// What the interval says, against the margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EffectVerdict {
    /// The interval lies below 1 (and not inside the margin).
    Better,
    /// The interval lies above 1 (and not inside the margin).
    Worse,
    /// The interval lies inside the margin: any difference is too small to matter.
    Equivalent,
    /// The interval reaches beyond the margin and contains 1.
    Inconclusive,
}

impl EffectVerdict {
    /// The verdict for the interval `[low, high]` of an error ratio.
    pub fn of(low: f64, high: f64, margin: f64) -> Self {
        if !(low.is_finite() && high.is_finite()) {
            EffectVerdict::Inconclusive
        } else if low >= 1.0 - margin && high <= 1.0 + margin {
            EffectVerdict::Equivalent
        } else if high < 1.0 {
            EffectVerdict::Better
        } else if low > 1.0 {
            EffectVerdict::Worse
        } else {
            EffectVerdict::Inconclusive
        }
    }

    /// The word in reports.
    pub fn label(self) -> &'static str {
        match self {
            EffectVerdict::Better => "better",
            EffectVerdict::Worse => "worse",
            EffectVerdict::Equivalent => "equivalent",
            EffectVerdict::Inconclusive => "inconclusive",
        }
    }
}

/// One cell's paired test errors: for each seed, the layout's and the baseline's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PairedCell {
    /// The seeds, one per pair.
    pub seeds: Vec<u64>,
    /// The layout's test error per seed.
    pub layout: Vec<f64>,
    /// The baseline's test error per seed.
    pub baseline: Vec<f64>,
}

/// An error ratio over one or more cells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorRatio {
    /// Geometric mean of the per-seed error ratios (below 1: the layout has less error).
    pub ratio: f64,
    /// 95% seed-bootstrap interval, low end.
    pub low: f64,
    /// 95% seed-bootstrap interval, high end.
    pub high: f64,
    /// Seeds (bootstrap units).
    pub seeds: usize,
    /// Cells pooled.
    pub cells: usize,
    /// Wilcoxon signed-rank p of the per-seed log ratios against 0.
    pub p: f64,
    /// The smallest error reduction (as a ratio below 1) a two-sided test at
    /// `alpha` detects with 80% power, from the spread of the per-seed log ratios.
    pub mde_ratio: f64,
    /// Runs with no finite test error, (layout, baseline), each counted as
    /// a loss at its cell's worst finite error.
    pub diverged: (usize, usize),
}

/// Fewer paired seeds than this give no verdict but "inconclusive": a
/// percentile bootstrap over a handful of seeds covers far less than its
/// nominal 95% (and no paired test can reach p < 0.05 below 6 pairs).
pub const MIN_SEEDS: usize = 6;

impl ErrorRatio {
    /// The verdict of this ratio's interval against `margin`
    /// ([`EffectVerdict::Inconclusive`] below [`MIN_SEEDS`] seeds).
    pub fn verdict(&self, margin: f64) -> EffectVerdict {
        if self.seeds < MIN_SEEDS {
            return EffectVerdict::Inconclusive;
        }
        EffectVerdict::of(self.low, self.high, margin)
    }
}

/// Runs with no finite error in `cells`, (layout, baseline).
fn diverged_runs(cells: &[PairedCell]) -> (usize, usize) {
    let count = |v: &Vec<f64>| v.iter().filter(|e| !e.is_finite()).count();
    cells.iter().fold((0, 0), |(l, b), c| {
        (l + count(&c.layout), b + count(&c.baseline))
    })
}

/// The per-seed mean log ratio over the cells that ran each seed, in seed
/// order; a diverged run scores its cell's worst finite error (see the
/// module page), and a cell with no finite error at all is left out.
fn per_seed_log_ratios(cells: &[PairedCell]) -> Vec<f64> {
    let mut by_seed: std::collections::BTreeMap<u64, (f64, usize)> = Default::default();
    for c in cells {
        let worst = c
            .layout
            .iter()
            .chain(&c.baseline)
            .filter(|e| e.is_finite())
            .fold(f64::NEG_INFINITY, |m, &e| m.max(e));
        if worst == f64::NEG_INFINITY {
            continue;
        }
        let scored = |e: f64| if e.is_finite() { e } else { worst };
        for ((&s, &l), &b) in c.seeds.iter().zip(&c.layout).zip(&c.baseline) {
            let r = if l.is_finite() || b.is_finite() {
                (scored(l).max(ERROR_FLOOR) / scored(b).max(ERROR_FLOOR)).ln()
            } else {
                0.0
            };
            let e = by_seed.entry(s).or_insert((0.0, 0));
            e.0 += r;
            e.1 += 1;
        }
    }
    by_seed.values().map(|(sum, n)| sum / *n as f64).collect()
}

/// Resamples of the mean of `d` (10 000, seeded), sorted.
fn resample_means(d: &[f64], seed: u64) -> Vec<f64> {
    let n = d.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| d[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    means
}

/// Bootstrap resamples behind every interval.
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// The seed-bootstrap distribution of the pooled `cells`' mean log error
/// ratio (the resamples [`error_ratio`] reads its interval from, same
/// seed, same order), sorted; `None` without a finite pair. One-sided
/// bootstrap p-values against a bound are shares of it.
pub fn bootstrap_log_ratios(cells: &[PairedCell], seed: u64) -> Option<Vec<f64>> {
    let d = per_seed_log_ratios(cells);
    (!d.is_empty()).then(|| resample_means(&d, seed))
}

/// The error ratio of the pooled `cells`, its interval (seeded: reports
/// repeat), p and minimum detectable effect at `alpha`. `None` without a
/// finite pair.
pub fn error_ratio(cells: &[PairedCell], alpha: f64, seed: u64) -> Option<ErrorRatio> {
    let d = per_seed_log_ratios(cells);
    if d.is_empty() {
        return None;
    }
    let n = d.len();
    let (mean, sd) = mean_sd(&d);
    let means = resample_means(&d, seed);
    let z = normal_quantile(1.0 - alpha / 2.0) + normal_quantile(0.8);
    Some(ErrorRatio {
        ratio: mean.exp(),
        low: means[249].exp(),
        high: means[9749].exp(),
        seeds: n,
        cells: cells.iter().filter(|c| !c.seeds.is_empty()).count(),
        p: wilcoxon_signed_rank(&d),
        mde_ratio: (-z * sd / (n as f64).sqrt()).exp(),
        diverged: diverged_runs(cells),
    })
}

/// Pools several arrangements of one layout (the same activation pair
/// interleaved, as branches, at random) into one per-seed error: their
/// geometric mean, over the seeds every arrangement ran (NaN, a diverged
/// run, when any arrangement of that seed diverged).
pub fn pool_arrangements(arrangements: &[PairedCell]) -> PairedCell {
    let Some(first) = arrangements.first() else {
        return PairedCell::default();
    };
    let mut out = PairedCell::default();
    for (i, &s) in first.seeds.iter().enumerate() {
        let mut log_sum = 0.0;
        let mut all = true;
        for a in arrangements {
            match a.seeds.iter().position(|&t| t == s) {
                Some(j) if a.layout[j].is_finite() => log_sum += a.layout[j].max(ERROR_FLOOR).ln(),
                Some(_) => log_sum = f64::NAN,
                None => all = false,
            }
        }
        if all {
            out.seeds.push(s);
            out.layout.push((log_sum / arrangements.len() as f64).exp());
            out.baseline.push(first.baseline[i]);
        }
    }
    out
}
