//! Train a per-neuron mixed network and export it to ONNX, with the inputs
//! and mixact's own predictions beside it, so any ONNX runtime can be checked
//! against mixact.
//!
//! ```text
//! cargo run --release --example export_onnx -- --out DIR
//! ```
//! writes `DIR/model.onnx` (raw rows in: the input scaler is part of the
//! graph), `DIR/inputs.csv` (raw rows, columns `x0,x1`) and
//! `DIR/predictions.csv` (mixact's outputs for them, column `logit`). In
//! Python: `onnxruntime.InferenceSession("DIR/model.onnx").run(None,
//! {"input": x})`. Default DIR: `target/export_onnx`.

#[path = "common/flags.rs"]
mod flags;
use flags::Flags;

use mixact::data::{self, write_csv, Scaler};
use mixact::io::{ModelInfo, OnnxOptions};
use mixact::prelude::*;
use mixact::{mask, Adam, FitConfig, Loss, Trainer};

fn main() -> mixact::Result<()> {
    let flags = Flags::parse(
        "Trains a mixed network on two spirals and exports it to ONNX.\n\nUsage: cargo run --release --example export_onnx -- [--out DIR] [--epochs N]\n  --out DIR   where model.onnx, inputs.csv and predictions.csv go [default: target/export_onnx]\n  --epochs N  training epochs [default: 200]",
        &["out", "epochs"],
    );
    let out: String = flags.get("out", "target/export_onnx".to_string());
    let epochs: usize = flags.get("epochs", 200);
    let out = std::path::Path::new(&out);
    std::fs::create_dir_all(out).map_err(|e| mixact::Error::Io {
        path: out.display().to_string(),
        message: e.to_string(),
    })?;

    // Inputs in "sensor units" (far from zero mean and unit scale), so that
    // the scaler folded into the graph matters.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let spirals = data::two_spirals::<f32, _>(400, 1.5, 0.03, &mut rng)?;
    let raw = spirals.x().map(|v| v * 40.0)
        + DMatrix::from_fn(spirals.len(), 2, |_, j| [100.0, -20.0][j]);
    let scaler = Scaler::standardize(&raw);
    let train = Dataset::new(scaler.transform(&raw)?, spirals.y().clone())?;

    let width = 24;
    let mixed = mask::pattern(&[Act::Relu, Act::Tanh, Act::Sin, Act::Gelu], width)?;
    let mut net: Network<Act> = Network::new(vec![
        Dense::per_neuron(2, &mixed, &mut rng)?.into(),
        Dense::per_neuron(width, &mixed, &mut rng)?.into(),
        Dense::new(width, 1, Act::Identity, &mut rng)?.into(),
    ])?;
    let config = FitConfig {
        epochs,
        batch_size: 32,
        seed: 5,
        shuffle: true,
    };
    let history =
        Trainer::new(Loss::BceWithLogits, Adam::new(0.01)?, config)?.fit(&mut net, &train)?;
    let accuracy = history
        .last()
        .and_then(|e| e.train.accuracy)
        .unwrap_or(f64::NAN);

    let info = ModelInfo::default()
        .with_scaler(scaler.clone())
        .with_class_names(&["inner", "outer"])
        .with_metadata("task", "two spirals, raw coordinates");
    let model = out.join("model.onnx");
    net.to_onnx(&model, &OnnxOptions::new().with_info(&info))?;
    write_csv(out.join("inputs.csv"), &["x0", "x1"], &raw)?;
    let predictions = net.predict(&scaler.transform(&raw)?)?;
    write_csv(out.join("predictions.csv"), &["logit"], &predictions)?;
    println!(
        "trained {} to training accuracy {accuracy:.3}; wrote {} ({} bytes), inputs.csv and predictions.csv ({} rows) in {}",
        net.describe(),
        model.display(),
        std::fs::metadata(&model).map(|m| m.len()).unwrap_or(0),
        raw.nrows(),
        out.display()
    );
    Ok(())
}
