//! [`LayerNorm`]: per-row normalisation with a learnable gain and bias.

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::{copy_col, Buf, MatRef};
use crate::compute::real::Real;
use crate::error::{check_hyper, Error, Result};
use crate::layers::layer::{check_backward_shapes, check_forward_input, BoxedLayer, Layer, Param};
use crate::layers::spec::{inconsistent, no_sublayers};
use crate::layers::spec::{ConfigValue, LayerConfig, LayerSpec, TensorSource};
use crate::layers::tensor_id::OwnedTensorId;

/// Layer normalisation (Ba, Kiros & Hinton): each row (one sample's
/// features) is shifted to mean 0 and scaled to variance 1, then scaled and
/// shifted per feature: `y = gain ⊙ (x - μ) / sqrt(σ² + eps) + bias`, with
/// the biased variance σ² (PyTorch's `nn.LayerNorm(width)`).
///
/// # Example
/// ```
/// use mixact::{Act, Dense, LayerNorm, Network};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(1);
/// let net: Network<Act> = Network::new(vec![
///     Dense::new(2, 16, Act::Identity, &mut rng)?.into(),
///     LayerNorm::new(16)?.into(),
///     Dense::new(16, 1, Act::Identity, &mut rng)?.into(),
/// ])?;
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LayerNorm<T: Real = f32> {
    width: usize,
    eps: T,
    gain: Vec<T>,
    bias: Vec<T>,
    grad_gain: Vec<T>,
    grad_bias: Vec<T>,
    gain_id: OwnedTensorId,
    bias_id: OwnedTensorId,
    /// Normalised inputs x̂ of the last forward pass.
    xhat: Buf<T>,
    /// 1 / sqrt(σ² + eps) per row.
    inv_std: Vec<T>,
    /// Per-row sums in the backward pass.
    sum_g: Vec<T>,
    sum_gx: Vec<T>,
    y: Buf<T>,
    dx: Buf<T>,
}

impl<T: Real> LayerNorm<T> {
    /// Layer normalisation over `width` features, gain 1, bias 0, eps 1e-5.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] for `width == 0`, [`Error::TooLarge`] beyond the size limit.
    pub fn new(width: usize) -> Result<Self> {
        if width == 0 {
            return Err(Error::ZeroWidth { what: "width" });
        }
        crate::limits::elements("width", &[width])?;
        Self::from_parts(vec![T::one(); width], vec![T::zero(); width], T::lit(1e-5))
    }

    /// A layer with given gain, bias (one each per feature) and eps (> 0).
    ///
    /// # Errors
    /// [`Error::Empty`] for empty vectors, [`Error::Length`] when they differ,
    /// [`Error::HyperParameter`] for a bad eps.
    pub fn from_parts(gain: Vec<T>, bias: Vec<T>, eps: T) -> Result<Self> {
        if gain.is_empty() {
            return Err(Error::Empty { what: "gain" });
        }
        if bias.len() != gain.len() {
            return Err(Error::Length {
                what: "bias",
                expected: gain.len(),
                got: bias.len(),
            });
        }
        check_hyper("eps", eps.as_f64(), eps > T::zero(), "finite and > 0")?;
        let width = gain.len();
        Ok(LayerNorm {
            width,
            eps,
            grad_gain: vec![T::zero(); width],
            grad_bias: vec![T::zero(); width],
            gain,
            bias,
            gain_id: OwnedTensorId::new(),
            bias_id: OwnedTensorId::new(),
            xhat: Buf::new(),
            inv_std: Vec::new(),
            sum_g: Vec::new(),
            sum_gx: Vec::new(),
            y: Buf::new(),
            dx: Buf::new(),
        })
    }

    /// The gain, per feature.
    pub fn gain(&self) -> &[T] {
        &self.gain
    }

    /// The bias, per feature.
    pub fn bias(&self) -> &[T] {
        &self.bias
    }

    /// The small constant added to the variance.
    pub fn eps(&self) -> T {
        self.eps
    }
}

impl<A: ActivationSet, T: Real> Layer<A, T> for LayerNorm<T> {
    fn input_width(&self) -> usize {
        self.width
    }

    fn output_width(&self) -> usize {
        self.width
    }

