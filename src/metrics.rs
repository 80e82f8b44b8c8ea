//! What [`evaluate`](crate::evaluate) and cross-validation report: the
//! metrics of one model on one data set, a confusion matrix, and the mean
//! and spread of a metric over folds or seeds; and [`psnr`], the measure of
//! signal and image fits.

pub use crate::train::fold_summary::{FoldSummary, MeanSd};
pub use crate::train::metrics::{confusion_matrix, ConfusionMatrix, Metrics};
pub use crate::train::psnr::psnr;
