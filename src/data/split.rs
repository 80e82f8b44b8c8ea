//! Seeded train / validation / test splits, stratified for classification.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Dataset;
use crate::compute::real::Real;
use crate::error::{check_hyper, Error, Result};

/// A data set split three ways.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits<T: Real = f32> {
    /// For fitting.
    pub train: Dataset<T>,
    /// For choosing (early stopping, learning rates, layouts); `None` for a zero fraction.
    pub valid: Option<Dataset<T>>,
    /// For the final, untouched score.
    pub test: Dataset<T>,
    /// Which rows of the original data set went where, in each part's
    /// order: enough to rebuild the same split in pandas or scikit-learn
    /// (`df.iloc[rows.test]`) or to save it beside a model.
    pub rows: SplitRows,
}

/// The row indices (into the data set that was split) of each part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitRows {
    /// Rows of the training part, in its order.
    pub train: Vec<usize>,
    /// Rows of the validation part (empty for a zero fraction).
    pub valid: Vec<usize>,
    /// Rows of the test part.
    pub test: Vec<usize>,
}

/// The numbers `0..n` in a seeded random order: Fisher-Yates with Lemire's
/// unbiased bounded integers, written out so that the order depends only on
/// ChaCha8's output, not on a dependency's algorithm.
pub fn shuffle_indices(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    shuffle(&mut v, rng);
    v
}

/// Shuffles `v` in place (see [`shuffle_indices`]).
pub(crate) fn shuffle(v: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let bound = (i + 1) as u64;
        let j = loop {
            let m = (rng.next_u64() as u128) * (bound as u128);
            let low = m as u64;
            if low >= bound.wrapping_neg() % bound {
                break (m >> 64) as usize;
            }
        };
        v.swap(i, j);
    }
}

fn check_fractions(valid: f64, test: f64) -> Result<()> {
    check_hyper(
        "validation fraction",
        valid,
        (0.0..1.0).contains(&valid),
        "in [0, 1)",
    )?;
    check_hyper("test fraction", test, test > 0.0 && test < 1.0, "in (0, 1)")?;
    check_hyper(
        "validation + test fraction",
        valid + test,
        valid + test < 1.0,
        "below 1 (some data must train)",
    )
}

impl<T: Real> Dataset<T> {
    /// The class of each sample: the argmax of its target row (one-hot or
    /// soft targets), or target > 0.5 for a single column.
    pub fn class_labels(&self) -> Vec<usize> {
        let y = self.y();
        (0..y.nrows())
            .map(|i| {
                if y.ncols() == 1 {
                    usize::from(y[(i, 0)] > T::lit(0.5))
                } else {
                    let mut best = 0;
                    for j in 1..y.ncols() {
                        if y[(i, j)] > y[(i, best)] {
                            best = j;
                        }
                    }
                    best
                }
            })
            .collect()
    }

    /// A seeded random split: `test` and `valid` are the fractions of samples
    /// (rounded to the nearest count) in the test and validation parts, the
    /// rest trains. The same seed gives the same split.
    ///
    /// # Errors
    /// [`Error::HyperParameter`] for fractions outside [0, 1) or summing to 1
    /// or more; [`Error::Empty`] when a part with a positive fraction would be empty.
    pub fn split(&self, valid: f64, test: f64, seed: u64) -> Result<Splits<T>> {
        check_fractions(valid, test)?;
        let order = shuffle_indices(self.len(), &mut ChaCha8Rng::seed_from_u64(seed));
        let n = self.len() as f64;
        let (nt, nv) = ((n * test).round() as usize, (n * valid).round() as usize);
        self.assemble(&order[nt + nv..], &order[nt..nt + nv], &order[..nt], valid)
    }

    /// A seeded split that keeps each class's share in every part (by
    /// [`class_labels`](Self::class_labels)): each class is shuffled and
    /// divided by the fractions on its own.
    ///
    /// # Errors
    /// As [`split`](Self::split).
    pub fn split_stratified(&self, valid: f64, test: f64, seed: u64) -> Result<Splits<T>> {
        check_fractions(valid, test)?;
        let labels = self.class_labels();
        let classes = labels.iter().max().map_or(0, |m| m + 1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut train, mut val, mut tst) = (Vec::new(), Vec::new(), Vec::new());
        for c in 0..classes {
            let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
            shuffle(&mut members, &mut rng);
            let n = members.len() as f64;
            let (nt, nv) = ((n * test).round() as usize, (n * valid).round() as usize);
            let nv = nv.min(members.len() - nt);
            tst.extend_from_slice(&members[..nt]);
            val.extend_from_slice(&members[nt..nt + nv]);
            train.extend_from_slice(&members[nt + nv..]);
        }
        // Interleave the classes again, so a part is not sorted by class.
        for part in [&mut train, &mut val, &mut tst] {
            shuffle(part, &mut rng);
        }
        self.assemble(&train, &val, &tst, valid)
    }

    fn assemble(
        &self,
        train: &[usize],
        valid: &[usize],
        test: &[usize],
        vf: f64,
    ) -> Result<Splits<T>> {
        let part = |idx: &[usize], what: &'static str| {
            if idx.is_empty() {
                Err(Error::Empty { what })
            } else {
                self.select(idx)
            }
        };
        Ok(Splits {
            train: part(train, "training part of the split")?,
            valid: if vf > 0.0 {
                Some(part(valid, "validation part of the split")?)
            } else {
                None
            },
            test: part(test, "test part of the split")?,
            rows: SplitRows {
                train: train.to_vec(),
                valid: if vf > 0.0 { valid.to_vec() } else { Vec::new() },
                test: test.to_vec(),
            },
        })
    }
}
