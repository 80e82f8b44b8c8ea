//! Many networks of one architecture trained together: the seeds of an
//! experiment, in lockstep, on every core.
//!
//! Each member keeps its own network and [`Trainer`] (initial weights, batch
//! order, dropout masks, optimiser state, early stopping, divergence guard),
//! and each step of a member runs exactly the code a solo
//! [`Trainer::fit`] runs, in the same order: a member's result is
//! bit-identical to training it alone with the same seed (tested). What the
//! ensemble adds is the schedule: epoch `e` of every active member runs, in
//! parallel over rayon's pool, before epoch `e + 1` of any; a member that
//! diverges or stops early leaves the lockstep alone, and the others go on.
//!
//! When the members are small chains of dense layers that can share SIMD
//! lanes ([`LaneEnsemble`]: same architecture, loss and optimiser settings,
//! every product on the small-product path) and there are enough of them
//! for lanes to be faster, [`fit_each`](Ensemble::fit_each) trains them in
//! lanes, sixteen to a vector; the lane kernels reproduce the solo kernels'
//! per-element order, so the results are the same bits.
//! Otherwise members run as separate solo kernels on rayon's pool.

use rayon::prelude::*;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::MatRef;
use crate::compute::real::Real;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::layers::layer::Layer;
use crate::layers::network::Network;
use crate::train::lanes::{exact_in_lanes, LaneEnsemble};
use crate::train::optim::Optimizer;
use crate::train::trainer::{EpochStats, Trainer};

/// One member: its network and its trainer.
struct Member<A: ActivationSet, T: Real, O> {
    net: Network<A, T>,
    trainer: Trainer<T, O>,
}

/// K networks of one architecture, trained in lockstep (see the module docs).
///
/// # Example
/// ```
/// use mixact::{data, mask, Act, Dense, Ensemble, FitConfig, Loss, Network, Sgd, Trainer};
/// use mixact::prelude::*;
///
/// let members = (0..4u64)
///     .map(|seed| {
///         let mut rng = ChaCha8Rng::seed_from_u64(seed);
///         let net: Network<Act> = Network::new(vec![
///             Dense::per_neuron(2, &mask::pattern(&[Act::Tanh, Act::Relu], 8)?, &mut rng)?.into(),
///             Dense::new(8, 1, Act::Identity, &mut rng)?.into(),
///         ])?;
///         let config = FitConfig { epochs: 300, batch_size: 4, seed, shuffle: true };
///         Ok((net, Trainer::new(Loss::BceWithLogits, Sgd::new(0.1)?.with_momentum(0.9)?, config)?))
///     })
///     .collect::<mixact::Result<Vec<_>>>()?;
/// let mut ensemble = Ensemble::new(members)?;
/// let histories = ensemble.fit(&data::xor());
/// for h in histories {
///     assert!(h?.last().unwrap().train.loss < 0.1);
/// }
/// # Ok::<(), mixact::Error>(())
/// ```
pub struct Ensemble<A: ActivationSet, T: Real, O> {
    members: Vec<Member<A, T, O>>,
}

/// Where a member is in a fit.
enum Progress {
    Running { base_lr: f64, epochs_left: usize },
    Done,
}

