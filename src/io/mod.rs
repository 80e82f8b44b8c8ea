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
//! Every layer kind describes itself ([`Layer::spec`]) and is rebuilt by the
//! builder registered for its kind ([`Registry`]); this module knows no
//! layer kind. A layer kind of your own saves and loads once it returns a
//! spec and its builder is registered ([`Network::from_model_bytes_with`]).
//!
//! Activations are stored by [`ActivationSet::name`], so a user-defined set
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
//! gelu_erf (`x Φ(x)`, PyTorch's default), silu, softplus, sin.
//!
//! Saving is atomic (temporary file in the same folder, flushed, then renamed
//! over the target); loading validates everything and never panics.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use nalgebra::DMatrix;
use safetensors::tensor::{Dtype, TensorView};

mod loader;
pub mod onnx;
mod safetensors_header;
use safetensors_header::{Dtype as FileDtype, TensorEntry};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

pub use crate::atomic_write::{write_atomically, STALE_TEMP_AGE};
use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::data::Scaler;
use crate::error::{Error, ModelErrorKind, Result};
use crate::layers::layer::{BoxedLayer, Layer};
use crate::layers::network::Network;
use crate::layers::registry::Registry;
use crate::layers::spec::{ConfigValue, LayerConfig, NameList, TensorSource};
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

/// Options for loading a model file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Accept NaN or infinite parameters instead of rejecting the file.
    pub allow_non_finite: bool,
}

/// The whole metadata document, as written.
#[derive(Serialize)]
struct HeaderOut<'a> {
    format: &'a str,
    version: u32,
    float: &'a str,
    network: Vec<SpecNode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    info: Option<&'a ModelInfo>,
}

/// What travels with a model besides its layers (format versions 2 and 3):
/// the input scaler, the target scaler, the feature and class names,
/// free-form metadata and a summary of the training history, so that a
/// saved model is the whole pipeline from raw rows to predictions in the
/// targets' units ([`Network::predict_raw`]).
///
/// # Example
/// ```
/// use mixact::io::ModelInfo;
/// use mixact::{data::Scaler, Act, Dense, Network};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(1);
/// let net: Network<Act> = Network::new(vec![Dense::new(2, 3, Act::Tanh, &mut rng)?.into()])?;
/// let x = nalgebra::DMatrix::from_row_slice(2, 2, &[1.0f32, 10.0, 3.0, 30.0]);
/// let info = ModelInfo::default()
///     .with_scaler(Scaler::standardize(&x))
///     .with_class_names(&["cat", "dog", "bird"])
///     .with_metadata("trained_on", "example");
/// let bytes = net.to_model_bytes_with_info(&info)?;
/// let (back, back_info) = Network::<Act>::from_model_bytes_with_info(&bytes, Default::default())?;
/// assert_eq!(back_info, info);
/// # let _ = back;
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// The scaler to apply to raw inputs before `predict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaler: Option<ScalerOut>,
    /// One name per output class.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "bounded_strings"
    )]
    pub class_names: Option<Vec<String>>,
    /// The scaler the training targets went through (one entry per output):
    /// predictions go back to the targets' units as `y * scale + offset`
    /// (format version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_scaler: Option<ScalerOut>,
    /// One name per input feature, in column order (format version 3).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "bounded_strings"
    )]
    pub feature_names: Option<Vec<String>>,
    /// Anything else (data source, commit, author, ...); at most 4096 entries in a file.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "bounded_map"
    )]
    pub metadata: BTreeMap<String, String>,
    /// A summary of how the model was trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<HistorySummary>,
}

/// A [`Scaler`] as stored in a model file (the same two vectors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalerOut {
    /// Subtracted from each feature.
    #[serde(deserialize_with = "bounded_floats")]
    pub offset: Vec<f64>,
    /// Each feature is divided by it.
    #[serde(deserialize_with = "bounded_floats")]
    pub scale: Vec<f64>,
}

