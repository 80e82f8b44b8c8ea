//! Property tests: random shapes, sizes, hyper-parameters and byte strings
//! thrown at the public constructors, `fit`, `evaluate`, the CSV reader and
//! the model loader. Each must return an `Err` or a sound result, never panic
//! or abort. The seed is fixed, so a run is repeatable; the number of cases
//! per property is `MIXACT_PROPTEST_CASES` (default 128) and is printed.
#![cfg(feature = "io")]

use std::cell::Cell;

use mixact::{
    data, mask, Act, Adam, Dataset, Dense, FitConfig, Layer, Loss, Mixture, Network, Sgd, Slope,
    Trainer,
};
use nalgebra::DMatrix;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use rand::SeedableRng;

const ACTS: [Act; 12] = Act::ALL;

fn runner(seed: u64) -> TestRunner {
    let cases = std::env::var("MIXACT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Runs `test` on `strategy` and prints how many cases ran.
fn check<S: Strategy>(name: &str, seed: u64, strategy: S, test: impl Fn(S::Value)) {
    let count = Cell::new(0usize);
    runner(seed)
        .run(&strategy, |v| {
            count.set(count.get() + 1);
            test(v);
            Ok(())
        })
        .unwrap();
    println!("property {name}: {} cases, all passed", count.get());
}

/// Sizes: mostly small, sometimes hostile (huge, wrapping, usize::MAX).
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..48,
        1 => prop::sample::select(vec![
            1usize << 30, 1 << 40, 1 << 62, (1 << 62) + 1, 1 << 63, usize::MAX, usize::MAX - 1
        ]),
    ]
}

/// Any f64, the awkward ones often.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -10.0f64..10.0,
        1 => prop::sample::select(vec![
            0.0, -0.0, 1e-300, 1e10, 1e30, 3e38, 1e300, f64::MAX, -1.0, -1e30,
            f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::MIN_POSITIVE,
        ]),
    ]
}

fn act() -> impl Strategy<Value = Act> {
    prop::sample::select(ACTS.to_vec())
}

#[test]
fn constructors_return_errors_or_layers_of_the_asked_shape() {
    let strategy = (
        size(),
        size(),
        act(),
        prop::collection::vec(act(), 0..4),
        any::<u64>(),
    );
    check(
        "constructors",
        1,
        strategy,
        |(inputs, outputs, a, cands, seed)| {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            if let Ok(l) = Dense::<Act, f32>::new(inputs, outputs, a, &mut r) {
                assert_eq!((l.input_width(), l.output_width()), (inputs, outputs));
            }
            if let Ok(l) = Slope::<Act, f32>::new(inputs, outputs, a, &mut r) {
                assert_eq!((l.input_width(), l.output_width()), (inputs, outputs));
            }
            if let Ok(l) = Mixture::<Act, f32>::new(inputs, outputs, &cands, &mut r) {
                assert_eq!((l.input_width(), l.output_width()), (inputs, outputs));
            }
            if let Ok(l) = Dense::<Act, f32>::branches(inputs, &[(outputs, a), (inputs, a)], &mut r)
            {
                assert_eq!(l.output_width(), outputs + inputs);
            }
            if let Ok(m) = mask::pattern(&cands, outputs) {
                assert_eq!(m.len(), outputs);
            }
            let props: Vec<(Act, f64)> = cands.iter().map(|&c| (c, (seed % 7) as f64)).collect();
            if let Ok(m) = mask::random(&props, outputs, &mut r) {
                assert_eq!(m.len(), outputs);
            }
            let labels = [0, inputs % 5, outputs % 3];
            if let Ok(y) = data::one_hot::<f32>(&labels, outputs) {
                assert_eq!(y.shape(), (3, outputs));
            }
        },
    );
}

#[test]
fn generators_return_errors_or_finite_data() {
    let strategy = (size(), size(), any_f64(), any_f64(), any::<u64>());
    check("generators", 2, strategy, |(n, k, a, b, seed)| {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let finite = |d: &Dataset<f32>| d.x().iter().chain(d.y().iter()).all(|v| v.is_finite());
        if let Ok(d) = data::two_spirals::<f32, _>(n, a, b, &mut r) {
            assert!(finite(&d));
        }
        if let Ok(d) = data::checkerboard::<f32, _>(n, k, &mut r) {
            assert!(finite(&d));
        }
        let target = data::Target1d::SinPlusAbs { w: b };
        if let Ok(d) = data::regression_1d::<f32, _>(target, n, a, b, &mut r) {
            assert!(finite(&d));
        }
        if let Ok(d) = data::parity::<f32>(k % 12) {
            assert!(finite(&d));
        }
    });
}

/// A small random network: widths, depth and activations from the strategy.
fn network(widths: &[usize], acts: &[Act], seed: u64) -> Network<Act> {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let layers = widths
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            Dense::new(w[0], w[1], acts[i % acts.len()], &mut r)
                .unwrap()
                .into()
        })
        .collect();
    Network::new(layers).unwrap()
}

