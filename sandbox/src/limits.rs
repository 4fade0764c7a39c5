//! Limits enforced inside a wasm sandbox: linear memory and the deadline.

use crate::memory::{HostMemory, SANDBOX_OVERHEAD_BYTES};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Caps the sum of a sandbox's linear memories at its MemorySize and records the peak, which
/// is what `Max Memory Used` reports.
///
/// Policy on growth beyond the cap: refuse (the guest's `memory.grow` returns -1), never trap
/// here. A Rust guest then aborts in its allocation-error handler; [`MemoryLimiter::exhausted`]
/// lets the sandbox report that crash as `Runtime.OutOfMemory` rather than a generic exit.
#[derive(Debug)]
pub struct MemoryLimiter {
    /// The cap in bytes (MemorySize × 1 MiB).
    limit: usize,
    /// Bytes currently allocated across all linear memories of the instance.
    current: usize,
    /// Highest `current` seen, shared with the sandbox handle that reports it.
    peak: Arc<AtomicU64>,
    /// A growth request was refused because of the cap or the host's limit.
    exhausted: bool,
    /// The host's ledger, charged before every growth and given everything back on drop.
    host: Arc<HostMemory>,
}

impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        self.host
            .release(self.current as u64 + SANDBOX_OVERHEAD_BYTES);
    }
}

impl MemoryLimiter {
    pub fn new(limit_mb: u64, peak: Arc<AtomicU64>, host: Arc<HostMemory>) -> Self {
        host.charge(SANDBOX_OVERHEAD_BYTES);
        Self {
            limit: usize::try_from(limit_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX),
            current: 0,
            peak,
            exhausted: false,
            host,
        }
    }

    /// Whether the guest has run into the memory cap.
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current);
        let total = self.current.saturating_add(grow);
        if total > self.limit || maximum.is_some_and(|m| desired > m) {
            self.exhausted = true;
            return Ok(false);
        }
        // Within its own cap, but the host has no room: the growing guest is stopped, not
        // the server (see `crate::memory`).
        if !self.host.try_charge(grow as u64) {
            self.exhausted = true;
            return Ok(false);
        }
        self.current = total;
        self.peak.fetch_max(total as u64, Ordering::Relaxed);
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // The engine could not map the memory (pool slot too small): treat like the cap.
        self.exhausted = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; 1M entries is far beyond any real guest.
        Ok(desired <= maximum.unwrap_or(usize::MAX).min(1 << 20))
    }
}

/// Raised from the epoch callback when an invocation (or INIT) runs past its deadline.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("deadline exceeded")]
pub struct DeadlineExceeded;

/// Whether `deadline` (if any) has passed.
pub fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn refuses_growth_past_the_cap_and_tracks_the_peak() {
        let peak = Arc::new(AtomicU64::new(0));
        let host = Arc::new(HostMemory::unlimited());
        let mut l = MemoryLimiter::new(1, peak.clone(), host.clone());
        assert!(l.memory_growing(0, 512 * 1024, None).expect("ok"));
        assert!(l.memory_growing(512 * 1024, 1024 * 1024, None).expect("ok"));
        assert!(!l.exhausted());
        assert!(
            !l.memory_growing(1024 * 1024, 1024 * 1024 + 65536, None)
                .expect("ok")
        );
        assert!(l.exhausted());
        assert_eq!(peak.load(Ordering::Relaxed), 1024 * 1024);
        assert_eq!(host.held(), 1024 * 1024 + SANDBOX_OVERHEAD_BYTES);
        drop(l);
        assert_eq!(host.held(), 0, "everything given back");
    }

    #[test]
    fn growth_within_the_cap_is_refused_when_the_host_is_full() {
        let host = Arc::new(HostMemory::new(SANDBOX_OVERHEAD_BYTES + 1024 * 1024));
        let mut a = MemoryLimiter::new(64, Arc::default(), host.clone());
        assert!(a.memory_growing(0, 1024 * 1024, None).expect("ok"));
        let mut b = MemoryLimiter::new(64, Arc::default(), host.clone());
        assert!(!b.memory_growing(0, 65536, None).expect("ok"), "host full");
        assert!(b.exhausted(), "reported as running out of memory");
        drop(a);
        assert!(b.memory_growing(0, 65536, None).expect("ok"), "room again");
    }
}
