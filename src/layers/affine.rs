//! The affine part every layer kind shares: `z = x·W + b` forward, and
//! `dW = xᵀ·dz`, `db = Σ dz`, `dx = dz·Wᵀ` backward. Layer kinds differ only
//! in what they do between `z` and their output.

use nalgebra::DMatrix;

use crate::compute::matrix::{column_sums, gemm, is_small_product, Buf, MatRef, Operand};
use crate::compute::real::Real;
use crate::compute::transpose::transpose_into;
use crate::error::{Error, Result};
use crate::layers::layer::Param;
use crate::layers::tensor_id::OwnedTensorId;

/// Weights, biases, their gradients, and the buffers of the affine map.
#[derive(Debug, Clone)]
pub(crate) struct Affine<T: Real> {
    /// inputs × outputs, columns in the owning layer's storage order.
    pub(crate) weight: DMatrix<T>,
    pub(crate) bias: Vec<T>,
    pub(crate) grad_weight: DMatrix<T>,
    pub(crate) grad_bias: Vec<T>,
    /// Pre-activations of the last forward pass.
    pub(crate) z: Buf<T>,
    dx: Buf<T>,
    /// The input transposed, for small weight-gradient products.
    xt: Buf<T>,
    /// Batch size of the last forward pass.
    forward_rows: Option<usize>,
    weight_id: OwnedTensorId,
    bias_id: OwnedTensorId,
}

impl<T: Real> Affine<T> {
    /// Takes validated parameters (non-empty, `bias.len() == weight.ncols()`).
    pub(crate) fn new(weight: DMatrix<T>, bias: Vec<T>) -> Self {
        let (inputs, outputs) = weight.shape();
        Affine {
            grad_weight: DMatrix::zeros(inputs, outputs),
            grad_bias: vec![T::zero(); outputs],
            weight,
            bias,
            z: Buf::new(),
            dx: Buf::new(),
            xt: Buf::new(),
            forward_rows: None,
            weight_id: OwnedTensorId::new(),
            bias_id: OwnedTensorId::new(),
        }
    }

    pub(crate) fn inputs(&self) -> usize {
        self.weight.nrows()
    }

    pub(crate) fn outputs(&self) -> usize {
        self.weight.ncols()
    }

    fn check_input(&self, x: &MatRef<'_, T>, rows: Option<usize>) -> Result<()> {
        let (r, c) = x.shape();
        if c != self.inputs() || rows.is_some_and(|b| b != r) {
            return Err(Error::shape("input", (rows, Some(self.inputs())), (r, c)));
        }
        if r == 0 {
            return Err(Error::ZeroWidth { what: "batch" });
        }
        Ok(())
    }

    /// `z = x·W + b`, kept in `self.z`.
    pub(crate) fn forward(&mut self, x: &MatRef<'_, T>) -> Result<()> {
        self.forward_unbiased(x)?;
        self.add_biases();
        Ok(())
    }

    /// `z = x·W` without the bias: the caller adds it column by column with
    /// [`add_bias_to`] in the same pass as its activation, while
    /// the column is in L1 (one memory pass over `z` fewer than a bias fill
    /// before the product). Rounding is the same: the bias is added to the
    /// finished dot product either way.
    pub(crate) fn forward_unbiased(&mut self, x: &MatRef<'_, T>) -> Result<()> {
        self.check_input(x, None)?;
        let batch = x.nrows();
        crate::limits::elements("layer output", &[batch, self.outputs()])?;
        self.z.resize(batch, self.outputs());
        gemm(
            Operand::of(x),
            Operand::of_owned(&self.weight),
            T::zero(),
            self.z.as_mut_slice(),
        );
        self.forward_rows = Some(batch);
        Ok(())
    }

    /// Checks that a backward pass with input `x` and an upstream gradient of
    /// shape `dy_shape` matches the last forward pass; returns its batch size.
    pub(crate) fn check_backward(
        &self,
        x: &MatRef<'_, T>,
        dy_shape: (usize, usize),
        outputs: usize,
    ) -> Result<usize> {
        let batch = self
            .forward_rows
            .ok_or(Error::BackwardBeforeForward { layer: None })?;
        self.check_input(x, Some(batch))?;
        if dy_shape != (batch, outputs) {
            return Err(Error::shape(
                "upstream gradient",
                (Some(batch), Some(outputs)),
                dy_shape,
            ));
        }
        Ok(batch)
    }

