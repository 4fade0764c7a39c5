//! Pool configuration: keep-alive and the global memory budget, with machine-derived defaults.

use std::time::Duration;

/// Lambda keeps an idle execution environment for minutes; ten is a common observed value.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(600);
/// Share of physical memory the pool may charge: the rest is left to the host process, the
/// page cache and whatever else runs on the machine.
const BUDGET_PERCENT_OF_MEMORY: u64 = 80;
/// Budget used when `/proc/meminfo` cannot be read (non-Linux, sandboxed `/proc`).
const FALLBACK_MEMORY_BUDGET_MB: u64 = 8192;
/// Lambda's smallest MemorySize: a budget below it could not hold a single sandbox.
const MIN_MEMORY_BUDGET_MB: u64 = 128;
/// Live sandboxes (idle, busy and reserved) at once, by default. Each needs a slot of the
/// wasm engine's pooling allocator, which reserves about 4 GiB of address space (not memory)
/// per slot up front: 10,000 slots are ~40 TiB of the 128 TiB a process can address, and a
/// warm echo sandbox costs ~75 KiB of RSS (`cargo bench --bench density`).
pub const DEFAULT_MAX_SANDBOXES: usize = 10_000;
/// How many times the memory budget the configured MemorySizes of live sandboxes may add up
/// to. A function rarely touches most of its MemorySize (a warm echo sandbox holds ~1 MiB
/// of its 128 MB); what sandboxes really hold is held to the budget itself by the host's
/// memory ledger, where it is consumed.
pub const DEFAULT_MEMORY_OVERCOMMIT: u64 = 8;

/// How long idle sandboxes live and how much memory all live sandboxes may take together.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// How long an idle sandbox is kept before `reap_expired` returns it (Lambda-like default 10 min).
    pub keep_alive: Duration,
    /// Memory all live sandboxes may really hold together, MB (the host's memory ledger
    /// enforces it as they grow). The sum of their configured MemorySizes may reach
    /// `memory_budget_mb × overcommit`.
    pub memory_budget_mb: u64,
    /// See [`DEFAULT_MEMORY_OVERCOMMIT`]; 1 charges every sandbox its whole MemorySize
    /// against the budget (no overcommit).
    pub overcommit: u64,
    /// Most live sandboxes (idle + busy + reserved cold starts) at once, whatever their memory:
    /// the slots the engine has for them. Idle ones are evicted LRU to stay within it.
    pub max_sandboxes: usize,
}

impl Default for PoolConfig {
    /// Keep-alive 600 s; budget 80 % of `MemTotal` from `/proc/meminfo` (8192 MB if unreadable),
    /// at least 128 MB. Costs one small file read.
    fn default() -> Self {
        Self {
            keep_alive: DEFAULT_KEEP_ALIVE,
            memory_budget_mb: default_memory_budget_mb(),
            max_sandboxes: DEFAULT_MAX_SANDBOXES,
            overcommit: DEFAULT_MEMORY_OVERCOMMIT,
        }
    }
}

impl PoolConfig {
    /// What the configured MemorySizes of live sandboxes may add up to, MB.
    pub fn charge_budget_mb(&self) -> u64 {
        self.memory_budget_mb.saturating_mul(self.overcommit.max(1))
    }
}

/// 80 % of this machine's physical memory in MB, or the fallback, clamped to the minimum.
fn default_memory_budget_mb() -> u64 {
    let total_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .as_deref()
        .and_then(mem_total_mb);
    budget_for_total_mb(total_mb)
}

/// The budget for a machine with `total_mb` of physical memory (`None`: unknown).
fn budget_for_total_mb(total_mb: Option<u64>) -> u64 {
    total_mb
        .map(|mb| mb.saturating_mul(BUDGET_PERCENT_OF_MEMORY) / 100)
        .unwrap_or(FALLBACK_MEMORY_BUDGET_MB)
        .max(MIN_MEMORY_BUDGET_MB)
}

/// `MemTotal` of a `/proc/meminfo` text in MB (the kernel reports kB), `None` if absent or
/// malformed.
fn mem_total_mb(meminfo: &str) -> Option<u64> {
    let rest = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?;
    let mut fields = rest.split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") | None => Some(value / 1024),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "MemTotal:       16318480 kB\n\
                           MemFree:         1234567 kB\n\
                           MemAvailable:    9876543 kB\n";

    #[test]
    fn parses_mem_total_in_mb() {
        assert_eq!(mem_total_mb(MEMINFO), Some(15936));
        assert_eq!(mem_total_mb("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total_mb("MemTotal: lots kB\n"), None);
        assert_eq!(mem_total_mb("MemTotal: 2048 MB\n"), None);
    }

    #[test]
    fn budget_is_eighty_percent_with_fallback_and_floor() {
        assert_eq!(budget_for_total_mb(Some(10_000)), 8_000);
        assert_eq!(budget_for_total_mb(None), FALLBACK_MEMORY_BUDGET_MB);
        assert_eq!(budget_for_total_mb(Some(100)), MIN_MEMORY_BUDGET_MB);
        assert_eq!(budget_for_total_mb(Some(0)), MIN_MEMORY_BUDGET_MB);
    }
}
