//! Activation sets: the trait a set of activations implements, and the built-in set [`Act`].
//!
//! A layer never calls an activation per element through a dynamic dispatch:
//! it calls [`ActivationSet::forward`] / [`ActivationSet::backward`] once per
//! contiguous block of neurons that share an activation, so the per-element
//! loop is monomorphic and the compiler can vectorise it.

use std::fmt::Debug;

use crate::compute::real::Real;

/// Which fan an initialiser divides the activation's gain by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fan {
    /// `std = gain / sqrt(fan_in)`: He (relu family) and LeCun (identity, sin) style.
    In,
    /// `std = gain / sqrt((fan_in + fan_out) / 2)`: Glorot style, for saturating tanh and sigmoid.
    Average,
}

/// A set of activation functions, named by the values of a small `Copy` type (normally an enum).
///
/// Implement [`value`](Self::value), [`derivative`](Self::derivative),
/// [`name`](Self::name) and [`from_name`](Self::from_name); the slice methods
/// have loop defaults that are correct for any set, and the built-in [`Act`]
/// overrides them with one vectorisable loop per activation.
///
/// # Example: a user-defined set
/// ```
/// use mixact::{ActivationSet, Real};
///
/// #[derive(Debug, Clone, Copy, PartialEq)]
/// enum MyAct { Square, Cube }
///
/// impl ActivationSet for MyAct {
///     fn value<T: Real>(self, z: T) -> T {
///         match self { MyAct::Square => z * z, MyAct::Cube => z * z * z }
///     }
///     fn derivative<T: Real>(self, z: T, _y: T) -> T {
///         match self { MyAct::Square => z + z, MyAct::Cube => T::lit(3.0) * z * z }
///     }
///     fn name(self) -> &'static str {
///         match self { MyAct::Square => "square", MyAct::Cube => "cube" }
///     }
///     fn from_name(name: &str) -> Option<Self> {
///         match name { "square" => Some(MyAct::Square), "cube" => Some(MyAct::Cube), _ => None }
///     }
/// }
/// assert_eq!(MyAct::Cube.value(2.0_f64), 8.0);
/// ```
pub trait ActivationSet: Copy + PartialEq + Debug + Send + Sync + 'static {
    /// f(z).
    fn value<T: Real>(self, z: T) -> T;

    /// f'(z). `y` is f(z), passed so that a derivative can use whichever of
    /// the input and the output is cheaper (sigmoid and tanh use the output).
    fn derivative<T: Real>(self, z: T, y: T) -> T;

    /// A stable, unique name ("relu"): how saved models and reports name the activation.
    fn name(self) -> &'static str;

    /// The activation whose [`name`](Self::name) is `name`, if any.
    fn from_name(name: &str) -> Option<Self>;

    /// The initialisation gain: weights into a neuron with this activation are
    /// drawn with `std = gain / sqrt(fan)`. Defaults to 1.
    fn gain(self) -> f64 {
        1.0
    }

    /// Which fan the gain is divided by. Defaults to [`Fan::In`].
    fn fan(self) -> Fan {
        Fan::In
    }

    /// The built-in activation this one computes exactly, if any: how
    /// exporters (ONNX) find an operator for it. Defaults to `None`, so an
    /// activation of your own is refused by an export until it names its
    /// built-in twin; an activation with no twin cannot be exported.
    fn builtin(self) -> Option<Act> {
        None
    }

    /// `y[i] = f(z[i])` over one contiguous block of neurons.
    fn forward<T: Real>(self, z: &[T], y: &mut [T]) {
        for (y, &z) in y.iter_mut().zip(z) {
            *y = self.value(z);
        }
    }

    /// `dz[i] = dy[i] * f'(z[i])` over one contiguous block, given the block's
    /// inputs `z`, outputs `y` and upstream gradient `dy`.
    fn backward<T: Real>(self, z: &[T], y: &[T], dy: &[T], dz: &mut [T]) {
        for (((dz, &z), &y), &dy) in dz.iter_mut().zip(z).zip(y).zip(dy) {
            *dz = dy * self.derivative(z, y);
        }
    }
}

