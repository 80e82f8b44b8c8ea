//! Numbers at the edge of the float range, the run-time settings and threads.

use super::*;

#[test]
#[allow(clippy::excessive_precision)]
fn f64_gelu_erf_matches_the_exact_value_to_rounding() {
    // z · erfc(-z/√2) / 2 to 40 digits (mpmath). The only error left is the
    // rounding of z/√2 to f64, which erfc amplifies by about z²: the bound
    // is 1e-15 · (1 + z²), where the f32-grade erfc of before was off by 2e-8.
    let cases = [
        (1.0, 0.841_344_746_068_542_948_59),
        (-0.5, -0.154_268_769_362_993_448_18),
        (2.5, 2.484_475_836_685_559_662_1),
        (-3.0, -0.004_049_694_094_890_283_58),
        (0.1, 0.053_982_783_727_702_901_364),
        (-6.0, -5.919_525_870_226_188_844_2e-9),
        (8.0, 7.999_999_999_999_995_023_2),
    ];
    for (z, want) in cases {
        let got = mixact::ActivationSet::value::<f64>(Act::GeluErf, z);
        let rel = ((got - want) / want).abs();
        assert!(
            rel <= 1e-15 * (1.0 + z * z),
            "gelu_erf({z}) = {got}, want {want}, rel {rel:e}"
        );
    }
}

#[test]
fn a_scaler_with_mismatched_or_zero_scales_is_an_error_not_a_panic() {
    let x = DMatrix::<f32>::from_element(3, 2, 1.0);
    let short = data::Scaler {
        offset: vec![0.0, 0.0],
        scale: vec![1.0],
    };
    assert!(matches!(short.transform(&x), Err(Error::Length { .. })));
    let zero = data::Scaler {
        offset: vec![0.0, 0.0],
        scale: vec![1.0, 0.0],
    };
    assert!(matches!(
        zero.transform(&x),
        Err(Error::HyperParameter { .. })
    ));
    let overflow = data::Scaler {
        offset: vec![0.0, 0.0],
        scale: vec![1e-300, 1.0],
    };
    assert!(matches!(
        overflow.transform(&x),
        Err(Error::NonFiniteData { .. })
    ));
}

#[test]
fn layer_norm_in_f32_normalises_rows_whose_variance_overflows() {
    let mut ln = LayerNorm::<f32>::new(3).unwrap();
    let x = DMatrix::from_row_slice(2, 3, &[1e20, -1e20, 0.0, 3e38, -3e38, 1e38]);
    Layer::<Act, f32>::forward(&mut ln, x.as_view()).unwrap();
    let y = Layer::<Act, f32>::output(&ln).into_owned();
    let s = 1.5f32.sqrt();
    for (got, want) in y.row(0).iter().zip([s, -s, 0.0]) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
    assert!(y.iter().all(|v| v.is_finite()), "{y}");
    assert!(y[(1, 0)] > 1.0 && y[(1, 1)] < -1.0, "{y}");
}

#[test]
fn standardize_gives_the_true_scale_of_a_column_whose_variance_overflows() {
    let x = DMatrix::from_column_slice(2, 1, &[1e200, -1e200]);
    let s = mixact::data::Scaler::standardize(&x);
    let scale = s.scale[0];
    assert!((scale / 1e200 - 1.0).abs() < 1e-12, "{scale}");
    let z: DMatrix<f64> = s.transform(&x).unwrap();
    assert!(
        (z[0] - 1.0).abs() < 1e-12 && (z[1] + 1.0).abs() < 1e-12,
        "{z}"
    );
}

#[test]
fn unknown_kernel_and_gemm_names_in_the_environment_are_clear_errors() {
    // The kernel cap is read once; read it before the variables change.
    let _ = mixact::settings::kernel_path();
    let _ = mixact::settings::gemm_backend();
    std::env::set_var("MIXACT_KERNELS", "basline");
    let kernels = mixact::settings::kernels_from_env();
    std::env::set_var("MIXACT_GEMM", "fear");
    let gemm = mixact::settings::gemm_from_env();
    std::env::remove_var("MIXACT_KERNELS");
    std::env::remove_var("MIXACT_GEMM");
    for (e, name) in [
        (kernels.unwrap_err(), "basline"),
        (gemm.unwrap_err(), "fear"),
    ] {
        assert!(matches!(e, Error::Format { .. }), "{e:?}");
        assert!(e.to_string().contains(name), "{e}");
    }
}

#[test]
fn eight_threads_predicting_a_few_rows_allocate_a_few_rows_of_memory() {
    // Container limits on address space made the process abort when each
    // call reserved a large product buffer; a small batch reserves little.
    let mut r = rng(3);
    let net: Network<Act> = Network::new(vec![
        Dense::new(130, 130, Act::Relu, &mut r).unwrap().into(),
        Dense::new(130, 130, Act::Tanh, &mut r).unwrap().into(),
        Dense::new(130, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let x = DMatrix::from_fn(300, 130, |i, j| ((i * 7 + j) % 13) as f32 / 13.0);
    let want = net.predict(&x).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| net.predict(&x))).collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), want);
        }
    });
}
