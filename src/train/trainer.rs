//! The fit loop: seeded shuffling, mini-batches, per-epoch metrics, divergence guard.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::{Buf, MatRef};
use crate::compute::real::Real;
use crate::data::split::shuffle;
use crate::data::Dataset;
use crate::error::{Divergence, Error, Result};
use crate::layers::layer::Layer;
use crate::layers::tensor_id::TensorId;
use crate::layers::tree::{first_non_finite_grad, set_training};
use crate::train::loss::Loss;
use crate::train::metrics::{MetricSums, Metrics};
use crate::train::optim::{Optimizer, ParamStates};
use crate::train::schedule::Schedule;

/// How to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// Samples per step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Seeds the shuffling (ChaCha8, a fixed algorithm: the same seed gives the
    /// same batch order on every platform and across dependency updates).
    pub seed: u64,
    /// Shuffle the samples at the start of every epoch.
    pub shuffle: bool,
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
    /// one ([`Trainer::validate_on`]).
    pub valid: Option<Metrics>,
    /// The learning rate the epoch ran with.
    pub learning_rate: f64,
}

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
    fn unmeasurable(self, loss: Loss, has_validation: bool) -> Option<String> {
        let needs_validation = match self {
            Monitor::ValidLoss | Monitor::ValidAccuracy | Monitor::ValidRmse => true,
            Monitor::TrainLoss => false,
        };
        if needs_validation && !has_validation {
            return Some(format!(
                "{self:?} needs a validation set (Trainer::validate_on); without one, watch TrainLoss"
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
    fn score(self, s: &EpochStats) -> Option<f64> {
        match self {
            Monitor::ValidLoss => s.valid.map(|v| -v.loss),
            Monitor::ValidAccuracy => s.valid.and_then(|v| v.accuracy),
            Monitor::ValidRmse => s.valid.and_then(|v| v.rmse).map(|r| -r),
            Monitor::TrainLoss => Some(-s.train.loss),
        }
    }
}

/// Stop when the monitored value has not improved for `patience` epochs,
/// and (with `restore_best`) give back the weights of the best epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    /// What to watch.
    pub monitor: Monitor,
    /// Epochs without an improvement of more than `min_delta` before stopping.
    pub patience: usize,
    /// The smallest change that counts as an improvement.
    pub min_delta: f64,
    /// Put back the parameters of the best epoch when training ends.
    pub restore_best: bool,
}

impl EarlyStopping {
    /// Watch `monitor` with `patience`, restoring the best weights.
    pub fn new(monitor: Monitor, patience: usize) -> Self {
        EarlyStopping {
            monitor,
            patience,
            min_delta: 0.0,
            restore_best: true,
        }
    }
}

/// Early stopping's memory across epochs: the best score, when, and the
/// weights then, for the network whose tensors `ids` names (a fit of another
/// network starts afresh).
#[derive(Debug, Default)]
struct BestSoFar<T> {
    ids: Vec<TensorId>,
    score: Option<f64>,
    epoch: usize,
    waited: usize,
    weights: Vec<Vec<T>>,
}

/// Whether the fit loop should go on after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop now (early stopping).
    Stop,
}

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
/// let mut trainer = Trainer::new(Loss::BceWithLogits, Sgd::with_momentum(0.1, 0.9)?, config)?;
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
    pub fn validate_on(mut self, data: Dataset<T>) -> Self {
        self.validation = Some(data);
        self
    }

    /// Stops training when the watched metric stops improving (see [`EarlyStopping`]).
    pub fn early_stopping(mut self, rule: EarlyStopping) -> Self {
        self.early_stopping = Some(rule);
        self
    }

    /// Sets the learning rate of every epoch by `schedule`, from the
    /// optimiser's rate at the first epoch.
    pub fn schedule(mut self, schedule: impl Schedule + 'static) -> Self {
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
        let loss = self.forward_backward(net, x, y)?;
        self.update(net)?;
        Ok(loss)
    }

    fn diverged(&self, layer: Option<usize>, cause: Divergence) -> Error {
        Error::Diverged {
            epoch: self.epoch,
            step: self.step_in_epoch,
            layer,
            cause,
        }
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
        let cause = if !loss.is_finite() {
            Some(Divergence::NonFiniteLoss)
        } else {
            let reference = *self.reference_loss.get_or_insert(loss.as_f64());
            (loss.as_f64() > self.divergence_factor * reference.max(1e-8))
                .then_some(Divergence::LossGrowth)
        };
        if let Some(cause) = cause {
            self.states.restore(net);
            return Err(self.diverged(None, cause));
        }
        let dy = MatRef::from_slice(&self.grad, out.nrows(), out.ncols());
        net.backward(x, dy, false)?;
        Ok(loss)
    }

    /// The optimiser's update; undone if it made a parameter non-finite.
    ///
    /// The gradients are not walked before the update: a non-finite
    /// gradient makes the parameter it updates non-finite (NaN propagates,
    /// an infinite step overflows), which the update's own finiteness check
    /// sees for free. Only when that check fails are the gradients read, to
    /// name the cause: a walk of every gradient on every step cost about 6%
    /// of an MLP step.
    fn update<A: ActivationSet, L: Layer<A, T> + ?Sized>(&mut self, net: &mut L) -> Result<()> {
        if let Some(layer) = self.states.update(&self.optimizer, net) {
            self.states.restore(net);
            let (layer, cause) = match first_non_finite_grad(net) {
                Some(g) => (g, Divergence::NonFiniteGradient),
                None => (layer, Divergence::NonFiniteParameter),
            };
            return Err(self.diverged(Some(layer), cause));
        }
        Ok(())
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
        for _ in 0..self.config.epochs {
            let (stats, stop_early) = self.run_epoch(net, data, base_lr)?;
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
            let d = rule.min_delta;
            // A NaN would make every epoch "no improvement", stopping after
            // `patience` epochs without saying why.
            crate::error::check_hyper(
                "early stopping min_delta",
                d,
                d.is_finite() && d >= 0.0,
                "finite and >= 0",
            )?;
            // A monitor that is never measured would be skipped every epoch:
            // the fit would run to the end while the caller thinks it stops.
            if let Some(reason) = rule
                .monitor
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
        let epoch = self.epochs_done;
        self.epoch = epoch;
        if let Some(s) = self.schedule.as_mut() {
            let lr = s.learning_rate(epoch, base_lr, self.last_stats.as_ref());
            self.optimizer.set_learning_rate(T::lit(lr))?;
        }
        if self.config.shuffle {
            shuffle(&mut self.order, &mut self.rng);
        }
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

    /// Early stopping's bookkeeping after an epoch; true when it says stop.
    fn watch<A: ActivationSet, L: Layer<A, T> + ?Sized>(
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
            .is_none_or(|best| score > best + rule.min_delta);
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
    fn restore_best<A: ActivationSet, L: Layer<A, T> + ?Sized>(&mut self, net: &mut L) {
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

    /// After the last update, which no later batch loss has checked: the
    /// loss over the whole training set must be finite and within the
    /// divergence factor, or that update is undone and the fit diverged.
    /// So an `Ok` from `fit` means the returned network has a finite loss on
    /// its training data.
    fn check_final<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        data: &Dataset<T>,
    ) -> Result<()> {
        let loss = evaluate(net, data, self.loss)?.loss;
        let reference = self.reference_loss.unwrap_or(loss);
        let cause = if !loss.is_finite() {
            Some(Divergence::NonFiniteLoss)
        } else {
            (loss > self.divergence_factor * reference.max(1e-8)).then_some(Divergence::LossGrowth)
        };
        match cause {
            None => Ok(()),
            Some(cause) => {
                self.states.restore(net);
                Err(self.diverged(None, cause))
            }
        }
    }
}

fn check_data<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    net: &L,
    data: &Dataset<T>,
    loss: Loss,
) -> Result<()> {
    if data.x().ncols() != net.input_width() {
        return Err(Error::shape(
            "inputs",
            (None, Some(net.input_width())),
            data.x().shape(),
        ));
    }
    if data.y().ncols() != net.output_width() {
        return Err(Error::shape(
            "targets",
            (None, Some(net.output_width())),
            data.y().shape(),
        ));
    }
    loss.check_targets(data.y().as_view())
}

/// The loss and the task's metrics (accuracy; or RMSE, MAE and R²) of `net`
/// on all of `data`, in evaluation mode, in batches of at most 1024 rows.
///
/// # Errors
/// [`Error::Shape`] when the data do not fit the network; as
/// [`Loss::check_targets`] when the targets do not suit the loss.
pub fn evaluate<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    net: &mut L,
    data: &Dataset<T>,
    loss: Loss,
) -> Result<Metrics> {
    check_data(net, data, loss)?;
    set_training(net, false);
    let n = data.len();
    let (mut xb, mut yb, mut grad) = (Buf::new(), Buf::new(), Vec::new());
    let mut sums = MetricSums::new(loss);
    let rows: Vec<usize> = (0..n).collect();
    for start in (0..n).step_by(1024) {
        let end = (start + 1024).min(n);
        gather_rows(data.x(), &rows[start..end], &mut xb);
        gather_rows(data.y(), &rows[start..end], &mut yb);
        net.forward(xb.view())?;
        grad.resize(net.output().len(), T::zero());
        let l = loss.value_and_grad(net.output(), yb.view(), &mut grad)?;
        sums.add(loss, l.as_f64(), net.output(), yb.view());
    }
    Ok(sums.finish())
}

/// Copies rows `rows` of `m` into `out` (a rows.len() × m.ncols() batch).
fn gather_rows<T: Real>(m: &nalgebra::DMatrix<T>, rows: &[usize], out: &mut Buf<T>) {
    let (n, cols) = (m.nrows(), m.ncols());
    out.resize(rows.len(), cols);
    let src = m.as_slice();
    let b = rows.len();
    let dst = out.as_mut_slice();
    for c in 0..cols {
        let col = &src[c * n..(c + 1) * n];
        for (d, &r) in dst[c * b..(c + 1) * b].iter_mut().zip(rows) {
            *d = col[r];
        }
    }
}
