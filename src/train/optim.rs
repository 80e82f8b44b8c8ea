//! Optimisers: each updates one tensor at a time from its gradient and its
//! own state; [`ParamStates`] binds that state to the tensor's identity and
//! walks a layer tree.
//!
//! A new optimiser is one type and one method ([`Optimizer::update_tensor`]):
//! the walk, the state's allocation and lifetime, the rollback copy and the
//! divergence check are shared.

use std::sync::Mutex;

use rayon::prelude::*;

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::error::{check_hyper, Result};
use crate::layers::layer::{Layer, Param};
use crate::layers::tensor_id::TensorId;
use crate::layers::tree::for_each_top_level;

/// One tensor's update, as the walk hands it to an optimiser.
#[derive(Debug)]
pub struct TensorUpdate<'a, T> {
    /// The tensor, its gradient and its settings (weight decay, learning-rate scale).
    pub param: Param<'a, T>,
    /// The optimiser's state for this tensor: [`Optimizer::state_per_value`]
    /// values per parameter value, laid out as that many consecutive slices of
    /// `param.value.len()`; all zero the first time the tensor is seen (and
    /// whenever the tensor is new, for example after hardening).
    pub state: &'a mut [T],
    /// How many times this tensor has been updated, this update included (1 on the first).
    pub step: u64,
    /// Where each parameter's value from *before* this update goes, so the
    /// trainer can undo a step that diverged. The update must fill it.
    pub backup: &'a mut [T],
}

/// Something that updates a model's parameters from their gradients, one
/// tensor at a time.
///
/// The trait is object safe: a `Box<dyn Optimizer<f32>>` trains like any other.
pub trait Optimizer<T: Real>: Send {
    /// State values kept per parameter value (0 for plain SGD, 1 with momentum, 2 for Adam).
    fn state_per_value(&self) -> usize;

    /// Updates one tensor in place: writes each value's old value to
    /// `update.backup`, then the new value, and returns whether every new
    /// value is finite (fold the check into the update loop: it is free there).
    ///
    /// The trainer does not walk the gradients separately: a NaN or infinite
    /// gradient must leave a non-finite new value (as it does when it enters
    /// the update arithmetically), or this check is what misses it.
    fn update_tensor(&self, update: TensorUpdate<'_, T>) -> bool;

    /// The learning rate.
    fn learning_rate(&self) -> T;

    /// Changes the learning rate (for schedules).
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) unless finite and > 0.
    fn set_learning_rate(&mut self, lr: T) -> Result<()>;

    /// Whether this optimiser can update many networks at once in vector
    /// lanes ([`LaneEnsemble`](crate::LaneEnsemble)), and with which settings.
    ///
    /// Return `Some(settings)` only when [`update_tensor`](Self::update_tensor)
    /// is element-wise: value `i` is updated from value `i`, gradient `i` and
    /// state elements `j * n + i` (`j < state_per_value`, `n` the tensor's
    /// length) alone, by a rule fixed by `settings`, the tensor's `decay` and
    /// `lr_scale` and the step number. Two optimisers with equal settings
    /// must then update identically. The default, `None`, keeps an optimiser
    /// of your own on the one-network-at-a-time path.
    fn lane_settings(&self) -> Option<Vec<f64>> {
        None
    }
}

impl<T: Real, O: Optimizer<T> + ?Sized> Optimizer<T> for Box<O> {
    fn state_per_value(&self) -> usize {
        (**self).state_per_value()
    }
    fn update_tensor(&self, update: TensorUpdate<'_, T>) -> bool {
        (**self).update_tensor(update)
    }
    fn learning_rate(&self) -> T {
        (**self).learning_rate()
    }
    fn set_learning_rate(&mut self, lr: T) -> Result<()> {
        (**self).set_learning_rate(lr)
    }
    fn lane_settings(&self) -> Option<Vec<f64>> {
        (**self).lane_settings()
    }
}

