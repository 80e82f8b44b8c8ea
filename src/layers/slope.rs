//! [`Slope`]: a fixed activation with a per-neuron (or per-layer) input
//! scale: the control that tells learned *mixing* apart from learned
//! *scaling*, Jagtap's locally adaptive activations, and SIREN's sine layers.

use nalgebra::DMatrix;
use rand::Rng;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::{contiguous_or_copy, Buf, MatRef};
use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::layers::affine::{check_parts, Affine};
use crate::layers::init;
use crate::layers::layer::{BoxedLayer, Layer, Param};
use crate::layers::spec::{inconsistent, no_sublayers};
use crate::layers::spec::{ConfigValue, LayerConfig, LayerSpec, TensorSource};

/// Neuron n computes `f(s · a_n · z_n)`, `z = x·W + b`, with one fixed
/// activation `f`, a scale factor `s` and a slope `a_n` (one per neuron, or
/// one shared by the layer).
///
/// - [`Slope::new`]: `s = 1`, trained per-neuron slopes starting at 1.
///   Sütfeld et al. (2018) found that the gains of learned activation blends
///   came mostly from adaptive scaling; comparing a [`Mixture`](crate::Mixture)
///   against this layer separates the two.
/// - [`Slope::adaptive`]: Jagtap, Kawaguchi and Karniadakis (2020), locally
///   adaptive activations: `s = n` (e.g. 10), trained slopes starting at
///   `1/n`, per neuron or per layer. The factor makes the slopes learn `n`
///   times faster than the weights under plain SGD.
/// - [`Slope::siren`]: Sitzmann et al. (2020), sine layers: `s = ω0` (30 in
///   the paper), slopes fixed at 1 (not trained), weights drawn as SIREN
///   draws them.
///
/// # Example
/// ```
/// use mixact::{Act, Layer, Slope};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let s = Slope::<Act, f64>::new(3, 5, Act::Tanh, &mut rng)?;
/// assert_eq!(s.slopes(), vec![1.0; 5]);
/// assert_eq!(s.param_count(), 3 * 5 + 5 + 5);
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Slope<A, T: Real = f32> {
    act: A,
    affine: Affine<T>,
    /// One per neuron, or one for the layer.
    slope: Vec<T>,
    grad_slope: Vec<T>,
    /// The scale factor `s`.
    scale: T,
    /// Whether the slopes are parameters (visited, saved as trained).
    trained: bool,
    /// a ⊙ z
    u: Buf<T>,
    y: Buf<T>,
    dy: Buf<T>,
    du: Buf<T>,
    dz: Buf<T>,
    slope_id: crate::layers::tensor_id::OwnedTensorId,
}

