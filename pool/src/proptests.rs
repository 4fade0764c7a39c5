//! Random operation sequences against a simple model of the pool.
//!
//! The model is a list of idle sandboxes in release order (global LRU order; per key, the last
//! one is the LIFO top) plus the busy ones the test holds. Every result of the pool is checked
//! against it, and after every step the pool's counters must match the model's.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::tests::FakeSandbox;
use crate::{Acquired, PoolConfig, PoolError, PoolStats, WarmPool};

const KEYS: u8 = 3;
const BUDGET_MB: u64 = 512;
/// Few enough that the count bound binds as often as the memory budget (0 MB sandboxes).
const MAX_SANDBOXES: usize = 4;
const KEEP_ALIVE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
enum Op {
    Acquire { key: u8, mem: u64 },
    Release { pick: usize },
    Discard { pick: usize },
    Advance { secs: u64 },
    Reap,
    Retire { key: u8 },
    Drain,
    EvictLru,
}

fn op() -> impl Strategy<Value = Op> {
    let mem = prop::sample::select(vec![0u64, 64, 128, 256, 384, 600]);
    prop_oneof![
        6 => (0..KEYS, mem).prop_map(|(key, mem)| Op::Acquire { key, mem }),
        5 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        2 => any::<usize>().prop_map(|pick| Op::Discard { pick }),
        3 => (0u64..8).prop_map(|secs| Op::Advance { secs }),
        2 => Just(Op::Reap),
        1 => (0..KEYS).prop_map(|key| Op::Retire { key }),
        1 => Just(Op::Drain),
        2 => Just(Op::EvictLru),
    ]
}

struct Idle {
    key: u8,
    id: u64,
    mem: u64,
    since: Instant,
}

#[derive(Default)]
struct Model {
    /// In release order: front is least recently used.
    idle: Vec<Idle>,
    /// Sandboxes (or cold-start reservations, created immediately) the test holds.
    busy: Vec<(u8, FakeSandbox)>,
    retired: HashSet<u8>,
    /// Every sandbox the pool ever gave up (to detect double returns).
    returned: HashSet<u64>,
    next_id: u64,
}

impl Model {
    fn memory_mb(&self, key: Option<u8>) -> u64 {
        let idle = self.idle.iter().filter(|i| key.is_none_or(|k| i.key == k));
        let busy = self
            .busy
            .iter()
            .filter(|(k, _)| key.is_none_or(|kk| *k == kk));
        idle.map(|i| i.mem).sum::<u64>() + busy.map(|(_, s)| s.mem).sum::<u64>()
    }

    fn stats(&self, key: Option<u8>) -> PoolStats {
        let idle = self
            .idle
            .iter()
            .filter(|i| key.is_none_or(|k| i.key == k))
            .count();
        let busy = self
            .busy
            .iter()
            .filter(|(k, _)| key.is_none_or(|kk| *k == kk))
            .count();
        PoolStats {
            live: idle + busy,
            idle,
            busy,
            memory_mb: self.memory_mb(key),
        }
    }

    /// The pool gave up `sandboxes`; they must be exactly the model's idle ones at `positions`.
    fn expect_returned(&mut self, sandboxes: Vec<FakeSandbox>, positions: Vec<usize>) {
        let expected: Vec<u64> = positions.iter().map(|&p| self.idle[p].id).collect();
        let got: Vec<u64> = sandboxes.iter().map(|s| s.id).collect();
        assert_eq!(got, expected, "returned idle sandboxes");
        for id in got {
            assert!(self.returned.insert(id), "sandbox {id} returned twice");
        }
        let gone: HashSet<usize> = positions.into_iter().collect();
        let mut index = 0;
        self.idle.retain(|_| {
            index += 1;
            !gone.contains(&(index - 1))
        });
    }
}

