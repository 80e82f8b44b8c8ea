//! Many small networks of one architecture trained in SIMD lanes: one
//! network per lane, sixteen per AVX-512 vector of f32, so one instruction
//! stream trains sixteen seeds.
//!
//! Why lanes: a small network (a few thousand parameters, batch 32) keeps a
//! core busy with loop overhead, short products and per-step bookkeeping,
//! not arithmetic. Widening every scalar of one network's step into a
//! vector over members turns that overhead into useful work for sixteen.
//!
//! What users rely on is kept:
//! - **Bit-identical members.** Each lane performs, element by element,
//!   the operations the solo path performs, in the same order (see
//!   `kernels`); the loss, metrics, divergence guard, early stopping and
//!   optimiser bookkeeping are each member's own [`Trainer`] code. A
//!   member's result equals its solo [`Trainer::fit`] (or sequence of
//!   [`Trainer::step`]s) with the same seed bit for bit whenever the solo
//!   path takes its plain small-product loop, i.e. every layer has
//!   `batch · inputs · outputs ≤ 65 536` (a 45-wide layer at batch 32).
//!   Above that the solo path calls a library GEMM, whose summation order
//!   differs, and the two agree to rounding.
//! - **Independence.** A member that diverges, stops early, finishes its
//!   epochs or gets a batch of another shape leaves the lanes (its network
//!   and optimiser state are written back exactly) and goes on alone if it
//!   goes on at all; the other lanes are undisturbed.
//! - **No allocation per step** once a batch size has been seen (the
//!   divergence and early-stopping paths may allocate).
//!
//! What runs in lanes: networks that are chains of [`Dense`](crate::Dense)
//! layers (any activation set, per-neuron masks included) with the same
//! shapes and masks, one [`Loss`](crate::Loss), and optimisers that declare
//! element-wise updates with equal settings ([`Optimizer::lane_settings`]:
//! [`Sgd`](crate::Sgd) and [`Adam`](crate::Adam)), without a learning-rate
//! schedule or slope recovery. [`Ensemble::fit_each`](crate::Ensemble::fit_each)
//! uses lanes by itself when its members qualify, the results are exact and
//! there are enough members for lanes to be faster than one network per
//! thread (about 20 on 2 threads: a block costs about nine solo steps however
//! few lanes it fills); [`LaneEnsemble`] is the explicit form, which also
//! steps.

mod block;
mod kernels;

use std::any::Any;

use rayon::prelude::*;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::{is_small_product, Buf, MatRef};
use crate::compute::real::Real;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::layers::dense::Dense;
use crate::layers::layer::Layer;
use crate::layers::network::Network;
use crate::train::metrics::MetricSums;
use crate::train::optim::Optimizer;
use crate::train::trainer::{gather_rows, EpochStats, Trainer};

use block::LaneBlock;
pub(crate) use kernels::LANES;

/// The network's layers as dense layers, if every one is.
fn dense_layers<A: ActivationSet, T: Real>(
    net: &mut Network<A, T>,
) -> Option<Vec<&mut Dense<A, T>>> {
    net.layers_mut()
        .iter_mut()
        .map(|layer| (layer.as_mut() as &mut dyn Any).downcast_mut::<Dense<A, T>>())
        .collect()
}

