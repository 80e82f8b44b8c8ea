//! [`ModelLoader`]: every way of loading a model file through one value.

use std::path::Path;

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::error::Result;
use crate::io::{LoadOptions, ModelInfo};
use crate::layers::network::Network;
use crate::layers::registry::Registry;

/// How to load a model file: which layer kinds to know (the built-in ones,
/// or your own [`Registry`]) and whether non-finite parameters are
/// accepted. It loads from a path or from bytes, and always gives the
/// network together with its [`ModelInfo`] (empty for a file without one),
/// so no combination of options needs a method of its own.
///
/// # Example
/// ```
/// use mixact::prelude::*;
/// use mixact::io::{ModelInfo, ModelLoader};
///
/// let mut rng = ChaCha8Rng::seed_from_u64(1);
/// let net: Network<Act> = Network::new(vec![Dense::new(2, 1, Act::Tanh, &mut rng)?.into()])?;
/// let info = ModelInfo::default().with_feature_names(&["a", "b"]);
/// let bytes = net.to_model_bytes_with(&info)?;
/// let (back, back_info) = ModelLoader::<Act>::new().from_bytes(&bytes)?;
/// assert_eq!(back_info, info);
/// # let _ = back;
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Debug)]
pub struct ModelLoader<A: ActivationSet, T: Real = f32> {
    options: LoadOptions,
    registry: Registry<A, T>,
}

impl<A: ActivationSet, T: Real> Default for ModelLoader<A, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: ActivationSet, T: Real> ModelLoader<A, T> {
    /// The built-in layer kinds, finite parameters only.
    pub fn new() -> Self {
        ModelLoader {
            options: LoadOptions::default(),
            registry: Registry::new(),
        }
    }

    /// Knows the layer kinds of `registry` (which normally extends
    /// [`Registry::new`] with your own kinds).
    pub fn with_registry(mut self, registry: Registry<A, T>) -> Self {
        self.registry = registry;
        self
    }

    /// Accepts NaN or infinite parameters (`true`) instead of refusing the file.
    pub fn with_non_finite(mut self, allow: bool) -> Self {
        self.options.allow_non_finite = allow;
        self
    }

    /// The network and its info from model-file bytes.
    ///
    /// # Errors
    /// As [`Network::from_model_bytes`]; a layer kind the registry does not
    /// know is `Malformed`.
    pub fn from_bytes(&self, bytes: &[u8]) -> Result<(Network<A, T>, ModelInfo)> {
        Network::decode(bytes, self.options, &self.registry)
    }

    /// The network and its info from the file at `path`.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) naming the path when it cannot be read;
    /// `TooLarge` when `path` is a stream (a pipe, FIFO or device) whose
    /// header declares more than
    /// [`MAX_STREAM_MODEL_BYTES`](crate::limits::MAX_STREAM_MODEL_BYTES) of
    /// data; as [`from_bytes`](Self::from_bytes).
    pub fn from_path(&self, path: impl AsRef<Path>) -> Result<(Network<A, T>, ModelInfo)> {
        let path = path.as_ref();
        let bytes = super::read_model_file::read_model_file(path)?;
        self.from_bytes(&bytes)
    }
}