impl<A: ActivationSet, T: Real> Slope<A, T> {
    /// A slope layer with activation `act`, weights initialised for it, slopes 1.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] for zero `inputs` or `outputs`.
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
        crate::limits::elements("weights", &[inputs, outputs])?;
        let weight = init::weights(inputs, &vec![act; outputs], rng)?;
        Self::from_parts(
            weight,
            vec![T::zero(); outputs],
            act,
            vec![T::one(); outputs],
        )
    }

    /// Jagtap's locally adaptive activation: `f(n · a · z)` with scale
    /// factor `n` and trained slopes `a` starting at `1/n` (so the layer
    /// starts as plain `f`), one per neuron (`per_neuron`) or one for the
    /// layer; weights initialised for `act`, biases zero.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] for zero `inputs` or `outputs`;
    /// [`Error::HyperParameter`] unless `n` is finite and at least 1.
    pub fn adaptive<R: Rng + ?Sized>(
        inputs: usize,
        outputs: usize,
        act: A,
        n: f64,
        per_neuron: bool,
        rng: &mut R,
    ) -> Result<Self> {
        let scale = scale_in::<T>("scale factor n", n, n >= 1.0, "finite and >= 1")?;
        let mut layer = Self::new(inputs, outputs, act, rng)?;
        layer.slope = vec![T::lit(1.0 / n); if per_neuron { outputs } else { 1 }];
        layer.grad_slope = vec![T::zero(); layer.slope.len()];
        layer.scale = scale;
        Ok(layer)
    }

    /// A SIREN sine layer: `act(ω0 · z)` (pass your set's sine as `act`)
    /// with the slopes fixed at 1 and SIREN's initialisation: weights from
    /// U(-1/inputs, 1/inputs) for the `first` layer, U(-√(6/inputs)/ω0,
    /// √(6/inputs)/ω0) for the others, biases from U(-1/√inputs, 1/√inputs)
    /// (PyTorch's `nn.Linear` default, as SIREN's code keeps it).
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] for zero `inputs` or `outputs`;
    /// [`Error::HyperParameter`] unless `omega0` is finite and > 0.
    pub fn siren<R: Rng + ?Sized>(
        inputs: usize,
        outputs: usize,
        act: A,
        omega0: f64,
        first: bool,
        rng: &mut R,
    ) -> Result<Self> {
        let scale = scale_in::<T>("omega0", omega0, omega0 > 0.0, "finite and > 0")?;
        if inputs == 0 {
            return Err(Error::ZeroWidth { what: "inputs" });
        }
        if outputs == 0 {
            return Err(Error::ZeroWidth { what: "outputs" });
        }
        let n = inputs as f64;
        let bound = if first {
            1.0 / n
        } else {
            (6.0 / n).sqrt() / omega0
        };
        let weight = init::uniform(inputs, outputs, bound, rng)?;
        let bias = init::uniform::<T, R>(1, outputs, 1.0 / n.sqrt(), rng)?;
        let mut layer = Self::from_parts(weight, bias.as_slice().to_vec(), act, vec![T::one(); 1])?;
        layer.scale = scale;
        layer.trained = false;
        Ok(layer)
    }

    /// A slope layer with given parameters: scale 1, trained slopes.
    ///
    /// # Errors
    /// [`Error::Length`] when `bias` does not have one entry per column of
    /// `weight`, or `slope` neither one per column nor one in all.
    pub fn from_parts(weight: DMatrix<T>, bias: Vec<T>, act: A, slope: Vec<T>) -> Result<Self> {
        let per = if slope.len() == 1 {
            weight.ncols()
        } else {
            slope.len()
        };
        check_parts(&weight, &bias, per, "slopes")?;
        Ok(Slope {
            act,
            affine: Affine::new(weight, bias),
            grad_slope: vec![T::zero(); slope.len()],
            scale: T::one(),
            trained: true,
            slope,
            u: Buf::new(),
            y: Buf::new(),
            dy: Buf::new(),
            du: Buf::new(),
            dz: Buf::new(),
            slope_id: crate::layers::tensor_id::OwnedTensorId::new(),
        })
    }

    /// The weights (inputs × outputs). Copies.
    pub fn weight(&self) -> DMatrix<T> {
        self.affine.weight.clone()
    }

    /// The biases. Copies.
    pub fn bias(&self) -> Vec<T> {
        self.affine.bias.clone()
    }

    /// The slopes a_n (one, when the layer shares its slope).
    pub fn slopes(&self) -> Vec<T> {
        self.slope.clone()
    }

    /// The scale factor `s` (1, Jagtap's `n`, or SIREN's `ω0`).
    pub fn scale(&self) -> T {
        self.scale
    }

    /// Whether the slopes are trained (false for SIREN's fixed ω0).
    pub fn slopes_trained(&self) -> bool {
        self.trained
    }

    /// The slope neuron `n` uses: `s · a_n`, or `s · a` when shared.
    fn effective(&self, n: usize) -> T {
        self.scale * self.slope[if self.slope.len() == 1 { 0 } else { n }]
    }

    /// The activation.
    pub fn activation(&self) -> A {
        self.act
    }
}

impl<A: ActivationSet, T: Real> Layer<A, T> for Slope<A, T> {
    fn input_width(&self) -> usize {
        self.affine.inputs()
    }

    fn output_width(&self) -> usize {
        self.affine.outputs()
    }

