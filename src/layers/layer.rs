//! The [`Layer`] trait: what computing a layer means (shapes, forward,
//! backward, parameters), plus the little structure that saving and tree
//! transformations need (a spec, the sub-layers of containers). Anything
//! that means something for one layer kind only (hardening a mixture,
//! dropout's training mode) lives with that kind, not here.

use std::any::Any;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::MatRef;
use crate::compute::real::Real;
use crate::error::Result;
use crate::layers::spec::LayerSpec;
use crate::layers::tensor_id::TensorId;

/// One trainable tensor and its gradient, as a parameter walk yields them.
#[derive(Debug)]
pub struct Param<'a, T> {
    /// The tensor's name within its layer: "weight", "bias", ...
    /// ([`visit_named_params`](crate::tree::visit_named_params) gives the full path).
    pub name: &'static str,
    /// The tensor's identity, which optimiser state is bound to (see [`TensorId`]).
    pub id: TensorId,
    /// The values, updated in place by optimisers (in the layer's storage order).
    pub value: &'a mut [T],
    /// The gradient of the last backward pass (same length as `value`).
    pub grad: &'a [T],
    /// Whether weight decay applies (weights yes, biases no).
    pub decay: bool,
    /// A factor on the optimiser's learning rate for this tensor (1 for most;
    /// mixture logits may have their own).
    pub lr_scale: T,
}

/// A boxed layer, as containers hold them. Every built-in layer converts
/// into one with `.into()` (each kind's file holds its `From` impl; for a
/// layer of your own, `Box::new(layer)` or the same three-line impl).
pub type BoxedLayer<A, T = f32> = Box<dyn Layer<A, T>>;

/// Cloning behind a `Box<dyn Layer>`: implemented for every layer that is
/// `Clone`, so a layer kind only derives `Clone`. A clone is a new layer:
/// its tensors get new [`TensorId`]s, so optimiser state never crosses over.
pub trait CloneLayer<A: ActivationSet, T: Real> {
    /// A boxed copy of the layer.
    fn clone_layer(&self) -> BoxedLayer<A, T>;
}

impl<A: ActivationSet, T: Real, L: Layer<A, T> + Clone> CloneLayer<A, T> for L {
    fn clone_layer(&self) -> BoxedLayer<A, T> {
        Box::new(self.clone())
    }
}

impl<A: ActivationSet, T: Real> Clone for BoxedLayer<A, T> {
    fn clone(&self) -> Self {
        self.clone_layer()
    }
}

/// A differentiable map from a batch of inputs to a batch of outputs, with its own parameters.
///
/// Every layer kind implements it: [`Dense`](crate::Dense) (dense,
/// concatenated one-layer branches and per-neuron masks: one core),
/// [`Mixture`](crate::Mixture), [`Slope`](crate::Slope),
/// [`Dropout`](crate::Dropout), [`LayerNorm`](crate::LayerNorm), and the
/// containers [`Concat`](crate::Concat) and [`Network`](crate::Network).
/// `Layer: Any`, so a `&dyn Layer` can be downcast to its concrete type
/// (`(layer as &dyn Any).downcast_ref::<Dense<Act>>()`); layers are `Clone`
/// (through [`CloneLayer`]) and `Sync`, so a trained network can be copied
/// and shared between threads for inference.
///
/// The protocol is stateful so that no step allocates: `forward` keeps what
/// `backward` needs in the layer's own buffers, [`output`](Self::output) and
/// [`input_grad`](Self::input_grad) borrow the results, and `backward`
/// *overwrites* the parameter gradients (no zeroing needed between steps).
///
/// # Shapes
/// Inputs are `batch × input_width`, outputs `batch × output_width`,
/// column-major (each neuron's batch values contiguous).
pub trait Layer<A: ActivationSet, T: Real = f32>: Any + Send + Sync + CloneLayer<A, T> {
    /// Number of input features.
    fn input_width(&self) -> usize;

    /// Number of output neurons.
    fn output_width(&self) -> usize;

    /// Computes the output for batch `x`, kept until the next `forward`.
    ///
    /// # Errors
    /// [`Error::Shape`](crate::Error::Shape) when `x` does not have
    /// `input_width` columns, [`Error::ZeroWidth`](crate::Error::ZeroWidth)
    /// for an empty batch.
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<()>;