/// The built-in activations.
///
/// Every one is numerically safe at large |z| (no NaN or overflow at
/// z = ±1000 in f32), and in `f32` the transcendental ones use branch-free
/// approximations that vectorise (see [`Real`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Act {
    /// z.
    Identity,
    /// max(z, 0).
    Relu,
    /// z for z > 0, 0.01 z otherwise.
    LeakyRelu,
    /// z for z > 0, e^z - 1 otherwise (alpha = 1).
    Elu,
    /// 1 / (1 + e^-z).
    Sigmoid,
    /// tanh z.
    Tanh,
    /// GELU, tanh approximation: z σ(2 sqrt(2/π) (z + 0.044715 z³)) (= 0.5 z (1 + tanh(...))).
    Gelu,
    /// GELU, erf form: z Φ(z) (PyTorch's default `nn.GELU()`), with Φ from an
    /// erfc approximation of relative error below 1.2e-7 in `f32` and musl's
    /// erfc (below 1 ulp) in `f64`.
    GeluErf,
    /// SiLU / swish: z σ(z).
    Silu,
    /// ln(1 + e^z).
    Softplus,
    /// sin z.
    Sin,
    /// z², the nonlinearity of symbolic formulas (products and powers):
    /// with identity, sin and tanh it lets a per-neuron mask write terms
    /// like x², x·y = ((x+y)² - (x-y)²)/4 and sin(x) exactly.
    Square,
}

impl Act {
    /// Every built-in activation, in declaration order.
    pub const ALL: [Act; 12] = [
        Act::Identity,
        Act::Relu,
        Act::LeakyRelu,
        Act::Elu,
        Act::Sigmoid,
        Act::Tanh,
        Act::Gelu,
        Act::GeluErf,
        Act::Silu,
        Act::Softplus,
        Act::Sin,
        Act::Square,
    ];
}

// Each activation: forward and derivative side by side. The derivative takes
// (z, y) and uses whichever the formula needs cheapest.

#[inline(always)]
fn identity<T: Real>(z: T) -> T {
    z
}
#[inline(always)]
fn identity_d<T: Real>(_z: T, _y: T) -> T {
    T::one()
}

#[inline(always)]
fn relu<T: Real>(z: T) -> T {
    if z > T::zero() {
        z
    } else {
        T::zero()
    }
}
#[inline(always)]
fn relu_d<T: Real>(z: T, _y: T) -> T {
    if z > T::zero() {
        T::one()
    } else {
        T::zero()
    }
}

const LEAKY_SLOPE: f64 = 0.01;
#[inline(always)]
fn leaky_relu<T: Real>(z: T) -> T {
    if z > T::zero() {
        z
    } else {
        z * T::lit(LEAKY_SLOPE)
    }
}
#[inline(always)]
fn leaky_relu_d<T: Real>(z: T, _y: T) -> T {
    if z > T::zero() {
        T::one()
    } else {
        T::lit(LEAKY_SLOPE)
    }
}

#[inline(always)]
fn elu<T: Real>(z: T) -> T {
    let neg = z.min(T::zero()).expm1_fast();
    if z > T::zero() {
        z
    } else {
        neg
    }
}
#[inline(always)]
fn elu_d<T: Real>(z: T, y: T) -> T {
    // For z <= 0, y = e^z - 1, so f' = e^z = y + 1.
    if z > T::zero() {
        T::one()
    } else {
        y + T::one()
    }
}

#[inline(always)]
fn sigmoid<T: Real>(z: T) -> T {
    T::one() / (T::one() + (-z).exp_fast())
}
#[inline(always)]
fn sigmoid_d<T: Real>(_z: T, y: T) -> T {
    y * (T::one() - y)
}

#[inline(always)]
fn tanh<T: Real>(z: T) -> T {
    z.tanh_fast()
}
#[inline(always)]
fn tanh_d<T: Real>(_z: T, y: T) -> T {
    T::one() - y * y
}

/// sqrt(2/π)
const GELU_C: f64 = 0.797_884_560_802_865_4;
const GELU_A: f64 = 0.044_715;
#[inline(always)]
fn gelu<T: Real>(z: T) -> T {
    // 0.5 z (1 + tanh u) = z σ(2u): the sigmoid form keeps relative accuracy in
    // the negative tail, where 1 + tanh u cancels.
    let u = T::lit(GELU_C) * (z + T::lit(GELU_A) * z * z * z);
    z * sigmoid(u + u)
}
#[inline(always)]
fn gelu_d<T: Real>(z: T, y: T) -> T {
    let z2 = z * z;
    let u = T::lit(GELU_C) * (z + T::lit(GELU_A) * z2 * z);
    let s = gate_from_output(z, y, T::lit(0.5) + T::lit(0.5) * u);
    let du = T::lit(GELU_C) * (T::one() + T::lit(3.0 * GELU_A) * z2);
    s + z * s * (T::one() - s) * (du + du)
}

