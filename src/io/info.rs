//! [`ModelInfo`]: what travels with a model besides its layers, and the
//! pipeline it describes ([`Network::predict_raw`]).

use std::collections::BTreeMap;

use nalgebra::DMatrix;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::data::Scaler;
use crate::error::{ModelErrorKind, Result};
use crate::layers::layer::Layer;
use crate::layers::network::Network;

use super::model_error;

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
/// let bytes = net.to_model_bytes_with(&info)?;
/// let (back, back_info) = mixact::io::ModelLoader::<Act>::new().from_bytes(&bytes)?;
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

/// A list read element by element that refuses its `limit + 1`-th entry:
/// the one bounded list reader behind every list of [`ModelInfo`].
struct BoundedList<T> {
    limit: usize,
    what: &'static str,
    element: std::marker::PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for BoundedList<T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a list of {}", self.what)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> std::result::Result<Vec<T>, S::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<T>()? {
            if out.len() == self.limit {
                return Err(de::Error::custom(format!(
                    "more than {} {}",
                    self.limit, self.what
                )));
            }
            out.push(v);
        }
        Ok(out)
    }
}

fn bounded_list<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
    limit: usize,
    what: &'static str,
) -> std::result::Result<Vec<T>, D::Error> {
    d.deserialize_seq(BoundedList {
        limit,
        what,
        element: std::marker::PhantomData,
    })
}

fn bounded_floats<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<f64>, D::Error> {
    bounded_list(d, MAX_INFO_LIST, "numbers")
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
    bounded_list(d, MAX_INFO_NAMES, "names").map(Some)
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
    pub(super) fn format_version(&self) -> u32 {
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
    pub(super) fn check_fits(&self, inputs: usize, outputs: usize) -> Result<()> {
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
    /// [`Error::Model`](crate::Error::Model) (`InconsistentShape`, `Malformed`) when `info` does
    /// not fit the network (as [`save_with`](Self::save_with)
    /// checks); [`Error::Shape`](crate::Error::Shape) when `raw` has the wrong number of columns;
    /// [`Error::NonFiniteData`](crate::Error::NonFiniteData) when scaling overflows; as [`predict`](Self::predict).
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
