//! What a fit is asked to do ([`FitConfig`]) and what each epoch reports.

use crate::train::metrics::Metrics;

/// How to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// Samples per step (the last batch of an epoch may be smaller; any
    /// size at least the data set's is full-batch training).
    pub batch_size: usize,
    /// Seeds the shuffling (ChaCha8, a fixed algorithm: the same seed gives the
    /// same batch order on every platform and across dependency updates).
    pub seed: u64,
    /// Shuffle the samples at the start of every epoch.
    pub shuffle: bool,
}

impl FitConfig {
    /// Full-batch training: every step sees the whole data set, in its
    /// order (one step per epoch, nothing to shuffle), as in the
    /// physics-informed and signal-fitting work where a data set is a few
    /// thousand points.
    ///
    /// ```
    /// use mixact::FitConfig;
    /// let config = FitConfig::full_batch(2000);
    /// assert_eq!((config.batch_size, config.shuffle), (usize::MAX, false));
    /// ```
    pub fn full_batch(epochs: usize) -> Self {
        FitConfig {
            epochs,
            batch_size: usize::MAX,
            seed: 0,
            shuffle: false,
        }
    }
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 100,
            batch_size: 32,
            seed: 0,
            shuffle: true,
        }
    }
}

/// What the fit loop reports after each epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// 0-based epoch, counted over every `fit` of the trainer.
    pub epoch: usize,
    /// Training metrics, accumulated over the epoch's batches (each batch
    /// measured before its update).
    pub train: Metrics,
    /// Metrics on the validation set after the epoch, when the trainer has
    /// one ([`Trainer::with_validation`](crate::Trainer::with_validation)).
    pub valid: Option<Metrics>,
    /// The learning rate the epoch ran with.
    pub learning_rate: f64,
}

/// Whether the fit loop should go on after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop now (early stopping).
    Stop,
}
