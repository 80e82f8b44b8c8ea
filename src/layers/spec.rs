//! What a layer says about itself so that it can be saved and rebuilt: its
//! kind, its configuration and its tensors ([`LayerSpec`]), and what a
//! builder reads back ([`LayerConfig`], [`TensorSource`]).
//!
//! The model-file format (see [`io`](crate::io)) writes a spec as one JSON
//! object, `{"kind": ..., <configuration fields>..., <"layers" | "branches">:
//! [children]}`, and the tensors under their paths. Nothing here depends on
//! the file format, so a layer kind needs no feature flag to describe itself.

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::error::{Error, ModelErrorKind, Result};
use crate::layers::layer::BoxedLayer;

/// A list of names stored compactly: each distinct name once, and a 1-byte
/// index per entry. An activation list of millions of entries (a very wide
/// layer, or a hostile file) costs a byte an entry, not a `String` each. One
/// list holds at most 256 distinct names.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NameList {
    distinct: Vec<String>,
    index: Vec<u8>,
}

impl NameList {
    /// The names of `acts`, in order.
    pub fn of_activations<A: ActivationSet>(acts: &[A]) -> Self {
        let mut list = NameList::default();
        for a in acts {
            // An activation set has far fewer than 256 members in practice;
            // a set with more cannot be saved in one list.
            let _ = list.push(a.name());
        }
        list
    }

    /// Appends `name`; false when the list already holds 256 distinct names.
    pub fn push(&mut self, name: &str) -> bool {
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

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.index
            .iter()
            .map(|&i| self.distinct[i as usize].as_str())
    }

    /// The entries as activations of set `A`, looking each distinct name up once.
    ///
    /// # Errors
    /// [`Error::Model`] with [`ModelErrorKind::UnknownActivation`] for a name `A` does not know.
    pub fn activations<A: ActivationSet>(&self) -> Result<Vec<A>> {
        let distinct: Vec<A> = self
            .distinct
            .iter()
            .map(|n| {
                A::from_name(n).ok_or_else(|| Error::Model {
                    kind: ModelErrorKind::UnknownActivation,
                    detail: format!("\"{n}\" is not in {}", std::any::type_name::<A>()),
                })
            })
            .collect::<Result<_>>()?;
        Ok(self.index.iter().map(|&i| distinct[i as usize]).collect())
    }
}

/// One configuration value of a layer.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// A non-negative integer (a width).
    Int(u64),
    /// A float (a temperature, a probability).
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string (one activation's name).
    Str(String),
    /// A list of names (one activation per neuron, a list of candidates).
    Names(NameList),
}

/// One tensor in its canonical layout (the layout the model file stores).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorData<T> {
    /// Its name within the layer ("weight", "bias", ...).
    pub name: &'static str,
    /// Its shape, PyTorch-style (`[out, in]` for a weight).
    pub shape: Vec<usize>,
    /// Its values, row-major over `shape`.
    pub values: Vec<T>,
}

/// What a layer records about itself in a model file.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec<T> {
    /// The kind, as registered with the [`Registry`](crate::extend::Registry): `"dense"`, `"dropout"`, ...
    pub kind: &'static str,
    /// Configuration fields, in the order they are written.
    pub config: Vec<(&'static str, ConfigValue)>,
    /// The layer's own tensors (containers have none: their sub-layers carry theirs).
    pub tensors: Vec<TensorData<T>>,
}

impl<T> LayerSpec<T> {
    /// A spec of `kind` with no configuration and no tensors.
    pub fn new(kind: &'static str) -> Self {
        LayerSpec {
            kind,
            config: Vec::new(),
            tensors: Vec::new(),
        }
    }

    /// Adds a configuration field.
    pub fn with(mut self, key: &'static str, value: ConfigValue) -> Self {
        self.config.push((key, value));
        self
    }

    /// Adds a tensor.
    pub fn with_tensor(mut self, name: &'static str, shape: Vec<usize>, values: Vec<T>) -> Self {
        self.tensors.push(TensorData {
            name,
            shape,
            values,
        });
        self
    }
}

fn malformed(detail: String) -> Error {
    Error::Model {
        kind: ModelErrorKind::Malformed,
        detail,
    }
}

/// A layer's configuration as read back from a file, for its builder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerConfig {
    /// The kind.
    pub kind: String,
    /// Where the layer sits in the network (`"layers.1."`), for error messages.
    pub path: String,
    fields: Vec<(String, ConfigValue)>,
}

impl LayerConfig {
    /// A configuration of `kind` at `path` with `fields`.
    pub fn new(kind: String, path: String, fields: Vec<(String, ConfigValue)>) -> Self {
        LayerConfig { kind, path, fields }
    }

