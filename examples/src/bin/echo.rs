//! `echo`: returns the event bytes unchanged.
//!
//! Demonstrates [`hearth_sdk::run_raw`]: no JSON involved, any payload (even an empty or
//! binary one) comes back byte for byte.

fn main() {
    hearth_sdk::run_raw(|payload, _ctx| Ok(payload.to_vec()));
}
