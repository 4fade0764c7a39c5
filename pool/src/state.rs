//! The pool's bookkeeping, without locking: [`crate::WarmPool`] wraps it in a `Mutex`.
//!
//! Idle sandboxes live in one global [`LruCache`] keyed by a slot id that grows with every
//! release, so the cache's LRU end is the least recently released idle sandbox of any key
//! (eviction, expiry). Each key keeps a stack of its idle slot ids (back = most recent) for LIFO
//! reuse. Because both are appended in release order, a key's oldest slot (front of its stack)
//! is also its least recently used one, so eviction usually removes from the front in O(1).
//!
//! Invariants (checked by `check_invariants` in tests):
//! - every slot in a key's stack is in the LRU cache with that key, and vice versa;
//! - per-key `idle_mb` / `busy` / `busy_mb` sum to the global counters;
//! - a key entry exists only while it has a live (idle or busy) sandbox, so keys never
//!   accumulate; a retired key with nothing busy needs no memory of its retirement.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::{Acquired, PoolError, PoolStats};

/// Identifies one idle period of one sandbox; never reused.
type SlotId = u64;

/// An idle sandbox parked in the LRU cache.
struct IdleEntry<K, S> {
    key: K,
    sandbox: S,
    /// `Sandbox::memory_mb` read at release, so the lock never calls into sandbox code.
    memory_mb: u64,
    idle_since: Instant,
}

/// Per-key counters and the key's LIFO stack of idle slots.
#[derive(Default)]
struct KeyState {
    /// Idle slot ids in release order: back is the most recent (LIFO reuse), front the oldest.
    idle: VecDeque<SlotId>,
    idle_mb: u64,
    /// Handed-out sandboxes plus reserved cold starts.
    busy: usize,
    busy_mb: u64,
    /// Busy sandboxes of this key are not kept when released.
    retired: bool,
}

impl KeyState {
    fn is_empty(&self) -> bool {
        self.busy == 0 && self.idle.is_empty()
    }

    fn stats(&self) -> PoolStats {
        PoolStats {
            live: self.idle.len() + self.busy,
            idle: self.idle.len(),
            busy: self.busy,
            memory_mb: self.idle_mb + self.busy_mb,
        }
    }
}

/// Everything behind the pool's mutex.
pub(crate) struct PoolState<K, S> {
    keys: HashMap<K, KeyState>,
    /// Unbounded: the memory budget, not the entry count, limits it.
    lru: LruCache<SlotId, IdleEntry<K, S>>,
    next_slot: SlotId,
    idle_mb: u64,
    busy: usize,
    busy_mb: u64,
}

