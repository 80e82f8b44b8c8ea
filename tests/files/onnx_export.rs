//! ONNX export: what it refuses, and that a failed export loses nothing.
//! (That exported graphs predict what mixact predicts is checked in tract by
//! `cargo test -p mixact-onnx-check`, and in onnxruntime by `.ci/python-reference`.)

use crate::common::rng;
use mixact::io::{ModelInfo, OnnxOptions, ScalerOut};
use mixact::{Act, ActivationSet, Dense, Error, Network, Real};

fn small_net() -> Network<Act> {
    let mut r = rng(7);
    Network::new(vec![
        Dense::branches(2, &[(3, Act::Relu), (3, Act::Sin)], &mut r)
            .unwrap()
            .into(),
        Dense::new(6, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

/// Two activations of a user's own set: `Twin` computes tanh and says so,
/// `Cube` has no built-in twin.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Own {
    Twin,
    Cube,
}

impl ActivationSet for Own {
    fn value<T: Real>(self, z: T) -> T {
        match self {
            Own::Twin => z.tanh(),
            Own::Cube => z * z * z,
        }
    }
    fn derivative<T: Real>(self, z: T, y: T) -> T {
        match self {
            Own::Twin => T::one() - y * y,
            Own::Cube => T::lit(3.0) * z * z,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Own::Twin => "twin",
            Own::Cube => "cube",
        }
    }
    fn from_name(name: &str) -> Option<Self> {
        [Own::Twin, Own::Cube]
            .into_iter()
            .find(|a| a.name() == name)
    }
    fn builtin(self) -> Option<Act> {
        match self {
            Own::Twin => Some(Act::Tanh),
            Own::Cube => None,
        }
    }
}

#[test]
fn an_own_activation_without_a_builtin_twin_is_refused_naming_its_layer() {
    let mut r = rng(1);
    let net: Network<Own> = Network::new(vec![
        Dense::new(2, 3, Own::Twin, &mut r).unwrap().into(),
        Dense::per_neuron(3, &[Own::Twin, Own::Cube], &mut r)
            .unwrap()
            .into(),
    ])
    .unwrap();
    match net.to_onnx_bytes(&OnnxOptions::new()).unwrap_err() {
        Error::Unexportable {
            format,
            layer,
            reason,
        } => {
            assert_eq!(format, "ONNX");
            assert_eq!(layer, "layers.1");
            assert!(reason.contains("\"cube\""), "{reason}");
        }
        e => panic!("expected Unexportable, got {e}"),
    }
}

#[test]
fn an_own_activation_that_names_its_builtin_twin_exports() {
    let mut r = rng(2);
    let net: Network<Own> =
        Network::new(vec![Dense::new(2, 3, Own::Twin, &mut r).unwrap().into()]).unwrap();
    assert!(net.to_onnx_bytes(&OnnxOptions::new()).is_ok());
}

#[test]
fn a_layer_kind_without_an_onnx_rule_is_refused_naming_it() {
    use mixact::extend::LayerSpec;
    use mixact::extend::{MatRef, Param};
    use mixact::Layer;
    #[derive(Clone)]
    struct Shift(Dense<Act>);
    impl Layer<Act, f32> for Shift {
        fn input_width(&self) -> usize {
            Layer::<Act, f32>::input_width(&self.0)
        }
        fn output_width(&self) -> usize {
            Layer::<Act, f32>::output_width(&self.0)
        }
        fn forward(&mut self, x: MatRef<'_, f32>) -> mixact::Result<()> {
            self.0.forward(x)
        }
        fn output(&self) -> MatRef<'_, f32> {
            self.0.output()
        }
        fn backward(
            &mut self,
            x: MatRef<'_, f32>,
            dy: MatRef<'_, f32>,
            need: bool,
        ) -> mixact::Result<()> {
            self.0.backward(x, dy, need)
        }
        fn input_grad(&self) -> MatRef<'_, f32> {
            self.0.input_grad()
        }
        fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, f32>)) {
            self.0.visit_params(f)
        }
        fn param_count(&self) -> usize {
            Layer::<Act, f32>::param_count(&self.0)
        }
        fn describe(&self) -> String {
            "shift".into()
        }
        fn spec(&self) -> Option<LayerSpec<f32>> {
            Some(LayerSpec::new("shift"))
        }
    }
    let mut r = rng(3);
    let inner = Dense::new(2, 2, Act::Relu, &mut r).unwrap();
    let net: Network<Act> = Network::new(vec![
        Dense::new(2, 2, Act::Relu, &mut r).unwrap().into(),
        Box::new(Shift(inner)),
    ])
    .unwrap();
    let err = net.to_onnx_bytes(&OnnxOptions::new()).unwrap_err();
    assert!(
        matches!(&err, Error::Unexportable { layer, reason, .. }
            if layer == "layers.1" && reason.contains("\"shift\"")),
        "{err}"
    );
}

#[test]
fn a_failed_export_leaves_the_existing_file_as_it_was() {
    let path = std::env::temp_dir().join(format!("mixact-onnx-{}.onnx", std::process::id()));
    small_net().to_onnx(&path, &OnnxOptions::new()).unwrap();
    let before = std::fs::read(&path).unwrap();
    let mut r = rng(4);
    let bad: Network<Own> =
        Network::new(vec![Dense::new(2, 2, Own::Cube, &mut r).unwrap().into()]).unwrap();
    assert!(bad.to_onnx(&path, &OnnxOptions::new()).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_scaler_that_does_not_fit_the_inputs_is_refused() {
    let info = |offset: Vec<f64>, scale: Vec<f64>| {
        OnnxOptions::new().with_info(&ModelInfo {
            scaler: Some(ScalerOut { offset, scale }),
            ..ModelInfo::default()
        })
    };
    let net = small_net();
    let wrong_width = info(vec![0.0; 3], vec![1.0; 3]);
    assert!(matches!(
        net.to_onnx_bytes(&wrong_width).unwrap_err(),
        Error::Shape { .. }
    ));
    let zero_scale = info(vec![0.0; 2], vec![1.0, 0.0]);
    assert!(net.to_onnx_bytes(&zero_scale).is_err());
}

#[test]
fn the_same_network_exports_to_the_same_bytes() {
    let net = small_net();
    let info = ModelInfo::default().with_metadata("source", "tests");
    let options = OnnxOptions::new().with_info(&info);
    assert_eq!(
        net.to_onnx_bytes(&options).unwrap(),
        net.to_onnx_bytes(&options).unwrap()
    );
}
