//! [`Network`]: a sequence of layers, shapes checked once at construction.

use nalgebra::DMatrix;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::MatRef;
use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::layers::layer::{BoxedLayer, Layer, Param};
use crate::layers::spec::inconsistent;
use crate::layers::spec::{LayerConfig, LayerSpec, TensorSource};

/// Layers applied one after another.
///
/// A network is itself a [`Layer`], so it can serve as a deep branch of a
/// [`Concat`](crate::Concat).
///
/// # Example
/// ```
/// use mixact::{mask, Act, Dense, Layer, Network};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(7);
/// let mut net: Network<Act> = Network::new(vec![
///     Dense::per_neuron(2, &mask::pattern(&[Act::Relu, Act::Sin], 16)?, &mut rng)?.into(),
///     Dense::branches(16, &[(8, Act::Tanh), (8, Act::Gelu)], &mut rng)?.into(),
///     Dense::new(16, 1, Act::Identity, &mut rng)?.into(),
/// ])?;
/// let y = net.predict(&nalgebra::DMatrix::zeros(4, 2))?;
/// assert_eq!(y.shape(), (4, 1));
/// assert_eq!(net.param_count(), (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1));
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Clone)]
pub struct Network<A: ActivationSet, T: Real = f32> {
    layers: Vec<BoxedLayer<A, T>>,
}

impl<A: ActivationSet, T: Real> std::fmt::Debug for Network<A, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.layers.iter().map(|l| l.describe()))
            .finish()
    }
}

impl<A: ActivationSet, T: Real> Network<A, T> {
    /// A network of `layers`, in order.
    ///
    /// # Errors
    /// [`Error::Empty`] for no layers; [`Error::Shape`] naming the first layer
    /// whose input width differs from the previous layer's output width.
    pub fn new(layers: Vec<BoxedLayer<A, T>>) -> Result<Self> {
        if layers.is_empty() {
            return Err(Error::Empty { what: "layers" });
        }
        for (i, pair) in layers.windows(2).enumerate() {
            let (out, inp) = (pair[0].output_width(), pair[1].input_width());
            if out != inp {
                return Err(Error::Shape {
                    layer: Some(i + 1),
                    what: "layer input (previous layer's output)",
                    expected_rows: None,
                    expected_cols: Some(out),
                    got_rows: 0,
                    got_cols: inp,
                });
            }
        }
        Ok(Network { layers })
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[BoxedLayer<A, T>] {
        &self.layers
    }

    /// Mutable access to the layers (their count and widths cannot change).
    pub fn layers_mut(&mut self) -> &mut [BoxedLayer<A, T>] {
        &mut self.layers
    }

    /// The outputs for `x` (batch × input width), as a new matrix, in
    /// evaluation mode. Takes `&self`: the pass runs in a private copy of the
    /// network's buffers, so several threads can predict from one network
    /// (`Network` is `Sync`). For a hot loop on one thread,
    /// [`predict_mut`](Self::predict_mut) reuses the network's own buffers.
    ///
    /// # Errors
    /// As [`Layer::forward`].
    ///
    /// # Example
    /// ```
    /// use mixact::{Act, Dense, Network};
    /// use mixact::prelude::*;
    ///
    /// let mut rng = ChaCha8Rng::seed_from_u64(1);
    /// let net: Network<Act> = Network::new(vec![Dense::new(2, 3, Act::Tanh, &mut rng)?.into()])?;
    /// let x = nalgebra::DMatrix::from_element(4, 2, 0.5);
    /// let outputs = std::thread::scope(|s| {
    ///     let a = s.spawn(|| net.predict(&x));
    ///     let b = s.spawn(|| net.predict(&x));
    ///     (a.join().unwrap(), b.join().unwrap())
    /// });
    /// assert_eq!(outputs.0?, outputs.1?);
    /// # Ok::<(), mixact::Error>(())
    /// ```
    pub fn predict(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.predict_in_batches(x, x.nrows().max(1))
    }

    /// [`predict`](Self::predict) over `batch`-row chunks, so the buffers
    /// of the pass stay the size of one chunk however many rows `x` has.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] for `batch == 0`; as [`Layer::forward`].
    pub fn predict_in_batches(&self, x: &DMatrix<T>, batch: usize) -> Result<DMatrix<T>> {
        if batch == 0 {
            return Err(Error::ZeroWidth { what: "batch" });
        }
        let mut scratch = self.clone();
        crate::layers::tree::set_training(&mut scratch, false);
        if x.nrows() == 0 {
            scratch.forward(x.as_view())?;
        }
        let mut out = DMatrix::zeros(x.nrows(), self.output_width());
        for start in (0..x.nrows()).step_by(batch) {
            let rows = batch.min(x.nrows() - start);
            scratch.forward(x.rows(start, rows))?;
            out.rows_mut(start, rows).copy_from(&scratch.output());
        }
        Ok(out)
    }

    /// The outputs for `x` through the network's own buffers (no copy of
    /// the network; needs `&mut`), in whatever mode the layers are in.
    ///
    /// # Errors
    /// As [`Layer::forward`].
    pub fn predict_mut(&mut self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.forward(x.as_view())?;
        Ok(self.output().into_owned())
    }

    /// Back-propagates `dy` through every layer, setting all parameter
    /// gradients; skips the input gradient of the first layer, which no one needs.
    ///
    /// # Errors
    /// As [`Layer::backward`].
    pub fn backward_params(&mut self, x: MatRef<'_, T>, dy: MatRef<'_, T>) -> Result<()> {
        self.backward(x, dy, false)
    }

    /// Index of the first layer with a non-finite parameter gradient, if any.
    pub fn first_non_finite_grad(&mut self) -> Option<usize> {
        crate::layers::tree::first_non_finite_grad(self)
    }
}

impl<A: ActivationSet, T: Real> Layer<A, T> for Network<A, T> {
    fn input_width(&self) -> usize {
        self.layers[0].input_width()
    }

