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
//!   divergence and early-stopping paths may allocate; called from a thread
//!   outside rayon's pool, rayon's own job queue takes a 1.5 KiB block once
//!   every 63 hand-offs). A single block's weight-gradient hand-off to a
//!   second thread (in [`LaneEnsemble::step_sequence`]) takes its buffers
//!   with its first job.
//!
//! What runs in lanes: networks that are chains of [`Dense`](crate::Dense)
//! layers (any activation set, per-neuron masks included) with the same
//! shapes and masks, one [`Loss`](crate::Loss), and optimisers that declare
//! element-wise updates with equal settings ([`Optimizer::lane_settings`]:
//! [`Sgd`](crate::Sgd) and [`Adam`](crate::Adam)), without a learning-rate
//! schedule or slope recovery. [`Ensemble::fit_each`](crate::Ensemble::fit_each)
//! uses lanes by itself when its members qualify, the results are exact and
//! there are enough members for lanes to be faster than one network per
//! thread (from about 22 on 2 threads: a block costs about ten solo steps however
//! few lanes it fills); [`LaneEnsemble`] is the explicit form, which also
//! steps.

mod block;
mod choice;
mod compat;
mod group;
mod handoff;
mod kernels;

use std::time::Instant;

use rayon::prelude::*;

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::MatRef;
use crate::compute::real::Real;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::layers::network::Network;
use crate::train::optim::Optimizer;
use crate::train::trainer::{EpochStats, Trainer};

use choice::HandoffChoice;
pub(crate) use compat::exact_in_lanes;
use compat::{lane_compatibility, BLOCK_COST};
use group::Group;
use handoff::{CloseOnDrop, GradHandoff, Pacing};
pub(crate) use kernels::LANES;

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
/// // Twenty members: a block of sixteen in lanes, four trained one by one beside it.
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
    /// When one block holds every member in lanes (the others, if any,
    /// train alone beside it) and has a layer worth it: its weight
    /// gradients' hand-off to a second thread in
    /// [`step_sequence`](Self::step_sequence).
    handoff: Option<GradHandoff<T>>,
    /// Whether a step sequence uses the hand-off, by what it has measured.
    choice: HandoffChoice,
}

impl<A: ActivationSet, T: Real, O: Optimizer<T>> LaneEnsemble<A, T, O> {
    /// Puts `members` (network, trainer) in lanes: as few blocks of at most
    /// 16 as hold them, filled evenly (blocks on different cores then take
    /// the same time), except that a remainder of fewer than ten members
    /// beside full blocks trains one member at a time (a block costs about
    /// ten solo steps however few lanes it fills). Each member's parameters
    /// and optimiser state are taken as they are. Which members share lanes
    /// changes no result: each is trained exactly as alone.
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
        let full = len / LANES;
        let remainder = len % LANES;
        // Full blocks of 16; a remainder too small to pay for a block of its
        // own (it would cost as much as BLOCK_COST solo steps) trains solo.
        let solo_rest = full > 0 && remainder > 0 && remainder < BLOCK_COST;
        let per_group = if solo_rest {
            LANES
        } else {
            len.div_ceil(blocks)
        };
        let mut groups = Vec::with_capacity(blocks);
        let mut rest = members.into_iter();
        for g in 0..blocks {
            let chunk: Vec<_> = rest.by_ref().take(per_group).collect();
            let in_lanes = !(solo_rest && g == blocks - 1);
            groups.push(Group::new(chunk, steps, in_lanes));
        }
        let one_block = groups.len() == 1 || (solo_rest && groups.len() == 2);
        let handoff =
            (one_block && groups[0].hands_off_any()).then(|| GradHandoff::new(groups[0].depth()));
        LaneEnsemble {
            groups,
            per_group,
            len,
            handoff,
            choice: HandoffChoice::default(),
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
    /// step). With a single block, a second thread may compute its weight
    /// gradients while the block goes on with its input gradients (and
    /// trains the members beside the block, if any): each call is timed, and
    /// the calls go the way that has been faster lately, the other tried
    /// one call in sixteen, because the helper loses time where the two
    /// threads do not each have a core. Same bits either way. Allocates
    /// nothing per step.
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
        if self.handoff.is_none() || rayon::current_num_threads() < 2 {
            self.step_sequence_apart(batches, losses);
            return Ok(());
        }
        let hand_off = self.choice.hand_off();
        let start = Instant::now();
        match &self.handoff {
            Some(h) if hand_off => {
                // The block runs on the pool thread the scope starts on; the
                // helper is a task any other thread may take. Nothing the
                // block does waits for the helper to start, so a pool busy
                // elsewhere only means the block does its gradients itself.
                let (owner, beside) = self.groups.split_first_mut().expect("a group");
                let at = self.per_group.min(batches.len());
                let (own_batches, beside_batches) = batches.split_at(at);
                let (own_losses, beside_losses) = losses.split_at_mut(at);
                h.open();
                rayon::scope(|scope| {
                    let beside = beside
                        .first_mut()
                        .map(|group| (group, beside_batches, beside_losses));
                    scope.spawn(move |_| help(h, beside));
                    let _close = CloseOnDrop(h);
                    owner.step_sequence(own_batches, own_losses, Some(h));
                });
            }
            _ => self.step_sequence_apart(batches, losses),
        }
        self.choice.record(hand_off, steps, start.elapsed());
        Ok(())
    }

