//! `crash`: a function that panics on demand (for crash recovery).
//!
//! Event: `{"crash": true}` panics with `boom` inside the handler, which traps the sandbox:
//! the invocation fails and the next one gets a fresh cold start. Any other object (e.g. `{}`
//! or `{"crash": false}`) returns `{"ok": true}`.

use hearth_sdk::{Context, Error};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    crash: bool,
}

fn handler(event: Event, _ctx: &Context) -> Result<Value, Error> {
    if event.crash {
        panic!("boom");
    }
    Ok(json!({ "ok": true }))
}

fn main() {
    hearth_sdk::run(handler);
}
