//! Scenario tests of [`WarmPool`] with a fake sandbox.

use std::time::{Duration, Instant};

use crate::{Acquired, PoolConfig, PoolError, PoolStats, Sandbox, WarmPool};

/// A sandbox that is only an id and a size.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FakeSandbox {
    pub(crate) id: u64,
    pub(crate) mem: u64,
}

impl Sandbox for FakeSandbox {
    fn memory_mb(&self) -> u64 {
        self.mem
    }
}

fn pool(budget_mb: u64) -> WarmPool<&'static str, FakeSandbox> {
    WarmPool::new(PoolConfig {
        keep_alive: Duration::from_secs(600),
        memory_budget_mb: budget_mb,
        max_sandboxes: crate::config::DEFAULT_MAX_SANDBOXES,
        overcommit: 1,
    })
}

fn sandbox(id: u64, mem: u64) -> FakeSandbox {
    FakeSandbox { id, mem }
}

/// Cold-start `n` sandboxes of `key` (ids `first..first + n`) and return them busy.
fn cold_start(
    pool: &WarmPool<&'static str, FakeSandbox>,
    key: &'static str,
    first: u64,
    n: u64,
    mem: u64,
    now: Instant,
) -> Vec<FakeSandbox> {
    (first..first + n)
        .map(|id| {
            match pool.acquire(&key, mem, now) {
                Ok(Acquired::Cold { evicted }) => assert!(evicted.is_empty()),
                other => panic!("expected a cold start, got {other:?}"),
            }
            sandbox(id, mem)
        })
        .collect()
}

fn ids(sandboxes: &[FakeSandbox]) -> Vec<u64> {
    sandboxes.iter().map(|s| s.id).collect()
}

fn stats(live: usize, idle: usize, busy: usize, memory_mb: u64) -> PoolStats {
    PoolStats {
        live,
        idle,
        busy,
        memory_mb,
    }
}

#[test]
fn reuse_is_lifo() {
    let pool = pool(1024);
    let t0 = Instant::now();
    let mut busy = cold_start(&pool, "A", 1, 2, 128, t0);
    let b = busy.pop();
    let a = busy.pop();
    assert!(pool.release(&"A", a.unwrap(), t0).is_none());
    assert!(
        pool.release(&"A", b.unwrap(), t0 + Duration::from_secs(1))
            .is_none()
    );

    let first = pool.acquire(&"A", 128, t0).unwrap();
    assert!(matches!(first, Acquired::Warm(FakeSandbox { id: 2, .. })));
    let second = pool.acquire(&"A", 128, t0).unwrap();
    assert!(matches!(second, Acquired::Warm(FakeSandbox { id: 1, .. })));
    assert!(matches!(
        pool.acquire(&"A", 128, t0),
        Ok(Acquired::Cold { .. })
    ));
    pool.check_invariants();
}

#[test]
fn cold_start_reserves_and_discard_releases() {
    let pool = pool(1024);
    let t0 = Instant::now();
    assert_eq!(pool.stats(&"A"), PoolStats::default());

    let mut busy = cold_start(&pool, "A", 1, 2, 256, t0);
    assert_eq!(pool.stats(&"A"), stats(2, 0, 2, 512));
    assert_eq!(pool.totals(), stats(2, 0, 2, 512));

    assert!(pool.release(&"A", busy.pop().unwrap(), t0).is_none());
    assert_eq!(pool.stats(&"A"), stats(2, 1, 1, 512));

    // The remaining busy one crashes.
    pool.discard(&"A", 256);
    assert_eq!(pool.stats(&"A"), stats(1, 1, 0, 256));

    // A failed cold start gives its reservation back.
    cold_start(&pool, "B", 10, 1, 128, t0);
    assert_eq!(pool.totals(), stats(2, 1, 1, 384));
    pool.discard(&"B", 128);
    assert_eq!(pool.stats(&"B"), PoolStats::default());
    assert_eq!(pool.totals(), stats(1, 1, 0, 256));

    // Discarding what is not busy changes nothing.
    pool.discard(&"B", 128);
    pool.discard(&"A", 256);
    assert_eq!(pool.totals(), stats(1, 1, 0, 256));
    pool.check_invariants();
}

