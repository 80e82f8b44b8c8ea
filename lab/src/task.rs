//! Tasks: a data source that yields the same train / validation / test split for the same seed.

use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::metric::Metric;
use crate::check_hyper;
use mixact::data::{self, Dataset, Target1d};
use mixact::Loss;
use mixact::{Error, Result};

/// Train, validation and test sets of one seed.
#[derive(Debug, Clone)]
pub struct Split {
    /// Training set.
    pub train: Dataset,
    /// Validation set: choosing learning rates and the best homogeneous activation.
    pub valid: Dataset,
    /// Test set: the reported metric.
    pub test: Dataset,
}

/// What a task's plot shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotKind {
    /// Decision regions over [-1, 1]² (2-D binary classification).
    Regions2d,
    /// The fitted curve over [-range, range] (1-D regression).
    Curve1d {
        /// Half-width of the input interval, in hundredths.
        range_centi: u32,
    },
    /// No task-specific plot.
    None,
}

type SplitFn = dyn Fn(u64) -> Result<Split> + Send + Sync;

/// What a task of your own predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Class labels (softmax cross-entropy, accuracy).
    Classification,
    /// Values (mean squared error).
    Regression,
}

/// A named learning problem: a loss, and a seeded source of splits.
#[derive(Clone)]
pub struct Task {
    name: String,
    loss: Loss,
    plot: PlotKind,
    epochs: Option<usize>,
    patience: Option<usize>,
    source: Arc<SplitFn>,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("loss", &self.loss)
            .finish()
    }
}

/// Checks that a split fraction lies strictly between 0 and 1.
fn check_fraction(name: &'static str, f: f64) -> Result<()> {
    check_hyper(name, f, f > 0.0 && f < 1.0, "in (0, 1)")
}

/// `0..n` in the seeded random order a split of `seed` uses.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_5b17));
    idx
}

/// Splits `data` at random (seeded) into the given fractions.
fn random_split(data: &Dataset, valid: f64, test: f64, seed: u64) -> Result<Split> {
    let n = data.len();
    let idx = shuffled(n, seed);
    let n_test = ((n as f64) * test).round() as usize;
    let n_valid = ((n as f64) * valid).round() as usize;
    if n_test == 0 || n_valid == 0 || n_test + n_valid >= n {
        return Err(Error::HyperParameter {
            name: "split fractions",
            value: valid + test,
            requirement: "leave at least one sample in each of train, validation and test",
        });
    }
    Ok(Split {
        test: data.select(&idx[..n_test])?,
        valid: data.select(&idx[n_test..n_test + n_valid])?,
        train: data.select(&idx[n_test + n_valid..])?,
    })
}

/// Test points of a generated task (spirals, checkerboard, 1-D regression),
/// whatever its training size: generating them is free, and a test set of
/// 10 000 keeps the test score's own noise far below the differences the lab
/// compares (a few hundred points would put about ±2% on an accuracy).
pub const SYNTHETIC_TEST_POINTS: usize = 10_000;

impl Task {
    /// A task whose splits come from `split(seed)`; it must return the same
    /// split for the same seed (that is what pairs the comparisons).
    pub fn new(
        name: impl Into<String>,
        loss: Loss,
        plot: PlotKind,
        split: impl Fn(u64) -> Result<Split> + Send + Sync + 'static,
    ) -> Self {
        Task {
            name: name.into(),
            loss,
            plot,
            epochs: None,
            patience: None,
            source: Arc::new(split),
        }
    }

    /// Your own data set, split at random per seed into train / validation / test.
    ///
    /// # Errors
    /// [`Error::HyperParameter`] for fractions that leave a part empty.
    pub fn from_dataset(
        name: impl Into<String>,
        loss: Loss,
        data: Dataset,
        valid_fraction: f64,
        test_fraction: f64,
    ) -> Result<Self> {
        check_fraction("validation fraction", valid_fraction)?;
        check_fraction("test fraction", test_fraction)?;
        random_split(&data, valid_fraction, test_fraction, 0)?;
        Ok(Task::new(name, loss, PlotKind::None, move |seed| {
            random_split(&data, valid_fraction, test_fraction, seed)
        }))
    }

    /// Your own data set with a fixed test set; validation drawn from `train` per seed.
    ///
    /// # Errors
    /// [`Error::HyperParameter`] for a fraction that leaves a part empty.
    pub fn from_train_test(
        name: impl Into<String>,
        loss: Loss,
        train: Dataset,
        test: Dataset,
        valid_fraction: f64,
    ) -> Result<Self> {
        check_fraction("validation fraction", valid_fraction)?;
        Ok(Task::new(name, loss, PlotKind::None, move |seed| {
            let n = train.len();
            let idx = shuffled(n, seed);
            let nv = (((n as f64) * valid_fraction).round() as usize)
                .clamp(1, n.saturating_sub(1).max(1));
            Ok(Split {
                valid: train.select(&idx[..nv])?,
                train: train.select(&idx[nv..])?,
                test: test.clone(),
            })
        }))
    }

