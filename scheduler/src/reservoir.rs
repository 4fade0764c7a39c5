//! The provisioned sandboxes themselves: per version, the target count, the idle ones and
//! their memory reservation's key. [`crate::provisioned`] runs the API and the top-up task
//! on it; the invoke path takes idle sandboxes from it first.

use crate::entry::PoolKey;
use hearth_sandbox::Sandbox;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Marks a pool key as the memory reservation of provisioned sandboxes.
pub(crate) const PROVISIONED_BIT: u64 = 1 << 63;

#[derive(Debug, Default)]
pub(crate) struct Set {
    pub(crate) target: u32,
    /// Sandboxes started and not lost (idle here or busy in an invocation).
    pub(crate) live: u32,
    pub(crate) idle: Vec<Sandbox>,
    pub(crate) memory_mb: u64,
}

/// The provisioned sandboxes of every version, by pool key.
#[derive(Debug, Default)]
pub(crate) struct Reservoir {
    // A std Mutex: pushes and pops, never held across `.await`.
    pub(crate) sets: Mutex<HashMap<PoolKey, Set>>,
    /// The last start failure logged per key, and when: the refill loop retries every
    /// 100 ms, and the same error must not fill the server's log.
    failures: Mutex<HashMap<PoolKey, (String, Instant)>>,
}

/// How often the same start failure of one version is logged.
const FAILURE_LOG_PERIOD: Duration = Duration::from_secs(60);

/// Longest error text logged for a failed provisioned start (a guest's init error can be
/// megabytes).
pub(crate) const MAX_LOGGED_ERROR_CHARS: usize = 2048;

pub(crate) fn reservation_key(key: &PoolKey) -> PoolKey {
    (key.0.clone(), key.1 | PROVISIONED_BIT)
}

impl Reservoir {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PoolKey, Set>> {
        self.sets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle provisioned sandbox of `key`, if any.
    pub(crate) fn take(&self, key: &PoolKey) -> Option<Sandbox> {
        self.lock().get_mut(key).and_then(|set| set.idle.pop())
    }

    /// Whether a start failure with `message` should be logged now: a new message, or the
    /// same one after [`FAILURE_LOG_PERIOD`].
    pub(crate) fn should_log_failure(&self, key: &PoolKey, message: &str) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match failures.get(key) {
            Some((last, at)) if last == message && now.duration_since(*at) < FAILURE_LOG_PERIOD => {
                false
            }
            _ => {
                failures.insert(key.clone(), (message.to_owned(), now));
                true
            }
        }
    }

    /// Counts for GetProvisionedConcurrencyConfig: (requested, allocated).
    pub(crate) fn counts(&self, key: &PoolKey) -> (u32, u32) {
        self.lock()
            .get(key)
            .map_or((0, 0), |set| (set.target, set.live))
    }
}
