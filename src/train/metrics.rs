//! What a pass over data measures: the loss and, by the loss, accuracy
//! (classification) or RMSE, MAE and R² (regression); and the confusion
//! matrix with per-class precision and recall.

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::MatRef;
use crate::compute::real::Real;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::layers::layer::Layer;
use crate::train::loss::Loss;

/// Loss and the metrics its task defines, over one pass over a data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Mean loss per sample.
    pub loss: f64,
    /// Fraction of rows predicted correctly, for classification losses (see [`Loss::correct`]).
    pub accuracy: Option<f64>,
    /// Root mean squared error over all outputs, for [`Loss::Mse`].
    pub rmse: Option<f64>,
    /// Mean absolute error over all outputs, for [`Loss::Mse`].
    pub mae: Option<f64>,
    /// Coefficient of determination, averaged over output columns (as
    /// scikit-learn's `r2_score`), for [`Loss::Mse`]; `None` for a constant target.
    pub r2: Option<f64>,
}

/// Sums from which [`Metrics`] are finished, batch by batch.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetricSums {
    loss: f64,
    rows: usize,
    correct: usize,
    has_accuracy: bool,
    regression: bool,
    squared: f64,
    absolute: f64,
    /// Per output column: Σy, Σy², Σ(ŷ - y)².
    columns: Vec<[f64; 3]>,
}

impl MetricSums {
    pub(crate) fn new(loss: Loss) -> Self {
        MetricSums {
            regression: loss.is_regression(),
            ..Default::default()
        }
    }

    /// Adds a batch whose mean loss was `batch_loss`.
    pub(crate) fn add<T: Real>(
        &mut self,
        loss: Loss,
        batch_loss: f64,
        pred: MatRef<'_, T>,
        target: MatRef<'_, T>,
    ) {
        let rows = pred.nrows();
        self.loss += batch_loss * rows as f64;
        self.rows += rows;
        if let Some(c) = loss.correct(pred, target) {
            self.correct += c;
            self.has_accuracy = true;
        }
        if self.regression {
            if self.columns.len() != pred.ncols() {
                self.columns = vec![[0.0; 3]; pred.ncols()];
            }
            for (j, col) in self.columns.iter_mut().enumerate() {
                for i in 0..rows {
                    let (p, y) = (pred[(i, j)].as_f64(), target[(i, j)].as_f64());
                    let d = p - y;
                    self.squared += d * d;
                    self.absolute += d.abs();
                    col[0] += y;
                    col[1] += y * y;
                    col[2] += d * d;
                }
            }
        }
    }

    pub(crate) fn finish(&self) -> Metrics {
        let n = self.rows.max(1) as f64;
        let (mut rmse, mut mae, mut r2) = (None, None, None);
        if self.regression && !self.columns.is_empty() {
            let elements = n * self.columns.len() as f64;
            rmse = Some((self.squared / elements).sqrt());
            mae = Some(self.absolute / elements);
            let scores: Vec<f64> = self
                .columns
                .iter()
                .filter_map(|&[sy, syy, ss_res]| {
                    let ss_tot = syy - sy * sy / n;
                    (ss_tot > 1e-12 * syy.max(1.0)).then(|| 1.0 - ss_res / ss_tot)
                })
                .collect();
            if scores.len() == self.columns.len() {
                r2 = Some(scores.iter().sum::<f64>() / scores.len() as f64);
            }
        }
        Metrics {
            loss: self.loss / n,
            accuracy: self.has_accuracy.then(|| self.correct as f64 / n),
            rmse,
            mae,
            r2,
        }
    }
}

/// Counts of (true class, predicted class) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    /// `counts[t][p]`: samples of class `t` predicted as `p`.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.counts.len()
    }

    /// Of the samples predicted as `class`, the fraction that are; `Ok(None)`
    /// when none were.
    ///
    /// # Errors
    /// [`Error::LabelOutOfRange`] when `class >= classes()`.
    pub fn precision(&self, class: usize) -> Result<Option<f64>> {
        self.check_class(class)?;
        let predicted: usize = self.counts.iter().map(|row| self.count(row, class)).sum();
        let right = self.count(&self.counts[class], class);
        Ok((predicted > 0).then(|| right as f64 / predicted as f64))
    }

    /// Of the samples of `class`, the fraction predicted as it; `Ok(None)`
    /// when there are none.
    ///
    /// # Errors
    /// [`Error::LabelOutOfRange`] when `class >= classes()`.
    pub fn recall(&self, class: usize) -> Result<Option<f64>> {
        self.check_class(class)?;
        let row = &self.counts[class];
        let actual: usize = row.iter().sum();
        Ok((actual > 0).then(|| self.count(row, class) as f64 / actual as f64))
    }

    fn check_class(&self, class: usize) -> Result<()> {
        if class >= self.classes() {
            return Err(Error::LabelOutOfRange {
                label: class,
                classes: self.classes(),
            });
        }
        Ok(())
    }

    /// `row[p]`, or 0 where a hand-built (ragged) row is shorter: `counts` is
    /// public, so its shape is not an invariant.
    fn count(&self, row: &[usize], p: usize) -> usize {
        row.get(p).copied().unwrap_or(0)
    }

    /// The fraction on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.counts.iter().flatten().sum();
        let right: usize = (0..self.classes())
            .map(|c| self.count(&self.counts[c], c))
            .sum();
        right as f64 / total.max(1) as f64
    }
}

/// The confusion matrix of `net` on `data`: classes by argmax (softmax
/// outputs, one-hot targets) or by threshold 0 on the logit (one output, BCE).
///
/// # Errors
/// [`Error::Shape`] when the inputs or targets do not fit the network; [`Error::LossOutputs`]
/// for several outputs with [`Loss::BceWithLogits`] (multi-label: no single
/// class per sample) or for [`Loss::Mse`].
pub fn confusion_matrix<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    net: &mut L,
    data: &Dataset<T>,
    loss: Loss,
) -> Result<ConfusionMatrix> {
    let outputs = net.output_width();
    let single = match loss {
        Loss::SoftmaxCrossEntropy => false,
        Loss::BceWithLogits if outputs == 1 => true,
        _ => {
            return Err(Error::LossOutputs {
                loss: loss.name(),
                minimum: 1,
                got: outputs,
            })
        }
    };
    if data.y().ncols() != outputs {
        return Err(Error::shape(
            "targets",
            (None, Some(outputs)),
            data.y().shape(),
        ));
    }
    let classes = if single { 2 } else { outputs };
    let truth = data.class_labels();
    let mut counts = vec![vec![0usize; classes]; classes];
    crate::layers::tree::set_training(net, false);
    for start in (0..data.len()).step_by(1024) {
        let end = (start + 1024).min(data.len());
        net.forward(data.x().rows(start, end - start))?;
        let out = net.output();
        for i in 0..out.nrows() {
            let predicted = if single {
                usize::from(out[(i, 0)] > T::zero())
            } else {
                let mut best = 0;
                for j in 1..out.ncols() {
                    if out[(i, j)] > out[(i, best)] {
                        best = j;
                    }
                }
                best
            };
            counts[truth[start + i]][predicted] += 1;
        }
    }
    Ok(ConfusionMatrix { counts })
}