    /// A task from a CSV file (gzip or plain) of your own: `target` is the
    /// label column (classification: class indices `0..classes`, inferred
    /// from the file when `classes` is `None`) or the value column
    /// (regression); every other column is a feature. Each seed gets its own
    /// 60 / 20 / 20 split (stratified for classification), and the features
    /// are standardised with a [`Scaler`](mixact::data::Scaler) fitted on that
    /// split's training part only.
    ///
    /// # Errors
    /// As [`data::read_csv`]; [`Error::Format`] for a missing column;
    /// [`Error::Empty`] when a class has fewer than 5 rows (too few for a
    /// stratified split) or a part of a split would be empty.
    pub fn from_csv(
        path: impl AsRef<std::path::Path>,
        target: &str,
        kind: TaskKind,
        classes: Option<usize>,
    ) -> Result<Self> {
        let path = path.as_ref();
        let table = data::read_csv(path)?;
        let name = path
            .file_name()
            .map_or("csv".into(), |n| n.to_string_lossy().into_owned())
            .trim_end_matches(".gz")
            .trim_end_matches(".csv")
            .to_string();
        let (all, loss) = match kind {
            TaskKind::Classification => {
                let classes = match classes {
                    Some(c) => c,
                    None => table
                        .classification::<f32>(target, &[], 1.0, None)?
                        .y()
                        .ncols(),
                };
                // One class is no classification (softmax over one output is
                // always right), and its one-column one-hot targets would read
                // back as binary labels, all 1, in the per-class count below.
                if classes < 2 {
                    return Err(Error::Format {
                        location: path.display().to_string(),
                        message: format!(
                            "column \"{target}\" has a single class (every label is 0); a \
                             classification needs at least 2 (for a numeric target, use a \
                             regression task)"
                        ),
                    });
                }
                let ds = table.classification_with_classes::<f32>(target, &[], classes, None)?;
                let labels = ds.class_labels();
                for c in 0..classes {
                    let n = labels.iter().filter(|&&l| l == c).count();
                    if n < 5 {
                        return Err(Error::Format {
                            location: path.display().to_string(),
                            message: format!(
                                "class {c} has {n} rows; a stratified 60/20/20 split needs at least 5"
                            ),
                        });
                    }
                }
                (ds, Loss::SoftmaxCrossEntropy)
            }
            TaskKind::Regression => (table.regression::<f32>(&[target], &[], None)?, Loss::Mse),
        };
        let stratified = kind == TaskKind::Classification;
        let split = move |seed: u64| -> Result<Split> {
            let parts = if stratified {
                all.split_stratified(0.2, 0.2, seed)?
            } else {
                all.split(0.2, 0.2, seed)?
            };
            let scaler = data::Scaler::standardize(parts.train.x());
            let valid = parts.valid.ok_or(Error::Empty {
                what: "validation part of the split",
            })?;
            Ok(Split {
                train: scaler.apply(&parts.train)?,
                valid: scaler.apply(&valid)?,
                test: scaler.apply(&parts.test)?,
            })
        };
        split(0)?;
        Ok(Task::new(name, loss, PlotKind::None, split))
    }

