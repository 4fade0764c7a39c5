//! `logger`: prints every event it receives to stdout (so it lands in the function's log)
//! and returns `null`. Useful as an asynchronous-invocation destination: the destination
//! record it was sent shows up in its log.

fn main() {
    hearth_sdk::run_raw(|payload, ctx| {
        println!(
            "event {}: {}",
            ctx.request_id,
            String::from_utf8_lossy(payload)
        );
        Ok(b"null".to_vec())
    });
}
