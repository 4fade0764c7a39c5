//! Lambda's per-function scaling rate: at most 1,000 new execution environments every 10
//! seconds for each function, refilled continuously and never saved up beyond that. Warm
//! sandboxes and provisioned ones cost nothing; only a cold start takes a unit. A cold start
//! over the rate is throttled (429) like any other that cannot be admitted.

use crate::clock::Clock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Lambda's rate: this many new environments per [`SCALE_UP_WINDOW`], per function.
pub const DEFAULT_SCALE_UP_PER_WINDOW: u32 = 1_000;
/// The window the rate is given over.
pub const SCALE_UP_WINDOW: Duration = Duration::from_secs(10);

/// One token bucket per function.
#[derive(Debug)]
pub struct ScaleUpRate {
    per_window: u32,
    clock: Arc<dyn Clock>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Units left, in millionths (integer arithmetic; a unit refills every window/per_window).
    micro_units: u64,
    /// When it was last refilled, on the clock.
    at: Duration,
}

const MICRO: u64 = 1_000_000;

impl ScaleUpRate {
    pub fn new(per_window: u32, clock: Arc<dyn Clock>) -> Self {
        Self {
            per_window,
            clock,
            buckets: Mutex::default(),
        }
    }

    /// Takes one unit of `function`'s rate for a new environment; `false` if none is left.
    pub fn try_take(&self, function: &str) -> bool {
        let full = u64::from(self.per_window) * MICRO;
        let now = self.clock.now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(function) {
            buckets.insert(
                function.to_owned(),
                Bucket {
                    micro_units: full,
                    at: now,
                },
            );
        }
        let Some(bucket) = buckets.get_mut(function) else {
            return false;
        };
        let elapsed = now.saturating_sub(bucket.at);
        let refill = u64::try_from(
            elapsed.as_nanos() * u128::from(self.per_window) * u128::from(MICRO)
                / SCALE_UP_WINDOW.as_nanos(),
        )
        .unwrap_or(u64::MAX);
        bucket.micro_units = bucket.micro_units.saturating_add(refill).min(full);
        bucket.at = now;
        if bucket.micro_units < MICRO {
            return false;
        }
        bucket.micro_units -= MICRO;
        true
    }

    /// Forgets a deleted function's bucket.
    pub fn forget(&self, function: &str) {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(function);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_function_scales_by_its_rate_refilled_continuously_and_never_saved_up() {
        let clock = Arc::new(ManualClock::default());
        let rate = ScaleUpRate::new(1_000, clock.clone());
        for _ in 0..1_000 {
            assert!(rate.try_take("f"));
        }
        assert!(!rate.try_take("f"), "1,000 in the window");
        assert!(rate.try_take("g"), "each function has its own rate");
        // One unit every 10 ms.
        clock.advance(Duration::from_millis(9));
        assert!(!rate.try_take("f"));
        clock.advance(Duration::from_millis(1));
        assert!(rate.try_take("f"));
        assert!(!rate.try_take("f"));
        // An idle minute saves up no more than 1,000.
        clock.advance(Duration::from_secs(60));
        for _ in 0..1_000 {
            assert!(rate.try_take("f"));
        }
        assert!(!rate.try_take("f"));
    }
}
