//! Model files: bit-exact round trips, PyTorch layout, user-defined activation
//! sets, a golden file, atomic saves, and one distinct error per corruption.

use crate::common;

use std::collections::HashMap;

use common::{random_matrix, rng};
use mixact::{
    mask, Act, ActivationSet, Concat, Dense, Error, Layer, Mixture, ModelErrorKind, Network, Real,
    Slope,
};
use nalgebra::DMatrix;
use safetensors::tensor::{SafeTensors, TensorView};

fn every_kind<T: Real>(seed: u64) -> Network<Act, T> {
    let mut r = rng(seed);
    let deep = |a: Act, r: &mut rand_chacha::ChaCha8Rng| {
        Network::new(vec![
            Dense::new(6, 4, a, r).unwrap().into(),
            Dense::new(4, 3, Act::Tanh, r).unwrap().into(),
        ])
        .unwrap()
    };
    let concat =
        Concat::of_networks(vec![deep(Act::Relu, &mut r), deep(Act::Sin, &mut r)]).unwrap();
    let mut net = Network::new(vec![
        Dense::per_neuron(
            2,
            &mask::pattern(&[Act::Relu, Act::Sin, Act::Gelu], 7).unwrap(),
            &mut r,
        )
        .unwrap()
        .into(),
        Mixture::new(7, 5, &[Act::Relu, Act::Tanh, Act::Sin], &mut r)
            .unwrap()
            .with_temperature(T::lit(0.5))
            .unwrap()
            .into(),
        Slope::new(5, 6, Act::Tanh, &mut r).unwrap().into(),
        concat.into(),
        Dense::branches(6, &[(2, Act::Sigmoid), (1, Act::Identity)], &mut r)
            .unwrap()
            .into(),
    ])
    .unwrap();
    // Move every parameter off its initial value so a missed tensor shows.
    let mut i = 0.0;
    net.visit_params(&mut |p| {
        for v in p.value.iter_mut() {
            i += 1.0;
            *v += T::lit((i * 0.618_f64).sin() * 0.1);
        }
    });
    net
}

fn params<T: Real>(net: &mut Network<Act, T>) -> Vec<f64> {
    let mut out = vec![];
    net.visit_params(&mut |p| out.extend(p.value.iter().map(|v| v.as_f64())));
    out
}

fn fixed_input<T: Real>() -> DMatrix<T> {
    DMatrix::from_fn(3, 2, |i, j| T::lit(0.3 * i as f64 - 0.7 * j as f64 + 0.1))
}

fn round_trip<T: Real>() {
    let mut net = every_kind::<T>(1);
    let bytes = net.to_model_bytes().unwrap();
    let mut back = Network::<Act, T>::from_model_bytes(&bytes).unwrap();
    let (a, b) = (params(&mut net), params(&mut back));
    assert_eq!(a.len(), b.len());
    assert!(
        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
        "parameters differ"
    );
    assert_eq!(
        net.predict(&fixed_input()).unwrap(),
        back.predict(&fixed_input()).unwrap()
    );
    assert_eq!(net.describe(), back.describe());
}

#[test]
fn round_trip_is_bit_exact_in_f32() {
    round_trip::<f32>();
}

#[test]
fn round_trip_is_bit_exact_in_f64() {
    round_trip::<f64>();
}