/// Why these members cannot share lanes, or the optimiser step count they share.
fn lane_compatibility<A: ActivationSet, T: Real, O: Optimizer<T>>(
    members: &mut [Pair<A, T, O>],
) -> std::result::Result<u64, String> {
    let Some(((first_net, first_trainer), rest)) = members.split_first_mut() else {
        return Err("no members".into());
    };
    let Some(settings) = first_trainer.optimizer().lane_settings() else {
        return Err(
            "the optimiser does not declare element-wise updates (Optimizer::lane_settings)".into(),
        );
    };
    let per_value = first_trainer.optimizer().state_per_value();
    let shape_of = |net: &mut Network<A, T>, i: usize| {
        dense_layers(net)
            .ok_or_else(|| {
                format!("member {i} has a layer that is not a Dense layer (lanes run chains of Dense layers)")
            })
            .map(|layers| {
                layers
                    .iter()
                    .map(|d| (d.input_width(), d.output_width(), d.mask().to_vec()))
                    .collect::<Vec<_>>()
            })
    };
    let shape = shape_of(first_net, 0)?;
    for (i, (inputs, outputs, _)) in shape.iter().enumerate() {
        if crate::limits::elements("lane weights", &[*inputs, *outputs, LANES]).is_err() {
            return Err(format!(
                "layer {i} ({inputs} x {outputs}) is too large for lanes: sixteen copies of its \
                 weights would pass the {} element limit",
                crate::limits::MAX_ELEMENTS
            ));
        }
    }
    let steps_of = |net: &mut Network<A, T>, trainer: &Trainer<T, O>| {
        trainer
            .states()
            .entry_of(net, per_value)
            .map_or(0, |entries| entries.first().map_or(0, |e| e.2))
    };
    let steps = steps_of(first_net, first_trainer);
    if let Some(blocker) = first_trainer.lane_blocker() {
        return Err(format!("member 0 has {blocker}"));
    }
    for (k, (net, trainer)) in rest.iter_mut().enumerate() {
        let i = k + 1;
        if shape_of(net, i)? != shape {
            return Err(format!(
                "member {i}'s layers differ from member 0's (shapes or activation masks)"
            ));
        }
        if trainer.loss() != first_trainer.loss() {
            return Err(format!("member {i} has another loss than member 0"));
        }
        let same = trainer.optimizer().lane_settings().is_some_and(|s| {
            s.len() == settings.len()
                && s.iter()
                    .zip(&settings)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
        });
        if !same {
            return Err(format!(
                "member {i}'s optimiser settings differ from member 0's"
            ));
        }
        if let Some(blocker) = trainer.lane_blocker() {
            return Err(format!("member {i} has {blocker}"));
        }
        if steps_of(net, trainer) != steps {
            return Err(format!(
                "member {i}'s optimiser has taken another number of steps than member 0's"
            ));
        }
    }
    Ok(steps)
}

/// A member as users hand it over: its network and trainer.
type Pair<A, T, O> = (Network<A, T>, Trainer<T, O>);

/// One member: its network and trainer, and whether it trains in its lane.
struct Member<A: ActivationSet, T: Real, O> {
    net: Network<A, T>,
    trainer: Trainer<T, O>,
    in_lanes: bool,
}

/// A lane block and the members in its lanes (member `j` in lane `j`).
/// Aligned to two cache lines so that the blocks' bookkeeping, written
/// every step by different cores, never shares a line.
#[repr(align(128))]
struct Group<A: ActivationSet, T: Real, O> {
    lanes: LaneBlock<A, T>,
    members: Vec<Member<A, T, O>>,
    /// Whether lane `j` holds a rollback copy (its last call was an update).
    can_restore: [bool; LANES],
    /// Lanes that left during the current step (wiped after the update).
    left_now: [bool; LANES],
    pred: Vec<T>,
    target: Buf<T>,
    grad: Vec<T>,
}

/// Where a member is in a lane fit.
#[derive(Clone, Copy)]
enum Progress {
    Running { base_lr: f64, epochs_left: usize },
    Done,
}

// Lane numbers index several per-lane arrays at once here.
#[allow(clippy::needless_range_loop)]
impl<A: ActivationSet, T: Real, O: Optimizer<T>> Group<A, T, O> {
    fn new(members: Vec<(Network<A, T>, Trainer<T, O>)>, steps: u64) -> Self {
        let mut members: Vec<Member<A, T, O>> = members
            .into_iter()
            .map(|(net, trainer)| Member {
                net,
                trainer,
                in_lanes: true,
            })
            .collect();
        let per_value = members[0].trainer.optimizer().state_per_value();
        let mut lanes = {
            let first = dense_layers(&mut members[0].net).expect("checked: dense layers");
            let refs: Vec<&Dense<A, T>> = first.iter().map(|d| &**d).collect();
            LaneBlock::new(&refs, per_value, steps)
        };
        let mut can_restore = [false; LANES];
        for (l, m) in members.iter_mut().enumerate() {
            lanes.load_params(
                l,
                &mut dense_layers(&mut m.net).expect("checked: dense layers"),
            );
            if let Some(entries) = m.trainer.states().entry_of(&mut m.net, per_value) {
                lanes.load_states(l, &entries);
                can_restore[l] = m.trainer.states().can_restore();
            }
        }
        // Loss scratch with spare room, so these small buffers, written
        // every step, never share a cache line with another block's.
        let mut target = Buf::new();
        target.resize(64, 1);
        Group {
            lanes,
            members,
            can_restore,
            left_now: [false; LANES],
            pred: Vec::with_capacity(64),
            target,
            grad: Vec::with_capacity(64),
        }
    }

