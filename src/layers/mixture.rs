//! [`Mixture`]: each neuron learns a softmax-weighted blend of candidate activations.

use nalgebra::DMatrix;
use rand::Rng;

use crate::compute::activation::ActivationSet;
use crate::layers::affine::{check_parts, Affine};
use std::any::Any;

use crate::compute::matrix::{contiguous_or_copy, Buf, MatRef};
use crate::compute::real::Real;
use crate::error::{check_hyper, Error, ModelErrorKind, Result};
use crate::layers::dense::Dense;
use crate::layers::init;
use crate::layers::layer::{BoxedLayer, Layer, Param};
use crate::layers::spec::{inconsistent, no_sublayers};
use crate::layers::spec::{ConfigValue, LayerConfig, LayerSpec, NameList, TensorSource};
use crate::layers::tree::map_layers;

/// Candidates whose logit-gradient sums run side by side in the backward pass.
const DOT_GROUP: usize = 8;

/// A layer whose neuron n computes `y = Σ_k softmax(α_n / τ)_k · f_k(z)`,
/// `z = x·w_n + b_n`, over candidate activations `f_1..f_K`; the logits α
/// (neurons × K) are trained with the weights, so training decides which
/// activation each neuron has.
///
/// It shares the affine core with [`Dense`]. Options: a temperature τ, an
/// entropy penalty λ (adds `λ Σ_n H(softmax(α_n / τ))` to the loss through
/// the gradient only, pushing each neuron towards one activation), and a
/// learning-rate factor for α. [`Mixture::to_dense`] turns a trained mixture
/// into a [`Dense`] per-neuron mask (each neuron's most-weighted activation,
/// weights carried over) that runs at dense-layer cost.
///
/// # Example
/// ```
/// use mixact::{Act, Layer, Mixture};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let mut m = Mixture::<Act, f64>::new(2, 6, &[Act::Relu, Act::Sin, Act::Tanh], &mut rng)?
///     .with_entropy_penalty(1e-3)?;
/// m.forward(nalgebra::DMatrix::from_element(4, 2, 0.3).as_view())?;
/// assert_eq!(m.output().shape(), (4, 6));
/// println!("{}", m.assignment_table());
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mixture<A, T: Real = f32> {
    candidates: Vec<A>,
    affine: Affine<T>,
    /// Logits, neuron-major: `alpha[n * K + k]`.
    alpha: Vec<T>,
    grad_alpha: Vec<T>,
    temperature: T,
    entropy_penalty: T,
    alpha_lr_scale: T,
    /// softmax(α / τ), neuron-major, from the last forward pass.
    probs: Vec<T>,
    /// Candidate k's outputs in columns `k * outputs ..`.
    fk: Buf<T>,
    y: Buf<T>,
    dy: Buf<T>,
    tmp: Buf<T>,
    dz: Buf<T>,
    alpha_id: crate::layers::tensor_id::OwnedTensorId,
}

impl<A: ActivationSet, T: Real> Mixture<A, T> {
    /// A mixture layer with uniform initial blends (α = 0). Weights are drawn
    /// with the root-mean-square of the candidates' initial standard deviations.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] for zero `inputs` or `outputs`, [`Error::Empty`] for no candidates.
    pub fn new<R: Rng + ?Sized>(
        inputs: usize,
        outputs: usize,
        candidates: &[A],
        rng: &mut R,
    ) -> Result<Self> {
        if inputs == 0 {
            return Err(Error::ZeroWidth { what: "inputs" });
        }
        if outputs == 0 {
            return Err(Error::ZeroWidth { what: "outputs" });
        }
        if candidates.is_empty() {
            return Err(Error::Empty {
                what: "mixture candidates",
            });
        }
        crate::limits::elements("weights", &[inputs, outputs])?;
        crate::limits::elements("mixture logits", &[outputs, candidates.len()])?;
        let ms = candidates
            .iter()
            .map(|&a| init::weight_std(a, inputs, outputs).powi(2))
            .sum::<f64>()
            / candidates.len() as f64;
        let weight = init::weights_with_std(inputs, outputs, |_| ms.sqrt(), rng)?;
        let alpha = DMatrix::zeros(outputs, candidates.len());
        Self::from_parts(weight, vec![T::zero(); outputs], candidates, alpha)
    }

