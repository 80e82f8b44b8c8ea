//! Seeded k-fold cross-validation splits, stratified for classification.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::split::shuffle;
use super::{Dataset, SplitRows, Splits};
use crate::compute::real::Real;
use crate::error::{Error, Result};

/// The k folds of a data set, made one at a time (only the row indices are
/// kept, so even leave-one-out costs one copy of the data per fold in use,
/// not k copies). Fold `i` tests on the `i`-th block of rows and trains on
/// the others; every row is tested exactly once.
///
/// # Example
/// ```
/// use mixact::prelude::*;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let data = mixact::data::two_spirals::<f32, _>(50, 1.5, 0.05, &mut rng)?;
/// let mut tested = 0;
/// for fold in data.kfold_stratified(5, 42)? {
///     let fold = fold?;
///     assert!(fold.valid.is_none());
///     tested += fold.test.len();
/// }
/// assert_eq!(tested, data.len());
/// # Ok::<(), mixact::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Folds<'a, T: Real> {
    data: &'a Dataset<T>,
    /// The rows in dealing order (shuffled; grouped by class when
    /// stratified): position p goes to fold `p % k`.
    order: Vec<usize>,
    k: usize,
    next: usize,
}

impl<T: Real> Folds<'_, T> {
    /// The number of folds.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The rows of fold `i` (test and training rows, each in the order the
    /// rows were dealt to the folds), or `None` for `i >= k`.
    pub fn rows(&self, i: usize) -> Option<SplitRows> {
        if i >= self.k {
            return None;
        }
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (p, &r) in self.order.iter().enumerate() {
            if p % self.k == i {
                test.push(r);
            } else {
                train.push(r);
            }
        }
        Some(SplitRows {
            train,
            valid: Vec::new(),
            test,
        })
    }

    /// Fold `i` as a [`Splits`] without a validation part.
    ///
    /// # Errors
    /// [`Error::Length`] for `i >= k`.
    pub fn get(&self, i: usize) -> Result<Splits<T>> {
        let rows = self.rows(i).ok_or(Error::Length {
            what: "fold index (below the number of folds)",
            expected: self.k,
            got: i,
        })?;
        Ok(Splits {
            train: self.data.select(&rows.train)?,
            valid: None,
            test: self.data.select(&rows.test)?,
            rows,
        })
    }
}

impl<T: Real> Iterator for Folds<'_, T> {
    type Item = Result<Splits<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.k {
            return None;
        }
        self.next += 1;
        Some(self.get(self.next - 1))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.k - self.next;
        (left, Some(left))
    }
}

impl<T: Real> ExactSizeIterator for Folds<'_, T> {}

impl<T: Real> Dataset<T> {
    /// `k` seeded folds of the rows (scikit-learn's `KFold(k, shuffle=True)`):
    /// fold sizes differ by at most one; the same seed gives the same folds.
    ///
    /// # Errors
    /// [`Error::HyperParameter`] unless `2 <= k <= len()`.
    pub fn kfold(&self, k: usize, seed: u64) -> Result<Folds<'_, T>> {
        self.check_folds(k)?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        shuffle(&mut order, &mut ChaCha8Rng::seed_from_u64(seed));
        Ok(Folds {
            data: self,
            order,
            k,
            next: 0,
        })
    }

    /// `k` seeded folds that keep each class's share in every fold (by
    /// [`class_labels`](Self::class_labels); scikit-learn's
    /// `StratifiedKFold(k, shuffle=True)`): each class is shuffled and dealt
    /// round the folds in turn, so a class's count in two folds differs by at
    /// most one. A class with fewer than `k` members is missing from some folds.
    ///
    /// # Errors
    /// As [`kfold`](Self::kfold).
    pub fn kfold_stratified(&self, k: usize, seed: u64) -> Result<Folds<'_, T>> {
        self.check_folds(k)?;
        let labels = self.class_labels();
        let classes = labels.iter().max().map_or(0, |m| m + 1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut order = Vec::with_capacity(self.len());
        for c in 0..classes {
            let start = order.len();
            order.extend((0..labels.len()).filter(|&i| labels[i] == c));
            shuffle(&mut order[start..], &mut rng);
        }
        Ok(Folds {
            data: self,
            order,
            k,
            next: 0,
        })
    }

    fn check_folds(&self, k: usize) -> Result<()> {
        if k < 2 || k > self.len() {
            return Err(Error::HyperParameter {
                name: "folds",
                value: k as f64,
                requirement: "from 2 to the number of rows",
            });
        }
        Ok(())
    }
}
