//! The CSV reader: streamed, size-limited, cells parsed while reading.

use super::csv::{pack_names, CsvTable, TableBuilder};
use crate::error::{Error, Result};
use crate::limits;

/// How [`read_csv_with`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// The most bytes of text (after decompression) to read; more is an
    /// [`Error::TooLarge`], so a gzip bomb cannot exhaust memory. Default
    /// [`limits::DEFAULT_MAX_CSV_BYTES`] (256 MiB).
    pub max_bytes: u64,
    /// The most data cells to keep; more is an [`Error::TooLarge`]. A table
    /// costs 8 bytes a cell, so this bounds its memory whatever the text
    /// looks like. Default [`limits::DEFAULT_MAX_CSV_CELLS`] (2^25 cells, 256 MiB).
    pub max_cells: u64,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            max_bytes: limits::DEFAULT_MAX_CSV_BYTES,
            max_cells: limits::DEFAULT_MAX_CSV_CELLS,
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
    let mut header: Option<(String, Vec<usize>)> = None;
    let mut table: Option<TableBuilder> = None;
    let mut cells: u64 = 0;
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
        let Some(rows) = table.as_mut() else {
            let names = record.iter().enumerate().map(|(i, name)| match i {
                0 => name.strip_prefix('\u{feff}').map_or(name, str::trim),
                _ => name,
            });
            header = Some(pack_names(names)?);
            table = Some(TableBuilder::new(record.len()));
            continue;
        };
        if record.len() != rows.width {
            return Err(Error::Format {
                location: format!("{source}:{line}"),
                message: format!("{} fields, the header has {}", record.len(), rows.width),
            });
        }
        cells += record.len() as u64;
        if cells > options.max_cells {
            return Err(Error::TooLarge {
                what: "CSV cells",
                requested: cells as u128,
                limit: options.max_cells as u128,
            });
        }
        let row = rows.next_row();
        for field in record.iter() {
            let v = field.parse::<f64>().map_err(|_| Error::Format {
                location: format!("{source}:{line}"),
                message: format!("\"{field}\" is not a number"),
            })?;
            row.push(v);
        }
    }
    let (Some((names, ends)), Some(table)) = (header, table) else {
        return Err(Error::Format {
            location: source.into(),
            message: "empty file, expected a header line".into(),
        });
    };
    if table.n_rows == 0 {
        return Err(Error::Format {
            location: source.into(),
            message: "no data rows after the header".into(),
        });
    }
    Ok(table.finish(names, ends))
}