    /// A mixture with given parameters: `weight` inputs × outputs, `bias`
    /// per neuron, `alpha` neurons × candidates.
    ///
    /// # Errors
    /// [`Error::Empty`] for no candidates; [`Error::Length`] / [`Error::Shape`]
    /// when the parts do not agree.
    pub fn from_parts(
        weight: DMatrix<T>,
        bias: Vec<T>,
        candidates: &[A],
        alpha: DMatrix<T>,
    ) -> Result<Self> {
        if candidates.is_empty() {
            return Err(Error::Empty {
                what: "mixture candidates",
            });
        }
        let outputs = weight.ncols();
        check_parts(&weight, &bias, outputs, "mixture neurons")?;
        if alpha.shape() != (outputs, candidates.len()) {
            return Err(Error::shape(
                "mixture logits",
                (Some(outputs), Some(candidates.len())),
                alpha.shape(),
            ));
        }
        let k = candidates.len();
        let alpha: Vec<T> = (0..outputs * k).map(|i| alpha[(i / k, i % k)]).collect();
        Ok(Mixture {
            candidates: candidates.to_vec(),
            affine: Affine::new(weight, bias),
            grad_alpha: vec![T::zero(); alpha.len()],
            probs: vec![T::zero(); alpha.len()],
            alpha,
            temperature: T::one(),
            entropy_penalty: T::zero(),
            alpha_lr_scale: T::one(),
            fk: Buf::new(),
            y: Buf::new(),
            dy: Buf::new(),
            tmp: Buf::new(),
            dz: Buf::new(),
            alpha_id: crate::layers::tensor_id::OwnedTensorId::new(),
        })
    }

    /// Sets the softmax temperature τ (> 0; lower sharpens the blends).
    ///
    /// # Errors
    /// [`Error::HyperParameter`] unless finite and > 0.
    pub fn with_temperature(mut self, temperature: T) -> Result<Self> {
        let t = temperature.as_f64();
        check_hyper("temperature", t, t > 0.0, "finite and > 0")?;
        self.temperature = temperature;
        Ok(self)
    }

    /// Sets the entropy penalty λ (>= 0).
    ///
    /// # Errors
    /// [`Error::HyperParameter`] unless finite and >= 0.
    pub fn with_entropy_penalty(mut self, lambda: T) -> Result<Self> {
        let l = lambda.as_f64();
        check_hyper("entropy penalty", l, l >= 0.0, "finite and >= 0")?;
        self.entropy_penalty = lambda;
        Ok(self)
    }

    /// Sets a factor on the learning rate of the logits α (> 0).
    ///
    /// # Errors
    /// [`Error::HyperParameter`] unless finite and > 0.
    pub fn with_alpha_lr_scale(mut self, scale: T) -> Result<Self> {
        let s = scale.as_f64();
        check_hyper("alpha learning-rate scale", s, s > 0.0, "finite and > 0")?;
        self.alpha_lr_scale = scale;
        Ok(self)
    }

    /// The candidate activations, in order.
    pub fn candidates(&self) -> &[A] {
        &self.candidates
    }

    /// The weights (inputs × outputs). Copies.
    pub fn weight(&self) -> DMatrix<T> {
        self.affine.weight.clone()
    }

    /// The biases. Copies.
    pub fn bias(&self) -> Vec<T> {
        self.affine.bias.clone()
    }

    /// The softmax temperature τ.
    pub fn temperature(&self) -> T {
        self.temperature
    }

    /// The entropy penalty λ.
    pub fn entropy_penalty(&self) -> T {
        self.entropy_penalty
    }