/// Tensors of at least this many values are updated in parallel chunks on
/// rayon's pool. An update is element-wise (the same bits in any split) and
/// memory-bound: on a large tensor a second core adds bandwidth, which a
/// single-threaded update left idle while the products used both cores.
const PARALLEL_UPDATE: usize = 1 << 16;

/// Values per parallel chunk (64 KiB of f32).
const UPDATE_CHUNK: usize = 1 << 14;

fn check_weight_decay<T: Real>(wd: T) -> Result<()> {
    check_hyper(
        "weight decay",
        wd.as_f64(),
        wd >= T::zero(),
        "finite and >= 0",
    )
}

fn check_lr<T: Real>(lr: T) -> Result<()> {
    check_hyper(
        "learning rate",
        lr.as_f64(),
        lr > T::zero(),
        "finite and > 0",
    )
}

/// One tensor's optimiser state, rollback copy and step count, borrowed.
pub(crate) type EntryView<'a, T> = (&'a [T], &'a [T], u64);

/// One tensor's entry, owned: (tensor, steps, state, rollback copy).
pub(crate) type EntryParts<T> = (TensorId, u64, Vec<T>, Vec<T>);

/// One tensor's optimiser state and rollback copy.
#[derive(Debug, Clone)]
struct Entry<T> {
    id: TensorId,
    steps: u64,
    state: Vec<T>,
    backup: Vec<T>,
}

/// Optimiser state for every tensor of a model, bound to each tensor's
/// [`TensorId`], with the copy of the parameters before the last update.
///
/// The walk visits tensors in a fixed order, so the lookup is positional
/// with an identity check: a tensor whose identity does not match (a layer was
/// replaced, or this state meets another network) finds its own entry or
/// starts from zero state. A stale buffer is never reused, and in the steady
/// state nothing is allocated.
#[derive(Debug, Clone, Default)]
pub struct ParamStates<T> {
    entries: Vec<Entry<T>>,
    /// Whether `backup` holds the parameters before the last update, for every entry.
    can_restore: bool,
}

impl<T: Real> ParamStates<T> {
    /// No state yet.
    pub fn new() -> Self {
        ParamStates {
            entries: Vec::new(),
            can_restore: false,
        }
    }

    /// Forgets the rollback copy (the parameters were set another way since the last update).
    pub fn forget_backup(&mut self) {
        self.can_restore = false;
    }

