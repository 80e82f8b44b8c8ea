//! Data sets: a validated (inputs, targets) pair, and generators for the classic toy problems.

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result};
use crate::real::Real;

/// Inputs (samples × features) and targets (samples × outputs), checked to agree.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset<T: Real = f32> {
    x: DMatrix<T>,
    y: DMatrix<T>,
}

impl<T: Real> Dataset<T> {
    /// Pairs inputs with targets.
    ///
    /// # Errors
    /// [`Error::Empty`] for no samples, [`Error::ZeroWidth`] for no features or
    /// no target columns, [`Error::Shape`] when the sample counts differ,
    /// [`Error::NonFiniteData`] for a NaN or infinity in either.
    pub fn new(x: DMatrix<T>, y: DMatrix<T>) -> Result<Self> {
        if x.nrows() == 0 {
            return Err(Error::Empty { what: "data set" });
        }
        if x.ncols() == 0 {
            return Err(Error::ZeroWidth { what: "features" });
        }
        if y.ncols() == 0 {
            return Err(Error::ZeroWidth {
                what: "target columns",
            });
        }
        if y.nrows() != x.nrows() {
            return Err(Error::shape("targets", (Some(x.nrows()), None), y.shape()));
        }
        check_finite("inputs", &x)?;
        check_finite("targets", &y)?;
        Ok(Dataset { x, y })
    }

    /// Class labels as one-hot targets over `classes` columns.
    ///
    /// # Errors
    /// As [`Dataset::new`], and [`Error::LabelOutOfRange`] for a label >= `classes`.
    pub fn classification(x: DMatrix<T>, labels: &[usize], classes: usize) -> Result<Self> {
        Self::new(x, one_hot(labels, classes)?)
    }

    /// Inputs, samples × features.
    pub fn x(&self) -> &DMatrix<T> {
        &self.x
    }

    /// Targets, samples × outputs.
    pub fn y(&self) -> &DMatrix<T> {
        &self.y
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.nrows()
    }

    /// Always false: a data set has at least one sample.
    pub fn is_empty(&self) -> bool {
        self.x.nrows() == 0
    }

    /// The samples at `indices`, in that order.
    ///
    /// # Errors
    /// [`Error::Empty`] for no indices, [`Error::Length`] for an index out of range.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::Length {
                what: "data set (index out of range)",
                expected: self.len(),
                got: bad,
            });
        }
        Self::new(self.x.select_rows(indices), self.y.select_rows(indices))
    }
}

fn check_finite<T: Real>(what: &'static str, m: &DMatrix<T>) -> Result<()> {
    match m.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(k) => Err(Error::NonFiniteData {
            what,
            row: k % m.nrows(),
            col: k / m.nrows(),
        }),
    }
}

/// Labels as a samples × `classes` one-hot matrix.
///
/// # Errors
/// [`Error::ZeroWidth`] for `classes == 0`, [`Error::LabelOutOfRange`] for a label >= `classes`.
pub fn one_hot<T: Real>(labels: &[usize], classes: usize) -> Result<DMatrix<T>> {
    if classes == 0 {
        return Err(Error::ZeroWidth { what: "classes" });
    }
    if let Some(&label) = labels.iter().find(|&&l| l >= classes) {
        return Err(Error::LabelOutOfRange { label, classes });
    }
    Ok(DMatrix::from_fn(labels.len(), classes, |i, c| {
        if labels[i] == c {
            T::one()
        } else {
            T::zero()
        }
    }))
}

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
/// `turns <= 0` or `noise < 0` (or non-finite).
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
    let n = 2 * n_per_class;
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
    Ok(Dataset { x, y })
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
/// non-positive `range`, a negative `noise` or a non-finite frequency.
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
    crate::error::check_hyper("range", range, range > 0.0, "finite and > 0")?;
    crate::error::check_hyper("noise", noise, noise >= 0.0, "finite and >= 0")?;
    if let Target1d::SinPlusAbs { w } | Target1d::Sin { w } = target {
        crate::error::check_hyper("frequency", w, true, "finite")?;
    }
    let mut x = DMatrix::zeros(n, 1);
    let mut y = DMatrix::zeros(n, 1);
    for i in 0..n {
        let xi = rng.random_range(-range..=range);
        let e: f64 = StandardNormal.sample(rng);
        x[(i, 0)] = T::lit(xi);
        y[(i, 0)] = T::lit(target.value(xi) + noise * e);
    }
    Ok(Dataset { x, y })
}
