//! Your own data, end to end: read a (gzipped) CSV, split it, scale it on
//! the training part only, train all-relu, per-neuron mixed and a learned
//! mixture with early stopping on validation loss, report test metrics, and
//! save the best network and load it back.
//!
//! ```sh
//! cargo run --release --example own_data
//! ```
//! Replace the path, the label column and the class count with your own.

use mixact::data::{self, Scaler};
use mixact::extend::BoxedLayer;
use mixact::io::ModelInfo;
use mixact::metrics::confusion_matrix;
use mixact::prelude::*;
use mixact::{EarlyStopping, EpochStats, Monitor};

type Hidden = fn(&mut ChaCha8Rng) -> Result<BoxedLayer<Act>, mixact::Error>;

fn main() -> Result<(), mixact::Error> {
    // 1797 handwritten digits, 8 x 8 pixels, label 0-9 (data/PROVENANCE.md).
    let table = data::read_csv("data/digits8x8.csv.gz")?;
    let all = table.classification_with_classes::<f32>("label", &[], 10, None)?;
    let parts = all.split_stratified(0.2, 0.2, 42)?;
    let scaler = Scaler::standardize(parts.train.x());
    let train = scaler.apply(&parts.train)?;
    let valid = scaler.apply(
        parts
            .valid
            .as_ref()
            .expect("a validation fraction was asked"),
    )?;
    let test = scaler.apply(&parts.test)?;
    println!(
        "{} train / {} validation / {} test samples, {} features",
        train.len(),
        valid.len(),
        test.len(),
        train.x().ncols()
    );

    let layouts: [(&str, Hidden); 3] = [
        ("all relu", |r| Ok(Dense::new(64, 64, Act::Relu, r)?.into())),
        ("mixed relu+tanh+sin", |r| {
            let m = mask::pattern(&[Act::Relu, Act::Tanh, Act::Sin], 64)?;
            Ok(Dense::per_neuron(64, &m, r)?.into())
        }),
        ("mixture relu/tanh/sin", |r| {
            Ok(Mixture::new(64, 64, &[Act::Relu, Act::Tanh, Act::Sin], r)?.into())
        }),
    ];
    let mut best: Option<(f64, Network<Act>, Vec<EpochStats>)> = None;
    for (name, hidden) in layouts {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut net: Network<Act> = Network::new(vec![
            hidden(&mut rng)?,
            Dense::new(64, 10, Act::Identity, &mut rng)?.into(),
        ])?;
        let config = FitConfig {
            epochs: 200,
            batch_size: 32,
            seed: 1,
            shuffle: true,
        };
        let mut trainer = Trainer::new(Loss::SoftmaxCrossEntropy, Adam::new(0.003)?, config)?
            .with_validation(valid.clone())
            .with_early_stopping(EarlyStopping::new(Monitor::ValidLoss, 10));
        let history = trainer.fit(&mut net, &train)?;
        let m = evaluate(&mut net, &test, Loss::SoftmaxCrossEntropy)?;
        let cm = confusion_matrix(&mut net, &test, Loss::SoftmaxCrossEntropy)?;
        let worst = (0..10)
            .filter_map(|c| cm.recall(c).ok().flatten().map(|r| (c, r)))
            .fold((0, 1.0), |a, b| if b.1 < a.1 { b } else { a });
        println!(
            "{name:<24} stopped after {:>3} epochs (best {:>3}): test accuracy {:.3}, loss {:.3}; \
             hardest digit {} (recall {:.2})",
            history.len(),
            trainer.best_epoch().unwrap_or(0),
            m.accuracy.unwrap_or(f64::NAN),
            m.loss,
            worst.0,
            worst.1
        );
        if best.as_ref().is_none_or(|(l, _, _)| m.loss < *l) {
            best = Some((m.loss, net, history));
        }
    }

    let (_, net, history) = best.expect("three layouts were trained");
    // The scaler, the class names and a summary of training travel in the file.
    let names: Vec<String> = (0..10).map(|d| format!("digit {d}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let info = ModelInfo::default()
        .with_scaler(scaler)
        .with_class_names(&names)
        .with_metadata("data", "data/digits8x8.csv.gz")
        .with_history(&history);
    let path = std::env::temp_dir().join("mixact-own-data.safetensors");
    net.save_with(&path, &info)?;
    let (back, back_info) = mixact::io::ModelLoader::<Act>::new().from_path(&path)?;
    // Raw inputs go through the stored scaler, then the network.
    let raw = parts.test.x();
    let scaled = back_info
        .scaler()
        .expect("saved with a scaler")
        .transform(raw)?;
    assert_eq!(back.predict(&scaled)?, net.predict(test.x())?);
    println!(
        "saved the best network with its scaler to {} and loaded it back: same predictions",
        path.display()
    );
    Ok(())
}
