//! What a [`LaneEnsemble`](crate::LaneEnsemble) needs of each member's
//! trainer: the trainer keeps its own bookkeeping (row order, epoch and
//! step counters, divergence reference, early stopping, optimiser state
//! between lane runs) while the lanes do the arithmetic of its steps.

use crate::compute::real::Real;
use crate::train::optim::{Optimizer, ParamStates};

use super::Trainer;

impl<T: Real, O: Optimizer<T>> Trainer<T, O> {
    /// The data rows of this epoch's batch `start..end`, in the shuffled order.
    pub(crate) fn batch_rows(&self, start: usize, end: usize) -> &[usize] {
        &self.order[start..end]
    }

    pub(crate) fn set_step_in_epoch(&mut self, step: usize) {
        self.step_in_epoch = step;
    }

    pub(crate) fn batch_size(&self) -> usize {
        self.config.batch_size
    }

    pub(crate) fn optimizer(&self) -> &O {
        &self.optimizer
    }

    pub(crate) fn states(&self) -> &ParamStates<T> {
        &self.states
    }

    pub(crate) fn states_mut(&mut self) -> &mut ParamStates<T> {
        &mut self.states
    }

    /// A setting that makes this trainer's steps differ from the lanes'
    /// (which run one optimiser for every member and no extra loss term), if any.
    pub(crate) fn lane_blocker(&self) -> Option<&'static str> {
        if self.schedule.is_some() {
            Some("a learning-rate schedule")
        } else if self.slope_recovery > 0.0 {
            Some("slope recovery")
        } else {
            None
        }
    }
}
