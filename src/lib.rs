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
//! ## What is where
//! - The root: what programs build with. Layer kinds ([`Dense`], [`Concat`],
//!   [`Average`], [`Mixture`], [`Slope`] with its adaptive and SIREN forms,
//!   [`LayerNorm`], [`Dropout`]) inside a [`Network`]; [`Act`] and
//!   [`ActivationSet`]; [`Trainer`] with [`FitConfig`], [`EarlyStopping`],
//!   schedules, [`Loss`] and the optimisers; [`Dataset`], [`evaluate`],
//!   [`Ensemble`]; [`Error`].
//! - [`data`]: generators, CSV, splits, k-fold, scalers. [`io`] (feature
//!   `io`): model files, [`io::ModelLoader`], ONNX export. [`metrics`]:
//!   confusion matrices, fold summaries, PSNR. [`mask`] and [`init`]:
//!   activation patterns and initialisation.
//! - [`extend`]: writing your own layer kind, activation set or optimiser.
//!   [`tree`]: walks of a layer tree. [`settings`]: kernel paths and the
//!   product library at run time. [`limits`]: the size limits.
//!
//! Cargo features: `io` (default: model files, CSV, ONNX; serde,
//! safetensors, csv, flate2) and `faer` (default: large products through
//! faer's x86-64 kernels).
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
//!   `MIXACT_GEMM=matrixmultiply` or [`settings::set_gemm_backend`] uses matrixmultiply
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
pub mod extend;
#[cfg(feature = "io")]
pub mod io;
mod layers; // the Layer trait, the affine core, one file per kind, specs, registry
pub mod limits;
pub mod metrics;
pub mod settings;
mod train; // losses, optimisers, the fit loop, hardening

pub use compute::activation::{Act, ActivationSet};
pub use compute::real::Real;
pub use data::Dataset;
pub use error::{Divergence, Error, ModelErrorKind, Result};
pub use layers::average::Average;
pub use layers::concat::Concat;
pub use layers::dense::Dense;
pub use layers::dropout::Dropout;
pub use layers::layer::Layer;
pub use layers::layer_norm::LayerNorm;
pub use layers::mixture::{harden, Mixture};
pub use layers::network::Network;
pub use layers::slope::Slope;
pub use layers::{init, mask, tree};
pub use train::ensemble::Ensemble;
pub use train::harden::HardeningReport;
pub use train::lanes::LaneEnsemble;
pub use train::loss::Loss;
pub use train::optim::{Adam, Optimizer, Sgd};
pub use train::schedule::{Cosine, ReduceOnPlateau, Schedule, StepDecay};
pub use train::trainer::{
    evaluate, Control, EarlyStopping, EpochStats, FitConfig, Monitor, Trainer,
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
