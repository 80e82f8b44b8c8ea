//! The two layer kinds added as the proof of the open design: `LayerNorm`
//! and `Dropout`. Each is one file plus a registration line; here they are
//! gradient-checked, saved and loaded, and trained inside networks and
//! concatenated branches.
#![cfg(feature = "io")]

use crate::common;

use common::{check_layer_gradients, random_matrix, rng};
use mixact::tree::{set_training, visit_named_params};
use mixact::{
    data, Act, Concat, Dense, Dropout, FitConfig, Layer, LayerNorm, Loss, Network, Sgd, Trainer,
};
use nalgebra::DMatrix;

#[test]
fn layer_norm_gradients_match_finite_differences() {
    let gain: Vec<f64> = (0..5).map(|i| 0.5 + 0.3 * i as f64).collect();
    let bias: Vec<f64> = (0..5).map(|i| 0.1 * i as f64 - 0.2).collect();
    let mut l = LayerNorm::from_parts(gain, bias, 1e-5).unwrap();
    check_layer_gradients::<Act, _>(&mut l, 4, 11);
}

#[test]
fn layer_norm_rows_have_mean_zero_and_variance_one() {
    let x = random_matrix(6, 7, &mut rng(2)).map(|v| 3.0 * v + 5.0);
    let mut l = LayerNorm::<f64>::new(7).unwrap();
    Layer::<Act, f64>::forward(&mut l, x.as_view()).unwrap();
    let y = Layer::<Act, f64>::output(&l).into_owned();
    for r in 0..6 {
        let row: Vec<f64> = y.row(r).iter().copied().collect();
        let mean = row.iter().sum::<f64>() / 7.0;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 7.0;
        assert!(mean.abs() < 1e-12, "row {r} mean {mean}");
        assert!((var - 1.0).abs() < 1e-4, "row {r} variance {var}");
    }
}

#[test]
fn dropout_is_the_identity_when_evaluating() {
    let x = random_matrix(5, 4, &mut rng(3));
    let mut d = Dropout::<f64>::new(4, 0.5, 9).unwrap();
    Layer::<Act, f64>::forward(&mut d, x.as_view()).unwrap();
    assert_eq!(Layer::<Act, f64>::output(&d).into_owned(), x);
    check_layer_gradients::<Act, _>(&mut d, 5, 12);
}

#[test]
fn dropout_drops_and_rescales_while_training_and_backward_uses_the_same_mask() {
    let x = DMatrix::from_element(200, 10, 1.0);
    let mut d = Dropout::<f64>::new(10, 0.25, 9).unwrap();
    Layer::<Act, f64>::set_training(&mut d, true);
    Layer::<Act, f64>::forward(&mut d, x.as_view()).unwrap();
    let y = Layer::<Act, f64>::output(&d).into_owned();
    let zeros = y.iter().filter(|&&v| v == 0.0).count();
    assert!(y
        .iter()
        .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-12));
    assert!(
        (400..600).contains(&zeros),
        "{zeros} of 2000 dropped at p = 0.25"
    );
    // The input gradient of a linear map with the forward's mask: dx = dy ⊙ y / x.
    let dy = random_matrix(200, 10, &mut rng(4));
    Layer::<Act, f64>::backward(&mut d, x.as_view(), dy.as_view(), true).unwrap();
    let dx = Layer::<Act, f64>::input_grad(&d).into_owned();
    assert_eq!(dx, dy.component_mul(&y));
}

#[test]
fn dropout_masks_repeat_for_the_same_seed() {
    let x = DMatrix::from_element(8, 6, 1.0);
    let masks = |seed| {
        let mut d = Dropout::<f32>::new(6, 0.5, seed).unwrap();
        Layer::<Act, f32>::set_training(&mut d, true);
        Layer::<Act, f32>::forward(&mut d, x.as_view()).unwrap();
        Layer::<Act, f32>::output(&d).into_owned()
    };
    assert_eq!(masks(1), masks(1));
    assert_ne!(masks(1), masks(2));
}

