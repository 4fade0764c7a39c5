//! `alloc`: a function that really uses memory (for memory limits).
//!
//! Event: `{"mb": N}`. Allocates `N` MiB in a `Vec<u8>`, writes one byte in every 4 KiB page
//! so the memory is actually touched, and returns `{"allocated_mb": N, "len": bytes}`.
//! Allocation failure is not caught: like a Lambda function exceeding its memory, the
//! sandbox crashes (the allocator aborts, which traps the instance).

use hearth_sdk::{Context, Error};
use serde::{Deserialize, Serialize};
use std::hint::black_box;

const MIB: usize = 1024 * 1024;
const PAGE: usize = 4096;

#[derive(Deserialize)]
struct Event {
    mb: usize,
}

#[derive(Serialize)]
struct Response {
    allocated_mb: usize,
    len: usize,
}

fn handler(event: Event, _ctx: &Context) -> Result<Response, Error> {
    let len = event.mb.checked_mul(MIB).ok_or_else(|| {
        Error::new(
            "ValidationError",
            format!("{} MiB does not fit in usize", event.mb),
        )
    })?;
    let mut buf = vec![0u8; len];
    for i in (0..len).step_by(PAGE) {
        buf[i] = 1;
    }
    let buf = black_box(buf);
    let response = Response {
        allocated_mb: event.mb,
        len: buf.len(),
    };
    drop(black_box(buf));
    Ok(response)
}

fn main() {
    hearth_sdk::run(handler);
}