/// The gate s of a gated activation y = z·s, recovered from the output as
/// y / z (one division instead of the exp and division of recomputing it);
/// `near_zero` (s's Taylor value) where |z| is too small to divide by.
#[inline(always)]
fn gate_from_output<T: Real>(z: T, y: T, near_zero: T) -> T {
    let far = y / z;
    if z.abs() > T::lit(1e-3) {
        far
    } else {
        near_zero
    }
}

/// Φ(z) = erfc(-z/√2)/2. In `f32`, erfc from Numerical Recipes' `erfcc`
/// (Chebyshev fit, fractional error below 1.2e-7 everywhere, vectorisable);
/// in `f64`, musl's erfc (through the `libm` crate, error below 1 ulp), so
/// gradient checks and comparisons with PyTorch in `f64` agree to ~1e-16.
#[inline(always)]
fn normal_cdf<T: Real>(z: T) -> T {
    if T::NAME == "f64" {
        let x = -z.as_f64() * std::f64::consts::FRAC_1_SQRT_2;
        return T::lit(0.5 * libm::erfc(x));
    }
    let x = -z * T::lit(std::f64::consts::FRAC_1_SQRT_2);
    let ax = x.abs();
    let t = T::one() / (T::one() + T::lit(0.5) * ax);
    let c = |v: f64| T::lit(v);
    let poly = c(-1.265_512_23)
        + t * (c(1.000_023_68)
            + t * (c(0.374_091_96)
                + t * (c(0.096_784_18)
                    + t * (c(-0.186_288_06)
                        + t * (c(0.278_868_07)
                            + t * (c(-1.135_203_98)
                                + t * (c(1.488_515_87)
                                    + t * (c(-0.822_152_23) + t * c(0.170_872_77)))))))));
    let erfc_ax = t * (-ax * ax + poly).exp_fast();
    let erfc_x = if x >= T::zero() {
        erfc_ax
    } else {
        T::lit(2.0) - erfc_ax
    };
    T::lit(0.5) * erfc_x
}
#[inline(always)]
fn gelu_erf<T: Real>(z: T) -> T {
    z * normal_cdf(z)
}
#[inline(always)]
fn gelu_erf_d<T: Real>(z: T, y: T) -> T {
    // Φ(z) + z φ(z), φ(z) = e^{-z²/2} / sqrt(2π).
    let pdf = (-T::lit(0.5) * z * z).exp_fast() * T::lit(0.398_942_280_401_432_7);
    // f32: Φ(z) recovered from the forward output y = z Φ(z) (one division
    // instead of a second erfc; within 2 ulp of Φ). Below |z| = 1e-8, Φ(z)
    // rounds to 0.5 in f32 and y / z would lose bits to underflow.
    // f64 keeps the direct erfc, for gradient checks to the last bit.
    let cdf = if T::NAME == "f64" {
        normal_cdf(z)
    } else if z.abs() < T::lit(1e-8) {
        T::lit(0.5)
    } else {
        y / z
    };
    cdf + z * pdf
}

#[inline(always)]
fn silu<T: Real>(z: T) -> T {
    z * sigmoid(z)
}
#[inline(always)]
fn silu_d<T: Real>(z: T, _y: T) -> T {
    let s = sigmoid(z);
    s * (T::one() + z * (T::one() - s))
}

#[inline(always)]
fn softplus<T: Real>(z: T) -> T {
    // max(z, 0) + ln(1 + e^-|z|): no overflow for large z, no cancellation for very negative z.
    z.max(T::zero()) + (-z.abs()).exp_fast().ln_1p_fast()
}
#[inline(always)]
fn softplus_d<T: Real>(z: T, _y: T) -> T {
    sigmoid(z)
}

#[inline(always)]
fn sin<T: Real>(z: T) -> T {
    z.sin_fast()
}
#[inline(always)]
fn sin_d<T: Real>(z: T, _y: T) -> T {
    z.cos_fast()
}

#[inline(always)]
fn square<T: Real>(z: T) -> T {
    z * z
}
#[inline(always)]
fn square_d<T: Real>(z: T, _y: T) -> T {
    z + z
}

