//! The fit loop: seeded shuffling, mini-batches, per-epoch metrics, divergence guard.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::{Buf, MatRef};
use crate::compute::real::Real;
use crate::data::Dataset;
use crate::error::{Divergence, Error, Result};
use crate::layers::layer::Layer;
use crate::layers::tree::{first_non_finite_grad, set_training};
use crate::train::loss::Loss;
use crate::train::optim::{Optimizer, ParamStates};

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

/// Loss and accuracy of one pass over a data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Mean loss per sample.
    pub loss: f64,
    /// Fraction correct, for losses that define it (see [`Loss::correct`]).
    pub accuracy: Option<f64>,
}

/// What the fit loop reports after each epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// 0-based epoch.
    pub epoch: usize,
    /// Training metrics, accumulated over the epoch's batches.
    pub train: Metrics,
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
/// use rand::SeedableRng;
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
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
}

/// The default [`Trainer::with_divergence_factor`]: a loss a million times
/// the first batch's loss is divergence, not training.
pub const DEFAULT_DIVERGENCE_FACTOR: f64 = 1e6;

impl<T: Real, O: Optimizer<T>> Trainer<T, O> {
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
            divergence_factor: DEFAULT_DIVERGENCE_FACTOR,
            reference_loss: None,
        })
    }

    /// Sets the divergence guard's growth factor: a batch loss above `factor`
    /// times the loss of the first batch this trainer saw (floored at 1e-8)
    /// counts as divergence. Default [`DEFAULT_DIVERGENCE_FACTOR`] (1e6);
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
        if let Some(layer) = first_non_finite_grad(net) {
            return Err(self.diverged(Some(layer), Divergence::NonFiniteGradient));
        }
        Ok(loss)
    }

    /// The optimiser's update; undone if it made a parameter non-finite.
    fn update<A: ActivationSet, L: Layer<A, T> + ?Sized>(&mut self, net: &mut L) -> Result<()> {
        if let Some(layer) = self.states.update(&self.optimizer, net) {
            self.states.restore(net);
            return Err(self.diverged(Some(layer), Divergence::NonFiniteParameter));
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
        self.fit_with(net, data, |_| Control::Continue)
    }

    /// Trains for `config.epochs` epochs, calling `on_epoch` after each; it may stop early.
    ///
    /// # Errors
    /// [`Error::Shape`] when the data do not fit the network; the errors of
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
        mut on_epoch: impl FnMut(&EpochStats) -> Control,
    ) -> Result<Vec<EpochStats>> {
        check_data(net, data, self.loss)?;
        let n = data.len();
        self.order.clear();
        self.order.extend(0..n);
        let mut history = Vec::with_capacity(self.config.epochs);
        for epoch in 0..self.config.epochs {
            self.epoch = epoch;
            if self.config.shuffle {
                shuffle(&mut self.order, &mut self.rng);
            }
            let (mut loss_sum, mut correct, mut has_acc) = (0.0, 0usize, false);
            for (step, start) in (0..n).step_by(self.config.batch_size).enumerate() {
                self.step_in_epoch = step;
                let end = (start + self.config.batch_size).min(n);
                gather_rows(data.x(), &self.order[start..end], &mut self.xb);
                gather_rows(data.y(), &self.order[start..end], &mut self.yb);
                // Move the buffers out so the step can borrow self mutably.
                let (xb, yb) = (std::mem::take(&mut self.xb), std::mem::take(&mut self.yb));
                let result = self.forward_backward(net, xb.view(), yb.view());
                let outcome = result.map(|loss| {
                    let acc = self.loss.correct(net.output(), yb.view());
                    (loss, acc)
                });
                self.xb = xb;
                self.yb = yb;
                let (loss, acc) = outcome?;
                self.update(net)?;
                loss_sum += loss.as_f64() * (end - start) as f64;
                if let Some(c) = acc {
                    correct += c;
                    has_acc = true;
                }
            }
            let stats = EpochStats {
                epoch,
                train: Metrics {
                    loss: loss_sum / n as f64,
                    accuracy: has_acc.then(|| correct as f64 / n as f64),
                },
            };
            history.push(stats);
            if on_epoch(&stats) == Control::Stop {
                break;
            }
        }
        if !history.is_empty() {
            self.check_final(net, data)?;
        }
        Ok(history)
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

/// Loss and accuracy of `net` on all of `data`, in batches of at most 1024 rows.
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
    let (mut loss_sum, mut correct, mut has_acc) = (0.0, 0usize, false);
    let rows: Vec<usize> = (0..n).collect();
    for start in (0..n).step_by(1024) {
        let end = (start + 1024).min(n);
        gather_rows(data.x(), &rows[start..end], &mut xb);
        gather_rows(data.y(), &rows[start..end], &mut yb);
        net.forward(xb.view())?;
        grad.resize(net.output().len(), T::zero());
        let l = loss.value_and_grad(net.output(), yb.view(), &mut grad)?;
        loss_sum += l.as_f64() * (end - start) as f64;
        if let Some(c) = loss.correct(net.output(), yb.view()) {
            correct += c;
            has_acc = true;
        }
    }
    Ok(Metrics {
        loss: loss_sum / n as f64,
        accuracy: has_acc.then(|| correct as f64 / n as f64),
    })
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

/// Fisher-Yates with Lemire's unbiased bounded integers: written out so the
/// order depends only on ChaCha8's output, not on a dependency's algorithm.
fn shuffle(v: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let bound = (i + 1) as u64;
        let j = loop {
            let m = (rng.next_u64() as u128) * (bound as u128);
            let low = m as u64;
            if low >= bound.wrapping_neg() % bound {
                break (m >> 64) as usize;
            }
        };
        v.swap(i, j);
    }
}