/// How a model was trained, in brief.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySummary {
    /// Epochs run.
    pub epochs: usize,
    /// Training loss of the last epoch.
    pub final_train_loss: f64,
    /// Validation loss of the last epoch, when there was a validation set.
    pub final_valid_loss: Option<f64>,
    /// The best validation loss and its epoch, when there was a validation set.
    pub best_valid: Option<(usize, f64)>,
}

/// The most entries a list in [`ModelInfo`] may hold (a scaler of a million
/// features): the bound keeps a hostile file's lists from costing more memory
/// than a small multiple of their text.
const MAX_INFO_LIST: usize = 1 << 20;

fn bounded_floats<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<f64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of numbers")
        }
        fn visit_seq<S: SeqAccess<'de>>(
            self,
            mut seq: S,
        ) -> std::result::Result<Vec<f64>, S::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element::<f64>()? {
                if out.len() == MAX_INFO_LIST {
                    return Err(de::Error::custom("list longer than 2^20 entries"));
                }
                out.push(v);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V)
}

/// The most class names or metadata entries a file may hold: each costs
/// tens of bytes in memory for as few as three in the file.
const MAX_INFO_NAMES: usize = 1 << 12;

fn bounded_map<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of strings")
        }
        fn visit_map<M: MapAccess<'de>>(
            self,
            mut m: M,
        ) -> std::result::Result<BTreeMap<String, String>, M::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<String, String>()? {
                if out.len() == MAX_INFO_NAMES {
                    return Err(de::Error::custom("more than 4096 metadata entries"));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

fn bounded_strings<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Vec<String>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of names")
        }
        fn visit_seq<S: SeqAccess<'de>>(
            self,
            mut seq: S,
        ) -> std::result::Result<Vec<String>, S::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element::<String>()? {
                if out.len() == MAX_INFO_NAMES {
                    return Err(de::Error::custom("more than 4096 class names"));
                }
                out.push(v);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V).map(Some)
}

impl ModelInfo {
    /// With the input scaler.
    pub fn with_scaler(mut self, scaler: Scaler) -> Self {
        self.scaler = Some(ScalerOut {
            offset: scaler.offset,
            scale: scaler.scale,
        });
        self
    }

