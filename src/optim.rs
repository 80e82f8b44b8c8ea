//! Optimisers: SGD with momentum, Adam and AdamW, their state held explicitly.
//!
//! State is one buffer per parameter tensor, in the order of the parameter
//! walk; it is allocated on the first step and reused afterwards.

use crate::activation::ActivationSet;
use crate::error::{check_hyper, Result};
use crate::layer::{Layer, Param};
use crate::real::Real;

/// Something that updates a model's parameters from their gradients.
pub trait Optimizer<T: Real> {
    /// Applies one update to every parameter of `model`, from the gradients
    /// of its last backward pass.
    fn step<A: ActivationSet, L: Layer<A, T> + ?Sized>(&mut self, model: &mut L);

    /// The learning rate.
    fn learning_rate(&self) -> T;

    /// Changes the learning rate (for schedules).
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) unless finite and > 0.
    fn set_learning_rate(&mut self, lr: T) -> Result<()>;
}

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

/// Makes `state` hold one zeroed buffer per tensor, sized like the walk's tensors.
fn ensure_state<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    state: &mut Vec<Vec<T>>,
    model: &mut L,
) {
    let mut i = 0;
    model.visit_params(&mut |p: Param<'_, T>| {
        if state.len() <= i {
            state.push(Vec::new());
        }
        if state[i].len() != p.value.len() {
            state[i] = vec![T::zero(); p.value.len()];
        }
        i += 1;
    });
}

/// Stochastic gradient descent with (heavy-ball) momentum and optional L2 weight decay.
///
/// `v = momentum · v + g + wd · w;  w -= lr · v` (PyTorch's convention).
#[derive(Debug, Clone)]
pub struct Sgd<T: Real = f32> {
    lr: T,
    momentum: T,
    weight_decay: T,
    velocity: Vec<Vec<T>>,
}

impl<T: Real> Sgd<T> {
    /// Plain SGD (momentum 0).
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) unless `lr` is finite and > 0.
    pub fn new(lr: T) -> Result<Self> {
        Self::with_momentum(lr, T::zero())
    }

    /// SGD with momentum in [0, 1).
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) for a bad `lr` or `momentum`.
    pub fn with_momentum(lr: T, momentum: T) -> Result<Self> {
        check_lr(lr)?;
        let m = momentum.as_f64();
        check_hyper("momentum", m, (0.0..1.0).contains(&m), "in [0, 1)")?;
        Ok(Sgd {
            lr,
            momentum,
            weight_decay: T::zero(),
            velocity: Vec::new(),
        })
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
    fn step<A: ActivationSet, L: Layer<A, T> + ?Sized>(&mut self, model: &mut L) {
        ensure_state(&mut self.velocity, model);
        let (lr, mu, wd) = (self.lr, self.momentum, self.weight_decay);
        let mut i = 0;
        let velocity = &mut self.velocity;
        model.visit_params(&mut |p| {
            let v = &mut velocity[i];
            let decay = if p.decay { wd } else { T::zero() };
            let lr = lr * p.lr_scale;
            for ((w, &g), v) in p.value.iter_mut().zip(p.grad).zip(v.iter_mut()) {
                *v = mu * *v + g + decay * *w;
                *w -= lr * *v;
            }
            i += 1;
        });
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
#[derive(Debug, Clone)]
pub struct Adam<T: Real = f32> {
    lr: T,
    beta1: T,
    beta2: T,
    eps: T,
    weight_decay: T,
    t: i32,
    m: Vec<Vec<T>>,
    v: Vec<Vec<T>>,
}

impl<T: Real> Adam<T> {
    /// Adam with betas (0.9, 0.999) and eps 1e-8.
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) for a bad `lr`.
    pub fn new(lr: T) -> Result<Self> {
        Self::with_betas(lr, T::lit(0.9), T::lit(0.999), T::lit(1e-8))
    }

    /// Adam with chosen betas (each in [0, 1)) and eps (> 0).
    ///
    /// # Errors
    /// [`Error::HyperParameter`](crate::Error::HyperParameter) naming the bad value.
    pub fn with_betas(lr: T, beta1: T, beta2: T, eps: T) -> Result<Self> {
        check_lr(lr)?;
        for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
            let b = b.as_f64();
            check_hyper(name, b, (0.0..1.0).contains(&b), "in [0, 1)")?;
        }
        check_hyper("eps", eps.as_f64(), eps > T::zero(), "finite and > 0")?;
        Ok(Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay: T::zero(),
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        })
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

impl<T: Real> Optimizer<T> for Adam<T> {
    fn step<A: ActivationSet, L: Layer<A, T> + ?Sized>(&mut self, model: &mut L) {
        ensure_state(&mut self.m, model);
        ensure_state(&mut self.v, model);
        self.t = self.t.saturating_add(1);
        let (b1, b2, eps, lr, wd) = (self.beta1, self.beta2, self.eps, self.lr, self.weight_decay);
        let c1 = T::one() - b1.powi(self.t);
        let c2 = T::one() - b2.powi(self.t);
        let (ms, vs) = (&mut self.m, &mut self.v);
        let mut i = 0;
        model.visit_params(&mut |p| {
            let lr = lr * p.lr_scale;
            let step = lr / c1;
            let decay = if p.decay { lr * wd } else { T::zero() };
            for (((w, &g), m), v) in p
                .value
                .iter_mut()
                .zip(p.grad)
                .zip(ms[i].iter_mut())
                .zip(vs[i].iter_mut())
            {
                *m = b1 * *m + (T::one() - b1) * g;
                *v = b2 * *v + (T::one() - b2) * g * g;
                *w -= decay * *w;
                *w -= step * *m / ((*v / c2).sqrt() + eps);
            }
            i += 1;
        });
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
