//! One lane block: up to [`LANES`] networks of one architecture (a chain of
//! [`Dense`] layers with equal activation masks), their parameters,
//! gradients, optimiser state and activations widened to one lane each.
//!
//! A block knows nothing of members or trainers: it loads and stores a
//! lane, runs forward, backward and the optimiser update over every lane,
//! and says which lanes went non-finite. A lane that holds no member has
//! zero parameters, zero state, zero input and zero upstream gradient, so
//! it stays finite and never trips the update's finiteness check.

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::error::Divergence;
use crate::layers::dense::Dense;
use crate::layers::layer::{Layer, Param};
use crate::layers::plan::Plan;
use crate::layers::tensor_id::OwnedTensorId;
use crate::train::optim::{Optimizer, TensorUpdate};

use super::handoff::{GradHandoff, JobBuffers};
use super::kernels::{self, Shape, LANES};
use crate::compute::aligned::AlignedVec;

/// Writes `solo` into lane `l` of `lanes` (element `i` to `i · LANES + l`).
pub(crate) fn put_lane<T: Copy>(lanes: &mut [T], l: usize, solo: &[T]) {
    for (i, &v) in solo.iter().enumerate() {
        lanes[i * LANES + l] = v;
    }
}

/// Reads lane `l` of `lanes` into `solo`.
pub(crate) fn get_lane<T: Copy>(lanes: &[T], l: usize, solo: &mut [T]) {
    for (i, v) in solo.iter_mut().enumerate() {
        *v = lanes[i * LANES + l];
    }
}

/// Writes `solo`, rows of `inputs` values, into lane `l` of `lanes`, rows
/// of `row` runs (a widened weight tensor, or its optimiser state, with
/// [`kernels::weight_row`]'s spare run; the spare runs stay as they are).
fn put_padded<T: Copy>(lanes: &mut [T], l: usize, solo: &[T], inputs: usize, row: usize) {
    for (r, chunk) in solo.chunks_exact(inputs).enumerate() {
        for (p, &v) in chunk.iter().enumerate() {
            lanes[(r * row + p) * LANES + l] = v;
        }
    }
}

/// Reads what [`put_padded`] writes.
fn get_padded<T: Copy>(lanes: &[T], l: usize, solo: &mut [T], inputs: usize, row: usize) {
    for (r, chunk) in solo.chunks_exact_mut(inputs).enumerate() {
        for (p, v) in chunk.iter_mut().enumerate() {
            *v = lanes[(r * row + p) * LANES + l];
        }
    }
}

/// Writes the column-major `batch x n` matrix `solo` into lane `l` of the
/// `[column][row][lane]` buffer `lanes` with `stride` rows per column.
fn put_rows<T: Copy>(lanes: &mut [T], l: usize, stride: usize, solo: &[T], batch: usize) {
    for (u, col) in solo.chunks_exact(batch).enumerate() {
        put_column(lanes, l, u * stride, batch, col.iter().copied());
    }
}

/// Reads what [`put_rows`] writes.
fn get_rows<T: Copy>(lanes: &[T], l: usize, stride: usize, solo: &mut [T], batch: usize) {
    for (u, col) in solo.chunks_exact_mut(batch).enumerate() {
        for (b, v) in col.iter_mut().enumerate() {
            *v = lanes[(u * stride + b) * LANES + l];
        }
    }
}

/// Writes `batch` values into lane `l` of rows `first..first + batch` of the
/// `[row][lane]` buffer `lanes` (one column of a widened batch).
fn put_column<T: Copy>(
    lanes: &mut [T],
    l: usize,
    first: usize,
    batch: usize,
    values: impl Iterator<Item = T>,
) {
    assert!(l < LANES, "lane {l} of {LANES}");
    let runs = &mut lanes[first * LANES..(first + batch) * LANES];
    for (run, v) in runs.chunks_exact_mut(LANES).zip(values) {
        run[l] = v;
    }
}

