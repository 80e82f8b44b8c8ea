//! Bad input returns the right error and never panics.

use crate::common;

use common::rng;
use mixact::{
    data, mask, Act, Adam, Concat, Dataset, Dense, Error, FitConfig, Layer, Loss, Network, Sgd,
    Trainer,
};
use nalgebra::DMatrix;

fn net() -> Network<Act, f64> {
    let mut r = rng(1);
    Network::new(vec![
        Dense::new(2, 4, Act::Relu, &mut r).unwrap().into(),
        Dense::new(4, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

#[test]
fn zero_width_layers_are_rejected() {
    let mut r = rng(1);
    assert_eq!(
        Dense::<Act, f32>::new(0, 3, Act::Relu, &mut r).unwrap_err(),
        Error::ZeroWidth { what: "inputs" }
    );
    assert_eq!(
        Dense::<Act, f32>::new(3, 0, Act::Relu, &mut r).unwrap_err(),
        Error::ZeroWidth { what: "outputs" }
    );
    assert_eq!(
        Dense::<Act, f32>::branches(3, &[(2, Act::Relu), (0, Act::Tanh)], &mut r).unwrap_err(),
        Error::ZeroWidth {
            what: "branch width"
        }
    );
}

#[test]
fn empty_masks_branches_patterns_and_layer_lists_are_rejected() {
    let mut r = rng(1);
    assert_eq!(
        Dense::<Act, f32>::per_neuron(3, &[], &mut r).unwrap_err(),
        Error::Empty {
            what: "activation mask"
        }
    );
    assert_eq!(
        Dense::<Act, f32>::branches(3, &[], &mut r).unwrap_err(),
        Error::Empty { what: "branches" }
    );
    assert_eq!(
        mask::pattern::<Act>(&[], 4).unwrap_err(),
        Error::Empty { what: "pattern" }
    );
    assert_eq!(
        Network::<Act, f32>::new(vec![]).unwrap_err(),
        Error::Empty { what: "layers" }
    );
    assert_eq!(
        Concat::<Act, f32>::new(vec![]).unwrap_err(),
        Error::Empty { what: "branches" }
    );
}

#[test]
fn from_parts_rejects_mask_and_bias_of_the_wrong_length() {
    let w = DMatrix::<f32>::zeros(3, 4);
    assert_eq!(
        Dense::from_parts(w.clone(), vec![0.0; 4], &[Act::Relu; 3]).unwrap_err(),
        Error::Length {
            what: "activation mask",
            expected: 4,
            got: 3
        }
    );
    assert_eq!(
        Dense::from_parts(w, vec![0.0; 5], &[Act::Relu; 4]).unwrap_err(),
        Error::Length {
            what: "bias",
            expected: 4,
            got: 5
        }
    );
}

#[test]
fn mismatched_layer_widths_name_the_layer() {
    let mut r = rng(1);
    let err = Network::<Act, f32>::new(vec![
        Dense::new(2, 4, Act::Relu, &mut r).unwrap().into(),
        Dense::new(5, 1, Act::Relu, &mut r).unwrap().into(),
    ])
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Shape {
                layer: Some(1),
                expected_cols: Some(4),
                got_cols: 5,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "layer 1: layer input (previous layer's output) has shape 0 x 5, expected any x 4"
    );
}

#[test]
fn wrong_input_width_names_layer_and_shapes() {
    let err = net().predict(&DMatrix::zeros(3, 5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0: input has shape 3 x 5, expected any x 2"
    );
}

#[test]
fn empty_batch_is_rejected() {
    let err = net().predict(&DMatrix::zeros(0, 2)).unwrap_err();
    assert_eq!(err, Error::ZeroWidth { what: "batch" });
}

#[test]
fn backward_before_forward_is_an_error() {
    let mut l = Dense::<Act, f64>::new(2, 3, Act::Tanh, &mut rng(1)).unwrap();
    let (x, dy) = (DMatrix::zeros(4, 2), DMatrix::zeros(4, 3));
    assert_eq!(
        l.backward(x.as_view(), dy.as_view(), true).unwrap_err(),
        Error::BackwardBeforeForward { layer: None }
    );
}

#[test]
fn backward_with_a_gradient_of_the_wrong_shape_is_an_error() {
    let mut l = Dense::<Act, f64>::new(2, 3, Act::Tanh, &mut rng(1)).unwrap();
    let x = DMatrix::zeros(4, 2);
    l.forward(x.as_view()).unwrap();
    let err = l
        .backward(x.as_view(), DMatrix::zeros(4, 2).as_view(), true)
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Shape {
            what: "upstream gradient",
            expected_rows: Some(4),
            expected_cols: Some(3),
            ..
        }
    ));
}

#[test]
fn bad_hyper_parameters_are_rejected() {
    for lr in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
        assert!(matches!(
            Sgd::new(lr).unwrap_err(),
            Error::HyperParameter {
                name: "learning rate",
                ..
            }
        ));
        assert!(matches!(
            Adam::new(lr).unwrap_err(),
            Error::HyperParameter {
                name: "learning rate",
                ..
            }
        ));
    }
    assert!(matches!(
        Sgd::new(0.1)
            .and_then(|o| o.with_momentum(1.0))
            .unwrap_err(),
        Error::HyperParameter {
            name: "momentum",
            ..
        }
    ));
    assert!(matches!(
        Adam::new(0.1)
            .and_then(|o| o.with_betas(0.9, 1.5, 1e-8))
            .unwrap_err(),
        Error::HyperParameter { name: "beta2", .. }
    ));
    assert!(matches!(
        Adam::adamw(0.1, -0.1).unwrap_err(),
        Error::HyperParameter {
            name: "weight decay",
            ..
        }
    ));
    assert!(matches!(
        mask::proportions(&[(Act::Relu, f64::NAN)], 4).unwrap_err(),
        Error::HyperParameter {
            name: "proportion",
            ..
        }
    ));
    assert!(matches!(
        mask::proportions(&[(Act::Relu, 0.0)], 4).unwrap_err(),
        Error::HyperParameter {
            name: "sum of proportions",
            ..
        }
    ));
}

#[test]
fn batch_size_zero_is_rejected() {
    let cfg = FitConfig {
        batch_size: 0,
        ..FitConfig::default()
    };
    assert_eq!(
        Trainer::new(Loss::Mse, Sgd::new(0.1_f64).unwrap(), cfg)
            .err()
            .unwrap(),
        Error::ZeroWidth { what: "batch size" }
    );
}

#[test]
fn data_sets_are_validated() {
    assert_eq!(
        Dataset::<f64>::new(DMatrix::zeros(0, 2), DMatrix::zeros(0, 1)).unwrap_err(),
        Error::Empty { what: "data set" }
    );
    assert!(matches!(
        Dataset::<f64>::new(DMatrix::zeros(3, 2), DMatrix::zeros(4, 1)).unwrap_err(),
        Error::Shape {
            what: "targets",
            expected_rows: Some(3),
            got_rows: 4,
            ..
        }
    ));
    let mut x = DMatrix::<f64>::zeros(3, 2);
    x[(2, 1)] = f64::NAN;
    assert_eq!(
        Dataset::new(x, DMatrix::zeros(3, 1)).unwrap_err(),
        Error::NonFiniteData {
            what: "inputs",
            row: 2,
            col: 1
        }
    );
    assert_eq!(
        Dataset::<f64>::classification(DMatrix::zeros(2, 2), &[0, 3], 3).unwrap_err(),
        Error::LabelOutOfRange {
            label: 3,
            classes: 3
        }
    );
}

#[test]
fn fitting_data_of_the_wrong_width_is_an_error() {
    let ds = Dataset::new(DMatrix::<f64>::zeros(4, 3), DMatrix::zeros(4, 1)).unwrap();
    let mut t = Trainer::new(Loss::Mse, Sgd::new(0.1).unwrap(), FitConfig::default()).unwrap();
    assert!(matches!(
        t.fit(&mut net(), &ds).unwrap_err(),
        Error::Shape { what: "inputs", .. }
    ));
    let ds = Dataset::new(DMatrix::<f64>::zeros(4, 2), DMatrix::zeros(4, 2)).unwrap();
    assert!(matches!(
        t.fit(&mut net(), &ds).unwrap_err(),
        Error::Shape {
            what: "targets",
            ..
        }
    ));
}

#[test]
fn divergence_stops_training_and_keeps_the_last_good_parameters() {
    let ds = Dataset::new(
        DMatrix::from_element(4, 2, 1e30_f64),
        DMatrix::from_element(4, 1, 1e30),
    )
    .unwrap();
    let mut n = net();
    let mut t = Trainer::new(Loss::Mse, Sgd::new(10.0).unwrap(), FitConfig::default()).unwrap();
    let err = t.fit(&mut n, &ds).unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }), "{err}");
    let mut after = Vec::new();
    n.visit_params(&mut |p| after.extend_from_slice(p.value));
    assert!(
        after.iter().all(|v| v.is_finite()),
        "no NaN-poisoned parameters"
    );
}