fn net_with_both(seed: u64) -> Network<Act> {
    let mut r = rng(seed);
    let branch = |r: &mut rand_chacha::ChaCha8Rng| {
        Network::new(vec![
            Dense::new(8, 6, Act::Tanh, r).unwrap().into(),
            LayerNorm::new(6).unwrap().into(),
            Dropout::new(6, 0.1, 3).unwrap().into(),
        ])
        .unwrap()
    };
    let concat = Concat::of_networks(vec![branch(&mut r), branch(&mut r)]).unwrap();
    Network::new(vec![
        Dense::new(2, 8, Act::Relu, &mut r).unwrap().into(),
        LayerNorm::new(8).unwrap().into(),
        Dropout::new(8, 0.2, 5).unwrap().into(),
        concat.into(),
        Dense::new(12, 1, Act::Identity, &mut r).unwrap().into(),
    ])
    .unwrap()
}

#[test]
fn dropout_and_layer_norm_train_inside_networks_and_branches() {
    let ds = data::two_spirals::<f32, _>(64, 1.0, 0.02, &mut rng(6)).unwrap();
    let mut net = net_with_both(7);
    let config = FitConfig {
        epochs: 30,
        batch_size: 16,
        seed: 1,
        shuffle: true,
    };
    let mut t = Trainer::new(Loss::BceWithLogits, Sgd::new(0.05).unwrap(), config).unwrap();
    let history = t.fit(&mut net, &ds).unwrap();
    assert!(history.last().unwrap().train.loss < history[0].train.loss);
    // After fitting the network evaluates: predictions repeat.
    let a = net.predict(ds.x()).unwrap();
    let b = net.predict(ds.x()).unwrap();
    assert_eq!(a, b);
    // In training mode dropout changes what the network's own pass gives;
    // `predict` always evaluates.
    set_training(&mut net, true);
    assert_ne!(net.predict_mut(ds.x()).unwrap(), a);
    assert_eq!(net.predict(ds.x()).unwrap(), a);
}

#[test]
fn dropout_and_layer_norm_save_and_load() {
    let mut net = net_with_both(8);
    // Move gains and biases off their initial values.
    net.visit_params(&mut |p| {
        for (i, v) in p.value.iter_mut().enumerate() {
            *v += 0.01 * (i as f32 + 1.0).sin();
        }
    });
    let bytes = net.to_model_bytes().unwrap();
    let back: Network<Act> = Network::from_model_bytes(&bytes).unwrap();
    let x = DMatrix::from_fn(5, 2, |i, j| (i as f32 - 2.0) * 0.3 + j as f32 * 0.1);
    assert_eq!(net.predict(&x).unwrap(), back.predict(&x).unwrap());
    assert_eq!(back.to_model_bytes().unwrap(), bytes);
}

#[test]
fn named_parameters_are_the_model_file_tensor_names() {
    let mut net = net_with_both(9);
    let mut names = Vec::new();
    visit_named_params(&mut net, &mut |path, _| names.push(path.to_string()));
    assert_eq!(
        &names[..6],
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.gain",
            "layers.1.bias",
            "layers.3.branches.0.layers.0.weight",
            "layers.3.branches.0.layers.0.bias",
        ]
    );
    let bytes = net.to_model_bytes().unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut stored: Vec<String> = file.names().into_iter().map(String::from).collect();
    stored.sort();
    names.sort();
    assert_eq!(names, stored);
}

#[test]
fn layers_take_any_rng_of_the_current_rand_including_std_rng() {
    use rand::SeedableRng;
    // What `cargo add rand` gives a user today: its StdRng must initialise a layer.
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let layer = mixact::Dense::<mixact::Act, f32>::new(3, 4, mixact::Act::Tanh, &mut rng);
    assert!(layer.is_ok());
}