    /// The output of the last `forward` (`batch × output_width`).
    fn output(&self) -> MatRef<'_, T>;

    /// Back-propagates `dy` (the loss gradient with respect to the output of
    /// the last `forward`, whose input was `x`): sets every parameter
    /// gradient, and the input gradient when `need_input_grad` is true.
    ///
    /// # Errors
    /// [`Error::BackwardBeforeForward`](crate::Error::BackwardBeforeForward)
    /// without a prior `forward`, [`Error::Shape`](crate::Error::Shape) when `x`
    /// or `dy` does not match that forward pass.
    fn backward(
        &mut self,
        x: MatRef<'_, T>,
        dy: MatRef<'_, T>,
        need_input_grad: bool,
    ) -> Result<()>;

    /// The gradient with respect to the input, from the last `backward` that asked for it.
    fn input_grad(&self) -> MatRef<'_, T>;

    /// Walks every trainable tensor with its gradient (a container's: its
    /// sub-layers'), in a fixed order. Names are layer-local; the walk is the
    /// training hot path, so it builds no strings.
    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>));

    /// The number of trainable scalars (a container's: its sub-layers').
    fn param_count(&self) -> usize;

    /// A one-line description ("dense 2 -> 32 [relu x16, sin x16]").
    fn describe(&self) -> String;

    /// What a model file records about this layer: kind, configuration and
    /// own tensors in canonical layout. `None` (the default): the layer
    /// cannot be saved. A kind that returns a spec registers a builder with
    /// the [`Registry`](crate::extend::Registry) so it can be loaded.
    fn spec(&self) -> Option<LayerSpec<T>> {
        None
    }

    /// A container's sub-layers and the name of their list (`"layers"`,
    /// `"branches"`, as in tensor paths: `layers.0.weight`). `None` for a leaf.
    fn sublayers(&self) -> Option<(&'static str, &[BoxedLayer<A, T>])> {
        None
    }

    /// Mutable access to a container's sub-layers, for tree transformations
    /// ([`map_layers`](crate::tree::map_layers)); a transformation must keep each
    /// sub-layer's input and output widths. `None` for a leaf.
    fn sublayers_mut(&mut self) -> Option<&mut Vec<BoxedLayer<A, T>>> {
        None
    }

    /// The trained slopes of a locally adaptive activation and their
    /// gradients, for Jagtap's slope-recovery term
    /// ([`slope_recovery`](crate::tree::slope_recovery)). `None` (the
    /// default) for a layer without them; [`Slope`](crate::Slope) layers
    /// with trained slopes return theirs.
    fn adaptive_slopes(&mut self) -> Option<(&[T], &mut [T])> {
        None
    }

    /// Switches between training behaviour (`true`: dropout drops) and
    /// evaluation behaviour. The default ignores it; the trainer sets it on
    /// every layer of the tree ([`set_training`](crate::tree::set_training)).
    fn set_training(&mut self, _training: bool) {}
}

/// For width-preserving layers: the input of a forward pass must have
/// `width` columns and at least one row; returns the batch size.
///
/// A layer of your own calls it first in [`Layer::forward`], so that a
/// wrong input is an [`Error::Shape`](crate::Error::Shape) naming both
/// shapes, never an index panic.
pub fn check_forward_input<T: Real>(x: &MatRef<'_, T>, width: usize) -> Result<usize> {
    let (batch, cols) = x.shape();
    if cols != width {
        return Err(crate::Error::shape("input", (None, Some(width)), x.shape()));
    }
    if batch == 0 {
        return Err(crate::Error::ZeroWidth { what: "batch" });
    }
    Ok(batch)
}

/// For width-preserving layers: a backward pass's input and upstream
/// gradient must both be `batch × width`, the shape of the forward pass.
/// A layer of your own calls it first in [`Layer::backward`].
pub fn check_backward_shapes<T: Real>(
    x: &MatRef<'_, T>,
    dy: &MatRef<'_, T>,
    batch: usize,
    width: usize,
) -> Result<()> {
    for (what, shape) in [("input", x.shape()), ("upstream gradient", dy.shape())] {
        if shape != (batch, width) {
            return Err(crate::Error::shape(what, (Some(batch), Some(width)), shape));
        }
    }
    Ok(())
}