    fn forward(&mut self, x: MatRef<'_, T>) -> Result<()> {
        self.affine.forward(&x)?;
        let (batch, outputs) = (x.nrows(), self.output_width());
        self.u.resize(batch, outputs);
        for n in 0..outputs {
            let a = self.effective(n);
            for (u, &z) in self
                .u
                .cols_mut(n, 1)
                .iter_mut()
                .zip(self.affine.z.cols(n, 1))
            {
                *u = a * z;
            }
        }
        self.y.resize(batch, outputs);
        self.act.forward(self.u.as_slice(), self.y.as_mut_slice());
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
        self.du.resize(batch, outputs);
        self.act.backward(
            self.u.as_slice(),
            self.y.as_slice(),
            dy,
            self.du.as_mut_slice(),
        );
        self.dz.resize(batch, outputs);
        self.grad_slope.iter_mut().for_each(|g| *g = T::zero());
        let shared = self.slope.len() == 1;
        for n in 0..outputs {
            let a = self.effective(n);
            let (du, z) = (self.du.cols(n, 1), self.affine.z.cols(n, 1));
            // d/da of f(s·a·z) is s·z·f'(u)
            let g: T = du.iter().zip(z).map(|(&d, &z)| d * z).sum();
            self.grad_slope[if shared { 0 } else { n }] += self.scale * g;
            for (dz, &d) in self.dz.cols_mut(n, 1).iter_mut().zip(du) {
                *dz = a * d;
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
        if !self.trained {
            return;
        }
        f(Param {
            name: "slope",
            id: self.slope_id.id(),
            value: &mut self.slope,
            grad: &self.grad_slope,
            decay: false,
            lr_scale: T::one(),
        });
    }

    fn adaptive_slopes(&mut self) -> Option<(&[T], &mut [T])> {
        self.trained
            .then_some((self.slope.as_slice(), self.grad_slope.as_mut_slice()))
    }

    fn param_count(&self) -> usize {
        self.affine.param_count() + if self.trained { self.slope.len() } else { 0 }
    }

    fn spec(&self) -> Option<LayerSpec<T>> {
        let (inputs, outputs) = (self.input_width(), self.output_width());
        let mut spec = LayerSpec::new("slope")
            .with("inputs", ConfigValue::Int(inputs as u64))
            .with("outputs", ConfigValue::Int(outputs as u64))
            .with("activation", ConfigValue::Str(self.act.name().to_string()));
        // Written only when they differ from a plain slope layer, so such
        // files read as before everywhere.
        if self.scale != T::one() {
            spec = spec.with("scale", ConfigValue::Float(self.scale.as_f64()));
        }
        if !self.trained {
            spec = spec.with("trained", ConfigValue::Bool(false));
        }
        let shared = self.slope.len() == 1 && outputs > 1;
        if shared {
            spec = spec.with("shared", ConfigValue::Bool(true));
        }
        Some(
            spec.with_tensor(
                "weight",
                vec![outputs, inputs],
                self.weight().as_slice().to_vec(),
            )
            .with_tensor("bias", vec![outputs], self.bias())
            .with_tensor("slope", vec![self.slope.len()], self.slopes()),
        )
    }

    fn describe(&self) -> String {
        let slopes = match (self.trained, self.slope.len() == 1) {
            (false, _) => format!("fixed scale {}", self.scale),
            (true, true) => format!("learned layer slope, scale {}", self.scale),
            (true, false) if self.scale == T::one() => "learned slopes".to_string(),
            (true, false) => format!("learned slopes, scale {}", self.scale),
        };
        format!(
            "slope {} -> {} [{}, {slopes}]",
            self.input_width(),
            self.output_width(),
            self.act.name()
        )
    }
}

/// `value` as the layer's float, refused unless `ok` and finite in that type
/// too: 1e300 is a finite `f64` but infinite in `f32`, where it would turn
/// every output into NaN without a word.
fn scale_in<T: Real>(
    name: &'static str,
    value: f64,
    ok: bool,
    requirement: &'static str,
) -> Result<T> {
    let s = T::lit(value);
    crate::error::check_hyper(
        name,
        value,
        ok && value.is_finite() && s.is_finite(),
        requirement,
    )?;
    Ok(s)
}

/// Rebuilds a slope layer from its spec (see [`Registry`](crate::Registry)).
pub(crate) fn build<A: ActivationSet, T: Real>(
    config: &LayerConfig,
    src: &mut dyn TensorSource<T>,
    children: Vec<BoxedLayer<A, T>>,
) -> Result<BoxedLayer<A, T>> {
    no_sublayers(config, &children)?;
    config.only(&[
        "inputs",
        "outputs",
        "activation",
        "scale",
        "trained",
        "shared",
    ])?;
    let (inputs, outputs) = (config.usize("inputs")?, config.usize("outputs")?);
    let act = config.activation::<A>("activation")?;
    let scale = config.f64_or("scale", 1.0)?;
    let scale = scale_in::<T>("scale", scale, scale > 0.0, "finite and > 0")
        .map_err(inconsistent(config))?;
    let trained = config.bool_or("trained", true)?;
    let shared = config.bool_or("shared", false)?;
    let weight = src.take("weight", &[outputs, inputs])?;
    let bias = src.take("bias", &[outputs])?;
    let slope = src.take("slope", &[if shared { 1 } else { outputs }])?;
    let weight = DMatrix::from_vec(inputs, outputs, weight);
    let mut layer = Slope::from_parts(weight, bias, act, slope).map_err(inconsistent(config))?;
    layer.scale = scale;
    layer.trained = trained;
    Ok(layer.into())
}

impl<A: ActivationSet, T: Real> From<Slope<A, T>> for BoxedLayer<A, T> {
    fn from(layer: Slope<A, T>) -> Self {
        Box::new(layer)
    }
}
