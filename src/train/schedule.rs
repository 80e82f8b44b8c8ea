//! Learning-rate schedules: the rate for each epoch, from the base rate and
//! what the previous epochs measured.

use crate::train::trainer::EpochStats;

/// A learning-rate schedule: the rate of `epoch` (0-based, counted over
/// every `fit` of the trainer), given the optimiser's base rate and the
/// statistics of the epoch before (`None` for the first).
pub trait Schedule: Send {
    /// The learning rate for `epoch`.
    fn learning_rate(&mut self, epoch: usize, base: f64, previous: Option<&EpochStats>) -> f64;
}

/// `base · gamma^⌊epoch / every⌋`: the rate drops by `gamma` every `every` epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDecay {
    /// Epochs between drops (at least 1).
    pub every: usize,
    /// The factor of each drop.
    pub gamma: f64,
}

impl Schedule for StepDecay {
    fn learning_rate(&mut self, epoch: usize, base: f64, _: Option<&EpochStats>) -> f64 {
        base * self.gamma.powi((epoch / self.every.max(1)) as i32)
    }
}

/// Cosine annealing: `min + (base - min) · (1 + cos(π · t / epochs)) / 2`
/// with `t = min(epoch, epochs)`, then `min`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosine {
    /// Epochs from the base rate down to `min_lr`.
    pub epochs: usize,
    /// The rate at the end.
    pub min_lr: f64,
}

impl Schedule for Cosine {
    fn learning_rate(&mut self, epoch: usize, base: f64, _: Option<&EpochStats>) -> f64 {
        let t = epoch.min(self.epochs) as f64 / self.epochs.max(1) as f64;
        self.min_lr + (base - self.min_lr) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
    }
}

/// Multiplies the rate by `factor` when the watched loss (validation if
/// there is a validation set, else training) has not improved for
/// `patience` epochs; never below `min_lr`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReduceOnPlateau {
    /// The factor of each reduction (in (0, 1)).
    pub factor: f64,
    /// Epochs without improvement before a reduction.
    pub patience: usize,
    /// The floor.
    pub min_lr: f64,
    best: f64,
    waited: usize,
    scale: f64,
}

impl ReduceOnPlateau {
    /// A plateau schedule with the given factor, patience and floor.
    pub fn new(factor: f64, patience: usize, min_lr: f64) -> Self {
        ReduceOnPlateau {
            factor,
            patience,
            min_lr,
            best: f64::INFINITY,
            waited: 0,
            scale: 1.0,
        }
    }
}

impl Schedule for ReduceOnPlateau {
    fn learning_rate(&mut self, _epoch: usize, base: f64, previous: Option<&EpochStats>) -> f64 {
        if let Some(s) = previous {
            let watched = s.valid.map_or(s.train.loss, |v| v.loss);
            if watched < self.best {
                self.best = watched;
                self.waited = 0;
            } else {
                self.waited += 1;
                if self.waited > self.patience {
                    self.scale *= self.factor;
                    self.waited = 0;
                }
            }
        }
        (base * self.scale).max(self.min_lr)
    }
}