    /// With one name per output class.
    pub fn with_class_names(mut self, names: &[&str]) -> Self {
        self.class_names = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// With the scaler the targets were trained through (see
    /// [`Network::predict_raw`](crate::Network::predict_raw)).
    pub fn with_target_scaler(mut self, scaler: Scaler) -> Self {
        self.target_scaler = Some(ScalerOut {
            offset: scaler.offset,
            scale: scaler.scale,
        });
        self
    }

    /// With one name per input feature.
    pub fn with_feature_names(mut self, names: &[&str]) -> Self {
        self.feature_names = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// The stored target scaler, ready to unscale predictions.
    pub fn target_scaler(&self) -> Option<Scaler> {
        self.target_scaler.as_ref().map(|s| Scaler {
            offset: s.offset.clone(),
            scale: s.scale.clone(),
        })
    }

    /// The file format version this info needs: 3 with a target scaler or
    /// feature names, 2 otherwise (so older readers still read what they can).
    fn format_version(&self) -> u32 {
        if self.target_scaler.is_some() || self.feature_names.is_some() {
            3
        } else {
            2
        }
    }

    /// With a metadata entry.
    pub fn with_metadata(mut self, key: &str, value: &str) -> Self {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }

    /// With a summary of `history` (what [`Trainer::fit`](crate::Trainer::fit) returned).
    pub fn with_history(mut self, history: &[crate::EpochStats]) -> Self {
        if let Some(last) = history.last() {
            let best_valid = history
                .iter()
                .filter_map(|s| s.valid.map(|v| (s.epoch, v.loss)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            self.history = Some(HistorySummary {
                epochs: history.len(),
                final_train_loss: last.train.loss,
                final_valid_loss: last.valid.map(|v| v.loss),
                best_valid,
            });
        }
        self
    }

    /// The stored scaler, ready to transform inputs.
    pub fn scaler(&self) -> Option<Scaler> {
        self.scaler.as_ref().map(|s| Scaler {
            offset: s.offset.clone(),
            scale: s.scale.clone(),
        })
    }

    /// Whether there is nothing to store.
    pub fn is_empty(&self) -> bool {
        *self == ModelInfo::default()
    }

    /// The one check of info against its network, on save and on load
    /// alike (what `save` writes, `load` reads): a valid scaler of the input
    /// width, one class name per output (two for a single-logit binary
    /// classifier), and text within [`MAX_INFO_TEXT`].
    fn check_fits(&self, inputs: usize, outputs: usize) -> Result<()> {
        use ModelErrorKind as K;
        if let Some(s) = self.scaler() {
            s.validate()
                .map_err(|e| model_error(K::Malformed, format!("scaler: {e}")))?;
            if s.offset.len() != inputs || s.scale.len() != inputs {
                return Err(model_error(
                    K::InconsistentShape,
                    format!(
                        "scaler of {} features for a network of {inputs} inputs",
                        s.offset.len(),
                    ),
                ));
            }
        }
        if let Some(s) = self.target_scaler() {
            s.validate()
                .map_err(|e| model_error(K::Malformed, format!("target scaler: {e}")))?;
            if s.offset.len() != outputs || s.scale.len() != outputs {
                return Err(model_error(
                    K::InconsistentShape,
                    format!(
                        "target scaler of {} values for a network of {outputs} outputs",
                        s.offset.len(),
                    ),
                ));
            }
        }
        if let Some(names) = &self.feature_names {
            if names.len() != inputs {
                return Err(model_error(
                    K::InconsistentShape,
                    format!(
                        "{} feature names for a network of {inputs} inputs",
                        names.len()
                    ),
                ));
            }
        }
        if let Some(names) = &self.class_names {
            if names.len() != outputs && !(outputs == 1 && names.len() == 2) {
                return Err(model_error(
                    K::InconsistentShape,
                    format!(
                        "{} class names for a network of {outputs} outputs (one name per \
                         output, or two for a single-logit binary classifier)",
                        names.len()
                    ),
                ));
            }
        }
        let text: usize = self
            .metadata
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .chain(self.class_names.iter().flatten().map(String::len))
            .chain(self.feature_names.iter().flatten().map(String::len))
            .sum();
        if text > MAX_INFO_TEXT {
            return Err(model_error(
                K::TooLarge,
                format!(
                    "{text} bytes of metadata, class and feature names (limit {MAX_INFO_TEXT}): \
                     keep large data beside the model, not in it"
                ),
            ));
        }
        Ok(())
    }
}

/// The most bytes of metadata and class-name text a model file may carry
/// (1 MiB): model info describes a model, it is not a data store, and the
/// bound keeps loading within 2 × the file + 16 MB.
pub const MAX_INFO_TEXT: usize = 1 << 20;

/// The whole metadata document, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderIn {
    format: String,
    version: u32,
    float: String,
    network: Vec<RawSpec>,
    #[serde(default)]
    info: Option<ModelInfo>,
}

/// One layer as written: kind, configuration fields, then sub-layers.
struct SpecNode {
    kind: &'static str,
    config: Vec<(&'static str, ConfigValue)>,
    children: Option<(&'static str, Vec<SpecNode>)>,
}

struct ValueOut<'a>(&'a ConfigValue);

impl Serialize for ValueOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            ConfigValue::Int(v) => s.serialize_u64(*v),
            ConfigValue::Float(v) => s.serialize_f64(*v),
            ConfigValue::Bool(v) => s.serialize_bool(*v),
            ConfigValue::Str(v) => s.serialize_str(v),
            ConfigValue::Names(v) => s.collect_seq(v.iter()),
        }
    }
}

impl Serialize for SpecNode {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", self.kind)?;
        for (k, v) in &self.config {
            m.serialize_entry(k, &ValueOut(v))?;
        }
        if let Some((key, children)) = &self.children {
            m.serialize_entry(key, children)?;
        }
        m.end()
    }
}

