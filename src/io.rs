//! Model files: a network's architecture and parameters in one safetensors file.
//!
//! # Format (version 1)
//! A standard [safetensors](https://github.com/huggingface/safetensors) file:
//! - tensors named by their path in the network, PyTorch-style:
//!   `layers.0.weight` (shape `[out, in]`, PyTorch's `nn.Linear.weight`
//!   layout, which is mixact's column-major `in × out` storage byte for byte),
//!   `layers.0.bias` (`[out]`), `layers.1.alpha` (`[out, K]`, mixtures),
//!   `layers.2.slope` (`[out]`), `layers.3.branches.0.layers.0.weight` (inside
//!   a concatenation of deeper branches), dtype `F32` or `F64`;
//! - metadata key `mixact`: JSON `{"format": "mixact", "version": 1,
//!   "float": "f32", "network": [layer, ...]}`, each layer
//!   `{"kind": "dense", "inputs": 2, "outputs": 3, "activations": ["relu", "sin", "relu"]}`,
//!   `{"kind": "mixture", ..., "candidates": [...], "temperature": 1.0, ...}`,
//!   `{"kind": "slope", ..., "activation": "tanh"}`,
//!   `{"kind": "concat", "branches": [layer, ...]}` or `{"kind": "sequential", "layers": [...]}`.
//!
//! Activations are stored by [`ActivationSet::name`], so a user-defined set
//! saves and loads like the built-in one. In Python:
//! `safetensors.torch.load_file("model.safetensors")["layers.0.weight"]`.
//!
//! Saving is atomic (temporary file in the same folder, flushed, then renamed
//! over the target); loading validates everything and never panics.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use nalgebra::DMatrix;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::activation::ActivationSet;
use crate::concat::Concat;
use crate::dense::Dense;
use crate::error::{Error, ModelErrorKind, Result};
use crate::layer::Layer;
use crate::mixture::Mixture;
use crate::network::{BoxedLayer, Network};
use crate::real::Real;
use crate::slope::Slope;

/// The model-file format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;
const METADATA_KEY: &str = "mixact";
/// safetensors' own limit on the JSON header.
const MAX_HEADER: u64 = 100_000_000;

/// How old a leftover temporary file of an interrupted save must be before
/// a later save to the same path deletes it: one hour.
pub const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

static SAVE_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The prefix of every temporary file a save to `file_name` creates.
fn temp_prefix(file_name: &std::ffi::OsStr) -> String {
    format!(".{}.tmp-", file_name.to_string_lossy())
}

