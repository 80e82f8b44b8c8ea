//! The fit loop: seeded shuffling, mini-batches, per-epoch metrics; its
//! configuration, early stopping, divergence guard and evaluation live in
//! the files beside this one.

mod config;
mod divergence_guard;
mod early_stopping;
mod evaluate;
mod lane_hooks;

pub use config::{Control, EpochStats, FitConfig};
use early_stopping::BestSoFar;
pub use early_stopping::{EarlyStopping, Monitor};
pub use evaluate::evaluate;
pub(crate) use evaluate::{check_data, gather_rows};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::{Buf, MatRef};
use crate::compute::pool::on_pool_if_large;
use crate::compute::real::Real;
use crate::data::split::shuffle;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::layers::layer::Layer;
use crate::layers::tree::set_training;
use crate::train::loss::Loss;
use crate::train::metrics::MetricSums;
use crate::train::optim::{Optimizer, ParamStates};
use crate::train::schedule::Schedule;

/// Trains a network: owns the loss, the optimiser, the shuffling RNG and
/// every buffer a step needs, so that steps after the first allocate nothing.
///
/// # Example
/// ```
/// use mixact::{data, mask, Act, Dense, FitConfig, Loss, Network, Sgd, Trainer};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(3);
/// let mut net: Network<Act> = Network::new(vec![
///     Dense::per_neuron(2, &mask::pattern(&[Act::Tanh, Act::Relu], 8)?, &mut rng)?.into(),
///     Dense::new(8, 1, Act::Identity, &mut rng)?.into(),
/// ])?;
/// let config = FitConfig { epochs: 500, batch_size: 4, seed: 3, shuffle: true };
/// let mut trainer = Trainer::new(Loss::BceWithLogits, Sgd::new(0.1)?.with_momentum(0.9)?, config)?;
/// let history = trainer.fit(&mut net, &data::xor())?;
/// assert_eq!(history.last().unwrap().train.accuracy, Some(1.0));
/// # Ok::<(), mixact::Error>(())
/// ```
pub struct Trainer<T: Real, O> {
    loss: Loss,
    optimizer: O,
    config: FitConfig,
    rng: ChaCha8Rng,
    order: Vec<usize>,
    xb: Buf<T>,
    yb: Buf<T>,
    grad: Vec<T>,
    epoch: usize,
    step_in_epoch: usize,
    states: ParamStates<T>,
    divergence_factor: f64,
    /// Weight of Jagtap's slope-recovery term (0: off).
    slope_recovery: f64,
    /// The loss of the first batch this trainer saw, before any update.
    reference_loss: Option<f64>,
    /// Epochs run over all fits so far.
    epochs_done: usize,
    validation: Option<Dataset<T>>,
    early_stopping: Option<EarlyStopping>,
    best: BestSoFar<T>,
    schedule: Option<Box<dyn Schedule>>,
    /// The optimiser's learning rate before any schedule changed it.
    base_lr: Option<f64>,
    last_stats: Option<EpochStats>,
}

impl<T: Real, O: Optimizer<T>> Trainer<T, O> {
    /// The default [`Trainer::with_divergence_factor`]: a loss a million times
    /// the first batch's loss is divergence, not training.
    pub const DEFAULT_DIVERGENCE_FACTOR: f64 = 1e6;

    /// A trainer with `loss`, `optimizer` and `config`.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] for `batch_size == 0`.
    pub fn new(loss: Loss, optimizer: O, config: FitConfig) -> Result<Self> {
        if config.batch_size == 0 {
            return Err(Error::ZeroWidth { what: "batch size" });
        }
        Ok(Trainer {
            loss,
            optimizer,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            order: Vec::new(),
            xb: Buf::new(),
            yb: Buf::new(),
            grad: Vec::new(),
            epoch: 0,
            step_in_epoch: 0,
            states: ParamStates::new(),
            divergence_factor: Self::DEFAULT_DIVERGENCE_FACTOR,
            slope_recovery: 0.0,
            reference_loss: None,
            epochs_done: 0,
            validation: None,
            early_stopping: None,
            best: BestSoFar::default(),
            schedule: None,
            base_lr: None,
            last_stats: None,
        })
    }

    /// Measures `data` after every epoch (`EpochStats::valid`); early
    /// stopping and plateau schedules can watch it.
    pub fn with_validation(mut self, data: Dataset<T>) -> Self {
        self.validation = Some(data);
        self
    }

    /// Stops training when the watched metric stops improving (see [`EarlyStopping`]).
    pub fn with_early_stopping(mut self, rule: EarlyStopping) -> Self {
        self.early_stopping = Some(rule);
        self
    }

    /// Sets the learning rate of every epoch by `schedule`, from the
    /// optimiser's rate at the first epoch.
    pub fn with_schedule(mut self, schedule: impl Schedule + 'static) -> Self {
        self.schedule = Some(Box::new(schedule));
        self
    }