    /// [`step_sequence`](Self::step_sequence) with each group on its own
    /// thread and no hand-off.
    fn step_sequence_apart(
        &mut self,
        batches: &[&[(MatRef<'_, T>, MatRef<'_, T>)]],
        losses: &mut [Result<T>],
    ) {
        // On the pool, handed off once: a pool thread runs the first block
        // while the others take the rest (one task per other block, per
        // call). With the caller running a block itself, the caller and both
        // pool threads (one of them spinning for work) shared two cores:
        // two full blocks took 10.4 ms per 100 steps instead of 9.3.
        let per_group = self.per_group;
        let mut work = self
            .groups
            .iter_mut()
            .zip(batches.chunks(per_group))
            .zip(losses.chunks_mut(per_group));
        let first = work.next();
        rayon::scope(|scope| {
            for ((group, batches), losses) in work {
                scope.spawn(move |_| group.step_sequence(batches, losses, None));
            }
            if let Some(((group, batches), losses)) = first {
                group.step_sequence(batches, losses, None);
            }
        });
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

/// The members training alone beside a block: their group, step
/// sequences and losses.
type Beside<'g, 'b, A, T, O> = (
    &'g mut Group<A, T, O>,
    &'g [&'g [(MatRef<'b, T>, MatRef<'b, T>)]],
    &'g mut [Result<T>],
);

/// The helper thread of a single block's step sequence: runs the block's
/// published gradient jobs as they come and, in between, the sequence of
/// the members training alone `beside` it, never ahead of the block's step
/// (so that it is free when the block's jobs come); returns when the block
/// has ended and the members beside it are done.
fn help<A: ActivationSet, T: Real, O: Optimizer<T>>(
    handoff: &GradHandoff<T>,
    beside: Option<Beside<'_, '_, A, T, O>>,
) {
    let mut beside = beside.map(|(group, batches, losses)| {
        let going = group.sequence_start();
        let steps = batches.first().map_or(0, |b| b.len());
        (group, batches, losses, going, steps)
    });
    let mut t = 0;
    let mut pacing = Pacing::new();
    loop {
        if handoff.help_once() {
            pacing.worked();
            continue;
        }
        let begun = handoff.begun();
        // Once the block has stood down no job comes: the members beside
        // it step on unpaced, as they would without a hand-off.
        let paced = !handoff.stood_down();
        if let Some((group, batches, losses, going, steps)) = &mut beside {
            if t < *steps && ((t as u64) < begun || !paced) {
                group.sequence_step(batches, t, going, losses, None);
                t += 1;
                pacing.worked();
                continue;
            }
        }
        if begun == u64::MAX || !paced {
            return;
        }
        pacing.wait(begun);
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

impl<A: ActivationSet, T: Real, O: Optimizer<T>> LaneEnsemble<A, T, O> {
    /// A lane ensemble of members already checked by [`exact_in_lanes`].
    pub(crate) fn from_checked(members: Vec<(Network<A, T>, Trainer<T, O>)>, steps: u64) -> Self {
        Self::build(members, steps)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use nalgebra::DMatrix;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::{mask, Act, Dense, FitConfig, Layer, Loss, Sgd};

    fn member(seed: u64) -> (Network<Act>, Trainer<f32, Sgd<f32>>) {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let m = mask::pattern(&[Act::Relu, Act::Tanh, Act::Sigmoid, Act::Gelu], 32).unwrap();
        let net = Network::new(vec![
            Dense::per_neuron(2, &m, &mut r).unwrap().into(),
            Dense::per_neuron(32, &m, &mut r).unwrap().into(),
            Dense::new(32, 1, Act::Identity, &mut r).unwrap().into(),
        ])
        .unwrap();
        let config = FitConfig {
            seed,
            ..FitConfig::default()
        };
        (
            net,
            Trainer::new(Loss::Mse, Sgd::new(0.02).unwrap(), config).unwrap(),
        )
    }

    fn params(net: &mut Network<Act>) -> Vec<u32> {
        let mut v = Vec::new();
        net.visit_params(&mut |p| v.extend(p.value.iter().map(|x| x.to_bits())));
        v
    }

    /// Twenty members step a sequence in four calls on two threads with
    /// the block's hand-off set up by `tune`; each ends with its solo
    /// steps' bits.
    fn check_handoff(tune: impl FnOnce(&mut GradHandoff<f32>)) {
        let (k, steps) = (20, 200);
        let seqs: Vec<Vec<(DMatrix<f32>, DMatrix<f32>)>> = (0..k)
            .map(|m| {
                (0..steps)
                    .map(|t| {
                        let x = DMatrix::from_fn(32, 2, |i, j| ((i * 7 + j + t + m) as f32).sin());
                        let y = DMatrix::from_fn(32, 1, |i, _| ((i + t) % 3) as f32 - 1.0);
                        (x, y)
                    })
                    .collect()
            })
            .collect();
        let mut lanes = LaneEnsemble::new((0..k as u64).map(member).collect()).unwrap();
        tune(lanes.handoff.as_mut().expect("one block: a hand-off"));
        let views: Vec<Vec<_>> = seqs
            .iter()
            .map(|s| s.iter().map(|(x, y)| (x.as_view(), y.as_view())).collect())
            .collect();
        let mut losses: Vec<Result<f32>> = (0..k).map(|_| Ok(0.0)).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        // Four calls: the first hands off, the second does not (each way
        // is tried once), the others as measured.
        for part in 0..4 {
            let refs: Vec<&[_]> = views
                .iter()
                .map(|v| &v[part * steps / 4..(part + 1) * steps / 4])
                .collect();
            pool.install(|| lanes.step_sequence(&refs, &mut losses).unwrap());
        }
        for (m, (mut got, _)) in lanes.into_members().into_iter().enumerate() {
            let (mut net, mut trainer) = member(m as u64);
            let mut last = 0.0;
            for (x, y) in &seqs[m] {
                last = trainer.step(&mut net, x.as_view(), y.as_view()).unwrap();
            }
            assert_eq!(params(&mut got), params(&mut net), "member {m}");
            assert_eq!(losses[m].as_ref().unwrap().to_bits(), last.to_bits());
        }
    }

    /// No patience: every job the helper has claimed and not finished is
    /// abandoned, its inputs set aside, and the block never stands down.
    #[test]
    fn jobs_abandoned_at_every_chance_leave_every_member_exact() {
        check_handoff(|h| {
            h.patience = Duration::ZERO;
            h.stand_down_after = u32::MAX;
        });
    }

    /// The block stands down after its first abandoned job.
    #[test]
    fn a_block_that_stands_down_leaves_every_member_exact() {
        check_handoff(|h| {
            h.patience = Duration::ZERO;
            h.stand_down_after = 1;
        });
    }

    /// An 8-wide hidden layer's weight gradients are too little work to
    /// move between cores, so no helper is started for them.
    #[test]
    fn a_block_with_no_layer_worth_handing_off_has_no_hand_off() {
        let narrow = |seed: u64| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let net: Network<Act> = Network::new(vec![
                Dense::new(2, 8, Act::Tanh, &mut r).unwrap().into(),
                Dense::new(8, 8, Act::Tanh, &mut r).unwrap().into(),
                Dense::new(8, 1, Act::Identity, &mut r).unwrap().into(),
            ])
            .unwrap();
            (net, member(seed).1)
        };
        let lanes = LaneEnsemble::new((0..20).map(narrow).collect()).unwrap();
        assert!(lanes.handoff.is_none());
        let wide = LaneEnsemble::new((0..20).map(member).collect()).unwrap();
        assert!(wide.handoff.is_some());
    }

    #[test]
    fn a_block_with_the_default_hand_off_leaves_every_member_exact() {
        check_handoff(|_| {});
    }
}