    /// Forgets every tensor's state.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.can_restore = false;
    }

    /// The state entry for tensor `id`, expected at position `k`.
    fn entry(&mut self, k: usize, id: TensorId, len: usize, per_value: usize) -> &mut Entry<T> {
        if self.entries.get(k).is_none_or(|e| e.id != id) {
            match self.entries.iter().skip(k).position(|e| e.id == id) {
                Some(off) => self.entries.swap(k, k + off),
                None => {
                    let fresh = Entry {
                        id,
                        steps: 0,
                        state: Vec::new(),
                        backup: Vec::new(),
                    };
                    if k < self.entries.len() {
                        self.entries.insert(k, fresh);
                    } else {
                        self.entries.push(fresh);
                    }
                }
            }
        }
        let e = &mut self.entries[k];
        if e.state.len() != len * per_value || e.backup.len() != len {
            // Same identity, new size: cannot happen for mixact's layers (a
            // tensor's size is fixed), but a user's layer could; start afresh.
            e.state = vec![T::zero(); len * per_value];
            e.backup = vec![T::zero(); len];
            e.steps = 0;
        }
        e
    }

    /// Updates every tensor of `model` with `optimizer`. Returns the index
    /// of the first top-level layer (a network's layer i) that now holds a
    /// non-finite value, if any; every tensor is updated either way, so [`restore`](Self::restore)
    /// undoes the whole step.
    pub fn update<A, L, O>(&mut self, optimizer: &O, model: &mut L) -> Option<usize>
    where
        A: ActivationSet,
        L: Layer<A, T> + ?Sized,
        O: Optimizer<T> + ?Sized,
    {
        let per_value = optimizer.state_per_value();
        let mut k = 0;
        let mut first_bad = None;
        for_each_top_level(model, &mut |i, visit| {
            let mut finite = true;
            visit(&mut |p| {
                let e = self.entry(k, p.id, p.value.len(), per_value);
                e.steps += 1;
                finite &= optimizer.update_tensor(TensorUpdate {
                    param: p,
                    state: &mut e.state,
                    step: e.steps,
                    backup: &mut e.backup,
                });
                k += 1;
            });
            if !finite && first_bad.is_none() {
                first_bad = Some(i);
            }
        });
        self.entries.truncate(k);
        self.can_restore = true;
        first_bad
    }

    /// Puts back the parameters from before the last [`update`](Self::update).
    /// Returns false (and changes nothing) when there is no such update, or
    /// when the layers' tensors are not the ones last updated.
    pub fn restore<A: ActivationSet, L: Layer<A, T> + ?Sized>(&mut self, model: &mut L) -> bool {
        if !self.can_restore || !self.matches(model) {
            return false;
        }
        let mut k = 0;
        model.visit_params(&mut |p| {
            p.value.copy_from_slice(&self.entries[k].backup);
            k += 1;
        });
        self.can_restore = false;
        true
    }

    /// Whether a rollback copy is held (the last call was an update).
    pub(crate) fn can_restore(&self) -> bool {
        self.can_restore
    }

    /// Tensor `k`'s optimiser state, rollback copy and step count, when
    /// this state belongs to `model` (same tensors, `per_value` state values each).
    pub(crate) fn entry_of<A: ActivationSet, L: Layer<A, T> + ?Sized>(
        &self,
        model: &mut L,
        per_value: usize,
    ) -> Option<Vec<EntryView<'_, T>>> {
        if !self.matches(model)
            || self
                .entries
                .iter()
                .any(|e| e.state.len() != e.backup.len() * per_value)
        {
            return None;
        }
        Some(
            self.entries
                .iter()
                .map(|e| (&e.state[..], &e.backup[..], e.steps))
                .collect(),
        )
    }

    /// Replaces every entry: (tensor, steps, state, rollback copy), in the
    /// order [`update`](Self::update) visits the tensors.
    pub(crate) fn set_entries(
        &mut self,
        entries: impl Iterator<Item = EntryParts<T>>,
        can_restore: bool,
    ) {
        self.entries.clear();
        self.entries
            .extend(entries.map(|(id, steps, state, backup)| Entry {
                id,
                steps,
                state,
                backup,
            }));
        self.can_restore = can_restore;
    }

    fn matches<A: ActivationSet, L: Layer<A, T> + ?Sized>(&self, model: &mut L) -> bool {
        let mut k = 0;
        let mut ok = true;
        model.visit_params(&mut |p| {
            ok &= self
                .entries
                .get(k)
                .is_some_and(|e| e.id == p.id && e.backup.len() == p.value.len());
            k += 1;
        });
        ok && k == self.entries.len()
    }
}

/// Stochastic gradient descent with (heavy-ball) momentum and optional L2 weight decay.
///
/// `v = momentum · v + g + wd · w;  w -= lr · v` (PyTorch's convention).
/// With momentum 0 the step is `w -= lr · (g + wd · w)` and no velocity is
/// kept (its state stays zero), as PyTorch keeps no momentum buffer then.
#[derive(Debug, Clone)]
pub struct Sgd<T: Real = f32> {
    lr: T,
    momentum: T,
    weight_decay: T,
}

impl<T: Real> Sgd<T> {
    /// Plain SGD (momentum 0).
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) unless `lr` is finite and > 0.
    pub fn new(lr: T) -> Result<Self> {
        check_lr(lr)?;
        Ok(Sgd {
            lr,
            momentum: T::zero(),
            weight_decay: T::zero(),
        })
    }

    /// With momentum in [0, 1): `Sgd::new(0.1)?.with_momentum(0.9)?`.
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) for a bad `momentum`.
    pub fn with_momentum(mut self, momentum: T) -> Result<Self> {
        let m = momentum.as_f64();
        check_hyper("momentum", m, (0.0..1.0).contains(&m), "in [0, 1)")?;
        self.momentum = momentum;
        Ok(self)
    }

    /// Adds L2 weight decay (to weights, not biases).
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) unless finite and >= 0.
    pub fn weight_decay(mut self, wd: T) -> Result<Self> {
        check_weight_decay(wd)?;
        self.weight_decay = wd;
        Ok(self)
    }
}