    /// The epoch of the best monitored score so far (with early stopping).
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.score.map(|_| self.best.epoch)
    }

    /// Sets the divergence guard's growth factor: a batch loss above `factor`
    /// times the loss of the first batch this trainer saw (floored at 1e-8)
    /// counts as divergence. Default [`Self::DEFAULT_DIVERGENCE_FACTOR`] (1e6);
    /// `f64::INFINITY` turns the growth check off (non-finite losses,
    /// gradients and parameters are always caught).
    ///
    /// # Errors
    /// [`Error::HyperParameter`] unless `factor > 1` (infinity allowed).
    pub fn with_divergence_factor(mut self, factor: f64) -> Result<Self> {
        if factor.is_nan() || factor <= 1.0 {
            return Err(Error::HyperParameter {
                name: "divergence factor",
                value: factor,
                requirement: "> 1 (or infinity)",
            });
        }
        self.divergence_factor = factor;
        Ok(self)
    }

    /// Adds `weight ×` Jagtap's slope-recovery term to the loss every step
    /// ([`tree::slope_recovery`](crate::tree::slope_recovery)), for networks
    /// with adaptive slopes ([`Slope::adaptive`](crate::Slope::adaptive));
    /// Jagtap et al. use weight 1. The losses the trainer reports stay the
    /// data loss, so runs with and without the term compare directly.
    ///
    /// # Errors
    /// [`Error::HyperParameter`] unless `weight` is finite and >= 0.
    pub fn with_slope_recovery(mut self, weight: f64) -> Result<Self> {
        crate::error::check_hyper(
            "slope recovery weight",
            weight,
            weight.is_finite() && weight >= 0.0,
            "finite and >= 0",
        )?;
        self.slope_recovery = weight;
        Ok(self)
    }

    /// The optimiser (for its learning rate, say).
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// One training step on the batch (`x`, `y`): forward, loss, backward,
    /// update. Returns the batch's mean loss. The targets are not
    /// range-checked here (see [`Loss::check_targets`]).
    ///
    /// # Errors
    /// Shape errors from the network or the loss; [`Error::Diverged`] (see
    /// [`fit_with`](Self::fit_with) for what is restored).
    pub fn step<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
    ) -> Result<T> {
        let params = net.param_count();
        on_pool_if_large(x.nrows(), params, || {
            let loss = self.forward_backward(net, x, y)?;
            self.update(net)?;
            Ok(loss)
        })
    }

    /// Forward, loss, divergence checks, backward. On a non-finite or
    /// exploded loss, the parameters from before the previous update are
    /// restored: that update made them.
    fn forward_backward<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
    ) -> Result<T> {
        set_training(net, true);
        let result = self.forward_backward_training(net, x, y);
        set_training(net, false);
        result
    }

    fn forward_backward_training<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        x: MatRef<'_, T>,
        y: MatRef<'_, T>,
    ) -> Result<T> {
        net.forward(x)?;
        let out = net.output();
        self.grad.resize(out.len(), T::zero());
        let loss = self.loss.value_and_grad(out, y, &mut self.grad)?;
        let shape = (out.nrows(), out.ncols());
        self.guard_loss(net, loss.as_f64())?;
        let dy = MatRef::from_slice(&self.grad, shape.0, shape.1);
        net.backward(x, dy, false)?;
        if self.slope_recovery > 0.0 {
            crate::layers::tree::slope_recovery(net, self.slope_recovery);
        }
        Ok(loss)
    }

    /// Trains for `config.epochs` epochs.
    ///
    /// # Errors
    /// As [`Trainer::fit_with`].
    pub fn fit<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        data: &Dataset<T>,
    ) -> Result<Vec<EpochStats>> {
        self.fit_with(net, data, |_, _| Control::Continue)
    }

    /// Trains for `config.epochs` more epochs, calling `on_epoch` with the
    /// epoch's statistics and the network after each; it may stop early.
    /// Epochs continue across calls: a second `fit` goes on where the first
    /// stopped (epoch numbers, batch order, schedule and early stopping).
    ///
    /// # Errors
    /// [`Error::HyperParameter`] when early stopping's `min_delta` is
    /// negative or not finite; [`Error::Shape`] when the data do not fit the network; the errors of
    /// [`Loss::check_targets`] when the targets do not suit the loss (checked
    /// once, before the first step); [`Error::Diverged`] (naming epoch, step,
    /// layer and cause) when training blows up. The guard checks every batch
    /// loss (non-finite, or above the divergence factor times the first
    /// batch's loss: see [`with_divergence_factor`](Self::with_divergence_factor)),
    /// every gradient, and every parameter after each update; on divergence
    /// the network is left with finite parameters from before the step that
    /// caused it (the previous update, for a loss that exploded).
    pub fn fit_with<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        data: &Dataset<T>,
        mut on_epoch: impl FnMut(&EpochStats, &L) -> Control,
    ) -> Result<Vec<EpochStats>> {
        let base_lr = self.begin_fit(net, data)?;
        let mut history = Vec::with_capacity(self.config.epochs.min(1 << 12));
        let rows = self.config.batch_size.min(data.len());
        let params = net.param_count();
        for _ in 0..self.config.epochs {
            let (stats, stop_early) =
                on_pool_if_large(rows, params, || self.run_epoch(net, data, base_lr))?;
            history.push(stats);
            if on_epoch(&stats, net) == Control::Stop || stop_early {
                break;
            }
        }
        self.end_fit(net, data, !history.is_empty())?;
        Ok(history)
    }

    /// The checks and set-up before a fit's first epoch; returns the base
    /// learning rate for the schedule.
    pub(crate) fn begin_fit<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        data: &Dataset<T>,
    ) -> Result<f64> {
        if let Some(rule) = &self.early_stopping {
            // A monitor that is never measured would be skipped every epoch:
            // the fit would run to the end while the caller thinks it stops.
            if let Some(reason) = rule
                .monitor()
                .unmeasurable(self.loss, self.validation.is_some())
            {
                return Err(Error::Incompatible {
                    setting: "early stopping monitor",
                    reason,
                });
            }
        }
        // Best-so-far weights and the divergence reference belong to one
        // network: a fit of another (other tensors) starts afresh.
        let mut ids = Vec::new();
        net.visit_params(&mut |p| ids.push(p.id));
        if ids != self.best.ids {
            self.best = BestSoFar {
                ids,
                ..BestSoFar::default()
            };
            self.reference_loss = None;
        }
        if let Some(s) = &self.schedule {
            s.validate()?;
        }
        check_data(net, data, self.loss)?;
        if let Some(v) = &self.validation {
            check_data(net, v, self.loss)?;
        }
        let n = data.len();
        if self.order.len() != n {
            self.order.clear();
            self.order.extend(0..n);
        }
        Ok(*self
            .base_lr
            .get_or_insert(self.optimizer.learning_rate().as_f64()))
    }

    /// One epoch (after [`begin_fit`](Self::begin_fit)): its statistics, and
    /// whether early stopping says stop.
    pub(crate) fn run_epoch<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        data: &Dataset<T>,
        base_lr: f64,
    ) -> Result<(EpochStats, bool)> {
        let n = data.len();
        self.begin_epoch(base_lr)?;
        let mut sums = MetricSums::new(self.loss);
        for (step, start) in (0..n).step_by(self.config.batch_size).enumerate() {
            self.step_in_epoch = step;
            let end = (start + self.config.batch_size).min(n);
            gather_rows(data.x(), &self.order[start..end], &mut self.xb);
            gather_rows(data.y(), &self.order[start..end], &mut self.yb);
            // Move the buffers out so the step can borrow self mutably.
            let (xb, yb) = (std::mem::take(&mut self.xb), std::mem::take(&mut self.yb));
            let result = self.forward_backward(net, xb.view(), yb.view());
            if let Ok(loss) = &result {
                sums.add(self.loss, loss.as_f64(), net.output(), yb.view());
            }
            self.xb = xb;
            self.yb = yb;
            result?;
            self.update(net)?;
        }
        self.finish_epoch(net, &sums)
    }

    /// The start of an epoch: its number, the schedule's learning rate, the
    /// shuffled row order.
    pub(crate) fn begin_epoch(&mut self, base_lr: f64) -> Result<()> {
        let epoch = self.epochs_done;
        self.epoch = epoch;
        if let Some(s) = self.schedule.as_mut() {
            let lr = s.learning_rate(epoch, base_lr, self.last_stats.as_ref());
            self.optimizer.set_learning_rate(T::lit(lr))?;
        }
        if self.config.shuffle {
            shuffle(&mut self.order, &mut self.rng);
        }
        Ok(())
    }

    /// The end of an epoch whose steps added to `sums`: validation, the
    /// epoch's statistics, early stopping's verdict (true: stop).
    pub(crate) fn finish_epoch<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        sums: &MetricSums,
    ) -> Result<(EpochStats, bool)> {
        let epoch = self.epoch;
        self.epochs_done += 1;
        let valid = match &self.validation {
            Some(v) => Some(evaluate(net, v, self.loss)?),
            None => None,
        };
        let stats = EpochStats {
            epoch,
            train: sums.finish(),
            valid,
            learning_rate: self.optimizer.learning_rate().as_f64(),
        };
        self.last_stats = Some(stats);
        let stop_early = self.watch(net, &stats);
        Ok((stats, stop_early))
    }

    /// After a fit's last epoch: the best weights back (early stopping),
    /// then the final whole-data check (when any epoch ran).
    pub(crate) fn end_fit<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        data: &Dataset<T>,
        ran: bool,
    ) -> Result<()> {
        self.restore_best(net);
        if ran {
            self.check_final(net, data)?;
        }
        Ok(())
    }

    /// The epochs a fit runs (`FitConfig::epochs`).
    pub(crate) fn epochs_per_fit(&self) -> usize {
        self.config.epochs
    }
}
