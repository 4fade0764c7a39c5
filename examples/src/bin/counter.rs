//! `counter`: state that survives warm invocations.
//!
//! Returns `{"count": n}` where `n` counts the invocations served by this sandbox
//! (1, 2, 3, ...), and prints `count=n` to stdout so it shows in the function's log. A cold
//! start begins again at 1. The event is ignored (any payload is accepted).

use std::sync::atomic::{AtomicU64, Ordering};

/// Lives as long as the sandbox's instance, like a global in a warm Lambda execution
/// environment.
static COUNT: AtomicU64 = AtomicU64::new(0);

fn main() {
    hearth_sdk::run_raw(|_payload, _ctx| {
        let n = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
        println!("count={n}");
        Ok(serde_json::to_vec(&serde_json::json!({ "count": n }))?)
    });
}