fn fill_lane<T: Copy>(lanes: &mut [T], l: usize, value: T) {
    for run in lanes.chunks_exact_mut(LANES) {
        run[l] = value;
    }
}

fn lane_finite<T: Real>(lanes: &[T], l: usize) -> bool {
    lanes.chunks_exact(LANES).all(|run| run[l].is_finite())
}

/// Whether a layer's weight gradients are worth a helper thread: their
/// work grows with inputs x outputs, the data the helper must fetch from
/// this core's caches (the input and the pre-activation gradient) with
/// inputs + outputs. Handing off a 32 -> 1 output layer's job too (64 KiB
/// moved for 32 multiply-adds a row) gave 3.31-3.44 ms per 100 steps of
/// 20 members against 3.25-3.36 without it (`step_times lanes 20`,
/// alternating). The first layer's are never handed off: it reads the
/// batch, whose lanes [`LaneBlock::clear_lane`] zeroes for good, so that
/// buffer must stay put (a handed-off job's input may be exchanged).
fn worth_handing_off(layer: usize, inputs: usize, outputs: usize) -> bool {
    layer > 0 && inputs * outputs >= 8 * (inputs + outputs)
}

/// Which widened batch buffer a scatter writes: the first layer's inputs,
/// or the targets of the losses computed in lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feed {
    Inputs,
    Targets,
}

/// One dense layer, widened.
#[derive(Debug, Clone)]
struct LaneLayer<A, T> {
    plan: Plan<A>,
    inputs: usize,
    outputs: usize,
    /// Weights `[s][p][lane]` (the solo storage order, inputs fastest, with
    /// `row` runs per neuron: see [`kernels::weight_row`]), biases `[s][lane]`.
    w: AlignedVec<T>,
    b: AlignedVec<T>,
    gw: AlignedVec<T>,
    gb: AlignedVec<T>,
    row: usize,
    /// Pre-activations `[s][b][lane]` (storage order), outputs `[u][b][lane]`
    /// (user order), `stride` rows per neuron.
    z: AlignedVec<T>,
    y: AlignedVec<T>,
    dz: AlignedVec<T>,
    /// Input gradient `[p][b][lane]`.
    dx: AlignedVec<T>,
}

/// The optimiser's state and rollback copy of one widened tensor.
#[derive(Debug)]
struct LaneState<T> {
    id: OwnedTensorId,
    state: AlignedVec<T>,
    backup: AlignedVec<T>,
}

/// Up to [`LANES`] networks, widened (see the module docs).
#[derive(Debug)]
pub(crate) struct LaneBlock<A, T> {
    layers: Vec<LaneLayer<A, T>>,
    /// Two per layer: weight, then bias (the order `ParamStates` keeps).
    states: Vec<LaneState<T>>,
    per_value: usize,
    /// Updates so far (one count for every lane, as each member's optimiser
    /// would have counted them).
    steps: u64,
    batch: usize,
    /// Rows stored per neuron in every activation buffer ([`kernels::row_stride`]).
    stride: usize,
    /// The batch's inputs, `[p][b][lane]`.
    x: AlignedVec<T>,
    /// The loss gradient, `[o][b][lane]`.
    dy: AlignedVec<T>,
    /// The batch's targets, `[o][b][lane]` (for the losses computed in lanes).
    t: AlignedVec<T>,
}

