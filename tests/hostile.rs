//! The hostile cases of the trust review, one test each: sizes that would
//! wrap or exhaust memory, targets a loss cannot mean anything with, training
//! that blows up, optimiser state that could go stale, and files and CSV text
//! an attacker (or an accident) could produce. Each must give a clear error
//! (or a correct result), never a panic, an abort or a silently wrong number.
//! CI runs this file in debug (overflow checks on) *and* in release (wrapping
//! arithmetic, where the original crashes were).

#![cfg(feature = "io")]

mod common;

use common::rng;
use mixact::data::{self, CsvOptions, Target1d};
use mixact::io::ModelInfo;
use mixact::{
    mask, Act, Adam, Cosine, Dense, Divergence, EarlyStopping, Error, FitConfig, Layer, LayerNorm,
    Loss, Mixture, Monitor, Network, Optimizer, ReduceOnPlateau, Sgd, Slope, StepDecay, Trainer,
};
use nalgebra::DMatrix;

fn too_large(e: Error) -> &'static str {
    match e {
        Error::TooLarge { what, .. } => what,
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

// ---- sizes ---------------------------------------------------------------

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
fn csv_label_of_2_pow_62_is_an_error_not_a_crash() {
    let table = data::parse_csv("a,label\n1,0\n2,4611686018427387904\n", "t").unwrap();
    let e = table
        .classification::<f32>("label", &[], 1.0, None)
        .unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { .. } | Error::Format { .. }),
        "{e:?}"
    );
}

