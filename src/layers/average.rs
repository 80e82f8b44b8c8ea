//! [`Average`]: members on the same input, outputs averaged: an ensemble as
//! one layer, so that it saves, loads and exports like any network.

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::{Buf, MatRef};
use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::layers::layer::{BoxedLayer, Layer, Param};
use crate::layers::spec::inconsistent;
use crate::layers::spec::{LayerConfig, LayerSpec, TensorSource};

/// Several members on the same input, their outputs averaged:
/// `y = (y_1 + ... + y_K) / K`, summed in member order.
///
/// [`Ensemble::to_network`](crate::Ensemble::to_network) builds one from a
/// trained ensemble, so that the ensemble's mean prediction is one network
/// that saves to one file. Trained as a layer, every member gets `dy / K`.
///
/// # Example
/// ```
/// use mixact::{Act, Average, Dense, Layer};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(1);
/// let avg = Average::new(vec![
///     Dense::<Act, f64>::new(3, 2, Act::Tanh, &mut rng)?.into(),
///     Dense::<Act, f64>::new(3, 2, Act::Relu, &mut rng)?.into(),
/// ])?;
/// assert_eq!((avg.input_width(), avg.output_width()), (3, 2));
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Clone)]
pub struct Average<A: ActivationSet, T: Real = f32> {
    members: Vec<BoxedLayer<A, T>>,
    y: Buf<T>,
    dy: Buf<T>,
    dx: Buf<T>,
}

impl<A: ActivationSet, T: Real> std::fmt::Debug for Average<A, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl<A: ActivationSet, T: Real> Average<A, T> {
    /// Averages `members`, which must all have the same input and output widths.
    ///
    /// # Errors
    /// [`Error::Empty`] for no members; [`Error::Shape`] naming the first
    /// member (as `layer`) whose input or output width differs from the first's.
    pub fn new(members: Vec<BoxedLayer<A, T>>) -> Result<Self> {
        let first = members.first().ok_or(Error::Empty { what: "members" })?;
        let (inputs, outputs) = (first.input_width(), first.output_width());
        for (i, m) in members.iter().enumerate() {
            if m.input_width() != inputs || m.output_width() != outputs {
                return Err(Error::Shape {
                    layer: Some(i),
                    what: "member (inputs x outputs)",
                    expected_rows: Some(inputs),
                    expected_cols: Some(outputs),
                    got_rows: m.input_width(),
                    got_cols: m.output_width(),
                });
            }
        }
        Ok(Average {
            members,
            y: Buf::new(),
            dy: Buf::new(),
            dx: Buf::new(),
        })
    }

    /// The members, in summation order.
    pub fn members(&self) -> &[BoxedLayer<A, T>] {
        &self.members
    }
}

impl<A: ActivationSet, T: Real> Layer<A, T> for Average<A, T> {
    fn input_width(&self) -> usize {
        self.members[0].input_width()
    }

    fn output_width(&self) -> usize {
        self.members[0].output_width()
    }

    fn forward(&mut self, x: MatRef<'_, T>) -> Result<()> {
        let (batch, width) = (x.nrows(), self.output_width());
        crate::limits::elements("layer output", &[batch, width])?;
        self.y.resize(batch, width);
        for (k, m) in self.members.iter_mut().enumerate() {
            m.forward(x)?;
            let out = m.output();
            if out.shape() != (batch, width) {
                return Err(Error::Shape {
                    layer: Some(k),
                    what: "member output",
                    expected_rows: Some(batch),
                    expected_cols: Some(width),
                    got_rows: out.nrows(),
                    got_cols: out.ncols(),
                });
            }
            for j in 0..width {
                let dst = self.y.cols_mut(j, 1);
                if k == 0 {
                    crate::compute::matrix::copy_col(&out, j, dst);
                } else {
                    for (i, d) in dst.iter_mut().enumerate() {
                        *d += out[(i, j)];
                    }
                }
            }
        }
        let k = T::lit(self.members.len() as f64);
        for v in self.y.as_mut_slice() {
            *v /= k;
        }
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
        let (batch, width) = (x.nrows(), self.output_width());
        if self.y.nrows() == 0 {
            return Err(Error::BackwardBeforeForward { layer: None });
        }
        if dy.shape() != (batch, width) || self.y.nrows() != batch {
            return Err(Error::shape(
                "upstream gradient",
                (Some(self.y.nrows()), Some(width)),
                dy.shape(),
            ));
        }
        let k = T::lit(self.members.len() as f64);
        self.dy.resize(batch, width);
        for j in 0..width {
            for (i, d) in self.dy.cols_mut(j, 1).iter_mut().enumerate() {
                *d = dy[(i, j)] / k;
            }
        }
        if need_input_grad {
            self.dx.resize(batch, self.input_width());
            self.dx.as_mut_slice().fill(T::zero());
        }
        for m in &mut self.members {
            m.backward(x, self.dy.view(), need_input_grad)?;
            if need_input_grad {
                let g = m.input_grad();
                for j in 0..g.ncols() {
                    for (i, d) in self.dx.cols_mut(j, 1).iter_mut().enumerate() {
                        *d += g[(i, j)];
                    }
                }
            }
        }
        Ok(())
    }

    fn input_grad(&self) -> MatRef<'_, T> {
        self.dx.view()
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        for m in &mut self.members {
            m.visit_params(f);
        }
    }

    fn param_count(&self) -> usize {
        self.members.iter().map(|m| m.param_count()).sum()
    }

    fn spec(&self) -> Option<LayerSpec<T>> {
        Some(LayerSpec::new("average"))
    }

    fn sublayers(&self) -> Option<(&'static str, &[BoxedLayer<A, T>])> {
        Some(("members", &self.members))
    }

    fn sublayers_mut(&mut self) -> Option<&mut Vec<BoxedLayer<A, T>>> {
        Some(&mut self.members)
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.members.iter().map(|m| m.describe()).collect();
        format!("average[{}]", parts.join(" + "))
    }
}

/// Rebuilds an average from its members (see [`Registry`](crate::Registry)).
pub(crate) fn build<A: ActivationSet, T: Real>(
    config: &LayerConfig,
    _src: &mut dyn TensorSource<T>,
    children: Vec<BoxedLayer<A, T>>,
) -> Result<BoxedLayer<A, T>> {
    config.only(&[])?;
    Ok(Average::new(children).map_err(inconsistent(config))?.into())
}

impl<A: ActivationSet, T: Real> From<Average<A, T>> for BoxedLayer<A, T> {
    fn from(layer: Average<A, T>) -> Self {
        Box::new(layer)
    }
}
