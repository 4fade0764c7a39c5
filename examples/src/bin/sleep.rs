//! `sleep`: a function that takes a while (for timeouts and concurrency).
//!
//! Event: `{"ms": N}`. Prints a line, sleeps `N` milliseconds with `std::thread::sleep`, then
//! returns `{"slept_ms": N}`. Demonstrates a typed handler with [`hearth_sdk::run`].

use hearth_sdk::{Context, Error};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Deserialize)]
struct Event {
    ms: u64,
}

#[derive(Serialize)]
struct Response {
    slept_ms: u64,
}

fn handler(event: Event, ctx: &Context) -> Result<Response, Error> {
    println!(
        "sleeping {} ms (request {}, {} ms left)",
        event.ms,
        ctx.request_id,
        ctx.remaining_time().as_millis()
    );
    std::thread::sleep(Duration::from_millis(event.ms));
    Ok(Response { slept_ms: event.ms })
}

fn main() {
    hearth_sdk::run(handler);
}
