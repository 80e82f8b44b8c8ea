//! Losses: value and gradient computed together, numerically stable.

use crate::error::{Error, Result};
use crate::matrix::MatRef;
use crate::real::Real;

/// A loss over a batch, averaged as PyTorch's default `reduction="mean"` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error, averaged over all elements.
    Mse,
    /// Binary cross-entropy on logits (targets in [0, 1]), averaged over all
    /// elements: `max(p, 0) - p t + ln(1 + e^-|p|)`, stable for any logit.
    BceWithLogits,
    /// Softmax over each row, then cross-entropy with the row's target
    /// distribution (one-hot or soft), averaged over rows. Fused, so the
    /// gradient is `(softmax(p) - t) / batch` with no overflow.
    SoftmaxCrossEntropy,
}

impl Loss {
    /// The mean loss of `pred` against `target`, writing d(loss)/d(pred)
    /// into `grad` (column-major, same shape as `pred`).
    ///
    /// # Errors
    /// [`Error::Shape`] when `target` or `grad` does not match `pred`.
    pub fn value_and_grad<T: Real>(
        self,
        pred: MatRef<'_, T>,
        target: MatRef<'_, T>,
        grad: &mut [T],
    ) -> Result<T> {
        let (rows, cols) = pred.shape();
        if target.shape() != (rows, cols) {
            return Err(Error::shape(
                "targets",
                (Some(rows), Some(cols)),
                target.shape(),
            ));
        }
        if grad.len() != rows * cols {
            return Err(Error::Length {
                what: "loss gradient buffer",
                expected: rows * cols,
                got: grad.len(),
            });
        }
        if rows == 0 {
            return Err(Error::ZeroWidth { what: "batch" });
        }
        let n = T::lit((rows * cols) as f64);
        let mut total = T::zero();
        match self {
            Loss::Mse => {
                for j in 0..cols {
                    for i in 0..rows {
                        let d = pred[(i, j)] - target[(i, j)];
                        total += d * d;
                        grad[j * rows + i] = (d + d) / n;
                    }
                }
                Ok(total / n)
            }
            Loss::BceWithLogits => {
                for j in 0..cols {
                    for i in 0..rows {
                        let (p, t) = (pred[(i, j)], target[(i, j)]);
                        total += p.max(T::zero()) - p * t + (-p.abs()).exp().ln_1p();
                        let s = T::one() / (T::one() + (-p).exp());
                        grad[j * rows + i] = (s - t) / n;
                    }
                }
                Ok(total / n)
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
                        grad[j * rows + i] = ((p - log_z).exp() * mass - t) / b;
                    }
                }
                Ok(total / b)
            }
        }
    }

    /// The mean loss without a gradient.
    ///
    /// # Errors
    /// As [`Loss::value_and_grad`].
    pub fn value<T: Real>(self, pred: MatRef<'_, T>, target: MatRef<'_, T>) -> Result<T> {
        let mut grad = vec![T::zero(); pred.len()];
        self.value_and_grad(pred, target, &mut grad)
    }

    /// The number of correct predictions in the batch, for losses with a
    /// notion of accuracy: softmax (argmax of the row equals argmax of the
    /// target) and binary (logit > 0 iff target > 0.5, per element). `None` for MSE.
    pub fn correct<T: Real>(self, pred: MatRef<'_, T>, target: MatRef<'_, T>) -> Option<usize> {
        match self {
            Loss::Mse => None,
            Loss::BceWithLogits => Some(
                pred.iter()
                    .zip(target.iter())
                    .filter(|(&p, &t)| (p > T::zero()) == (t > T::lit(0.5)))
                    .count(),
            ),
            Loss::SoftmaxCrossEntropy => Some(
                (0..pred.nrows())
                    .filter(|&i| argmax(pred.row(i).iter()) == argmax(target.row(i).iter()))
                    .count(),
            ),
        }
    }

    /// How many predictions [`correct`](Self::correct) counts per row.
    pub fn predictions_per_row(self, outputs: usize) -> usize {
        match self {
            Loss::BceWithLogits => outputs,
            _ => 1,
        }
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
