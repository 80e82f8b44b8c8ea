//! A lane block and its members: one step, a step sequence and a fit of
//! every member, each member's bookkeeping done by its own trainer.

use crate::compute::activation::ActivationSet;
use crate::compute::matrix::{copy_col, Buf, MatRef};
use crate::compute::prefetch::prefetch_view;
use crate::compute::real::Real;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::layers::dense::Dense;
use crate::layers::layer::Layer;
use crate::layers::network::Network;
use crate::train::loss::Loss;
use crate::train::metrics::MetricSums;
use crate::train::optim::Optimizer;
use crate::train::trainer::{gather_rows, EpochStats, Trainer};

use super::block::{Feed, LaneBlock};
use super::compat::dense_layers;
use super::handoff::GradHandoff;
use super::LANES;

/// One member: its network and trainer, and whether it trains in its lane.
pub(super) struct Member<A: ActivationSet, T: Real, O> {
    pub(super) net: Network<A, T>,
    pub(super) trainer: Trainer<T, O>,
    pub(super) in_lanes: bool,
}

/// A lane block and the members in its lanes (member `j` in lane `j`).
/// Aligned to two cache lines so that the blocks' bookkeeping, written
/// every step by different cores, never shares a line.
#[repr(align(128))]
pub(super) struct Group<A: ActivationSet, T: Real, O> {
    lanes: LaneBlock<A, T>,
    pub(super) members: Vec<Member<A, T, O>>,
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
    /// A group of `members`, in lanes or (`in_lanes` false) stepped and
    /// fitted one by one with their own trainers.
    pub(super) fn new(
        members: Vec<(Network<A, T>, Trainer<T, O>)>,
        steps: u64,
        in_lanes: bool,
    ) -> Self {
        let mut members: Vec<Member<A, T, O>> = members
            .into_iter()
            .map(|(net, trainer)| Member {
                net,
                trainer,
                in_lanes,
            })
            .collect();
        let per_value = members[0].trainer.optimizer().state_per_value();
        let mut lanes = {
            let first = dense_layers(&mut members[0].net).expect("checked: dense layers");
            let refs: Vec<&Dense<A, T>> = first.iter().map(|d| &**d).collect();
            LaneBlock::new(&refs, per_value, steps)
        };
        let mut can_restore = [false; LANES];
        for (l, m) in members.iter_mut().enumerate().filter(|(_, m)| m.in_lanes) {
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

    /// Layers in the block.
    pub(super) fn depth(&self) -> usize {
        self.lanes.depth()
    }

    /// Whether a helper thread could take any of the block's weight gradients.
    pub(super) fn hands_off_any(&self) -> bool {
        self.lanes.hands_off_any()
    }

    /// Writes lane `l`'s parameters and optimiser state back to its member.
    pub(super) fn export(&mut self, l: usize) {
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
            (Ok(_), Some(cause)) => self.diverge(l, cause),
            (Err(e), _) => {
                self.retire(l);
                Err(e)
            }
        }
    }

    /// Member `l`'s loss `v` computed in the lanes ([`LaneBlock::mse_losses`],
    /// its gradient already in place): the step goes on, or the member leaves
    /// as [`loss_of`](Self::loss_of) would have it leave.
    fn settle(&mut self, l: usize, v: T) -> Result<T> {
        match self.members[l].trainer.loss_divergence(v.as_f64()) {
            None => Ok(v),
            Some(cause) => self.diverge(l, cause),
        }
    }

    /// Member `l`'s loss called divergence: it leaves the lanes and its
    /// trainer restores and reports, as a solo step's would.
    fn diverge(&mut self, l: usize, cause: crate::error::Divergence) -> Result<T> {
        self.retire(l);
        let m = &mut self.members[l];
        m.trainer.states_mut().restore(&mut m.net);
        Err(m.trainer.diverged(None, cause))
    }

    /// Whether the members' losses are computed in the lanes: mean squared
    /// error, whose per-lane arithmetic [`kernels::mse`](super::kernels::mse)
    /// repeats (every member of a block has the same loss).
    fn loss_in_lanes(&self) -> bool {
        self.members[0].trainer.loss() == Loss::Mse
    }

    /// Backward and update for every lane; members whose update went
    /// non-finite leave with the guard's error, as `report` receives it.
    fn backward_and_update(
        &mut self,
        handoff: Option<&GradHandoff<T>>,
        mut report: impl FnMut(usize, Error),
    ) {
        self.lanes.backward(handoff);
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

    pub(super) fn step(
        &mut self,
        batches: &[(MatRef<'_, T>, MatRef<'_, T>)],
        losses: &mut [Result<T>],
    ) {
        self.step_with(|l| batches[l], [true; LANES], losses, None);
    }

    /// Members' step sequences (`batches[l]` for member `l`), one step at a
    /// time; a member stops at its first failing step. With a `handoff`,
    /// the lanes' weight gradients are offered to a helper thread.
    pub(super) fn step_sequence(
        &mut self,
        batches: &[&[(MatRef<'_, T>, MatRef<'_, T>)]],
        losses: &mut [Result<T>],
        handoff: Option<&GradHandoff<T>>,
    ) {
        let mut going = self.sequence_start();
        let steps = batches.first().map_or(0, |b| b.len());
        for t in 0..steps {
            if let Some(h) = handoff {
                h.begin_step();
            }
            self.sequence_step(batches, t, &mut going, losses, handoff);
        }
    }

    /// Which members step at the start of a sequence: all of them.
    pub(super) fn sequence_start(&self) -> [bool; LANES] {
        let mut going = [false; LANES];
        going[..self.members.len()].fill(true);
        going
    }

    /// Step `t` of [`step_sequence`](Self::step_sequence): the members
    /// `going` marks step, and those whose step fails stop.
    pub(super) fn sequence_step(
        &mut self,
        batches: &[&[(MatRef<'_, T>, MatRef<'_, T>)]],
        t: usize,
        going: &mut [bool; LANES],
        losses: &mut [Result<T>],
        handoff: Option<&GradHandoff<T>>,
    ) {
        for (l, seq) in batches.iter().enumerate() {
            if let Some((x, y)) = seq.get(t + 1).filter(|_| going[l]) {
                prefetch_view(x);
                prefetch_view(y);
            }
        }
        self.step_with(|l| batches[l][t], *going, losses, handoff);
        for (g, loss) in going.iter_mut().zip(losses.iter()) {
            *g &= loss.is_ok();
        }
    }

    /// One step of the members `going` says step, member `l` on `batch(l)`.
    fn step_with<'b>(
        &mut self,
        batch: impl Fn(usize) -> (MatRef<'b, T>, MatRef<'b, T>),
        going: [bool; LANES],
        losses: &mut [Result<T>],
        handoff: Option<&GradHandoff<T>>,
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
                self.lanes.scatter_view(Feed::Inputs, l, &batch(l).0);
            }
        }
        self.lanes.forward();
        if self.loss_in_lanes() {
            let mut active = [false; LANES];
            for l in 0..m {
                if self.members[l].in_lanes {
                    self.lanes.scatter_view(Feed::Targets, l, &batch(l).1);
                    active[l] = true;
                }
            }
            let values = self.lanes.mse_losses(&active);
            for l in (0..m).filter(|&l| active[l]) {
                losses[l] = self.settle(l, values[l]);
            }
        } else {
            for l in 0..m {
                if !self.members[l].in_lanes {
                    continue;
                }
                let y = batch(l).1;
                self.target.resize(rows, outputs);
                for j in 0..outputs {
                    copy_col(&y, j, self.target.cols_mut(j, 1));
                }
                losses[l] = self.loss_of(l, rows, outputs);
            }
        }
        self.backward_and_update(handoff, |l, e| losses[l] = Err(e));
    }

    pub(super) fn fit(&mut self, data: &[&Dataset<T>]) -> Vec<Result<Vec<EpochStats>>> {
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
                    self.lanes.scatter_rows(
                        Feed::Inputs,
                        l,
                        x.as_slice(),
                        n,
                        trainer.batch_rows(start, end),
                    );
                }
            }
            self.lanes.forward();
            let in_lanes = self.loss_in_lanes();
            let mut values = [T::zero(); LANES];
            if in_lanes {
                let mut active = [false; LANES];
                for l in 0..self.members.len() {
                    if running(&progress[l]) && self.members[l].in_lanes {
                        // Straight from the data: the targets are gathered
                        // once, below, for the member's metrics.
                        let rows_of = self.members[l].trainer.batch_rows(start, end);
                        let y = data[l].y();
                        self.lanes
                            .scatter_rows(Feed::Targets, l, y.as_slice(), n, rows_of);
                        active[l] = true;
                    }
                }
                values = self.lanes.mse_losses(&active);
            }
            for l in 0..self.members.len() {
                if !running(&progress[l]) {
                    continue;
                }
                let rows_of = self.members[l].trainer.batch_rows(start, end);
                gather_rows(data[l].y(), rows_of, &mut self.target);
                let loss = if in_lanes {
                    self.pred.resize(rows * outputs, T::zero());
                    self.lanes.output(l, &mut self.pred);
                    self.settle(l, values[l])
                } else {
                    self.loss_of(l, rows, outputs)
                };
                match loss {
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
            self.backward_and_update(None, |l, e| {
                outcomes[l] = Some(Err(e));
                progress[l] = Progress::Done;
            });
        }
    }
}