    /// Trains this task for `epochs` epochs instead of the suite's default.
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = Some(epochs);
        self
    }

    /// The epochs this task asks for, if it overrides the suite's default.
    pub fn epochs(&self) -> Option<usize> {
        self.epochs
    }

    /// Stops this task's runs after `patience` epochs without a lower
    /// validation loss (keeping the best weights), instead of the suite's
    /// default patience; its epochs become a budget.
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = Some(patience);
        self
    }

    /// The early-stopping patience this task asks for, if it overrides the
    /// suite's default.
    pub fn patience(&self) -> Option<usize> {
        self.patience
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// Its plot.
    pub fn plot(&self) -> PlotKind {
        self.plot
    }

    /// The same task trained on the first `fraction` of each split's
    /// training set (at least one row; the split is already shuffled by its
    /// seed, so this is a seeded random subset). Validation and test sets
    /// are unchanged, so scores stay comparable across fractions.
    ///
    /// # Errors
    /// [`Error::HyperParameter`] unless `fraction` is in (0, 1].
    pub fn with_train_fraction(mut self, fraction: f64) -> Result<Self> {
        check_hyper(
            "training fraction",
            fraction,
            fraction > 0.0 && fraction <= 1.0,
            "in (0, 1]",
        )?;
        if fraction < 1.0 {
            let inner = Arc::clone(&self.source);
            self.source = Arc::new(move |seed| {
                let mut split = inner(seed)?;
                let n = split.train.len();
                let keep = ((n as f64 * fraction).ceil() as usize).clamp(1, n.max(1));
                let rows: Vec<usize> = (0..keep).collect();
                split.train = split.train.select(&rows)?;
                Ok(split)
            });
        }
        Ok(self)
    }

    /// The split of `seed`.
    ///
    /// # Errors
    /// Whatever the task's source returns.
    pub fn split(&self, seed: u64) -> Result<Split> {
        (self.source)(seed)
    }

    /// The metric the report compares: accuracy for classification, MSE for regression.
    pub fn metric(&self) -> Metric {
        match self.loss {
            // Exhaustive: a new loss must say what it is scored by.
            Loss::Mse => Metric::Mse,
            Loss::BceWithLogits | Loss::SoftmaxCrossEntropy => Metric::Accuracy,
        }
    }

    /// Two spirals with `turns` turns, Gaussian noise `noise`, `n` points per
    /// arm for training, `n / 2` for validation, and [`SYNTHETIC_TEST_POINTS`]
    /// test points in all.
    pub fn two_spirals(turns: f64, noise: f64, n: usize) -> Self {
        Task::new(
            format!("spirals{turns}"),
            Loss::BceWithLogits,
            PlotKind::Regions2d,
            move |seed| {
                let mut r = ChaCha8Rng::seed_from_u64(seed);
                Ok(Split {
                    train: data::two_spirals(n, turns, noise, &mut r)?,
                    valid: data::two_spirals(n / 2, turns, noise, &mut r)?,
                    test: data::two_spirals(SYNTHETIC_TEST_POINTS / 2, turns, noise, &mut r)?,
                })
            },
        )
    }

    /// A k × k checkerboard with `n` training points, `n / 2` validation
    /// points and [`SYNTHETIC_TEST_POINTS`] test points.
    pub fn checkerboard(k: usize, n: usize) -> Self {
        Task::new(
            format!("checker{k}x{k}"),
            Loss::BceWithLogits,
            PlotKind::Regions2d,
            move |seed| {
                let mut r = ChaCha8Rng::seed_from_u64(seed);
                Ok(Split {
                    train: data::checkerboard(n, k, &mut r)?,
                    valid: data::checkerboard(n / 2, k, &mut r)?,
                    test: data::checkerboard(SYNTHETIC_TEST_POINTS, k, &mut r)?,
                })
            },
        )
    }

    /// 1-D regression of `target` on [-2, 2] with `n` training points, `n / 2`
    /// validation points (noise 0.05) and [`SYNTHETIC_TEST_POINTS`] noiseless test points.
    pub fn regression(name: &str, target: Target1d, n: usize) -> Self {
        Task::new(
            name,
            Loss::Mse,
            PlotKind::Curve1d { range_centi: 200 },
            move |seed| {
                let mut r = ChaCha8Rng::seed_from_u64(seed);
                Ok(Split {
                    train: data::regression_1d(target, n, 2.0, 0.05, &mut r)?,
                    valid: data::regression_1d(target, n / 2, 2.0, 0.05, &mut r)?,
                    test: data::regression_1d(target, SYNTHETIC_TEST_POINTS, 2.0, 0.0, &mut r)?,
                })
            },
        )
    }

    /// n-bit parity (all 2^n inputs), split 60 / 20 / 20 per seed.
    ///
    /// # Errors
    /// As [`data::parity`].
    pub fn parity(bits: usize) -> Result<Self> {
        let all = data::parity(bits)?;
        let mut t =
            Task::from_dataset(format!("parity{bits}"), Loss::BceWithLogits, all, 0.2, 0.2)?;
        t.name = format!("parity{bits}");
        Ok(t)
    }

    /// Digits 8x8 from the shipped CSV (pixels scaled to [0, 1]), split 60 / 20 / 20 per seed.
    ///
    /// # Errors
    /// As [`data::read_csv`].
    pub fn digits(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let table = data::read_csv(path)?;
        let ds = table.classification("label", &[], 1.0 / 16.0, None)?;
        Task::from_dataset("digits8x8", Loss::SoftmaxCrossEntropy, ds, 0.2, 0.2)
    }

    /// MNIST-1D from the shipped CSV, with the generator's own train / test split.
    ///
    /// # Errors
    /// As [`data::read_csv`].
    pub fn mnist1d(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let table = data::read_csv(path)?;
        let is_test = table.column("is_test")?;
        let train = table.classification(
            "label",
            &["is_test"],
            1.0,
            Some(&move |r: &[f64]| r[is_test] == 0.0),
        )?;
        let test = table.classification(
            "label",
            &["is_test"],
            1.0,
            Some(&move |r: &[f64]| r[is_test] == 1.0),
        )?;
        Task::from_train_test("mnist1d", Loss::SoftmaxCrossEntropy, train, test, 0.2)
    }
}
