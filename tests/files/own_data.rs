//! Your own data: splits (plain and stratified, with their rows), scaling
//! fitted on training data, CSV loaders for regression and classification,
//! and data sets written to CSV and read back.

#![cfg(feature = "io")]

use mixact::data::{self, Scaler};
use mixact::prelude::*;
use mixact::Error;

fn labelled(n: usize, classes: usize) -> Dataset<f64> {
    let labels: Vec<usize> = (0..n).map(|i| (i * 7) % classes).collect();
    let x = DMatrix::from_fn(n, 2, |i, j| (i * (j + 1)) as f64 * 0.01);
    Dataset::classification(x, &labels, classes).unwrap()
}

#[test]
fn splits_have_the_asked_proportions_and_repeat_for_a_seed() {
    let ds = labelled(200, 4);
    let s = ds.split(0.2, 0.1, 3).unwrap();
    assert_eq!(
        (s.train.len(), s.valid.as_ref().unwrap().len(), s.test.len()),
        (140, 40, 20)
    );
    assert_eq!(ds.split(0.2, 0.1, 3).unwrap(), s);
    assert_ne!(ds.split(0.2, 0.1, 4).unwrap(), s);
}

#[test]
fn stratified_splits_keep_each_class_share() {
    // Classes of 100, 60, 40 samples.
    let labels: Vec<usize> = (0..200)
        .map(|i| {
            if i < 100 {
                0
            } else if i < 160 {
                1
            } else {
                2
            }
        })
        .collect();
    let ds = Dataset::classification(DMatrix::<f64>::zeros(200, 1), &labels, 3).unwrap();
    let s = ds.split_stratified(0.25, 0.25, 9).unwrap();
    let count = |d: &Dataset<f64>, c: usize| d.class_labels().iter().filter(|&&l| l == c).count();
    for (c, total) in [(0, 100), (1, 60), (2, 40)] {
        assert_eq!(count(&s.test, c), total / 4, "class {c} in test");
        assert_eq!(
            count(s.valid.as_ref().unwrap(), c),
            total / 4,
            "class {c} in valid"
        );
    }
}

#[test]
fn split_rows_partition_the_data_and_select_each_part() {
    let ds = labelled(60, 3);
    for stratified in [false, true] {
        let s = if stratified {
            ds.split_stratified(0.2, 0.25, 9).unwrap()
        } else {
            ds.split(0.2, 0.25, 9).unwrap()
        };
        let mut all: Vec<usize> = [&s.rows.train, &s.rows.valid, &s.rows.test]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..60).collect::<Vec<_>>(),
            "each row in exactly one part"
        );
        assert_eq!(ds.select(&s.rows.train).unwrap(), s.train);
        assert_eq!(ds.select(&s.rows.valid).unwrap(), s.valid.clone().unwrap());
        assert_eq!(ds.select(&s.rows.test).unwrap(), s.test);
    }
}

#[test]
fn bad_split_fractions_are_errors() {
    let ds = labelled(10, 2);
    assert!(matches!(
        ds.split(0.5, 0.5, 0),
        Err(Error::HyperParameter { .. })
    ));
    assert!(matches!(
        ds.split(0.0, 0.0, 0),
        Err(Error::HyperParameter { .. })
    ));
    assert!(matches!(ds.split(0.0, 0.01, 0), Err(Error::Empty { .. })));
}

#[test]
fn the_scaler_is_fitted_on_training_data_only() {
    let train = DMatrix::from_fn(100, 2, |i, j| i as f64 + 10.0 * j as f64);
    let test = DMatrix::from_fn(20, 2, |i, _| 1000.0 + i as f64);
    let s = Scaler::standardize(&train);
    let t = s.transform(&train).unwrap();
    let u = s.transform(&test).unwrap();
    for j in 0..2 {
        let mean = t.column(j).mean();
        let var = t.column(j).iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 100.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        // Held-out data keep their distance from the training data: no leakage.
        assert!(u.column(j).mean() > 20.0);
    }
    let m = Scaler::min_max(&train).transform(&train).unwrap();
    assert_eq!((m.min(), m.max()), (0.0, 1.0));
}

#[test]
fn csv_regression_and_explicit_class_counts() {
    let t = data::parse_csv("a,b,y,label\n1,2,3,0\n4,5,6,1\n7,8,9,1\n", "t").unwrap();
    let r = t.regression::<f64>(&["y"], &["label"], None).unwrap();
    assert_eq!(r.x().row(1).iter().copied().collect::<Vec<_>>(), [4.0, 5.0]);
    assert_eq!(
        r.y().column(0).iter().copied().collect::<Vec<_>>(),
        [3.0, 6.0, 9.0]
    );
    let c = t
        .classification_with_classes::<f64>("label", &["y"], 5, None)
        .unwrap();
    assert_eq!(c.y().ncols(), 5);
    assert_eq!(
        t.classification_with_classes::<f64>("label", &[], 1, None)
            .unwrap_err(),
        Error::LabelOutOfRange {
            label: 1,
            classes: 1
        }
    );
}

#[test]
fn a_written_data_set_reads_back_bit_for_bit() {
    let dir = std::env::temp_dir().join(format!("mixact-write-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data.csv");
    let x = DMatrix::from_row_slice(3, 2, &[0.1_f64, -2.5e-300, 1.0 / 3.0, 7.0, 1e300, -0.0]);
    let y = DMatrix::from_row_slice(3, 1, &[0.2_f64, std::f64::consts::PI, -1.0]);
    let ds = Dataset::new(x, y).unwrap();
    ds.write_csv(&path, &["a", "b, quoted"], &["t"]).unwrap();
    let table = data::read_csv(&path).unwrap();
    assert_eq!(table.headers(), vec!["a", "b, quoted", "t"]);
    let back = table.regression::<f64>(&["t"], &[], None).unwrap();
    assert_eq!(back, ds);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writing_csv_with_missing_names_or_a_nan_is_an_error_and_keeps_the_old_file() {
    let dir = std::env::temp_dir().join(format!("mixact-write-csv-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.csv");
    let m = DMatrix::from_row_slice(2, 2, &[1.0_f32, 2.0, 3.0, 4.0]);
    data::write_csv(&path, &["p0", "p1"], &m).unwrap();
    let before = std::fs::read(&path).unwrap();
    let e = data::write_csv(&path, &["p0"], &m).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Length {
                expected: 2,
                got: 1,
                ..
            }
        ),
        "{e}"
    );
    let nan = DMatrix::from_row_slice(1, 2, &[1.0_f32, f32::NAN]);
    let e = data::write_csv(&path, &["p0", "p1"], &nan).unwrap_err();
    assert!(
        matches!(e, Error::NonFiniteData { row: 0, col: 1, .. }),
        "{e}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the earlier file is whole"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