    fn output_width(&self) -> usize {
        self.layers[self.layers.len() - 1].output_width()
    }

    fn forward(&mut self, x: MatRef<'_, T>) -> Result<()> {
        for i in 0..self.layers.len() {
            let (done, rest) = self.layers.split_at_mut(i);
            let input = match done.last() {
                None => x,
                Some(prev) => prev.output(),
            };
            let rows = input.nrows();
            rest[0].forward(input).map_err(|e| e.at_layer(i))?;
            // A user layer may produce another shape than it declares; the
            // next layer or a copy out of the network would then panic.
            let out = rest[0].output();
            if out.nrows() != rows || out.ncols() != rest[0].output_width() {
                return Err(Error::Shape {
                    layer: Some(i),
                    what: "layer output (as the layer declares it)",
                    expected_rows: Some(rows),
                    expected_cols: Some(rest[0].output_width()),
                    got_rows: out.nrows(),
                    got_cols: out.ncols(),
                });
            }
        }
        Ok(())
    }

    fn output(&self) -> MatRef<'_, T> {
        self.layers[self.layers.len() - 1].output()
    }

    fn backward(
        &mut self,
        x: MatRef<'_, T>,
        dy: MatRef<'_, T>,
        need_input_grad: bool,
    ) -> Result<()> {
        let n = self.layers.len();
        for i in (0..n).rev() {
            let (before, rest) = self.layers.split_at_mut(i);
            let (current, after) = rest.split_at_mut(1);
            let input = match before.last() {
                None => x,
                Some(prev) => prev.output(),
            };
            let upstream = match after.first() {
                None => dy,
                Some(next) => next.input_grad(),
            };
            let need = i > 0 || need_input_grad;
            current[0]
                .backward(input, upstream, need)
                .map_err(|e| e.at_layer(i))?;
        }
        Ok(())
    }

    fn input_grad(&self) -> MatRef<'_, T> {
        self.layers[0].input_grad()
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        for l in &mut self.layers {
            l.visit_params(f);
        }
    }

    fn param_count(&self) -> usize {
        self.layers.iter().map(|l| l.param_count()).sum()
    }

    fn spec(&self) -> Option<LayerSpec<T>> {
        Some(LayerSpec::new("sequential"))
    }

    fn sublayers(&self) -> Option<(&'static str, &[BoxedLayer<A, T>])> {
        Some(("layers", &self.layers))
    }

    fn sublayers_mut(&mut self) -> Option<&mut Vec<BoxedLayer<A, T>>> {
        Some(&mut self.layers)
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.layers.iter().map(|l| l.describe()).collect();
        format!("network({})", parts.join("; "))
    }
}

/// Rebuilds a nested network from its layers (see [`Registry`](crate::Registry)).
pub(crate) fn build<A: ActivationSet, T: Real>(
    config: &LayerConfig,
    _src: &mut dyn TensorSource<T>,
    children: Vec<BoxedLayer<A, T>>,
) -> Result<BoxedLayer<A, T>> {
    config.only(&[])?;
    Ok(Network::new(children).map_err(inconsistent(config))?.into())
}

impl<A: ActivationSet, T: Real> From<Network<A, T>> for BoxedLayer<A, T> {
    fn from(layer: Network<A, T>) -> Self {
        Box::new(layer)
    }
}
