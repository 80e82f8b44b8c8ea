//! PSNR, the measure of signal and image fits: pinned values and clear errors.

use mixact::metrics::psnr;
use mixact::Error;
use nalgebra::DMatrix;

#[test]
fn psnr_is_ten_log10_of_peak_squared_over_the_mean_squared_error() {
    // errors 0.1, -0.1, 0.2, 0 -> MSE = (0.01 + 0.01 + 0.04 + 0) / 4 = 0.015
    let target = DMatrix::from_row_slice(2, 2, &[0.0f64, 1.0, 0.5, -0.5]);
    let pred = DMatrix::from_row_slice(2, 2, &[0.1f64, 0.9, 0.7, -0.5]);
    let want = 10.0 * (4.0f64 / 0.015).log10(); // peak 2: signals in [-1, 1]; 24.259687 dB
    let got = psnr(&pred, &target, 2.0).unwrap();
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert!((got - 24.259_687_322_722_81).abs() < 1e-9);
}

#[test]
fn an_exact_fit_has_infinite_psnr() {
    let t = DMatrix::from_element(3, 1, 0.25f32);
    assert_eq!(psnr(&t, &t, 1.0).unwrap(), f64::INFINITY);
}

#[test]
fn psnr_of_different_shapes_bad_peaks_empty_or_non_finite_data_is_an_error() {
    let a = DMatrix::from_element(3, 1, 0.0f32);
    let b = DMatrix::from_element(1, 3, 0.0f32);
    assert!(matches!(psnr(&a, &b, 1.0), Err(Error::Shape { .. })));
    for peak in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            psnr(&a, &a, peak),
            Err(Error::HyperParameter { .. })
        ));
    }
    let empty = DMatrix::<f32>::zeros(0, 1);
    assert!(matches!(
        psnr(&empty, &empty, 1.0),
        Err(Error::Empty { .. })
    ));
    let mut nan = a.clone();
    nan[(2, 0)] = f32::NAN;
    match psnr(&nan, &a, 1.0) {
        Err(Error::NonFiniteData { what, row, col }) => {
            assert_eq!((what, row, col), ("predictions", 2, 0))
        }
        other => panic!("{other:?}"),
    }
}
