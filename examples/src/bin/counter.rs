//! `counter`: state that survives warm invocations.
//!
//! Returns `{"count": n}` where `n` counts the invocations served by this sandbox
//! (1, 2, 3, ...), and prints `count=n` to stdout so it shows in the function's log. A cold
//! start begins again at 1. Event: anything; `{"crash": true}` panics instead (the sandbox
//! dies, so the next invocation starts a fresh one and counts from 1 again).

use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Lives as long as the sandbox's instance, like a global in a warm Lambda execution
/// environment.
static COUNT: AtomicU64 = AtomicU64::new(0);

#[derive(Deserialize, Default)]
struct Event {
    #[serde(default)]
    crash: bool,
}

fn main() {
    hearth_sdk::run_raw(|payload, _ctx| {
        let event: Event = serde_json::from_slice(payload).unwrap_or_default();
        if event.crash {
            panic!(
                "crash requested after {} invocations",
                COUNT.load(Ordering::Relaxed)
            );
        }
        let n = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
        println!("count={n}");
        Ok(serde_json::to_vec(&serde_json::json!({ "count": n }))?)
    });
}
