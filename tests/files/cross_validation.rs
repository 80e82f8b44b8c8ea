//! k-fold splits and their summary: every row tested once, classes kept in
//! proportion, the same seed the same folds, bad k refused.

use mixact::data::Dataset;
use mixact::metrics::{FoldSummary, MeanSd, Metrics};
use mixact::Error;
use nalgebra::DMatrix;

/// `n` rows whose input is the row number, and a class: 1 for every third row.
fn numbered(n: usize) -> Dataset<f32> {
    Dataset::new(
        DMatrix::from_fn(n, 1, |i, _| i as f32),
        DMatrix::from_fn(n, 1, |i, _| if i % 3 == 0 { 1.0 } else { 0.0 }),
    )
    .unwrap()
}

#[test]
fn every_row_is_tested_exactly_once_and_trains_in_the_other_folds() {
    let data = numbered(23);
    let folds = data.kfold(5, 1).unwrap();
    assert_eq!(folds.len(), 5);
    let mut tested = vec![0; 23];
    for fold in folds {
        let fold = fold.unwrap();
        assert!(fold.valid.is_none());
        assert_eq!(fold.train.len() + fold.test.len(), 23);
        assert!((4..=5).contains(&fold.test.len()), "{}", fold.test.len());
        for (k, &r) in fold.rows.test.iter().enumerate() {
            tested[r] += 1;
            // The rows are what the indices say they are.
            assert_eq!(fold.test.x()[(k, 0)], r as f32);
        }
        assert!(fold.rows.train.iter().all(|r| !fold.rows.test.contains(r)));
    }
    assert!(tested.iter().all(|&t| t == 1), "{tested:?}");
}

#[test]
fn stratified_folds_keep_each_class_within_one_row_of_its_share() {
    let data = numbered(30); // 10 of class 1, 20 of class 0
    for fold in data.kfold_stratified(5, 3).unwrap() {
        let fold = fold.unwrap();
        let ones = fold.test.class_labels().iter().filter(|&&c| c == 1).count();
        assert_eq!(ones, 2);
        assert_eq!(fold.test.len(), 6);
    }
}

#[test]
fn the_same_seed_gives_the_same_folds_and_another_seed_others() {
    let data = numbered(40);
    let rows = |seed| {
        let folds = data.kfold(4, seed).unwrap();
        (0..4).map(|i| folds.rows(i).unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(rows(9), rows(9));
    assert_ne!(rows(9), rows(10));
}

#[test]
fn fewer_than_two_folds_or_more_folds_than_rows_are_refused() {
    let data = numbered(5);
    for k in [0, 1, 6, usize::MAX] {
        assert!(
            matches!(data.kfold(k, 0), Err(Error::HyperParameter { .. })),
            "k = {k}"
        );
        assert!(data.kfold_stratified(k, 0).is_err(), "k = {k}");
    }
    // Leave-one-out is allowed, and a fold past the last is an error, not a panic.
    let folds = data.kfold(5, 0).unwrap();
    assert!(folds.get(4).is_ok());
    assert!(folds.get(5).is_err());
    assert!(folds.rows(5).is_none());
}

#[test]
fn the_fold_summary_is_the_mean_and_sample_sd_of_each_metric() {
    let m = |loss, acc| Metrics {
        loss,
        accuracy: Some(acc),
        rmse: None,
        mae: None,
        r2: None,
    };
    let s = FoldSummary::of(&[m(1.0, 0.5), m(2.0, 0.7), m(3.0, 0.9)]).unwrap();
    assert_eq!(s.folds, 3);
    // mean 2, sample variance ((1 + 0 + 1) / 2) = 1.
    assert_eq!(
        s.loss,
        MeanSd {
            mean: 2.0,
            sd: 1.0,
            n: 3
        }
    );
    let acc = s.accuracy.unwrap();
    assert!((acc.mean - 0.7).abs() < 1e-12 && (acc.sd - 0.2).abs() < 1e-12);
    assert!(s.rmse.is_none());
    assert_eq!(
        s.to_string(),
        "loss 2.0000 ± 1.0000, accuracy 0.7000 ± 0.2000 (3 folds)"
    );
    assert!(matches!(FoldSummary::of(&[]), Err(Error::Empty { .. })));
}
