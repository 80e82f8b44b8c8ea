//! Model files: a network's architecture and parameters in one safetensors file.
//!
//! # Format (versions 1 and 2)
//! A standard [safetensors](https://github.com/huggingface/safetensors) file:
//! - tensors named by their path in the network, PyTorch-style:
//!   `layers.0.weight` (shape `[out, in]`, PyTorch's `nn.Linear.weight`
//!   layout, which is mixact's column-major `in × out` storage byte for byte),
//!   `layers.0.bias` (`[out]`), `layers.1.alpha` (`[out, K]`, mixtures),
//!   `layers.2.slope` (`[out]`), `layers.3.branches.0.layers.0.weight` (inside
//!   a concatenation of deeper branches), dtype `F32` or `F64`;
//! - metadata key `mixact`: JSON `{"format": "mixact", "version": 1,
//!   "float": "f32", "network": [layer, ...]}`, each layer one object: its
//!   kind, its configuration fields and, for containers, its sub-layers:
//!   `{"kind": "dense", "inputs": 2, "outputs": 3, "activations": ["relu", "sin", "relu"]}`,
//!   `{"kind": "mixture", ..., "candidates": [...], "temperature": 1.0, ...}`,
//!   `{"kind": "slope", ..., "activation": "tanh"}`,
//!   `{"kind": "dropout", "width": 8, "p": 0.1}`,
//!   `{"kind": "layer_norm", "width": 8, "eps": 1e-5}` (tensors `gain`, `bias`),
//!   `{"kind": "concat", "branches": [layer, ...]}`, `{"kind": "average", "members": [...]}`
//!   (outputs summed in member order, divided by their count) or `{"kind": "sequential", "layers": [...]}`.
//!
//! Version 2 adds an optional `"info"` object beside `"network"`:
//! `{"scaler": {"offset": [...], "scale": [...]}, "class_names": [...],
//! "metadata": {"key": "value"}, "history": {"epochs": 40, "final_train_loss": ...}}`
//! ([`ModelInfo`]); raw inputs go through `(x - offset) / scale` before the
//! first layer. A file without info is written as version 1.
//!
//! Version 3 adds two optional fields to `"info"`: `"target_scaler"`
//! (`{"offset": [...], "scale": [...]}`, one entry per output: predictions
//! go back to the targets' units as `y * scale + offset`) and
//! `"feature_names"` (one per input). Info without them is written as
//! version 2. A numpy reader of every version, written from this page alone, is
//! `python/mixact_numpy.py` in the repository (CI checks it against Rust).
//!
//! Every layer kind describes itself ([`Layer::spec`](crate::Layer::spec)) and is rebuilt by the
//! builder registered for its kind ([`Registry`](crate::extend::Registry)); this module knows no
//! layer kind. A layer kind of your own saves and loads once it returns a
//! spec and its builder is registered ([`ModelLoader::with_registry`]).
//!
//! Activations are stored by [`ActivationSet::name`](crate::ActivationSet::name), so a user-defined set
//! saves and loads like the built-in one. In Python:
//! `safetensors.torch.load_file("model.safetensors")["layers.0.weight"]`.
//!
//! # Running a saved model elsewhere
//! - dense, branches, masks: `y = f_j(x W^T + b)` per neuron j, with `W` the
//!   `[out, in]` weight and `f_j` the activation named in `activations[j]`;
//! - mixture: `y_j = Σ_k softmax(alpha_j / temperature)_k · f_k(z_j)` over the
//!   `candidates`, `z = x W^T + b`, `alpha` of shape `[out, K]`;
//! - slope: `y_j = f(slope_j · z_j)`;
//! - layer_norm: per row, `y = gain ⊙ (x - mean) / sqrt(var + eps) + bias`
//!   (biased variance over the row's `width` values);
//! - dropout: the identity at inference;
//! - concat: the branches' outputs side by side; sequential: one after another.
//!
//! The activations (`Act`): identity, relu, leaky_relu (slope 0.01), elu
//! (α = 1), sigmoid, tanh, gelu (tanh form, PyTorch's `approximate="tanh"`),
//! gelu_erf (`x Φ(x)`, PyTorch's default), silu, softplus, sin, square (z²).
//!
//! Saving is atomic (temporary file in the same folder, flushed, then renamed
//! over the target); loading validates everything and never panics.

mod header;
mod info;
mod loader;
mod network_file;
pub mod onnx;
mod read_model_file;
mod safetensors_header;
mod tensors;

pub use crate::atomic_write::{write_atomically, STALE_TEMP_AGE};
use crate::error::{Error, ModelErrorKind};
pub use info::{HistorySummary, ModelInfo, ScalerOut, MAX_INFO_TEXT};
pub use loader::ModelLoader;
pub use onnx::OnnxOptions;

/// The newest model-file format version this build writes and reads.
/// Version 2 adds the optional `info` object ([`ModelInfo`]), version 3 its
/// target scaler and feature names; a file is written with the oldest
/// version that holds it (no info: 1), so older readers load what they can.
pub const FORMAT_VERSION: u32 = 3;
const METADATA_KEY: &str = "mixact";
/// safetensors' own limit on the JSON header.
const MAX_HEADER: u64 = 100_000_000;

/// Options for loading a model file ([`ModelLoader`] sets them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LoadOptions {
    /// Accept NaN or infinite parameters instead of rejecting the file.
    pub(crate) allow_non_finite: bool,
}

pub(crate) fn model_error(kind: ModelErrorKind, detail: impl Into<String>) -> Error {
    Error::Model {
        kind,
        detail: detail.into(),
    }
}