    fn get(&self, key: &str) -> Result<&ConfigValue> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| {
                malformed(format!(
                    "{}: {} layer without \"{key}\"",
                    self.path, self.kind
                ))
            })
    }

    fn wrong(&self, key: &str, what: &str) -> Error {
        malformed(format!("{}: \"{key}\" must be {what}", self.path))
    }

    /// Checks that no field outside `keys` is present (a typo is an error, not a silent default).
    ///
    /// # Errors
    /// [`Error::Model`] (`Malformed`) naming the unknown field.
    pub fn only(&self, keys: &[&str]) -> Result<()> {
        match self
            .fields
            .iter()
            .find(|(k, _)| !keys.contains(&k.as_str()))
        {
            None => Ok(()),
            Some((k, _)) => Err(malformed(format!(
                "{}: unknown field \"{k}\" in a {} layer",
                self.path, self.kind
            ))),
        }
    }

    /// Field `key` as a width.
    ///
    /// # Errors
    /// [`Error::Model`] (`Malformed`) when missing or not a non-negative integer.
    pub fn usize(&self, key: &str) -> Result<usize> {
        match self.get(key)? {
            ConfigValue::Int(v) => usize::try_from(*v).map_err(|_| self.wrong(key, "a width")),
            _ => Err(self.wrong(key, "a non-negative integer")),
        }
    }

    /// Field `key` as a float (integers accepted).
    ///
    /// # Errors
    /// [`Error::Model`] (`Malformed`) when missing or not a number.
    pub fn f64(&self, key: &str) -> Result<f64> {
        match self.get(key)? {
            ConfigValue::Float(v) => Ok(*v),
            ConfigValue::Int(v) => Ok(*v as f64),
            _ => Err(self.wrong(key, "a number")),
        }
    }

    /// Field `key` as a float, or `default` when the field is absent.
    ///
    /// # Errors
    /// [`Error::Model`] (`Malformed`) when present but not a number.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        if self.fields.iter().any(|(k, _)| k == key) {
            self.f64(key)
        } else {
            Ok(default)
        }
    }

    /// Field `key` as a boolean, or `default` when the field is absent.
    ///
    /// # Errors
    /// [`Error::Model`] (`Malformed`) when present but not a boolean.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        if self.fields.iter().any(|(k, _)| k == key) {
            self.bool(key)
        } else {
            Ok(default)
        }
    }

    /// Field `key` as a boolean.
    ///
    /// # Errors
    /// [`Error::Model`] (`Malformed`) when missing or not a boolean.
    pub fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key)? {
            ConfigValue::Bool(v) => Ok(*v),
            _ => Err(self.wrong(key, "true or false")),
        }
    }

    /// Field `key` as one activation of set `A`.
    ///
    /// # Errors
    /// [`Error::Model`]: `Malformed` when missing or not a string,
    /// `UnknownActivation` for a name `A` does not know.
    pub fn activation<A: ActivationSet>(&self, key: &str) -> Result<A> {
        match self.get(key)? {
            ConfigValue::Str(s) => A::from_name(s).ok_or_else(|| Error::Model {
                kind: ModelErrorKind::UnknownActivation,
                detail: format!("\"{s}\" is not in {}", std::any::type_name::<A>()),
            }),
            _ => Err(self.wrong(key, "an activation name")),
        }
    }

    /// Field `key` as a list of activations of set `A`; with `len`, it must have that many.
    ///
    /// # Errors
    /// [`Error::Model`]: `Malformed` when missing or not a list of names,
    /// `InconsistentShape` for the wrong length, `UnknownActivation` for an unknown name.
    pub fn activations<A: ActivationSet>(&self, key: &str, len: Option<usize>) -> Result<Vec<A>> {
        match self.get(key)? {
            ConfigValue::Names(names) => {
                if let Some(n) = len.filter(|&n| n != names.len()) {
                    return Err(Error::Model {
                        kind: ModelErrorKind::InconsistentShape,
                        detail: format!(
                            "{}: {} entries in \"{key}\" for {n} neurons",
                            self.path,
                            names.len()
                        ),
                    });
                }
                names.activations()
            }
            _ => Err(self.wrong(key, "a list of activation names")),
        }
    }
}

/// Where a builder reads its layer's tensors from: by the layer-local name
/// and the shape the configuration implies, values in canonical layout.
pub trait TensorSource<T> {
    /// The values of tensor `name` of the layer being built, which must have `shape`.
    ///
    /// # Errors
    /// [`Error::Model`]: `InconsistentShape` for a missing tensor or another
    /// shape, `WrongFloatType`, `NonFinite` (unless allowed).
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<T>>;
}

/// For builders of leaf kinds: sub-layers are an error.
///
/// # Errors
/// [`Error::Model`] (`Malformed`) when `children` is not empty.
pub fn no_sublayers<A, T>(config: &LayerConfig, children: &[BoxedLayer<A, T>]) -> Result<()>
where
    A: ActivationSet,
    T: Real,
{
    if children.is_empty() {
        Ok(())
    } else {
        Err(Error::Model {
            kind: ModelErrorKind::Malformed,
            detail: format!("{}: a {} layer has no sub-layers", config.path, config.kind),
        })
    }
}

/// For builders: a construction error while rebuilding means the file's
/// tensors and configuration disagree.
pub fn inconsistent(config: &LayerConfig) -> impl Fn(Error) -> Error + '_ {
    move |e| Error::Model {
        kind: ModelErrorKind::InconsistentShape,
        detail: format!("{}: {e}", config.path),
    }
}
