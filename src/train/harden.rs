//! Hardening a trained network: every learned mixture becomes a per-neuron
//! mask of each neuron's most-weighted activation, and the cost of doing so
//! is measured. A tree transformation ([`mixture::harden`](crate::mixture::harden))
//! plus an evaluation, so it sits above both the layers and the trainer.

use std::any::Any;

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::data::Dataset;
use crate::error::Result;
use crate::layers::layer::BoxedLayer;
use crate::layers::mixture::harden;
use crate::layers::network::Network;
use crate::train::loss::Loss;
use crate::train::optim::Optimizer;
use crate::train::trainer::{evaluate, Trainer};

/// What hardening a network's mixtures did to its loss on some data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HardeningReport {
    /// Mean loss with the learned blends.
    pub loss_before: f64,
    /// Mean loss with each neuron's most-weighted activation only.
    pub loss_after: f64,
    /// Accuracy before, for losses that define it.
    pub accuracy_before: Option<f64>,
    /// Accuracy after.
    pub accuracy_after: Option<f64>,
    /// Mean loss after retraining the hardened network, when it was retrained
    /// ([`Network::harden_and_retrain`]).
    pub loss_retrained: Option<f64>,
    /// Accuracy after retraining.
    pub accuracy_retrained: Option<f64>,
}

impl<A: ActivationSet, T: Real> Network<A, T> {
    /// The network with every [`Mixture`](crate::Mixture) layer hardened to a
    /// per-neuron mask of each neuron's most-weighted activation, weights
    /// carried over: it then runs at dense-layer cost. Compare the loss
    /// before and after with [`harden_on`](Self::harden_on).
    pub fn hardened(self) -> Self {
        let root: BoxedLayer<A, T> = Box::new(self);
        let hard: Box<dyn Any> = harden(root);
        match hard.downcast::<Network<A, T>>() {
            Ok(net) => *net,
            Err(_) => unreachable!("hardening keeps the root network a network"),
        }
    }

    /// [`hardened`](Self::hardened), reporting the loss on `data` before and
    /// after, so the cost of hardening is measured, not assumed. Hardening can
    /// cost a lot (see [`harden_and_retrain`](Self::harden_and_retrain), which
    /// also retrains).
    ///
    /// # Errors
    /// As [`evaluate`](crate::evaluate) (shape errors when the data do not fit).
    ///
    /// # Example
    /// ```
    /// use mixact::{data, Act, Dense, Layer, Loss, Mixture, Network};
    /// use mixact::prelude::*;
    ///
    /// let mut rng = ChaCha8Rng::seed_from_u64(0);
    /// let net: Network<Act> = Network::new(vec![
    ///     Mixture::new(2, 8, &[Act::Relu, Act::Tanh], &mut rng)?.into(),
    ///     Dense::new(8, 1, Act::Identity, &mut rng)?.into(),
    /// ])?;
    /// let (hard, report) = net.harden_on(&data::xor(), Loss::BceWithLogits)?;
    /// println!("loss {} -> {}", report.loss_before, report.loss_after);
    /// assert_eq!(hard.param_count(), 2 * 8 + 8 + 8 + 1);
    /// # Ok::<(), mixact::Error>(())
    /// ```
    pub fn harden_on(mut self, data: &Dataset<T>, loss: Loss) -> Result<(Self, HardeningReport)> {
        let before = evaluate(&mut self, data, loss)?;
        let mut hard = self.hardened();
        let after = evaluate(&mut hard, data, loss)?;
        Ok((
            hard,
            HardeningReport {
                loss_before: before.loss,
                loss_after: after.loss,
                accuracy_before: before.accuracy,
                accuracy_after: after.accuracy,
                loss_retrained: None,
                accuracy_retrained: None,
            },
        ))
    }

    /// Hardens, then retrains the hardened network on `train` with `trainer`
    /// (its configuration's epochs), reporting the loss on `valid` with the
    /// blends, right after hardening, and after retraining.
    ///
    /// Hardening replaces each neuron's blend by its single most-weighted
    /// activation, which can raise the loss several times over when the
    /// blends were far from one-hot (on a small regression, test RMSE went
    /// from 2.75 to 5.11); a few epochs of retraining usually win most of it back.
    ///
    /// # Errors
    /// As [`evaluate`](crate::evaluate) and [`Trainer::fit`].
    pub fn harden_and_retrain<O: Optimizer<T>>(
        self,
        train: &Dataset<T>,
        valid: &Dataset<T>,
        trainer: &mut Trainer<T, O>,
    ) -> Result<(Self, HardeningReport)> {
        let loss = trainer.loss();
        let (mut hard, mut report) = self.harden_on(valid, loss)?;
        trainer.fit(&mut hard, train)?;
        let retrained = evaluate(&mut hard, valid, loss)?;
        report.loss_retrained = Some(retrained.loss);
        report.accuracy_retrained = retrained.accuracy;
        Ok((hard, report))
    }
}
