//! The hostile cases of the trust review, one test each: sizes that would
//! wrap or exhaust memory, targets a loss cannot mean anything with, training
//! that blows up, optimiser state that could go stale, and files and CSV text
//! an attacker (or an accident) could produce. Each must give a clear error
//! (or a correct result), never a panic, an abort or a silently wrong number.
//! CI runs these files in debug (overflow checks on) *and* in release (wrapping
//! arithmetic, where the original crashes were).

//!
//! One file per subject; the helpers several subjects share are here.

#![cfg(feature = "io")]

#[path = "../common/mod.rs"]
mod common;

mod csv;
mod lanes;
mod losses;
mod model_files;
mod numerics;
mod sizes;
mod training;

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

/// Ten classes, ten samples each; a network that always answers class 0.
fn always_class_zero() -> (Network<Act, f64>, mixact::Dataset<f64>) {
    let labels: Vec<usize> = (0..100).map(|i| i % 10).collect();
    let ds = mixact::Dataset::classification(DMatrix::zeros(100, 3), &labels, 10).unwrap();
    let mut bias = vec![-1.0; 10];
    bias[0] = 1.0;
    let layer = Dense::from_parts(DMatrix::zeros(3, 10), bias, &[Act::Identity; 10]).unwrap();
    (Network::new(vec![layer.into()]).unwrap(), ds)
}

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
