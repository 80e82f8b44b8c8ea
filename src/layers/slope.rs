//! [`Slope`]: a fixed activation with a trained per-neuron input scale, the
//! control that tells learned *mixing* apart from learned *scaling*.

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

/// Neuron n computes `f(a_n · z_n)`, `z = x·W + b`, with one fixed activation
/// `f` and a trained slope `a_n` initialised to 1.
///
/// Sütfeld et al. (2018) found that the gains of learned activation blends
/// came mostly from adaptive scaling; comparing a [`Mixture`](crate::Mixture)
/// against this layer separates the two.
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
    slope: Vec<T>,
    grad_slope: Vec<T>,
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

    /// A slope layer with given parameters.
    ///
    /// # Errors
    /// [`Error::Length`] when `bias` or `slope` does not have one entry per column of `weight`.
    pub fn from_parts(weight: DMatrix<T>, bias: Vec<T>, act: A, slope: Vec<T>) -> Result<Self> {
        check_parts(&weight, &bias, slope.len(), "slopes")?;
        Ok(Slope {
            act,
            affine: Affine::new(weight, bias),
            grad_slope: vec![T::zero(); slope.len()],
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

    /// The slopes a_n.
    pub fn slopes(&self) -> Vec<T> {
        self.slope.clone()
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
        for (n, &a) in self.slope.iter().enumerate() {
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
        for (n, &a) in self.slope.iter().enumerate() {
            let (du, z) = (self.du.cols(n, 1), self.affine.z.cols(n, 1));
            self.grad_slope[n] = du.iter().zip(z).map(|(&d, &z)| d * z).sum();
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
        f(Param {
            name: "slope",
            id: self.slope_id.id(),
            value: &mut self.slope,
            grad: &self.grad_slope,
            decay: false,
            lr_scale: T::one(),
        });
    }

    fn param_count(&self) -> usize {
        self.affine.param_count() + self.slope.len()
    }

    fn spec(&self) -> Option<LayerSpec<T>> {
        let (inputs, outputs) = (self.input_width(), self.output_width());
        Some(
            LayerSpec::new("slope")
                .with("inputs", ConfigValue::Int(inputs as u64))
                .with("outputs", ConfigValue::Int(outputs as u64))
                .with("activation", ConfigValue::Str(self.act.name().to_string()))
                .with_tensor(
                    "weight",
                    vec![outputs, inputs],
                    self.weight().as_slice().to_vec(),
                )
                .with_tensor("bias", vec![outputs], self.bias())
                .with_tensor("slope", vec![outputs], self.slopes()),
        )
    }

    fn describe(&self) -> String {
        format!(
            "slope {} -> {} [{}, learned slopes]",
            self.input_width(),
            self.output_width(),
            self.act.name()
        )
    }
}

/// Rebuilds a slope layer from its spec (see [`Registry`](crate::Registry)).
pub(crate) fn build<A: ActivationSet, T: Real>(
    config: &LayerConfig,
    src: &mut dyn TensorSource<T>,
    children: Vec<BoxedLayer<A, T>>,
) -> Result<BoxedLayer<A, T>> {
    no_sublayers(config, &children)?;
    config.only(&["inputs", "outputs", "activation"])?;
    let (inputs, outputs) = (config.usize("inputs")?, config.usize("outputs")?);
    let act = config.activation::<A>("activation")?;
    let weight = src.take("weight", &[outputs, inputs])?;
    let bias = src.take("bias", &[outputs])?;
    let slope = src.take("slope", &[outputs])?;
    let weight = DMatrix::from_vec(inputs, outputs, weight);
    Ok(Slope::from_parts(weight, bias, act, slope)
        .map_err(inconsistent(config))?
        .into())
}

impl<A: ActivationSet, T: Real> From<Slope<A, T>> for BoxedLayer<A, T> {
    fn from(layer: Slope<A, T>) -> Self {
        Box::new(layer)
    }
}
