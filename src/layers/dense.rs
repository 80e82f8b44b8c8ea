//! [`Dense`]: the one affine-plus-activation core behind every layer kind.

use nalgebra::DMatrix;
use rand::Rng;

use crate::compute::activation::ActivationSet;
use crate::compute::disjoint::{for_each_range, DisjointColumns};
use crate::compute::matrix::{column_sum, contiguous_or_copy, Buf, MatRef};
use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::layers::affine::{add_bias_to, check_parts, Affine};
use crate::layers::init;
use crate::layers::layer::BoxedLayer;
use crate::layers::layer::{Layer, Param};
use crate::layers::plan::Plan;
use crate::layers::spec::{inconsistent, no_sublayers};
use crate::layers::spec::{ConfigValue, LayerConfig, LayerSpec, NameList, TensorSource};
use crate::limits;

/// A fully connected layer whose neurons may each have their own activation:
/// `y = f(x·W + b)` with `f` applied per neuron.
///
/// The three layer kinds are three constructors of this one type, sharing one
/// forward and one backward pass:
/// - [`Dense::new`]: one activation for the whole layer;
/// - [`Dense::branches`]: several branches on the same input, each with its
///   width and activation, outputs concatenated (fused into one matrix product);
/// - [`Dense::per_neuron`]: one activation per neuron (see [`mask`](crate::mask)
///   for patterns, proportions and random masks).
///
/// Internally, neurons that share an activation are stored together and every
/// activation call covers contiguous memory (a block of neurons, or one
/// neuron's column when the mask interleaves activations), so mixing adds no
/// per-element branch; from the outside, neuron i is always the user's neuron
/// i (its activation, weights, bias and output column).
///
/// # Shapes
/// `x`: batch × inputs; `W`: inputs × outputs; `b`: outputs; `y`: batch × outputs.
///
/// # Example
/// ```
/// use mixact::{mask, Act, Dense, Layer};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(7);
/// let mixed = mask::pattern(&[Act::Relu, Act::Sin], 4)?;
/// let mut layer = Dense::<Act, f64>::per_neuron(3, &mixed, &mut rng)?;
/// let x = nalgebra::DMatrix::from_element(5, 3, 0.5);
/// layer.forward(x.as_view())?;
/// assert_eq!(layer.output().shape(), (5, 4));
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dense<A, T: Real = f32> {
    plan: Plan<A>,
    /// The shared affine core, its columns in storage order.
    affine: Affine<T>,
    /// Activations, in the user's order.
    y: Buf<T>,
    /// The upstream gradient, copied when it arrives as a strided view.
    dy: Buf<T>,
    dz: Buf<T>,
    /// Outputs and upstream gradient in storage order, for small batches of
    /// a permuted mask (see [`SMALL_BATCH`]).
    ys: Buf<T>,
    dys: Buf<T>,
}

/// Below this many rows a layer applies each activation once per block of
/// neurons instead of once per neuron: with a short column, a call per
/// neuron (kernel dispatch, loop set-up) cost more than its arithmetic.
/// From here on, the per-neuron pass keeps each column in L1 while it is
/// biased, activated and summed. Both give the same bits.
const SMALL_BATCH: usize = 64;

impl<A: ActivationSet, T: Real> Dense<A, T> {
    /// A dense layer: every neuron has activation `act`.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] when `inputs` or `outputs` is 0, [`Error::TooLarge`]
    /// when `inputs × outputs` exceeds [`limits::MAX_ELEMENTS`].
    pub fn new<R: Rng + ?Sized>(
        inputs: usize,
        outputs: usize,
        act: A,
        rng: &mut R,
    ) -> Result<Self> {
        if inputs == 0 {
            return Err(Error::ZeroWidth { what: "inputs" });
        }
        if outputs == 0 {
            return Err(Error::ZeroWidth { what: "outputs" });
        }
        limits::elements("weights", &[inputs, outputs])?;
        Self::per_neuron(inputs, &vec![act; outputs], rng)
    }

