//! Per-fold metrics of a cross-validation summarised as mean ± sd.

use std::fmt;

use crate::error::{Error, Result};
use crate::train::metrics::Metrics;

/// The mean and sample standard deviation (n - 1 in the denominator) of one
/// metric over the folds that have it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSd {
    /// The mean.
    pub mean: f64,
    /// The sample standard deviation (0 for a single value).
    pub sd: f64,
    /// How many folds had the metric.
    pub n: usize,
}

impl MeanSd {
    /// The summary of `values`, or `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(MeanSd {
            mean,
            sd: var.sqrt(),
            n,
        })
    }
}

impl fmt::Display for MeanSd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.4} ± {:.4}", self.mean, self.sd)
    }
}

/// Each metric of [`Metrics`] over the folds of a cross-validation.
///
/// # Example
/// ```
/// use mixact::prelude::*;
/// use mixact::{evaluate, Adam, FitConfig, Loss, Trainer};
/// use mixact::metrics::FoldSummary;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let data = mixact::data::two_spirals::<f32, _>(60, 1.0, 0.05, &mut rng)?;
/// let mut per_fold = Vec::new();
/// for fold in data.kfold_stratified(4, 7)? {
///     let fold = fold?;
///     let mut net: Network<Act> = Network::new(vec![
///         Dense::new(2, 16, Act::Tanh, &mut rng)?.into(),
///         Dense::new(16, 1, Act::Identity, &mut rng)?.into(),
///     ])?;
///     let config = FitConfig { epochs: 5, batch_size: 16, seed: 1, shuffle: true };
///     Trainer::new(Loss::BceWithLogits, Adam::new(0.01)?, config)?.fit(&mut net, &fold.train)?;
///     per_fold.push(evaluate(&mut net, &fold.test, Loss::BceWithLogits)?);
/// }
/// let summary = FoldSummary::of(&per_fold)?;
/// println!("{summary}"); // loss 0.6... ± 0.0..., accuracy ... (4 folds)
/// assert_eq!(summary.folds, 4);
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldSummary {
    /// The number of folds summarised.
    pub folds: usize,
    /// Mean loss per sample.
    pub loss: MeanSd,
    /// Accuracy, for classification losses.
    pub accuracy: Option<MeanSd>,
    /// Root mean squared error, for regression.
    pub rmse: Option<MeanSd>,
    /// Mean absolute error, for regression.
    pub mae: Option<MeanSd>,
    /// R², over the folds whose test targets were not constant.
    pub r2: Option<MeanSd>,
}

impl FoldSummary {
    /// The summary of one [`Metrics`] per fold.
    ///
    /// # Errors
    /// [`Error::Empty`] for no folds.
    pub fn of(per_fold: &[Metrics]) -> Result<Self> {
        let pick = |f: fn(&Metrics) -> Option<f64>| {
            MeanSd::of(&per_fold.iter().filter_map(f).collect::<Vec<_>>())
        };
        let loss = pick(|m| Some(m.loss)).ok_or(Error::Empty {
            what: "per-fold metrics",
        })?;
        Ok(FoldSummary {
            folds: per_fold.len(),
            loss,
            accuracy: pick(|m| m.accuracy),
            rmse: pick(|m| m.rmse),
            mae: pick(|m| m.mae),
            r2: pick(|m| m.r2),
        })
    }
}

impl fmt::Display for FoldSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loss {}", self.loss)?;
        for (name, m) in [
            ("accuracy", self.accuracy),
            ("RMSE", self.rmse),
            ("MAE", self.mae),
            ("R²", self.r2),
        ] {
            if let Some(m) = m {
                write!(f, ", {name} {m}")?;
            }
        }
        write!(f, " ({} folds)", self.folds)
    }
}
