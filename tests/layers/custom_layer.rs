//! A layer kind defined outside the crate: a per-feature learnable scale.
//! It trains like the built-in kinds and, once its builder is registered,
//! saves and loads through model files; io.rs needed no change for it.
#![cfg(feature = "io")]

use crate::common;

use mixact::extend::{
    check_backward_shapes, check_forward_input, inconsistent, no_sublayers, BoxedLayer, MatRef,
    OwnedTensorId, Param, Registry,
};
use mixact::extend::{ConfigValue, LayerConfig, LayerSpec, TensorSource};
use mixact::{Act, ActivationSet, Dense, Error, Layer, ModelErrorKind, Network, Real};
use nalgebra::DMatrix;

/// y = x ⊙ s, s learned per feature.
#[derive(Clone)]
struct Scale<T: Real> {
    s: Vec<T>,
    grad: Vec<T>,
    id: OwnedTensorId,
    y: DMatrix<T>,
    dx: DMatrix<T>,
}

impl<T: Real> Scale<T> {
    fn new(s: Vec<T>) -> Self {
        let n = s.len();
        Scale {
            s,
            grad: vec![T::zero(); n],
            id: OwnedTensorId::new(),
            y: DMatrix::zeros(0, n),
            dx: DMatrix::zeros(0, n),
        }
    }

    fn build<A: ActivationSet>(
        config: &LayerConfig,
        src: &mut dyn TensorSource<T>,
        children: Vec<BoxedLayer<A, T>>,
    ) -> mixact::Result<BoxedLayer<A, T>> {
        no_sublayers(config, &children)?;
        config.only(&["width"])?;
        let width = config.usize("width")?;
        let s = src.take("s", &[width])?;
        if s.is_empty() {
            return Err(inconsistent(config)(Error::ZeroWidth { what: "width" }));
        }
        Ok(Box::new(Scale::new(s)))
    }
}

impl<A: ActivationSet, T: Real> Layer<A, T> for Scale<T> {
    fn input_width(&self) -> usize {
        self.s.len()
    }
    fn output_width(&self) -> usize {
        self.s.len()
    }
    fn forward(&mut self, x: MatRef<'_, T>) -> mixact::Result<()> {
        check_forward_input(&x, self.s.len())?;
        self.y = DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] * self.s[j]);
        Ok(())
    }
    fn output(&self) -> MatRef<'_, T> {
        self.y.as_view()
    }
    fn backward(&mut self, x: MatRef<'_, T>, dy: MatRef<'_, T>, _: bool) -> mixact::Result<()> {
        check_backward_shapes(&x, &dy, self.y.nrows(), self.s.len())?;
        for (j, g) in self.grad.iter_mut().enumerate() {
            *g = (0..x.nrows()).map(|i| dy[(i, j)] * x[(i, j)]).sum();
        }
        self.dx = DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| dy[(i, j)] * self.s[j]);
        Ok(())
    }
    fn input_grad(&self) -> MatRef<'_, T> {
        self.dx.as_view()
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        f(Param {
            name: "s",
            id: self.id.id(),
            value: &mut self.s,
            grad: &self.grad,
            decay: false,
            lr_scale: T::one(),
        });
    }
    fn param_count(&self) -> usize {
        self.s.len()
    }
    fn describe(&self) -> String {
        format!("scale {}", self.s.len())
    }
    fn spec(&self) -> Option<LayerSpec<T>> {
        Some(
            LayerSpec::new("scale")
                .with("width", ConfigValue::Int(self.s.len() as u64))
                .with_tensor("s", vec![self.s.len()], self.s.clone()),
        )
    }
}

fn net() -> Network<Act, f64> {
    let mut r = common::rng(1);
    Network::new(vec![
        Dense::new(2, 3, Act::Tanh, &mut r).unwrap().into(),
        Box::new(Scale::new(vec![0.5, -2.0, 3.0])),
        Dense::new(3, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

#[test]
fn a_user_layer_kind_is_gradient_checked_like_the_built_in_ones() {
    common::check_layer_gradients::<Act, _>(&mut Scale::new(vec![0.5, -2.0, 3.0]), 4, 3);
}

#[test]
fn a_registered_user_layer_kind_saves_and_loads() {
    let original = net();
    let bytes = original.to_model_bytes().unwrap();
    let registry = Registry::new().with("scale", Scale::<f64>::build::<Act>);
    let (back, _) = mixact::io::ModelLoader::<Act, f64>::new()
        .with_registry(registry)
        .from_bytes(&bytes)
        .unwrap();
    let x = DMatrix::from_fn(4, 2, |i, j| i as f64 * 0.3 - j as f64 * 0.7);
    assert_eq!(original.predict(&x).unwrap(), back.predict(&x).unwrap());
}

#[test]
fn an_unregistered_layer_kind_is_a_clear_error() {
    let bytes = net().to_model_bytes().unwrap();
    let err = Network::<Act, f64>::from_model_bytes(&bytes).unwrap_err();
    match err {
        Error::Model {
            kind: ModelErrorKind::Malformed,
            detail,
        } => assert!(detail.contains("\"scale\""), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_custom_registry_and_model_info_load_together() {
    use mixact::io::{ModelInfo, ModelLoader};
    let original = net();
    let info = ModelInfo::default()
        .with_feature_names(&["x", "y"])
        .with_metadata("kind", "scale");
    let path =
        std::env::temp_dir().join(format!("mixact-loader-{}.safetensors", std::process::id()));
    original.save_with(&path, &info).unwrap();
    let loader = ModelLoader::<Act, f64>::new()
        .with_registry(Registry::new().with("scale", Scale::<f64>::build::<Act>));
    let (back, back_info) = loader.from_path(&path).unwrap();
    let (again, _) = loader.from_bytes(&std::fs::read(&path).unwrap()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back_info, info);
    let x = DMatrix::from_fn(4, 2, |i, j| i as f64 * 0.3 - j as f64 * 0.7);
    assert_eq!(original.predict(&x).unwrap(), back.predict(&x).unwrap());
    assert_eq!(original.predict(&x).unwrap(), again.predict(&x).unwrap());
    // Without the registry the same file is refused, naming the kind.
    assert!(ModelLoader::<Act, f64>::new()
        .from_bytes(&original.to_model_bytes().unwrap())
        .is_err());
}

#[test]
fn a_user_layer_using_the_public_shape_checks_refuses_a_wrong_input_with_an_error() {
    let mut layer = Scale::new(vec![0.5f64, -2.0, 3.0]);
    let x = DMatrix::<f64>::zeros(4, 2);
    let err = Layer::<Act, f64>::forward(&mut layer, x.as_view()).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
}

#[test]
fn a_custom_registry_and_the_model_info_load_together() {
    let original = net();
    let info = mixact::io::ModelInfo::default()
        .with_feature_names(&["a", "b"])
        .with_metadata("trained_on", "nothing");
    let bytes = original.to_model_bytes_with(&info).unwrap();
    let (back, back_info) = mixact::io::ModelLoader::<Act, f64>::new()
        .with_registry(Registry::new().with("scale", Scale::<f64>::build::<Act>))
        .from_bytes(&bytes)
        .unwrap();
    assert_eq!(back_info, info);
    let x = DMatrix::from_fn(3, 2, |i, j| i as f64 - j as f64);
    assert_eq!(original.predict(&x).unwrap(), back.predict(&x).unwrap());
}