impl<A: ActivationSet, T: Real> LaneBlock<A, T> {
    /// An empty block shaped like `layers` (every lane zero), for an
    /// optimiser with `per_value` state values per parameter.
    pub(crate) fn new(layers: &[&Dense<A, T>], per_value: usize, steps: u64) -> Self {
        let layers: Vec<LaneLayer<A, T>> = layers
            .iter()
            .map(|d| {
                let (inputs, outputs) = (d.input_width(), d.output_width());
                let row = kernels::weight_row(inputs);
                LaneLayer {
                    plan: d.plan().clone(),
                    inputs,
                    outputs,
                    w: AlignedVec::filled(row * outputs * LANES, T::zero()),
                    b: AlignedVec::filled(outputs * LANES, T::zero()),
                    gw: AlignedVec::filled(row * outputs * LANES, T::zero()),
                    gb: AlignedVec::filled(outputs * LANES, T::zero()),
                    row,
                    z: AlignedVec::default(),
                    y: AlignedVec::default(),
                    dz: AlignedVec::default(),
                    dx: AlignedVec::default(),
                }
            })
            .collect();
        let states = layers
            .iter()
            .flat_map(|layer| [layer.w.len(), layer.b.len()])
            .map(|n| LaneState {
                id: OwnedTensorId::new(),
                state: AlignedVec::filled(n * per_value, T::zero()),
                backup: AlignedVec::filled(n, T::zero()),
            })
            .collect();
        LaneBlock {
            layers,
            states,
            per_value,
            steps,
            batch: 0,
            stride: 0,
            x: AlignedVec::default(),
            dy: AlignedVec::default(),
            t: AlignedVec::default(),
        }
    }

    /// Layers in the block.
    pub(crate) fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Whether any layer's weight gradients are [`worth_handing_off`] (else
    /// a helper thread would have nothing to do).
    pub(crate) fn hands_off_any(&self) -> bool {
        (self.layers.iter().enumerate()).any(|(i, l)| worth_handing_off(i, l.inputs, l.outputs))
    }

    pub(crate) fn steps(&self) -> u64 {
        self.steps
    }

    fn tensor(&self, k: usize) -> &[T] {
        let layer = &self.layers[k / 2];
        if k.is_multiple_of(2) {
            &layer.w
        } else {
            &layer.b
        }
    }

    /// Tensor `k`'s solo row length and widened row length in runs (the
    /// weights have a spare run per row, the biases none).
    fn rows_of(&self, k: usize) -> (usize, usize) {
        let layer = &self.layers[k / 2];
        if k.is_multiple_of(2) {
            (layer.inputs, layer.row)
        } else {
            (1, 1)
        }
    }

    fn tensor_mut(&mut self, k: usize) -> &mut [T] {
        let layer = &mut self.layers[k / 2];
        if k.is_multiple_of(2) {
            &mut layer.w
        } else {
            &mut layer.b
        }
    }

    /// Copies the parameters of `net`'s dense layers into lane `l`.
    pub(crate) fn load_params(&mut self, l: usize, dense: &mut [&mut Dense<A, T>]) {
        for (layer, d) in self.layers.iter_mut().zip(dense) {
            let (w, b) = d.params_mut();
            put_padded(&mut layer.w, l, w, layer.inputs, layer.row);
            put_lane(&mut layer.b, l, b);
        }
    }

    /// Copies lane `l`'s parameters into `net`'s dense layers.
    pub(crate) fn store_params(&self, l: usize, dense: &mut [&mut Dense<A, T>]) {
        for (layer, d) in self.layers.iter().zip(dense) {
            let (w, b) = d.params_mut();
            get_padded(&layer.w, l, w, layer.inputs, layer.row);
            get_lane(&layer.b, l, b);
        }
    }

    /// Sets lane `l`'s optimiser state and rollback copy, tensor by tensor.
    pub(crate) fn load_states(&mut self, l: usize, entries: &[(&[T], &[T], u64)]) {
        for (k, (state, backup, _)) in entries.iter().enumerate().take(self.states.len()) {
            let (inputs, row) = self.rows_of(k);
            let st = &mut self.states[k];
            // The state's planes are whole rows, so one row mapping serves them all.
            put_padded(&mut st.state, l, state, inputs, row);
            put_padded(&mut st.backup, l, backup, inputs, row);
        }
    }

