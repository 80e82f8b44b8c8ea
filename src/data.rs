//! Data sets: a validated (inputs, targets) pair, and generators for the classic toy problems.

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

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

/// Chooses rows of a [`CsvTable`] by their values.
pub type RowFilter<'a> = dyn Fn(&[f64]) -> bool + 'a;

/// A table read from a CSV file: a header line, then numbers.
///
/// Cells are parsed while reading and stored as one row-major `f64` array (8
/// bytes a cell, at most 4 × the text, since a cell and its comma take at
/// least 2 bytes), never as strings.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    headers: Vec<String>,
    values: Vec<f64>,
}

impl CsvTable {
    /// A table from column names and rows (each row one value per column).
    ///
    /// # Errors
    /// [`Error::Empty`] for no columns or no rows, [`Error::Length`] for a row of the wrong length.
    pub fn new(headers: Vec<String>, rows: &[Vec<f64>]) -> Result<Self> {
        if headers.is_empty() {
            return Err(Error::Empty { what: "CSV header" });
        }
        if rows.is_empty() {
            return Err(Error::Empty {
                what: "CSV data rows",
            });
        }
        let mut values = Vec::with_capacity(rows.len() * headers.len());
        for r in rows {
            if r.len() != headers.len() {
                return Err(Error::Length {
                    what: "CSV row",
                    expected: headers.len(),
                    got: r.len(),
                });
            }
            values.extend_from_slice(r);
        }
        Ok(CsvTable { headers, values })
    }

    /// Column names from the header line.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Number of data rows (at least 1).
    pub fn n_rows(&self) -> usize {
        self.values.len() / self.headers.len()
    }

    /// Row `i`, one value per column.
    ///
    /// # Panics
    /// When `i >= n_rows()` (as slice indexing does).
    pub fn row(&self, i: usize) -> &[f64] {
        let w = self.headers.len();
        &self.values[i * w..(i + 1) * w]
    }

    /// The rows, in file order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        self.values.chunks_exact(self.headers.len())
    }

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
    /// feature (scaled by `scale`), `label` holds class indices. The number of
    /// classes is one more than the largest label in the *whole table*, so a
    /// `keep` filter (for example by a split column) never changes the output
    /// width; `None` keeps all rows.
    ///
    /// # Errors
    /// [`Error::Format`] for a missing column or a label that is not a
    /// non-negative integer; [`Error::Empty`] when `keep` keeps no row;
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
        let features: Vec<usize> = (0..self.headers.len())
            .filter(|c| *c != li && !skip.contains(c))
            .collect();
        let mut classes = 0usize;
        for (i, r) in self.rows().enumerate() {
            let l = r[li];
            // Labels beyond 2^53 cannot be told apart in f64; far beyond any class count.
            if l < 0.0 || l.fract() != 0.0 || !l.is_finite() || l > 9.0e15 {
                return Err(Error::Format {
                    location: format!("row {}", i + 2),
                    message: format!("label {l} is not a class index"),
                });
            }
            classes = classes.max(l as usize + 1);
        }
        let rows: Vec<&[f64]> = self.rows().filter(|r| keep.is_none_or(|k| k(r))).collect();
        if rows.is_empty() {
            return Err(Error::Empty {
                what: "rows kept by the filter",
            });
        }
        limits::elements("one-hot targets", &[rows.len(), classes])?;
        limits::elements("features", &[rows.len(), features.len()])?;
        let labels: Vec<usize> = rows.iter().map(|r| r[li] as usize).collect();
        let x = DMatrix::from_fn(rows.len(), features.len(), |i, j| {
            T::lit(rows[i][features[j]] * scale)
        });
        Dataset::classification(x, &labels, classes)
    }
}

/// How [`read_csv_with`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// The most bytes of text (after decompression) to read; more is an
    /// [`Error::TooLarge`], so a gzip bomb cannot exhaust memory. Default
    /// [`limits::DEFAULT_MAX_CSV_BYTES`] (1 GiB).
    pub max_bytes: u64,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            max_bytes: limits::DEFAULT_MAX_CSV_BYTES,
        }
    }
}

/// Reads a CSV file (gzip-compressed when it starts with gzip's magic bytes):
/// a header line, then rows of numbers, comma separated; see [`read_csv_with`].
///
/// # Errors
/// As [`read_csv_with`] with default options.
#[cfg(feature = "io")]
pub fn read_csv(path: impl AsRef<std::path::Path>) -> Result<CsvTable> {
    read_csv_with(path, CsvOptions::default())
}

