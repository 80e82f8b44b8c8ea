//! Scoring a network on a data set, in evaluation mode and in batches.

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::Buf;
use crate::compute::real::Real;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::layers::layer::Layer;
use crate::layers::tree::set_training;
use crate::train::loss::Loss;
use crate::train::metrics::{MetricSums, Metrics};

pub(crate) fn check_data<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    net: &L,
    data: &Dataset<T>,
    loss: Loss,
) -> Result<()> {
    if data.x().ncols() != net.input_width() {
        return Err(Error::shape(
            "inputs",
            (None, Some(net.input_width())),
            data.x().shape(),
        ));
    }
    if data.y().ncols() != net.output_width() {
        return Err(Error::shape(
            "targets",
            (None, Some(net.output_width())),
            data.y().shape(),
        ));
    }
    loss.check_targets(data.y().as_view())
}

/// Rows per forward pass when scoring.
const EVAL_BATCH: usize = 1024;

/// The loss and the task's metrics (accuracy; or RMSE, MAE and R²) of `net`
/// on all of `data`, in evaluation mode, in batches of at most 1024 rows.
///
/// # Errors
/// [`Error::Shape`] when the data do not fit the network; as
/// [`Loss::check_targets`] when the targets do not suit the loss.
pub fn evaluate<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    net: &mut L,
    data: &Dataset<T>,
    loss: Loss,
) -> Result<Metrics> {
    check_data(net, data, loss)?;
    set_training(net, false);
    let n = data.len();
    let mut sums = MetricSums::new(loss);
    // Batches in row order are views of the data: no copy, and no buffer
    // for a loss gradient nobody reads.
    for start in (0..n).step_by(EVAL_BATCH) {
        let len = EVAL_BATCH.min(n - start);
        let (x, y) = (data.x().rows(start, len), data.y().rows(start, len));
        net.forward(x)?;
        let l = loss.value(net.output(), y)?;
        sums.add(loss, l.as_f64(), net.output(), y);
    }
    Ok(sums.finish())
}

/// Copies rows `rows` of `m` into `out` (a rows.len() × m.ncols() batch).
pub(crate) fn gather_rows<T: Real>(m: &nalgebra::DMatrix<T>, rows: &[usize], out: &mut Buf<T>) {
    let (n, cols) = (m.nrows(), m.ncols());
    out.resize(rows.len(), cols);
    let src = m.as_slice();
    let b = rows.len();
    let dst = out.as_mut_slice();
    for c in 0..cols {
        let col = &src[c * n..(c + 1) * n];
        for (d, &r) in dst[c * b..(c + 1) * b].iter_mut().zip(rows) {
            *d = col[r];
        }
    }
}
