//! [`CsvTable`]: a numeric table read from CSV, and the data sets made from it.

use nalgebra::DMatrix;

use super::Dataset;
use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::limits;

/// Chooses rows of a [`CsvTable`] by their values.
pub type RowFilter<'a> = dyn Fn(&[f64]) -> bool + 'a;

/// A table read from a CSV file: a header line, then numbers.
///
/// What a table costs is predictable from its cells: 8 bytes a cell (the
/// values, `f64`, in row-major chunks of about 64 K cells so that reading
/// never doubles a buffer), plus the header's text and 8 bytes a column
/// (the names live in one string). Reading holds one record besides.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    /// Every column name, one after the other.
    names: String,
    /// Where each name ends in `names`.
    name_ends: Vec<usize>,
    /// Rows of `rows_per_chunk` rows each (the last may hold fewer).
    chunks: Vec<Vec<f64>>,
    rows_per_chunk: usize,
    n_rows: usize,
}

/// Cells per storage chunk (rounded to whole rows).
const CHUNK_CELLS: usize = 1 << 16;

/// Builds a [`CsvTable`] row by row, chunk by chunk.
pub(super) struct TableBuilder {
    pub(super) width: usize,
    pub(super) rows_per_chunk: usize,
    pub(super) chunks: Vec<Vec<f64>>,
    pub(super) n_rows: usize,
}

impl TableBuilder {
    pub(super) fn new(width: usize) -> Self {
        TableBuilder {
            width,
            rows_per_chunk: (CHUNK_CELLS / width).max(1),
            chunks: Vec::new(),
            n_rows: 0,
        }
    }

    /// The buffer the next row goes into (a new chunk when the last is full).
    pub(super) fn next_row(&mut self) -> &mut Vec<f64> {
        if self.n_rows.is_multiple_of(self.rows_per_chunk) {
            self.chunks
                .push(Vec::with_capacity(self.rows_per_chunk * self.width));
        }
        self.n_rows += 1;
        self.chunks.last_mut().expect("a chunk was pushed")
    }

    pub(super) fn finish(mut self, names: String, name_ends: Vec<usize>) -> CsvTable {
        if let Some(last) = self.chunks.last_mut() {
            last.shrink_to_fit();
        }
        CsvTable {
            names,
            name_ends,
            chunks: self.chunks,
            rows_per_chunk: self.rows_per_chunk,
            n_rows: self.n_rows,
        }
    }
}

