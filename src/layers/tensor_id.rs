//! Tensor identities: what optimiser state is bound to.
//!
//! State bound to a tensor's *position* in the parameter walk goes stale
//! silently when the walk changes (a hardened mixture drops its logits; one
//! optimiser is reused for another network) and a buffer of the right length
//! is reused for the wrong tensor. Every trainable tensor therefore carries an
//! identity drawn from a process-wide counter when it is created; cloning a
//! layer gives the clone's tensors new identities, so state never crosses
//! from one network to another.

use std::sync::atomic::{AtomicU64, Ordering};

/// A trainable tensor's identity, unique within the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    /// The identity as a number (for logs; not stable across runs).
    pub fn get(self) -> u64 {
        self.0
    }
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// The identity a layer keeps for one of its tensors: a fresh [`TensorId`]
/// when created and when cloned.
#[derive(Debug)]
pub struct OwnedTensorId(TensorId);

impl OwnedTensorId {
    /// A new identity, never handed out before in this process.
    pub fn new() -> Self {
        OwnedTensorId(TensorId(NEXT.fetch_add(1, Ordering::Relaxed)))
    }

    /// The identity, to put in a [`Param`](crate::extend::Param).
    pub fn id(&self) -> TensorId {
        self.0
    }
}

impl Default for OwnedTensorId {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for OwnedTensorId {
    /// A clone is a different tensor: it gets its own identity.
    fn clone(&self) -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_get_new_identities() {
        let a = OwnedTensorId::new();
        let b = a.clone();
        assert_ne!(a.id(), b.id());
    }
}