/// One layer as read: the kind, configuration fields, and sub-layers under
/// one list key. Read by hand in one streaming pass: serde's derived readers
/// for tagged or untagged enums buffer the whole object in a generic tree
/// first (about 40 bytes per list entry), which would let a long activation
/// list cost twenty times its size in the file.
struct RawSpec {
    kind: String,
    fields: Vec<(String, ConfigValue)>,
    children: Option<(String, Vec<RawSpec>)>,
}

/// A JSON value inside a layer object.
enum RawValue {
    Value(ConfigValue),
    Layers(Vec<RawSpec>),
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number, a string, a boolean, a list of names or a list of layers")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<RawValue, E> {
                Ok(RawValue::Value(ConfigValue::Int(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<RawValue, E> {
                Ok(RawValue::Value(ConfigValue::Float(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<RawValue, E> {
                Ok(RawValue::Value(ConfigValue::Float(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<RawValue, E> {
                Ok(RawValue::Value(ConfigValue::Bool(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<RawValue, E> {
                Ok(RawValue::Value(ConfigValue::Str(v.to_string())))
            }
            fn visit_seq<S: SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> std::result::Result<RawValue, S::Error> {
                let mut names = NameList::default();
                let mut layers = Vec::new();
                while let Some(item) = seq.next_element::<ListItem>()? {
                    match item {
                        ListItem::Name(n) => {
                            if !names.push(&n) {
                                return Err(de::Error::custom(
                                    "more than 256 distinct names in one list",
                                ));
                            }
                        }
                        ListItem::Layer(l) => layers.push(l),
                    }
                    if !names.is_empty() && !layers.is_empty() {
                        return Err(de::Error::custom("a list mixes names and layers"));
                    }
                }
                Ok(if layers.is_empty() {
                    RawValue::Value(ConfigValue::Names(names))
                } else {
                    RawValue::Layers(layers)
                })
            }
            fn visit_map<M: MapAccess<'de>>(
                self,
                _m: M,
            ) -> std::result::Result<RawValue, M::Error> {
                Err(de::Error::custom("a layer field holds an object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// An element of a list inside a layer object: a name or a layer.
enum ListItem {
    Name(String),
    Layer(RawSpec),
}

impl<'de> Deserialize<'de> for ListItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListItem;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a name or a layer object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<ListItem, E> {
                Ok(ListItem::Name(v.to_string()))
            }
            fn visit_map<M: MapAccess<'de>>(self, m: M) -> std::result::Result<ListItem, M::Error> {
                raw_spec(m).map(ListItem::Layer)
            }
        }
        d.deserialize_any(V)
    }
}

fn raw_spec<'de, M: MapAccess<'de>>(mut m: M) -> std::result::Result<RawSpec, M::Error> {
    let mut kind = None;
    let mut fields = Vec::new();
    let mut children = None;
    while let Some(key) = m.next_key::<String>()? {
        if key == "kind" {
            kind = Some(m.next_value::<String>()?);
            continue;
        }
        if fields.iter().any(|(k, _): &(String, _)| *k == key)
            || children
                .as_ref()
                .is_some_and(|(k, _): &(String, _)| *k == key)
        {
            return Err(de::Error::custom(format!("duplicate field \"{key}\"")));
        }
        match m.next_value::<RawValue>()? {
            RawValue::Value(v) => fields.push((key, v)),
            RawValue::Layers(l) => {
                if children.is_some() {
                    return Err(de::Error::custom("a layer with two lists of sub-layers"));
                }
                children = Some((key, l));
            }
        }
    }
    let kind = kind.ok_or_else(|| de::Error::custom("a layer without \"kind\""))?;
    Ok(RawSpec {
        kind,
        fields,
        children,
    })
}

impl<'de> Deserialize<'de> for RawSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a layer object")
            }
            fn visit_map<M: MapAccess<'de>>(self, m: M) -> std::result::Result<RawSpec, M::Error> {
                raw_spec(m)
            }
        }
        d.deserialize_map(V)
    }
}

fn model_error(kind: ModelErrorKind, detail: impl Into<String>) -> Error {
    Error::Model {
        kind,
        detail: detail.into(),
    }
}

fn dtype_of<T: Real>() -> Dtype {
    if T::NAME == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// A tensor to be written: name, shape and little-endian bytes.
struct OutTensor {
    name: String,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn tensor_bytes<T: Real>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * if T::NAME == "f32" { 4 } else { 8 });
    for v in values {
        if T::NAME == "f32" {
            out.extend_from_slice(&(v.as_f64() as f32).to_le_bytes());
        } else {
            out.extend_from_slice(&v.as_f64().to_le_bytes());
        }
    }
    out
}

/// Describes `layer` (and its sub-layers) and appends its tensors under `prefix`.
fn describe<A: ActivationSet, T: Real>(
    layer: &dyn Layer<A, T>,
    prefix: &str,
    out: &mut Vec<OutTensor>,
) -> Result<SpecNode> {
    let spec = layer.spec().ok_or_else(|| {
        model_error(
            ModelErrorKind::UnsupportedLayer,
            format!("{prefix}: {} describes no spec", layer.describe()),
        )
    })?;
    for t in &spec.tensors {
        out.push(OutTensor {
            name: format!("{prefix}{}", t.name),
            shape: t.shape.clone(),
            bytes: tensor_bytes(&t.values),
        });
    }
    let children = match layer.sublayers() {
        None => None,
        Some((key, subs)) => Some((
            key,
            subs.iter()
                .enumerate()
                .map(|(i, c)| describe(c.as_ref(), &format!("{prefix}{key}.{i}."), out))
                .collect::<Result<_>>()?,
        )),
    };
    Ok(SpecNode {
        kind: spec.kind,
        config: spec.config,
        children,
    })
}

/// Reads tensors by path, checking dtype, shape and values, and counts those used.
struct FileTensors<'a> {
    file: &'a [TensorEntry<'a>],
    by_name: HashMap<&'a str, usize>,
    prefix: String,
    used: usize,
    options: LoadOptions,
}

impl<T: Real> TensorSource<T> for FileTensors<'_> {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<T>> {
        let name = format!("{}{name}", self.prefix);
        let view = self
            .by_name
            .get(name.as_str())
            .map(|&i| &self.file[i])
            .ok_or_else(|| {
                model_error(
                    ModelErrorKind::InconsistentShape,
                    format!("missing tensor {name}"),
                )
            })?;
        let want = if T::NAME == "f32" {
            FileDtype::F32
        } else {
            FileDtype::F64
        };
        if view.dtype != want {
            return Err(model_error(
                ModelErrorKind::WrongFloatType,
                format!("{name} is {}, expected {}", view.dtype.name(), T::NAME),
            ));
        }
        if view.shape != shape {
            return Err(model_error(
                ModelErrorKind::InconsistentShape,
                format!("{name} has shape {:?}, expected {shape:?}", view.shape),
            ));
        }
        self.used += 1;
        let values: Vec<T> = if T::NAME == "f32" {
            view.data
                .chunks_exact(4)
                .map(|b| T::lit(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64))
                .collect()
        } else {
            view.data
                .chunks_exact(8)
                .map(|b| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    T::lit(f64::from_le_bytes(a))
                })
                .collect()
        };
        if !self.options.allow_non_finite {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(model_error(
                    ModelErrorKind::NonFinite,
                    format!("{name}[{i}] is {}", values[i]),
                ));
            }
        }
        Ok(values)
    }
}

/// Rebuilds one layer (its sub-layers first) through the registry.
fn build<A: ActivationSet, T: Real>(
    spec: RawSpec,
    prefix: &str,
    src: &mut FileTensors<'_>,
    registry: &Registry<A, T>,
) -> Result<BoxedLayer<A, T>> {
    let builder = registry.builder(&spec.kind).ok_or_else(|| {
        model_error(
            ModelErrorKind::Malformed,
            format!(
                "{prefix}: unknown layer kind \"{}\" (not registered)",
                spec.kind
            ),
        )
    })?;
    let mut children = Vec::new();
    if let Some((key, subs)) = spec.children {
        for (i, c) in subs.into_iter().enumerate() {
            children.push(build(c, &format!("{prefix}{key}.{i}."), src, registry)?);
        }
    }
    let config = LayerConfig::new(spec.kind, prefix.to_string(), spec.fields);
    src.prefix = prefix.to_string();
    builder(&config, src, children)
}

impl<A: ActivationSet, T: Real> Network<A, T> {
    /// Predictions for raw rows through the whole pipeline `info` describes:
    /// the input scaler, the network, and the target scaler back to the
    /// targets' units (each step only when `info` has it).
    ///
    /// ```
    /// use mixact::prelude::*;
    /// use mixact::{data::Scaler, io::ModelInfo};
    ///
    /// let mut rng = ChaCha8Rng::seed_from_u64(1);
    /// let net: Network<Act> = Network::new(vec![Dense::new(2, 1, Act::Identity, &mut rng)?.into()])?;
    /// let raw_x = DMatrix::from_row_slice(2, 2, &[1.0f32, 10.0, 3.0, 30.0]);
    /// let raw_y = DMatrix::from_row_slice(2, 1, &[1000.0f32, 3000.0]);
    /// let info = ModelInfo::default()
    ///     .with_scaler(Scaler::standardize(&raw_x))
    ///     .with_target_scaler(Scaler::standardize(&raw_y))
    ///     .with_feature_names(&["rooms", "area"]);
    /// let y = net.predict_raw(&info, &raw_x)?;     // in the targets' units
    /// let by_hand = info.target_scaler().unwrap()
    ///     .inverse_transform(&net.predict(&info.scaler().unwrap().transform(&raw_x)?)?)?;
    /// assert_eq!(y, by_hand);
    /// # Ok::<(), mixact::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Model`] (`InconsistentShape`, `Malformed`) when `info` does
    /// not fit the network (as [`save_with_info`](Self::save_with_info)
    /// checks); [`Error::Shape`] when `raw` has the wrong number of columns;
    /// [`Error::NonFiniteData`] when scaling overflows; as [`predict`](Self::predict).
    pub fn predict_raw(&self, info: &ModelInfo, raw: &DMatrix<T>) -> Result<DMatrix<T>> {
        info.check_fits(self.input_width(), self.output_width())?;
        let scaled;
        let x = match info.scaler() {
            Some(s) => {
                scaled = s.transform(raw)?;
                &scaled
            }
            None => raw,
        };
        let y = self.predict(x)?;
        match info.target_scaler() {
            Some(s) => s.inverse_transform(&y),
            None => Ok(y),
        }
    }
}

impl<A: ActivationSet, T: Real> Network<A, T> {
    /// The network as the bytes of a model file (see the [format](crate::io)).
    ///
    /// # Errors
    /// [`Error::Model`] with [`ModelErrorKind::UnsupportedLayer`] when a layer
    /// describes no spec ([`Layer::spec`]).
    pub fn to_model_bytes(&self) -> Result<Vec<u8>> {
        self.encode(None)
    }

    /// The network and `info` (scaler, class names, metadata, history) as
    /// the bytes of a model file of format version 2.
    ///
    /// # Errors
    /// As [`to_model_bytes`](Self::to_model_bytes); [`Error::Model`]
    /// (`InconsistentShape`) when the scaler's width is not the input width.
    pub fn to_model_bytes_with_info(&self, info: &ModelInfo) -> Result<Vec<u8>> {
        info.check_fits(self.input_width(), self.output_width())?;
        self.encode((!info.is_empty()).then_some(info))
    }

    /// [`save`](Self::save) with `info` (see [`ModelInfo`]).
    ///
    /// # Errors
    /// As [`save`](Self::save) and [`to_model_bytes_with_info`](Self::to_model_bytes_with_info).
    pub fn save_with_info(&self, path: impl AsRef<Path>, info: &ModelInfo) -> Result<()> {
        let bytes = self.to_model_bytes_with_info(info)?;
        write_atomically(path.as_ref(), &bytes)
    }

    /// A network and its [`ModelInfo`] from a file (empty info for a version 1 file).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn load_with_info(path: impl AsRef<Path>) -> Result<(Self, ModelInfo)> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_model_bytes_with_info(&bytes, LoadOptions::default())
    }

    /// A network and its [`ModelInfo`] from model-file bytes.
    ///
    /// # Errors
    /// As [`from_model_bytes`](Self::from_model_bytes).
    pub fn from_model_bytes_with_info(
        bytes: &[u8],
        options: LoadOptions,
    ) -> Result<(Self, ModelInfo)> {
        Self::decode(bytes, options, &Registry::new())
    }

    fn encode(&self, info: Option<&ModelInfo>) -> Result<Vec<u8>> {
        let mut tensors = Vec::new();
        let network = self
            .layers()
            .iter()
            .enumerate()
            .map(|(i, l)| describe(l.as_ref(), &format!("layers.{i}."), &mut tensors))
            .collect::<Result<_>>()?;
        let header = HeaderOut {
            format: "mixact",
            version: info.map_or(1, ModelInfo::format_version),
            float: T::NAME,
            network,
            info,
        };
        let json = serde_json::to_string(&header)
            .map_err(|e| model_error(ModelErrorKind::Malformed, e.to_string()))?;
        let mut views = Vec::with_capacity(tensors.len());
        for t in &tensors {
            let view =
                TensorView::new(dtype_of::<T>(), t.shape.clone(), &t.bytes).map_err(|e| {
                    model_error(
                        ModelErrorKind::InconsistentShape,
                        format!("{}: {e}", t.name),
                    )
                })?;
            views.push((t.name.clone(), view));
        }
        let metadata = HashMap::from([(METADATA_KEY.to_string(), json)]);
        safetensors::serialize(views, Some(metadata))
            .map_err(|e| model_error(ModelErrorKind::Malformed, e.to_string()))
    }

    /// Saves the network to `path`, atomically: the bytes go to a temporary
    /// file in the same folder, which is flushed to disk and then renamed over
    /// `path`, so a crash or a full disk never leaves a half-written model in
    /// place of a good one.
    ///
    /// The temporary file is named `.NAME.tmp-PID-THREAD-COUNTER`, unique per
    /// process, thread and call, so concurrent saves to one path never share
    /// it (the last rename wins, and the file is always one whole model). It
    /// is removed on every error path. Temporary files of earlier saves that
    /// were killed mid-write (older than [`STALE_TEMP_AGE`]) are removed by
    /// the next save to the same path.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written (the old file, if any,
    /// is left intact); as [`Network::to_model_bytes`].
    ///
    /// # Example
    /// ```
    /// use mixact::{Act, Dense, Network};
    /// use mixact::prelude::*;
    ///
    /// let mut rng = ChaCha8Rng::seed_from_u64(1);
    /// let mut net: Network<Act> = Network::new(vec![Dense::new(2, 3, Act::Sin, &mut rng)?.into()])?;
    /// let path = std::env::temp_dir().join("mixact-doc-example.safetensors");
    /// net.save(&path)?;
    /// let mut back: Network<Act> = Network::load(&path)?;
    /// let x = nalgebra::DMatrix::from_element(1, 2, 0.5);
    /// assert_eq!(net.predict(&x)?, back.predict(&x)?);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), mixact::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = self.to_model_bytes()?;
        write_atomically(path.as_ref(), &bytes)
    }

    /// Loads a network saved by [`Network::save`], rejecting non-finite parameters.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; otherwise as [`Network::from_model_bytes`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(path, LoadOptions::default())
    }

