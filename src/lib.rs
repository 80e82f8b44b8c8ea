//! # mixact: neural networks whose layers mix activation functions
//!
//! Frameworks choose one activation per layer. mixact also lets a layer's
//! neurons choose: per branch (several dense branches on the same input, each
//! with its own activation, outputs concatenated) or per neuron (a mask). It
//! exists so that the question "why one activation per layer?" can be tried
//! and measured, on a CPU, cheaply.
//!
//! ## One core, three faces
//! A dense layer, concatenated one-layer branches and a per-neuron mask are
//! all [`Dense`]: an affine map `z = x·W + b` followed by an activation that is
//! constant on contiguous blocks of neurons. Because a layer's neurons can be
//! permuted without changing what the network computes, the core stores the
//! neurons of each activation together; every activation call runs over
//! contiguous memory (a block, or a neuron's column of the batch), so mixing
//! costs a few loop dispatches, not a branch per element. Outside, neuron i is
//! always the neuron you called i. Deeper branches use [`Concat`].
//!
//! ## Quick start
//! ```
//! use mixact::{data, mask, Act, Dense, FitConfig, Loss, Network, Adam, Trainer};
//! use mixact::prelude::*;
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(42);
//! let spirals = data::two_spirals::<f32, _>(200, 1.5, 0.02, &mut rng)?;
//! let mut net: Network<Act> = Network::new(vec![
//!     // 32 neurons: relu, sin, relu, sin, ...
//!     Dense::per_neuron(2, &mask::pattern(&[Act::Relu, Act::Sin], 32)?, &mut rng)?.into(),
//!     // two fused branches: 16 tanh neurons next to 16 gelu neurons
//!     Dense::branches(32, &[(16, Act::Tanh), (16, Act::Gelu)], &mut rng)?.into(),
//!     Dense::new(32, 1, Act::Identity, &mut rng)?.into(),
//! ])?;
//! let config = FitConfig { epochs: 150, batch_size: 32, seed: 42, shuffle: true };
//! let mut trainer = Trainer::new(Loss::BceWithLogits, Adam::new(0.01)?, config)?;
//! let history = trainer.fit(&mut net, &spirals)?;
//! assert!(history.last().unwrap().train.accuracy.unwrap() > 0.9);
//! # Ok::<(), mixact::Error>(())
//! ```
//!
//! ## Your own activations
//! Implement [`ActivationSet`] for a small `Copy` enum (value, derivative,
//! name, gain) and use it in every layer kind; see
//! `examples/custom_activation.rs`.
//!
//! ## Errors, determinism, threads
//! - Every user-facing call validates its input and returns [`Result`] with an
//!   [`Error`] that names the problem; the library does not panic on user input.
//! - Reproducible: initialisers take an explicit RNG, and the fit loop shuffles
//!   with ChaCha8 from [`FitConfig::seed`]. Use `ChaCha8Rng` for
//!   initialisation too and the same seed gives bit-identical weights on every
//!   run, for a given thread count.
//! - Large matrix products (at least 2^22 multiply-adds) run through faer's
//!   x86-64 kernels on rayon's global pool (Cargo feature `faer`, on by
//!   default; on other CPUs they run on matrixmultiply;
//!   `RAYON_NUM_THREADS=1` for one thread), one such product at a time, and
//!   any other through matrixmultiply (`MATMUL_NUM_THREADS` threads);
//!   `MIXACT_GEMM=matrixmultiply` or [`set_gemm_backend`] uses matrixmultiply
//!   for all. Small products (at most 2^16 multiply-adds) run in an
//!   allocation-free loop on the calling thread.
//!
//! MSRV: Rust 1.89 (nalgebra 0.35 needs it).

#![warn(missing_docs)]

/// The README's code sample, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

// The house, floor by floor: no module imports one above it.
mod atomic_write;
mod compute; // floats, math kernels, the product, activations
pub mod data;
mod error;
#[cfg(feature = "io")]
pub mod io;
mod layers; // the Layer trait, the affine core, one file per kind, specs, registry
pub mod limits;
mod train; // losses, optimisers, the fit loop, hardening

pub use compute::activation;
pub use compute::activation::{Act, ActivationSet, Fan};
pub use compute::cpu::{
    baseline_kernels_forced, force_baseline_kernels, kernel_path, kernels_from_env, limit_kernels,
    KernelPath,
};
pub use compute::matrix::MatRef;
pub use compute::product::{gemm_backend, gemm_from_env, set_gemm_backend, GemmBackend};
pub use compute::real::Real;
pub use data::Dataset;
pub use error::{Divergence, Error, ModelErrorKind, Result};
#[cfg(feature = "io")]
pub use io::LoadOptions;
pub use layers::average::Average;
pub use layers::concat::Concat;
pub use layers::dense::Dense;
pub use layers::dropout::Dropout;
pub use layers::layer::{BoxedLayer, CloneLayer, Layer, Param};
pub use layers::layer_norm::LayerNorm;
pub use layers::mixture::{harden, Mixture};
pub use layers::network::Network;
pub use layers::registry::{LayerBuilder, Registry};
pub use layers::slope::Slope;
pub use layers::spec::{inconsistent, no_sublayers};
pub use layers::tensor_id::{OwnedTensorId, TensorId};
pub use layers::tree::{first_non_finite_grad, map_layers, set_training, visit_named_params};
pub use layers::{init, mask, spec};
pub use train::ensemble::Ensemble;
pub use train::fold_summary::{FoldSummary, MeanSd};
pub use train::harden::HardeningReport;
pub use train::loss::Loss;
pub use train::metrics::{confusion_matrix, ConfusionMatrix, Metrics};
pub use train::optim::{Adam, Optimizer, ParamStates, Sgd, TensorUpdate};
pub use train::schedule::{Cosine, ReduceOnPlateau, Schedule, StepDecay};
pub use train::trainer::{
    evaluate, Control, EarlyStopping, EpochStats, FitConfig, Monitor, Trainer,
    DEFAULT_DIVERGENCE_FACTOR,
};

/// The nalgebra mixact is built on (`DMatrix` for data and predictions): use
/// it through this path and your program never holds two clashing versions.
pub use nalgebra;
/// The rand mixact takes its RNG traits from (`Rng`, `SeedableRng`, `SliceRandom`).
pub use rand;
/// The fixed-algorithm RNG mixact seeds with (`ChaCha8Rng`).
pub use rand_chacha;

/// The traits and types most programs need: `use mixact::prelude::*;`.
///
/// It includes the fixed-algorithm RNG the crate seeds with (`ChaCha8Rng`,
/// with `SeedableRng` for `seed_from_u64`), so a program needs no other crate.
pub mod prelude {
    pub use nalgebra::DMatrix;
    pub use rand::seq::SliceRandom;
    pub use rand::{Rng, RngExt, SeedableRng};
    pub use rand_chacha::ChaCha8Rng;

    pub use crate::{
        data, evaluate, mask, Act, ActivationSet, Adam, Average, Concat, Dataset, Dense, Dropout,
        FitConfig, Layer, LayerNorm, Loss, Mixture, Network, Optimizer, Real, Sgd, Slope, Trainer,
    };
}