    /// Lane `l`'s optimiser state and rollback copy, tensor by tensor.
    pub(crate) fn store_states(&self, l: usize) -> Vec<(Vec<T>, Vec<T>)> {
        self.states
            .iter()
            .enumerate()
            .map(|(k, st)| {
                let (inputs, row) = self.rows_of(k);
                let solo = |widened: usize| widened / LANES / row * inputs;
                let mut state = vec![T::zero(); solo(st.state.len())];
                let mut backup = vec![T::zero(); solo(st.backup.len())];
                get_padded(&st.state, l, &mut state, inputs, row);
                get_padded(&st.backup, l, &mut backup, inputs, row);
                (state, backup)
            })
            .collect()
    }

    /// Empties lane `l`: zero parameters, state, rollback copy, input and
    /// upstream gradient, so it stays finite while the other lanes train.
    pub(crate) fn clear_lane(&mut self, l: usize) {
        let zero = T::zero();
        for layer in &mut self.layers {
            for buf in [&mut layer.w, &mut layer.b, &mut layer.gw, &mut layer.gb] {
                fill_lane(buf, l, zero);
            }
        }
        for st in &mut self.states {
            fill_lane(&mut st.state, l, zero);
            fill_lane(&mut st.backup, l, zero);
        }
        fill_lane(&mut self.x, l, zero);
        fill_lane(&mut self.dy, l, zero);
        fill_lane(&mut self.t, l, zero);
    }

    /// Puts back lane `l`'s parameters from before the last update.
    pub(crate) fn restore_lane(&mut self, l: usize) {
        for k in 0..self.states.len() {
            let n = self.states[k].backup.len() / LANES;
            let mut old = vec![T::zero(); n];
            // Widened layout on both sides: spare runs copy their zeros.
            get_lane(&self.states[k].backup, l, &mut old);
            put_lane(self.tensor_mut(k), l, &old);
        }
    }

    /// Whether a batch of `batch` rows keeps every widened buffer within
    /// [`MAX_ELEMENTS`](crate::limits::MAX_ELEMENTS) (sixteen times a solo
    /// layer's buffers; a batch too large for lanes trains alone instead).
    pub(crate) fn fits_batch(&self, batch: usize) -> bool {
        self.layers.iter().all(|layer| {
            let width = layer.inputs.max(layer.outputs);
            let stride = kernels::row_stride(batch);
            crate::limits::elements("lane activations", &[stride, width, LANES]).is_ok()
        })
    }

    /// Shapes the activation buffers for a batch of `batch` rows. Buffers
    /// keep their capacity, so a repeated batch size allocates nothing; a
    /// lane's entries stay in that lane across sizes (a zeroed lane stays zero).
    pub(crate) fn set_batch(&mut self, batch: usize) {
        if batch == self.batch {
            return;
        }
        self.batch = batch;
        let stride = kernels::row_stride(batch);
        self.stride = stride;
        let zero = T::zero();
        let inputs = self.layers[0].inputs;
        let outputs = self.layers[self.layers.len() - 1].outputs;
        self.x.resize(inputs * stride * LANES, zero);
        self.dy.resize(outputs * stride * LANES, zero);
        self.t.resize(outputs * stride * LANES, zero);
        for layer in &mut self.layers {
            let (o, i) = (
                layer.outputs * stride * LANES,
                layer.inputs * stride * LANES,
            );
            layer.z.resize(o, zero);
            layer.y.resize(o, zero);
            layer.dz.resize(o, zero);
            layer.dx.resize(i, zero);
        }
    }

    fn feed_mut(&mut self, which: Feed) -> &mut AlignedVec<T> {
        match which {
            Feed::Inputs => &mut self.x,
            Feed::Targets => &mut self.t,
        }
    }

    /// Lane `l`'s inputs or targets: rows `rows` of the column-major
    /// `n x columns` data `data`.
    pub(crate) fn scatter_rows(
        &mut self,
        which: Feed,
        l: usize,
        data: &[T],
        n: usize,
        rows: &[usize],
    ) {
        let (batch, stride) = (self.batch, self.stride);
        let buf = self.feed_mut(which);
        for (p, col) in data.chunks_exact(n).enumerate() {
            put_column(buf, l, p * stride, batch, rows.iter().map(|&r| col[r]));
        }
    }

