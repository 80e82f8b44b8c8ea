//! The training every study shares: Adam at a given rate, mini-batch or
//! full-batch, with early stopping on validation data when the study has
//! them; a divergence is a result (NaN scores), not an error.

use mixact::prelude::*;
use mixact::{Control, EarlyStopping, EpochStats, Error, Monitor, Result};

/// How one run trains.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Epochs at most.
    pub epochs: usize,
    /// Batch size (`usize::MAX`: full batch).
    pub batch: usize,
    /// Early-stopping patience on the validation loss (needs validation data).
    pub patience: Option<usize>,
    /// Jagtap's slope-recovery weight (0: off).
    pub slope_recovery: f64,
}

/// Trains `net` on `train` with `loss` and Adam at `lr` (the batch order from `seed`); returns the fitted network's
/// loss on `valid` (or on `train` without validation data), NaN when the
/// run diverged. `on_epoch` sees each epoch's statistics.
pub(crate) fn train(
    net: &mut Network<Act, f32>,
    (loss, lr, seed): (Loss, f64, u64),
    budget: Budget,
    train: &Dataset<f32>,
    valid: Option<&Dataset<f32>>,
    mut on_epoch: impl FnMut(&EpochStats, &Network<Act, f32>),
) -> Result<f64> {
    let config = FitConfig {
        epochs: budget.epochs,
        batch_size: budget.batch,
        seed,
        shuffle: budget.batch < train.len(),
    };
    let mut trainer: Trainer<f32, Adam<f32>> = Trainer::new(loss, Adam::new(lr as f32)?, config)?;
    if budget.slope_recovery > 0.0 {
        trainer = trainer.with_slope_recovery(budget.slope_recovery)?;
    }
    if let Some(v) = valid {
        trainer = trainer.with_validation(v.clone());
        if let Some(p) = budget.patience {
            trainer = trainer.with_early_stopping(EarlyStopping::new(Monitor::ValidLoss, p));
        }
    }
    let fitted = trainer.fit_with(net, train, |s, n| {
        on_epoch(s, n);
        Control::Continue
    });
    match fitted {
        Ok(_) => {
            let data = valid.unwrap_or(train);
            let m = evaluate(net, data, loss)?;
            Ok(if m.loss.is_finite() { m.loss } else { f64::NAN })
        }
        Err(Error::Diverged { .. }) => Ok(f64::NAN),
        Err(e) => Err(e),
    }
}

/// The loss of `net` on `data`, NaN when not finite.
pub(crate) fn loss_on(net: &mut Network<Act, f32>, data: &Dataset<f32>, loss: Loss) -> Result<f64> {
    let m = evaluate(net, data, loss)?;
    Ok(if m.loss.is_finite() { m.loss } else { f64::NAN })
}

/// A standard normal draw (Box-Muller), so the studies need no
/// distribution crate.
pub(crate) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
