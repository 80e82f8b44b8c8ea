//! Writing a data set, or any table of numbers such as predictions, as CSV
//! that pandas, scikit-learn and [`read_csv`](super::read_csv) read back
//! bit for bit: a header line, then every value in Rust's shortest
//! round-trip form. Names are quoted where CSV needs it (by the `csv`
//! crate), and the file is written atomically, so a failed write leaves an
//! earlier file whole.

use nalgebra::DMatrix;

use super::Dataset;
use crate::compute::real::Real;
use crate::error::{Error, Result};

/// Writes `columns` under `headers` (one name per column) to `path`.
///
/// ```
/// use mixact::data::{read_csv, write_csv};
/// use nalgebra::DMatrix;
/// let path = std::env::temp_dir().join("mixact-doc-predictions.csv");
/// let predictions = DMatrix::from_row_slice(2, 2, &[0.1_f32, 0.9, 0.75, 0.25]);
/// write_csv(&path, &["p0", "p1"], &predictions)?;
/// let back = read_csv(&path)?;
/// assert_eq!(back.headers(), vec!["p0", "p1"]);
/// # Ok::<(), mixact::Error>(())
/// ```
///
/// # Errors
/// [`Error::Length`] when `headers` does not name every column;
/// [`Error::NonFiniteData`] for a NaN or infinite value (CSV readers
/// disagree on how to spell them); [`Error::Io`] naming the path when it
/// cannot be written.
pub fn write_csv<T: Real>(
    path: impl AsRef<std::path::Path>,
    headers: &[&str],
    columns: &DMatrix<T>,
) -> Result<()> {
    write_parts(path.as_ref(), headers, &[columns])
}

impl<T: Real> Dataset<T> {
    /// Writes the inputs and then the targets as one CSV file, under
    /// `input_names` and `target_names`, so the data set (or one part of a
    /// [`Splits`](super::Splits)) can be opened elsewhere.
    ///
    /// # Errors
    /// As [`write_csv`], for the inputs' and the targets' names.
    pub fn write_csv(
        &self,
        path: impl AsRef<std::path::Path>,
        input_names: &[&str],
        target_names: &[&str],
    ) -> Result<()> {
        let headers: Vec<&str> = input_names.iter().chain(target_names).copied().collect();
        if input_names.len() != self.x().ncols() {
            return Err(Error::Length {
                what: "input column names",
                expected: self.x().ncols(),
                got: input_names.len(),
            });
        }
        write_parts(path.as_ref(), &headers, &[self.x(), self.y()])
    }
}

/// The columns of `parts`, side by side, under `headers`.
fn write_parts<T: Real>(
    path: &std::path::Path,
    headers: &[&str],
    parts: &[&DMatrix<T>],
) -> Result<()> {
    let cols: usize = parts.iter().map(|m| m.ncols()).sum();
    if headers.len() != cols {
        return Err(Error::Length {
            what: "CSV column names",
            expected: cols,
            got: headers.len(),
        });
    }
    let rows = parts.first().map_or(0, |m| m.nrows());
    let io = |e: &dyn std::fmt::Display| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(headers).map_err(|e| io(&e))?;
    let mut record: Vec<String> = Vec::with_capacity(cols);
    for r in 0..rows {
        record.clear();
        let mut col = 0;
        for m in parts {
            for c in 0..m.ncols() {
                let v = m[(r, c)];
                if !v.is_finite() {
                    return Err(Error::NonFiniteData {
                        what: "CSV values",
                        row: r,
                        col,
                    });
                }
                record.push(v.to_string());
                col += 1;
            }
        }
        w.write_record(&record).map_err(|e| io(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| io(&e))?;
    crate::atomic_write::write_atomically(path, &bytes)
}