    /// Writes lane `l`'s parameters and optimiser state back to its member.
    fn export(&mut self, l: usize) {
        let m = &mut self.members[l];
        self.lanes.store_params(
            l,
            &mut dense_layers(&mut m.net).expect("checked: dense layers"),
        );
        let mut ids = Vec::new();
        m.net.visit_params(&mut |p| ids.push(p.id));
        let steps = self.lanes.steps();
        let states = self.lanes.store_states(l);
        m.trainer.states_mut().set_entries(
            ids.into_iter()
                .zip(states)
                .map(|(id, (state, backup))| (id, steps, state, backup)),
            self.can_restore[l],
        );
    }

    /// Member `l` leaves the lanes: written back, its lane emptied.
    fn retire(&mut self, l: usize) {
        self.export(l);
        self.members[l].in_lanes = false;
        self.left_now[l] = true;
        self.lanes.clear_lane(l);
    }

    /// Member `l`'s loss on the lanes' last forward pass against
    /// `self.target`, and its gradient into the lanes; on a loss the guard
    /// calls divergence, the member leaves the lanes exactly as a solo
    /// step leaves its trainer. Returns the loss when the step goes on.
    fn loss_of(&mut self, l: usize, rows: usize, outputs: usize) -> Result<T> {
        self.pred.resize(rows * outputs, T::zero());
        self.grad.resize(rows * outputs, T::zero());
        self.lanes.output(l, &mut self.pred);
        let m = &mut self.members[l];
        let pred = MatRef::from_slice(&self.pred, rows, outputs);
        let loss = m
            .trainer
            .loss()
            .value_and_grad(pred, self.target.view(), &mut self.grad);
        let cause = match &loss {
            Ok(v) => m.trainer.loss_divergence(v.as_f64()),
            Err(_) => None,
        };
        match (loss, cause) {
            (Ok(v), None) => {
                self.lanes.set_output_grad(l, &self.grad);
                Ok(v)
            }
            (Ok(_), Some(cause)) => {
                self.retire(l);
                let m = &mut self.members[l];
                m.trainer.states_mut().restore(&mut m.net);
                Err(m.trainer.diverged(None, cause))
            }
            (Err(e), _) => {
                self.retire(l);
                Err(e)
            }
        }
    }

    /// Backward and update for every lane; members whose update went
    /// non-finite leave with the guard's error, as `report` receives it.
    fn backward_and_update(&mut self, mut report: impl FnMut(usize, Error)) {
        self.lanes.backward();
        // Every member's optimiser has the same settings (checked when the
        // lanes were made, and a trainer in lanes cannot be reached to change them).
        let first = self.members.iter().position(|m| m.in_lanes).unwrap_or(0);
        let finite = {
            let optimizer = self.members[first].trainer.optimizer();
            self.lanes.update(optimizer)
        };
        if !finite {
            for l in 0..self.members.len() {
                if !self.members[l].in_lanes {
                    continue;
                }
                if let Some((layer, cause)) = self.lanes.lane_failure(l) {
                    self.lanes.restore_lane(l);
                    self.can_restore[l] = false;
                    self.retire(l);
                    report(l, self.members[l].trainer.diverged(Some(layer), cause));
                }
            }
        }
        for l in 0..self.members.len() {
            if self.members[l].in_lanes {
                self.can_restore[l] = true;
            }
            if std::mem::take(&mut self.left_now[l]) {
                // Whatever a leaving lane computed this step (perhaps NaN)
                // goes, so the lane stays finite.
                self.lanes.clear_lane(l);
            }
        }
    }

    fn step(&mut self, batches: &[(MatRef<'_, T>, MatRef<'_, T>)], losses: &mut [Result<T>]) {
        self.step_with(|l| batches[l], [true; LANES], losses);
    }

