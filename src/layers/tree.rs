//! Walks and transformations of a layer tree, written once over
//! [`Layer::sublayers`] and [`Layer::sublayers_mut`], so that no layer kind
//! carries methods that mean something for another kind only.

use std::fmt::Write;

use crate::compute::activation::ActivationSet;
use crate::compute::real::Real;
use crate::layers::layer::{BoxedLayer, Layer, Param};

/// Rebuilds the tree bottom-up: every sub-layer is transformed first, then
/// `f` is applied to the layer holding them. Hardening mixtures
/// ([`Network::hardened`](crate::Network::hardened)) is one such
/// transformation. `f` must keep each layer's input and output widths.
pub fn map_layers<A: ActivationSet, T: Real>(
    mut layer: BoxedLayer<A, T>,
    f: &mut dyn FnMut(BoxedLayer<A, T>) -> BoxedLayer<A, T>,
) -> BoxedLayer<A, T> {
    if let Some(children) = layer.sublayers_mut() {
        let taken = std::mem::take(children);
        *children = taken.into_iter().map(|c| map_layers(c, f)).collect();
    }
    f(layer)
}

/// Sets training (`true`) or evaluation behaviour on every layer of the tree.
pub fn set_training<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    layer: &mut L,
    training: bool,
) {
    layer.set_training(training);
    if let Some(children) = layer.sublayers_mut() {
        for c in children.iter_mut() {
            set_training(c.as_mut(), training);
        }
    }
}

/// Walks every trainable tensor with its full path in the tree
/// (`layers.1.branches.0.layers.0.bias`): the names model files use.
/// Builds a string per tensor, so use [`Layer::visit_params`] in hot loops.
pub fn visit_named_params<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    layer: &mut L,
    f: &mut dyn FnMut(&str, Param<'_, T>),
) {
    walk(layer, &mut String::new(), f);
}

fn walk<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    layer: &mut L,
    prefix: &mut String,
    f: &mut dyn FnMut(&str, Param<'_, T>),
) {
    if let Some((key, _)) = layer.sublayers() {
        if let Some(children) = layer.sublayers_mut() {
            for (i, c) in children.iter_mut().enumerate() {
                let len = prefix.len();
                let _ = write!(prefix, "{key}.{i}.");
                walk(c.as_mut(), prefix, f);
                prefix.truncate(len);
            }
            return;
        }
    }
    layer.visit_params(&mut |p| {
        let path = format!("{prefix}{}", p.name);
        f(&path, p)
    });
}

/// A walk over one layer's tensors: give it the visitor.
pub(crate) type TensorWalk<'a, T> = dyn FnMut(&mut dyn FnMut(Param<'_, T>)) + 'a;

/// Calls `f(i, visit)` for every top-level layer i of `layer` (itself, as
/// layer 0, when it is a leaf), where `visit` walks that layer's tensors:
/// what divergence errors and optimiser walks call "layer i".
pub(crate) fn for_each_top_level<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    layer: &mut L,
    f: &mut dyn FnMut(usize, &mut TensorWalk<'_, T>),
) {
    if layer.sublayers().is_some() {
        if let Some(children) = layer.sublayers_mut() {
            for (i, c) in children.iter_mut().enumerate() {
                f(i, &mut |g| c.visit_params(g));
            }
            return;
        }
    }
    f(0, &mut |g| layer.visit_params(g));
}

/// Index of the first top-level layer with a non-finite parameter gradient, if any.
pub fn first_non_finite_grad<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    layer: &mut L,
) -> Option<usize> {
    let mut first = None;
    for_each_top_level(layer, &mut |i, visit| {
        if first.is_none() {
            let mut bad = false;
            visit(&mut |p| bad |= p.grad.iter().any(|g| !g.is_finite()));
            if bad {
                first = Some(i);
            }
        }
    });
    first
}

/// Jagtap, Kawaguchi and Karniadakis's slope-recovery term over every layer
/// of the tree with trained slopes ([`Layer::adaptive_slopes`]):
/// `S = K / Σ_k exp(mean(a_k))` over those `K` layers, which pushes the
/// slopes up and so speeds training early on. Adds `weight · ∂S/∂a` to the
/// slope gradients (call it after `backward`, which overwrites them) and
/// returns `weight · S`; 0 when no layer has adaptive slopes. Walks the tree
/// twice and allocates nothing. [`Trainer::with_slope_recovery`](crate::Trainer::with_slope_recovery)
/// calls it on every step.
pub fn slope_recovery<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    layer: &mut L,
    weight: f64,
) -> f64 {
    let (mut count, mut sum) = (0usize, 0.0f64);
    for_each_adaptive(layer, &mut |a, _| {
        count += 1;
        sum += mean(a).exp();
    });
    if count == 0 || weight == 0.0 {
        return 0.0;
    }
    let k = count as f64;
    // dS/da_i of layer k: -K / R² · exp(m_k) / N_k
    let factor = -weight * k / (sum * sum);
    for_each_adaptive(layer, &mut |a, g| {
        let d = T::lit(factor * mean(a).exp() / a.len() as f64);
        for g in g.iter_mut() {
            *g += d;
        }
    });
    weight * k / sum
}

fn mean<T: Real>(a: &[T]) -> f64 {
    a.iter().map(|v| v.as_f64()).sum::<f64>() / a.len().max(1) as f64
}

fn for_each_adaptive<A: ActivationSet, T: Real, L: Layer<A, T> + ?Sized>(
    layer: &mut L,
    f: &mut dyn FnMut(&[T], &mut [T]),
) {
    if let Some((a, g)) = layer.adaptive_slopes() {
        f(a, g);
    }
    if let Some(children) = layer.sublayers_mut() {
        for c in children.iter_mut() {
            for_each_adaptive(c.as_mut(), f);
        }
    }
}
