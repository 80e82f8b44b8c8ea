//! Training: losses, optimisers (per tensor), the fit loop with its
//! divergence guard, evaluation, and hardening a trained mixture network.

pub(crate) mod ensemble;
pub(crate) mod fold_summary;
pub(crate) mod harden;
pub(crate) mod lanes;
pub(crate) mod loss;
pub(crate) mod metrics;
pub(crate) mod optim;
pub(crate) mod psnr;
pub(crate) mod schedule;
pub(crate) mod trainer;