    /// Concatenated branches on the same input: `(width, activation)` per
    /// branch, outputs side by side in the order given. One-layer branches
    /// fuse into this single layer; for deeper branches see [`Concat`](crate::Concat).
    ///
    /// # Errors
    /// [`Error::Empty`] for no branches, [`Error::ZeroWidth`] for a zero-width branch or `inputs == 0`.
    pub fn branches<R: Rng + ?Sized>(
        inputs: usize,
        branches: &[(usize, A)],
        rng: &mut R,
    ) -> Result<Self> {
        if branches.is_empty() {
            return Err(Error::Empty { what: "branches" });
        }
        if branches.iter().any(|&(w, _)| w == 0) {
            return Err(Error::ZeroWidth {
                what: "branch width",
            });
        }
        if inputs == 0 {
            return Err(Error::ZeroWidth { what: "inputs" });
        }
        let width = limits::sum("branch widths", branches.iter().map(|&(w, _)| w))?;
        limits::elements("weights", &[inputs, width])?;
        let mask: Vec<A> = branches
            .iter()
            .flat_map(|&(w, a)| std::iter::repeat_n(a, w))
            .collect();
        Self::per_neuron(inputs, &mask, rng)
    }

    /// One activation per neuron: neuron i gets `mask[i]`; weights initialised
    /// per neuron by its activation's gain (see [`init`](crate::init)).
    ///
    /// # Errors
    /// [`Error::Empty`] for an empty mask, [`Error::ZeroWidth`] for `inputs == 0`.
    pub fn per_neuron<R: Rng + ?Sized>(inputs: usize, mask: &[A], rng: &mut R) -> Result<Self> {
        if inputs == 0 {
            return Err(Error::ZeroWidth { what: "inputs" });
        }
        if mask.is_empty() {
            return Err(Error::Empty {
                what: "activation mask",
            });
        }
        let weight = init::weights(inputs, mask, rng)?;
        Self::from_parts(weight, vec![T::zero(); mask.len()], mask)
    }

    /// A layer with given parameters, in user order: `weight` is inputs × outputs
    /// (column j holds neuron j's incoming weights), `bias[j]` and `mask[j]` are neuron j's.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] / [`Error::Empty`] for empty dimensions,
    /// [`Error::Length`] when `bias` or `mask` does not have one entry per column of `weight`.
    pub fn from_parts(weight: DMatrix<T>, bias: Vec<T>, mask: &[A]) -> Result<Self> {
        check_parts(&weight, &bias, mask.len(), "activation mask")?;
        let plan = Plan::new(mask)?;
        let (weight, bias) = match plan.order() {
            None => (weight, bias),
            Some(order) => (
                DMatrix::from_fn(weight.nrows(), weight.ncols(), |i, s| weight[(i, order[s])]),
                order.iter().map(|&u| bias[u]).collect(),
            ),
        };
        Ok(Dense {
            plan,
            affine: Affine::new(weight, bias),
            y: Buf::new(),
            dy: Buf::new(),
            dz: Buf::new(),
            ys: Buf::new(),
            dys: Buf::new(),
        })
    }

    /// Neuron j's activation is `mask()[j]`.
    pub fn mask(&self) -> &[A] {
        self.plan.mask()
    }

    /// The number of contiguous storage blocks, one per distinct activation
    /// (how many activation calls a dense layer or branch layout makes).
    pub fn block_count(&self) -> usize {
        self.plan.blocks().len()
    }

    /// The weights in user order (inputs × outputs; column j is neuron j's). Copies.
    pub fn weight(&self) -> DMatrix<T> {
        self.to_user_cols(&self.affine.weight)
    }

    /// The biases in user order. Copies.
    pub fn bias(&self) -> Vec<T> {
        self.to_user(&self.affine.bias)
    }

    /// The weight gradient of the last backward pass, in user order. Copies.
    pub fn grad_weight(&self) -> DMatrix<T> {
        self.to_user_cols(&self.affine.grad_weight)
    }

    /// The bias gradient of the last backward pass, in user order. Copies.
    pub fn grad_bias(&self) -> Vec<T> {
        self.to_user(&self.affine.grad_bias)
    }

    /// The storage order and activation blocks (for the lane kernels).
    pub(crate) fn plan(&self) -> &Plan<A> {
        &self.plan
    }

    /// Weights (inputs x outputs) and biases in storage order, mutably.
    pub(crate) fn params_mut(&mut self) -> (&mut [T], &mut [T]) {
        (self.affine.weight.as_mut_slice(), &mut self.affine.bias)
    }

    fn to_user_cols(&self, m: &DMatrix<T>) -> DMatrix<T> {
        let mut out = m.clone();
        for s in 0..m.ncols() {
            out.set_column(self.plan.user_index(s), &m.column(s));
        }
        out
    }

    fn to_user(&self, v: &[T]) -> Vec<T> {
        let mut out = v.to_vec();
        for (s, &x) in v.iter().enumerate() {
            out[self.plan.user_index(s)] = x;
        }
        out
    }
}

