//! `error`: a handled function error.
//!
//! Always fails with error type `ValidationError` and message `bad input: <payload as text>`.
//! This is an ordinary (handled) error reported with `fail`: the sandbox stays warm for the
//! next invocation. Any payload is accepted.

use hearth_sdk::Error;

fn main() {
    hearth_sdk::run_raw(|payload, _ctx| {
        Err(Error::new(
            "ValidationError",
            format!("bad input: {}", String::from_utf8_lossy(payload)),
        ))
    });
}