impl<K, S> PoolState<K, S>
where
    K: Clone + Eq + Hash,
{
    pub(crate) fn new() -> Self {
        Self {
            keys: HashMap::new(),
            lru: LruCache::unbounded(),
            next_slot: 0,
            idle_mb: 0,
            busy: 0,
            busy_mb: 0,
        }
    }

    fn in_use_mb(&self) -> u64 {
        self.idle_mb + self.busy_mb
    }

    /// Reuse the key's most recent idle sandbox, or reserve `memory_mb` for a cold start after
    /// evicting just enough LRU idle sandboxes. On error nothing changes.
    pub(crate) fn acquire(
        &mut self,
        key: &K,
        memory_mb: u64,
        budget_mb: u64,
        max_sandboxes: usize,
    ) -> Result<Acquired<S>, PoolError> {
        if let Some(sandbox) = self.take_warm(key) {
            return Ok(Acquired::Warm(sandbox));
        }
        // Busy memory cannot be evicted: if it plus the request exceeds the budget, no amount
        // of eviction helps (this also covers a request bigger than the whole budget).
        if self.busy_mb.saturating_add(memory_mb) > budget_mb {
            return Err(PoolError::MemoryBudgetExhausted {
                requested_mb: memory_mb,
                in_use_mb: self.in_use_mb(),
                budget_mb,
            });
        }
        // Busy sandboxes cannot be evicted either: every slot busy is a refusal.
        if self.busy >= max_sandboxes {
            return Err(PoolError::SandboxesExhausted {
                busy: self.busy,
                max_sandboxes,
            });
        }
        let mut evicted = Vec::new();
        while self.in_use_mb() + memory_mb > budget_mb
            || self.busy + self.lru.len() >= max_sandboxes
        {
            let Some((slot, entry)) = self.lru.pop_lru() else {
                // Unreachable: idle_mb == sum of the cache, busy_mb + memory_mb fits, and
                // busy < max_sandboxes.
                break;
            };
            self.detach(slot, &entry);
            evicted.push(entry.sandbox);
        }

        let state = self.keys.entry(key.clone()).or_default();
        state.busy += 1;
        state.busy_mb += memory_mb;
        state.retired = false;
        self.busy += 1;
        self.busy_mb += memory_mb;
        Ok(Acquired::Cold { evicted })
    }

    /// The key's most recently released idle sandbox (LIFO), now busy.
    pub(crate) fn take_warm(&mut self, key: &K) -> Option<S> {
        let state = self.keys.get_mut(key)?;
        // Every slot in a stack is in the cache; skipping a missing one only guards
        // against a broken invariant instead of panicking under the lock.
        while let Some(slot) = state.idle.pop_back() {
            let Some(entry) = self.lru.pop(&slot) else {
                continue;
            };
            state.idle_mb -= entry.memory_mb;
            state.busy += 1;
            state.busy_mb += entry.memory_mb;
            state.retired = false;
            self.idle_mb -= entry.memory_mb;
            self.busy += 1;
            self.busy_mb += entry.memory_mb;
            return Some(entry.sandbox);
        }
        None
    }

    /// Park a busy sandbox as idle, or hand it back if its key is retired or has nothing busy.
    pub(crate) fn release(
        &mut self,
        key: &K,
        sandbox: S,
        memory_mb: u64,
        now: Instant,
    ) -> Option<S> {
        match self.end_busy(key, memory_mb) {
            // Not a sandbox this pool handed out (or already discarded): keeping it would
            // charge memory that was never reserved.
            None => return Some(sandbox),
            Some(true) => {
                self.forget_if_empty(key);
                return Some(sandbox);
            }
            Some(false) => {}
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        let state = self.keys.entry(key.clone()).or_default();
        state.idle.push_back(slot);
        state.idle_mb += memory_mb;
        self.idle_mb += memory_mb;
        self.lru.put(
            slot,
            IdleEntry {
                key: key.clone(),
                sandbox,
                memory_mb,
                idle_since: now,
            },
        );
        None
    }

    /// Drop one busy sandbox or reservation of `key` and its memory.
    pub(crate) fn discard(&mut self, key: &K, memory_mb: u64) {
        if self.end_busy(key, memory_mb).is_some() {
            self.forget_if_empty(key);
        }
    }

    /// Remove idle sandboxes idle for longer than `keep_alive`, oldest first.
    ///
    /// Scans every idle entry rather than stopping at the first fresh one, so out-of-order
    /// `now` values from racing callers cannot hide an expired sandbox. O(idle).
    pub(crate) fn reap_expired(&mut self, now: Instant, keep_alive: Duration) -> Vec<S> {
        let expired: Vec<SlotId> = self
            .lru
            .iter()
            .rev()
            .filter(|(_, entry)| now.saturating_duration_since(entry.idle_since) > keep_alive)
            .map(|(slot, _)| *slot)
            .collect();
        expired
            .into_iter()
            .filter_map(|slot| self.take_idle(slot))
            .collect()
    }

    /// Remove the key's idle sandboxes (oldest first) and mark it retired while it has busy ones.
    pub(crate) fn retire(&mut self, key: &K) -> Vec<S> {
        let Some(state) = self.keys.get_mut(key) else {
            return Vec::new();
        };
        state.retired = true;
        let slots: Vec<SlotId> = state.idle.iter().copied().collect();
        let removed = slots
            .into_iter()
            .filter_map(|slot| self.take_idle(slot))
            .collect();
        self.forget_if_empty(key);
        removed
    }

    /// Remove every idle sandbox, least recently used first.
    pub(crate) fn drain(&mut self) -> Vec<S> {
        let mut drained = Vec::with_capacity(self.lru.len());
        while let Some((slot, entry)) = self.lru.pop_lru() {
            self.detach(slot, &entry);
            drained.push(entry.sandbox);
        }
        drained
    }

    pub(crate) fn stats(&self, key: &K) -> PoolStats {
        self.keys.get(key).map(KeyState::stats).unwrap_or_default()
    }

    pub(crate) fn totals(&self) -> PoolStats {
        PoolStats {
            live: self.lru.len() + self.busy,
            idle: self.lru.len(),
            busy: self.busy,
            memory_mb: self.in_use_mb(),
        }
    }

    /// End one busy sandbox of `key`: `None` if the key has none busy, else whether it is
    /// retired. Frees `memory_mb` of the key's busy memory; when its last busy one ends, frees
    /// all of it, so a caller passing a wrong size cannot leak budget for longer than that.
    fn end_busy(&mut self, key: &K, memory_mb: u64) -> Option<bool> {
        let state = self.keys.get_mut(key)?;
        if state.busy == 0 {
            return None;
        }
        state.busy -= 1;
        let freed = if state.busy == 0 {
            state.busy_mb
        } else {
            memory_mb.min(state.busy_mb)
        };
        state.busy_mb -= freed;
        self.busy -= 1;
        self.busy_mb -= freed;
        Some(state.retired)
    }

    /// Take one idle sandbox out of the cache and its key's stack.
    fn take_idle(&mut self, slot: SlotId) -> Option<S> {
        let entry = self.lru.pop(&slot)?;
        self.detach(slot, &entry);
        Some(entry.sandbox)
    }

    /// Removes the least recently used idle sandbox of any key.
    pub(crate) fn evict_lru(&mut self) -> Option<S> {
        let (slot, entry) = self.lru.pop_lru()?;
        self.detach(slot, &entry);
        Some(entry.sandbox)
    }

    /// Account for an entry already removed from the cache: drop its slot from the key's stack.
    fn detach(&mut self, slot: SlotId, entry: &IdleEntry<K, S>) {
        if let Some(state) = self.keys.get_mut(&entry.key) {
            if state.idle.front() == Some(&slot) {
                state.idle.pop_front();
            } else if let Some(position) = state.idle.iter().position(|s| *s == slot) {
                state.idle.remove(position);
            }
            state.idle_mb -= entry.memory_mb;
        }
        self.idle_mb -= entry.memory_mb;
        self.forget_if_empty(&entry.key);
    }

    /// Drop a key's entry once nothing of it is live, so many short-lived keys do not pile up.
    fn forget_if_empty(&mut self, key: &K) {
        if self.keys.get(key).is_some_and(KeyState::is_empty) {
            self.keys.remove(key);
        }
    }

    /// Recompute every counter from the structures and compare.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let mut idle_mb = 0;
        for (slot, entry) in self.lru.iter() {
            let state = &self.keys[&entry.key];
            assert!(
                state.idle.contains(slot),
                "slot {slot} missing from its stack"
            );
            idle_mb += entry.memory_mb;
        }
        assert_eq!(idle_mb, self.idle_mb, "idle memory");
        let mut stacked = 0;
        let (mut busy, mut busy_mb, mut key_idle_mb) = (0, 0, 0);
        for state in self.keys.values() {
            assert!(!state.is_empty(), "empty key entry kept");
            let sum: u64 = state
                .idle
                .iter()
                .map(|slot| self.lru.peek(slot).map_or(0, |e| e.memory_mb))
                .sum();
            assert_eq!(sum, state.idle_mb, "per-key idle memory");
            assert!(state.idle.iter().all(|slot| self.lru.contains(slot)));
            assert!(state.idle.iter().is_sorted(), "stack not in release order");
            stacked += state.idle.len();
            busy += state.busy;
            busy_mb += state.busy_mb;
            key_idle_mb += state.idle_mb;
        }
        assert_eq!(stacked, self.lru.len(), "stacks vs cache");
        assert_eq!(busy, self.busy, "busy count");
        assert_eq!(busy_mb, self.busy_mb, "busy memory");
        assert_eq!(key_idle_mb, self.idle_mb, "idle memory per key");
    }
}
