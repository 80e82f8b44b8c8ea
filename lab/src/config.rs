//! Configurations: what the hidden layers are, and their width matched to a parameter budget.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use mixact::extend::BoxedLayer;
use mixact::mask;
use mixact::ActivationSet;
use mixact::Concat;
use mixact::Dense;
use mixact::Dropout;
use mixact::Layer;
use mixact::LayerNorm;
use mixact::Mixture;
use mixact::Network;
use mixact::Slope;
use mixact::{Error, Result};

/// The hidden layers of a configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Hidden<A> {
    /// One activation everywhere.
    Dense(A),
    /// Per-neuron mask: the activations interleaved (neuron i gets `acts[i % len]`).
    Interleaved(Vec<A>),
    /// The same counts as [`Hidden::Interleaved`], arranged at random (seeded
    /// per run): a sanity control that must not differ from interleaved beyond noise.
    Random(Vec<A>),
    /// One-layer branches of equal width, one per activation, concatenated (fused).
    Branches(Vec<A>),
    /// Branches two layers deep, one per activation, concatenated once at the
    /// end (replaces the whole hidden stack).
    DeepBranches(Vec<A>),
    /// A learnable mixture of the candidates per neuron.
    Mixture(Vec<A>),
    /// One activation with a learned per-neuron slope (the control for learned mixing).
    Slope(A),
}

/// The role a configuration plays in the comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// One activation per network: the baselines.
    Homogeneous,
    /// Fixed mixes: masks and branches.
    Mixed,
    /// Learned mixing.
    Learned,
    /// Controls (slope-only).
    Control,
}

impl Family {
    /// The name in reports and CSV files.
    pub fn name(self) -> &'static str {
        match self {
            Family::Homogeneous => "homogeneous",
            Family::Mixed => "mixed",
            Family::Learned => "learned",
            Family::Control => "control",
        }
    }

    /// The family named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Family::Homogeneous,
            Family::Mixed,
            Family::Learned,
            Family::Control,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }
}

/// A named network layout: `inputs -> hidden x depth -> outputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config<A> {
    /// The name in reports.
    pub name: String,
    /// The hidden layers.
    pub hidden: Hidden<A>,
    /// Number of hidden layers (ignored by [`Hidden::DeepBranches`], which is two deep).
    pub depth: usize,
    /// A [`LayerNorm`] after every hidden layer (not inside deep branches).
    pub layer_norm: bool,
    /// A [`Dropout`] with this probability after every hidden layer (0: none;
    /// not inside deep branches). Masks are seeded from the run's seed.
    pub dropout: f64,
}

fn names<A: ActivationSet>(acts: &[A]) -> String {
    acts.iter().map(|a| a.name()).collect::<Vec<_>>().join("+")
}

impl<A: ActivationSet> Config<A> {
    /// A configuration with a generated name ("relu", "mask relu+sin", ...).
    pub fn new(hidden: Hidden<A>, depth: usize) -> Self {
        let name = match &hidden {
            Hidden::Dense(a) => a.name().to_string(),
            Hidden::Interleaved(v) => format!("mask {}", names(v)),
            Hidden::Random(v) => format!("random {}", names(v)),
            Hidden::Branches(v) => format!("branches {}", names(v)),
            Hidden::DeepBranches(v) => format!("deep-branches {}", names(v)),
            Hidden::Mixture(v) => format!("mixture {}", names(v)),
            Hidden::Slope(a) => format!("slope {}", a.name()),
        };
        Config {
            name,
            hidden,
            depth,
            layer_norm: false,
            dropout: 0.0,
        }
    }

    /// The same layout with a [`LayerNorm`] after every hidden layer (name suffix ` +layernorm`).
    pub fn with_layer_norm(mut self) -> Self {
        self.layer_norm = true;
        self.name += " +layernorm";
        self
    }

    /// The same layout with dropout `p` after every hidden layer (name suffix ` +dropout{p}`).
    ///
    /// # Errors
    /// [`Error::HyperParameter`] unless `p` is in [0, 1).
    pub fn with_dropout(mut self, p: f64) -> Result<Self> {
        crate::check_hyper("dropout p", p, (0.0..1.0).contains(&p), "in [0, 1)")?;
        self.dropout = p;
        self.name += &format!(" +dropout{p}");
        Ok(self)
    }

    /// Its family.
    pub fn family(&self) -> Family {
        match &self.hidden {
            Hidden::Dense(_) => Family::Homogeneous,
            Hidden::Mixture(_) => Family::Learned,
            Hidden::Slope(_) => Family::Control,
            _ => Family::Mixed,
        }
    }