#[test]
fn fit_and_evaluate_return_errors_or_finite_results() {
    let strategy = (
        prop::collection::vec(1usize..6, 2..5),
        prop::collection::vec(act(), 1..4),
        1usize..24,
        prop::sample::select(vec![
            Loss::Mse,
            Loss::BceWithLogits,
            Loss::SoftmaxCrossEntropy,
        ]),
        any_f64(),
        0usize..40,
        0usize..4,
        any::<u64>(),
        prop::sample::select(vec![1.0f32, 1e3, 1e30]),
        any::<bool>(),
    );
    check(
        "fit_evaluate",
        3,
        strategy,
        |(widths, acts, rows, loss, lr, batch, epochs, seed, scale, adam)| {
            let mut net = network(&widths, &acts, seed);
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let (i, o) = (widths[0], widths[widths.len() - 1]);
            let x = DMatrix::from_fn(rows, i, |_, _| {
                scale * (rand::RngExt::random::<f32>(&mut r) - 0.5)
            });
            // Targets: valid for the loss half of the time, arbitrary otherwise.
            let y = if seed % 2 == 0 {
                let labels: Vec<usize> = (0..rows).map(|k| k % o).collect();
                data::one_hot::<f32>(&labels, o).unwrap()
            } else {
                DMatrix::from_fn(rows, o, |_, _| {
                    4.0 * (rand::RngExt::random::<f32>(&mut r) - 0.3)
                })
            };
            let ds = Dataset::new(x, y).unwrap();
            let config = FitConfig {
                epochs,
                batch_size: batch,
                seed,
                shuffle: true,
            };
            let lr = lr as f32;
            let history = if adam {
                Adam::new(lr).and_then(|a| Trainer::new(loss, a, config)?.fit(&mut net, &ds))
            } else {
                Sgd::new(lr).and_then(|s| Trainer::new(loss, s, config)?.fit(&mut net, &ds))
            };
            if let Ok(h) = &history {
                assert!(h.iter().all(|e| e.train.loss.is_finite()), "{h:?}");
            }
            let mut finite = true;
            net.visit_params(&mut |p| finite &= p.value.iter().all(|v| v.is_finite()));
            assert!(finite, "non-finite parameters after {history:?}");
            if let Ok(m) = mixact::evaluate(&mut net, &ds, loss) {
                // A fit that returned Ok promises a finite loss on its data.
                if matches!(&history, Ok(h) if !h.is_empty()) {
                    assert!(m.loss.is_finite(), "{m:?} after {history:?}");
                }
                assert!(m.accuracy.is_none_or(|a| (0.0..=1.0).contains(&a)));
            }
        },
    );
}

#[test]
fn csv_reading_returns_errors_or_consistent_tables() {
    let cell = prop::sample::select(vec![
        "0",
        "1",
        "-2.5",
        "1e10",
        "4611686018427387904",
        "nan",
        "inf",
        "x",
        "",
        " 3 ",
    ]);
    let sep = prop::sample::select(vec![",", "\n", "\r", "\r\n", "\u{feff}", ",,"]);
    let text = prop::collection::vec((cell, sep), 0..40).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(c, s)| format!("{c}{s}"))
            .collect::<String>()
    });
    let strategy = (
        text,
        prop::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
    );
    let dir = std::env::temp_dir().join(format!("mixact-prop-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.csv");
    check("csv", 4, strategy, |(text, junk, gz)| {
        let check_table = |t: &data::CsvTable| {
            assert!(t.n_rows() >= 1);
            assert!(t.rows().all(|r| r.len() == t.headers().len()));
            let _ = t.classification::<f32>(t.headers()[0], &[], 1.0, None);
        };
        if let Ok(t) = data::parse_csv(&text, "t") {
            check_table(&t);
        }
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(&junk);
        if gz {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&bytes).unwrap();
            bytes = e.finish().unwrap();
            let cut = junk
                .first()
                .map_or(bytes.len(), |&c| bytes.len() * c as usize / 255);
            bytes.truncate(cut.max(2));
        }
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(t) = data::read_csv_with(
            &path,
            data::CsvOptions {
                max_bytes: 4096,
                ..Default::default()
            },
        ) {
            check_table(&t);
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn model_loading_returns_errors_or_working_networks() {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let valid: Network<Act> = Network::new(vec![
        Mixture::new(3, 4, &[Act::Relu, Act::Sin], &mut r)
            .unwrap()
            .into(),
        Dense::per_neuron(
            4,
            &mask::pattern(&[Act::Tanh, Act::Gelu], 5).unwrap(),
            &mut r,
        )
        .unwrap()
        .into(),
        Slope::adaptive(5, 4, Act::Tanh, 10.0, false, &mut r)
            .unwrap()
            .into(),
        Slope::siren(4, 3, Act::Sin, 30.0, false, &mut r)
            .unwrap()
            .into(),
        Slope::new(3, 2, Act::Tanh, &mut r).unwrap().into(),
    ])
    .unwrap();
    let bytes = valid.to_model_bytes().unwrap();
    let n = bytes.len();
    let strategy = (
        prop::collection::vec((0..n, any::<u8>()), 0..6),
        0..=n,
        prop::collection::vec(any::<u8>(), 0..200),
        any::<bool>(),
    );
    check(
        "model_bytes",
        6,
        strategy,
        |(flips, cut, random, use_random)| {
            let candidate = if use_random {
                random
            } else {
                let mut b = bytes.clone();
                for (at, v) in flips {
                    b[at] = v;
                }
                b.truncate(cut);
                b
            };
            for allow_non_finite in [false, true] {
                let loader =
                    mixact::io::ModelLoader::<Act>::new().with_non_finite(allow_non_finite);
                if let Ok((net, _)) = loader.from_bytes(&candidate) {
                    let x = DMatrix::from_element(2, net.input_width(), 0.5);
                    let y = net.predict(&x).unwrap();
                    assert_eq!(y.shape(), (2, net.output_width()));
                }
            }
        },
    );
}
