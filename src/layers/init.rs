//! Weight initialisation scaled per neuron by that neuron's activation.
//!
//! Neuron j's incoming weights are drawn from N(0, std_j²) with
//! `std_j = gain(a_j) / sqrt(fan(a_j))`: He-style (`fan_in`, gain √2) for the
//! relu family, Glorot-style (mean of `fan_in` and `fan_out`, gain 1) for tanh
//! and sigmoid, as the activation set says. Draws go column by column in the
//! user's neuron order, so a given seed gives neuron j the same weights
//! whichever layer kind holds it. Biases start at zero.

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};

use crate::compute::activation::{ActivationSet, Fan};
use crate::compute::real::Real;
use crate::error::Result;
use crate::limits;

/// The standard deviation of the initial weights of a neuron with activation `act`.
pub fn weight_std<A: ActivationSet>(act: A, fan_in: usize, fan_out: usize) -> f64 {
    let fan = match act.fan() {
        Fan::In => fan_in as f64,
        Fan::Average => (fan_in + fan_out) as f64 / 2.0,
    };
    act.gain() / fan.max(1.0).sqrt()
}

/// An `inputs × mask.len()` weight matrix in user order, neuron j scaled for `mask[j]`.
///
/// # Errors
/// [`Error::TooLarge`](crate::Error::TooLarge) beyond [`limits::MAX_ELEMENTS`].
pub fn weights<T: Real, A: ActivationSet, R: Rng + ?Sized>(
    inputs: usize,
    mask: &[A],
    rng: &mut R,
) -> Result<DMatrix<T>> {
    let outputs = mask.len();
    weights_with_std(
        inputs,
        outputs,
        |j| weight_std(mask[j], inputs, outputs),
        rng,
    )
}

/// An `inputs × outputs` matrix whose column j is drawn from N(0, std(j)²),
/// column by column.
///
/// # Errors
/// [`Error::TooLarge`](crate::Error::TooLarge) beyond [`limits::MAX_ELEMENTS`].
pub fn weights_with_std<T: Real, R: Rng + ?Sized>(
    inputs: usize,
    outputs: usize,
    std: impl Fn(usize) -> f64,
    rng: &mut R,
) -> Result<DMatrix<T>> {
    limits::elements("weights", &[inputs, outputs])?;
    let mut w = DMatrix::zeros(inputs, outputs);
    for j in 0..outputs {
        let s = std(j);
        for i in 0..inputs {
            let n: f64 = StandardNormal.sample(rng);
            w[(i, j)] = T::lit(n * s);
        }
    }
    Ok(w)
}

/// An `inputs × outputs` matrix drawn from U(-bound, bound), column by
/// column (SIREN's initialisation draws uniformly).
///
/// # Errors
/// [`Error::TooLarge`](crate::Error::TooLarge) beyond [`limits::MAX_ELEMENTS`];
/// [`Error::HyperParameter`](crate::Error::HyperParameter) unless `bound`
/// is finite and > 0.
pub fn uniform<T: Real, R: Rng + ?Sized>(
    inputs: usize,
    outputs: usize,
    bound: f64,
    rng: &mut R,
) -> Result<DMatrix<T>> {
    crate::error::check_hyper(
        "bound",
        bound,
        bound.is_finite() && bound > 0.0,
        "finite and > 0",
    )?;
    limits::elements("weights", &[inputs, outputs])?;
    let u = Uniform::new_inclusive(-bound, bound).map_err(|_| crate::Error::HyperParameter {
        name: "bound",
        value: bound,
        requirement: "finite and > 0",
    })?;
    let mut w = DMatrix::zeros(inputs, outputs);
    for j in 0..outputs {
        for i in 0..inputs {
            w[(i, j)] = T::lit(u.sample(rng));
        }
    }
    Ok(w)
}