/// Removes temporary files of earlier saves to `file_name` in `dir` that are
/// older than [`STALE_TEMP_AGE`] (their writer was killed). Best effort.
fn remove_stale_temps(dir: &Path, file_name: &std::ffi::OsStr) {
    let prefix = temp_prefix(file_name);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` through a uniquely named temporary file in the
/// same folder, flushed and renamed over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io_error(path, std::io::Error::other("not a file path")))?;
    remove_stale_temps(&dir, file_name);
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    let counter = SAVE_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        "{}{}-{thread}-{counter}",
        temp_prefix(file_name),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable where the platform allows.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(path, e)
    })
}

/// Options for loading a model file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Accept NaN or infinite parameters instead of rejecting the file.
    pub allow_non_finite: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    float: String,
    network: Vec<LayerSpec>,
}

/// One layer of the architecture. Written as an internally tagged enum;
/// read through [`RawLayerSpec`], because serde reads an internally tagged
/// enum by first buffering the whole object in a generic tree (about 40
/// bytes per list entry), which would let a long activation list cost twenty
/// times its size in the file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    try_from = "RawLayerSpec"
)]
enum LayerSpec {
    Dense {
        inputs: usize,
        outputs: usize,
        activations: NameList,
    },
    Mixture {
        inputs: usize,
        outputs: usize,
        candidates: NameList,
        temperature: f64,
        entropy_penalty: f64,
        alpha_lr_scale: f64,
    },
    Slope {
        inputs: usize,
        outputs: usize,
        activation: String,
    },
    Concat {
        branches: Vec<LayerSpec>,
    },
    Sequential {
        layers: Vec<LayerSpec>,
    },
}

/// Every field any layer kind has, read in one streaming pass.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayerSpec {
    kind: String,
    inputs: Option<usize>,
    outputs: Option<usize>,
    activations: Option<NameList>,
    candidates: Option<NameList>,
    temperature: Option<f64>,
    entropy_penalty: Option<f64>,
    alpha_lr_scale: Option<f64>,
    activation: Option<String>,
    branches: Option<Vec<LayerSpec>>,
    layers: Option<Vec<LayerSpec>>,
}

impl TryFrom<RawLayerSpec> for LayerSpec {
    type Error = String;

    fn try_from(r: RawLayerSpec) -> std::result::Result<Self, String> {
        fn need<V>(v: Option<V>, kind: &str, field: &str) -> std::result::Result<V, String> {
            v.ok_or_else(|| format!("{kind} layer without \"{field}\""))
        }
        let k = r.kind.as_str();
        let allowed: &[&str] = match k {
            "dense" => &["inputs", "outputs", "activations"],
            "mixture" => &[
                "inputs",
                "outputs",
                "candidates",
                "temperature",
                "entropy_penalty",
                "alpha_lr_scale",
            ],
            "slope" => &["inputs", "outputs", "activation"],
            "concat" => &["branches"],
            "sequential" => &["layers"],
            other => return Err(format!("unknown layer kind \"{other}\"")),
        };
        let present = [
            ("inputs", r.inputs.is_some()),
            ("outputs", r.outputs.is_some()),
            ("activations", r.activations.is_some()),
            ("candidates", r.candidates.is_some()),
            ("temperature", r.temperature.is_some()),
            ("entropy_penalty", r.entropy_penalty.is_some()),
            ("alpha_lr_scale", r.alpha_lr_scale.is_some()),
            ("activation", r.activation.is_some()),
            ("branches", r.branches.is_some()),
            ("layers", r.layers.is_some()),
        ];
        if let Some((field, _)) = present.iter().find(|(f, p)| *p && !allowed.contains(f)) {
            return Err(format!("unknown field \"{field}\" in a {k} layer"));
        }
        Ok(match k {
            "dense" => LayerSpec::Dense {
                inputs: need(r.inputs, k, "inputs")?,
                outputs: need(r.outputs, k, "outputs")?,
                activations: need(r.activations, k, "activations")?,
            },
            "mixture" => LayerSpec::Mixture {
                inputs: need(r.inputs, k, "inputs")?,
                outputs: need(r.outputs, k, "outputs")?,
                candidates: need(r.candidates, k, "candidates")?,
                temperature: need(r.temperature, k, "temperature")?,
                entropy_penalty: need(r.entropy_penalty, k, "entropy_penalty")?,
                alpha_lr_scale: need(r.alpha_lr_scale, k, "alpha_lr_scale")?,
            },
            "slope" => LayerSpec::Slope {
                inputs: need(r.inputs, k, "inputs")?,
                outputs: need(r.outputs, k, "outputs")?,
                activation: need(r.activation, k, "activation")?,
            },
            "concat" => LayerSpec::Concat {
                branches: need(r.branches, k, "branches")?,
            },
            _ => LayerSpec::Sequential {
                layers: need(r.layers, k, "layers")?,
            },
        })
    }
}

fn model_error(kind: ModelErrorKind, detail: impl Into<String>) -> Error {
    Error::Model {
        kind,
        detail: detail.into(),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
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

fn tensor_bytes<T: Real>(values: impl Iterator<Item = T>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        if T::NAME == "f32" {
            out.extend_from_slice(&(v.as_f64() as f32).to_le_bytes());
        } else {
            out.extend_from_slice(&v.as_f64().to_le_bytes());
        }
    }
    out
}

fn names<A: ActivationSet>(acts: &[A]) -> NameList {
    let mut list = NameList::default();
    for a in acts {
        list.push(a.name());
    }
    list
}

/// A list of activation names stored compactly: each distinct name once, and
/// a 1-byte index per entry. A file's activation list of millions of entries
/// (a hostile file, or a very wide layer) then costs a byte an entry in
/// memory, not a `String` each. One list may name at most 256 distinct
/// activations.
#[derive(Debug, Default, Clone, PartialEq)]
struct NameList {
    distinct: Vec<String>,
    index: Vec<u8>,
}

impl NameList {
    /// Appends `name`; false when the list already holds 256 distinct names.
    fn push(&mut self, name: &str) -> bool {
        let i = match self.distinct.iter().position(|d| d == name) {
            Some(i) => i,
            None if self.distinct.len() <= u8::MAX as usize => {
                self.distinct.push(name.to_string());
                self.distinct.len() - 1
            }
            None => return false,
        };
        self.index.push(i as u8);
        true
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        self.index
            .iter()
            .map(|&i| self.distinct[i as usize].as_str())
    }
}

impl Serialize for NameList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for NameList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = NameList;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of activation names")
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> std::result::Result<NameList, S::Error> {
                let mut list = NameList::default();
                while let Some(name) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    if !list.push(&name) {
                        return Err(serde::de::Error::custom(
                            "more than 256 distinct activation names in one list",
                        ));
                    }
                }
                Ok(list)
            }
        }
        d.deserialize_seq(Visitor)
    }
}

/// Describes `layer` and appends its tensors under `prefix`.
fn describe_layer<A: ActivationSet, T: Real>(
    layer: &dyn Layer<A, T>,
    prefix: &str,
    out: &mut Vec<OutTensor>,
) -> Result<LayerSpec> {
    let any = layer.as_any();
    let mut push = |name: &str, shape: Vec<usize>, bytes: Vec<u8>| {
        out.push(OutTensor {
            name: format!("{prefix}{name}"),
            shape,
            bytes,
        })
    };
    let (inputs, outputs) = (layer.input_width(), layer.output_width());
    if let Some(d) = any.downcast_ref::<Dense<A, T>>() {
        push(
            "weight",
            vec![outputs, inputs],
            tensor_bytes(d.weight().iter().copied()),
        );
        push("bias", vec![outputs], tensor_bytes(d.bias().into_iter()));
        Ok(LayerSpec::Dense {
            inputs,
            outputs,
            activations: names(d.mask()),
        })
    } else if let Some(m) = any.downcast_ref::<Mixture<A, T>>() {
        let k = m.candidates().len();
        let alpha = m.alpha();
        push(
            "weight",
            vec![outputs, inputs],
            tensor_bytes(m.weight().iter().copied()),
        );
        push("bias", vec![outputs], tensor_bytes(m.bias().into_iter()));
        push(
            "alpha",
            vec![outputs, k],
            tensor_bytes((0..outputs * k).map(|i| alpha[(i / k, i % k)])),
        );
        Ok(LayerSpec::Mixture {
            inputs,
            outputs,
            candidates: names(m.candidates()),
            temperature: m.temperature().as_f64(),
            entropy_penalty: m.entropy_penalty().as_f64(),
            alpha_lr_scale: m.alpha_lr_scale().as_f64(),
        })
    } else if let Some(s) = any.downcast_ref::<Slope<A, T>>() {
        push(
            "weight",
            vec![outputs, inputs],
            tensor_bytes(s.weight().iter().copied()),
        );
        push("bias", vec![outputs], tensor_bytes(s.bias().into_iter()));
        push("slope", vec![outputs], tensor_bytes(s.slopes().into_iter()));
        Ok(LayerSpec::Slope {
            inputs,
            outputs,
            activation: s.activation().name().to_string(),
        })
    } else if let Some(c) = any.downcast_ref::<Concat<A, T>>() {
        let branches = c
            .branches()
            .iter()
            .enumerate()
            .map(|(i, b)| describe_layer(b.as_ref(), &format!("{prefix}branches.{i}."), out))
            .collect::<Result<_>>()?;
        Ok(LayerSpec::Concat { branches })
    } else if let Some(n) = any.downcast_ref::<Network<A, T>>() {
        Ok(LayerSpec::Sequential {
            layers: describe_layers(n, prefix, out)?,
        })
    } else {
        Err(model_error(
            ModelErrorKind::UnsupportedLayer,
            format!("{prefix}: {}", layer.describe()),
        ))
    }
}

fn describe_layers<A: ActivationSet, T: Real>(
    net: &Network<A, T>,
    prefix: &str,
    out: &mut Vec<OutTensor>,
) -> Result<Vec<LayerSpec>> {
    net.layers()
        .iter()
        .enumerate()
        .map(|(i, l)| describe_layer(l.as_ref(), &format!("{prefix}layers.{i}."), out))
        .collect()
}

/// Reads tensors by name, checking dtype, shape and values, and tracks which were used.
struct TensorSource<'a> {
    file: &'a SafeTensors<'a>,
    used: usize,
    options: LoadOptions,
}

impl TensorSource<'_> {
    fn read<T: Real>(&mut self, name: &str, shape: &[usize]) -> Result<Vec<T>> {
        let view = self.file.tensor(name).map_err(|_| {
            model_error(
                ModelErrorKind::InconsistentShape,
                format!("missing tensor {name}"),
            )
        })?;
        if view.dtype() != dtype_of::<T>() {
            return Err(model_error(
                ModelErrorKind::WrongFloatType,
                format!("{name} is {:?}, expected {}", view.dtype(), T::NAME),
            ));
        }
        if view.shape() != shape {
            return Err(model_error(
                ModelErrorKind::InconsistentShape,
                format!("{name} has shape {:?}, expected {shape:?}", view.shape()),
            ));
        }
        self.used += 1;
        let values: Vec<T> = if T::NAME == "f32" {
            view.data()
                .chunks_exact(4)
                .map(|b| T::lit(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64))
                .collect()
        } else {
            view.data()
                .chunks_exact(8)
                .map(|b| T::lit(f64::from_le_bytes(b.try_into().expect("8-byte chunk"))))
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

    /// An `[out, in]` tensor as an `in × out` matrix (same bytes).
    fn matrix<T: Real>(&mut self, name: &str, inputs: usize, outputs: usize) -> Result<DMatrix<T>> {
        let v = self.read(name, &[outputs, inputs])?;
        Ok(DMatrix::from_vec(inputs, outputs, v))
    }
}

fn activation<A: ActivationSet>(name: &str) -> Result<A> {
    A::from_name(name).ok_or_else(|| {
        model_error(
            ModelErrorKind::UnknownActivation,
            format!("\"{name}\" is not in {}", std::any::type_name::<A>()),
        )
    })
}

fn activations<A: ActivationSet>(names: &NameList, outputs: usize) -> Result<Vec<A>> {
    if names.len() != outputs {
        return Err(model_error(
            ModelErrorKind::InconsistentShape,
            format!("{} activations for {outputs} neurons", names.len()),
        ));
    }
    let distinct: Vec<A> = names
        .distinct
        .iter()
        .map(|n| activation(n))
        .collect::<Result<_>>()?;
    Ok(names.index.iter().map(|&i| distinct[i as usize]).collect())
}

/// Any construction error while rebuilding means tensors and architecture disagree.
fn inconsistent(prefix: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| model_error(ModelErrorKind::InconsistentShape, format!("{prefix}: {e}"))
}

fn build_layer<A: ActivationSet, T: Real>(
    spec: &LayerSpec,
    prefix: &str,
    src: &mut TensorSource<'_>,
) -> Result<BoxedLayer<A, T>> {
    let name = |n: &str| format!("{prefix}{n}");
    Ok(match spec {
        LayerSpec::Dense {
            inputs,
            outputs,
            activations: acts,
        } => {
            let mask = activations::<A>(acts, *outputs)?;
            let w = src.matrix(&name("weight"), *inputs, *outputs)?;
            let b = src.read(&name("bias"), &[*outputs])?;
            Dense::from_parts(w, b, &mask)
                .map_err(inconsistent(prefix))?
                .into()
        }
        LayerSpec::Mixture {
            inputs,
            outputs,
            candidates,
            temperature,
            entropy_penalty,
            alpha_lr_scale,
        } => {
            let cands = activations::<A>(candidates, candidates.len())?;
            let w = src.matrix(&name("weight"), *inputs, *outputs)?;
            let b = src.read(&name("bias"), &[*outputs])?;
            let k = cands.len();
            let a = src.read::<T>(&name("alpha"), &[*outputs, k])?;
            let alpha = DMatrix::from_fn(*outputs, k, |n, j| a[n * k + j]);
            let bad = |e| model_error(ModelErrorKind::Malformed, format!("{prefix}: {e}"));
            Mixture::from_parts(w, b, &cands, alpha)
                .map_err(inconsistent(prefix))?
                .with_temperature(T::lit(*temperature))
                .map_err(bad)?
                .with_entropy_penalty(T::lit(*entropy_penalty))
                .map_err(bad)?
                .with_alpha_lr_scale(T::lit(*alpha_lr_scale))
                .map_err(bad)?
                .into()
        }
        LayerSpec::Slope {
            inputs,
            outputs,
            activation: act,
        } => {
            let act = activation::<A>(act)?;
            let w = src.matrix(&name("weight"), *inputs, *outputs)?;
            let b = src.read(&name("bias"), &[*outputs])?;
            let s = src.read(&name("slope"), &[*outputs])?;
            Slope::from_parts(w, b, act, s)
                .map_err(inconsistent(prefix))?
                .into()
        }
        LayerSpec::Concat { branches } => {
            let built = branches
                .iter()
                .enumerate()
                .map(|(i, b)| build_layer(b, &format!("{prefix}branches.{i}."), src))
                .collect::<Result<_>>()?;
            Concat::new(built).map_err(inconsistent(prefix))?.into()
        }
        LayerSpec::Sequential { layers } => build_network(layers, prefix, src)?.into(),
    })
}

fn build_network<A: ActivationSet, T: Real>(
    specs: &[LayerSpec],
    prefix: &str,
    src: &mut TensorSource<'_>,
) -> Result<Network<A, T>> {
    let layers = specs
        .iter()
        .enumerate()
        .map(|(i, s)| build_layer(s, &format!("{prefix}layers.{i}."), src))
        .collect::<Result<_>>()?;
    Network::new(layers).map_err(inconsistent(if prefix.is_empty() {
        "network"
    } else {
        prefix
    }))
}

impl<A: ActivationSet, T: Real> Network<A, T> {
    /// The network as the bytes of a model file (see the [format](crate::io)).
    ///
    /// # Errors
    /// [`Error::Model`] with [`ModelErrorKind::UnsupportedLayer`] when a layer
    /// is not one of mixact's layer types.
    pub fn to_model_bytes(&self) -> Result<Vec<u8>> {
        let mut tensors = Vec::new();
        let network = describe_layers(self, "", &mut tensors)?;
        let header = Header {
            format: "mixact".into(),
            version: FORMAT_VERSION,
            float: T::NAME.into(),
            network,
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
    /// use rand::SeedableRng;
    ///
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
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
        let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
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
        use ModelErrorKind as K;
        let header_len = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| {
                model_error(K::Truncated, format!("{} bytes, no header", bytes.len()))
            })?;
        if header_len > MAX_HEADER {
            return Err(model_error(
                K::TooLarge,
                format!("header of {header_len} bytes (limit {MAX_HEADER})"),
            ));
        }
        if 8 + header_len > bytes.len() as u64 {
            return Err(model_error(
                K::Truncated,
                format!(
                    "header declares {header_len} bytes, file has {}",
                    bytes.len()
                ),
            ));
        }
        // safetensors parses each tensor entry through a generic buffer of
        // about 1 KB; bound the number of JSON objects (tensor entries and
        // layer descriptions) first, so a header of millions of tiny entries
        // cannot cost a thousand times its size.
        let header_bytes = &bytes[8..8 + header_len as usize];
        let objects = header_bytes.iter().filter(|&&b| b == b'{').count();
        if objects > crate::limits::MAX_TENSORS + 2 {
            return Err(model_error(
                K::TooLarge,
                format!(
                    "header holds {objects} JSON objects (tensors and layers); the limit is {}",
                    crate::limits::MAX_TENSORS
                ),
            ));
        }
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| match e {
            safetensors::SafeTensorError::MetadataIncompleteBuffer => {
                model_error(K::Truncated, "tensor data shorter or longer than declared")
            }
            safetensors::SafeTensorError::ValidationOverflow => {
                model_error(K::TooLarge, "tensor sizes overflow")
            }
            other => model_error(K::NotAModel, format!("not a safetensors file: {other}")),
        })?;
        let json = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .ok_or_else(|| model_error(K::NotAModel, "no \"mixact\" metadata"))?;
        let header: Header =
            serde_json::from_str(json).map_err(|e| model_error(K::Malformed, e.to_string()))?;
        drop(meta);
        if header.format != "mixact" {
            return Err(model_error(
                K::NotAModel,
                format!("format \"{}\"", header.format),
            ));
        }
        if header.version != FORMAT_VERSION {
            return Err(model_error(
                K::UnknownVersion,
                format!(
                    "version {} (this build reads {FORMAT_VERSION})",
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
        let file = SafeTensors::deserialize(bytes)
            .map_err(|e| model_error(K::NotAModel, e.to_string()))?;
        let mut src = TensorSource {
            file: &file,
            used: 0,
            options,
        };
        let net = build_network(&header.network, "", &mut src)?;
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
        Ok(net)
    }
}
