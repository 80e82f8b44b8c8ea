//! Save a trained mixed network, load it back (here or from Python).
//!
//! ```text
//! cargo run --release --example save_load -- --save model.safetensors
//! cargo run --release --example save_load -- --load model.safetensors
//! ```
//! `--save` trains a small mixed network on two spirals and saves it; `--load`
//! prints the architecture and the predictions on a fixed input. A bad file
//! prints the error and exits with status 1. Without arguments it does both
//! with a temporary file.

use std::process::ExitCode;

use mixact::rand::SeedableRng;
use mixact::rand_chacha::ChaCha8Rng;
use mixact::{data, mask, Act, Adam, Dense, FitConfig, Layer, Loss, Mixture, Network, Trainer};
use nalgebra::DMatrix;

fn train_and_save(path: &str) -> mixact::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let spirals = data::two_spirals::<f32, _>(300, 1.5, 0.03, &mut rng)?;
    let mut net: Network<Act> = Network::new(vec![
        Dense::per_neuron(
            2,
            &mask::pattern(&[Act::Relu, Act::Sin, Act::Tanh], 24)?,
            &mut rng,
        )?
        .into(),
        Mixture::new(24, 16, &[Act::Relu, Act::Tanh, Act::Sin], &mut rng)?.into(),
        Dense::new(16, 1, Act::Identity, &mut rng)?.into(),
    ])?;
    let config = FitConfig {
        epochs: 150,
        batch_size: 32,
        seed: 11,
        shuffle: true,
    };
    let history =
        Trainer::new(Loss::BceWithLogits, Adam::new(0.01)?, config)?.fit(&mut net, &spirals)?;
    let last = history.last().expect("trained at least one epoch");
    net.save(path)?;
    println!(
        "trained {} parameters to accuracy {:.3}, saved to {path}",
        net.param_count(),
        last.train.accuracy.unwrap_or(0.0)
    );
    Ok(())
}

fn load_and_predict(path: &str) -> mixact::Result<()> {
    let net: Network<Act> = Network::load(path)?;
    println!("{path}: {} parameters", net.param_count());
    for (i, layer) in net.layers().iter().enumerate() {
        println!("  layer {i}: {}", layer.describe());
    }
    let x = DMatrix::from_row_slice(4, 2, &[0.0_f32, 0.0, 0.5, 0.5, -0.5, 0.25, 0.9, -0.1]);
    let y = net.predict(&x)?;
    for i in 0..x.nrows() {
        println!(
            "  f({:5.2}, {:5.2}) = {:8.4}",
            x[(i, 0)],
            x[(i, 1)],
            y[(i, 0)]
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, path] if flag == "--save" => train_and_save(path),
        [flag, path] if flag == "--load" => load_and_predict(path),
        [] => {
            let path = std::env::temp_dir().join("mixact-save-load-example.safetensors");
            let path = path.to_string_lossy().into_owned();
            train_and_save(&path).and_then(|()| load_and_predict(&path))
        }
        _ => {
            eprintln!("usage: save_load [--save FILE | --load FILE]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
