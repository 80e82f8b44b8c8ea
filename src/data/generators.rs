//! Generators for the classic toy problems, each a validated [`Dataset`].

use nalgebra::DMatrix;
use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};

use super::Dataset;
use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::limits;

/// XOR: the four corners of the unit square, target 1 where exactly one input is 1.
pub fn xor<T: Real>() -> Dataset<T> {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).map(T::lit);
    let y = DMatrix::from_column_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]).map(T::lit);
    Dataset { x, y }
}

/// Two interleaved spirals: `n_per_class` points per arm, each arm winding
/// `turns` times around the origin out to radius 1, with Gaussian noise of
/// standard deviation `noise`. Targets are one column of 0/1 (for
/// [`Loss::BceWithLogits`](crate::Loss::BceWithLogits)); samples alternate between the arms.
///
/// # Errors
/// [`Error::ZeroWidth`] for `n_per_class == 0`, [`Error::HyperParameter`] for
/// `turns <= 0` or `noise < 0` (or non-finite), [`Error::TooLarge`] beyond
/// [`limits::MAX_ELEMENTS`], [`Error::NonFiniteData`] when `turns` or `noise`
/// is so large that a coordinate overflows.
pub fn two_spirals<T: Real, R: Rng + ?Sized>(
    n_per_class: usize,
    turns: f64,
    noise: f64,
    rng: &mut R,
) -> Result<Dataset<T>> {
    if n_per_class == 0 {
        return Err(Error::ZeroWidth {
            what: "points per class",
        });
    }
    crate::error::check_hyper("turns", turns, turns > 0.0, "finite and > 0")?;
    crate::error::check_hyper("noise", noise, noise >= 0.0, "finite and >= 0")?;
    let n = limits::elements("samples", &[n_per_class, 2])?;
    limits::elements("inputs", &[n, 2])?;
    let mut x = DMatrix::zeros(n, 2);
    let mut y = DMatrix::zeros(n, 1);
    for i in 0..n_per_class {
        // Radius grows with the square root so points are spread evenly along the arm.
        let t: f64 = 0.05 + 0.95 * rng.random::<f64>().sqrt();
        let angle = t * turns * std::f64::consts::TAU;
        for arm in 0..2 {
            let sign = if arm == 0 { 1.0 } else { -1.0 };
            let nx: f64 = StandardNormal.sample(rng);
            let ny: f64 = StandardNormal.sample(rng);
            let row = 2 * i + arm;
            x[(row, 0)] = T::lit(sign * t * angle.cos() + noise * nx);
            x[(row, 1)] = T::lit(sign * t * angle.sin() + noise * ny);
            y[(row, 0)] = T::lit(arm as f64);
        }
    }
    Dataset::new(x, y)
}

/// Which 1-D regression target [`regression_1d`] samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target1d {
    /// sin(w x) + |x|: periodic plus piecewise linear.
    SinPlusAbs {
        /// Angular frequency w.
        w: f64,
    },
    /// sin(w x) alone (where a periodic activation should help).
    Sin {
        /// Angular frequency w.
        w: f64,
    },
    /// |x| alone (where a piecewise-linear activation should help).
    Abs,
}

impl Target1d {
    /// The noiseless target at `x`.
    pub fn value(self, x: f64) -> f64 {
        match self {
            Target1d::SinPlusAbs { w } => (w * x).sin() + x.abs(),
            Target1d::Sin { w } => (w * x).sin(),
            Target1d::Abs => x.abs(),
        }
    }
}

/// `n` points with x uniform in [-range, range] and y = target(x) + N(0, noise²).
///
/// # Errors
/// [`Error::ZeroWidth`] for `n == 0`, [`Error::HyperParameter`] for a
/// non-positive or huge `range`, a negative `noise` or a non-finite frequency,
/// [`Error::TooLarge`] beyond [`limits::MAX_ELEMENTS`],
/// [`Error::NonFiniteData`] when the noise overflows a target.
pub fn regression_1d<T: Real, R: Rng + ?Sized>(
    target: Target1d,
    n: usize,
    range: f64,
    noise: f64,
    rng: &mut R,
) -> Result<Dataset<T>> {
    if n == 0 {
        return Err(Error::ZeroWidth { what: "samples" });
    }
    // The sampler draws from a span of 2 * range, which must itself be finite.
    crate::error::check_hyper(
        "range",
        range,
        range > 0.0 && range <= f64::MAX / 4.0,
        "finite, > 0 and <= 4.4e307",
    )?;
    crate::error::check_hyper("noise", noise, noise >= 0.0, "finite and >= 0")?;
    if let Target1d::SinPlusAbs { w } | Target1d::Sin { w } = target {
        crate::error::check_hyper("frequency", w, true, "finite")?;
    }
    limits::elements("samples", &[n, 1])?;
    let mut x = DMatrix::zeros(n, 1);
    let mut y = DMatrix::zeros(n, 1);
    for i in 0..n {
        let xi = rng.random_range(-range..=range);
        let e: f64 = StandardNormal.sample(rng);
        x[(i, 0)] = T::lit(xi);
        y[(i, 0)] = T::lit(target.value(xi) + noise * e);
    }
    Dataset::new(x, y)
}

/// A k × k checkerboard on [-1, 1]²: `n` uniform points, target 0/1 by the
/// colour of their square (one column, for binary cross-entropy).
///
/// # Errors
/// [`Error::ZeroWidth`] for `n == 0` or `k == 0`, [`Error::TooLarge`] beyond
/// [`limits::MAX_ELEMENTS`].
pub fn checkerboard<T: Real, R: Rng + ?Sized>(
    n: usize,
    k: usize,
    rng: &mut R,
) -> Result<Dataset<T>> {
    if n == 0 {
        return Err(Error::ZeroWidth { what: "samples" });
    }
    if k == 0 {
        return Err(Error::ZeroWidth {
            what: "checkerboard size",
        });
    }
    limits::elements("inputs", &[n, 2])?;
    let mut x = DMatrix::zeros(n, 2);
    let mut y = DMatrix::zeros(n, 1);
    let cell = |v: f64| (((v + 1.0) / 2.0 * k as f64) as usize).min(k - 1);
    for i in 0..n {
        let (a, b): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        x[(i, 0)] = T::lit(a);
        x[(i, 1)] = T::lit(b);
        y[(i, 0)] = T::lit(((cell(a) % 2 + cell(b) % 2) % 2) as f64);
    }
    Dataset::new(x, y)
}

/// n-bit parity: all 2^n bit vectors (as ±1 inputs), target 1 when an odd
/// number of bits is set.
///
/// # Errors
/// [`Error::ZeroWidth`] for `bits == 0`, [`Error::HyperParameter`] for more than 20 bits.
pub fn parity<T: Real>(bits: usize) -> Result<Dataset<T>> {
    if bits == 0 {
        return Err(Error::ZeroWidth { what: "bits" });
    }
    crate::error::check_hyper("bits", bits as f64, bits <= 20, "at most 20")?;
    let n = 1usize << bits;
    let x = DMatrix::from_fn(n, bits, |i, b| {
        T::lit(if (i >> b) & 1 == 1 { 1.0 } else { -1.0 })
    });
    let y = DMatrix::from_fn(n, 1, |i, _| T::lit((i.count_ones() % 2) as f64));
    Dataset::new(x, y)
}
