//! The kit for extending mixact: your own layer kinds, activation sets and
//! optimisers, with everything they need in one place.
//!
//! - **A layer kind**: implement [`Layer`](crate::Layer) (parameters as
//!   [`Param`]s with an [`OwnedTensorId`] each; start `forward` and
//!   `backward` with [`check_forward_input`] and [`check_backward_shapes`]
//!   so a wrong shape is an error, never a panic). To save and load it,
//!   return a [`LayerSpec`] from `Layer::spec` and register a
//!   [`LayerBuilder`] in a [`Registry`], which
//!   [`ModelLoader::with_registry`](crate::io::ModelLoader::with_registry)
//!   takes. `tests/layers/custom_layer.rs` in the repository is a complete,
//!   tested example.
//! - **An activation set**: implement [`ActivationSet`](crate::ActivationSet)
//!   (with [`Fan`] for the initialisation each activation wants);
//!   `examples/custom_activation.rs` is one.
//! - **An optimiser**: implement [`Optimizer`](crate::Optimizer) with its
//!   per-tensor state in [`ParamStates`], keyed by [`TensorId`], which
//!   gives the divergence guard its exact rollback ([`TensorUpdate`]).

pub use crate::compute::activation::Fan;
pub use crate::compute::matrix::MatRef;
pub use crate::layers::layer::{
    check_backward_shapes, check_forward_input, BoxedLayer, CloneLayer, Param,
};
pub use crate::layers::registry::{LayerBuilder, Registry};
pub use crate::layers::spec::{
    inconsistent, no_sublayers, ConfigValue, LayerConfig, LayerSpec, NameList, TensorData,
    TensorSource,
};
pub use crate::layers::tensor_id::{OwnedTensorId, TensorId};
pub use crate::train::optim::{ParamStates, TensorUpdate};
