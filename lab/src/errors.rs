//! The checks every mode shares: numeric settings and IO failures.

use mixact::{Error, Result};

/// `Ok` when `value` is finite and `ok` holds; otherwise
/// [`Error::HyperParameter`] naming the setting and its requirement.
pub(crate) fn check_hyper(
    name: &'static str,
    value: f64,
    ok: bool,
    requirement: &'static str,
) -> Result<()> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(Error::HyperParameter {
            name,
            value,
            requirement,
        })
    }
}

/// An IO failure at `path`, naming it.
pub(crate) fn io_error(path: &std::path::Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}
