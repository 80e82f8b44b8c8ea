//! [`Concat`]: branches of any depth on the same input, outputs concatenated.

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::{Buf, MatRef};
use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::layers::layer::{BoxedLayer, Layer, Param};
use crate::layers::spec::inconsistent;
use crate::layers::spec::{LayerConfig, LayerSpec, TensorSource};

/// Several branches on the same input, their outputs side by side.
///
/// Use it when a branch is deeper than one layer (a two-layer branch is a
/// [`Network`](crate::Network) of two layers). When every branch is a single dense layer,
/// prefer [`Dense::branches`](crate::Dense::branches), which fuses them into one
/// matrix product and computes the same thing.
///
/// # Example
/// ```
/// use mixact::{Act, Concat, Dense, Layer, Network};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(1);
/// let deep = |act, rng: &mut ChaCha8Rng| -> mixact::Result<Network<Act, f64>> {
///     Network::new(vec![Dense::new(4, 8, act, rng)?.into(), Dense::new(8, 8, act, rng)?.into()])
/// };
/// let concat = Concat::new(vec![deep(Act::Relu, &mut rng)?.into(), deep(Act::Tanh, &mut rng)?.into()])?;
/// assert_eq!((concat.input_width(), concat.output_width()), (4, 16));
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Clone)]
pub struct Concat<A: ActivationSet, T: Real = f32> {
    branches: Vec<BoxedLayer<A, T>>,
    y: Buf<T>,
    dx: Buf<T>,
}

impl<A: ActivationSet, T: Real> std::fmt::Debug for Concat<A, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl<A: ActivationSet, T: Real> Concat<A, T> {
    /// Concatenates `branches`, which must all take the same input width.
    ///
    /// # Errors
    /// [`Error::Empty`] for no branches; [`Error::Shape`] naming the first
    /// branch (as `layer`) whose input width differs from the first branch's.
    pub fn new(branches: Vec<BoxedLayer<A, T>>) -> Result<Self> {
        let first = branches.first().ok_or(Error::Empty { what: "branches" })?;
        let inputs = first.input_width();
        if let Some(i) = branches.iter().position(|b| b.input_width() != inputs) {
            return Err(Error::Shape {
                layer: Some(i),
                what: "branch input",
                expected_rows: None,
                expected_cols: Some(inputs),
                got_rows: 0,
                got_cols: branches[i].input_width(),
            });
        }
        crate::limits::sum("branch widths", branches.iter().map(|b| b.output_width()))?;
        Ok(Concat {
            branches,
            y: Buf::new(),
            dx: Buf::new(),
        })
    }

    /// Convenience: branches of one concrete type, typically
    /// [`Network`](crate::Network)s.
    ///
    /// # Errors
    /// As [`Concat::new`].
    pub fn of_networks<L: Layer<A, T>>(branches: Vec<L>) -> Result<Self> {
        Self::new(
            branches
                .into_iter()
                .map(|b| Box::new(b) as BoxedLayer<A, T>)
                .collect(),
        )
    }

    /// The branches, in output order.
    pub fn branches(&self) -> &[BoxedLayer<A, T>] {
        &self.branches
    }
}

impl<A: ActivationSet, T: Real> Layer<A, T> for Concat<A, T> {
    fn input_width(&self) -> usize {
        self.branches[0].input_width()
    }

    fn output_width(&self) -> usize {
        self.branches.iter().map(|b| b.output_width()).sum()
    }

    fn forward(&mut self, x: MatRef<'_, T>) -> Result<()> {
        let batch = x.nrows();
        crate::limits::elements("layer output", &[batch, self.output_width()])?;
        self.y.resize(batch, self.output_width());
        let mut col = 0;
        for b in &mut self.branches {
            b.forward(x)?;
            let out = b.output();
            for j in 0..out.ncols() {
                crate::compute::matrix::copy_col(&out, j, self.y.cols_mut(col + j, 1));
            }
            col += out.ncols();
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
        if need_input_grad {
            self.dx.resize(batch, self.input_width());
            self.dx.as_mut_slice().fill(T::zero());
        }
        let mut col = 0;
        for b in &mut self.branches {
            let w = b.output_width();
            b.backward(x, dy.columns(col, w), need_input_grad)?;
            if need_input_grad {
                let g = b.input_grad();
                for j in 0..g.ncols() {
                    let dst = self.dx.cols_mut(j, 1);
                    for (i, d) in dst.iter_mut().enumerate() {
                        *d += g[(i, j)];
                    }
                }
            }
            col += w;
        }
        Ok(())
    }

    fn input_grad(&self) -> MatRef<'_, T> {
        self.dx.view()
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        for b in &mut self.branches {
            b.visit_params(f);
        }
    }

    fn param_count(&self) -> usize {
        self.branches.iter().map(|b| b.param_count()).sum()
    }

    fn spec(&self) -> Option<LayerSpec<T>> {
        Some(LayerSpec::new("concat"))
    }

    fn sublayers(&self) -> Option<(&'static str, &[BoxedLayer<A, T>])> {
        Some(("branches", &self.branches))
    }

    fn sublayers_mut(&mut self) -> Option<&mut Vec<BoxedLayer<A, T>>> {
        Some(&mut self.branches)
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.branches.iter().map(|b| b.describe()).collect();
        format!("concat[{}]", parts.join(" ++ "))
    }
}

/// Rebuilds a concatenation from its branches (see [`Registry`](crate::Registry)).
pub(crate) fn build<A: ActivationSet, T: Real>(
    config: &LayerConfig,
    _src: &mut dyn TensorSource<T>,
    children: Vec<BoxedLayer<A, T>>,
) -> Result<BoxedLayer<A, T>> {
    config.only(&[])?;
    Ok(Concat::new(children).map_err(inconsistent(config))?.into())
}

impl<A: ActivationSet, T: Real> From<Concat<A, T>> for BoxedLayer<A, T> {
    fn from(layer: Concat<A, T>) -> Self {
        Box::new(layer)
    }
}
