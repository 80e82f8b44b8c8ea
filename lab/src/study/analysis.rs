//! Effects of each arm against its cell's baseline, paired by seed, with
//! seed-bootstrap intervals, pooled over cells by a mean or a median.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{CellRecord, Endpoint, Scale, Study};
use crate::effect::BOOTSTRAP_RESAMPLES;

/// How per-cell effects combine into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    /// The mean over cells.
    Mean,
    /// The median over cells.
    Median,
}

impl Statistic {
    fn of(self, v: &mut [f64]) -> f64 {
        match self {
            Statistic::Mean => v.iter().sum::<f64>() / v.len() as f64,
            Statistic::Median => {
                v.sort_by(f64::total_cmp);
                let n = v.len();
                if n % 2 == 1 {
                    v[n / 2]
                } else {
                    0.5 * (v[n / 2 - 1] + v[n / 2])
                }
            }
        }
    }
}

/// An effect and its 95% interval, in the endpoint's reporting unit: a
/// ratio (arm / baseline) for [`Scale::Log`], a difference for
/// [`Scale::Linear`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The point estimate.
    pub value: f64,
    /// 95% interval, low end.
    pub low: f64,
    /// 95% interval, high end.
    pub high: f64,
    /// Paired seeds behind it.
    pub seeds: usize,
    /// Cells pooled.
    pub cells: usize,
}

/// One arm against its cell's baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct CellEffect {
    /// The cell.
    pub cell: String,
    /// The arm.
    pub arm: String,
    /// The cell's baseline (the best single on the selection seeds).
    pub baseline: String,
    /// The arm's chosen learning rate.
    pub lr: f64,
    /// Per scored seed (in seed order), `ln(arm / baseline)` or `arm - baseline`.
    pub paired: Vec<f64>,
    /// The arm's mean endpoint over the scored seeds (finite runs).
    pub arm_mean: f64,
    /// The baseline's.
    pub baseline_mean: f64,
    /// Scored runs with no finite endpoint, (arm, baseline).
    pub diverged: (usize, usize),
    /// The effect in this cell alone.
    pub estimate: Estimate,
}

/// The bootstrap of `stat` over cells of the per-cell mean paired values:
/// seeds are resampled jointly (a seed carries all its cells), 10 000
/// times, seeded so that reports repeat. The cells' vectors must be aligned
/// by seed. The result is in the paired values' own unit (log or linear).
pub fn bootstrap_stat(cells: &[&[f64]], stat: Statistic, seed: u64) -> Option<Estimate> {
    let n = cells.iter().map(|c| c.len()).min()?;
    if n == 0 {
        return None;
    }
    let point = {
        let mut m: Vec<f64> = cells
            .iter()
            .map(|c| c[..n].iter().sum::<f64>() / n as f64)
            .collect();
        stat.of(&mut m)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = vec![0usize; n];
    let mut per_cell = vec![0.0; cells.len()];
    let mut draws: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            for i in idx.iter_mut() {
                *i = rng.random_range(0..n);
            }
            for (m, c) in per_cell.iter_mut().zip(cells) {
                *m = idx.iter().map(|&i| c[i]).sum::<f64>() / n as f64;
            }
            stat.of(&mut per_cell.clone())
        })
        .collect();
    draws.sort_by(f64::total_cmp);
    let k = BOOTSTRAP_RESAMPLES / 40;
    Some(Estimate {
        value: point,
        low: draws[k - 1],
        high: draws[BOOTSTRAP_RESAMPLES - k - 1],
        seeds: n,
        cells: cells.len(),
    })
}

/// Maps an estimate in paired units to the reporting unit.
pub(crate) fn to_report_unit(e: Estimate, scale: Scale) -> Estimate {
    match scale {
        Scale::Log => Estimate {
            value: e.value.exp(),
            low: e.low.exp(),
            high: e.high.exp(),
            ..e
        },
        Scale::Linear => e,
    }
}

/// The paired values of `arm` against `base` over the seeds both ran; a
/// run with no finite endpoint scores the cell's worst finite value (a
/// diverged run is a loss, not a dropped seed); two such runs tie.
fn paired(arm: &[(u64, f64)], base: &[(u64, f64)], worst: f64, endpoint: Endpoint) -> Vec<f64> {
    let mut out = Vec::new();
    for &(s, a) in arm {
        let Some(&(_, b)) = base.iter().find(|(t, _)| *t == s) else {
            continue;
        };
        if !a.is_finite() && !b.is_finite() {
            out.push(0.0);
            continue;
        }
        let fix = |v: f64| if v.is_finite() { v } else { worst };
        let (a, b) = (fix(a), fix(b));
        out.push(match endpoint.scale {
            Scale::Log => (a.max(1e-12) / b.max(1e-12)).ln(),
            Scale::Linear => a - b,
        });
    }
    out
}