    /// Loads a network with explicit options.
    ///
    /// # Errors
    /// As [`Network::load`].
    pub fn load_with(path: impl AsRef<Path>, options: LoadOptions) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_model_bytes(&bytes, options)
    }

    /// Rebuilds a network from model-file bytes, validating everything.
    /// Memory use is bounded by a small multiple of `bytes.len()`: no size
    /// read from a header is allocated before the data backing it is found.
    ///
    /// # Errors
    /// [`Error::Model`], its [`ModelErrorKind`] naming the problem:
    /// `Truncated`, `NotAModel`, `Malformed`, `UnknownVersion`,
    /// `WrongFloatType`, `UnknownActivation`, `InconsistentShape`,
    /// `NonFinite` or `TooLarge`.
    pub fn from_model_bytes(bytes: &[u8], options: LoadOptions) -> Result<Self> {
        Self::from_model_bytes_with(bytes, options, &Registry::new())
    }

    /// [`from_model_bytes`](Self::from_model_bytes) with your own registry of
    /// layer kinds: `Registry::new().with("my_layer", my_builder)` loads files
    /// holding your layer kind next to the built-in ones.
    ///
    /// # Errors
    /// As [`from_model_bytes`](Self::from_model_bytes); a kind the registry
    /// does not know is `Malformed`.
    pub fn from_model_bytes_with(
        bytes: &[u8],
        options: LoadOptions,
        registry: &Registry<A, T>,
    ) -> Result<Self> {
        Self::decode(bytes, options, registry).map(|(net, _)| net)
    }

    fn decode(
        bytes: &[u8],
        options: LoadOptions,
        registry: &Registry<A, T>,
    ) -> Result<(Self, ModelInfo)> {
        use ModelErrorKind as K;
        let container = safetensors_header::parse(bytes, MAX_HEADER, crate::limits::MAX_TENSORS)?;
        let json = container
            .mixact
            .ok_or_else(|| model_error(K::NotAModel, "no \"mixact\" metadata"))?;
        // serde copies a string with escapes through a scratch buffer that
        // doubles as it grows: no string in a valid header is longer than
        // the info text limit, so refuse longer ones before parsing.
        let longest = safetensors_header::scan_json(json.as_bytes()).longest_string;
        if longest > MAX_INFO_TEXT + 1024 {
            return Err(model_error(
                K::TooLarge,
                format!(
                    "a string of {longest} bytes in the header (info text limit {MAX_INFO_TEXT})"
                ),
            ));
        }
        let header: HeaderIn =
            serde_json::from_str(&json).map_err(|e| model_error(K::Malformed, e.to_string()))?;
        drop(json);
        if header.format != "mixact" {
            return Err(model_error(
                K::NotAModel,
                format!("format \"{}\"", header.format),
            ));
        }
        if header.version == 0 || header.version > FORMAT_VERSION {
            return Err(model_error(
                K::UnknownVersion,
                format!(
                    "version {} (this build reads 1 to {FORMAT_VERSION})",
                    header.version
                ),
            ));
        }
        if header.float != T::NAME {
            return Err(model_error(
                K::WrongFloatType,
                format!("file holds {}, asked for {}", header.float, T::NAME),
            ));
        }
        let info = header.info.unwrap_or_default();
        if header.version == 1 && !info.is_empty() {
            return Err(model_error(
                K::Malformed,
                "a version 1 file with an info object",
            ));
        }
        if info.format_version() == 3 && header.version < 3 {
            return Err(model_error(
                K::Malformed,
                format!(
                    "a version {} file with a target scaler or feature names (version 3)",
                    header.version
                ),
            ));
        }
        let file = container.tensors;
        let mut src = FileTensors {
            by_name: file
                .iter()
                .enumerate()
                .map(|(i, t)| (t.name.as_str(), i))
                .collect(),
            file: &file,
            prefix: String::new(),
            used: 0,
            options,
        };
        let mut layers = Vec::with_capacity(header.network.len());
        for (i, spec) in header.network.into_iter().enumerate() {
            layers.push(build(spec, &format!("layers.{i}."), &mut src, registry)?);
        }
        let net = Network::new(layers)
            .map_err(|e| model_error(K::InconsistentShape, format!("network: {e}")))?;
        if src.used != file.len() {
            return Err(model_error(
                K::InconsistentShape,
                format!(
                    "{} tensors in the file, the architecture uses {}",
                    file.len(),
                    src.used
                ),
            ));
        }
        info.check_fits(net.input_width(), net.output_width())?;
        Ok((net, info))
    }
}
