//! The registry of layer kinds: how a model file's `{"kind": ...}` becomes a
//! layer again. Each kind's builder lives in that kind's own file; this file
//! only lists them.

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::error::Result;
use crate::layers::layer::BoxedLayer;
use crate::layers::spec::{LayerConfig, TensorSource};

/// Rebuilds one layer from its configuration, its tensors and (for
/// containers) its already rebuilt sub-layers.
pub type LayerBuilder<A, T> =
    fn(&LayerConfig, &mut dyn TensorSource<T>, Vec<BoxedLayer<A, T>>) -> Result<BoxedLayer<A, T>>;

/// Layer kinds by name, with their builders.
///
/// # Example
/// ```
/// use mixact::extend::Registry;
/// use mixact::io::ModelLoader;
/// use mixact::Act;
///
/// // Every built-in kind; `.with("scale", Scale::build)` adds one of your
/// // own (the README's "Writing your own layer" has a complete one).
/// let registry: Registry<Act, f32> = Registry::new();
/// let loader = ModelLoader::new().with_registry(registry);
/// # let _ = loader;
/// ```
pub struct Registry<A, T> {
    kinds: Vec<(String, LayerBuilder<A, T>)>,
}

impl<A: ActivationSet, T: Real> Default for Registry<A, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: ActivationSet, T: Real> std::fmt::Debug for Registry<A, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.kinds.iter().map(|(k, _)| k))
            .finish()
    }
}

impl<A: ActivationSet, T: Real> Registry<A, T> {
    /// The built-in layer kinds.
    pub fn new() -> Self {
        Registry::empty()
            .with("dense", crate::layers::dense::build)
            .with("mixture", crate::layers::mixture::build)
            .with("slope", crate::layers::slope::build)
            .with("dropout", crate::layers::dropout::build)
            .with("layer_norm", crate::layers::layer_norm::build)
            .with("concat", crate::layers::concat::build)
            .with("average", crate::layers::average::build)
            .with("sequential", crate::layers::network::build)
    }

    /// No layer kinds at all.
    pub fn empty() -> Self {
        Registry { kinds: Vec::new() }
    }

    /// Registers (or replaces) the builder of `kind`.
    pub fn with(mut self, kind: &str, builder: LayerBuilder<A, T>) -> Self {
        self.kinds.retain(|(k, _)| k != kind);
        self.kinds.push((kind.to_string(), builder));
        self
    }

    /// The builder of `kind`, if registered.
    pub fn builder(&self, kind: &str) -> Option<LayerBuilder<A, T>> {
        self.kinds.iter().find(|(k, _)| k == kind).map(|(_, b)| *b)
    }

    /// The registered kinds, in registration order.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.iter().map(|(k, _)| k.as_str())
    }
}