    fn forward(&mut self, x: MatRef<'_, T>) -> Result<()> {
        let batch = check_forward_input(&x, self.width)?;
        let n = T::lit(self.width as f64);
        self.xhat.resize(batch, self.width);
        for j in 0..self.width {
            copy_col(&x, j, self.xhat.cols_mut(j, 1));
        }
        // Column by column (contiguous), accumulating per-row sums.
        let mean = &mut self.sum_g;
        mean.clear();
        mean.resize(batch, T::zero());
        for j in 0..self.width {
            for (m, &v) in mean.iter_mut().zip(self.xhat.cols(j, 1)) {
                *m += v;
            }
        }
        for m in mean.iter_mut() {
            *m /= n;
        }
        // A sum that overflows (values near the float's maximum): the mean
        // again as a sum of x / n, which cannot.
        for (i, m) in mean.iter_mut().enumerate() {
            if !m.is_finite() {
                *m = (0..self.width).fold(T::zero(), |acc, j| acc + x[(i, j)] / n);
            }
        }
        self.inv_std.clear();
        self.inv_std.resize(batch, T::zero());
        for j in 0..self.width {
            for ((v, &m), var) in self
                .xhat
                .cols_mut(j, 1)
                .iter_mut()
                .zip(mean.iter())
                .zip(self.inv_std.iter_mut())
            {
                *v -= m;
                *var += *v * *v;
            }
        }
        for (i, s) in self.inv_std.iter_mut().enumerate() {
            *s = if s.is_finite() {
                T::one() / (*s / n + self.eps).sqrt()
            } else {
                // The squares overflow (f32 rows like [1e20, -1e20, 0]):
                // scale the centred row by its largest magnitude first.
                scaled_inv_std(&self.xhat, i, n, self.eps)
            };
        }
        self.y.resize(batch, self.width);
        for j in 0..self.width {
            let (g, b) = (self.gain[j], self.bias[j]);
            let xh = self.xhat.cols_mut(j, 1);
            for (v, &s) in xh.iter_mut().zip(&self.inv_std) {
                *v *= s;
            }
            for (y, &v) in self.y.cols_mut(j, 1).iter_mut().zip(self.xhat.cols(j, 1)) {
                *y = g * v + b;
            }
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
        let batch = self.xhat.nrows();
        if batch == 0 {
            return Err(Error::BackwardBeforeForward { layer: None });
        }
        check_backward_shapes(&x, &dy, batch, self.width)?;
        // dx needs dy column by column; keep a contiguous copy in dx first.
        self.dx.resize(batch, self.width);
        for j in 0..self.width {
            copy_col(&dy, j, self.dx.cols_mut(j, 1));
        }
        self.sum_g.clear();
        self.sum_g.resize(batch, T::zero());
        self.sum_gx.clear();
        self.sum_gx.resize(batch, T::zero());
        for j in 0..self.width {
            let (dyj, xh) = (self.dx.cols(j, 1), self.xhat.cols(j, 1));
            let (mut gb, mut gg) = (T::zero(), T::zero());
            for (((&d, &v), sg), sgx) in dyj
                .iter()
                .zip(xh)
                .zip(self.sum_g.iter_mut())
                .zip(self.sum_gx.iter_mut())
            {
                gb += d;
                gg += d * v;
                // dx̂ = dy · gain
                let g = d * self.gain[j];
                *sg += g;
                *sgx += g * v;
            }
            self.grad_bias[j] = gb;
            self.grad_gain[j] = gg;
        }
        if need_input_grad {
            // dx = inv_std · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ ⊙ x̂)), per row.
            let n = T::lit(self.width as f64);
            for j in 0..self.width {
                let g = self.gain[j];
                let xh = self.xhat.cols(j, 1);
                let dxj = self.dx.cols_mut(j, 1);
                for ((((d, &v), &sg), &sgx), &s) in dxj
                    .iter_mut()
                    .zip(xh)
                    .zip(&self.sum_g)
                    .zip(&self.sum_gx)
                    .zip(&self.inv_std)
                {
                    *d = s * (*d * g - sg / n - v * sgx / n);
                }
            }
        }
        Ok(())
    }

    fn input_grad(&self) -> MatRef<'_, T> {
        self.dx.view()
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        f(Param {
            name: "gain",
            id: self.gain_id.id(),
            value: &mut self.gain,
            grad: &self.grad_gain,
            decay: false,
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

    fn param_count(&self) -> usize {
        2 * self.width
    }

    fn describe(&self) -> String {
        format!("layer_norm {}", self.width)
    }

    fn spec(&self) -> Option<LayerSpec<T>> {
        Some(
            LayerSpec::new("layer_norm")
                .with("width", ConfigValue::Int(self.width as u64))
                .with("eps", ConfigValue::Float(self.eps.as_f64()))
                .with_tensor("gain", vec![self.width], self.gain.clone())
                .with_tensor("bias", vec![self.width], self.bias.clone()),
        )
    }
}

/// Rebuilds a layer norm from its spec (see [`Registry`](crate::Registry)).
pub(crate) fn build<A: ActivationSet, T: Real>(
    config: &LayerConfig,
    src: &mut dyn TensorSource<T>,
    children: Vec<BoxedLayer<A, T>>,
) -> Result<BoxedLayer<A, T>> {
    no_sublayers(config, &children)?;
    config.only(&["width", "eps"])?;
    let width = config.usize("width")?;
    let eps = config.f64("eps")?;
    let gain = src.take("gain", &[width])?;
    let bias = src.take("bias", &[width])?;
    let layer = LayerNorm::from_parts(gain, bias, T::lit(eps)).map_err(inconsistent(config))?;
    Ok(Box::new(layer))
}

impl<A: ActivationSet, T: Real> From<LayerNorm<T>> for BoxedLayer<A, T> {
    fn from(layer: LayerNorm<T>) -> Self {
        Box::new(layer)
    }
}

/// `1 / sqrt(var + eps)` of centred row `i`, computed as
/// `1 / (m · sqrt(Σ(v/m)² / n + eps/m²))` with `m` the row's largest
/// magnitude, so no square overflows.
fn scaled_inv_std<T: Real>(xhat: &Buf<T>, i: usize, n: T, eps: T) -> T {
    let xhat = xhat.view();
    let width = xhat.ncols();
    let m = (0..width).fold(T::zero(), |acc, j| acc.max(xhat[(i, j)].abs()));
    if m.is_nan() || m <= T::zero() || !m.is_finite() {
        return T::one() / eps.sqrt();
    }
    let q = (0..width).fold(T::zero(), |acc, j| {
        let r = xhat[(i, j)] / m;
        acc + r * r
    });
    T::one() / (m * (q / n + eps / (m * m)).sqrt())
}