    /// Lane `l`'s inputs or targets from a matrix view of `batch x columns`.
    pub(crate) fn scatter_view(
        &mut self,
        which: Feed,
        l: usize,
        view: &crate::compute::matrix::MatRef<'_, T>,
    ) {
        let (batch, stride) = (self.batch, self.stride);
        let buf = self.feed_mut(which);
        // A contiguous view (every batch a user hands in, as a rule) is
        // read as slices. With the batch's lines prefetched (see
        // `Group::step_sequence`) this loop took 1.6% of a tiny network's
        // lane step; through nalgebra's column iterators, as the other arm
        // reads, 6% (`perf`, one block of 16).
        match crate::compute::matrix::contiguous(view) {
            Some(data) => {
                for (p, col) in data.chunks_exact(batch).enumerate() {
                    put_column(buf, l, p * stride, batch, col.iter().copied());
                }
            }
            None => {
                for p in 0..view.ncols() {
                    put_column(buf, l, p * stride, batch, view.column(p).iter().copied());
                }
            }
        }
    }

    /// Every lane through every layer: affine map, then each activation
    /// block over its neurons' contiguous runs (as `Dense::forward`).
    pub(crate) fn forward(&mut self) {
        let (run, at) = (self.batch * LANES, self.stride * LANES);
        for i in 0..self.layers.len() {
            let (done, rest) = self.layers.split_at_mut(i);
            let layer = &mut rest[0];
            let input = done.last().map_or(&self.x[..], |prev| &prev.y[..]);
            let shape = Shape::layer(self.batch, self.stride, layer.inputs, layer.outputs);
            kernels::forward(input, &layer.w, &layer.b, &mut layer.z, shape);
            for blk in layer.plan.blocks() {
                for s in blk.start..blk.start + blk.len {
                    let u = layer.plan.user_index(s);
                    blk.act.forward(
                        &layer.z[s * at..s * at + run],
                        &mut layer.y[u * at..u * at + run],
                    );
                }
            }
        }
    }

    /// Lane `l`'s network output, column-major `batch x outputs`.
    pub(crate) fn output(&self, l: usize, out: &mut [T]) {
        let y = &self.layers[self.layers.len() - 1].y;
        get_rows(y, l, self.stride, out, self.batch);
    }

    /// The mean squared error of every lane's last forward pass against
    /// its targets ([`Feed::Targets`]), each lane's
    /// value and gradient exactly as `Loss::Mse` gives them for its member;
    /// the gradient goes to the lanes `active` marks, zero to the others.
    pub(crate) fn mse_losses(&mut self, active: &[bool; LANES]) -> [T; LANES] {
        let last = self.layers.len() - 1;
        let outputs = self.layers[last].outputs;
        let losses = kernels::mse(
            &self.layers[last].y,
            &self.t,
            &mut self.dy,
            (self.batch, self.stride, outputs),
        );
        for (l, _) in active.iter().enumerate().filter(|(_, &on)| !on) {
            fill_lane(&mut self.dy, l, T::zero());
        }
        losses
    }

    /// Sets lane `l`'s loss gradient (column-major `batch x outputs`).
    pub(crate) fn set_output_grad(&mut self, l: usize, grad: &[T]) {
        put_rows(&mut self.dy, l, self.stride, grad, self.batch);
    }