    /// Given `dz` (batch × outputs, storage order): sets the parameter
    /// gradients and, if asked, the input gradient.
    pub(crate) fn backward(&mut self, x: &MatRef<'_, T>, dz: &Buf<T>, need_input_grad: bool) {
        self.set_bias_grads(dz);
        self.backward_products(x, dz, need_input_grad);
    }

    /// Every neuron's bias gradient from the whole `dz` (storage order), in one pass.
    pub(crate) fn set_bias_grads(&mut self, dz: &Buf<T>) {
        column_sums(dz.as_slice(), dz.nrows(), &mut self.grad_bias);
    }

    /// Adds every neuron's bias to its column of `z`.
    pub(crate) fn add_biases(&mut self) {
        let rows = self.z.nrows();
        for (col, &b) in self.z.as_mut_slice().chunks_exact_mut(rows).zip(&self.bias) {
            add_bias_to(col, b);
        }
    }

    /// The weight and (if asked) input gradients; the bias gradient is the caller's.
    pub(crate) fn backward_products(
        &mut self,
        x: &MatRef<'_, T>,
        dz: &Buf<T>,
        need_input_grad: bool,
    ) {
        let (batch, inputs, outputs) = (x.nrows(), self.inputs(), self.outputs());
        let dz_view = dz.view();
        // dW = xᵀ · dz. Large: xᵀ as a strided view, no copy. Small: a
        // transposed copy first, so the loop runs over contiguous columns
        // instead of short dot products.
        let small = is_small_product(inputs, batch, outputs);
        if small {
            transpose_into(x, &mut self.xt);
        }
        let xt = self.xt.view();
        let x_t = if small {
            Operand::of(&xt)
        } else {
            Operand::of(x).t()
        };
        gemm(
            x_t,
            Operand::of(&dz_view),
            T::zero(),
            self.grad_weight.as_mut_slice(),
        );
        if need_input_grad {
            self.dx.resize(batch, inputs);
            gemm(
                Operand::of(&dz_view),
                Operand::of_owned(&self.weight).t(),
                T::zero(),
                self.dx.as_mut_slice(),
            );
        }
    }

    pub(crate) fn input_grad(&self) -> MatRef<'_, T> {
        self.dx.view()
    }

    pub(crate) fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        f(Param {
            name: "weight",
            id: self.weight_id.id(),
            value: self.weight.as_mut_slice(),
            grad: self.grad_weight.as_slice(),
            decay: true,
            lr_scale: T::one(),
        });
        f(Param {
            name: "bias",
            id: self.bias_id.id(),
            value: &mut self.bias,
            grad: &self.grad_bias,
            decay: false,
            lr_scale: T::one(),
        });
    }

    pub(crate) fn param_count(&self) -> usize {
        self.weight.len() + self.bias.len()
    }
}

/// Adds a neuron's bias `b` to its column of `z` (the one bias addition
/// every pass shares: added to the finished dot product).
#[inline]
pub(crate) fn add_bias_to<T: Real>(z_col: &mut [T], b: T) {
    z_col.iter_mut().for_each(|v| *v += b);
}

/// Checks the shapes of user-given parameters for a layer of `mask_len` neurons.
pub(crate) fn check_parts<T: Real>(
    weight: &DMatrix<T>,
    bias: &[T],
    mask_len: usize,
    mask_what: &'static str,
) -> Result<()> {
    let (inputs, outputs) = weight.shape();
    if inputs == 0 {
        return Err(Error::ZeroWidth { what: "inputs" });
    }
    if outputs == 0 {
        return Err(Error::ZeroWidth { what: "outputs" });
    }
    if mask_len != outputs {
        return Err(Error::Length {
            what: mask_what,
            expected: outputs,
            got: mask_len,
        });
    }
    if bias.len() != outputs {
        return Err(Error::Length {
            what: "bias",
            expected: outputs,
            got: bias.len(),
        });
    }
    Ok(())
}