fn run(ops: Vec<Op>) {
    let pool: WarmPool<u8, FakeSandbox> = WarmPool::new(PoolConfig {
        keep_alive: KEEP_ALIVE,
        memory_budget_mb: BUDGET_MB,
        max_sandboxes: MAX_SANDBOXES,
        overcommit: 1,
    });
    let mut model = Model::default();
    let mut now = Instant::now();

    for op in ops {
        match op {
            Op::Acquire { key, mem } => {
                let before = pool.totals();
                match pool.acquire(&key, mem, now) {
                    Ok(Acquired::Warm(sandbox)) => {
                        let top = model.idle.iter().rposition(|i| i.key == key);
                        let top = top.expect("warm hit although the model has no idle sandbox");
                        assert_eq!(sandbox.id, model.idle[top].id, "LIFO");
                        model.idle.remove(top);
                        model.retired.remove(&key);
                        model.busy.push((key, sandbox));
                    }
                    Ok(Acquired::Cold { evicted }) => {
                        assert!(model.idle.iter().all(|i| i.key != key), "cold despite idle");
                        let last_evicted_mb = evicted.last().map(|s| s.mem);
                        let positions = (0..evicted.len()).collect();
                        model.expect_returned(evicted, positions);
                        assert!(model.memory_mb(None) + mem <= BUDGET_MB, "does not fit");
                        let live = model.idle.len() + model.busy.len();
                        assert!(live < MAX_SANDBOXES, "no slot for it");
                        if let Some(last_mb) = last_evicted_mb {
                            // Minimal: keeping the last evicted one would not have fit, in
                            // memory or in slots.
                            let kept = model.memory_mb(None) + last_mb + mem;
                            assert!(
                                kept > BUDGET_MB || live + 1 >= MAX_SANDBOXES,
                                "evicted more than needed"
                            );
                        }
                        model.retired.remove(&key);
                        model.next_id += 1;
                        let sandbox = FakeSandbox {
                            id: model.next_id,
                            mem,
                        };
                        model.busy.push((key, sandbox));
                    }
                    Err(err) => {
                        let busy_mb: u64 = model.busy.iter().map(|(_, s)| s.mem).sum();
                        assert!(model.idle.iter().all(|i| i.key != key));
                        let expected = if busy_mb + mem > BUDGET_MB {
                            PoolError::MemoryBudgetExhausted {
                                requested_mb: mem,
                                in_use_mb: before.memory_mb,
                                budget_mb: BUDGET_MB,
                            }
                        } else {
                            assert!(
                                model.busy.len() >= MAX_SANDBOXES,
                                "refused although it fits"
                            );
                            PoolError::SandboxesExhausted {
                                busy: model.busy.len(),
                                max_sandboxes: MAX_SANDBOXES,
                            }
                        };
                        assert_eq!(err, expected);
                        assert_eq!(pool.totals(), before, "state changed on error");
                    }
                }
            }
            Op::Release { pick } if !model.busy.is_empty() => {
                let (key, sandbox) = model.busy.remove(pick % model.busy.len());
                let (id, mem) = (sandbox.id, sandbox.mem);
                match pool.release(&key, sandbox, now) {
                    None => {
                        assert!(!model.retired.contains(&key), "retired sandbox kept");
                        model.idle.push(Idle {
                            key,
                            id,
                            mem,
                            since: now,
                        });
                    }
                    Some(back) => {
                        assert_eq!(back.id, id);
                        assert!(model.retired.contains(&key), "sandbox refused");
                        assert!(model.returned.insert(id), "sandbox {id} returned twice");
                    }
                }
            }
            Op::Discard { pick } if !model.busy.is_empty() => {
                let (key, sandbox) = model.busy.remove(pick % model.busy.len());
                pool.discard(&key, sandbox.mem);
            }
            Op::Release { .. } | Op::Discard { .. } => {}
            Op::Advance { secs } => now += Duration::from_secs(secs),
            Op::Reap => {
                let positions = (0..model.idle.len())
                    .filter(|&p| now.duration_since(model.idle[p].since) > KEEP_ALIVE)
                    .collect();
                model.expect_returned(pool.reap_expired(now), positions);
            }
            Op::Retire { key } => {
                let positions = (0..model.idle.len())
                    .filter(|&p| model.idle[p].key == key)
                    .collect();
                model.expect_returned(pool.retire(&key), positions);
                model.retired.insert(key);
            }
            Op::Drain => {
                let positions = (0..model.idle.len()).collect();
                model.expect_returned(pool.drain(), positions);
            }
            Op::EvictLru => {
                // The least recently released idle sandbox of any key, or nothing.
                let evicted: Vec<FakeSandbox> = pool.evict_lru().into_iter().collect();
                let positions = if model.idle.is_empty() {
                    vec![]
                } else {
                    vec![0]
                };
                model.expect_returned(evicted, positions);
            }
        }

        pool.check_invariants();
        let totals = pool.totals();
        assert_eq!(totals, model.stats(None), "totals");
        assert!(totals.memory_mb <= BUDGET_MB, "over budget");
        for key in 0..KEYS {
            assert_eq!(pool.stats(&key), model.stats(Some(key)), "stats of {key}");
        }
        assert!(
            model
                .busy
                .iter()
                .all(|(_, s)| !model.returned.contains(&s.id))
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_operations_keep_the_invariants(ops in prop::collection::vec(op(), 1..120)) {
        run(ops);
    }
}
