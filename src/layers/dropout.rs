//! [`Dropout`]: inverted dropout, seeded, a no-op at evaluation.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::{copy_col, Buf, MatRef};
use crate::compute::real::Real;
use crate::error::{check_hyper, Error, Result};
use crate::layers::layer::{check_backward_shapes, check_forward_input, BoxedLayer, Layer, Param};
use crate::layers::spec::no_sublayers;
use crate::layers::spec::{ConfigValue, LayerConfig, LayerSpec, TensorSource};

/// Inverted dropout: while training, each value is zeroed with probability
/// `p` and the survivors are scaled by `1 / (1 - p)`, so evaluation (where
/// the layer is the identity) needs no rescaling. The trainer switches the
/// mode ([`Layer::set_training`]); a new layer evaluates.
///
/// The masks come from ChaCha8 seeded with `seed`: the same seed and the
/// same sequence of training batches give the same masks.
///
/// # Example
/// ```
/// use mixact::{Act, Dense, Dropout, Network};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(1);
/// let net: Network<Act> = Network::new(vec![
///     Dense::new(2, 16, Act::Relu, &mut rng)?.into(),
///     Dropout::new(16, 0.2, 7)?.into(),
///     Dense::new(16, 1, Act::Identity, &mut rng)?.into(),
/// ])?;
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dropout<T: Real = f32> {
    width: usize,
    p: f64,
    seed: u64,
    rng: ChaCha8Rng,
    training: bool,
    /// Per value: 0 or 1 / (1 - p) from the last training forward pass.
    scale: Buf<T>,
    /// Whether the last forward pass dropped (its mask applies in backward).
    dropped: bool,
    y: Buf<T>,
    dx: Buf<T>,
    forward_rows: Option<usize>,
}

impl<T: Real> Dropout<T> {
    /// Dropout over `width` features with drop probability `p`, masks seeded by `seed`.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] for `width == 0`, [`Error::HyperParameter`] unless `p` is in [0, 1).
    pub fn new(width: usize, p: f64, seed: u64) -> Result<Self> {
        if width == 0 {
            return Err(Error::ZeroWidth { what: "width" });
        }
        check_hyper("dropout p", p, (0.0..1.0).contains(&p), "in [0, 1)")?;
        Ok(Dropout {
            width,
            p,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            training: false,
            scale: Buf::new(),
            dropped: false,
            y: Buf::new(),
            dx: Buf::new(),
            forward_rows: None,
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }
}

impl<A: ActivationSet, T: Real> Layer<A, T> for Dropout<T> {
    fn input_width(&self) -> usize {
        self.width
    }

    fn output_width(&self) -> usize {
        self.width
    }

    fn forward(&mut self, x: MatRef<'_, T>) -> Result<()> {
        let batch = check_forward_input(&x, self.width)?;
        self.y.resize(batch, self.width);
        for j in 0..self.width {
            copy_col(&x, j, self.y.cols_mut(j, 1));
        }
        self.dropped = self.training && self.p > 0.0;
        if self.dropped {
            let keep = T::lit(1.0 / (1.0 - self.p));
            self.scale.resize(batch, self.width);
            for (s, y) in self
                .scale
                .as_mut_slice()
                .iter_mut()
                .zip(self.y.as_mut_slice())
            {
                *s = if self.rng.random::<f64>() < self.p {
                    T::zero()
                } else {
                    keep
                };
                *y *= *s;
            }
        }
        self.forward_rows = Some(batch);
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
        let batch = self
            .forward_rows
            .ok_or(Error::BackwardBeforeForward { layer: None })?;
        check_backward_shapes(&x, &dy, batch, self.width)?;
        if need_input_grad {
            self.dx.resize(batch, self.width);
            for j in 0..self.width {
                copy_col(&dy, j, self.dx.cols_mut(j, 1));
            }
            if self.dropped {
                for (d, &s) in self.dx.as_mut_slice().iter_mut().zip(self.scale.as_slice()) {
                    *d *= s;
                }
            }
        }
        Ok(())
    }

    fn input_grad(&self) -> MatRef<'_, T> {
        self.dx.view()
    }

    fn visit_params(&mut self, _f: &mut dyn FnMut(Param<'_, T>)) {}

    fn param_count(&self) -> usize {
        0
    }

    fn describe(&self) -> String {
        format!("dropout {} p={}", self.width, self.p)
    }

    fn spec(&self) -> Option<LayerSpec<T>> {
        Some(
            LayerSpec::new("dropout")
                .with("width", ConfigValue::Int(self.width as u64))
                .with("p", ConfigValue::Float(self.p))
                .with("seed", ConfigValue::Int(self.seed)),
        )
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

/// Rebuilds a dropout layer from its spec (see [`Registry`](crate::Registry)).
pub(crate) fn build<A: ActivationSet, T: Real>(
    config: &LayerConfig,
    _src: &mut dyn TensorSource<T>,
    children: Vec<BoxedLayer<A, T>>,
) -> Result<BoxedLayer<A, T>> {
    no_sublayers(config, &children)?;
    config.only(&["width", "p", "seed"])?;
    let layer = Dropout::<T>::new(
        config.usize("width")?,
        config.f64("p")?,
        config.usize("seed")? as u64,
    )
    .map_err(crate::layers::spec::inconsistent(config))?;
    Ok(Box::new(layer))
}

impl<A: ActivationSet, T: Real> From<Dropout<T>> for BoxedLayer<A, T> {
    fn from(layer: Dropout<T>) -> Self {
        Box::new(layer)
    }
}