impl<A: ActivationSet, T: Real> Layer<A, T> for Dense<A, T> {
    fn input_width(&self) -> usize {
        self.affine.inputs()
    }

    fn output_width(&self) -> usize {
        self.affine.outputs()
    }

    fn forward(&mut self, x: MatRef<'_, T>) -> Result<()> {
        self.affine.forward_unbiased(&x)?;
        let (batch, outputs) = (x.nrows(), self.output_width());
        self.y.resize(batch, outputs);
        let order = self.plan.order();
        if batch < SMALL_BATCH {
            // One call per activation block (see SMALL_BATCH), in storage
            // order; a permuted mask's outputs then move to the user's columns.
            self.affine.add_biases();
            let z = &self.affine.z;
            match order {
                None => {
                    for blk in self.plan.blocks() {
                        let (start, len) = (blk.start, blk.len);
                        blk.act
                            .forward(z.cols(start, len), self.y.cols_mut(start, len));
                    }
                }
                Some(order) => {
                    self.ys.resize(batch, outputs);
                    for blk in self.plan.blocks() {
                        let (start, len) = (blk.start, blk.len);
                        blk.act
                            .forward(z.cols(start, len), self.ys.cols_mut(start, len));
                    }
                    for (s, &u) in order.iter().enumerate() {
                        self.y.cols_mut(u, 1).copy_from_slice(self.ys.cols(s, 1));
                    }
                }
            }
            return Ok(());
        }
        // One pass per neuron while its column (the batch) is in L1: bias,
        // then activation, written straight into the user's column (so a
        // grouped mask needs no gather pass). Large layers split the neurons
        // between the cores.
        let bias = &self.affine.bias;
        let z = DisjointColumns::new(self.affine.z.as_mut_slice(), batch);
        let y = DisjointColumns::new(self.y.as_mut_slice(), batch);
        let plan = &self.plan;
        for_each_range(
            outputs,
            neurons_per_task(batch),
            split_neurons(batch, outputs),
            |range| {
                for_each_block_in(plan, range, |act, s| {
                    let u = order.map_or(s, |o| o[s]);
                    // SAFETY: each neuron `s` is in one range only, and
                    // `order` is a permutation: no other task touches
                    // storage column `s` or user column `u`.
                    let (z, y) = unsafe { (z.column(s), y.column(u)) };
                    add_bias_to(z, bias[s]);
                    act.forward(z, y);
                });
            },
        );
        Ok(())
    }

