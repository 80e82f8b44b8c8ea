//! Sizes that would wrap or exhaust memory: an error before any allocation.

use super::*;

#[test]
fn dense_layer_whose_weight_count_wraps_is_too_large() {
    let e = Dense::<Act, f32>::new(1 << 62, 4, Act::Relu, &mut rng(1)).unwrap_err();
    assert_eq!(too_large(e), "weights");
}

#[test]
fn dense_layer_of_a_trillion_squared_weights_is_too_large() {
    let e = Dense::<Act, f32>::new(1 << 40, 1 << 40, Act::Relu, &mut rng(1)).unwrap_err();
    assert_eq!(too_large(e), "weights");
}

#[test]
fn dense_layer_of_usize_max_width_is_too_large() {
    let e = Dense::<Act, f32>::new(4, usize::MAX, Act::Relu, &mut rng(1)).unwrap_err();
    assert_eq!(too_large(e), "weights");
    let e = Dense::<Act, f32>::new(usize::MAX, usize::MAX, Act::Relu, &mut rng(1)).unwrap_err();
    assert_eq!(too_large(e), "weights");
}

#[test]
fn branches_whose_widths_overflow_are_too_large() {
    let e = Dense::<Act, f32>::branches(2, &[(usize::MAX, Act::Relu), (2, Act::Tanh)], &mut rng(1))
        .unwrap_err();
    assert_eq!(too_large(e), "branch widths");
}

#[test]
fn slope_layer_whose_weight_count_wraps_is_too_large() {
    let e = Slope::<Act, f32>::new(1 << 62, 4, Act::Tanh, &mut rng(1)).unwrap_err();
    assert_eq!(too_large(e), "weights");
}

#[test]
fn mixture_layer_whose_weight_count_wraps_is_too_large() {
    let e = Mixture::<Act, f32>::new(1 << 62, 4, &[Act::Relu, Act::Sin], &mut rng(1)).unwrap_err();
    assert_eq!(too_large(e), "weights");
}

#[test]
fn one_hot_with_a_class_count_that_wraps_is_too_large() {
    let e = data::one_hot::<f32>(&[0, 1, 2], (1 << 62) + 1).unwrap_err();
    assert_eq!(too_large(e), "one-hot targets");
}

#[test]
fn classification_data_with_a_huge_class_count_is_too_large() {
    let e = mixact::Dataset::<f32>::classification(DMatrix::zeros(3, 2), &[0, 1, 2], (1 << 62) + 1)
        .unwrap_err();
    assert_eq!(too_large(e), "one-hot targets");
}

#[test]
fn masks_of_huge_width_are_too_large() {
    assert_eq!(
        too_large(mask::pattern(&[Act::Relu], 1 << 40).unwrap_err()),
        "mask width"
    );
    assert_eq!(
        too_large(mask::proportions(&[(Act::Relu, 1.0)], usize::MAX).unwrap_err()),
        "mask width"
    );
    assert_eq!(
        too_large(mask::random(&[(Act::Relu, 1.0)], usize::MAX, &mut rng(1)).unwrap_err()),
        "mask width"
    );
}

#[test]
fn generators_with_huge_sample_counts_are_too_large() {
    let mut r = rng(1);
    assert!(matches!(
        data::two_spirals::<f32, _>(1 << 62, 1.0, 0.0, &mut r),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        data::checkerboard::<f32, _>(1 << 63, 4, &mut r),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        data::regression_1d::<f32, _>(Target1d::Abs, usize::MAX, 1.0, 0.0, &mut r),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn checkerboard_with_a_huge_board_size_still_works() {
    let ds = data::checkerboard::<f32, _>(16, 1 << 63, &mut rng(1)).unwrap();
    assert_eq!(ds.len(), 16);
}

#[test]
fn regression_over_a_range_of_1e308_is_a_hyper_parameter_error() {
    let e = data::regression_1d::<f64, _>(Target1d::Abs, 10, 1e308, 0.0, &mut rng(1)).unwrap_err();
    assert!(
        matches!(e, Error::HyperParameter { name: "range", .. }),
        "{e:?}"
    );
}

#[test]
fn generators_that_overflow_report_non_finite_data() {
    let mut r = rng(1);
    let e = data::two_spirals::<f32, _>(10, 1e308, 0.0, &mut r).unwrap_err();
    assert!(matches!(e, Error::NonFiniteData { .. }), "{e:?}");
    let e = data::two_spirals::<f32, _>(10, 1.0, 1e300, &mut r).unwrap_err();
    assert!(matches!(e, Error::NonFiniteData { .. }), "{e:?}");
    let e = data::regression_1d::<f32, _>(Target1d::Abs, 10, 1.0, 1e300, &mut r).unwrap_err();
    assert!(matches!(e, Error::NonFiniteData { .. }), "{e:?}");
}
