//! Warm pools of idle sandboxes, one pool per function version, under one global memory budget.
//!
//! This crate owns the bookkeeping between "a sandbox finished an invocation" and "the next
//! invocation of the same function version wants one":
//! - idle sandboxes per key (a key is typically a function version), reused **LIFO** so the
//!   most recently used sandbox serves the next request and the rest age out, which keeps the
//!   fewest sandboxes warm under a steady load;
//! - **keep-alive expiry**: [`WarmPool::reap_expired`] hands back sandboxes idle for longer than
//!   [`PoolConfig::keep_alive`];
//! - a **global memory budget** over every live sandbox (idle, busy and reserved cold starts),
//!   enforced at [`WarmPool::acquire`] by evicting the least recently used idle sandboxes of
//!   *any* key;
//! - **live / idle / busy accounting** per key and in total ([`PoolStats`]).
//!
//! It must not create, run or destroy sandboxes: it is generic over the [`Sandbox`] trait and
//! only needs each sandbox's memory size. Everything it removes (evicted, expired, retired,
//! drained) is handed back to the caller, who drops it outside the pool's lock. It also does not
//! decide invocation policy (concurrency limits, queueing, retries, when to reap): the scheduler
//! does, and calls into the pool.
//!
//! Layout:
//! - [`config`]: [`PoolConfig`], keep-alive and the memory budget with their defaults.
//! - [`pool`]: [`WarmPool`], the thread-safe front (one `Mutex` around the state).
//! - `state`: the lock-free bookkeeping behind the mutex (per-key LIFO stacks, global LRU).
//! - this file: the [`Sandbox`] trait and the small result types ([`Acquired`], [`PoolStats`],
//!   [`PoolError`]).

pub mod config;
pub mod pool;
mod state;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use config::PoolConfig;
pub use pool::WarmPool;

use std::fmt;

/// What the pool needs to know about a sandbox.
///
/// The pool never looks inside a sandbox: it only stores it, hands it back, and charges its
/// memory against the budget. `Send + 'static` because pools live in an `Arc` shared by tokio
/// tasks and sandboxes move between them.
pub trait Sandbox: Send + 'static {
    /// Memory reserved for this sandbox in MB (the function's MemorySize).
    ///
    /// Must equal the `memory_mb` passed to [`WarmPool::acquire`] for the cold start that
    /// created it, otherwise the budget accounting drifts until the key's busy count returns to
    /// zero. Read once per [`WarmPool::release`], outside the lock.
    fn memory_mb(&self) -> u64;
}

/// The outcome of [`WarmPool::acquire`].
#[derive(Debug)]
pub enum Acquired<S> {
    /// An idle sandbox of this key, most recently used first (LIFO keeps the fewest sandboxes warm).
    Warm(S),
    /// No idle sandbox: memory for a new one has been reserved; the caller creates it (cold start).
    /// `evicted` are idle sandboxes (any key, least recently used first) removed to make room;
    /// the caller drops them outside the lock.
    ///
    /// The reservation counts as busy until the caller either [`WarmPool::release`]s the new
    /// sandbox or [`WarmPool::discard`]s the reservation (creation failed).
    Cold {
        /// Idle sandboxes removed to make room, least recently used first.
        evicted: Vec<S>,
    },
}

/// Why [`WarmPool::acquire`] could not hand out or reserve a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// Even after evicting every idle sandbox the reservation does not fit: everything live is busy.
    ///
    /// `in_use_mb` is the memory charged at the time of the request (idle + busy + reserved);
    /// nothing was evicted. The caller typically queues or throttles (Lambda answers 429).
    MemoryBudgetExhausted {
        /// The reservation that was asked for.
        requested_mb: u64,
        /// Memory charged to live sandboxes when the request was refused.
        in_use_mb: u64,
        /// [`PoolConfig::memory_budget_mb`].
        budget_mb: u64,
    },
    /// Every sandbox slot is busy ([`PoolConfig::max_sandboxes`]); nothing was evicted.
    SandboxesExhausted { busy: usize, max_sandboxes: usize },
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MemoryBudgetExhausted {
                requested_mb,
                in_use_mb,
                budget_mb,
            } => write!(
                f,
                "memory budget exhausted: cannot reserve {requested_mb} MB, {in_use_mb} MB of the \
                 {budget_mb} MB budget are in use and evicting idle sandboxes would not free enough"
            ),
            Self::SandboxesExhausted {
                busy,
                max_sandboxes,
            } => write!(
                f,
                "every sandbox slot is busy: {busy} of {max_sandboxes} sandboxes are running"
            ),
        }
    }
}

impl std::error::Error for PoolError {}

/// Sandbox counts and memory for one key or for the whole pool.
///
/// `live == idle + busy`; a cold-start reservation counts as busy. `memory_mb` is the memory
/// charged against the budget by those sandboxes. Cheap to compute (counters, no iteration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Idle plus busy sandboxes (including reserved cold starts).
    pub live: usize,
    /// Sandboxes parked in the pool, ready for reuse.
    pub idle: usize,
    /// Sandboxes handed out (or reserved for a cold start) and not yet released or discarded.
    pub busy: usize,
    /// Memory in MB charged by those sandboxes.
    pub memory_mb: u64,
}

#[cfg(test)]
mod error_tests {
    use super::PoolError;

    #[test]
    fn display_names_the_numbers() {
        let err = PoolError::MemoryBudgetExhausted {
            requested_mb: 256,
            in_use_mb: 900,
            budget_mb: 1024,
        };
        let text = err.to_string();
        assert!(text.contains("256 MB"), "{text}");
        assert!(text.contains("900 MB"), "{text}");
        assert!(text.contains("1024 MB"), "{text}");
        let _: &dyn std::error::Error = &err;
    }
}