    /// Members' step sequences (`batches[l]` for member `l`), one step at a
    /// time; a member stops at its first failing step.
    fn step_sequence(
        &mut self,
        batches: &[&[(MatRef<'_, T>, MatRef<'_, T>)]],
        losses: &mut [Result<T>],
    ) {
        let mut going = [false; LANES];
        going[..self.members.len()].fill(true);
        let steps = batches.first().map_or(0, |b| b.len());
        for t in 0..steps {
            self.step_with(|l| batches[l][t], going, losses);
            for (g, loss) in going.iter_mut().zip(losses.iter()) {
                *g &= loss.is_ok();
            }
        }
    }

    /// One step of the members `going` says step, member `l` on `batch(l)`.
    fn step_with<'b>(
        &mut self,
        batch: impl Fn(usize) -> (MatRef<'b, T>, MatRef<'b, T>),
        going: [bool; LANES],
        losses: &mut [Result<T>],
    ) where
        T: 'b,
    {
        let m = self.members.len();
        let lanes_step = |g: &Self, l: usize| going[l] && g.members[l].in_lanes;
        let first = (0..m).find(|&l| lanes_step(self, l));
        let shape = first.map(|f| {
            let net = &self.members[f].net;
            (batch(f).0.nrows(), net.input_width(), net.output_width())
        });
        if let Some((rows, inputs, outputs)) = shape {
            let lanes_fit = self.lanes.fits_batch(rows);
            for l in 0..m {
                let (x, y) = batch(l);
                let fits = x.shape() == (rows, inputs)
                    && y.shape() == (rows, outputs)
                    && rows > 0
                    && lanes_fit;
                if lanes_step(self, l) && !fits {
                    self.retire(l);
                    self.left_now[l] = false;
                }
            }
        }
        for (l, (m, loss)) in self.members.iter_mut().zip(losses.iter_mut()).enumerate() {
            if going[l] && !m.in_lanes {
                let (x, y) = batch(l);
                *loss = m.trainer.step(&mut m.net, x, y);
            }
        }
        let in_step = (0..m).filter(|&l| lanes_step(self, l)).count();
        let Some((rows, _, outputs)) = shape.filter(|_| in_step > 0) else {
            return;
        };
        // Members in lanes that sit this step out would still be moved by
        // the shared update (momentum, Adam's moments): they leave first.
        for l in 0..m {
            if !going[l] && self.members[l].in_lanes {
                self.retire(l);
                self.left_now[l] = false;
            }
        }
        self.lanes.set_batch(rows);
        for l in 0..m {
            if self.members[l].in_lanes {
                self.lanes.scatter_view(l, &batch(l).0);
            }
        }
        self.lanes.forward();
        for l in 0..m {
            if !self.members[l].in_lanes {
                continue;
            }
            let y = batch(l).1;
            self.target.resize(rows, outputs);
            for j in 0..outputs {
                for (i, t) in self.target.cols_mut(j, 1).iter_mut().enumerate() {
                    *t = y[(i, j)];
                }
            }
            losses[l] = self.loss_of(l, rows, outputs);
        }
        self.backward_and_update(|l, e| losses[l] = Err(e));
    }

    fn fit(&mut self, data: &[&Dataset<T>]) -> Vec<Result<Vec<EpochStats>>> {
        let m = self.members.len();
        let mut outcomes: Vec<Option<Result<Vec<EpochStats>>>> = (0..m).map(|_| None).collect();
        let reference = self
            .members
            .iter()
            .position(|m| m.in_lanes)
            .map(|f| (data[f].len(), self.members[f].trainer.batch_size()));
        let lanes_fit = reference.is_some_and(|(n, b)| self.lanes.fits_batch(b.min(n)));
        for l in 0..m {
            let own = (data[l].len(), self.members[l].trainer.batch_size());
            if self.members[l].in_lanes && (Some(own) != reference || !lanes_fit) {
                self.retire(l);
                self.left_now[l] = false;
            }
        }
        let mut progress = vec![Progress::Done; m];
        let mut histories: Vec<Vec<EpochStats>> = (0..m).map(|_| Vec::new()).collect();
        for l in 0..m {
            let member = &mut self.members[l];
            if !member.in_lanes {
                outcomes[l] = Some(member.trainer.fit(&mut member.net, data[l]));
                continue;
            }
            match member.trainer.begin_fit(&mut member.net, data[l]) {
                Ok(base_lr) => {
                    let epochs = member.trainer.epochs_per_fit();
                    histories[l].reserve(epochs.min(1 << 12));
                    progress[l] = Progress::Running {
                        base_lr,
                        epochs_left: epochs,
                    };
                }
                Err(e) => {
                    self.retire(l);
                    self.left_now[l] = false;
                    outcomes[l] = Some(Err(e));
                }
            }
        }
        let Some((n, batch_size)) = reference else {
            return outcomes
                .into_iter()
                .map(|o| o.expect("solo fits ran"))
                .collect();
        };
        let mut sums: Vec<MetricSums> = (0..m)
            .map(|l| MetricSums::new(self.members[l].trainer.loss()))
            .collect();
        loop {
            // Members out of epochs (a budget of 0) end before the next epoch.
            for l in 0..m {
                if let Progress::Running { epochs_left: 0, .. } = progress[l] {
                    self.retire(l);
                    self.left_now[l] = false;
                    let member = &mut self.members[l];
                    let ended = member.trainer.end_fit(&mut member.net, data[l], false);
                    outcomes[l] = Some(ended.map(|_| std::mem::take(&mut histories[l])));
                    progress[l] = Progress::Done;
                }
            }
            if progress.iter().all(|p| matches!(p, Progress::Done)) {
                break;
            }
            for l in 0..m {
                let Progress::Running { base_lr, .. } = progress[l] else {
                    continue;
                };
                sums[l] = MetricSums::new(self.members[l].trainer.loss());
                if let Err(e) = self.members[l].trainer.begin_epoch(base_lr) {
                    self.retire(l);
                    self.left_now[l] = false;
                    outcomes[l] = Some(Err(e));
                    progress[l] = Progress::Done;
                }
            }
            self.run_epoch_steps(data, n, batch_size, &mut progress, &mut sums, &mut outcomes);
            for l in 0..m {
                let Progress::Running {
                    base_lr,
                    epochs_left,
                } = progress[l]
                else {
                    continue;
                };
                let member = &mut self.members[l];
                self.lanes.store_params(
                    l,
                    &mut dense_layers(&mut member.net).expect("checked: dense layers"),
                );
                match member.trainer.finish_epoch(&mut member.net, &sums[l]) {
                    Ok((stats, stop_early)) => {
                        histories[l].push(stats);
                        let epochs_left = epochs_left - 1;
                        progress[l] = Progress::Running {
                            base_lr,
                            epochs_left,
                        };
                        if stop_early || epochs_left == 0 {
                            self.retire(l);
                            self.left_now[l] = false;
                            let member = &mut self.members[l];
                            let ended = member.trainer.end_fit(&mut member.net, data[l], true);
                            outcomes[l] = Some(ended.map(|_| std::mem::take(&mut histories[l])));
                            progress[l] = Progress::Done;
                        }
                    }
                    Err(e) => {
                        self.retire(l);
                        self.left_now[l] = false;
                        outcomes[l] = Some(Err(e));
                        progress[l] = Progress::Done;
                    }
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every member ends with an outcome"))
            .collect()
    }

    /// One epoch's steps for every running member, in lockstep.
    fn run_epoch_steps(
        &mut self,
        data: &[&Dataset<T>],
        n: usize,
        batch_size: usize,
        progress: &mut [Progress],
        sums: &mut [MetricSums],
        outcomes: &mut [Option<Result<Vec<EpochStats>>>],
    ) {
        let outputs = self.members[0].net.output_width();
        for (step, start) in (0..n).step_by(batch_size).enumerate() {
            let running = |p: &Progress| matches!(p, Progress::Running { .. });
            if !progress.iter().any(running) {
                return;
            }
            let end = (start + batch_size).min(n);
            let rows = end - start;
            self.lanes.set_batch(rows);
            for l in 0..self.members.len() {
                if running(&progress[l]) {
                    let trainer = &mut self.members[l].trainer;
                    trainer.set_step_in_epoch(step);
                    let x = data[l].x();
                    self.lanes
                        .scatter_rows(l, x.as_slice(), n, trainer.batch_rows(start, end));
                }
            }
            self.lanes.forward();
            for l in 0..self.members.len() {
                if !running(&progress[l]) {
                    continue;
                }
                let rows_of = self.members[l].trainer.batch_rows(start, end);
                gather_rows(data[l].y(), rows_of, &mut self.target);
                match self.loss_of(l, rows, outputs) {
                    Ok(loss) => {
                        let loss_kind = self.members[l].trainer.loss();
                        let pred = MatRef::from_slice(&self.pred, rows, outputs);
                        sums[l].add(loss_kind, loss.as_f64(), pred, self.target.view());
                    }
                    Err(e) => {
                        outcomes[l] = Some(Err(e));
                        progress[l] = Progress::Done;
                    }
                }
            }
            self.backward_and_update(|l, e| {
                outcomes[l] = Some(Err(e));
                progress[l] = Progress::Done;
            });
        }
    }
}

/// K networks of one architecture trained in SIMD lanes (see the module
/// docs for what qualifies and what is guaranteed).
///
/// # Example
/// ```
/// use mixact::{data, mask, Act, Adam, Dense, FitConfig, LaneEnsemble, Loss, Network, Trainer};
/// use mixact::prelude::*;
///
/// let members = (0..20u64)
///     .map(|seed| {
///         let mut rng = ChaCha8Rng::seed_from_u64(seed);
///         let net: Network<Act> = Network::new(vec![
///             Dense::per_neuron(2, &mask::pattern(&[Act::Tanh, Act::Relu], 8)?, &mut rng)?.into(),
///             Dense::new(8, 1, Act::Identity, &mut rng)?.into(),
///         ])?;
///         let config = FitConfig { epochs: 200, batch_size: 4, seed, shuffle: true };
///         Ok((net, Trainer::new(Loss::BceWithLogits, Adam::new(0.05)?, config)?))
///     })
///     .collect::<mixact::Result<Vec<_>>>()?;
/// // Twenty members: two lane blocks of ten, one per core.
/// let mut lanes = LaneEnsemble::new(members)?;
/// let xor = data::xor();
/// let histories = lanes.fit_each(&vec![&xor; 20])?;
/// for h in histories {
///     assert!(h?.last().unwrap().train.loss < 0.2);
/// }
/// # Ok::<(), mixact::Error>(())
/// ```
pub struct LaneEnsemble<A: ActivationSet, T: Real, O> {
    groups: Vec<Group<A, T, O>>,
    /// Members per group (the last may hold fewer).
    per_group: usize,
    len: usize,
}

impl<A: ActivationSet, T: Real, O: Optimizer<T>> LaneEnsemble<A, T, O> {
    /// Puts `members` (network, trainer) in lanes: as few blocks of at most
    /// 16 as hold them, filled evenly so that blocks on different cores take
    /// the same time. Each member's parameters and optimiser state are
    /// taken as they are.
    ///
    /// # Errors
    /// [`Error::Empty`] without members; [`Error::Incompatible`] naming the
    /// first member that cannot share lanes with the first (a layer that is
    /// not `Dense`, other shapes or masks, another loss or optimiser
    /// settings, a schedule, slope recovery, an optimiser without
    /// [`Optimizer::lane_settings`], a different number of optimiser steps taken).
    pub fn new(mut members: Vec<(Network<A, T>, Trainer<T, O>)>) -> Result<Self> {
        if members.is_empty() {
            return Err(Error::Empty {
                what: "lane ensemble members",
            });
        }
        let steps = lane_compatibility(&mut members).map_err(|reason| Error::Incompatible {
            setting: "lane ensemble",
            reason,
        })?;
        Ok(Self::build(members, steps))
    }

    /// Builds the groups (the members were checked).
    fn build(members: Vec<(Network<A, T>, Trainer<T, O>)>, steps: u64) -> Self {
        let len = members.len();
        let blocks = len.div_ceil(LANES);
        let per_group = len.div_ceil(blocks);
        let mut groups = Vec::with_capacity(blocks);
        let mut rest = members.into_iter();
        for _ in 0..blocks {
            let chunk: Vec<_> = rest.by_ref().take(per_group).collect();
            groups.push(Group::new(chunk, steps));
        }
        LaneEnsemble {
            groups,
            per_group,
            len,
        }
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true (a lane ensemble has at least one member); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn locate(&self, i: usize) -> Option<(usize, usize)> {
        (i < self.len).then(|| (i / self.per_group, i % self.per_group))
    }

    /// Whether member `i` still trains in its lane (false once it has
    /// diverged, stopped, finished a fit or been given a batch of another
    /// shape: from then on it trains alone, exactly as its trainer would).
    pub fn in_lanes(&self, i: usize) -> Option<bool> {
        self.locate(i)
            .map(|(g, l)| self.groups[g].members[l].in_lanes)
    }

    /// Member `i`'s network as trained so far (its lane written back first).
    pub fn network(&mut self, i: usize) -> Option<&Network<A, T>> {
        let (g, l) = self.locate(i)?;
        let group = &mut self.groups[g];
        if group.members[l].in_lanes {
            group.export(l);
        }
        Some(&group.members[l].net)
    }

    /// The (network, trainer) pairs back, in order, each exactly as its
    /// solo training would have left it (parameters and optimiser state).
    pub fn into_members(mut self) -> Vec<(Network<A, T>, Trainer<T, O>)> {
        for group in &mut self.groups {
            for l in 0..group.members.len() {
                if group.members[l].in_lanes {
                    group.export(l);
                }
            }
        }
        self.groups
            .into_iter()
            .flat_map(|g| g.members.into_iter().map(|m| (m.net, m.trainer)))
            .collect()
    }

    fn check_count(&self, what: &'static str, got: usize) -> Result<()> {
        if got != self.len {
            return Err(Error::Length {
                what,
                expected: self.len,
                got,
            });
        }
        Ok(())
    }

    /// One training step of every member on its own batch: `losses[i]`
    /// gets what member `i`'s [`Trainer::step`] would return, and the
    /// member's parameters and optimiser state change as that step would
    /// change them. Lane blocks run in parallel on rayon's pool.
    ///
    /// # Errors
    /// [`Error::Length`] when `batches` or `losses` do not have one entry
    /// per member (per-member errors go to `losses`).
    pub fn step(
        &mut self,
        batches: &[(MatRef<'_, T>, MatRef<'_, T>)],
        losses: &mut [Result<T>],
    ) -> Result<()> {
        self.check_count("lane ensemble batches", batches.len())?;
        self.check_count("lane ensemble losses", losses.len())?;
        step_groups(&mut self.groups, batches, losses, self.per_group);
        Ok(())
    }

    /// Many steps in one call: member `i` takes one step on each of
    /// `batches[i]` in turn (as that many [`Trainer::step`] calls would, up to
    /// its first failing step, where it stops), and `losses[i]` gets the
    /// result of its last step taken. The lane blocks run their sequences in
    /// parallel, so the threads meet once per call instead of once per step
    /// (on a 2-core VM a hand-off between threads cost about as much as a
    /// step). Allocates nothing per step.
    ///
    /// # Errors
    /// [`Error::Length`] when `batches` or `losses` do not have one entry
    /// per member, or the members' sequences differ in length.
    pub fn step_sequence(
        &mut self,
        batches: &[&[(MatRef<'_, T>, MatRef<'_, T>)]],
        losses: &mut [Result<T>],
    ) -> Result<()> {
        self.check_count("lane ensemble batch sequences", batches.len())?;
        self.check_count("lane ensemble losses", losses.len())?;
        let steps = batches[0].len();
        if let Some(other) = batches.iter().find(|b| b.len() != steps) {
            return Err(Error::Length {
                what: "lane ensemble batch sequence",
                expected: steps,
                got: other.len(),
            });
        }
        // The calling thread runs the first block itself while the pool
        // takes the others (one task per other block, per call).
        let per_group = self.per_group;
        let mut work = self
            .groups
            .iter_mut()
            .zip(batches.chunks(per_group))
            .zip(losses.chunks_mut(per_group));
        let first = work.next();
        rayon::in_place_scope(|scope| {
            for ((group, batches), losses) in work {
                scope.spawn(move |_| group.step_sequence(batches, losses));
            }
            if let Some(((group, batches), losses)) = first {
                group.step_sequence(batches, losses);
            }
        });
        Ok(())
    }

    /// Trains member `i` on `data[i]` for its trainer's epochs, as
    /// [`Trainer::fit`] would (validation, early stopping, divergence
    /// guard, final check), all members in lockstep in their lanes; returns
    /// each member's outcome. A member whose data set has another length or
    /// whose batch size differs from its block's first member fits alone.
    ///
    /// # Errors
    /// [`Error::Length`] when `data` does not have one data set per member
    /// (per-member errors are in the returned vector).
    pub fn fit_each(&mut self, data: &[&Dataset<T>]) -> Result<Vec<Result<Vec<EpochStats>>>> {
        self.check_count("lane ensemble data sets", data.len())?;
        Ok(self
            .groups
            .par_iter_mut()
            .zip(data.par_chunks(self.per_group))
            .flat_map_iter(|(group, data)| group.fit(data))
            .collect())
    }
}

/// Steps `groups` (member batches and losses in chunks of `per_group`) by
/// recursive halving with `rayon::join`, which keeps its jobs on the stack:
/// no allocation per step.
fn step_groups<A: ActivationSet, T: Real, O: Optimizer<T>>(
    groups: &mut [Group<A, T, O>],
    batches: &[(MatRef<'_, T>, MatRef<'_, T>)],
    losses: &mut [Result<T>],
    per_group: usize,
) {
    match groups {
        [] => {}
        [group] => group.step(batches, losses),
        _ => {
            let half = groups.len() / 2;
            let (left, right) = groups.split_at_mut(half);
            let at = (half * per_group).min(batches.len());
            let (lb, rb) = batches.split_at(at);
            let (ll, rl) = losses.split_at_mut(at);
            rayon::join(
                || step_groups(left, lb, ll, per_group),
                || step_groups(right, rb, rl, per_group),
            );
        }
    }
}

/// Whether `k` members train faster in lane blocks than one network per
/// thread on `threads` threads. A lane block's step costs about as much as
/// nine solo steps of its members' network, whether it holds 2 members or 16
/// (measured on the W3 network, AVX-512, where a solo step uses vectors
/// over the batch half as well as a block uses them over members): lanes win
/// when each round of blocks replaces more than nine solo steps per thread.
/// With 2 threads that is from 20 members on; at 10 members one block would
/// run on one core while the other idles, slower than solo fits on both.
pub(crate) fn lanes_pay_off(k: usize, threads: usize) -> bool {
    let threads = threads.max(1);
    let rounds = k.div_ceil(LANES).div_ceil(threads);
    9 * rounds * threads < k
}

/// For [`Ensemble::fit_each`](crate::Ensemble::fit_each): whether lanes give
/// these members exactly their solo results on `data` (lane-compatible,
/// one data length and batch size, every product on the small-product
/// path), and the optimiser step count they share.
pub(crate) fn exact_in_lanes<A: ActivationSet, T: Real, O: Optimizer<T>>(
    members: &mut [Pair<A, T, O>],
    data: &[&Dataset<T>],
) -> Option<u64> {
    let n = data.first()?.len();
    let batch = members.first()?.1.batch_size();
    if data.iter().any(|d| d.len() != n) || members.iter().any(|(_, t)| t.batch_size() != batch) {
        return None;
    }
    let rows = batch.min(n);
    let small = members[0]
        .0
        .layers()
        .iter()
        .all(|layer| is_small_product(rows, layer.input_width(), layer.output_width()));
    if !small || !lanes_pay_off(members.len(), rayon::current_num_threads()) {
        return None;
    }
    lane_compatibility(members).ok()
}

impl<A: ActivationSet, T: Real, O: Optimizer<T>> LaneEnsemble<A, T, O> {
    /// A lane ensemble of members already checked by [`exact_in_lanes`].
    pub(crate) fn from_checked(members: Vec<(Network<A, T>, Trainer<T, O>)>, steps: u64) -> Self {
        Self::build(members, steps)
    }
}

#[cfg(test)]
mod tests {
    use super::lanes_pay_off;

    #[test]
    fn lanes_pay_off_only_when_every_thread_gets_a_well_filled_block() {
        assert!(!lanes_pay_off(10, 2), "one block, one idle core");
        assert!(!lanes_pay_off(16, 2));
        assert!(lanes_pay_off(20, 2), "two blocks of ten, one per core");
        assert!(lanes_pay_off(40, 2));
        assert!(
            !lanes_pay_off(20, 8),
            "eight threads run twenty solo fits at once"
        );
        assert!(lanes_pay_off(20, 1));
        assert!(!lanes_pay_off(9, 1));
    }
}
