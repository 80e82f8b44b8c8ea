//! The activation plan: which activation each neuron has, stored grouped.
//!
//! A layer's neurons can be permuted without changing what the network
//! computes, so the core stores neurons grouped by activation (in order of
//! first appearance, user order kept inside a group) and remembers the
//! permutation. Dense layers and concatenated branches are already grouped:
//! their permutation is the identity. The layer walks each block column by
//! column: each call covers one contiguous column (the neuron's values over
//! the batch), fused with the bias add (forward) or the bias-gradient sum
//! (backward) while the column is in L1, and writes straight into the user's
//! column. A gather pass back into user order measured slower (about 8% of a
//! 1024-wide layer step) than the per-column dispatches (well under 1%).

use crate::compute::activation::ActivationSet;
use crate::error::{Error, Result};

/// A run of neurons, contiguous in storage order, that share one activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Block<A> {
    /// First storage column.
    pub(crate) start: usize,
    /// Number of neurons.
    pub(crate) len: usize,
    /// Their activation.
    pub(crate) act: A,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan<A> {
    /// The user's per-neuron activations, in the user's order.
    mask: Vec<A>,
    /// Blocks over storage order, covering `0..width` in order.
    blocks: Vec<Block<A>>,
    /// `order[s]` = the user index of storage column `s`; `None` when identity.
    order: Option<Vec<usize>>,
}

impl<A: ActivationSet> Plan<A> {
    pub(crate) fn new(mask: &[A]) -> Result<Self> {
        if mask.is_empty() {
            return Err(Error::Empty {
                what: "activation mask",
            });
        }
        let mut groups: Vec<A> = Vec::new();
        for &a in mask {
            if !groups.contains(&a) {
                groups.push(a);
            }
        }
        let mut order = Vec::with_capacity(mask.len());
        let mut blocks = Vec::with_capacity(groups.len());
        for &g in &groups {
            let start = order.len();
            order.extend((0..mask.len()).filter(|&i| mask[i] == g));
            blocks.push(Block {
                start,
                len: order.len() - start,
                act: g,
            });
        }
        let identity = order.iter().enumerate().all(|(s, &u)| s == u);
        Ok(Plan {
            mask: mask.to_vec(),
            blocks,
            order: (!identity).then_some(order),
        })
    }

    pub(crate) fn mask(&self) -> &[A] {
        &self.mask
    }

    pub(crate) fn blocks(&self) -> &[Block<A>] {
        &self.blocks
    }

    /// Storage column -> user index, `None` when storage is in user order.
    pub(crate) fn order(&self) -> Option<&[usize]> {
        self.order.as_deref()
    }

    /// The user index of storage column `s`.
    pub(crate) fn user_index(&self, s: usize) -> usize {
        self.order.as_ref().map_or(s, |o| o[s])
    }
}