    fn output(&self) -> MatRef<'_, T> {
        self.y.view()
    }

    fn backward(
        &mut self,
        x: MatRef<'_, T>,
        dy: MatRef<'_, T>,
        need_input_grad: bool,
    ) -> Result<()> {
        let outputs = self.output_width();
        let batch = self.affine.check_backward(&x, dy.shape(), outputs)?;
        let dy = contiguous_or_copy(&dy, &mut self.dy);
        self.dz.resize(batch, outputs);
        let order = self.plan.order();
        if batch < SMALL_BATCH {
            // One call per activation block (see SMALL_BATCH), in storage order.
            let z = &self.affine.z;
            match order {
                None => {
                    for blk in self.plan.blocks() {
                        let (start, len) = (blk.start, blk.len);
                        blk.act.backward(
                            z.cols(start, len),
                            self.y.cols(start, len),
                            &dy[start * batch..(start + len) * batch],
                            self.dz.cols_mut(start, len),
                        );
                    }
                }
                Some(order) => {
                    self.dys.resize(batch, outputs);
                    for (s, &u) in order.iter().enumerate() {
                        self.dys
                            .cols_mut(s, 1)
                            .copy_from_slice(&dy[u * batch..(u + 1) * batch]);
                    }
                    for blk in self.plan.blocks() {
                        let (start, len) = (blk.start, blk.len);
                        blk.act.backward(
                            z.cols(start, len),
                            self.ys.cols(start, len),
                            self.dys.cols(start, len),
                            self.dz.cols_mut(start, len),
                        );
                    }
                }
            }
            self.affine.set_bias_grads(&self.dz);
            self.affine.backward_products(&x, &self.dz, need_input_grad);
            return Ok(());
        }
        // One pass per neuron: derivative, then the bias gradient (the
        // column's sum) while the column is in L1. Large layers split the
        // neurons between the cores.
        let (z, y) = (&self.affine.z, &self.y);
        let dz = DisjointColumns::new(self.dz.as_mut_slice(), batch);
        let grad_bias = DisjointColumns::new(&mut self.affine.grad_bias, 1);
        let plan = &self.plan;
        for_each_range(
            outputs,
            neurons_per_task(batch),
            split_neurons(batch, outputs),
            |range| {
                for_each_block_in(plan, range, |act, s| {
                    let u = order.map_or(s, |o| o[s]);
                    // SAFETY: each neuron `s` is in one range only: no other
                    // task touches storage column `s` of `dz` or bias gradient `s`.
                    let (dz, gb) = unsafe { (dz.column(s), grad_bias.column(s)) };
                    act.backward(
                        z.cols(s, 1),
                        y.cols(u, 1),
                        &dy[u * batch..(u + 1) * batch],
                        dz,
                    );
                    gb[0] = column_sum(dz);
                });
            },
        );
        self.affine.backward_products(&x, &self.dz, need_input_grad);
        Ok(())
    }

    fn input_grad(&self) -> MatRef<'_, T> {
        self.affine.input_grad()
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        self.affine.visit_params(f);
    }

    fn param_count(&self) -> usize {
        self.affine.param_count()
    }

    fn spec(&self) -> Option<LayerSpec<T>> {
        let (inputs, outputs) = (self.input_width(), self.output_width());
        Some(
            LayerSpec::new("dense")
                .with("inputs", ConfigValue::Int(inputs as u64))
                .with("outputs", ConfigValue::Int(outputs as u64))
                .with(
                    "activations",
                    ConfigValue::Names(NameList::of_activations(self.mask())),
                )
                .with_tensor(
                    "weight",
                    vec![outputs, inputs],
                    self.weight().as_slice().to_vec(),
                )
                .with_tensor("bias", vec![outputs], self.bias()),
        )
    }

    fn describe(&self) -> String {
        let blocks: Vec<String> = self
            .plan
            .blocks()
            .iter()
            .map(|b| format!("{} x{}", b.act.name(), b.len))
            .collect();
        format!(
            "dense {} -> {} [{}]",
            self.input_width(),
            self.output_width(),
            blocks.join(", ")
        )
    }
}

/// Values (batch rows x neurons) from which a per-neuron pass is split
/// between the cores: a 256 x 1024 mixed layer's activations and
/// derivatives took about 5% of its forward and backward step on one core
/// while the other waited for the next product (split: 4% faster).
const SPLIT_NEURON_PASS: usize = 1 << 16;

/// Whether a per-neuron pass over `batch x outputs` values is split.
fn split_neurons(batch: usize, outputs: usize) -> bool {
    batch.saturating_mul(outputs) >= SPLIT_NEURON_PASS && rayon::current_num_threads() > 1
}

/// Neurons per task of a split pass: about 16 K values each.
fn neurons_per_task(batch: usize) -> usize {
    ((1 << 14) / batch.max(1)).max(1)
}

/// Calls `f(activation, s)` for every storage neuron `s` in `range`, in order.
fn for_each_block_in<A: ActivationSet>(
    plan: &Plan<A>,
    range: std::ops::Range<usize>,
    mut f: impl FnMut(A, usize),
) {
    for blk in plan.blocks() {
        let start = blk.start.max(range.start);
        let end = (blk.start + blk.len).min(range.end);
        for s in start..end {
            f(blk.act, s);
        }
    }
}

/// Rebuilds a dense layer from its spec (see [`Registry`](crate::Registry)).
pub(crate) fn build<A: ActivationSet, T: Real>(
    config: &LayerConfig,
    src: &mut dyn TensorSource<T>,
    children: Vec<BoxedLayer<A, T>>,
) -> Result<BoxedLayer<A, T>> {
    no_sublayers(config, &children)?;
    config.only(&["inputs", "outputs", "activations"])?;
    let (inputs, outputs) = (config.usize("inputs")?, config.usize("outputs")?);
    let mask = config.activations::<A>("activations", Some(outputs))?;
    let weight = src.take("weight", &[outputs, inputs])?;
    let bias = src.take("bias", &[outputs])?;
    let weight = DMatrix::from_vec(inputs, outputs, weight);
    Ok(Dense::from_parts(weight, bias, &mask)
        .map_err(inconsistent(config))?
        .into())
}

impl<A: ActivationSet, T: Real> From<Dense<A, T>> for BoxedLayer<A, T> {
    fn from(layer: Dense<A, T>) -> Self {
        Box::new(layer)
    }
}
