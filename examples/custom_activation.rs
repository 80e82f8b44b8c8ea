//! Define your own activation set and use it in all three layer kinds.
//!
//! `MyAct` holds a Gaussian bump, the "snake" activation z + sin²(z), and
//! plain relu. Nothing in mixact changes: implement `ActivationSet` (value,
//! derivative, a stable name, and optionally an initialisation gain) and
//! every layer kind accepts it.
//!
//! ```text
//! cargo run --release --example custom_activation
//! ```

use mixact::extend::Fan;
use mixact::rand::SeedableRng;
use mixact::rand_chacha::ChaCha8Rng;
use mixact::{
    data, evaluate, mask, ActivationSet, Adam, Dense, FitConfig, Loss, Network, Real, Trainer,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum MyAct {
    /// e^{-z²}: a radial-basis-like bump.
    Gaussian,
    /// z + sin²(z) (Ziyin et al. 2020): monotone, periodic wiggles.
    Snake,
    /// max(z, 0).
    Relu,
    /// z, for the output layer.
    Identity,
}

impl ActivationSet for MyAct {
    fn value<T: Real>(self, z: T) -> T {
        match self {
            MyAct::Gaussian => (-z * z).exp(),
            MyAct::Snake => z + z.sin() * z.sin(),
            MyAct::Relu => z.max(T::zero()),
            MyAct::Identity => z,
        }
    }

    fn derivative<T: Real>(self, z: T, y: T) -> T {
        match self {
            MyAct::Gaussian => T::lit(-2.0) * z * y,
            // d/dz sin²z = 2 sin z cos z = sin 2z
            MyAct::Snake => T::one() + (z + z).sin(),
            MyAct::Relu => {
                if z > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            MyAct::Identity => T::one(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            MyAct::Gaussian => "gaussian",
            MyAct::Snake => "snake",
            MyAct::Relu => "relu",
            MyAct::Identity => "identity",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [MyAct::Gaussian, MyAct::Snake, MyAct::Relu, MyAct::Identity]
            .into_iter()
            .find(|a| a.name() == name)
    }

    fn gain(self) -> f64 {
        match self {
            MyAct::Relu => std::f64::consts::SQRT_2,
            _ => 1.0,
        }
    }

    fn fan(self) -> Fan {
        Fan::In
    }
}

fn main() -> mixact::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let train = data::two_spirals::<f32, _>(400, 1.5, 0.03, &mut rng)?;
    let test = data::two_spirals::<f32, _>(400, 1.5, 0.03, &mut rng)?;

    // The three layer kinds, all over MyAct.
    let per_neuron = Dense::per_neuron(
        2,
        &mask::pattern(&[MyAct::Gaussian, MyAct::Snake, MyAct::Relu], 48)?,
        &mut rng,
    )?;
    let branches = Dense::branches(48, &[(16, MyAct::Gaussian), (16, MyAct::Snake)], &mut rng)?;
    let dense = Dense::new(32, 1, MyAct::Identity, &mut rng)?;
    let mut net: Network<MyAct> =
        Network::new(vec![per_neuron.into(), branches.into(), dense.into()])?;
    for (i, layer) in net.layers().iter().enumerate() {
        println!("layer {i}: {}", layer.describe());
    }

    let config = FitConfig {
        epochs: 200,
        batch_size: 32,
        seed: 7,
        shuffle: true,
    };
    let mut trainer = Trainer::new(Loss::BceWithLogits, Adam::new(0.01)?, config)?;
    let history = trainer.fit(&mut net, &train)?;
    let last = history.last().expect("at least one epoch");
    let test_metrics = evaluate(&mut net, &test, Loss::BceWithLogits)?;
    println!(
        "after {} epochs: train loss {:.4}, test accuracy {:.1}%",
        history.len(),
        last.train.loss,
        100.0 * test_metrics.accuracy.unwrap_or(0.0)
    );
    Ok(())
}
