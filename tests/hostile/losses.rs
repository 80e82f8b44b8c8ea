//! Targets a loss cannot mean anything with, and metrics on odd shapes.

use super::*;

#[test]
fn softmax_cross_entropy_on_one_output_is_an_error() {
    let ds = mixact::Dataset::new(DMatrix::zeros(8, 2), DMatrix::from_element(8, 1, 1.0)).unwrap();
    let e = trainer(Loss::SoftmaxCrossEntropy)
        .fit(&mut linear_net(2, 1), &ds)
        .unwrap_err();
    assert_eq!(
        e,
        Error::LossOutputs {
            loss: "softmax_cross_entropy",
            minimum: 2,
            got: 1
        }
    );
    let e = mixact::evaluate(&mut linear_net(2, 1), &ds, Loss::SoftmaxCrossEntropy).unwrap_err();
    assert!(matches!(e, Error::LossOutputs { .. }));
}

#[test]
fn bce_targets_outside_0_1_are_errors() {
    for bad in [5.0, -3.0] {
        let mut y = DMatrix::zeros(8, 1);
        y[(3, 0)] = bad;
        let ds = mixact::Dataset::new(DMatrix::zeros(8, 2), y).unwrap();
        let e = trainer(Loss::BceWithLogits)
            .fit(&mut linear_net(2, 1), &ds)
            .unwrap_err();
        match e {
            Error::InvalidTarget {
                loss, row, value, ..
            } => {
                assert_eq!((loss, row, value), ("bce_with_logits", 3, bad));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn softmax_targets_that_are_negative_or_do_not_sum_to_one_are_errors() {
    let mut y = mixact::data::one_hot::<f64>(&[0, 1, 0, 1], 2).unwrap();
    y[(2, 0)] = -1.0;
    y[(2, 1)] = 2.0;
    let ds = mixact::Dataset::new(DMatrix::zeros(4, 2), y).unwrap();
    let e = mixact::evaluate(&mut linear_net(2, 2), &ds, Loss::SoftmaxCrossEntropy).unwrap_err();
    assert!(
        matches!(e, Error::InvalidTarget { row: 2, col: 0, .. }),
        "{e:?}"
    );
    let y = DMatrix::from_element(4, 2, 0.3);
    let ds = mixact::Dataset::new(DMatrix::zeros(4, 2), y).unwrap();
    let e = mixact::evaluate(&mut linear_net(2, 2), &ds, Loss::SoftmaxCrossEntropy).unwrap_err();
    assert!(matches!(e, Error::InvalidTarget { row: 0, .. }), "{e:?}");
}

#[test]
fn bce_accuracy_over_one_hot_columns_is_exact_match_per_row() {
    let (mut net, ds) = always_class_zero();
    let m = mixact::evaluate(&mut net, &ds, Loss::BceWithLogits).unwrap();
    assert_eq!(m.accuracy, Some(0.1));
    let out = net.predict(ds.x()).unwrap();
    let per_label = Loss::BceWithLogits.label_accuracy(out.as_view(), ds.y().as_view());
    assert!((per_label.unwrap() - 0.82).abs() < 1e-12);
}

#[test]
fn softmax_accuracy_is_argmax_match_per_row() {
    let (mut net, ds) = always_class_zero();
    let m = mixact::evaluate(&mut net, &ds, Loss::SoftmaxCrossEntropy).unwrap();
    assert_eq!(m.accuracy, Some(0.1));
}

#[test]
fn bce_accuracy_on_one_column_is_threshold_match_per_row() {
    let y = DMatrix::from_fn(10, 1, |i, _| if i == 0 { 1.0 } else { 0.0 });
    let ds = mixact::Dataset::new(DMatrix::zeros(10, 1), y).unwrap();
    let layer = Dense::from_parts(DMatrix::zeros(1, 1), vec![1.0], &[Act::Identity]).unwrap();
    let mut net: Network<Act, f64> = Network::new(vec![layer.into()]).unwrap();
    let m = mixact::evaluate(&mut net, &ds, Loss::BceWithLogits).unwrap();
    assert_eq!(m.accuracy, Some(0.1));
}

#[test]
fn a_confusion_matrix_of_targets_of_the_wrong_width_is_an_error() {
    let (mut net, ds) = always_class_zero();
    let narrow = mixact::Dataset::new(ds.x().clone(), ds.y().columns(0, 4).into_owned()).unwrap();
    let e = mixact::metrics::confusion_matrix(&mut net, &narrow, Loss::SoftmaxCrossEntropy)
        .unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e:?}");
}

#[test]
fn precision_and_recall_of_a_class_out_of_range_are_errors() {
    let cm = mixact::metrics::ConfusionMatrix {
        counts: vec![vec![3, 1], vec![0, 2]],
    };
    for e in [cm.precision(2).unwrap_err(), cm.recall(7).unwrap_err()] {
        assert!(
            matches!(e, Error::LabelOutOfRange { classes: 2, .. }),
            "{e:?}"
        );
    }
    assert_eq!(cm.precision(1).unwrap(), Some(2.0 / 3.0));
    assert_eq!(cm.recall(0).unwrap(), Some(0.75));
}

#[test]
fn precision_of_a_hand_built_ragged_matrix_is_not_a_panic() {
    let cm = mixact::metrics::ConfusionMatrix {
        counts: vec![vec![3], vec![0, 2, 9]],
    };
    assert_eq!(cm.precision(1).unwrap(), Some(1.0));
    assert_eq!(cm.recall(0).unwrap(), Some(1.0));
}
