//! mixact's ONNX export run in tract: the same predictions, to 1e-5
//! relative in f32, for every layer kind and every activation.

use mixact::io::{ModelInfo, OnnxOptions, ScalerOut};
use mixact::prelude::*;
use mixact::{Concat, Dropout, Layer, LayerNorm, Mixture, Slope};
use tract_onnx::prelude::*;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Rows spread over [-3, 3] in every column, deterministic.
fn inputs(rows: usize, cols: usize) -> DMatrix<f32> {
    DMatrix::from_fn(rows, cols, |i, j| {
        (((i * 37 + j * 11) % 61) as f32 / 60.0 - 0.5) * 6.0
    })
}

/// What tract computes for `x` from the ONNX bytes.
fn run_in_tract(bytes: &[u8], x: &DMatrix<f32>) -> DMatrix<f32> {
    let model = tract_onnx::onnx()
        .model_for_read(&mut &*bytes)
        .expect("tract reads the file")
        .with_input_fact(0, f32::fact([x.nrows(), x.ncols()]).into())
        .unwrap()
        .into_optimized()
        .expect("tract optimises the graph")
        .into_runnable()
        .unwrap();
    let row_major: Vec<f32> = x.transpose().iter().copied().collect();
    let input = tract_ndarray::Array2::from_shape_vec((x.nrows(), x.ncols()), row_major).unwrap();
    let out = model
        .run(tvec!(Tensor::from(input).into()))
        .expect("tract runs the graph");
    let view = out[0].to_plain_array_view::<f32>().unwrap();
    let shape = view.shape().to_vec();
    assert_eq!(shape.len(), 2);
    DMatrix::from_fn(shape[0], shape[1], |i, j| view[[i, j]])
}

fn assert_close(ours: &DMatrix<f32>, theirs: &DMatrix<f32>, what: &str) {
    assert_eq!(ours.shape(), theirs.shape(), "{what}: shape");
    for (i, (a, b)) in ours.iter().zip(theirs.iter()).enumerate() {
        let tol = 1e-5 * a.abs().max(b.abs()).max(1.0);
        assert!(
            (a - b).abs() <= tol,
            "{what}: element {i}: mixact {a}, tract {b}"
        );
    }
}

fn check(net: &Network<Act>, options: &OnnxOptions, x: &DMatrix<f32>, what: &str) {
    let bytes = net.to_onnx_bytes(options).unwrap();
    let ours = net.predict(x).unwrap();
    assert_close(&ours, &run_in_tract(&bytes, x), what);
}

#[test]
fn every_activation_in_a_dense_layer_predicts_as_in_mixact() {
    for (k, act) in Act::ALL.into_iter().enumerate() {
        let mut r = rng(k as u64);
        let net: Network<Act> = Network::new(vec![
            Dense::new(3, 6, act, &mut r).unwrap().into(),
            Dense::new(6, 2, Act::Identity, &mut r).unwrap().into(),
        ])
        .unwrap();
        check(&net, &OnnxOptions::new(), &inputs(40, 3), act.name());
    }
}

#[test]
fn a_per_neuron_mask_of_every_activation_keeps_each_neurons_place() {
    let mut r = rng(1);
    // Interleaved: neuron j has activation j mod 11, so the blocks interleave.
    let mask: Vec<Act> = (0..33).map(|j| Act::ALL[j % Act::ALL.len()]).collect();
    let net: Network<Act> = Network::new(vec![
        Dense::per_neuron(4, &mask, &mut r).unwrap().into(),
        Dense::per_neuron(33, &[Act::Tanh, Act::Identity, Act::Sin], &mut r)
            .unwrap()
            .into(),
    ])
    .unwrap();
    check(&net, &OnnxOptions::new(), &inputs(50, 4), "mask");
}

