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

/// A k × k checkerboard on [-1, 1]²: `n` uniform points, target 0/1 by the
/// colour of their square (one column, for binary cross-entropy).
///
/// # Errors
/// [`Error::ZeroWidth`] for `n == 0` or `k == 0`.
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
    let mut x = DMatrix::zeros(n, 2);
    let mut y = DMatrix::zeros(n, 1);
    let cell = |v: f64| (((v + 1.0) / 2.0 * k as f64) as usize).min(k - 1);
    for i in 0..n {
        let (a, b): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        x[(i, 0)] = T::lit(a);
        x[(i, 1)] = T::lit(b);
        y[(i, 0)] = T::lit(((cell(a) + cell(b)) % 2) as f64);
    }
    Ok(Dataset { x, y })
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
    Ok(Dataset { x, y })
}

/// Chooses rows of a [`CsvTable`] by their values.
pub type RowFilter<'a> = dyn Fn(&[f64]) -> bool + 'a;

/// A table read from a CSV file: a header line, then numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    /// Column names from the header line.
    pub headers: Vec<String>,
    /// Values, row by row (each row has `headers.len()` values).
    pub rows: Vec<Vec<f64>>,
}

impl CsvTable {
    /// The index of column `name`.
    ///
    /// # Errors
    /// [`Error::Format`] when there is no such column.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::Format {
                location: "CSV header".into(),
                message: format!(
                    "no column named \"{name}\" (columns: {})",
                    self.headers.join(", ")
                ),
            })
    }

    /// A classification data set: every column but `label` and `exclude` is a
    /// feature (scaled by `scale`), `label` holds class indices 0..classes.
    /// `keep` chooses rows (for example by a split column); `None` keeps all.
    ///
    /// # Errors
    /// [`Error::Format`] for a missing column or a label that is not a
    /// non-negative integer; as [`Dataset::classification`].
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
        let features: Vec<usize> = (0..self.headers.len())
            .filter(|c| *c != li && !skip.contains(c))
            .collect();
        let rows: Vec<&Vec<f64>> = self
            .rows
            .iter()
            .filter(|r| keep.is_none_or(|k| k(r)))
            .collect();
        let mut labels = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let l = r[li];
            if l < 0.0 || l.fract() != 0.0 || !l.is_finite() {
                return Err(Error::Format {
                    location: format!("row {}", i + 2),
                    message: format!("label {l} is not a class index"),
                });
            }
            labels.push(l as usize);
        }
        let classes = labels.iter().max().map_or(0, |m| m + 1);
        let x = DMatrix::from_fn(rows.len(), features.len(), |i, j| {
            T::lit(rows[i][features[j]] * scale)
        });
        Dataset::classification(x, &labels, classes)
    }
}

/// Reads a CSV file (gzip-compressed when it starts with gzip's magic bytes):
/// a header line, then rows of numbers, comma separated.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read or decompressed; [`Error::Format`]
/// naming the line for a row of the wrong length or a value that is not a number.
#[cfg(feature = "io")]
pub fn read_csv(path: impl AsRef<std::path::Path>) -> Result<CsvTable> {
    use std::io::Read;
    let path = path.as_ref();
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let raw = std::fs::read(path).map_err(io)?;
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .map_err(io)?;
        s
    } else {
        String::from_utf8(raw)
            .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?
    };
    parse_csv(&text, &path.display().to_string())
}

/// Parses CSV text (see [`read_csv`]); `source` names it in errors.
///
/// # Errors
/// [`Error::Format`] for an empty text, a row of the wrong length or a value that is not a number.
pub fn parse_csv(text: &str, source: &str) -> Result<CsvTable> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| Error::Format {
        location: source.into(),
        message: "empty file, expected a header line".into(),
    })?;
    let headers: Vec<String> = header.split(',').map(|h| h.trim().to_string()).collect();
    let mut rows = Vec::new();
    for (n, line) in lines {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != headers.len() {
            return Err(Error::Format {
                location: format!("{source}:{}", n + 1),
                message: format!("{} fields, the header has {}", fields.len(), headers.len()),
            });
        }
        let row = fields
            .iter()
            .map(|f| {
                f.trim().parse::<f64>().map_err(|_| Error::Format {
                    location: format!("{source}:{}", n + 1),
                    message: format!("\"{}\" is not a number", f.trim()),
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        rows.push(row);
    }
    Ok(CsvTable { headers, rows })
}