fn finite_mean(v: &[(u64, f64)]) -> f64 {
    let f: Vec<f64> = v.iter().map(|p| p.1).filter(|x| x.is_finite()).collect();
    f.iter().sum::<f64>() / f.len().max(1) as f64
}

/// Every scored arm of every cell against the cell's baseline (the
/// baseline itself excluded), in cell and arm order.
pub fn cell_effects(study: &dyn Study, records: &[CellRecord]) -> Vec<CellEffect> {
    let endpoint = study.endpoint();
    let mut out = Vec::new();
    for rec in records {
        let singles = study.singles(rec.index);
        let Some(baseline) = rec.ranking(&singles).into_iter().next() else {
            continue;
        };
        let rates = rec.chosen_rates();
        let values = |arm: &str| -> Vec<(u64, f64)> {
            rec.scored(arm)
                .into_iter()
                .map(|r| (r.seed, r.score.endpoint))
                .collect()
        };
        let all: Vec<f64> = rec
            .rows
            .iter()
            .filter(|r| r.stage == super::Stage::Scored && r.score.endpoint.is_finite())
            .map(|r| r.score.endpoint)
            .collect();
        let worst = if endpoint.higher_is_better {
            all.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            all.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        };
        let base = values(&baseline);
        for arm in rec.scored_arms().into_iter().filter(|a| *a != baseline) {
            let mine = values(&arm);
            let d = paired(&mine, &base, worst, endpoint);
            let Some(e) = bootstrap_stat(&[&d], Statistic::Mean, 17) else {
                continue;
            };
            let count = |v: &[(u64, f64)]| v.iter().filter(|p| !p.1.is_finite()).count();
            out.push(CellEffect {
                cell: rec.cell.clone(),
                lr: rates.get(&arm).copied().unwrap_or(f64::NAN),
                arm_mean: finite_mean(&mine),
                baseline_mean: finite_mean(&base),
                diverged: (count(&mine), count(&base)),
                estimate: to_report_unit(e, endpoint.scale),
                arm,
                baseline: baseline.clone(),
                paired: d,
            });
        }
    }
    out
}

/// Per cell (in `cells` order, cells lacking either arm left out), the
/// per-seed paired values of arm `a` against arm `b`: both were paired
/// with the same baseline on the same seeds, so the difference of their
/// paired values is `ln(a / b)` (or `a - b`). An arm that is the cell's
/// baseline has paired values 0.
pub fn between(effects: &[CellEffect], cells: &[String], a: &str, b: &str) -> Vec<Vec<f64>> {
    cells
        .iter()
        .filter_map(|c| {
            let any = effects.iter().find(|e| &e.cell == c)?;
            let get = |arm: &str| -> Option<Vec<f64>> {
                match effects.iter().find(|e| &e.cell == c && e.arm == arm) {
                    Some(e) => Some(e.paired.clone()),
                    None if any.baseline == arm => Some(vec![0.0; any.paired.len()]),
                    None => None,
                }
            };
            let (x, y) = (get(a)?, get(b)?);
            Some(x.iter().zip(&y).map(|(p, q)| p - q).collect())
        })
        .collect()
}

/// The pooled effect of the arms `keep` selects, one per cell, by `stat`,
/// in the reporting unit.
pub fn pooled(
    effects: &[CellEffect],
    scale: Scale,
    stat: Statistic,
    keep: impl Fn(&CellEffect) -> bool,
) -> Option<Estimate> {
    let cells: Vec<&[f64]> = effects
        .iter()
        .filter(|e| keep(e))
        .map(|e| e.paired.as_slice())
        .collect();
    bootstrap_stat(&cells, stat, 29).map(|e| to_report_unit(e, scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_shift_gives_a_point_interval() {
        let d = [0.5; 10];
        let e = bootstrap_stat(&[&d[..]], Statistic::Mean, 1).unwrap();
        assert_eq!((e.value, e.low, e.high, e.seeds), (0.5, 0.5, 0.5, 10));
    }

    #[test]
    fn the_median_over_cells_ignores_one_extreme_cell() {
        let (a, b, c) = ([0.1; 8], [0.2; 8], [9.0; 8]);
        let e = bootstrap_stat(&[&a[..], &b[..], &c[..]], Statistic::Median, 1).unwrap();
        assert!((e.value - 0.2).abs() < 1e-12);
    }

    #[test]
    fn the_interval_covers_the_mean_of_noisy_pairs() {
        let d: Vec<f64> = (0..40)
            .map(|i| if i % 2 == 0 { 1.0 } else { -0.5 })
            .collect();
        let e = bootstrap_stat(&[&d[..]], Statistic::Mean, 3).unwrap();
        assert!(e.low < 0.25 && 0.25 < e.high && e.low > -0.5 && e.high < 1.0);
    }
}