impl<T: Real> Optimizer<T> for Sgd<T> {
    fn state_per_value(&self) -> usize {
        1
    }

    fn update_tensor(&self, u: TensorUpdate<'_, T>) -> bool {
        let p = u.param;
        let mu = self.momentum;
        let decay = if p.decay {
            self.weight_decay
        } else {
            T::zero()
        };
        let h = SgdStep {
            mu,
            decay,
            lr: self.lr * p.lr_scale,
        };
        let chunk =
            |w: &mut [T], g: &[T], v: &mut [T], backup: &mut [T]| sgd_chunk(w, g, v, backup, h);
        if p.value.len() < PARALLEL_UPDATE {
            return chunk(p.value, p.grad, u.state, u.backup);
        }
        p.value
            .par_chunks_mut(UPDATE_CHUNK)
            .zip(p.grad.par_chunks(UPDATE_CHUNK))
            .zip(u.state.par_chunks_mut(UPDATE_CHUNK))
            .zip(u.backup.par_chunks_mut(UPDATE_CHUNK))
            .map(|(((w, g), v), b)| chunk(w, g, v, b))
            .reduce(|| true, |a, b| a & b)
    }

    fn lane_settings(&self) -> Option<Vec<f64>> {
        Some(vec![
            self.lr.as_f64(),
            self.momentum.as_f64(),
            self.weight_decay.as_f64(),
        ])
    }

    fn learning_rate(&self) -> T {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: T) -> Result<()> {
        check_lr(lr)?;
        self.lr = lr;
        Ok(())
    }
}

/// Adam, and AdamW (decoupled weight decay) via [`Adam::adamw`].
///
/// The bias correction counts each tensor's own updates, so a tensor that
/// joins later (a hardened layer) starts its moments afresh, as with a new Adam.
#[derive(Debug, Clone)]
pub struct Adam<T: Real = f32> {
    lr: T,
    beta1: T,
    beta2: T,
    eps: T,
    weight_decay: T,
    corrections: CorrectionCache<T>,
}

/// Adam's last bias corrections, `(step, 1 - β1^step, 1 - β2^step)`. A
/// network's tensors are all at the same step, so the two `powi` (a loop
/// over the step's bits, 1.6% of the standard suite's samples) run once per
/// step instead of once per tensor. Behind a lock so `Adam` stays `Sync`;
/// a thread that finds it taken computes the values itself.
#[derive(Debug)]
struct CorrectionCache<T>(Mutex<Option<(u64, T, T)>>);

impl<T> Clone for CorrectionCache<T> {
    fn clone(&self) -> Self {
        CorrectionCache(Mutex::new(None))
    }
}

impl<T: Real> Adam<T> {
    /// Adam with betas (0.9, 0.999) and eps 1e-8.
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) for a bad `lr`.
    pub fn new(lr: T) -> Result<Self> {
        check_lr(lr)?;
        Ok(Adam {
            lr,
            beta1: T::lit(0.9),
            beta2: T::lit(0.999),
            eps: T::lit(1e-8),
            weight_decay: T::zero(),
            corrections: CorrectionCache(Mutex::new(None)),
        })
    }

    /// With chosen betas (each in [0, 1)) and eps (> 0):
    /// `Adam::new(1e-3)?.with_betas(0.9, 0.98, 1e-6)?`.
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) naming the bad value.
    pub fn with_betas(mut self, beta1: T, beta2: T, eps: T) -> Result<Self> {
        for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
            let b = b.as_f64();
            check_hyper(name, b, (0.0..1.0).contains(&b), "in [0, 1)")?;
        }
        check_hyper("eps", eps.as_f64(), eps > T::zero(), "finite and > 0")?;
        self.beta1 = beta1;
        self.beta2 = beta2;
        self.eps = eps;
        self.corrections = CorrectionCache(Mutex::new(None));
        Ok(self)
    }

    /// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay
    /// `w -= lr · wd · w` on weights (not biases).
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) for a bad `lr` or `weight_decay`.
    pub fn adamw(lr: T, weight_decay: T) -> Result<Self> {
        let mut a = Self::new(lr)?;
        check_weight_decay(weight_decay)?;
        a.weight_decay = weight_decay;
        Ok(a)
    }
}