    /// Every lane back through every layer: activation derivatives, then
    /// the parameter gradients and (below the first layer) the input gradient.
    /// With a `handoff`, the parameter gradients of every layer
    /// [`worth_handing_off`] are offered to a helper thread, which may
    /// compute them while this one goes on; all are in place when this
    /// returns (the layer's input and `dz` buffers may have been exchanged
    /// for others: see [`GradHandoff::finish`]).
    pub(crate) fn backward(&mut self, handoff: Option<&GradHandoff<T>>) {
        let (run, at) = (self.batch * LANES, self.stride * LANES);
        for i in (0..self.layers.len()).rev() {
            let (before, rest) = self.layers.split_at_mut(i);
            let (current, after) = rest.split_at_mut(1);
            let layer = &mut current[0];
            let input = before.last().map_or(&self.x[..], |prev| &prev.y[..]);
            let dy = after.first().map_or(&self.dy[..], |next| &next.dx[..]);
            for blk in layer.plan.blocks() {
                for s in blk.start..blk.start + blk.len {
                    let u = layer.plan.user_index(s);
                    blk.act.backward(
                        &layer.z[s * at..s * at + run],
                        &layer.y[u * at..u * at + run],
                        &dy[u * at..u * at + run],
                        &mut layer.dz[s * at..s * at + run],
                    );
                }
            }
            let shape = Shape::layer(self.batch, self.stride, layer.inputs, layer.outputs);
            let offered = match handoff {
                // SAFETY: until `finish` below, this loop only reads this
                // layer's `dz` and the input (the layers below write their
                // own `dz` and `dx`), and the buffers are not resized.
                Some(h) if worth_handing_off(i, layer.inputs, layer.outputs) => unsafe {
                    h.publish(i, input, &layer.dz, (layer.gw.len(), layer.gb.len()), shape)
                },
                _ => false,
            };
            if !offered {
                kernels::param_grads(input, &layer.dz, &mut layer.gw, &mut layer.gb, shape);
            }
            if i > 0 {
                kernels::input_grad(&layer.dz, &layer.w, &mut layer.dx, shape);
            }
        }
        if let Some(h) = handoff {
            for i in 1..self.layers.len() {
                let (before, rest) = self.layers.split_at_mut(i);
                let (prev, layer) = (&mut before[i - 1], &mut rest[0]);
                h.finish(
                    i,
                    JobBuffers {
                        input: &mut prev.y,
                        dz: &mut layer.dz,
                        gw: &mut layer.gw,
                        gb: &mut layer.gb,
                    },
                );
            }
        }
    }

    /// One optimiser update of every lane (the optimiser is element-wise, so
    /// each lane gets exactly its solo update). True when every value is finite.
    pub(crate) fn update<O: Optimizer<T> + ?Sized>(&mut self, optimizer: &O) -> bool {
        debug_assert_eq!(optimizer.state_per_value(), self.per_value);
        self.steps += 1;
        let step = self.steps;
        let mut finite = true;
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let tensors = [
                ("weight", &mut layer.w, &layer.gw, true),
                ("bias", &mut layer.b, &layer.gb, false),
            ];
            for (j, (name, value, grad, decay)) in tensors.into_iter().enumerate() {
                let st = &mut self.states[2 * i + j];
                finite &= optimizer.update_tensor(TensorUpdate {
                    param: Param {
                        name,
                        id: st.id.id(),
                        value,
                        grad,
                        decay,
                        lr_scale: T::one(),
                    },
                    state: &mut st.state,
                    step,
                    backup: &mut st.backup,
                });
            }
        }
        finite
    }

    /// After an update that was not finite: lane `l`'s failure, if it has
    /// one, as the solo guard reports it (the first layer with a non-finite
    /// gradient, else the first with a non-finite parameter).
    pub(crate) fn lane_failure(&self, l: usize) -> Option<(usize, Divergence)> {
        let bad_value = (0..self.layers.len())
            .find(|&i| !(0..2).all(|j| lane_finite(self.tensor(2 * i + j), l)))?;
        let bad_grad = self
            .layers
            .iter()
            .position(|layer| !lane_finite(&layer.gw, l) || !lane_finite(&layer.gb, l));
        Some(match bad_grad {
            Some(i) => (i, Divergence::NonFiniteGradient),
            None => (bad_value, Divergence::NonFiniteParameter),
        })
    }
}
