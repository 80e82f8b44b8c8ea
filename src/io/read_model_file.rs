//! Reading a model file no further than its own header says it reaches.
//!
//! `std::fs::read` reads to the end of whatever the path names: a symlink
//! to `/dev/zero`, a FIFO, or a multi-gigabyte file that is no model would
//! fill memory before the first byte is checked. The safetensors layout
//! bounds every read: 8 bytes give the header length (refused past the
//! header limit), the header gives the data length, and one byte more
//! tells a file that is longer than it says. Memory stays within twice the
//! bytes actually found, as no declared size is allocated ahead of its data.
//! A regular file is read no further than its length when opened (plus
//! that one byte), so a file another process keeps appending to is bounded
//! too. A stream (anything but a regular file) has no length of its own to bound
//! those bytes, so its header may declare at most
//! [`MAX_STREAM_MODEL_BYTES`] of data: a crafted header in front of an
//! endless writer would otherwise be read until memory ran out.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, ModelErrorKind, Result};
use crate::limits::MAX_STREAM_MODEL_BYTES;

use super::{model_error, safetensors_header, MAX_HEADER};

/// The bytes of the model file at `path`, read as far as its header
/// declares (plus one byte); the prefix read so far when the header is
/// short, too long or unreadable, so that parsing reports that error.
///
/// # Errors
/// [`Error::Io`] naming the path when it cannot be opened or read;
/// [`Error::Model`] `TooLarge` naming it when it is a stream whose header
/// declares more than [`MAX_STREAM_MODEL_BYTES`] of data.
pub(crate) fn read_model_file(path: &Path) -> Result<Vec<u8>> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let metadata = file.metadata().map_err(|e| Error::io(path, e))?;
    let from_stream = !metadata.is_file();
    let mut bytes = Vec::new();
    let mut read_more = |bytes: &mut Vec<u8>, n: u64| -> Result<bool> {
        let want = bytes.len() as u64 + n;
        Read::by_ref(&mut file)
            .take(n)
            .read_to_end(bytes)
            .map_err(|e| Error::io(path, e))?;
        Ok(bytes.len() as u64 == want)
    };
    if !read_more(&mut bytes, 8)? {
        return Ok(bytes);
    }
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes were read"));
    if header_len > MAX_HEADER || !read_more(&mut bytes, header_len)? {
        return Ok(bytes);
    }
    let Some(data_len) =
        safetensors_header::declared_data_len(&bytes[8..], crate::limits::MAX_TENSORS)
    else {
        return Ok(bytes);
    };
    if from_stream && data_len as u64 > MAX_STREAM_MODEL_BYTES {
        return Err(model_error(
            ModelErrorKind::TooLarge,
            format!(
                "{}: declares {data_len} bytes of tensor data, more than the {MAX_STREAM_MODEL_BYTES} \
                 a model read from a stream (a pipe, FIFO or device) may declare; save the model to a \
                 regular file to load it",
                path.display()
            ),
        ));
    }
    // A regular file is read no further than its length when opened (plus
    // the byte that tells a longer file): one that another process keeps
    // appending to is as bounded as one that stands still.
    let left = if from_stream {
        data_len as u64
    } else {
        (data_len as u64).min(metadata.len().saturating_sub(bytes.len() as u64))
    };
    read_more(&mut bytes, left.saturating_add(1))?;
    Ok(bytes)
}