impl<T: Real> Adam<T> {
    /// `(1 - β1^step, 1 - β2^step)`: the cached pair when it is this step's.
    fn bias_corrections(&self, step: u64) -> (T, T) {
        let mut cache = self.corrections.0.try_lock().ok();
        if let Some(&Some((cached, c1, c2))) = cache.as_deref() {
            if cached == step {
                return (c1, c2);
            }
        }
        let t = i32::try_from(step).unwrap_or(i32::MAX);
        let c1 = T::one() - self.beta1.powi(t);
        let c2 = T::one() - self.beta2.powi(t);
        if let Some(cache) = cache.as_deref_mut() {
            *cache = Some((step, c1, c2));
        }
        (c1, c2)
    }
}

impl<T: Real> Optimizer<T> for Adam<T> {
    fn state_per_value(&self) -> usize {
        2
    }

    fn update_tensor(&self, u: TensorUpdate<'_, T>) -> bool {
        let p = u.param;
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let (c1, c2) = self.bias_corrections(u.step);
        let lr = self.lr * p.lr_scale;
        let step = lr / c1;
        let decay = if p.decay {
            lr * self.weight_decay
        } else {
            T::zero()
        };
        let n = p.value.len();
        let (ms, vs) = u.state.split_at_mut(n);
        let h = AdamStep {
            b1,
            b2,
            eps,
            c2,
            step,
            decay,
        };
        let chunk = |w: &mut [T], g: &[T], ms: &mut [T], vs: &mut [T], backup: &mut [T]| {
            adam_chunk(w, (g, ms), vs, backup, h)
        };
        if n < PARALLEL_UPDATE {
            return chunk(p.value, p.grad, ms, vs, u.backup);
        }
        p.value
            .par_chunks_mut(UPDATE_CHUNK)
            .zip(p.grad.par_chunks(UPDATE_CHUNK))
            .zip(ms.par_chunks_mut(UPDATE_CHUNK))
            .zip(vs.par_chunks_mut(UPDATE_CHUNK))
            .zip(u.backup.par_chunks_mut(UPDATE_CHUNK))
            .map(|((((w, g), m), v), b)| chunk(w, g, m, v, b))
            .reduce(|| true, |a, b| a & b)
    }

    fn lane_settings(&self) -> Option<Vec<f64>> {
        Some(vec![
            self.lr.as_f64(),
            self.beta1.as_f64(),
            self.beta2.as_f64(),
            self.eps.as_f64(),
            self.weight_decay.as_f64(),
        ])
    }

    fn learning_rate(&self) -> T {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: T) -> Result<()> {
        check_lr(lr)?;
        self.lr = lr;
        Ok(())
    }
}

/// One SGD step's constants for a tensor.
#[derive(Debug, Clone, Copy)]
struct SgdStep<T> {
    mu: T,
    decay: T,
    lr: T,
}