/// The names as one string and the end of each, or an error naming the
/// first name that appears twice (a second `y` would otherwise be read as a
/// feature while the first is the target: the target leaks into the inputs).
pub(super) fn pack_names<'a>(
    names: impl Iterator<Item = &'a str> + Clone,
) -> Result<(String, Vec<usize>)> {
    // Sized exactly: a doubling buffer would hold up to twice the header.
    let (count, bytes) = names.clone().fold((0, 0), |(c, b), n| (c + 1, b + n.len()));
    let mut packed = String::with_capacity(bytes);
    let mut ends = Vec::with_capacity(count);
    for n in names {
        packed.push_str(n);
        ends.push(packed.len());
    }
    let name = |i: usize| &packed[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
    // Sorting indices costs 8 bytes a column, unlike a set of the names.
    let mut order: Vec<usize> = (0..ends.len()).collect();
    order.sort_unstable_by(|&a, &b| name(a).cmp(name(b)).then(a.cmp(&b)));
    if let Some(w) = order.windows(2).find(|w| name(w[0]) == name(w[1])) {
        return Err(Error::Format {
            location: "CSV header".into(),
            message: format!(
                "column \"{}\" appears twice (columns {} and {}); column names must be unique",
                name(w[0]),
                w[0] + 1,
                w[1] + 1
            ),
        });
    }
    Ok((packed, ends))
}

impl CsvTable {
    /// A table from column names and rows (each row one value per column).
    ///
    /// # Errors
    /// [`Error::Empty`] for no columns or no rows, [`Error::Length`] for a
    /// row of the wrong length, [`Error::Format`] naming a column name that
    /// appears twice.
    pub fn new(headers: Vec<String>, rows: &[Vec<f64>]) -> Result<Self> {
        if headers.is_empty() {
            return Err(Error::Empty { what: "CSV header" });
        }
        if rows.is_empty() {
            return Err(Error::Empty {
                what: "CSV data rows",
            });
        }
        let (names, ends) = pack_names(headers.iter().map(String::as_str))?;
        let mut table = TableBuilder::new(headers.len());
        for r in rows {
            if r.len() != headers.len() {
                return Err(Error::Length {
                    what: "CSV row",
                    expected: headers.len(),
                    got: r.len(),
                });
            }
            table.next_row().extend_from_slice(r);
        }
        Ok(table.finish(names, ends))
    }

    /// Number of columns (at least 1).
    pub fn n_columns(&self) -> usize {
        self.name_ends.len()
    }

    /// The name of column `i`, or `None` beyond the last.
    pub fn header(&self, i: usize) -> Option<&str> {
        let end = *self.name_ends.get(i)?;
        let start = if i == 0 { 0 } else { self.name_ends[i - 1] };
        Some(&self.names[start..end])
    }

    /// Column names from the header line, in order.
    pub fn headers(&self) -> Vec<&str> {
        (0..self.n_columns())
            .filter_map(|i| self.header(i))
            .collect()
    }

    /// Number of data rows (at least 1).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Row `i`, one value per column.
    ///
    /// # Panics
    /// When `i >= n_rows()` (as slice indexing does).
    pub fn row(&self, i: usize) -> &[f64] {
        assert!(
            i < self.n_rows,
            "row {i} of a table of {} rows",
            self.n_rows
        );
        let w = self.n_columns();
        let at = (i % self.rows_per_chunk) * w;
        &self.chunks[i / self.rows_per_chunk][at..at + w]
    }

    /// The rows, in file order.
    pub fn rows(&self) -> impl Iterator<Item = &[f64]> + '_ {
        let w = self.n_columns();
        self.chunks.iter().flat_map(move |c| c.chunks_exact(w))
    }

    /// The index of column `name`.
    ///
    /// # Errors
    /// [`Error::Format`] when there is no such column.
    pub fn column(&self, name: &str) -> Result<usize> {
        (0..self.n_columns())
            .position(|i| self.header(i) == Some(name))
            .ok_or_else(|| {
                let mut shown = self.headers();
                let more = shown.len().saturating_sub(20);
                shown.truncate(20);
                Error::Format {
                    location: "CSV header".into(),
                    message: format!(
                        "no column named \"{name}\" (columns: {}{})",
                        shown.join(", "),
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        }
                    ),
                }
            })
    }

    /// The feature columns: every column but `targets` and `exclude`.
    fn feature_columns(&self, targets: &[usize], exclude: &[&str]) -> Result<Vec<usize>> {
        let skip: Vec<usize> = exclude
            .iter()
            .map(|c| self.column(c))
            .collect::<Result<_>>()?;
        let features: Vec<usize> = (0..self.n_columns())
            .filter(|c| !targets.contains(c) && !skip.contains(c))
            .collect();
        if features.is_empty() {
            return Err(Error::ZeroWidth { what: "features" });
        }
        Ok(features)
    }

    /// A regression data set: the `targets` columns are the outputs, every
    /// other column except `exclude` is a feature (unscaled: fit a
    /// [`Scaler`](super::Scaler) on the training part). `keep` chooses rows.
    ///
    /// # Errors
    /// [`Error::Format`] for a missing column, or naming the data row and
    /// column of a NaN, an infinity or a value beyond `T`'s range (1e300
    /// in f32); [`Error::Empty`] for no targets or no rows kept;
    /// [`Error::ZeroWidth`] when no feature is left; as [`Dataset::new`].
    pub fn regression<T: Real>(
        &self,
        targets: &[&str],
        exclude: &[&str],
        keep: Option<&RowFilter<'_>>,
    ) -> Result<Dataset<T>> {
        if targets.is_empty() {
            return Err(Error::Empty {
                what: "target columns",
            });
        }
        let ti: Vec<usize> = targets
            .iter()
            .map(|c| self.column(c))
            .collect::<Result<_>>()?;
        let features = self.feature_columns(&ti, exclude)?;
        let rows = self.kept_rows(keep)?;
        let x = self.columns_matrix(&rows, &features, 1.0)?;
        let y = self.columns_matrix(&rows, &ti, 1.0)?;
        Dataset::new(x, y)
    }

    /// A classification data set with an explicit class count: labels must
    /// be integers in `0..classes` (an error names the first that is not),
    /// so the output width is what you say, whatever the file holds.
    /// Features are unscaled; `keep` chooses rows.
    ///
    /// # Errors
    /// [`Error::Format`] for a missing column, a label that is not a
    /// non-negative integer, or naming the data row and column of a feature
    /// that is NaN, infinite or beyond `T`'s range; [`Error::LabelOutOfRange`]
    /// for a label >= `classes`; [`Error::Empty`] when no row is kept; as
    /// [`Dataset::classification`].
    pub fn classification_with_classes<T: Real>(
        &self,
        label: &str,
        exclude: &[&str],
        classes: usize,
        keep: Option<&RowFilter<'_>>,
    ) -> Result<Dataset<T>> {
        let li = self.column(label)?;
        let features = self.feature_columns(&[li], exclude)?;
        let rows = self.kept_rows(keep)?;
        let mut labels = Vec::with_capacity(rows.len());
        for &i in &rows {
            let label = class_index(self.row(i)[li], i)?;
            if label >= classes {
                return Err(Error::LabelOutOfRange { label, classes });
            }
            labels.push(label);
        }
        let x = self.columns_matrix(&rows, &features, 1.0)?;
        Dataset::classification(x, &labels, classes)
    }

    /// A classification data set: every column but `label` and `exclude` is a
    /// feature (scaled by `scale`), `label` holds class indices. The number of
    /// classes is one more than the largest label in the *whole table*, so a
    /// `keep` filter (for example by a split column) never changes the output
    /// width; `None` keeps all rows.
    ///
    /// # Errors
    /// [`Error::Format`] for a missing column, a label that is not a
    /// non-negative integer, or naming the data row and column of a feature
    /// that is NaN, infinite or beyond `T`'s range (after `scale`);
    /// [`Error::Empty`] when `keep` keeps no row;
    /// [`Error::TooLarge`] when rows × classes or rows × features exceed
    /// [`limits::MAX_ELEMENTS`]; as [`Dataset::classification`].
    pub fn classification<T: Real>(
        &self,
        label: &str,
        exclude: &[&str],
        scale: f64,
        keep: Option<&RowFilter<'_>>,
    ) -> Result<Dataset<T>> {
        let li = self.column(label)?;
        let skip: Vec<usize> = exclude
            .iter()
            .map(|c| self.column(c))
            .collect::<Result<_>>()?;
        let features: Vec<usize> = (0..self.n_columns())
            .filter(|c| *c != li && !skip.contains(c))
            .collect();
        let mut classes = 0usize;
        for (i, r) in self.rows().enumerate() {
            classes = classes.max(class_index(r[li], i)? + 1);
        }
        let rows = self.kept_rows(keep)?;
        limits::elements("one-hot targets", &[rows.len(), classes])?;
        let labels: Vec<usize> = rows.iter().map(|&i| self.row(i)[li] as usize).collect();
        let x = self.columns_matrix(&rows, &features, scale)?;
        Dataset::classification(x, &labels, classes)
    }
}

