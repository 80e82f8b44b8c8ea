//! The ceilings on what one call may allocate, and the checked size
//! arithmetic every constructor, generator and loader goes through.
//!
//! Sizes that come from a caller (widths, sample counts, class labels, CSV
//! cells, model-file headers) are multiplied in 128-bit arithmetic and compared
//! with these limits *before* anything is allocated, so a hostile or mistaken
//! size becomes an [`Error::TooLarge`] instead of a wrapped product, an
//! out-of-bounds write, an allocation failure that aborts the process, or a
//! "capacity overflow" panic.
//!
//! The limits are generous for the networks mixact is built for (small and
//! medium models trained on a CPU) and small enough that one allocation at the
//! limit cannot exhaust a workstation's memory.

use crate::error::{Error, Result};

/// The most elements one matrix or vector built from caller input may hold:
/// 2^28 (268 million), which is 1 GiB in `f32` and 2 GiB in `f64`. A dense
/// layer of 16384 × 16384 weights is exactly at the limit; MNIST (60000 × 784)
/// uses 18% of it.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// The default limit on the decompressed size of a CSV file read by
/// [`read_csv`](crate::data::read_csv): 256 MiB (about 4 s of parsing). Raise
/// or lower it with [`CsvOptions::max_bytes`](crate::data::CsvOptions::max_bytes).
pub const DEFAULT_MAX_CSV_BYTES: u64 = 1 << 28;

/// The default limit on the data cells of a CSV file: 2^25 (33.5 million,
/// 256 MiB as `f64`). Memory, not text, is what a table costs, so this is the
/// bound a caller can plan with; raise or lower it with
/// [`CsvOptions::max_cells`](crate::data::CsvOptions::max_cells).
pub const DEFAULT_MAX_CSV_CELLS: u64 = 1 << 25;

/// The most JSON objects (tensor entries and layer descriptions together) a
/// model file's header may hold: 8192, enough for a network of about 2700
/// dense layers. The bound keeps the memory spent on parsing a header within
/// a few megabytes, whatever the file holds.
pub const MAX_TENSORS: usize = 8192;

/// The most tensor data a model file read from a stream (a pipe, a FIFO, a
/// device: anything but a regular file) may declare: 4 GiB, twice the
/// largest tensor [`MAX_ELEMENTS`] allows in `f64`. A regular file's own
/// length bounds what is read from it; a stream has no length, and a
/// header that declares terabytes in front of an endless writer would
/// otherwise be read until memory runs out. Save a larger model to a file
/// to load it.
pub const MAX_STREAM_MODEL_BYTES: u64 = 1 << 32;

/// The product of `dims` as the element count of one allocation called `what`.
///
/// # Errors
/// [`Error::TooLarge`] when the product exceeds [`MAX_ELEMENTS`] (computed
/// without overflow, so `1 << 62` times anything is reported, not wrapped).
pub(crate) fn elements(what: &'static str, dims: &[usize]) -> Result<usize> {
    let mut product: u128 = 1;
    for &d in dims {
        product = product.saturating_mul(d as u128);
    }
    if product > MAX_ELEMENTS as u128 {
        return Err(Error::TooLarge {
            what,
            requested: product,
            limit: MAX_ELEMENTS as u128,
        });
    }
    Ok(product as usize)
}

/// `a + b` as a size called `what`, checked like [`elements`].
pub(crate) fn sum(what: &'static str, parts: impl IntoIterator<Item = usize>) -> Result<usize> {
    let total: u128 = parts.into_iter().map(|p| p as u128).sum();
    if total > MAX_ELEMENTS as u128 {
        return Err(Error::TooLarge {
            what,
            requested: total,
            limit: MAX_ELEMENTS as u128,
        });
    }
    Ok(total as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_that_would_wrap_are_reported_exactly() {
        let err = elements("weights", &[1 << 62, 4]).unwrap_err();
        assert_eq!(
            err,
            Error::TooLarge {
                what: "weights",
                requested: 1 << 64,
                limit: MAX_ELEMENTS as u128
            }
        );
    }

    #[test]
    fn sizes_at_the_limit_are_accepted() {
        assert_eq!(elements("w", &[1 << 14, 1 << 14]), Ok(MAX_ELEMENTS));
        assert!(elements("w", &[(1 << 14) + 1, 1 << 14]).is_err());
    }
}
