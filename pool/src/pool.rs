//! [`WarmPool`]: the thread-safe front of the pool.

use std::fmt;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::state::PoolState;
use crate::{Acquired, PoolConfig, PoolError, PoolStats, Sandbox};

/// Idle sandboxes per key `K` (a function version) under one memory budget.
///
/// `Send + Sync`: share it as `Arc<WarmPool<_, _>>` between tokio tasks. Every method takes one
/// short `std::sync::Mutex` critical section (hash lookups and counter updates, O(1) except
/// where noted) and never blocks or awaits inside it, so a blocking mutex is cheaper than an
/// async one here. Sandboxes leaving the pool are returned, never dropped under the lock, so
/// their (possibly expensive) teardown happens in the caller.
///
/// Lifecycle of a sandbox: [`acquire`](Self::acquire) → `Warm` (busy) or `Cold` reservation
/// (busy, caller creates the sandbox) → [`release`](Self::release) (idle) or
/// [`discard`](Self::discard) (gone). Idle ones leave through eviction, expiry, retirement or
/// drain.
pub struct WarmPool<K, S> {
    config: PoolConfig,
    /// Held only for bookkeeping; no `.await` and no sandbox code ever runs while it is locked.
    state: Mutex<PoolState<K, S>>,
}

impl<K, S> WarmPool<K, S>
where
    K: Clone + Eq + Hash + fmt::Debug + Send,
    S: Sandbox,
{
    /// An empty pool. Allocates nothing until the first release.
    pub fn new(config: PoolConfig) -> Self {
        Self {
            config,
            state: Mutex::new(PoolState::new()),
        }
    }

    /// The configuration the pool was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Take the most recently released idle sandbox of `key` (it becomes busy), or reserve
    /// `memory_mb` for a cold start (counted as busy), evicting LRU idle sandboxes of any key
    /// until it fits. A request bigger than the whole budget is MemoryBudgetExhausted. If
    /// eviction cannot make room, nothing is evicted (no state change) and the error is returned.
    ///
    /// A successful acquire un-retires `key` (see [`retire`](Self::retire)). `memory_mb` is
    /// ignored for a warm hit (the idle sandbox's own size is already charged). The caller
    /// must end every success with [`release`](Self::release) or [`discard`](Self::discard),
    /// or the reservation stays charged forever.
    pub fn acquire(&self, key: &K, memory_mb: u64, now: Instant) -> Result<Acquired<S>, PoolError> {
        self.acquire_within(key, memory_mb, now, 0)
    }

    /// [`acquire`](Self::acquire) with `held_back_mb` of the budget kept for others (memory
    /// that reservations of other keys are guaranteed and not using now).
    pub fn acquire_within(
        &self,
        key: &K,
        memory_mb: u64,
        now: Instant,
        held_back_mb: u64,
    ) -> Result<Acquired<S>, PoolError> {
        // `now` is not needed: LRU order is release order. Kept so callers pass one clock
        // reading to every method and a future policy (e.g. idle-time stats) can use it.
        let _ = now;
        self.lock().acquire(
            key,
            memory_mb,
            self.config.charge_budget_mb().saturating_sub(held_back_mb),
            self.config.max_sandboxes,
        )
    }

    /// A busy sandbox finished its work and can be reused: it becomes idle (most recent for
    /// LIFO and for LRU). If `key` was retired meanwhile (see [`retire`](Self::retire)), the
    /// sandbox is not kept: its memory is released and it is handed back as `Some(sandbox)`
    /// for the caller to drop.
    ///
    /// Also handed back, with no accounting change, if `key` has no busy sandbox (it was never
    /// acquired, or was already discarded): keeping it would charge memory never reserved.
    pub fn release(&self, key: &K, sandbox: S, now: Instant) -> Option<S> {
        // Read before locking: the pool never runs sandbox code under its lock.
        let memory_mb = sandbox.memory_mb();
        self.lock().release(key, sandbox, memory_mb, now)
    }

    /// A busy sandbox (or a cold-start reservation that failed) is gone: release its memory
    /// reservation and busy count. A no-op if `key` has nothing busy.
    pub fn discard(&self, key: &K, memory_mb: u64) {
        self.lock().discard(key, memory_mb);
    }

    /// Remove and return idle sandboxes idle for longer than keep_alive (any key), least
    /// recently used first. O(idle sandboxes): call it periodically (every few seconds), not
    /// per invocation.
    pub fn reap_expired(&self, now: Instant) -> Vec<S> {
        self.lock().reap_expired(now, self.config.keep_alive)
    }

    /// The key's code/config changed or was deleted: remove and return its idle sandboxes, and
    /// remember the key as retired so busy ones are not kept on release. A later `acquire` of
    /// the same key un-retires it (the key is in use again).
    ///
    /// Keys are expected to name one immutable function version; after an un-retiring acquire,
    /// a busy sandbox from before the retirement is kept again when released.
    pub fn retire(&self, key: &K) -> Vec<S> {
        self.lock().retire(key)
    }

    /// Remove and return the least recently used idle sandbox of any key, if there is one:
    /// for a caller that needs memory back for a reason the pool does not see (the host's
    /// measured memory is over its admission limit).
    pub fn evict_lru(&self) -> Option<S> {
        self.lock().evict_lru()
    }

    /// Remove and return every idle sandbox (shutdown), least recently used first. Busy
    /// sandboxes are untouched: they are still handed out.
    pub fn drain(&self) -> Vec<S> {
        self.lock().drain()
    }

    /// Counts for one key (zeros if unknown).
    pub fn stats(&self, key: &K) -> PoolStats {
        self.lock().stats(key)
    }

    /// Counts over all keys.
    pub fn totals(&self) -> PoolStats {
        self.lock().totals()
    }

    /// Recompute every counter from scratch and panic on a mismatch.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        self.lock().check_invariants();
    }

    fn lock(&self) -> MutexGuard<'_, PoolState<K, S>> {
        // Poisoning means a panic inside a critical section; the only foreign code that runs
        // there is `K`'s `Hash`/`Eq`/`Clone`. Every operation is a handful of counter updates,
        // so carrying on with the state is better than wedging every task of the process.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K, S> fmt::Debug for WarmPool<K, S>
where
    K: Clone + Eq + Hash + fmt::Debug + Send,
    S: Sandbox,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WarmPool")
            .field("config", &self.config)
            .field("totals", &self.totals())
            .finish()
    }
}

#[cfg(test)]
mod send_sync {
    use super::WarmPool;
    use crate::Sandbox;

    /// Not `Sync` on purpose: the pool must still be `Sync` (the mutex provides it).
    struct NotSync(std::cell::Cell<u64>);

    impl Sandbox for NotSync {
        fn memory_mb(&self) -> u64 {
            self.0.get()
        }
    }

    #[test]
    fn pool_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<WarmPool<String, NotSync>>();
    }
}
