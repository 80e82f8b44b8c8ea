//! Which optimiser every run of a protocol trains with.

use mixact::{Adam, Optimizer, Result, Sgd};

/// The optimiser of a protocol ([`SuiteOptions::optimiser`](crate::SuiteOptions::optimiser)):
/// the learning rate comes from the protocol's grid, the rest from here.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Optimiser {
    /// Adam with β = (0.9, 0.999), ε = 1e-8 (the lab's default).
    #[default]
    Adam,
    /// AdamW: Adam with decoupled weight decay on weights (not biases).
    AdamW {
        /// The decay factor.
        weight_decay: f64,
    },
    /// SGD with heavy-ball momentum.
    SgdMomentum {
        /// The momentum factor, in [0, 1).
        momentum: f64,
    },
}

impl Optimiser {
    /// The optimiser at learning rate `lr`.
    ///
    /// # Errors
    /// As the optimiser's constructor: a rate, decay or momentum out of range.
    pub fn make(self, lr: f64) -> Result<Box<dyn Optimizer<f32>>> {
        Ok(match self {
            Optimiser::Adam => Box::new(Adam::new(lr as f32)?),
            Optimiser::AdamW { weight_decay } => {
                Box::new(Adam::adamw(lr as f32, weight_decay as f32)?)
            }
            Optimiser::SgdMomentum { momentum } => {
                Box::new(Sgd::new(lr as f32)?.with_momentum(momentum as f32)?)
            }
        })
    }

    /// How reports name it.
    pub fn describe(self) -> String {
        match self {
            Optimiser::Adam => "Adam".into(),
            Optimiser::AdamW { weight_decay } => format!("AdamW (weight decay {weight_decay})"),
            Optimiser::SgdMomentum { momentum } => format!("SGD (momentum {momentum})"),
        }
    }
}
