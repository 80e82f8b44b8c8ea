//! Losses: value and gradient computed together, numerically stable.

use crate::compute::matrix::MatRef;
use crate::compute::real::Real;
use crate::error::{Error, Result};

/// A loss over a batch, averaged as PyTorch's default `reduction="mean"` does.
///
/// Each loss states which targets it accepts and what its accuracy means;
/// [`Trainer::fit`](crate::Trainer::fit) and [`evaluate`](crate::evaluate)
/// check the targets once ([`Loss::check_targets`]) before the first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error, averaged over all elements. Targets: any finite
    /// values. Accuracy: none.
    Mse,
    /// Binary cross-entropy on logits, averaged over all elements:
    /// `max(p, 0) - p t + ln(1 + e^-|p|)`, stable for any logit. Targets: in
    /// [0, 1]. Accuracy: a row is correct when *every* column's prediction
    /// (logit > 0) matches its target (> 0.5); with one column that is the
    /// usual binary accuracy, with several it is exact-match (multi-label)
    /// accuracy. See [`Loss::label_accuracy`] for the per-label figure.
    BceWithLogits,
    /// Softmax over each row, then cross-entropy with the row's target
    /// distribution (one-hot or soft), averaged over rows. Fused, so the
    /// gradient is `(softmax(p) - t) / batch` with no overflow. Needs at
    /// least 2 outputs. Targets: rows of non-negative values summing to 1
    /// (within 1e-3). Accuracy: a row is correct when the argmax of the
    /// prediction equals the argmax of the target.
    SoftmaxCrossEntropy,
}

/// How far a softmax target row's sum may be from 1 (f32 one-hot data sums exactly).
const ROW_SUM_TOLERANCE: f64 = 1e-3;

/// One value's squared error and its gradient, `((p - t)², 2 (p - t) / n)`,
/// with the operations `Loss::Mse` sums and scales them by; the lane
/// kernels call it for each member, so that both give the same bits.
#[inline(always)]
pub(crate) fn squared_error<T: Real>(pred: T, target: T, n: T) -> (T, T) {
    let d = pred - target;
    (d * d, (d + d) / n)
}

impl Loss {
    /// Whether the loss fits real-valued targets (regression: RMSE, MAE and
    /// R² are measured) rather than classes (accuracy is measured).
    pub fn is_regression(self) -> bool {
        match self {
            Loss::Mse => true,
            Loss::BceWithLogits | Loss::SoftmaxCrossEntropy => false,
        }
    }

    /// Whether the loss has a notion of accuracy (see [`Loss::correct`]).
    pub fn has_accuracy(self) -> bool {
        !self.is_regression()
    }

