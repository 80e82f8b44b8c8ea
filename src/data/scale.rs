//! Feature scaling fitted on the training part only.

use nalgebra::DMatrix;

use super::Dataset;
use crate::compute::real::Real;
use crate::error::{Error, Result};

/// Per-feature affine scaling `x' = (x - offset) / scale`, fitted on training
/// inputs and applied unchanged to validation, test and new data (fitting on
/// all the data would leak the held-out parts into training).
///
/// # Example
/// ```
/// use mixact::data::{self, Scaler};
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(1);
/// let all = data::two_spirals::<f32, _>(100, 1.0, 0.05, &mut rng)?;
/// let parts = all.split_stratified(0.2, 0.2, 7)?;
/// let scaler = Scaler::standardize(parts.train.x());
/// let train = scaler.apply(&parts.train)?;
/// let test = scaler.apply(&parts.test)?;
/// assert_eq!(test.len(), 40);
/// # let _ = train;
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Scaler {
    /// Subtracted from each feature.
    pub offset: Vec<f64>,
    /// Each feature is divided by it (never 0: a constant feature gets 1).
    pub scale: Vec<f64>,
}

fn column_stats<T: Real>(x: &DMatrix<T>, f: impl Fn(&[f64]) -> (f64, f64)) -> Scaler {
    let (mut offset, mut scale) = (Vec::new(), Vec::new());
    for j in 0..x.ncols() {
        let col: Vec<f64> = x.column(j).iter().map(|v| v.as_f64()).collect();
        let (o, s) = f(&col);
        offset.push(o);
        scale.push(if s > 0.0 && s.is_finite() { s } else { 1.0 });
    }
    Scaler { offset, scale }
}

impl Scaler {
    /// Zero mean and unit variance per feature (population variance, as
    /// scikit-learn's `StandardScaler`).
    pub fn standardize<T: Real>(x: &DMatrix<T>) -> Self {
        column_stats(x, |c| {
            let n = c.len().max(1) as f64;
            let mut mean = c.iter().sum::<f64>() / n;
            if !mean.is_finite() {
                mean = c.iter().map(|v| v / n).sum::<f64>();
            }
            let var = c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            if var.is_finite() {
                return (mean, var.sqrt());
            }
            // The squares overflow ([1e200, -1e200]): deviations halved and
            // divided by the largest before squaring, so the scale is the
            // true standard deviation (capped at f64::MAX), never a silent 1.
            let dev = |v: &f64| v / 2.0 - mean / 2.0;
            let m = c.iter().map(|v| dev(v).abs()).fold(0.0, f64::max);
            let q = c.iter().map(|v| (dev(v) / m).powi(2)).sum::<f64>() / n;
            (mean, (2.0 * m * q.sqrt()).min(f64::MAX))
        })
    }

    /// Each feature mapped onto [0, 1] over the fitted data (`MinMaxScaler`).
    pub fn min_max<T: Real>(x: &DMatrix<T>) -> Self {
        column_stats(x, |c| {
            let lo = c.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            // A range beyond f64 (hi - lo overflows) is capped, not replaced by 1.
            (lo, (hi - lo).min(f64::MAX))
        })
    }

    /// Number of features.
    pub fn width(&self) -> usize {
        self.offset.len()
    }

    /// Checks what the public fields may have been set to: one offset and
    /// one scale per feature, offsets finite, scales finite and > 0.
    ///
    /// # Errors
    /// [`Error::Length`] for vectors of different lengths,
    /// [`Error::HyperParameter`] naming the first bad value.
    pub fn validate(&self) -> Result<()> {
        if self.scale.len() != self.offset.len() {
            return Err(Error::Length {
                what: "scaler scales",
                expected: self.offset.len(),
                got: self.scale.len(),
            });
        }
        for (&o, &s) in self.offset.iter().zip(&self.scale) {
            crate::error::check_hyper("scaler offset", o, true, "finite")?;
            crate::error::check_hyper("scaler scale", s, s > 0.0, "finite and > 0")?;
        }
        Ok(())
    }

    /// `x` scaled.
    ///
    /// # Errors
    /// As [`validate`](Self::validate); [`Error::Shape`] when `x` does not
    /// have [`width`](Self::width) columns; [`Error::NonFiniteData`] when a
    /// scaled value overflows the float type.
    pub fn transform<T: Real>(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.validate()?;
        if x.ncols() != self.width() {
            return Err(Error::shape(
                "inputs",
                (None, Some(self.width())),
                x.shape(),
            ));
        }
        let out = DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| {
            T::lit((x[(i, j)].as_f64() - self.offset[j]) / self.scale[j])
        });
        if let Some(k) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteData {
                what: "scaled inputs",
                row: k % out.nrows().max(1),
                col: k / out.nrows().max(1),
            });
        }
        Ok(out)
    }

    /// `y` mapped back to the fitted data's units: `y * scale + offset`, the
    /// inverse of [`transform`](Self::transform) (a target scaler's way back
    /// from the network's outputs).
    ///
    /// # Errors
    /// As [`transform`](Self::transform).
    pub fn inverse_transform<T: Real>(&self, y: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.validate()?;
        if y.ncols() != self.width() {
            return Err(Error::shape(
                "scaled values",
                (None, Some(self.width())),
                y.shape(),
            ));
        }
        let out = DMatrix::from_fn(y.nrows(), y.ncols(), |i, j| {
            T::lit(y[(i, j)].as_f64() * self.scale[j] + self.offset[j])
        });
        if let Some(k) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteData {
                what: "unscaled values",
                row: k % out.nrows().max(1),
                col: k / out.nrows().max(1),
            });
        }
        Ok(out)
    }

    /// The data set with its inputs scaled (targets unchanged).
    ///
    /// # Errors
    /// As [`transform`](Self::transform); [`Error::NonFiniteData`] if scaling overflows.
    pub fn apply<T: Real>(&self, data: &Dataset<T>) -> Result<Dataset<T>> {
        Dataset::new(self.transform(data.x())?, data.y().clone())
    }
}