#[test]
fn csv_label_of_1e10_is_too_large_instead_of_a_40_gb_allocation() {
    let table = data::parse_csv("a,label\n1,0\n2,1e10\n", "t").unwrap();
    let e = table
        .classification::<f32>("label", &[], 1.0, None)
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

// ---- losses and metrics --------------------------------------------------

fn linear_net(inputs: usize, outputs: usize) -> Network<Act, f64> {
    Network::new(vec![Dense::new(
        inputs,
        outputs,
        Act::Identity,
        &mut rng(2),
    )
    .unwrap()
    .into()])
    .unwrap()
}

fn trainer(loss: Loss) -> Trainer<f64, Sgd<f64>> {
    let config = FitConfig {
        epochs: 2,
        batch_size: 4,
        seed: 1,
        shuffle: true,
    };
    Trainer::new(loss, Sgd::new(0.1).unwrap(), config).unwrap()
}

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

/// Ten classes, ten samples each; a network that always answers class 0.
fn always_class_zero() -> (Network<Act, f64>, mixact::Dataset<f64>) {
    let labels: Vec<usize> = (0..100).map(|i| i % 10).collect();
    let ds = mixact::Dataset::classification(DMatrix::zeros(100, 3), &labels, 10).unwrap();
    let mut bias = vec![-1.0; 10];
    bias[0] = 1.0;
    let layer = Dense::from_parts(DMatrix::zeros(3, 10), bias, &[Act::Identity; 10]).unwrap();
    (Network::new(vec![layer.into()]).unwrap(), ds)
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

// ---- divergence guard ----------------------------------------------------

fn spiral_net() -> Network<Act> {
    let mut r = rng(5);
    Network::new(vec![
        Dense::per_neuron(
            2,
            &mask::pattern(&[Act::Relu, Act::Tanh], 16).unwrap(),
            &mut r,
        )
        .unwrap()
        .into(),
        Dense::new(16, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

fn all_parameters_finite(net: &mut Network<Act>) -> bool {
    let mut ok = true;
    net.visit_params(&mut |p| ok &= p.value.iter().all(|v| v.is_finite()));
    ok
}

fn assert_diverges_cleanly<O: Optimizer<f32>>(optimizer: O, lr: f32) {
    let ds = data::two_spirals::<f32, _>(64, 1.5, 0.02, &mut rng(3)).unwrap();
    let mut net = spiral_net();
    let config = FitConfig {
        epochs: 50,
        batch_size: 16,
        seed: 1,
        shuffle: true,
    };
    let mut t = Trainer::new(Loss::BceWithLogits, optimizer, config).unwrap();
    let e = t.fit(&mut net, &ds).unwrap_err();
    assert!(matches!(e, Error::Diverged { .. }), "lr {lr}: {e:?}");
    assert!(all_parameters_finite(&mut net), "lr {lr}: {e}");
    let out = net.predict(ds.x()).unwrap();
    assert!(out.iter().all(|v| v.is_finite()), "lr {lr}: {e}");
}

#[test]
fn sgd_at_absurd_learning_rates_diverges_with_finite_parameters() {
    for lr in [1e10, 1e30, 3e38] {
        assert_diverges_cleanly(Sgd::new(lr).unwrap(), lr);
    }
}

#[test]
fn adam_at_absurd_learning_rates_diverges_with_finite_parameters() {
    for lr in [1e10, 1e30, 3e38] {
        assert_diverges_cleanly(Adam::new(lr).unwrap(), lr);
    }
}

#[test]
fn adamw_at_absurd_learning_rates_diverges_with_finite_parameters() {
    for lr in [1e10, 1e30, 3e38] {
        assert_diverges_cleanly(Adam::adamw(lr, 0.01).unwrap(), lr);
    }
}

#[test]
fn a_loss_that_explodes_restores_the_parameters_from_before_the_update() {
    let ds = data::two_spirals::<f32, _>(64, 1.5, 0.02, &mut rng(3)).unwrap();
    let mut net = spiral_net();
    let before = net.predict(ds.x()).unwrap();
    let config = FitConfig {
        epochs: 5,
        batch_size: 128,
        seed: 1,
        shuffle: false,
    };
    let mut t = Trainer::new(Loss::BceWithLogits, Sgd::new(1e10).unwrap(), config).unwrap();
    let e = t.fit(&mut net, &ds).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Diverged {
                epoch: 1,
                step: 0,
                cause: Divergence::LossGrowth,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(net.predict(ds.x()).unwrap(), before);
}

#[test]
fn the_divergence_factor_is_validated() {
    let t = trainer(Loss::Mse);
    assert!(matches!(
        t.with_divergence_factor(0.5),
        Err(Error::HyperParameter { .. })
    ));
}

// ---- optimiser state bound to tensors ------------------------------------

fn xy() -> (DMatrix<f32>, DMatrix<f32>) {
    let ds = data::two_spirals::<f32, _>(16, 1.0, 0.0, &mut rng(4)).unwrap();
    (ds.x().clone(), ds.y().clone())
}

fn mixture_net() -> Network<Act> {
    let mut r = rng(6);
    Network::new(vec![
        Mixture::new(2, 8, &[Act::Relu, Act::Tanh, Act::Sin], &mut r)
            .unwrap()
            .into(),
        Dense::new(8, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

fn adam_trainer() -> Trainer<f32, Adam<f32>> {
    Trainer::new(
        Loss::BceWithLogits,
        Adam::new(0.01).unwrap(),
        FitConfig::default(),
    )
    .unwrap()
}

fn weights(net: &mut Network<Act>, layer: usize) -> Vec<f32> {
    let mut out = Vec::new();
    net.layers_mut()[layer].visit_params(&mut |p| out.extend_from_slice(p.value));
    out
}

#[test]
fn after_hardening_the_changed_layer_starts_with_fresh_optimiser_state() {
    let (x, y) = xy();
    let mut net = mixture_net();
    let mut reused = adam_trainer();
    for _ in 0..5 {
        reused.step(&mut net, x.as_view(), y.as_view()).unwrap();
    }
    let mut hard = net.hardened();
    let mut copy: Network<Act> =
        Network::from_model_bytes(&hard.to_model_bytes().unwrap()).unwrap();
    let mut fresh = adam_trainer();
    reused.step(&mut hard, x.as_view(), y.as_view()).unwrap();
    fresh.step(&mut copy, x.as_view(), y.as_view()).unwrap();
    // The hardened layer is new: same update as with a fresh Adam.
    assert_eq!(weights(&mut hard, 0), weights(&mut copy, 0));
    // The output layer is the same tensor: its moments carried over.
    assert_ne!(weights(&mut hard, 1), weights(&mut copy, 1));
}

#[test]
fn an_optimiser_reused_on_another_network_starts_afresh() {
    let (x, y) = xy();
    let mut first = spiral_net();
    let mut reused = adam_trainer();
    for _ in 0..5 {
        reused.step(&mut first, x.as_view(), y.as_view()).unwrap();
    }
    let mut a = spiral_net();
    let mut b = spiral_net();
    let mut fresh = adam_trainer();
    for _ in 0..3 {
        reused.step(&mut a, x.as_view(), y.as_view()).unwrap();
        fresh.step(&mut b, x.as_view(), y.as_view()).unwrap();
    }
    assert_eq!(a.predict(&x).unwrap(), b.predict(&x).unwrap());
}

// ---- CSV -----------------------------------------------------------------

#[test]
fn csv_byte_order_mark_is_not_part_of_the_first_column_name() {
    let t = data::parse_csv("\u{feff}a,b\n1,2\n", "t").unwrap();
    assert_eq!(t.headers(), ["a", "b"]);
}

#[test]
fn csv_lines_may_end_in_cr_crlf_or_lf() {
    for text in ["a,b\r1,2\r3,4\r", "a,b\r\n1,2\r\n3,4\r\n", "a,b\n1,2\n3,4"] {
        let t = data::parse_csv(text, "t").unwrap();
        assert_eq!(t.n_rows(), 2, "{text:?}");
        assert_eq!(t.row(1), [3.0, 4.0]);
    }
}

#[test]
fn csv_error_line_numbers_count_crlf_as_one_line_end() {
    let e = data::parse_csv("a,b\r\n1,2\r\n3,x\r\n", "t").unwrap_err();
    assert!(
        matches!(e, Error::Format { ref location, .. } if location == "t:3"),
        "{e:?}"
    );
}

#[test]
fn csv_with_only_a_header_reports_no_data_rows() {
    let e = data::parse_csv("a,b,label\n", "t").unwrap_err();
    assert!(e.to_string().contains("no data rows"), "{e}");
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mixact-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn a_gzip_bomb_beyond_the_size_limit_is_too_large() {
    let dir = temp_dir("bomb");
    let mut text = b"a,b\n".to_vec();
    text.extend(std::iter::repeat_n(b"0,0\n".as_slice(), 1 << 20).flatten());
    let path = dir.join("bomb.csv.gz");
    std::fs::write(&path, gzip(&text)).unwrap();
    let e = data::read_csv_with(
        &path,
        CsvOptions {
            max_bytes: 1 << 20,
            ..CsvOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(too_large(e), "CSV text (bytes after decompression)");
    // Within the limit the same file reads.
    let t = data::read_csv_with(
        &path,
        CsvOptions {
            max_bytes: 8 << 20,
            ..CsvOptions::default()
        },
    )
    .unwrap();
    assert_eq!(t.n_rows(), 1 << 20);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn classes_come_from_the_whole_table_not_the_rows_kept() {
    let t = data::parse_csv("x,label,split\n1,0,0\n2,1,0\n3,2,1\n", "t").unwrap();
    let split = t.column("split").unwrap();
    let train = t
        .classification::<f32>("label", &["split"], 1.0, Some(&|r: &[f64]| r[split] == 0.0))
        .unwrap();
    assert_eq!(train.y().ncols(), 3);
}

// ---- files ---------------------------------------------------------------

fn small_net() -> Network<Act> {
    Network::new(vec![Dense::new(2, 3, Act::Sin, &mut rng(9))
        .unwrap()
        .into()])
    .unwrap()
}

fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[test]
fn concurrent_saves_to_one_path_both_succeed_and_leave_one_whole_model() {
    let dir = temp_dir("concurrent");
    let path = dir.join("model.safetensors");
    for _ in 0..50 {
        std::thread::scope(|s| {
            let a = s.spawn(|| small_net().save(&path));
            let b = s.spawn(|| small_net().save(&path));
            a.join().unwrap().unwrap();
            b.join().unwrap().unwrap();
        });
        let _: Network<Act> = Network::load(&path).unwrap();
    }
    assert!(temp_files(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_save_leaves_no_temporary_file() {
    let dir = temp_dir("failed");
    // A directory where the file should go: the final rename fails.
    let path = dir.join("model.safetensors");
    std::fs::create_dir_all(path.join("occupied")).unwrap();
    assert!(matches!(small_net().save(&path), Err(Error::Io { .. })));
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stale_temporary_files_of_killed_saves_are_removed_by_the_next_save() {
    let dir = temp_dir("stale");
    let path = dir.join("model.safetensors");
    let stale = dir.join(".model.safetensors.tmp-1-2-3");
    let recent = dir.join(".model.safetensors.tmp-4-5-6");
    for p in [&stale, &recent] {
        std::fs::write(p, b"half a model").unwrap();
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    small_net().save(&path).unwrap();
    assert!(!stale.exists());
    // A recent one may belong to a save still running: kept.
    assert!(recent.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- command-line pieces -------------------------------------------------

// ---- f64 gelu (erf form) ---------------------------------------------------

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
fn csv_fields_may_be_quoted() {
    let t = data::parse_csv("\"width, cm\",\"label\"\n\"1.5\",0\n2,\"1\"\n", "t").unwrap();
    assert_eq!(t.headers(), ["width, cm", "label"]);
    assert_eq!(t.row(0), [1.5, 0.0]);
    assert_eq!(t.row(1), [2.0, 1.0]);
}

// ---- review: scalers, confusion matrices, manifests ----------------------

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
fn a_model_file_whose_scaler_divides_by_zero_is_refused() {
    use mixact::io::ModelInfo;
    let net = small_net();
    let info = ModelInfo::default().with_scaler(data::Scaler {
        offset: vec![0.0, 0.0],
        scale: vec![1.0, 1.0],
    });
    let mut bytes = net.to_model_bytes_with(&info).unwrap();
    // Same length in the JSON text: the second scale 1.0 -> 0.0.
    let pattern = br#"\"scale\":[1.0,1.0]"#;
    let at = bytes
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("the scaler is in the header");
    bytes[at + pattern.len() - 4] = b'0';
    let e = Network::<Act>::from_model_bytes(&bytes).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Model {
                kind: mixact::ModelErrorKind::Malformed,
                ..
            }
        ),
        "{e:?}"
    );
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
fn a_nan_or_negative_early_stopping_min_delta_is_refused_when_the_rule_is_made() {
    use mixact::{EarlyStopping, Monitor};
    for bad in [f64::NAN, -1e-3, f64::INFINITY] {
        let e = EarlyStopping::new(Monitor::TrainLoss, 2)
            .with_min_delta(bad)
            .unwrap_err();
        assert!(matches!(e, Error::HyperParameter { .. }), "{bad}: {e:?}");
    }
    assert!(EarlyStopping::new(Monitor::TrainLoss, 2)
        .with_min_delta(0.01)
        .is_ok());
}

#[test]
fn an_ensemble_with_a_wrong_number_of_batches_is_an_error_not_a_panic() {
    let mut r = rng(6);
    let members = (0..2)
        .map(|_| {
            let net: mixact::Network<Act> =
                mixact::Network::new(vec![Dense::new(2, 1, Act::Identity, &mut r)
                    .unwrap()
                    .into()])
                .unwrap();
            (
                net,
                Trainer::new(Loss::Mse, Sgd::new(0.1).unwrap(), FitConfig::default()).unwrap(),
            )
        })
        .collect();
    let mut e = mixact::Ensemble::new(members).unwrap();
    let x = DMatrix::<f32>::zeros(4, 2);
    let y = DMatrix::<f32>::zeros(4, 1);
    let mut losses: Vec<mixact::Result<f32>> = vec![Ok(0.0), Ok(0.0)];
    let err = e
        .step(&[(x.as_view(), y.as_view())], &mut losses)
        .unwrap_err();
    assert!(matches!(err, Error::Length { .. }), "{err:?}");
    // A batch of the wrong width is that member's error.
    let wide = DMatrix::<f32>::zeros(4, 3);
    e.step(
        &[(x.as_view(), y.as_view()), (wide.as_view(), y.as_view())],
        &mut losses,
    )
    .unwrap();
    assert!(losses[0].is_ok());
    assert!(matches!(losses[1], Err(Error::Shape { .. })));
}

// ---- Trust II: the surfaces added since the first review --------------------

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

/// A user layer that declares one output column and produces two.
#[derive(Clone)]
struct WrongWidth {
    y: DMatrix<f64>,
    dx: DMatrix<f64>,
}

impl Layer<Act, f64> for WrongWidth {
    fn input_width(&self) -> usize {
        2
    }
    fn output_width(&self) -> usize {
        1
    }
    fn forward(&mut self, x: mixact::extend::MatRef<'_, f64>) -> mixact::Result<()> {
        self.y = DMatrix::zeros(x.nrows(), 2);
        Ok(())
    }
    fn output(&self) -> mixact::extend::MatRef<'_, f64> {
        self.y.as_view()
    }
    fn backward(
        &mut self,
        x: mixact::extend::MatRef<'_, f64>,
        _: mixact::extend::MatRef<'_, f64>,
        _: bool,
    ) -> mixact::Result<()> {
        self.dx = DMatrix::zeros(x.nrows(), 2);
        Ok(())
    }
    fn input_grad(&self) -> mixact::extend::MatRef<'_, f64> {
        self.dx.as_view()
    }
    fn visit_params(&mut self, _: &mut dyn FnMut(mixact::extend::Param<'_, f64>)) {}
    fn param_count(&self) -> usize {
        0
    }
    fn describe(&self) -> String {
        "wrong width".into()
    }
}

#[test]
fn predict_through_a_layer_whose_output_is_not_the_declared_shape_is_a_shape_error() {
    let wrong = WrongWidth {
        y: DMatrix::zeros(0, 1),
        dx: DMatrix::zeros(0, 2),
    };
    let mut net = Network::new(vec![
        Dense::new(2, 2, Act::Tanh, &mut rng(1)).unwrap().into(),
        Box::new(wrong) as mixact::extend::BoxedLayer<Act, f64>,
    ])
    .unwrap();
    let x = DMatrix::from_element(3, 2, 0.5);
    for e in [
        net.predict(&x).unwrap_err(),
        net.predict_in_batches(&x, 2).unwrap_err(),
        net.predict_mut(&x).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Shape { .. }), "{e:?}");
        assert!(e.to_string().contains("layer 1"), "{e}");
    }
}

#[test]
fn duplicate_csv_column_names_are_an_error_naming_them() {
    let e = data::parse_csv("y,a,y\n1,2,3\n", "t").unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
    assert!(e.to_string().contains("\"y\""), "{e}");
    let e = data::CsvTable::new(
        vec!["y".into(), "a".into(), "y".into()],
        &[vec![1.0, 2.0, 3.0]],
    )
    .unwrap_err();
    assert!(e.to_string().contains("\"y\""), "{e}");
}

fn regression_data(n: usize) -> mixact::Dataset<f64> {
    let x = DMatrix::from_fn(n, 2, |i, j| (i * 3 + j) as f64 / n as f64 - 0.5);
    let y = DMatrix::from_fn(n, 1, |i, _| x[(i, 0)] - 2.0 * x[(i, 1)]);
    mixact::Dataset::new(x, y).unwrap()
}

fn incompatible(e: Error) -> String {
    match e {
        Error::Incompatible { reason, .. } => reason,
        other => panic!("expected Incompatible, got {other:?}"),
    }
}

#[test]
fn early_stopping_on_validation_loss_without_a_validation_set_is_refused_at_fit() {
    let mut t = trainer(Loss::Mse).with_early_stopping(EarlyStopping::new(Monitor::ValidLoss, 2));
    let e = t
        .fit(&mut linear_net(2, 1), &regression_data(8))
        .unwrap_err();
    assert!(incompatible(e).contains("validation set"));
}

#[test]
fn early_stopping_on_accuracy_under_mse_is_refused_at_fit() {
    let mut t = trainer(Loss::Mse)
        .with_validation(regression_data(4))
        .with_early_stopping(EarlyStopping::new(Monitor::ValidAccuracy, 2));
    let e = t
        .fit(&mut linear_net(2, 1), &regression_data(8))
        .unwrap_err();
    assert!(incompatible(e).contains("accuracy"));
}

#[test]
fn early_stopping_on_rmse_under_bce_is_refused_at_fit() {
    let ds = mixact::Dataset::new(DMatrix::zeros(8, 2), DMatrix::from_element(8, 1, 1.0)).unwrap();
    let mut t = trainer(Loss::BceWithLogits)
        .with_validation(ds.clone())
        .with_early_stopping(EarlyStopping::new(Monitor::ValidRmse, 2));
    let e = t.fit(&mut linear_net(2, 1), &ds).unwrap_err();
    assert!(incompatible(e).contains("RMSE"));
}

#[test]
fn a_trainer_with_early_stopping_reused_on_another_network_keeps_that_networks_weights() {
    let data = regression_data(16);
    let mut t = trainer(Loss::Mse)
        .with_validation(regression_data(8))
        .with_early_stopping(EarlyStopping::new(Monitor::ValidLoss, 50));
    let mut first = linear_net(2, 1);
    t.fit(&mut first, &data).unwrap();
    let mut second = Network::new(vec![Dense::new(2, 1, Act::Identity, &mut rng(99))
        .unwrap()
        .into()])
    .unwrap();
    let mut before = Vec::new();
    second.visit_params(&mut |p| before.extend_from_slice(p.value));
    let history = t.fit(&mut second, &data).unwrap();
    assert_eq!(history.len(), 2, "the second fit ran its own epochs");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    first.visit_params(&mut |p| a.extend_from_slice(p.value));
    second.visit_params(&mut |p| b.extend_from_slice(p.value));
    assert_ne!(a, b, "the second network got the first one's weights");
    assert_ne!(before, b, "the second network was trained");
}

#[test]
fn reduce_on_plateau_refuses_factors_outside_0_1_and_a_nan_floor() {
    for factor in [10.0, 1.0, 0.0, -0.5, f64::NAN] {
        let e = ReduceOnPlateau::new(factor, 2, 1e-5).unwrap_err();
        assert!(matches!(e, Error::HyperParameter { .. }), "{factor}: {e:?}");
    }
    for min_lr in [f64::NAN, -1.0, f64::INFINITY] {
        assert!(ReduceOnPlateau::new(0.5, 2, min_lr).is_err(), "{min_lr}");
    }
    assert!(ReduceOnPlateau::new(0.5, 2, 0.0).is_ok());
}

#[test]
fn a_schedule_of_your_own_with_bad_settings_is_checked_before_the_first_epoch() {
    #[derive(Clone)]
    struct Broken;
    impl mixact::Schedule for Broken {
        fn learning_rate(&mut self, _: usize, base: f64, _: Option<&mixact::EpochStats>) -> f64 {
            base
        }
        fn validate(&self) -> mixact::Result<()> {
            Err(Error::HyperParameter {
                name: "broken",
                value: 0.0,
                requirement: "anything else",
            })
        }
    }
    let mut t = trainer(Loss::Mse).with_schedule(Broken);
    let mut net = linear_net(2, 1);
    let before = net.predict(&DMatrix::from_element(1, 2, 1.0)).unwrap();
    let e = t.fit(&mut net, &regression_data(8)).unwrap_err();
    assert!(matches!(e, Error::HyperParameter { .. }), "{e:?}");
    let after = net.predict(&DMatrix::from_element(1, 2, 1.0)).unwrap();
    assert_eq!(before, after, "no epoch ran");
    // The built-in schedules cannot hold bad settings: their constructors refuse them.
    assert!(Cosine::new(10, 0.0).is_err());
    assert!(StepDecay::new(0, 0.5).is_err());
    assert!(StepDecay::new(3, 2.0).is_err());
}

#[test]
fn class_names_that_do_not_match_the_outputs_are_refused_on_save_and_load() {
    let net = linear_net(2, 3);
    let info = ModelInfo::default().with_class_names(&["a", "b"]);
    let e = net.to_model_bytes_with(&info).unwrap_err();
    assert!(e.to_string().contains("class"), "{e}");
    // Two names for one output (a binary classifier) are fine.
    let one = linear_net(2, 1);
    let bytes = one
        .to_model_bytes_with(&ModelInfo::default().with_class_names(&["no", "yes"]))
        .unwrap();
    let (_, back) = mixact::io::ModelLoader::<Act, f64>::new()
        .from_bytes(&bytes)
        .unwrap();
    assert_eq!(back.class_names.unwrap(), ["no", "yes"]);
}

#[test]
fn class_names_that_do_not_match_the_outputs_in_a_file_are_refused() {
    // A file written by another tool: three outputs, two names.
    let net = linear_net(2, 3);
    let bytes = net
        .to_model_bytes_with(&ModelInfo::default().with_class_names(&["a", "b", "c"]))
        .unwrap();
    let from = br#"\"a\",\"b\",\"c\""#;
    let to = br#"\"a\",\"b\"      "#;
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the names are in the header");
    let mut edited = bytes.clone();
    edited[at..at + from.len()].copy_from_slice(to);
    let e = mixact::io::ModelLoader::<Act, f64>::new()
        .from_bytes(&edited)
        .unwrap_err();
    assert!(e.to_string().contains("class"), "{e}");
}

#[test]
fn metadata_full_of_braces_loads_because_what_save_writes_load_reads() {
    let net = linear_net(2, 1);
    let braces = "{".repeat(9000);
    let info = ModelInfo::default()
        .with_metadata("note", &braces)
        .with_metadata("}{", "\"[]\"");
    let bytes = net.to_model_bytes_with(&info).unwrap();
    let (_, back) = mixact::io::ModelLoader::<Act, f64>::new()
        .from_bytes(&bytes)
        .unwrap();
    assert_eq!(back, info);
    let names: Vec<String> = (0..3).map(|i| format!("{}{i}", "{".repeat(3000))).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let three = linear_net(2, 3);
    let info = ModelInfo::default().with_class_names(&names);
    let bytes = three.to_model_bytes_with(&info).unwrap();
    let (_, back) = mixact::io::ModelLoader::<Act, f64>::new()
        .from_bytes(&bytes)
        .unwrap();
    assert_eq!(back, info);
}

#[test]
fn model_info_beyond_the_text_limit_is_refused_on_save() {
    let net = linear_net(2, 1);
    let big = "x".repeat(mixact::io::MAX_INFO_TEXT + 1);
    let e = net
        .to_model_bytes_with(&ModelInfo::default().with_metadata("k", &big))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Model {
                kind: mixact::ModelErrorKind::TooLarge,
                ..
            }
        ),
        "{e:?}"
    );
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

#[test]
fn a_csv_with_more_cells_than_the_limit_is_too_large() {
    let dir = temp_dir("cells");
    let mut text = b"a,b\n".to_vec();
    text.extend(std::iter::repeat_n(b"0,0\n".as_slice(), 1000).flatten());
    let path = dir.join("cells.csv");
    std::fs::write(&path, &text).unwrap();
    let options = CsvOptions {
        max_cells: 1000,
        ..CsvOptions::default()
    };
    let e = data::read_csv_with(&path, options).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e:?}");
    let options = CsvOptions {
        max_cells: 2000,
        ..CsvOptions::default()
    };
    assert_eq!(data::read_csv_with(&path, options).unwrap().n_rows(), 1000);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_average_of_no_members_or_of_members_that_differ_is_refused() {
    use mixact::Average;
    let mut r = rng(1);
    assert!(matches!(
        Average::<Act, f32>::new(vec![]),
        Err(Error::Empty { .. })
    ));
    let wider = Average::<Act, f32>::new(vec![
        mixact::Dense::new(2, 3, Act::Relu, &mut r).unwrap().into(),
        mixact::Dense::new(2, 4, Act::Relu, &mut r).unwrap().into(),
    ]);
    assert!(matches!(wider, Err(Error::Shape { layer: Some(1), .. })));
}