/// Runs `$body` with `$f` / `$df` bound to the forward / derivative functions of `$act`.
macro_rules! with_kernels {
    ($act:expr, $t:ty, |$f:ident, $df:ident| $body:expr) => {
        match $act {
            Act::Identity => {
                let ($f, $df) = (identity::<$t>, identity_d::<$t>);
                $body
            }
            Act::Relu => {
                let ($f, $df) = (relu::<$t>, relu_d::<$t>);
                $body
            }
            Act::LeakyRelu => {
                let ($f, $df) = (leaky_relu::<$t>, leaky_relu_d::<$t>);
                $body
            }
            Act::Elu => {
                let ($f, $df) = (elu::<$t>, elu_d::<$t>);
                $body
            }
            Act::Sigmoid => {
                let ($f, $df) = (sigmoid::<$t>, sigmoid_d::<$t>);
                $body
            }
            Act::Tanh => {
                let ($f, $df) = (tanh::<$t>, tanh_d::<$t>);
                $body
            }
            Act::Gelu => {
                let ($f, $df) = (gelu::<$t>, gelu_d::<$t>);
                $body
            }
            Act::GeluErf => {
                let ($f, $df) = (gelu_erf::<$t>, gelu_erf_d::<$t>);
                $body
            }
            Act::Silu => {
                let ($f, $df) = (silu::<$t>, silu_d::<$t>);
                $body
            }
            Act::Softplus => {
                let ($f, $df) = (softplus::<$t>, softplus_d::<$t>);
                $body
            }
            Act::Sin => {
                let ($f, $df) = (sin::<$t>, sin_d::<$t>);
                $body
            }
            Act::Square => {
                let ($f, $df) = (square::<$t>, square_d::<$t>);
                $body
            }
        }
    };
}

impl ActivationSet for Act {
    fn value<T: Real>(self, z: T) -> T {
        with_kernels!(self, T, |f, _df| f(z))
    }

    fn derivative<T: Real>(self, z: T, y: T) -> T {
        with_kernels!(self, T, |_f, df| df(z, y))
    }

    fn name(self) -> &'static str {
        match self {
            Act::Identity => "identity",
            Act::Relu => "relu",
            Act::LeakyRelu => "leaky_relu",
            Act::Elu => "elu",
            Act::Sigmoid => "sigmoid",
            Act::Tanh => "tanh",
            Act::Gelu => "gelu",
            Act::GeluErf => "gelu_erf",
            Act::Silu => "silu",
            Act::Softplus => "softplus",
            Act::Sin => "sin",
            Act::Square => "square",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Act::ALL.into_iter().find(|a| a.name() == name)
    }

    fn builtin(self) -> Option<Act> {
        Some(self)
    }

    fn gain(self) -> f64 {
        match self {
            Act::Relu | Act::Elu | Act::Gelu | Act::GeluErf | Act::Silu | Act::Softplus => {
                std::f64::consts::SQRT_2
            }
            Act::LeakyRelu => (2.0 / (1.0 + LEAKY_SLOPE * LEAKY_SLOPE)).sqrt(),
            Act::Identity | Act::Sigmoid | Act::Tanh | Act::Sin | Act::Square => 1.0,
        }
    }

    fn fan(self) -> Fan {
        match self {
            Act::Sigmoid | Act::Tanh => Fan::Average,
            _ => Fan::In,
        }
    }

    fn forward<T: Real>(self, z: &[T], y: &mut [T]) {
        assert_eq!(z.len(), y.len(), "activation block lengths differ");
        with_kernels!(self, T, |f, _df| simd::map(f, z, y))
    }

    fn backward<T: Real>(self, z: &[T], y: &[T], dy: &[T], dz: &mut [T]) {
        let n = dz.len();
        assert!(
            z.len() == n && y.len() == n && dy.len() == n,
            "activation block lengths differ"
        );
        with_kernels!(self, T, |_f, df| simd::map_grad(df, z, y, dy, dz))
    }
}

/// The two element-wise loops every activation runs (see [`crate::cpu`]).
mod simd {
    use crate::compute::cpu::multiversion;
    use crate::compute::real::Real;

    #[inline(always)]
    fn map_scalar<T: Real, F: Fn(T) -> T>(f: F, z: &[T], y: &mut [T]) {
        for (y, &z) in y.iter_mut().zip(z) {
            *y = f(z);
        }
    }

    #[inline(always)]
    fn map_grad_scalar<T: Real, F: Fn(T, T) -> T>(df: F, z: &[T], y: &[T], dy: &[T], dz: &mut [T]) {
        for (((dz, &z), &y), &dy) in dz.iter_mut().zip(z).zip(y).zip(dy) {
            *dz = dy * df(z, y);
        }
    }

    multiversion! {
        /// `y[i] = f(z[i])`.
        pub(super) fn map<T: Real, F: Fn(T) -> T>(f: F, z: &[T], y: &mut [T]) => map_scalar
    }

    multiversion! {
        /// `dz[i] = dy[i] * df(z[i], y[i])`.
        pub(super) fn map_grad<T: Real, F: Fn(T, T) -> T>(df: F, z: &[T], y: &[T], dy: &[T], dz: &mut [T]) => map_grad_scalar
    }
}

impl std::fmt::Display for Act {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
