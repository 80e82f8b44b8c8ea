//! Layers: the [`Layer`](crate::Layer) trait, the shared affine core every
//! kind is built on, one file per layer kind, the containers, and what a
//! layer says about itself to be saved ([`spec`]) and rebuilt ([`registry`]).
//! Nothing here knows about training or files.

pub(crate) mod affine;
pub(crate) mod average;
pub(crate) mod concat;
pub(crate) mod dense;
pub(crate) mod dropout;
pub mod init;
pub(crate) mod layer;
pub(crate) mod layer_norm;
pub mod mask;
pub(crate) mod mixture;
pub(crate) mod network;
pub(crate) mod plan;
pub(crate) mod registry;
pub(crate) mod slope;
pub mod spec;
pub(crate) mod tensor_id;
pub mod tree;