#[test]
fn save_and_load_through_a_file_round_trips() {
    let dir = std::env::temp_dir().join(format!("mixact-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("net.safetensors");
    let net = every_kind::<f32>(2);
    net.save(&path).unwrap();
    let back: Network<Act> = Network::load(&path).unwrap();
    assert_eq!(
        net.predict(&fixed_input()).unwrap(),
        back.predict(&fixed_input()).unwrap()
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn weights_are_stored_in_pytorch_out_by_in_layout_under_layer_names() {
    let mut r = rng(3);
    let w = random_matrix(3, 2, &mut r).map(|v| v as f32);
    let net: Network<Act> = Network::new(vec![Dense::from_parts(
        w.clone(),
        vec![0.5, -0.5],
        &[Act::Relu, Act::Sin],
    )
    .unwrap()
    .into()])
    .unwrap();
    let bytes = net.to_model_bytes().unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let t = file.tensor("layers.0.weight").unwrap();
    assert_eq!(t.shape(), &[2, 3]);
    let vals: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    for out in 0..2 {
        for inp in 0..3 {
            assert_eq!(vals[out * 3 + inp], w[(inp, out)]);
        }
    }
    assert_eq!(file.tensor("layers.0.bias").unwrap().shape(), &[2]);
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mine {
    Cube,
    Relu,
}

impl ActivationSet for Mine {
    fn value<T: Real>(self, z: T) -> T {
        match self {
            Mine::Cube => z * z * z,
            Mine::Relu => z.max(T::zero()),
        }
    }
    fn derivative<T: Real>(self, z: T, _y: T) -> T {
        match self {
            Mine::Cube => T::lit(3.0) * z * z,
            Mine::Relu => {
                if z > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
        }
    }
    fn name(self) -> &'static str {
        match self {
            Mine::Cube => "cube",
            Mine::Relu => "relu",
        }
    }
    fn from_name(name: &str) -> Option<Self> {
        [Mine::Cube, Mine::Relu]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

#[test]
fn a_user_defined_activation_set_saves_and_loads_by_name() {
    let mut r = rng(4);
    let net: Network<Mine> = Network::new(vec![Dense::per_neuron(
        2,
        &[Mine::Cube, Mine::Relu, Mine::Cube],
        &mut r,
    )
    .unwrap()
    .into()])
    .unwrap();
    let bytes = net.to_model_bytes().unwrap();
    let back = Network::<Mine>::from_model_bytes(&bytes).unwrap();
    let layer: &dyn std::any::Any = back.layers()[0].as_ref();
    assert_eq!(
        layer.downcast_ref::<Dense<Mine>>().unwrap().mask(),
        [Mine::Cube, Mine::Relu, Mine::Cube]
    );
    assert_eq!(
        net.predict(&fixed_input()).unwrap(),
        back.predict(&fixed_input()).unwrap()
    );
}

fn kind_of(e: Error) -> ModelErrorKind {
    match e {
        Error::Model { kind, .. } => kind,
        other => panic!("expected a model error, got {other}"),
    }
}

#[test]
fn an_unknown_activation_name_is_a_clear_error() {
    let net: Network<Mine> = Network::new(vec![Dense::new(2, 2, Mine::Cube, &mut rng(5))
        .unwrap()
        .into()])
    .unwrap();
    let err = Network::<Act>::from_model_bytes(&net.to_model_bytes().unwrap()).unwrap_err();
    assert!(err.to_string().contains("\"cube\""), "{err}");
    assert_eq!(kind_of(err), ModelErrorKind::UnknownActivation);
}

/// The golden file was written by format version 1 (see `regenerate_golden_file`);
/// it must keep loading and predicting the same values, up to the last-bit
/// changes of more accurate or faster activation kernels (the f32 sin became
/// vectorised: within 1 ulp of the old std result), hence a 1e-6 tolerance.
#[test]
fn the_version_1_golden_file_still_loads_and_predicts_the_same() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let net: Network<Act> = Network::load(format!("{dir}/golden_v1.safetensors")).unwrap();
    let expected: Vec<f32> = std::fs::read_to_string(format!("{dir}/golden_v1.expected"))
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let got = net.predict(&fixed_input()).unwrap();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() <= 1e-6 * (1.0 + e.abs()), "{g} vs {e}");
    }
}

#[test]
#[ignore = "writes tests/data/golden_v1.*; run by hand only when the format version changes"]
fn regenerate_golden_file() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let net = every_kind::<f32>(42);
    net.save(format!("{dir}/golden_v1.safetensors")).unwrap();
    let out = net.predict(&fixed_input()).unwrap();
    let text: Vec<String> = out.iter().map(|v| format!("{v:?}")).collect();
    std::fs::write(format!("{dir}/golden_v1.expected"), text.join("\n") + "\n").unwrap();
}

/// Rewrites the file's architecture JSON with `edit` and re-serialises it.
fn with_header(bytes: &[u8], edit: impl Fn(String) -> String) -> Vec<u8> {
    let file = SafeTensors::deserialize(bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let json = edit(meta.metadata().as_ref().unwrap()["mixact"].clone());
    let tensors: Vec<(String, TensorView<'_>)> = file.tensors();
    safetensors::serialize(tensors, Some(HashMap::from([("mixact".to_string(), json)]))).unwrap()
}

fn small_net_bytes() -> Vec<u8> {
    let net: Network<Act> = Network::new(vec![
        Dense::new(2, 3, Act::Relu, &mut rng(6)).unwrap().into(),
        Dense::new(3, 1, Act::Identity, &mut rng(7)).unwrap().into(),
    ])
    .unwrap();
    net.to_model_bytes().unwrap()
}

fn load(bytes: &[u8]) -> ModelErrorKind {
    kind_of(Network::<Act>::from_model_bytes(bytes).unwrap_err())
}

#[test]
fn a_truncated_file_is_reported_as_truncated() {
    let bytes = small_net_bytes();
    for cut in [0, 5, 8, 20, bytes.len() - 1] {
        assert_eq!(
            load(&bytes[..cut]),
            ModelErrorKind::Truncated,
            "cut at {cut}"
        );
    }
}

#[test]
fn a_file_longer_than_its_header_declares_is_refused() {
    let mut bytes = small_net_bytes();
    bytes.extend_from_slice(b"trailing");
    let err = Network::<Act>::from_model_bytes(&bytes).unwrap_err();
    assert!(err.to_string().contains("the file holds more"), "{err}");
    let path = std::env::temp_dir().join(format!("mixact-long-{}.safetensors", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let from_file = Network::<Act>::load(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        from_file, err,
        "the file reader stops past the header's end, same error"
    );
}

#[test]
fn a_model_file_loads_the_same_from_a_path_as_from_its_bytes() {
    let bytes = small_net_bytes();
    let path = std::env::temp_dir().join(format!("mixact-same-{}.safetensors", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let from_file = Network::<Act>::load(&path)
        .unwrap()
        .to_model_bytes()
        .unwrap();
    let (loaded, _) = mixact::io::ModelLoader::<Act>::new()
        .from_path(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(from_file, bytes);
    assert_eq!(loaded.to_model_bytes().unwrap(), bytes);
}

/// An endless source (a device that never ends) is refused after its
/// first bytes instead of being read into memory without bound.
#[cfg(unix)]
#[test]
fn loading_from_an_endless_file_stops_at_its_header() {
    let err = Network::<Act>::load("/dev/zero").unwrap_err();
    assert_eq!(kind_of(err), ModelErrorKind::NotAModel);
    let with_info = mixact::io::ModelLoader::<Act>::new().from_path("/dev/zero");
    assert_eq!(kind_of(with_info.unwrap_err()), ModelErrorKind::NotAModel);
}

#[test]
fn a_file_that_is_not_a_model_is_reported_as_such() {
    let mut junk = 40u64.to_le_bytes().to_vec();
    junk.extend_from_slice(b"{\"hello\": \"world, not a safetensors head");
    assert_eq!(load(&junk), ModelErrorKind::NotAModel);
    let plain = safetensors::serialize(Vec::<(String, TensorView<'_>)>::new(), None).unwrap();
    assert_eq!(load(&plain), ModelErrorKind::NotAModel);
    let other_format = with_header(&small_net_bytes(), |j| {
        j.replace("\"format\":\"mixact\"", "\"format\":\"keras\"")
    });
    assert_eq!(load(&other_format), ModelErrorKind::NotAModel);
}

#[test]
fn malformed_architecture_json_is_reported_as_malformed() {
    let bad = with_header(&small_net_bytes(), |j| {
        j.replace("\"kind\":\"dense\"", "\"kind\":\"lstm\"")
    });
    assert_eq!(load(&bad), ModelErrorKind::Malformed);
}

#[test]
fn an_unknown_version_is_reported() {
    let next = mixact::io::FORMAT_VERSION + 1;
    let future = with_header(&small_net_bytes(), |j| {
        j.replace("\"version\":1", &format!("\"version\":{next}"))
    });
    assert_eq!(load(&future), ModelErrorKind::UnknownVersion);
}

#[test]
fn loading_as_the_wrong_float_type_is_reported() {
    let net: Network<Act, f64> = Network::new(vec![Dense::new(2, 2, Act::Tanh, &mut rng(8))
        .unwrap()
        .into()])
    .unwrap();
    assert_eq!(
        load(&net.to_model_bytes().unwrap()),
        ModelErrorKind::WrongFloatType
    );
}

#[test]
fn inconsistent_shapes_are_reported() {
    let wider = with_header(&small_net_bytes(), |j| {
        j.replacen("\"outputs\":3", "\"outputs\":4", 1)
    });
    assert_eq!(load(&wider), ModelErrorKind::InconsistentShape);
    let unchained = with_header(&small_net_bytes(), |j| {
        j.replacen("\"inputs\":3", "\"inputs\":2", 1)
    });
    assert_eq!(load(&unchained), ModelErrorKind::InconsistentShape);
}

#[test]
fn non_finite_parameters_are_rejected_unless_explicitly_allowed() {
    let mut net: Network<Act> = Network::new(vec![Dense::new(2, 2, Act::Tanh, &mut rng(9))
        .unwrap()
        .into()])
    .unwrap();
    net.visit_params(&mut |p| {
        if p.name == "bias" {
            p.value[1] = f32::NAN;
        }
    });
    let bytes = net.to_model_bytes().unwrap();
    assert_eq!(load(&bytes), ModelErrorKind::NonFinite);
    let allowed = mixact::io::ModelLoader::<Act>::new()
        .with_non_finite(true)
        .from_bytes(&bytes);
    assert!(allowed.is_ok());
}

#[test]
fn an_absurd_header_size_is_rejected_without_allocating_it() {
    let mut bytes = small_net_bytes();
    bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(load(&bytes), ModelErrorKind::TooLarge);
}

#[test]
fn a_failed_save_leaves_the_old_file_intact() {
    let dir = std::env::temp_dir().join(format!("mixact-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let good: Network<Act> = Network::new(vec![Dense::new(2, 2, Act::Tanh, &mut rng(10))
        .unwrap()
        .into()])
    .unwrap();
    good.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // A network with a layer type model files cannot describe: the save fails before writing.
    #[derive(Clone)]
    struct Foreign;
    let unsupported = Network::new(vec![
        Box::new(ForeignLayer(Foreign)) as mixact::extend::BoxedLayer<Act, f32>
    ])
    .unwrap();
    assert_eq!(
        kind_of(unsupported.save(&path).unwrap_err()),
        ModelErrorKind::UnsupportedLayer
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // A save into a folder that does not exist is an I/O error, and touches nothing.
    assert!(matches!(
        good.save(dir.join("missing/model.safetensors"))
            .unwrap_err(),
        Error::Io { .. }
    ));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();

    #[derive(Clone)]
    struct ForeignLayer(Foreign);
    impl Layer<Act, f32> for ForeignLayer {
        fn input_width(&self) -> usize {
            1
        }
        fn output_width(&self) -> usize {
            1
        }
        fn forward(&mut self, _x: mixact::extend::MatRef<'_, f32>) -> mixact::Result<()> {
            Ok(())
        }
        fn output(&self) -> mixact::extend::MatRef<'_, f32> {
            mixact::extend::MatRef::from_slice(&[], 0, 1)
        }
        fn backward(
            &mut self,
            _x: mixact::extend::MatRef<'_, f32>,
            _dy: mixact::extend::MatRef<'_, f32>,
            _n: bool,
        ) -> mixact::Result<()> {
            Ok(())
        }
        fn input_grad(&self) -> mixact::extend::MatRef<'_, f32> {
            mixact::extend::MatRef::from_slice(&[], 0, 1)
        }
        fn visit_params(&mut self, _f: &mut dyn FnMut(mixact::extend::Param<'_, f32>)) {}
        fn param_count(&self) -> usize {
            0
        }
        fn describe(&self) -> String {
            "foreign".into()
        }
    }
}

#[test]
fn the_scaler_class_names_metadata_and_history_travel_in_the_file() {
    use mixact::data::Scaler;
    use mixact::io::ModelInfo;
    let net = every_kind::<f32>(3);
    let x = DMatrix::from_fn(5, 2, |i, j| (i * 3 + j) as f32);
    let info = ModelInfo::default()
        .with_scaler(Scaler::standardize(&x))
        .with_class_names(&["a", "b", "c"])
        .with_metadata("source", "tests");
    let path = std::env::temp_dir().join(format!("mixact-info-{}.safetensors", std::process::id()));
    net.save_with(&path, &info).unwrap();
    let (back, back_info) = mixact::io::ModelLoader::<Act>::new()
        .from_path(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back_info, info);
    let scaled = back_info.scaler().unwrap().transform(&x).unwrap();
    assert_eq!(
        net.predict(&scaled).unwrap(),
        back.predict(&scaled).unwrap()
    );
    // A file without info stays version 1, readable by older builds.
    let plain = net.to_model_bytes().unwrap();
    let header = String::from_utf8_lossy(&plain[8..400]).to_string();
    assert!(header.contains(r#"\"version\":1"#), "{header}");
}

#[test]
fn a_scaler_of_the_wrong_width_is_refused() {
    use mixact::data::Scaler;
    use mixact::io::ModelInfo;
    let net = every_kind::<f32>(3);
    let info = ModelInfo::default().with_scaler(Scaler::standardize(&DMatrix::<f32>::zeros(4, 3)));
    assert!(matches!(
        net.to_model_bytes_with(&info),
        Err(Error::Model {
            kind: ModelErrorKind::InconsistentShape,
            ..
        })
    ));
}

#[test]
fn a_model_with_target_scaler_and_feature_names_predicts_raw_rows_the_same_after_loading() {
    use mixact::data::Scaler;
    use mixact::io::ModelInfo;
    let net = every_kind::<f32>(3);
    let raw = DMatrix::from_fn(6, 2, |i, j| (i * 3 + j) as f32 * 10.0 + 100.0);
    let info = ModelInfo::default()
        .with_scaler(Scaler::standardize(&raw))
        .with_target_scaler(Scaler {
            offset: vec![500.0; 3],
            scale: vec![20.0, 30.0, 40.0],
        })
        .with_feature_names(&["width", "height"]);
    let bytes = net.to_model_bytes_with(&info).unwrap();
    let (back, back_info) = mixact::io::ModelLoader::<Act>::new()
        .from_bytes(&bytes)
        .unwrap();
    assert_eq!(back_info, info);
    let before = net.predict_raw(&info, &raw).unwrap();
    assert_eq!(back.predict_raw(&back_info, &raw).unwrap(), before);
    // In the targets' units: the network's outputs stretched and shifted.
    let scaled = net
        .predict(&info.scaler().unwrap().transform(&raw).unwrap())
        .unwrap();
    assert!((before[(0, 1)] - (scaled[(0, 1)] * 30.0 + 500.0)).abs() < 1e-3);
    // The target scaler and feature names need format version 3.
    let header = String::from_utf8_lossy(&bytes[8..600]).to_string();
    assert!(header.contains(r#"\"version\":3"#), "{header}");
}

#[test]
fn a_target_scaler_or_feature_names_that_do_not_fit_the_network_are_refused_at_save() {
    use mixact::data::Scaler;
    use mixact::io::ModelInfo;
    let net = every_kind::<f32>(3);
    let wrong_target = ModelInfo::default().with_target_scaler(Scaler {
        offset: vec![0.0; 2],
        scale: vec![1.0; 2],
    });
    assert_eq!(
        kind_of(net.to_model_bytes_with(&wrong_target).unwrap_err()),
        ModelErrorKind::InconsistentShape
    );
    let wrong_names = ModelInfo::default().with_feature_names(&["only one"]);
    assert_eq!(
        kind_of(net.to_model_bytes_with(&wrong_names).unwrap_err()),
        ModelErrorKind::InconsistentShape
    );
    let raw = DMatrix::from_element(2, 2, 1.0f32);
    assert!(net.predict_raw(&wrong_target, &raw).is_err());
}
