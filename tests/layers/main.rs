//! Layers: activations and their derivatives, the three layer kinds and their equivalences, gradients against finite differences, masks, mixtures, products and kernels.
//!
//! One test binary per subject (not one per file): each binary links the
//! whole library, so fewer of them build and link faster.

#[path = "../common/mod.rs"]
mod common;

mod activations;
mod adaptive;
mod custom_activation;
mod custom_layer;
mod equivalence;
mod gradients;
mod kernels;
mod layer_kinds;
mod masks;
mod mixture;
mod products;
