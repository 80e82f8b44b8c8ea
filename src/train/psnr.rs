//! Peak signal-to-noise ratio: how the work on implicit representations
//! (fitting a signal or an image from its coordinates) reports a fit.

use nalgebra::DMatrix;

use crate::compute::real::Real;
use crate::error::{check_hyper, Error, Result};

/// `10 · log10(peak² / MSE)` in decibels, over every element of
/// `predictions` against `targets`; `peak` is the signal's range (1 for
/// values in [0, 1], 2 for values in [-1, 1]). Higher is better; +6 dB
/// halves the RMS error, and an exact fit is `f64::INFINITY`.
///
/// ```
/// use mixact::metrics::psnr;
/// use mixact::prelude::*;
/// let target = DMatrix::from_row_slice(2, 1, &[0.0f32, 1.0]);
/// let pred = DMatrix::from_row_slice(2, 1, &[0.1f32, 0.9]);
/// assert!((psnr(&pred, &target, 1.0)? - 20.0).abs() < 1e-4); // MSE 0.01
/// # Ok::<(), mixact::Error>(())
/// ```
///
/// # Errors
/// [`Error::Shape`] when the matrices differ in shape; [`Error::Empty`]
/// when they hold nothing; [`Error::HyperParameter`] unless `peak` is
/// finite and > 0; [`Error::NonFiniteData`] when an element is NaN or
/// infinite.
pub fn psnr<T: Real>(predictions: &DMatrix<T>, targets: &DMatrix<T>, peak: f64) -> Result<f64> {
    check_hyper(
        "peak",
        peak,
        peak.is_finite() && peak > 0.0,
        "finite and > 0",
    )?;
    if predictions.shape() != targets.shape() {
        return Err(Error::shape(
            "predictions",
            (Some(targets.nrows()), Some(targets.ncols())),
            predictions.shape(),
        ));
    }
    if targets.is_empty() {
        return Err(Error::Empty { what: "targets" });
    }
    let mut sum = 0.0f64;
    // Column-major storage: element k is row k % rows, column k / rows.
    let rows = targets.nrows();
    for (k, (p, t)) in predictions.iter().zip(targets.iter()).enumerate() {
        let d = p.as_f64() - t.as_f64();
        if !d.is_finite() {
            let what = if p.is_finite() {
                "targets"
            } else {
                "predictions"
            };
            return Err(Error::NonFiniteData {
                what,
                row: k % rows,
                col: k / rows,
            });
        }
        sum += d * d;
    }
    let mse = sum / targets.len() as f64;
    Ok(10.0 * (peak * peak / mse).log10())
}
