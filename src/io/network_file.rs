//! Saving and loading a network: `save`, `save_with`, `load` and their
//! byte twins; every other option goes through [`ModelLoader`](super::ModelLoader).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::TensorView;

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::error::{ModelErrorKind, Result};
use crate::layers::layer::Layer;
use crate::layers::network::Network;
use crate::layers::registry::Registry;

use super::header::{HeaderIn, HeaderOut};
use super::info::{ModelInfo, MAX_INFO_TEXT};
use super::tensors::{build, describe, dtype_of, FileTensors};
use super::{
    model_error, safetensors_header, write_atomically, LoadOptions, FORMAT_VERSION, MAX_HEADER,
    METADATA_KEY,
};

impl<A: ActivationSet, T: Real> Network<A, T> {
    /// The network as the bytes of a model file (see the [format](crate::io)).
    ///
    /// # Errors
    /// [`Error::Model`](crate::Error::Model) with [`ModelErrorKind::UnsupportedLayer`] when a layer
    /// describes no spec ([`Layer::spec`]).
    pub fn to_model_bytes(&self) -> Result<Vec<u8>> {
        self.encode(None)
    }

    /// The network and `info` (scalers, names, metadata, history) as the
    /// bytes of a model file (format version 2, or 3 when `info` has a
    /// target scaler or feature names).
    ///
    /// # Errors
    /// As [`to_model_bytes`](Self::to_model_bytes); [`Error::Model`](crate::Error::Model)
    /// (`InconsistentShape`) when the scaler's width is not the input width.
    pub fn to_model_bytes_with(&self, info: &ModelInfo) -> Result<Vec<u8>> {
        info.check_fits(self.input_width(), self.output_width())?;
        self.encode((!info.is_empty()).then_some(info))
    }

    /// [`save`](Self::save) with `info` (see [`ModelInfo`]); read both back
    /// with [`ModelLoader`](crate::io::ModelLoader).
    ///
    /// # Errors
    /// As [`save`](Self::save) and [`to_model_bytes_with`](Self::to_model_bytes_with).
    pub fn save_with(&self, path: impl AsRef<Path>, info: &ModelInfo) -> Result<()> {
        let bytes = self.to_model_bytes_with(info)?;
        write_atomically(path.as_ref(), &bytes)
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
    /// were killed mid-write (older than [`STALE_TEMP_AGE`](super::STALE_TEMP_AGE)) are removed by
    /// the next save to the same path.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) when the file cannot be written (the old file, if any,
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

    /// Loads a network saved by [`Network::save`] or [`Network::save_with`]
    /// (without its info), built-in layer kinds only, rejecting non-finite
    /// parameters. [`ModelLoader`](crate::io::ModelLoader) loads with the
    /// info, your own layer kinds or non-finite parameters.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) when the file cannot be read; `TooLarge`
    /// when `path` is a stream (a pipe, FIFO or device) whose header declares
    /// more than [`MAX_STREAM_MODEL_BYTES`](crate::limits::MAX_STREAM_MODEL_BYTES)
    /// of data; otherwise as [`Network::from_model_bytes`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = super::read_model_file::read_model_file(path)?;
        Self::from_model_bytes(&bytes)
    }

    /// Rebuilds a network from model-file bytes, validating everything.
    /// Memory use is bounded by a small multiple of `bytes.len()`: no size
    /// read from a header is allocated before the data backing it is found.
    ///
    /// # Errors
    /// [`Error::Model`](crate::Error::Model), its [`ModelErrorKind`] naming the problem:
    /// `Truncated`, `NotAModel`, `Malformed`, `UnknownVersion`,
    /// `WrongFloatType`, `UnknownActivation`, `InconsistentShape`,
    /// `NonFinite` or `TooLarge`.
    pub fn from_model_bytes(bytes: &[u8]) -> Result<Self> {
        Self::decode(bytes, LoadOptions::default(), &Registry::new()).map(|(net, _)| net)
    }

    pub(crate) fn decode(
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