impl<A: ActivationSet, T: Real, O: Optimizer<T>> Ensemble<A, T, O> {
    /// An ensemble of `members` (network, trainer) pairs.
    ///
    /// # Errors
    /// [`Error::Empty`] without members; [`Error::Shape`] or
    /// [`Error::Length`] when a member's network differs from the first's in
    /// input width, output width or parameter count.
    pub fn new(members: Vec<(Network<A, T>, Trainer<T, O>)>) -> Result<Self> {
        let Some((first, _)) = members.first() else {
            return Err(Error::Empty {
                what: "ensemble members",
            });
        };
        let (inputs, outputs, params) = (
            first.input_width(),
            first.output_width(),
            first.param_count(),
        );
        for (net, _) in &members[1..] {
            let (i, o) = (net.input_width(), net.output_width());
            if (i, o) != (inputs, outputs) {
                return Err(Error::shape(
                    "ensemble member (inputs x outputs)",
                    (Some(inputs), Some(outputs)),
                    (i, o),
                ));
            }
            if net.param_count() != params {
                return Err(Error::Length {
                    what: "ensemble member parameters",
                    expected: params,
                    got: net.param_count(),
                });
            }
        }
        Ok(Ensemble {
            members: members
                .into_iter()
                .map(|(net, trainer)| Member { net, trainer })
                .collect(),
        })
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Never true (an ensemble has at least one member); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Member `i`'s network.
    pub fn network(&self, i: usize) -> Option<&Network<A, T>> {
        self.members.get(i).map(|m| &m.net)
    }

    /// Member `i`'s network, mutably (to evaluate it, say).
    pub fn network_mut(&mut self, i: usize) -> Option<&mut Network<A, T>> {
        self.members.get_mut(i).map(|m| &mut m.net)
    }

    /// Member `i`'s trainer.
    pub fn trainer(&self, i: usize) -> Option<&Trainer<T, O>> {
        self.members.get(i).map(|m| &m.trainer)
    }

    /// The (network, trainer) pairs back, in order.
    pub fn into_members(self) -> Vec<(Network<A, T>, Trainer<T, O>)> {
        self.members
            .into_iter()
            .map(|m| (m.net, m.trainer))
            .collect()
    }

    /// The members' mean prediction on `x`: the raw outputs (logits, for a
    /// classification loss) averaged over the members, each computed as
    /// [`Network::predict`] would (inference mode). To average probabilities instead, apply the link to each
    /// member's [`predict`](Network::predict) and average those.
    ///
    /// # Errors
    /// As [`Network::predict`] (the first member's error), for example
    /// [`Error::Shape`] when `x` does not have the members' input width.
    pub fn predict_mean(&self, x: &nalgebra::DMatrix<T>) -> Result<nalgebra::DMatrix<T>> {
        let outputs: Vec<Result<nalgebra::DMatrix<T>>> =
            self.members.iter().map(|m| m.net.predict(x)).collect();
        let mut sum: Option<nalgebra::DMatrix<T>> = None;
        for out in outputs {
            let out = out?;
            match &mut sum {
                None => sum = Some(out),
                Some(s) => *s += out,
            }
        }
        let k = T::lit(self.members.len() as f64);
        // `new` refuses an empty ensemble, so there is a first member.
        Ok(sum
            .map(|s| s / k)
            .unwrap_or_else(|| nalgebra::DMatrix::zeros(0, 0)))
    }

    /// The members' mean prediction and their spread on `x`: per output,
    /// the sample standard deviation of the members' raw outputs (n - 1 in
    /// the denominator; 0 for a single member), a first measure of how much
    /// the seeds disagree.
    ///
    /// # Errors
    /// As [`predict_mean`](Self::predict_mean).
    pub fn predict_with_spread(
        &self,
        x: &nalgebra::DMatrix<T>,
    ) -> Result<(nalgebra::DMatrix<T>, nalgebra::DMatrix<T>)> {
        let outputs = self
            .members
            .iter()
            .map(|m| m.net.predict(x))
            .collect::<Result<Vec<_>>>()?;
        let mean = self.predict_mean(x)?;
        let k = outputs.len();
        let sd = nalgebra::DMatrix::from_fn(mean.nrows(), mean.ncols(), |i, j| {
            if k < 2 {
                return T::zero();
            }
            let m = mean[(i, j)].as_f64();
            let ss: f64 = outputs
                .iter()
                .map(|o| (o[(i, j)].as_f64() - m).powi(2))
                .sum();
            T::lit((ss / (k - 1) as f64).sqrt())
        });
        Ok((mean, sd))
    }

    /// The ensemble as one network: an [`Average`](crate::Average) of copies
    /// of the members, which predicts exactly what
    /// [`predict_mean`](Self::predict_mean) predicts (the same sums in the
    /// same order) and saves, loads and exports to ONNX as one file.
    ///
    /// # Errors
    /// None in practice (the members were checked to fit together when the
    /// ensemble was made); as [`Average::new`](crate::Average::new).
    pub fn to_network(&self) -> Result<Network<A, T>> {
        let members = self.members.iter().map(|m| m.net.clone().into()).collect();
        Network::new(vec![crate::Average::new(members)?.into()])
    }

    /// Trains every member on `data` ([`fit_each`](Self::fit_each) with the
    /// same data for all).
    pub fn fit(&mut self, data: &Dataset<T>) -> Vec<Result<Vec<EpochStats>>> {
        let each = vec![data; self.members.len()];
        self.fit_each(&each)
            .expect("one data set per member by construction")
    }

    /// Trains member `i` on `data[i]` for its trainer's `epochs`, in
    /// lockstep; returns each member's outcome as [`Trainer::fit`] would
    /// (its epoch history, or the error that stopped it: a diverged member
    /// keeps finite parameters from before the step that broke it, exactly
    /// as a solo fit leaves them).
    ///
    /// # Errors
    /// [`Error::Length`] when `data` does not have one data set per member
    /// (per-member errors are in the returned vector).
    pub fn fit_each(&mut self, data: &[&Dataset<T>]) -> Result<Vec<Result<Vec<EpochStats>>>> {
        if data.len() != self.members.len() {
            return Err(Error::Length {
                what: "ensemble data sets",
                expected: self.members.len(),
                got: data.len(),
            });
        }
        if let Some(outcomes) = self.fit_in_lanes(data) {
            return Ok(outcomes);
        }
        let mut slots: Vec<(Progress, Result<Vec<EpochStats>>)> = self
            .members
            .par_iter_mut()
            .zip(data.par_iter())
            .map(|(m, d)| match m.trainer.begin_fit(&mut m.net, d) {
                Ok(base_lr) => {
                    let epochs = m.trainer.epochs_per_fit();
                    (
                        Progress::Running {
                            base_lr,
                            epochs_left: epochs,
                        },
                        Ok(Vec::with_capacity(epochs.min(1 << 12))),
                    )
                }
                Err(e) => (Progress::Done, Err(e)),
            })
            .collect();
        loop {
            let active = slots
                .iter()
                .filter(|(p, _)| matches!(p, Progress::Running { .. }))
                .count();
            if active == 0 {
                break;
            }
            self.members
                .par_iter_mut()
                .zip(data.par_iter())
                .zip(slots.par_iter_mut())
                .for_each(|((m, d), (progress, outcome))| {
                    let Progress::Running {
                        base_lr,
                        epochs_left,
                    } = progress
                    else {
                        return;
                    };
                    let mut finished = *epochs_left == 0;
                    if !finished {
                        match m.trainer.run_epoch(&mut m.net, d, *base_lr) {
                            Ok((stats, stop_early)) => {
                                if let Ok(h) = outcome {
                                    h.push(stats);
                                }
                                *epochs_left -= 1;
                                finished = stop_early || *epochs_left == 0;
                            }
                            Err(e) => {
                                *outcome = Err(e);
                                *progress = Progress::Done;
                                return;
                            }
                        }
                    }
                    if finished {
                        let ran = outcome.as_ref().is_ok_and(|h| !h.is_empty());
                        if let Err(e) = m.trainer.end_fit(&mut m.net, d, ran) {
                            *outcome = Err(e);
                        }
                        *progress = Progress::Done;
                    }
                });
        }
        Ok(slots.into_iter().map(|(_, outcome)| outcome).collect())
    }

    /// [`fit_each`](Self::fit_each) in SIMD lanes when that gives every
    /// member exactly its solo result (see [`LaneEnsemble`]); `None` (and
    /// nothing changed) otherwise.
    fn fit_in_lanes(&mut self, data: &[&Dataset<T>]) -> Option<Vec<Result<Vec<EpochStats>>>> {
        let mut pairs: Vec<(Network<A, T>, Trainer<T, O>)> = std::mem::take(&mut self.members)
            .into_iter()
            .map(|m| (m.net, m.trainer))
            .collect();
        let Some(steps) = exact_in_lanes(&mut pairs, data) else {
            self.members = pairs
                .into_iter()
                .map(|(net, trainer)| Member { net, trainer })
                .collect();
            return None;
        };
        let mut lanes = LaneEnsemble::from_checked(pairs, steps);
        let outcomes = lanes.fit_each(data);
        self.members = lanes
            .into_members()
            .into_iter()
            .map(|(net, trainer)| Member { net, trainer })
            .collect();
        Some(outcomes.expect("one data set per member, checked by fit_each"))
    }

    /// One training step of every member on its own batch, in parallel:
    /// `losses[i]` gets member `i`'s result of [`Trainer::step`]. Allocates
    /// nothing once every member has taken a step of this batch size.
    ///
    /// # Errors
    /// [`Error::Length`] when `batches` or `losses` do not have one entry
    /// per member (per-member errors go to `losses`).
    pub fn step(
        &mut self,
        batches: &[(MatRef<'_, T>, MatRef<'_, T>)],
        losses: &mut [Result<T>],
    ) -> Result<()> {
        for (what, got) in [
            ("ensemble batches", batches.len()),
            ("ensemble losses", losses.len()),
        ] {
            if got != self.members.len() {
                return Err(Error::Length {
                    what,
                    expected: self.members.len(),
                    got,
                });
            }
        }
        self.members
            .par_iter_mut()
            .zip(batches.par_iter())
            .zip(losses.par_iter_mut())
            .for_each(|((m, (x, y)), loss)| {
                *loss = m.trainer.step(&mut m.net, *x, *y);
            });
        Ok(())
    }
}