/// One SGD update of a run of values; whether every new value is finite.
/// Compiled for the widest vectors the CPU has ([`multiversion`]): the
/// baseline build ran it four values at a time, and on a 784-512-512-10
/// step it was an eighth of the time. Same operations, same bits on every path.
///
/// [`multiversion`]: crate::compute::cpu::multiversion
#[inline(always)]
fn sgd_chunk_body<T: Real>(
    w: &mut [T],
    g: &[T],
    v: &mut [T],
    backup: &mut [T],
    h: SgdStep<T>,
) -> bool {
    let mut finite = true;
    if h.mu == T::zero() {
        // No momentum: the velocity would be this step's gradient alone, so
        // it is neither read nor kept (two of the update's six memory
        // streams; the update of a 784-512-512-10 step is memory-bound).
        // The sum is the one below with its `0 · v` term left out: the same
        // bits, but for the sign of an exactly zero step (which can change
        // only a weight that is exactly -0.0), and a velocity left
        // non-finite by a diverged step no longer poisons the steps after it.
        for ((w, &g), old) in w.iter_mut().zip(g).zip(backup) {
            *old = *w;
            *w -= h.lr * (g + h.decay * *w);
            finite &= w.is_finite();
        }
        return finite;
    }
    for (((w, &g), v), old) in w.iter_mut().zip(g).zip(v).zip(backup) {
        *old = *w;
        *v = h.mu * *v + g + h.decay * *w;
        *w -= h.lr * *v;
        finite &= w.is_finite();
    }
    finite
}

crate::compute::cpu::multiversion! {
    fn sgd_chunk<T: Real>(w: &mut [T], g: &[T], v: &mut [T], backup: &mut [T], h: SgdStep<T>) -> bool => sgd_chunk_body
}

/// One Adam step's constants for a tensor.
#[derive(Debug, Clone, Copy)]
struct AdamStep<T> {
    b1: T,
    b2: T,
    eps: T,
    c2: T,
    step: T,
    decay: T,
}

/// One Adam update of a run of values (`gm`: gradients and first moments);
/// whether every new value is finite. Vectorised as [`sgd_chunk_body`].
#[inline(always)]
fn adam_chunk_body<T: Real>(
    w: &mut [T],
    gm: (&[T], &mut [T]),
    vs: &mut [T],
    backup: &mut [T],
    h: AdamStep<T>,
) -> bool {
    let (g, ms) = gm;
    let mut finite = true;
    for ((((w, &g), m), v), old) in w.iter_mut().zip(g).zip(ms).zip(vs).zip(backup) {
        *old = *w;
        *m = h.b1 * *m + (T::one() - h.b1) * g;
        *v = h.b2 * *v + (T::one() - h.b2) * g * g;
        *w -= h.decay * *w;
        *w -= h.step * *m / ((*v / h.c2).sqrt() + h.eps);
        finite &= w.is_finite();
    }
    finite
}

crate::compute::cpu::multiversion! {
    fn adam_chunk<T: Real>(w: &mut [T], gm: (&[T], &mut [T]), vs: &mut [T], backup: &mut [T], h: AdamStep<T>) -> bool => adam_chunk_body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(adam: &Adam<f32>, step: u64) -> (u32, u32) {
        let t = i32::try_from(step).unwrap();
        let c1 = 1.0 - adam.beta1.powi(t);
        let c2 = 1.0 - adam.beta2.powi(t);
        (c1.to_bits(), c2.to_bits())
    }

    #[test]
    fn cached_bias_corrections_equal_fresh_ones_in_any_step_order() {
        let adam = Adam::new(1e-3f32).unwrap();
        for step in [1, 1, 2, 2, 7, 3, 3, 1000, 7] {
            let (c1, c2) = adam.bias_corrections(step);
            assert_eq!(
                (c1.to_bits(), c2.to_bits()),
                fresh(&adam, step),
                "step {step}"
            );
        }
    }

    #[test]
    fn optimisers_can_be_shared_between_threads() {
        fn shareable<O: Send + Sync>() {}
        shareable::<Adam<f32>>();
        shareable::<Sgd<f64>>();
    }

    #[test]
    fn new_betas_forget_the_cached_corrections() {
        let adam = Adam::new(1e-3f32).unwrap();
        adam.bias_corrections(4);
        let adam = adam.with_betas(0.5, 0.6, 1e-6).unwrap();
        let (c1, c2) = adam.bias_corrections(4);
        assert_eq!((c1.to_bits(), c2.to_bits()), fresh(&adam, 4));
    }
}
