//! Writes a model of every layer kind (with a scaler), inputs and Rust's
//! predictions (raw inputs through the stored scaler) into a folder, for
//! `python/mixact_numpy.py --check DIR`, the reference reader in numpy.
//!
//! ```sh
//! cargo run --release --example reference_model -- target/reference
//! ```

use mixact::data::Scaler;
use mixact::io::ModelInfo;
use mixact::prelude::*;

fn main() -> Result<(), mixact::Error> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/reference".into());
    std::fs::create_dir_all(&dir).map_err(|e| mixact::Error::Io {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    let mut r = ChaCha8Rng::seed_from_u64(11);
    let every = Act::ALL;
    let branch = |a: Act, r: &mut ChaCha8Rng| -> Result<Network<Act>, mixact::Error> {
        Network::new(vec![
            Dense::new(8, 4, a, r)?.into(),
            LayerNorm::new(4)?.into(),
        ])
    };
    let concat = Concat::of_networks(vec![branch(Act::Relu, &mut r)?, branch(Act::Sin, &mut r)?])?;
    let net: Network<Act> = Network::new(vec![
        Dense::per_neuron(3, &mask::pattern(&every, 11)?, &mut r)?.into(),
        Mixture::new(11, 6, &[Act::Relu, Act::Tanh, Act::Sin], &mut r)?
            .with_temperature(0.7)?
            .into(),
        Slope::new(6, 8, Act::Tanh, &mut r)?.into(),
        Dropout::new(8, 0.3, 1)?.into(),
        concat.into(),
        Dense::new(8, 2, Act::Identity, &mut r)?.into(),
    ])?;
    let raw = DMatrix::from_fn(16, 3, |i, j| {
        (i as f32 * 0.37 + j as f32 * 1.3).sin() * 5.0 + 2.0
    });
    let scaler = Scaler::standardize(&raw);
    let info = ModelInfo::default()
        .with_scaler(scaler.clone())
        .with_metadata("purpose", "reference for the numpy reader");
    net.save_with_info(format!("{dir}/model.safetensors"), &info)?;
    let out = net.predict(&scaler.transform(&raw)?)?;
    let csv = |m: &DMatrix<f32>| {
        (0..m.nrows())
            .map(|i| {
                m.row(i)
                    .iter()
                    .map(|v| format!("{v:e}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    for (name, m) in [("inputs.csv", &raw), ("outputs.csv", &out)] {
        std::fs::write(format!("{dir}/{name}"), csv(m)).map_err(|e| mixact::Error::Io {
            path: format!("{dir}/{name}"),
            message: e.to_string(),
        })?;
    }
    println!("wrote {dir}/model.safetensors, inputs.csv, outputs.csv");
    Ok(())
}
