//! [`Network`]: a sequence of layers, shapes checked once at construction.

use nalgebra::DMatrix;

use crate::activation::ActivationSet;
use crate::error::{Error, Result};
use crate::layer::{Layer, Param};
use crate::matrix::MatRef;
use crate::real::Real;

/// What hardening a network's mixtures did to its loss on some data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HardeningReport {
    /// Mean loss with the learned blends.
    pub loss_before: f64,
    /// Mean loss with each neuron's most-weighted activation only.
    pub loss_after: f64,
    /// Accuracy before, for losses that define it.
    pub accuracy_before: Option<f64>,
    /// Accuracy after.
    pub accuracy_after: Option<f64>,
}

/// A boxed layer, as a network holds it.
pub type BoxedLayer<A, T> = Box<dyn Layer<A, T>>;

/// Layers applied one after another.
///
/// A network is itself a [`Layer`], so it can serve as a deep branch of a
/// [`Concat`](crate::Concat).
///
/// # Example
/// ```
/// use mixact::{mask, Act, Dense, Layer, Network};
/// use rand::SeedableRng;
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
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

    /// The outputs for `x` (batch × input width), as a new matrix.
    ///
    /// # Errors
    /// As [`Layer::forward`].
    pub fn predict(&mut self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
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

    /// The network with every [`Mixture`](crate::Mixture) layer hardened to a
    /// per-neuron mask of each neuron's most-weighted activation, weights
    /// carried over: it then runs at dense-layer cost. Compare the loss
    /// before and after with [`evaluate`](crate::evaluate).
    pub fn hardened(self) -> Self {
        Network {
            layers: self.layers.into_iter().map(|l| l.harden()).collect(),
        }
    }

    /// [`hardened`](Self::hardened), reporting the loss on `data` before and
    /// after, so the cost of hardening is measured, not assumed.
    ///
    /// # Errors
    /// As [`evaluate`](crate::evaluate) (shape errors when the data do not fit).
    ///
    /// # Example
    /// ```
    /// use mixact::{data, Act, Dense, Layer, Loss, Mixture, Network};
    /// use rand::SeedableRng;
    ///
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let net: Network<Act> = Network::new(vec![
    ///     Mixture::new(2, 8, &[Act::Relu, Act::Tanh], &mut rng)?.into(),
    ///     Dense::new(8, 1, Act::Identity, &mut rng)?.into(),
    /// ])?;
    /// let (hard, report) = net.harden_on(&data::xor(), Loss::BceWithLogits)?;
    /// println!("loss {} -> {}", report.loss_before, report.loss_after);
    /// assert_eq!(hard.param_count(), 2 * 8 + 8 + 8 + 1);
    /// # Ok::<(), mixact::Error>(())
    /// ```
    pub fn harden_on(
        mut self,
        data: &crate::Dataset<T>,
        loss: crate::Loss,
    ) -> Result<(Self, HardeningReport)> {
        let before = crate::evaluate(&mut self, data, loss)?;
        let mut hard = self.hardened();
        let after = crate::evaluate(&mut hard, data, loss)?;
        Ok((
            hard,
            HardeningReport {
                loss_before: before.loss,
                loss_after: after.loss,
                accuracy_before: before.accuracy,
                accuracy_after: after.accuracy,
            },
        ))
    }

    /// Index of the first layer with a non-finite parameter gradient, if any.
    pub fn first_non_finite_grad(&mut self) -> Option<usize> {
        self.layers.iter_mut().position(|l| {
            let mut bad = false;
            l.visit_params(&mut |p| bad |= p.grad.iter().any(|g| !g.is_finite()));
            bad
        })
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
            rest[0].forward(input).map_err(|e| e.at_layer(i))?;
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

    fn activations(&self) -> Vec<A> {
        self.layers[self.layers.len() - 1].activations()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn harden(self: Box<Self>) -> BoxedLayer<A, T> {
        Box::new((*self).hardened())
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.layers.iter().map(|l| l.describe()).collect();
        format!("network({})", parts.join("; "))
    }
}

impl<A: ActivationSet, T: Real> From<Network<A, T>> for BoxedLayer<A, T> {
    fn from(n: Network<A, T>) -> Self {
        Box::new(n)
    }
}

impl<A: ActivationSet, T: Real> From<crate::Dense<A, T>> for BoxedLayer<A, T> {
    fn from(d: crate::Dense<A, T>) -> Self {
        Box::new(d)
    }
}