    /// The learning-rate factor of the logits.
    pub fn alpha_lr_scale(&self) -> T {
        self.alpha_lr_scale
    }

    /// The logits α (neurons × candidates). Copies.
    pub fn alpha(&self) -> DMatrix<T> {
        let k = self.candidates.len();
        DMatrix::from_fn(self.output_width(), k, |n, j| self.alpha[n * k + j])
    }

    /// The gradient of the logits from the last backward pass (neurons × candidates).
    pub fn grad_alpha(&self) -> DMatrix<T> {
        let k = self.candidates.len();
        DMatrix::from_fn(self.output_width(), k, |n, j| self.grad_alpha[n * k + j])
    }

    /// Each neuron's blend weights softmax(α_n / τ) (neurons × candidates).
    pub fn mixture_weights(&self) -> DMatrix<f64> {
        let k = self.candidates.len();
        let mut p = vec![T::zero(); self.alpha.len()];
        softmax_rows(&self.alpha, k, self.temperature, &mut p);
        DMatrix::from_fn(self.output_width(), k, |n, j| p[n * k + j].as_f64())
    }

    /// Each neuron's most-weighted candidate (ties go to the earlier candidate).
    pub fn assignment(&self) -> Vec<A> {
        let k = self.candidates.len();
        (0..self.output_width())
            .map(|n| {
                let row = &self.alpha[n * k..(n + 1) * k];
                let best = (0..k).fold(0, |b, j| if row[j] > row[b] { j } else { b });
                self.candidates[best]
            })
            .collect()
    }

    /// How many neurons chose each candidate, in candidate order.
    pub fn assignment_counts(&self) -> Vec<(A, usize)> {
        let a = self.assignment();
        self.candidates
            .iter()
            .map(|&c| (c, a.iter().filter(|&&x| x == c).count()))
            .collect()
    }

    /// A printable table: per candidate, how many neurons chose it and its
    /// mean blend weight over the layer.
    pub fn assignment_table(&self) -> String {
        let w = self.mixture_weights();
        let mut out = format!(
            "{:<14} {:>8} {:>12}\n",
            "activation", "neurons", "mean weight"
        );
        for (j, (act, count)) in self.assignment_counts().into_iter().enumerate() {
            out += &format!(
                "{:<14} {:>8} {:>12.3}\n",
                act.name(),
                count,
                w.column(j).mean()
            );
        }
        out
    }

    /// The per-neuron mask layer of each neuron's most-weighted activation,
    /// with this layer's weights and biases.
    pub fn to_dense(&self) -> Dense<A, T> {
        Dense::from_parts(
            self.affine.weight.clone(),
            self.affine.bias.clone(),
            &self.assignment(),
        )
        .expect("a mixture's parts form a valid dense layer")
    }
}

/// Row-wise softmax of `logits / t` (rows of length k) into `out`.
fn softmax_rows<T: Real>(logits: &[T], k: usize, t: T, out: &mut [T]) {
    for (row, p) in logits.chunks_exact(k).zip(out.chunks_exact_mut(k)) {
        let max = row.iter().copied().fold(T::neg_infinity(), T::max);
        let mut sum = T::zero();
        for (pi, &a) in p.iter_mut().zip(row) {
            *pi = ((a - max) / t).exp();
            sum += *pi;
        }
        p.iter_mut().for_each(|pi| *pi /= sum);
    }
}

impl<A: ActivationSet, T: Real> Layer<A, T> for Mixture<A, T> {
    fn input_width(&self) -> usize {
        self.affine.inputs()
    }

    fn output_width(&self) -> usize {
        self.affine.outputs()
    }