/// The class index in a label cell of data row `i` (0-based).
fn class_index(l: f64, i: usize) -> Result<usize> {
    // Labels beyond 2^53 cannot be told apart in f64; far beyond any class count.
    if l < 0.0 || l.fract() != 0.0 || !l.is_finite() || l > 9.0e15 {
        return Err(Error::Format {
            location: format!("row {}", i + 2),
            // 1e300 printed in full is 301 digits.
            message: if l.abs() < 1e15 {
                format!("label {l} is not a class index")
            } else {
                format!("label {l:e} is not a class index")
            },
        });
    }
    Ok(l as usize)
}

impl CsvTable {
    /// Indices of the rows `keep` keeps (8 bytes a kept row), at least one.
    fn kept_rows(&self, keep: Option<&RowFilter<'_>>) -> Result<Vec<usize>> {
        let rows: Vec<usize> = self
            .rows()
            .enumerate()
            .filter(|(_, r)| keep.is_none_or(|k| k(r)))
            .map(|(i, _)| i)
            .collect();
        if rows.is_empty() {
            return Err(Error::Empty {
                what: "rows kept by the filter",
            });
        }
        Ok(rows)
    }

    /// The given rows' `columns` as a matrix (filled in place, no copy of the rows).
    fn columns_matrix<T: Real>(
        &self,
        rows: &[usize],
        columns: &[usize],
        scale: f64,
    ) -> Result<DMatrix<T>> {
        limits::elements("features", &[rows.len(), columns.len()])?;
        let mut m = DMatrix::zeros(rows.len(), columns.len());
        for (i, &r) in rows.iter().enumerate() {
            let row = self.row(r);
            for (j, &c) in columns.iter().enumerate() {
                let v = T::lit(row[c] * scale);
                if !v.is_finite() {
                    return Err(self.not_finite(r, c, row[c] * scale, T::NAME));
                }
                m[(i, j)] = v;
            }
        }
        Ok(m)
    }

    /// The error for a cell that is NaN or infinite, or becomes infinite in
    /// `float`, named as the file names it: a data set's own error would
    /// give the position in the kept rows and chosen columns instead.
    fn not_finite(&self, row: usize, col: usize, value: f64, float: &str) -> Error {
        let name = self.header(col).unwrap_or("?");
        Error::Format {
            // Counted as a label error counts: the header is row 1.
            location: format!("row {}, column \"{name}\"", row + 2),
            message: if value.is_finite() {
                format!("{value:e} is beyond the range of {float}")
            } else {
                format!("{value} is not a finite number")
            },
        }
    }
}