#[test]
fn branches_fused_and_deep_predict_as_in_mixact() {
    let mut r = rng(2);
    let fused =
        Dense::branches(2, &[(5, Act::Relu), (3, Act::Gelu), (4, Act::Sin)], &mut r).unwrap();
    let deep_a: Network<Act> = Network::new(vec![
        Dense::new(8 + 4, 6, Act::Elu, &mut r).unwrap().into(),
        Dense::new(6, 3, Act::Silu, &mut r).unwrap().into(),
    ])
    .unwrap();
    let deep_b = Dense::new(12, 4, Act::GeluErf, &mut r).unwrap();
    let concat = Concat::new(vec![deep_a.into(), deep_b.into()]).unwrap();
    let net: Network<Act> = Network::new(vec![
        fused.into(),
        concat.into(),
        Dense::new(7, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    check(&net, &OnnxOptions::new(), &inputs(30, 2), "branches");
}

#[test]
fn mixture_slope_layer_norm_and_dropout_predict_as_in_mixact() {
    let mut r = rng(3);
    let mut mixture = Mixture::<Act, f32>::new(
        3,
        7,
        &[Act::Relu, Act::Sin, Act::Tanh, Act::Softplus],
        &mut r,
    )
    .unwrap();
    // Uneven blend weights, as after training.
    mixture.visit_params(&mut |p| {
        let (name, values) = (p.name, p.value);
        if name == "alpha" {
            for (i, v) in values.iter_mut().enumerate() {
                *v = ((i * 7) % 5) as f32 * 0.4 - 0.8;
            }
        }
    });
    let mut slope = Slope::<Act, f32>::new(7, 5, Act::Sigmoid, &mut r).unwrap();
    slope.visit_params(&mut |p| {
        let (name, values) = (p.name, p.value);
        if name == "slope" {
            for (i, v) in values.iter_mut().enumerate() {
                *v = 0.5 + i as f32 * 0.3;
            }
        }
    });
    let mut norm = LayerNorm::<f32>::new(5).unwrap();
    Layer::<Act, f32>::visit_params(&mut norm, &mut |p| {
        let (name, values) = (p.name, p.value);
        for (i, v) in values.iter_mut().enumerate() {
            *v = if name == "gain" {
                1.0 + 0.1 * i as f32
            } else {
                0.05 * i as f32
            };
        }
    });
    let net: Network<Act> = Network::new(vec![
        mixture.into(),
        slope.into(),
        Dropout::new(5, 0.3, 9).unwrap().into(),
        norm.into(),
        Dense::new(5, 2, Act::LeakyRelu, &mut r).unwrap().into(),
    ])
    .unwrap();
    check(
        &net,
        &OnnxOptions::new(),
        &inputs(25, 3),
        "mixture+slope+norm",
    );
}

#[test]
fn the_scaler_folded_into_the_graph_makes_raw_rows_predict_as_scaled_ones() {
    let mut r = rng(4);
    let net: Network<Act> = Network::new(vec![
        Dense::branches(3, &[(4, Act::Tanh), (4, Act::Relu)], &mut r)
            .unwrap()
            .into(),
        Dense::new(8, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let info = ModelInfo {
        scaler: Some(ScalerOut {
            offset: vec![10.0, -2.0, 0.5],
            scale: vec![4.0, 0.25, 1.0],
        }),
        ..ModelInfo::default()
    };
    let raw = inputs(20, 3).map(|v| v * 3.0 + 10.0);
    let scaled = DMatrix::from_fn(20, 3, |i, j| {
        let s = info.scaler.as_ref().unwrap();
        ((raw[(i, j)] as f64 - s.offset[j]) / s.scale[j]) as f32
    });
    let bytes = net
        .to_onnx_bytes(&OnnxOptions::new().with_info(&info))
        .unwrap();
    assert_close(
        &net.predict(&scaled).unwrap(),
        &run_in_tract(&bytes, &raw),
        "scaler",
    );
}

#[test]
fn the_target_scaler_folded_into_the_graph_gives_what_predict_raw_gives() {
    use mixact::data::Scaler;
    let mut r = rng(5);
    let net: Network<Act> = Network::new(vec![
        Dense::per_neuron(3, &[Act::Sin, Act::Elu, Act::Softplus], &mut r)
            .unwrap()
            .into(),
        Dense::new(3, 2, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    let raw = inputs(20, 3).map(|v| v * 3.0 + 10.0);
    let info = ModelInfo::default()
        .with_scaler(Scaler::standardize(&raw))
        .with_target_scaler(Scaler {
            offset: vec![1000.0, -4.0],
            scale: vec![250.0, 0.5],
        })
        .with_feature_names(&["a", "b", "c"]);
    let bytes = net
        .to_onnx_bytes(&OnnxOptions::new().with_info(&info))
        .unwrap();
    assert_close(
        &net.predict_raw(&info, &raw).unwrap(),
        &run_in_tract(&bytes, &raw),
        "pipeline",
    );
}

#[test]
fn an_average_of_members_predicts_as_in_mixact() {
    let mut r = rng(6);
    let member = |a: Act, r: &mut ChaCha8Rng| -> Network<Act> {
        Network::new(vec![
            Dense::new(3, 5, a, r).unwrap().into(),
            Dense::new(5, 2, Act::Identity, r).unwrap().into(),
        ])
        .unwrap()
    };
    let average = mixact::Average::new(vec![
        member(Act::Tanh, &mut r).into(),
        member(Act::Relu, &mut r).into(),
        member(Act::Sin, &mut r).into(),
    ])
    .unwrap();
    let net: Network<Act> = Network::new(vec![average.into()]).unwrap();
    check(&net, &OnnxOptions::new(), &inputs(20, 3), "average");
}

#[test]
fn siren_and_adaptive_slope_layers_predict_as_in_mixact() {
    let mut r = rng(12);
    let net: Network<Act> = Network::new(vec![
        Slope::siren(3, 16, Act::Sin, 30.0, true, &mut r)
            .unwrap()
            .into(),
        Slope::siren(16, 16, Act::Sin, 30.0, false, &mut r)
            .unwrap()
            .into(),
        Slope::adaptive(16, 8, Act::Tanh, 10.0, false, &mut r)
            .unwrap()
            .into(),
        Slope::adaptive(8, 6, Act::Square, 5.0, true, &mut r)
            .unwrap()
            .into(),
        Dense::new(6, 2, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap();
    check(&net, &OnnxOptions::new(), &inputs(9, 3), "siren + adaptive");
}
