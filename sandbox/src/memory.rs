//! The host's memory ledger: bytes every live sandbox really holds, charged where they are
//! consumed and refused past the host's limit.
//!
//! Admission (the warm pool) charges each sandbox its configured MemorySize against the
//! budget times an overcommit ratio, because most functions never touch most of their
//! MemorySize. What makes that safe is this ledger: a wasm sandbox charges it on every
//! `memory.grow` (its initial memory included), in the resource limiter, before the memory
//! exists; past [`HostMemory::limit`] the growth is refused, so the guest that grows gets
//! `Runtime.OutOfMemory` and the server never meets the kernel's OOM killer. A sandbox gives
//! its bytes back when it is dropped.
//!
//! What it does not protect against: memory the host process itself uses outside sandboxes
//! (buffers of requests in flight, which the body budget bounds separately), and a guest's
//! allocated-but-untouched pages, which are charged although the kernel holds no page for
//! them (the ledger errs on the safe side).

use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes charged per sandbox for its host-side state (store, WASI context, fiber stack,
/// tables), on top of its linear memory: about what `cargo bench --bench density` measures
/// for a warm echo sandbox beyond its touched guest pages.
pub const SANDBOX_OVERHEAD_BYTES: u64 = 64 * 1024;

/// Bytes held by all sandboxes, against a limit. Shared by every sandbox of the process.
#[derive(Debug)]
pub struct HostMemory {
    held: AtomicU64,
    limit: u64,
}

impl HostMemory {
    /// A ledger that lets sandboxes hold at most `limit` bytes together.
    pub fn new(limit: u64) -> Self {
        Self {
            held: AtomicU64::new(0),
            limit,
        }
    }

    /// No limit (benchmarks and tests of one sandbox).
    pub fn unlimited() -> Self {
        Self::new(u64::MAX)
    }

    /// Charges `bytes` if the total stays within the limit; `false` (nothing charged) if not.
    pub fn try_charge(&self, bytes: u64) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Charges `bytes` whatever the limit (the fixed overhead of a sandbox being created:
    /// refusing it would fail a start the pool already admitted).
    pub fn charge(&self, bytes: u64) {
        self.held.fetch_add(bytes, Ordering::AcqRel);
    }

    /// Gives back `bytes` charged earlier.
    pub fn release(&self, bytes: u64) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                Some(held.saturating_sub(bytes))
            });
    }

    /// Bytes held now.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    /// The limit past which growth is refused.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_up_to_the_limit_and_refuses_past_it() {
        let host = HostMemory::new(100);
        assert!(host.try_charge(60));
        assert!(!host.try_charge(41), "would pass the limit");
        assert_eq!(host.held(), 60);
        assert!(host.try_charge(40));
        host.release(100);
        assert_eq!(host.held(), 0);
        host.release(5);
        assert_eq!(host.held(), 0, "never below zero");
    }
}