    fn forward(&mut self, x: MatRef<'_, T>) -> Result<()> {
        let (batch, outputs, k) = (x.nrows(), self.output_width(), self.candidates.len());
        crate::limits::elements("candidate outputs", &[batch, outputs, k])?;
        self.affine.forward(&x)?;
        softmax_rows(&self.alpha, k, self.temperature, &mut self.probs);
        self.fk.resize(batch, outputs * k);
        for (j, act) in self.candidates.iter().enumerate() {
            act.forward(
                self.affine.z.as_slice(),
                self.fk.cols_mut(j * outputs, outputs),
            );
        }
        self.y.resize(batch, outputs);
        for n in 0..outputs {
            let y = self.y.cols_mut(n, 1);
            y.fill(T::zero());
            for j in 0..k {
                let p = self.probs[n * k + j];
                for (yi, &f) in y.iter_mut().zip(self.fk.cols(j * outputs + n, 1)) {
                    *yi += p * f;
                }
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
        let (outputs, k) = (self.output_width(), self.candidates.len());
        let batch = self.affine.check_backward(&x, dy.shape(), outputs)?;
        let dy = contiguous_or_copy(&dy, &mut self.dy);
        self.dz.resize(batch, outputs);
        self.dz.as_mut_slice().fill(T::zero());
        self.tmp.resize(batch, outputs);
        let t = self.temperature;
        for (j, act) in self.candidates.iter().enumerate() {
            // tmp = dy ⊙ f_j'(z)
            act.backward(
                self.affine.z.as_slice(),
                self.fk.cols(j * outputs, outputs),
                dy,
                self.tmp.as_mut_slice(),
            );
            for n in 0..outputs {
                let p = self.probs[n * k + j];
                for (d, &g) in self.dz.cols_mut(n, 1).iter_mut().zip(self.tmp.cols(n, 1)) {
                    *d += p * g;
                }
            }
        }
        let lambda = self.entropy_penalty;
        for n in 0..outputs {
            let dy_n = &dy[n * batch..(n + 1) * batch];
            let y_n = self.y.cols(n, 1);
            let p_n = &self.probs[n * k..(n + 1) * k];
            // H = -Σ p ln p; ∂H/∂α_j = -(p_j / τ)(ln p_j + H).
            let entropy: T = -p_n
                .iter()
                .map(|&p| if p > T::zero() { p * p.ln() } else { T::zero() })
                .sum::<T>();
            // s_j = Σ_i dy_i (f_j,i - y_i) for up to eight candidates at once:
            // each sum is still one chain in row order (the same bits as
            // summing them one after another), but the chains interleave
            // instead of each waiting on its own additions' latency.
            for j0 in (0..k).step_by(DOT_GROUP) {
                let m = DOT_GROUP.min(k - j0);
                let mut f: [&[T]; DOT_GROUP] = [&[]; DOT_GROUP];
                for (jj, f) in f.iter_mut().enumerate().take(m) {
                    *f = self.fk.cols((j0 + jj) * outputs + n, 1);
                }
                let mut s = [std::iter::empty::<T>().sum::<T>(); DOT_GROUP];
                for (i, (&d, &y)) in dy_n.iter().zip(y_n).enumerate() {
                    for (s, f) in s.iter_mut().zip(&f).take(m) {
                        *s += d * (f[i] - y);
                    }
                }
                for (jj, &s) in s.iter().enumerate().take(m) {
                    let (j, p) = (j0 + jj, p_n[j0 + jj]);
                    let ln_p = if p > T::zero() { p.ln() } else { T::zero() };
                    self.grad_alpha[n * k + j] = p / t * s - lambda * p / t * (ln_p + entropy);
                }
            }
        }
        self.affine.backward(&x, &self.dz, need_input_grad);
        Ok(())
    }

    fn input_grad(&self) -> MatRef<'_, T> {
        self.affine.input_grad()
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        self.affine.visit_params(f);
        f(Param {
            name: "alpha",
            id: self.alpha_id.id(),
            value: &mut self.alpha,
            grad: &self.grad_alpha,
            decay: false,
            lr_scale: self.alpha_lr_scale,
        });
    }

    fn param_count(&self) -> usize {
        self.affine.param_count() + self.alpha.len()
    }

    fn spec(&self) -> Option<LayerSpec<T>> {
        let (inputs, outputs) = (self.input_width(), self.output_width());
        let k = self.candidates.len();
        Some(
            LayerSpec::new("mixture")
                .with("inputs", ConfigValue::Int(inputs as u64))
                .with("outputs", ConfigValue::Int(outputs as u64))
                .with(
                    "candidates",
                    ConfigValue::Names(NameList::of_activations(&self.candidates)),
                )
                .with("temperature", ConfigValue::Float(self.temperature.as_f64()))
                .with(
                    "entropy_penalty",
                    ConfigValue::Float(self.entropy_penalty.as_f64()),
                )
                .with(
                    "alpha_lr_scale",
                    ConfigValue::Float(self.alpha_lr_scale.as_f64()),
                )
                .with_tensor(
                    "weight",
                    vec![outputs, inputs],
                    self.weight().as_slice().to_vec(),
                )
                .with_tensor("bias", vec![outputs], self.bias())
                // Neuron-major storage is the [out, K] row-major layout.
                .with_tensor("alpha", vec![outputs, k], self.alpha.clone()),
        )
    }

    fn describe(&self) -> String {
        let names: Vec<&str> = self.candidates.iter().map(|a| a.name()).collect();
        format!(
            "mixture {} -> {} of [{}]",
            self.input_width(),
            self.output_width(),
            names.join(", ")
        )
    }
}

/// Replaces every [`Mixture`] in the tree by its hardened dense layer
/// ([`Mixture::to_dense`]); other layers come back unchanged. A
/// [`map_layers`](crate::tree::map_layers) transformation: no other layer kind
/// needs to know about hardening.
pub fn harden<A: ActivationSet, T: Real>(layer: BoxedLayer<A, T>) -> BoxedLayer<A, T> {
    map_layers(
        layer,
        &mut |l| match (l.as_ref() as &dyn Any).downcast_ref::<Mixture<A, T>>() {
            Some(m) => Box::new(m.to_dense()),
            None => l,
        },
    )
}

/// Rebuilds a mixture layer from its spec (see [`Registry`](crate::Registry)).
pub(crate) fn build<A: ActivationSet, T: Real>(
    config: &LayerConfig,
    src: &mut dyn TensorSource<T>,
    children: Vec<BoxedLayer<A, T>>,
) -> Result<BoxedLayer<A, T>> {
    no_sublayers(config, &children)?;
    config.only(&[
        "inputs",
        "outputs",
        "candidates",
        "temperature",
        "entropy_penalty",
        "alpha_lr_scale",
    ])?;
    let (inputs, outputs) = (config.usize("inputs")?, config.usize("outputs")?);
    let candidates = config.activations::<A>("candidates", None)?;
    let (temperature, penalty, lr_scale) = (
        config.f64("temperature")?,
        config.f64("entropy_penalty")?,
        config.f64("alpha_lr_scale")?,
    );
    let weight = src.take("weight", &[outputs, inputs])?;
    let bias = src.take("bias", &[outputs])?;
    let k = candidates.len();
    let alpha = src.take("alpha", &[outputs, k])?;
    let weight = DMatrix::from_vec(inputs, outputs, weight);
    let alpha = DMatrix::from_fn(outputs, k, |n, j| alpha[n * k + j]);
    let bad = |e| Error::Model {
        kind: ModelErrorKind::Malformed,
        detail: format!("{}: {e}", config.path),
    };
    Ok(Mixture::from_parts(weight, bias, &candidates, alpha)
        .map_err(inconsistent(config))?
        .with_temperature(T::lit(temperature))
        .map_err(bad)?
        .with_entropy_penalty(T::lit(penalty))
        .map_err(bad)?
        .with_alpha_lr_scale(T::lit(lr_scale))
        .map_err(bad)?
        .into())
}

impl<A: ActivationSet, T: Real> From<Mixture<A, T>> for BoxedLayer<A, T> {
    fn from(layer: Mixture<A, T>) -> Self {
        Box::new(layer)
    }
}
