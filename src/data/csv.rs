//! The CSV reader: streamed, size-limited, cells parsed while reading.

use nalgebra::DMatrix;

use super::Dataset;
use crate::compute::real::Real;
use crate::error::{Error, Result};
use crate::limits;

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

    /// The feature columns: every column but `targets` and `exclude`.
    fn feature_columns(&self, targets: &[usize], exclude: &[&str]) -> Result<Vec<usize>> {
        let skip: Vec<usize> = exclude
            .iter()
            .map(|c| self.column(c))
            .collect::<Result<_>>()?;
        let features: Vec<usize> = (0..self.headers.len())
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
    /// [`Error::Format`] for a missing column; [`Error::Empty`] for no
    /// targets or no rows kept; [`Error::ZeroWidth`] when no feature is left;
    /// as [`Dataset::new`].
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
        let rows: Vec<&[f64]> = self.rows().filter(|r| keep.is_none_or(|k| k(r))).collect();
        let x = feature_matrix(&rows, &features)?;
        let y = DMatrix::from_fn(rows.len(), ti.len(), |i, j| T::lit(rows[i][ti[j]]));
        Dataset::new(x, y)
    }

    /// A classification data set with an explicit class count: labels must
    /// be integers in `0..classes` (an error names the first that is not),
    /// so the output width is what you say, whatever the file holds.
    /// Features are unscaled; `keep` chooses rows.
    ///
    /// # Errors
    /// [`Error::Format`] for a missing column or a label that is not a
    /// non-negative integer; [`Error::LabelOutOfRange`] for a label >=
    /// `classes`; [`Error::Empty`] when no row is kept; as [`Dataset::classification`].
    pub fn classification_with_classes<T: Real>(
        &self,
        label: &str,
        exclude: &[&str],
        classes: usize,
        keep: Option<&RowFilter<'_>>,
    ) -> Result<Dataset<T>> {
        let li = self.column(label)?;
        let features = self.feature_columns(&[li], exclude)?;
        let mut labels = Vec::new();
        let mut rows = Vec::new();
        for (i, r) in self.rows().enumerate() {
            if !keep.is_none_or(|k| k(r)) {
                continue;
            }
            let label = class_index(r[li], i)?;
            if label >= classes {
                return Err(Error::LabelOutOfRange { label, classes });
            }
            labels.push(label);
            rows.push(r);
        }
        let x = feature_matrix(&rows, &features)?;
        Dataset::classification(x, &labels, classes)
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
            classes = classes.max(class_index(r[li], i)? + 1);
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

/// The class index in a label cell of data row `i` (0-based).
fn class_index(l: f64, i: usize) -> Result<usize> {
    // Labels beyond 2^53 cannot be told apart in f64; far beyond any class count.
    if l < 0.0 || l.fract() != 0.0 || !l.is_finite() || l > 9.0e15 {
        return Err(Error::Format {
            location: format!("row {}", i + 2),
            message: format!("label {l} is not a class index"),
        });
    }
    Ok(l as usize)
}

/// The kept rows' feature columns as an inputs matrix.
fn feature_matrix<T: Real>(rows: &[&[f64]], features: &[usize]) -> Result<DMatrix<T>> {
    if rows.is_empty() {
        return Err(Error::Empty {
            what: "rows kept by the filter",
        });
    }
    limits::elements("features", &[rows.len(), features.len()])?;
    Ok(DMatrix::from_fn(rows.len(), features.len(), |i, j| {
        T::lit(rows[i][features[j]])
    }))
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

/// Reads a CSV file, streaming: the text is decompressed and parsed record by
/// record (through the `csv` crate: quoted fields, LF, CRLF or CR line ends,
/// a UTF-8 byte-order mark), so memory holds the parsed values (8 bytes a
/// cell) and one record, never the whole text. Blank lines are ignored.
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
    parse_csv_from(reader, &source, options)
}

/// Parses CSV text (see [`read_csv_with`]); `source` names it in errors.
///
/// # Errors
/// As [`read_csv_with`] (without the file errors).
#[cfg(feature = "io")]
pub fn parse_csv(text: &str, source: &str) -> Result<CsvTable> {
    parse_csv_from(text.as_bytes(), source, CsvOptions::default())
}

/// A reader that fails once more than `left` bytes have passed, so a
/// decompression bomb stops at the limit instead of filling memory.
#[cfg(feature = "io")]
struct Limited<R> {
    inner: R,
    left: u64,
    seen: u64,
}

/// The error [`Limited`] raises, recognised when mapping errors.
#[cfg(feature = "io")]
#[derive(Debug)]
struct LimitExceeded;

#[cfg(feature = "io")]
impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("size limit exceeded")
    }
}

#[cfg(feature = "io")]
impl std::error::Error for LimitExceeded {}

#[cfg(feature = "io")]
impl<R: std::io::Read> std::io::Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n as u64;
        if self.seen > self.left {
            return Err(std::io::Error::other(LimitExceeded));
        }
        Ok(n)
    }
}

/// Reads records with the `csv` crate (quoting, CR / LF / CRLF line ends,
/// a UTF-8 byte-order mark), parsing each cell to `f64` as it comes.
#[cfg(feature = "io")]
fn parse_csv_from<R: std::io::Read>(
    reader: R,
    source: &str,
    options: CsvOptions,
) -> Result<CsvTable> {
    let limited = Limited {
        inner: reader,
        left: options.max_bytes,
        seen: 0,
    };
    let mut csv = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(limited);
    let error = |e: ::csv::Error| -> Error {
        let line = e.position().map_or(0, |p| p.record() + 1);
        match e.into_kind() {
            ::csv::ErrorKind::Io(io) => {
                if io.get_ref().is_some_and(|i| i.is::<LimitExceeded>()) {
                    Error::TooLarge {
                        what: "CSV text (bytes after decompression)",
                        requested: options.max_bytes as u128 + 1,
                        limit: options.max_bytes as u128,
                    }
                } else {
                    Error::Io {
                        path: source.to_string(),
                        message: io.to_string(),
                    }
                }
            }
            ::csv::ErrorKind::Utf8 { .. } => Error::Format {
                location: format!("{source}:{line}"),
                message: "not UTF-8 text".into(),
            },
            other => Error::Format {
                location: format!("{source}:{line}"),
                message: format!("{other:?}"),
            },
        }
    };
    let mut headers: Option<Vec<String>> = None;
    let mut values = Vec::new();
    let mut record = ::csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(error(e)),
        }
        // Records, counted from 1 with the header: the line number for files
        // without multi-line quoted fields (csv counts lines by LF only).
        let line = record.position().map_or(0, |p| p.record() + 1);
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        match &headers {
            None => {
                let mut names: Vec<String> = record.iter().map(str::to_string).collect();
                if let Some(first) = names.first_mut() {
                    if let Some(rest) = first.strip_prefix('\u{feff}') {
                        *first = rest.trim().to_string();
                    }
                }
                headers = Some(names);
            }
            Some(h) => {
                if record.len() != h.len() {
                    return Err(Error::Format {
                        location: format!("{source}:{line}"),
                        message: format!("{} fields, the header has {}", record.len(), h.len()),
                    });
                }
                for field in record.iter() {
                    let v = field.parse::<f64>().map_err(|_| Error::Format {
                        location: format!("{source}:{line}"),
                        message: format!("\"{field}\" is not a number"),
                    })?;
                    values.push(v);
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