#[test]
fn generators_validate_their_arguments() {
    assert!(data::two_spirals::<f64, _>(0, 1.0, 0.0, &mut rng(1)).is_err());
    assert!(data::two_spirals::<f64, _>(10, f64::NAN, 0.0, &mut rng(1)).is_err());
    assert!(data::two_spirals::<f64, _>(10, 1.0, -1.0, &mut rng(1)).is_err());
}

/// sqrt-shaped: finite everywhere, with an infinite slope at 0.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SignedSqrt;

impl mixact::ActivationSet for SignedSqrt {
    fn value<T: mixact::Real>(self, z: T) -> T {
        if z >= T::zero() {
            z.sqrt()
        } else {
            -(-z).sqrt()
        }
    }
    fn derivative<T: mixact::Real>(self, z: T, _y: T) -> T {
        T::lit(0.5) / z.abs().sqrt()
    }
    fn name(self) -> &'static str {
        "signed_sqrt"
    }
    fn from_name(name: &str) -> Option<Self> {
        (name == "signed_sqrt").then_some(SignedSqrt)
    }
}

#[test]
fn a_non_finite_gradient_under_a_finite_loss_is_named_and_the_step_undone() {
    let mut r = rng(4);
    let mut n: Network<SignedSqrt, f64> = Network::new(vec![
        Dense::new(2, 3, SignedSqrt, &mut r).unwrap().into(),
        Dense::new(3, 1, SignedSqrt, &mut r).unwrap().into(),
    ])
    .unwrap();
    // Zero inputs and zero biases put every hidden neuron at the infinite
    // slope; the output and the loss stay finite.
    let x = DMatrix::<f64>::zeros(4, 2);
    let y = DMatrix::<f64>::from_element(4, 1, 1.0);
    let mut before = Vec::new();
    n.visit_params(&mut |p| before.extend_from_slice(p.value));
    let mut t = Trainer::new(Loss::Mse, Adam::new(0.01).unwrap(), FitConfig::default()).unwrap();
    let err = t.step(&mut n, x.as_view(), y.as_view()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Diverged {
                cause: mixact::Divergence::NonFiniteGradient,
                layer: Some(0),
                ..
            }
        ),
        "{err}"
    );
    let mut after = Vec::new();
    n.visit_params(&mut |p| after.extend_from_slice(p.value));
    assert_eq!(before, after, "the step is undone bit for bit");
}