#[test]
fn budget_evicts_least_recently_released_of_any_key() {
    let pool = pool(256);
    let t0 = Instant::now();
    let mut busy = cold_start(&pool, "A", 1, 2, 128, t0);
    let second = busy.pop().unwrap();
    let first = busy.pop().unwrap();
    assert!(pool.release(&"A", first, t0).is_none());
    assert!(pool.release(&"A", second, t0).is_none());
    assert_eq!(pool.totals(), stats(2, 2, 0, 256));

    match pool.acquire(&"B", 128, t0) {
        Ok(Acquired::Cold { evicted }) => assert_eq!(ids(&evicted), [1]),
        other => panic!("expected a cold start with one eviction, got {other:?}"),
    }
    assert_eq!(pool.stats(&"A"), stats(1, 1, 0, 128));
    assert_eq!(pool.stats(&"B"), stats(1, 0, 1, 128));
    assert_eq!(pool.totals().memory_mb, 256);

    // A bigger request evicts the rest but never busy memory.
    pool.discard(&"B", 128);
    match pool.acquire(&"C", 256, t0) {
        Ok(Acquired::Cold { evicted }) => assert_eq!(ids(&evicted), [2]),
        other => panic!("expected a cold start with one eviction, got {other:?}"),
    }
    assert_eq!(pool.totals(), stats(1, 0, 1, 256));
    pool.check_invariants();
}

#[test]
fn exhausted_budget_changes_nothing() {
    let pool = pool(512);
    let t0 = Instant::now();
    let mut busy = cold_start(&pool, "A", 1, 3, 128, t0);
    assert!(pool.release(&"A", busy.pop().unwrap(), t0).is_none());
    let before = (pool.totals(), pool.stats(&"A"), pool.stats(&"B"));

    // 256 busy + 128 idle: 256 more fits only after evicting, 384 does not fit at all.
    assert_eq!(
        pool.acquire(&"B", 384, t0).unwrap_err(),
        PoolError::MemoryBudgetExhausted {
            requested_mb: 384,
            in_use_mb: 384,
            budget_mb: 512,
        }
    );
    assert_eq!(before, (pool.totals(), pool.stats(&"A"), pool.stats(&"B")));

    // Larger than the whole budget.
    assert!(matches!(
        pool.acquire(&"B", 1024, t0),
        Err(PoolError::MemoryBudgetExhausted {
            requested_mb: 1024,
            ..
        })
    ));
    assert_eq!(before, (pool.totals(), pool.stats(&"A"), pool.stats(&"B")));

    // Everything busy.
    assert!(matches!(pool.acquire(&"A", 128, t0), Ok(Acquired::Warm(_))));
    cold_start(&pool, "B", 10, 1, 128, t0);
    assert_eq!(pool.totals(), stats(4, 0, 4, 512));
    assert!(pool.acquire(&"C", 1, t0).is_err());
    assert_eq!(pool.totals(), stats(4, 0, 4, 512));
    pool.check_invariants();
}

#[test]
fn reap_returns_only_expired() {
    let pool = pool(1024);
    let t0 = Instant::now();
    let keep_alive = pool.config().keep_alive;
    let mut busy = cold_start(&pool, "A", 1, 2, 128, t0);
    busy.extend(cold_start(&pool, "B", 3, 1, 128, t0));
    let c = busy.pop().unwrap();
    let b = busy.pop().unwrap();
    let a = busy.pop().unwrap();
    assert!(pool.release(&"A", a, t0).is_none());
    assert!(pool.release(&"B", c, t0 + Duration::from_secs(5)).is_none());
    assert!(
        pool.release(&"A", b, t0 + Duration::from_secs(10))
            .is_none()
    );

    // Exactly keep_alive is not "longer than".
    assert!(pool.reap_expired(t0 + keep_alive).is_empty());
    let reaped = pool.reap_expired(t0 + keep_alive + Duration::from_secs(6));
    assert_eq!(ids(&reaped), [1, 3]);
    assert_eq!(pool.stats(&"A"), stats(1, 1, 0, 128));
    assert_eq!(pool.stats(&"B"), PoolStats::default());

    // Reuse resets the clock: the remaining one is taken and released later.
    let Ok(Acquired::Warm(b)) = pool.acquire(&"A", 128, t0) else {
        panic!("expected a warm hit");
    };
    assert!(pool.release(&"A", b, t0 + keep_alive).is_none());
    assert!(pool.reap_expired(t0 + keep_alive * 2).is_empty());
    assert_eq!(ids(&pool.reap_expired(t0 + keep_alive * 3)), [2]);
    assert_eq!(pool.totals(), PoolStats::default());
    pool.check_invariants();
}