/// Reads a CSV file, streaming: the text is decompressed and parsed line by
/// line, so memory holds the parsed values (8 bytes a cell) and one line, never
/// the whole text. Lines may end in LF, CRLF or CR; a UTF-8 byte-order mark is
/// skipped; blank lines are ignored.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read or decompressed;
/// [`Error::TooLarge`] beyond `options.max_bytes` of text; [`Error::Format`]
/// naming the line for a row of the wrong length, a value that is not a
/// number, text that is not UTF-8, an empty file or a header without data rows.
#[cfg(feature = "io")]
pub fn read_csv_with(path: impl AsRef<std::path::Path>, options: CsvOptions) -> Result<CsvTable> {
    use std::io::{BufReader, Read};
    let path = path.as_ref();
    let source = path.display().to_string();
    let io = |e: std::io::Error| Error::Io {
        path: source.clone(),
        message: e.to_string(),
    };
    let mut file = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]).map_err(io)? {
            0 => break,
            n => got += n,
        }
    }
    let head = std::io::Cursor::new(magic[..got].to_vec());
    let reader: Box<dyn Read> = if got == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(head.chain(file)))
    } else {
        Box::new(head.chain(file))
    };
    parse_csv_from(BufReader::new(reader), &source, options)
}

/// Parses CSV text (see [`read_csv_with`]); `source` names it in errors.
///
/// # Errors
/// As [`read_csv_with`] (without the file errors).
pub fn parse_csv(text: &str, source: &str) -> Result<CsvTable> {
    parse_csv_from(text.as_bytes(), source, CsvOptions::default())
}

/// Splits a byte stream into lines ending in LF, CRLF or CR.
struct Lines<R> {
    reader: R,
    line: Vec<u8>,
    /// The last terminator was CR: a LF right after it belongs to it.
    after_cr: bool,
    bytes: u64,
    max_bytes: u64,
}

impl<R: std::io::BufRead> Lines<R> {
    /// Reads the next line into `self.line`; false at the end of the input.
    fn next_line(&mut self) -> std::io::Result<Option<bool>> {
        self.line.clear();
        let mut any = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(any.then_some(true));
            }
            let mut start = 0;
            if self.after_cr && buf[0] == b'\n' {
                start = 1;
            }
            self.after_cr = false;
            let rest = &buf[start..];
            match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(p) => {
                    self.line.extend_from_slice(&rest[..p]);
                    self.after_cr = rest[p] == b'\r';
                    let used = start + p + 1;
                    self.reader.consume(used);
                    self.bytes += used as u64;
                    if self.bytes > self.max_bytes {
                        return Ok(Some(false));
                    }
                    return Ok(Some(true));
                }
                None => {
                    self.line.extend_from_slice(rest);
                    any = true;
                    let used = buf.len();
                    self.reader.consume(used);
                    self.bytes += used as u64;
                    if self.bytes > self.max_bytes {
                        return Ok(Some(false));
                    }
                }
            }
        }
    }
}

fn parse_csv_from<R: std::io::BufRead>(
    reader: R,
    source: &str,
    options: CsvOptions,
) -> Result<CsvTable> {
    let mut lines = Lines {
        reader,
        line: Vec::new(),
        after_cr: false,
        bytes: 0,
        max_bytes: options.max_bytes,
    };
    let io = |e: std::io::Error| Error::Io {
        path: source.to_string(),
        message: e.to_string(),
    };
    let too_large = |bytes: u64| Error::TooLarge {
        what: "CSV text (bytes after decompression)",
        requested: bytes as u128,
        limit: options.max_bytes as u128,
    };
    let mut headers: Option<Vec<String>> = None;
    let mut values = Vec::new();
    let mut number = 0usize;
    while let Some(within) = lines.next_line().map_err(io)? {
        if !within {
            return Err(too_large(lines.bytes));
        }
        number += 1;
        let location = || format!("{source}:{number}");
        let mut text = std::str::from_utf8(&lines.line).map_err(|_| Error::Format {
            location: location(),
            message: "not UTF-8 text".into(),
        })?;
        if number == 1 {
            text = text.strip_prefix('\u{feff}').unwrap_or(text);
        }
        if text.trim().is_empty() {
            continue;
        }
        match &headers {
            None => headers = Some(text.split(',').map(|h| h.trim().to_string()).collect()),
            Some(h) => {
                let before = values.len();
                for field in text.split(',') {
                    let v = field.trim().parse::<f64>().map_err(|_| Error::Format {
                        location: location(),
                        message: format!("\"{}\" is not a number", field.trim()),
                    })?;
                    values.push(v);
                }
                let fields = values.len() - before;
                if fields != h.len() {
                    return Err(Error::Format {
                        location: location(),
                        message: format!("{fields} fields, the header has {}", h.len()),
                    });
                }
            }
        }
    }
    let headers = headers.ok_or_else(|| Error::Format {
        location: source.into(),
        message: "empty file, expected a header line".into(),
    })?;
    if values.is_empty() {
        return Err(Error::Format {
            location: source.into(),
            message: "no data rows after the header".into(),
        });
    }
    Ok(CsvTable { headers, values })
}
