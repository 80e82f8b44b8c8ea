//! The [`Layer`] trait: what a network sees of a layer.

use std::any::Any;

use crate::activation::ActivationSet;
use crate::error::Result;
use crate::matrix::MatRef;
use crate::real::Real;
use crate::tensor_id::TensorId;

/// One trainable tensor and its gradient, as a parameter walk yields them.
#[derive(Debug)]
pub struct Param<'a, T> {
    /// What the tensor is: "weight", "bias", ...
    pub name: &'static str,
    /// The tensor's identity, which optimiser state is bound to (see [`TensorId`]).
    pub id: TensorId,
    /// The values, updated in place by optimisers.
    pub value: &'a mut [T],
    /// The gradient of the last backward pass (same length as `value`).
    pub grad: &'a [T],
    /// Whether weight decay applies (weights yes, biases no).
    pub decay: bool,
    /// A factor on the optimiser's learning rate for this tensor (1 for most;
    /// mixture logits may have their own).
    pub lr_scale: T,
}

/// A differentiable map from a batch of inputs to a batch of outputs, with its own parameters.
///
/// Every layer kind implements it: [`Dense`](crate::Dense) (dense,
/// concatenated one-layer branches and per-neuron masks: one core),
/// [`Concat`](crate::Concat) (deeper branches) and [`Network`](crate::Network)
/// itself, so that a network can be a branch.
///
/// The protocol is stateful so that no step allocates: `forward` keeps what
/// `backward` needs in the layer's own buffers, [`output`](Self::output) and
/// [`input_grad`](Self::input_grad) borrow the results, and `backward`
/// *overwrites* the parameter gradients (no zeroing needed between steps).
///
/// # Shapes
/// Inputs are `batch × input_width`, outputs `batch × output_width`,
/// column-major (each neuron's batch values contiguous).
pub trait Layer<A: ActivationSet, T: Real = f32>: Send {
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

    /// Walks every trainable tensor with its gradient, in a fixed order.
    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>));

    /// The number of trainable scalars.
    fn param_count(&self) -> usize;

    /// Each output neuron's activation, in output order.
    fn activations(&self) -> Vec<A>;

    /// A one-line description ("dense 2 -> 32 [relu x16, sin x16]").
    fn describe(&self) -> String;

    /// The layer as `Any`, to reach its concrete type (`downcast_ref::<Mixture<A, T>>()`).
    fn as_any(&self) -> &dyn Any;

    /// This layer with every learnable mixture of activations replaced by a
    /// per-neuron mask of each neuron's most-weighted activation (see
    /// [`Mixture::harden`](crate::Mixture::harden)); other layers come back unchanged.
    fn harden(self: Box<Self>) -> Box<dyn Layer<A, T>>;
}
