//! Data: a validated (inputs, targets) pair ([`Dataset`]), generators for
//! the classic toy problems, the streaming CSV reader, seeded
//! train/validation/test splits and feature scaling.

mod csv;
mod csv_read;
#[cfg(feature = "io")]
mod csv_write;
mod generators;
mod kfold;
mod scale;
pub(crate) mod split;

#[cfg(feature = "io")]
pub use csv::{CsvTable, RowFilter};
pub use csv_read::{parse_csv, read_csv, read_csv_with, CsvOptions};
#[cfg(feature = "io")]
pub use csv_write::write_csv;
pub use generators::{checkerboard, parity, regression_1d, two_spirals, xor, Target1d};
pub use kfold::Folds;
pub use scale::Scaler;
pub use split::{shuffle_indices, SplitRows, Splits};

use nalgebra::DMatrix;

use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::limits;

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

pub(crate) fn check_finite<T: Real>(what: &'static str, m: &DMatrix<T>) -> Result<()> {
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
/// [`Error::ZeroWidth`] for `classes == 0`, [`Error::LabelOutOfRange`] for a
/// label >= `classes`, [`Error::TooLarge`] when `labels.len() × classes`
/// exceeds [`limits::MAX_ELEMENTS`].
pub fn one_hot<T: Real>(labels: &[usize], classes: usize) -> Result<DMatrix<T>> {
    if classes == 0 {
        return Err(Error::ZeroWidth { what: "classes" });
    }
    if let Some(&label) = labels.iter().find(|&&l| l >= classes) {
        return Err(Error::LabelOutOfRange { label, classes });
    }
    limits::elements("one-hot targets", &[labels.len(), classes])?;
    Ok(DMatrix::from_fn(labels.len(), classes, |i, c| {
        if labels[i] == c {
            T::one()
        } else {
            T::zero()
        }
    }))
}
