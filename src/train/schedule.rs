//! Learning-rate schedules: the rate for each epoch, from the base rate and
//! what the previous epochs measured.

use crate::error::{check_hyper, Result};
use crate::train::trainer::EpochStats;

/// A learning-rate schedule: the rate of `epoch` (0-based, counted over
/// every `fit` of the trainer), given the optimiser's base rate and the
/// statistics of the epoch before (`None` for the first).
pub trait Schedule: Send {
    /// The learning rate for `epoch`.
    fn learning_rate(&mut self, epoch: usize, base: f64, previous: Option<&EpochStats>) -> f64;

    /// Checks the settings; the trainer calls it before a fit's first epoch,
    /// so that a schedule of your own with bad settings fails at once, not
    /// mid-training. (The built-in schedules are checked when made: their
    /// constructors return `Result` and their fields are private.)
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) naming the bad setting.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// `base · gamma^⌊epoch / every⌋`: the rate drops by `gamma` every `every` epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDecay {
    every: usize,
    gamma: f64,
}

impl StepDecay {
    /// Drops the rate by `gamma` every `every` epochs.
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) unless
    /// `every >= 1` and `0 < gamma <= 1`.
    pub fn new(every: usize, gamma: f64) -> Result<Self> {
        let s = StepDecay { every, gamma };
        s.validate()?;
        Ok(s)
    }

    /// Epochs between drops.
    pub fn every(&self) -> usize {
        self.every
    }

    /// The factor of each drop.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

impl Schedule for StepDecay {
    fn learning_rate(&mut self, epoch: usize, base: f64, _: Option<&EpochStats>) -> f64 {
        let drops = (epoch / self.every.max(1)).min(i32::MAX as usize) as i32;
        base * self.gamma.powi(drops)
    }

    fn validate(&self) -> Result<()> {
        check_hyper(
            "StepDecay every",
            self.every as f64,
            self.every >= 1,
            ">= 1",
        )?;
        check_hyper(
            "StepDecay gamma",
            self.gamma,
            self.gamma > 0.0 && self.gamma <= 1.0,
            "in (0, 1]",
        )
    }
}

/// Cosine annealing: `min + (base - min) · (1 + cos(π · t / epochs)) / 2`
/// with `t = min(epoch, epochs)`, then `min`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosine {
    epochs: usize,
    min_lr: f64,
}

impl Cosine {
    /// Anneals from the base rate to `min_lr` over `epochs` epochs.
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) unless
    /// `epochs >= 1` and `min_lr` is finite and > 0 (optimisers refuse a rate
    /// of 0, so a floor of 0 would fail the first epoch after `epochs`).
    pub fn new(epochs: usize, min_lr: f64) -> Result<Self> {
        let s = Cosine { epochs, min_lr };
        s.validate()?;
        Ok(s)
    }

    /// Epochs from the base rate down to the floor.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// The rate at the end.
    pub fn min_lr(&self) -> f64 {
        self.min_lr
    }
}

impl Schedule for Cosine {
    fn learning_rate(&mut self, epoch: usize, base: f64, _: Option<&EpochStats>) -> f64 {
        let t = epoch.min(self.epochs) as f64 / self.epochs.max(1) as f64;
        self.min_lr + (base - self.min_lr) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
    }

    fn validate(&self) -> Result<()> {
        check_hyper(
            "Cosine epochs",
            self.epochs as f64,
            self.epochs >= 1,
            ">= 1",
        )?;
        check_hyper(
            "Cosine min_lr",
            self.min_lr,
            self.min_lr > 0.0,
            "finite and > 0",
        )
    }
}

/// Multiplies the rate by `factor` when the watched loss (validation if
/// there is a validation set, else training) has not improved for
/// `patience` epochs; never below `min_lr`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReduceOnPlateau {
    factor: f64,
    patience: usize,
    min_lr: f64,
    best: f64,
    waited: usize,
    scale: f64,
}

impl ReduceOnPlateau {
    /// A plateau schedule with the given factor, patience and floor.
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) unless
    /// `0 < factor < 1` (10 would raise the rate at every plateau) and
    /// `min_lr` is finite and >= 0.
    pub fn new(factor: f64, patience: usize, min_lr: f64) -> Result<Self> {
        let s = ReduceOnPlateau {
            factor,
            patience,
            min_lr,
            best: f64::INFINITY,
            waited: 0,
            scale: 1.0,
        };
        s.validate()?;
        Ok(s)
    }

    /// The factor of each reduction.
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// Epochs without improvement before a reduction.
    pub fn patience(&self) -> usize {
        self.patience
    }

    /// The floor.
    pub fn min_lr(&self) -> f64 {
        self.min_lr
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

    fn validate(&self) -> Result<()> {
        check_hyper(
            "ReduceOnPlateau factor",
            self.factor,
            self.factor > 0.0 && self.factor < 1.0,
            "in (0, 1)",
        )?;
        check_hyper(
            "ReduceOnPlateau min_lr",
            self.min_lr,
            self.min_lr >= 0.0,
            "finite and >= 0",
        )
    }
}