    fn hidden_layer(
        &self,
        inputs: usize,
        width: usize,
        rng: &mut ChaCha8Rng,
        arrangement: &mut ChaCha8Rng,
    ) -> Result<BoxedLayer<A, f32>> {
        Ok(match &self.hidden {
            Hidden::Dense(a) => Dense::new(inputs, width, *a, rng)?.into(),
            Hidden::Interleaved(acts) => {
                Dense::per_neuron(inputs, &mask::pattern(acts, width)?, rng)?.into()
            }
            Hidden::Random(acts) => {
                // Exactly the interleaved counts, in a seeded random order.
                let mut m = mask::pattern(acts, width)?;
                m.shuffle(arrangement);
                Dense::per_neuron(inputs, &m, rng)?.into()
            }
            Hidden::Branches(acts) => {
                if acts.is_empty() {
                    return Err(Error::Empty { what: "branches" });
                }
                let n = acts.len();
                let branches: Vec<(usize, A)> = acts
                    .iter()
                    .enumerate()
                    .map(|(i, &a)| (width / n + usize::from(i < width % n), a))
                    .filter(|&(w, _)| w > 0)
                    .collect();
                Dense::branches(inputs, &branches, rng)?.into()
            }
            Hidden::Mixture(acts) => Mixture::new(inputs, width, acts, rng)?.into(),
            Hidden::Slope(a) => Slope::new(inputs, width, *a, rng)?.into(),
            Hidden::DeepBranches(_) => unreachable!("deep branches are built as a whole"),
        })
    }

    /// The network for `inputs -> outputs` with hidden width `width`, its
    /// weights drawn from `seed` (the same seed gives the same draws wherever
    /// shapes match).
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] / [`Error::Empty`] for degenerate layouts.
    pub fn build(
        &self,
        inputs: usize,
        outputs: usize,
        width: usize,
        seed: u64,
    ) -> Result<Network<A, f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut arrangement = ChaCha8Rng::seed_from_u64(seed ^ 0xa11_0c8);
        let identity = A::from_name("identity");
        let out_layer = |w: usize, rng: &mut ChaCha8Rng| -> Result<BoxedLayer<A, f32>> {
            let act = identity.ok_or(Error::Empty {
                what: "an \"identity\" activation in the set (for the output layer)",
            })?;
            Ok(Dense::new(w, outputs, act, rng)?.into())
        };
        if let Hidden::DeepBranches(acts) = &self.hidden {
            if acts.is_empty() {
                return Err(Error::Empty { what: "branches" });
            }
            let w = (width / acts.len()).max(1);
            let branches = acts
                .iter()
                .map(|&a| {
                    Network::new(vec![
                        Dense::new(inputs, w, a, &mut rng)?.into(),
                        Dense::new(w, w, a, &mut rng)?.into(),
                    ])
                })
                .collect::<Result<Vec<_>>>()?;
            let concat = Concat::of_networks(branches)?;
            let total = concat.output_width();
            return Network::new(vec![concat.into(), out_layer(total, &mut rng)?]);
        }
        if self.depth == 0 {
            return Err(Error::ZeroWidth { what: "depth" });
        }
        let mut layers = Vec::with_capacity(self.depth + 1);
        let mut prev = inputs;
        for i in 0..self.depth {
            layers.push(self.hidden_layer(prev, width, &mut rng, &mut arrangement)?);
            if self.layer_norm {
                layers.push(LayerNorm::new(width)?.into());
            }
            if self.dropout > 0.0 {
                let mask_seed = seed ^ 0xd80_0000 ^ i as u64;
                layers.push(Dropout::new(width, self.dropout, mask_seed)?.into());
            }
            prev = width;
        }
        layers.push(out_layer(prev, &mut rng)?);
        Network::new(layers)
    }

    /// The hidden width whose parameter count is closest to `budget` (ties to the smaller).
    ///
    /// # Errors
    /// As [`Config::build`].
    pub fn width_for(&self, inputs: usize, outputs: usize, budget: usize) -> Result<usize> {
        let mut best = (usize::MAX, 1);
        let step = match &self.hidden {
            Hidden::DeepBranches(v) | Hidden::Branches(v) => v.len().max(1),
            _ => 1,
        };
        let mut width = step;
        while width <= 4096 {
            let p = self.build(inputs, outputs, width, 0)?.param_count();
            let d = p.abs_diff(budget);
            if d < best.0 {
                best = (d, width);
            }
            if p > budget {
                break;
            }
            width += step;
        }
        Ok(best.1)
    }
}
