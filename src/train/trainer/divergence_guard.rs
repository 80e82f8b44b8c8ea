//! The divergence guard: a step whose loss is non-finite or has grown past
//! the divergence factor, or whose update made a parameter non-finite, is
//! undone exactly and reported as [`Error::Diverged`].

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::data::Dataset;
use crate::error::{Divergence, Error, Result};
use crate::layers::layer::Layer;
use crate::layers::tree::first_non_finite_grad;
use crate::train::optim::Optimizer;

use super::{evaluate, Trainer};

impl<T: Real, O: Optimizer<T>> Trainer<T, O> {
    /// The one growth test, for batch losses and the final check alike: a
    /// loss is divergence when it is non-finite or above the divergence
    /// factor times the reference (the first loss this trainer saw in the
    /// fit, floored at 1e-8). On divergence the parameters from before the
    /// last update are restored, since that update made the loss.
    pub(super) fn guard_loss<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        loss: f64,
    ) -> Result<()> {
        let cause = self.loss_divergence(loss);
        match cause {
            None => Ok(()),
            Some(cause) => {
                self.states.restore(net);
                Err(self.diverged(None, cause))
            }
        }
    }

    /// Why a step with this loss diverged, if it did: non-finite, or grown
    /// past the divergence factor times the first loss seen (the reference).
    pub(crate) fn loss_divergence(&mut self, loss: f64) -> Option<Divergence> {
        if !loss.is_finite() {
            return Some(Divergence::NonFiniteLoss);
        }
        let reference = *self.reference_loss.get_or_insert(loss);
        (loss > self.divergence_factor * reference.max(1e-8)).then_some(Divergence::LossGrowth)
    }

    pub(crate) fn diverged(&self, layer: Option<usize>, cause: Divergence) -> Error {
        Error::Diverged {
            epoch: self.epoch,
            step: self.step_in_epoch,
            layer,
            cause,
        }
    }

    /// The optimiser's update; undone if it made a parameter non-finite.
    ///
    /// The gradients are not walked before the update: a non-finite
    /// gradient makes the parameter it updates non-finite (NaN propagates,
    /// an infinite step overflows), which the update's own finiteness check
    /// sees for free. Only when that check fails are the gradients read, to
    /// name the cause: a walk of every gradient on every step cost about 6%
    /// of an MLP step.
    pub(super) fn update<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
    ) -> Result<()> {
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

    /// After the last update, which no later batch loss has checked: the
    /// loss over the whole training set must be finite and within the
    /// divergence factor, or that update is undone and the fit diverged.
    /// So an `Ok` from `fit` means the returned network has a finite loss on
    /// its training data.
    pub(super) fn check_final<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &mut self,
        net: &mut L,
        data: &Dataset<T>,
    ) -> Result<()> {
        let loss = evaluate(net, data, self.loss)?.loss;
        self.guard_loss(net, loss)
    }
}
