//! Early stopping: which score to watch, how long to wait, and the best
//! epoch's weights kept to be put back.

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::layers::layer::Layer;
use crate::layers::tensor_id::TensorId;
use crate::train::loss::Loss;
use crate::train::optim::Optimizer;

use super::{EpochStats, Trainer};

/// What early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitor {
    /// Validation loss (lower is better).
    ValidLoss,
    /// Validation accuracy (higher is better).
    ValidAccuracy,
    /// Validation RMSE (lower is better).
    ValidRmse,
    /// Training loss (lower is better), when there is no validation set.
    TrainLoss,
}

impl Monitor {
    /// Why this monitor can never be measured in a fit with `loss` and
    /// (or without) a validation set; `None` when it can.
    pub(super) fn unmeasurable(self, loss: Loss, has_validation: bool) -> Option<String> {
        let needs_validation = match self {
            Monitor::ValidLoss | Monitor::ValidAccuracy | Monitor::ValidRmse => true,
            Monitor::TrainLoss => false,
        };
        if needs_validation && !has_validation {
            return Some(format!(
                "{self:?} needs a validation set (Trainer::with_validation); without one, watch TrainLoss"
            ));
        }
        match self {
            Monitor::ValidAccuracy if !loss.has_accuracy() => Some(format!(
                "{} has no accuracy; watch ValidLoss or ValidRmse",
                loss.name()
            )),
            Monitor::ValidRmse if !loss.is_regression() => Some(format!(
                "{} is a classification loss, RMSE is not measured; watch ValidLoss or ValidAccuracy",
                loss.name()
            )),
            _ => None,
        }
    }

    /// The watched value on a higher-is-better scale, if the epoch has it.
    pub(super) fn score(self, s: &EpochStats) -> Option<f64> {
        match self {
            Monitor::ValidLoss => s.valid.map(|v| -v.loss),
            Monitor::ValidAccuracy => s.valid.and_then(|v| v.accuracy),
            Monitor::ValidRmse => s.valid.and_then(|v| v.rmse).map(|r| -r),
            Monitor::TrainLoss => Some(-s.train.loss),
        }
    }
}

/// Stop when the monitored value has not improved for `patience` epochs,
/// and (unless told otherwise) give back the weights of the best epoch.
///
/// The fields are private so that a rule is valid from the moment it
/// exists: [`with_min_delta`](Self::with_min_delta) refuses a NaN or
/// negative threshold, which would otherwise stop a fit after `patience`
/// epochs without saying why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    min_delta: f64,
    restore_best: bool,
}

impl EarlyStopping {
    /// Watch `monitor` with `patience`, restoring the best weights, with
    /// any improvement counting (`min_delta` 0).
    pub fn new(monitor: Monitor, patience: usize) -> Self {
        EarlyStopping {
            monitor,
            patience,
            min_delta: 0.0,
            restore_best: true,
        }
    }

    /// Only an improvement of more than `min_delta` counts.
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) unless
    /// `min_delta` is finite and at least 0.
    pub fn with_min_delta(mut self, min_delta: f64) -> crate::Result<Self> {
        crate::error::check_hyper(
            "early stopping min_delta",
            min_delta,
            min_delta.is_finite() && min_delta >= 0.0,
            "finite and >= 0",
        )?;
        self.min_delta = min_delta;
        Ok(self)
    }

    /// Whether the best epoch's weights are put back when training ends
    /// (default `true`).
    pub fn with_restore_best(mut self, restore: bool) -> Self {
        self.restore_best = restore;
        self
    }

    /// What is watched.
    pub fn monitor(&self) -> Monitor {
        self.monitor
    }

    /// Epochs without an improvement before stopping.
    pub fn patience(&self) -> usize {
        self.patience
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(&self) -> f64 {
        self.min_delta
    }

    /// Whether the best epoch's weights are put back.
    pub fn restore_best(&self) -> bool {
        self.restore_best
    }
}

/// Early stopping's memory across epochs: the best score, when, and the
/// weights then, for the network whose tensors `ids` names (a fit of another
/// network starts afresh).
#[derive(Debug, Default)]
pub(super) struct BestSoFar<T> {
    pub(super) ids: Vec<TensorId>,
    pub(super) score: Option<f64>,
    pub(super) epoch: usize,
    pub(super) waited: usize,
    pub(super) weights: Vec<Vec<T>>,
}

impl<T: Real, O: Optimizer<T>> Trainer<T, O> {
    /// Early stopping's bookkeeping after an epoch; true when it says stop.
    pub(super) fn watch<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        stats: &EpochStats,
    ) -> bool {
        let Some(rule) = self.early_stopping else {
            return false;
        };
        let Some(score) = rule.monitor.score(stats) else {
            return false;
        };
        let improved = self
            .best
            .score
            .is_none_or(|best| score > best + rule.min_delta());
        if improved {
            self.best.score = Some(score);
            self.best.epoch = stats.epoch;
            self.best.waited = 0;
            if rule.restore_best {
                let mut k = 0;
                let weights = &mut self.best.weights;
                net.visit_params(&mut |p| {
                    if weights.len() <= k {
                        weights.push(Vec::new());
                    }
                    weights[k].clear();
                    weights[k].extend_from_slice(p.value);
                    k += 1;
                });
                weights.truncate(k);
            }
            false
        } else {
            self.best.waited += 1;
            self.best.waited > rule.patience
        }
    }

    /// Puts back the best epoch's weights, when early stopping keeps them.
    pub(super) fn restore_best<A: ActivationSet, L: Layer<A, T> + ?Sized>(&mut self, net: &mut L) {
        let keep = self.early_stopping.is_some_and(|r| r.restore_best);
        if !keep || self.best.score.is_none() || self.best.epoch + 1 == self.epochs_done {
            return;
        }
        let mut k = 0;
        let mut matches = true;
        net.visit_params(&mut |p| {
            matches &= self
                .best
                .weights
                .get(k)
                .is_some_and(|w| w.len() == p.value.len());
            k += 1;
        });
        if !matches || k != self.best.weights.len() {
            return;
        }
        let mut k = 0;
        let weights = &self.best.weights;
        net.visit_params(&mut |p| {
            p.value.copy_from_slice(&weights[k]);
            k += 1;
        });
        // The rollback copy belongs to the last update, not to these weights.
        self.states.forget_backup();
    }
}