    /// The loss's name in errors and files: `"mse"`, `"bce_with_logits"`, `"softmax_cross_entropy"`.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::BceWithLogits => "bce_with_logits",
            Loss::SoftmaxCrossEntropy => "softmax_cross_entropy",
        }
    }

    /// Checks that `targets` (samples × outputs) suit this loss: softmax
    /// cross-entropy needs at least 2 columns and rows of non-negative values
    /// summing to 1; BCE targets must lie in [0, 1]; every target must be finite.
    ///
    /// # Errors
    /// [`Error::LossOutputs`] for softmax cross-entropy on one column,
    /// [`Error::InvalidTarget`] naming the first bad row and column,
    /// [`Error::NonFiniteData`] for a NaN or infinity.
    pub fn check_targets<T: Real>(self, targets: MatRef<'_, T>) -> Result<()> {
        let (rows, cols) = targets.shape();
        if let Some((k, _)) = targets.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFiniteData {
                what: "targets",
                row: k % rows.max(1),
                col: k / rows.max(1),
            });
        }
        match self {
            Loss::Mse => Ok(()),
            Loss::BceWithLogits => {
                for j in 0..cols {
                    for i in 0..rows {
                        let t = targets[(i, j)].as_f64();
                        if !(0.0..=1.0).contains(&t) {
                            return Err(Error::InvalidTarget {
                                loss: self.name(),
                                row: i,
                                col: j,
                                value: t,
                                requirement: "in [0, 1]",
                            });
                        }
                    }
                }
                Ok(())
            }
            Loss::SoftmaxCrossEntropy => {
                if cols < 2 {
                    return Err(Error::LossOutputs {
                        loss: self.name(),
                        minimum: 2,
                        got: cols,
                    });
                }
                for i in 0..rows {
                    let mut sum = 0.0;
                    for j in 0..cols {
                        let t = targets[(i, j)].as_f64();
                        if t < 0.0 {
                            return Err(Error::InvalidTarget {
                                loss: self.name(),
                                row: i,
                                col: j,
                                value: t,
                                requirement: "non-negative, each row summing to 1",
                            });
                        }
                        sum += t;
                    }
                    if (sum - 1.0).abs() > ROW_SUM_TOLERANCE {
                        return Err(Error::InvalidTarget {
                            loss: self.name(),
                            row: i,
                            col: cols - 1,
                            value: sum,
                            requirement: "non-negative, each row summing to 1",
                        });
                    }
                }
                Ok(())
            }
        }
    }

    /// The mean loss of `pred` against `target`, writing d(loss)/d(pred)
    /// into `grad` (column-major, same shape as `pred`).
    ///
    /// The targets are not range-checked here (that is done once per fit by
    /// [`Loss::check_targets`]); out-of-range targets give meaningless values.
    ///
    /// # Errors
    /// [`Error::Shape`] when `target` or `grad` does not match `pred`,
    /// [`Error::LossOutputs`] for softmax cross-entropy on one column.
    pub fn value_and_grad<T: Real>(
        self,
        pred: MatRef<'_, T>,
        target: MatRef<'_, T>,
        grad: &mut [T],
    ) -> Result<T> {
        self.check_batch(pred, target, Some(grad.len()))?;
        Ok(self.mean(pred, target, Some(grad)))
    }

    /// The mean loss without a gradient: the same value, bit for bit, as
    /// [`value_and_grad`](Self::value_and_grad) gives, without its
    /// gradient's arithmetic (an exponential per value for the logit
    /// losses) or a buffer for it.
    ///
    /// # Errors
    /// As [`Loss::value_and_grad`].
    pub fn value<T: Real>(self, pred: MatRef<'_, T>, target: MatRef<'_, T>) -> Result<T> {
        self.check_batch(pred, target, None)?;
        Ok(self.mean(pred, target, None))
    }

    /// Refuses a batch the loss cannot score: targets of another shape, a
    /// gradient buffer (of length `grad_len`, when one is given) of another
    /// size, no rows, or softmax cross-entropy on one column.
    fn check_batch<T: Real>(
        self,
        pred: MatRef<'_, T>,
        target: MatRef<'_, T>,
        grad_len: Option<usize>,
    ) -> Result<()> {
        let (rows, cols) = pred.shape();
        if target.shape() != (rows, cols) {
            return Err(Error::shape(
                "targets",
                (Some(rows), Some(cols)),
                target.shape(),
            ));
        }
        if let Some(got) = grad_len.filter(|&len| len != rows * cols) {
            return Err(Error::Length {
                what: "loss gradient buffer",
                expected: rows * cols,
                got,
            });
        }
        if rows == 0 {
            return Err(Error::ZeroWidth { what: "batch" });
        }
        if self == Loss::SoftmaxCrossEntropy && cols < 2 {
            return Err(Error::LossOutputs {
                loss: self.name(),
                minimum: 2,
                got: cols,
            });
        }
        Ok(())
    }

    /// The mean loss of a checked batch, and its gradient into `grad` when
    /// given (column-major, `rows × cols` values). One loop for both, so the
    /// value is the same sum in the same order with or without the gradient.
    fn mean<T: Real>(
        self,
        pred: MatRef<'_, T>,
        target: MatRef<'_, T>,
        mut grad: Option<&mut [T]>,
    ) -> T {
        let (rows, cols) = pred.shape();
        let n = T::lit((rows * cols) as f64);
        let mut total = T::zero();
        match self {
            Loss::Mse => {
                for j in 0..cols {
                    for i in 0..rows {
                        let (square, g_ij) = squared_error(pred[(i, j)], target[(i, j)], n);
                        total += square;
                        if let Some(g) = grad.as_deref_mut() {
                            g[j * rows + i] = g_ij;
                        }
                    }
                }
                total / n
            }
            Loss::BceWithLogits => {
                for j in 0..cols {
                    for i in 0..rows {
                        let (p, t) = (pred[(i, j)], target[(i, j)]);
                        total += p.max(T::zero()) - p * t + (-p.abs()).exp().ln_1p();
                        if let Some(g) = grad.as_deref_mut() {
                            let s = T::one() / (T::one() + (-p).exp());
                            g[j * rows + i] = (s - t) / n;
                        }
                    }
                }
                total / n
            }
            Loss::SoftmaxCrossEntropy => {
                let b = T::lit(rows as f64);
                for i in 0..rows {
                    let row = pred.row(i);
                    let max = row.iter().copied().fold(T::neg_infinity(), T::max);
                    let sum_exp: T = row.iter().map(|&p| (p - max).exp()).sum();
                    let log_z = max + sum_exp.ln();
                    let mass: T = target.row(i).iter().copied().sum();
                    for j in 0..cols {
                        let (p, t) = (pred[(i, j)], target[(i, j)]);
                        total -= t * (p - log_z);
                        if let Some(g) = grad.as_deref_mut() {
                            g[j * rows + i] = ((p - log_z).exp() * mass - t) / b;
                        }
                    }
                }
                total / b
            }
        }
    }

    /// The number of correctly predicted *rows* in the batch, for losses
    /// with a notion of accuracy (see each variant): softmax (argmax match)
    /// and binary (every column's logit > 0 iff its target > 0.5). `None` for MSE.
    pub fn correct<T: Real>(self, pred: MatRef<'_, T>, target: MatRef<'_, T>) -> Option<usize> {
        match self {
            Loss::Mse => None,
            Loss::BceWithLogits => Some(
                (0..pred.nrows())
                    .filter(|&i| {
                        (0..pred.ncols())
                            .all(|j| (pred[(i, j)] > T::zero()) == (target[(i, j)] > T::lit(0.5)))
                    })
                    .count(),
            ),
            Loss::SoftmaxCrossEntropy => Some(
                (0..pred.nrows())
                    .filter(|&i| argmax(pred.row(i).iter()) == argmax(target.row(i).iter()))
                    .count(),
            ),
        }
    }

    /// For [`Loss::BceWithLogits`]: the fraction of individual labels (row,
    /// column pairs) predicted correctly, the multi-label figure next to the
    /// exact-match accuracy. `None` for the other losses or an empty batch.
    pub fn label_accuracy<T: Real>(
        self,
        pred: MatRef<'_, T>,
        target: MatRef<'_, T>,
    ) -> Option<f64> {
        if self != Loss::BceWithLogits || pred.is_empty() {
            return None;
        }
        let right = pred
            .iter()
            .zip(target.iter())
            .filter(|(&p, &t)| (p > T::zero()) == (t > T::lit(0.5)))
            .count();
        Some(right as f64 / pred.len() as f64)
    }
}

fn argmax<'a, T: Real>(values: impl Iterator<Item = &'a T>) -> usize {
    let mut best = (0, T::neg_infinity());
    for (i, &v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}