#[test]
fn retire_drops_idle_and_refuses_busy_until_reacquired() {
    let pool = pool(1024);
    let t0 = Instant::now();
    let mut busy = cold_start(&pool, "A", 1, 3, 128, t0);
    assert!(pool.release(&"A", busy.pop().unwrap(), t0).is_none());
    assert!(pool.release(&"A", busy.pop().unwrap(), t0).is_none());
    cold_start(&pool, "B", 10, 1, 64, t0);

    let retired = pool.retire(&"A");
    assert_eq!(ids(&retired), [3, 2]);
    assert_eq!(pool.stats(&"A"), stats(1, 0, 1, 128));
    assert_eq!(pool.stats(&"B"), stats(1, 0, 1, 64));

    // The busy one comes back after the retirement: handed back, memory freed.
    let handed_back = pool.release(&"A", busy.pop().unwrap(), t0);
    assert_eq!(handed_back.map(|s| s.id), Some(1));
    assert_eq!(pool.stats(&"A"), PoolStats::default());
    assert_eq!(pool.totals(), stats(1, 0, 1, 64));

    // Retiring an unknown or fully idle-free key is harmless.
    assert!(pool.retire(&"Z").is_empty());

    // A new acquire puts the key back in use: its sandboxes are kept again.
    cold_start(&pool, "A", 20, 1, 128, t0);
    assert!(pool.release(&"A", sandbox(20, 128), t0).is_none());
    assert_eq!(pool.stats(&"A"), stats(1, 1, 0, 128));
    pool.check_invariants();
}

#[test]
fn retire_then_reacquire_while_busy_unretires() {
    let pool = pool(1024);
    let t0 = Instant::now();
    let old = cold_start(&pool, "A", 1, 1, 128, t0);
    assert!(pool.retire(&"A").is_empty());
    cold_start(&pool, "A", 2, 1, 128, t0);
    for s in old {
        assert!(pool.release(&"A", s, t0).is_none());
    }
    assert_eq!(pool.stats(&"A"), stats(2, 1, 1, 256));
    pool.check_invariants();
}

#[test]
fn release_of_unknown_sandbox_is_handed_back() {
    let pool = pool(1024);
    let t0 = Instant::now();
    let back = pool.release(&"A", sandbox(1, 128), t0);
    assert_eq!(back, Some(sandbox(1, 128)));
    assert_eq!(pool.totals(), PoolStats::default());
    pool.check_invariants();
}

#[test]
fn drain_returns_all_idle() {
    let pool = pool(1024);
    let t0 = Instant::now();
    let mut busy = cold_start(&pool, "A", 1, 2, 128, t0);
    busy.extend(cold_start(&pool, "B", 3, 2, 256, t0));
    let still_busy = busy.remove(0);
    for (offset, s) in busy.into_iter().enumerate() {
        let key = if s.id <= 2 { "A" } else { "B" };
        let at = t0 + Duration::from_secs(offset as u64);
        assert!(pool.release(&key, s, at).is_none());
    }
    assert_eq!(pool.totals(), stats(4, 3, 1, 768));

    let drained = pool.drain();
    assert_eq!(ids(&drained), [2, 3, 4]);
    assert_eq!(pool.totals(), stats(1, 0, 1, 128));
    assert!(pool.drain().is_empty());

    assert!(pool.release(&"A", still_busy, t0).is_none());
    assert_eq!(ids(&pool.drain()), [1]);
    assert_eq!(pool.totals(), PoolStats::default());
    pool.check_invariants();
}

#[test]
fn mismatched_sizes_heal_when_key_goes_idle() {
    let pool = pool(1024);
    let t0 = Instant::now();
    cold_start(&pool, "A", 1, 2, 128, t0);
    // Caller bug: discards with the wrong sizes; the key's last busy end frees all of it.
    pool.discard(&"A", 64);
    assert_eq!(pool.totals(), stats(1, 0, 1, 192));
    pool.discard(&"A", 64);
    assert_eq!(pool.totals(), PoolStats::default());
    pool.check_invariants();
}

#[test]
fn the_sandbox_count_bound_evicts_the_least_recently_used_idle_sandbox_then_refuses() {
    let pool = WarmPool::new(PoolConfig {
        keep_alive: Duration::from_secs(600),
        memory_budget_mb: 1 << 20,
        max_sandboxes: 2,
        overcommit: 1,
    });
    let now = Instant::now();
    for (key, id) in [("a", 1), ("b", 2)] {
        assert!(matches!(
            pool.acquire(&key, 128, now),
            Ok(Acquired::Cold { .. })
        ));
        assert!(pool.release(&key, sandbox(id, 128), now).is_none());
    }
    // A third function: a's sandbox, the least recently used, makes room.
    match pool.acquire(&"c", 128, now) {
        Ok(Acquired::Cold { evicted }) => {
            assert_eq!(evicted.iter().map(|s| s.id).collect::<Vec<_>>(), [1]);
        }
        other => panic!("{other:?}"),
    }
    // b's idle one goes for d; then both slots are busy and e is refused.
    assert!(
        matches!(pool.acquire(&"d", 128, now), Ok(Acquired::Cold { evicted }) if evicted.len() == 1)
    );
    assert_eq!(
        pool.acquire(&"e", 128, now).map(|_| ()),
        Err(PoolError::SandboxesExhausted {
            busy: 2,
            max_sandboxes: 2
        })
    );
    assert_eq!(pool.totals().busy, 2);
}
