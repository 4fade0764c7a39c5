//! `init_fail`: a function whose initialisation fails.
//!
//! Demonstrates [`hearth_sdk::run_with_init`]: `init` returns
//! `Error::new("InitError", "init failed on purpose")`, which the SDK reports with
//! `init-fail` before returning from `main`. The handler is never reached; any event will do.

use hearth_sdk::{Config, Context, Error};
use serde_json::Value;

fn init(config: &Config) -> Result<(), Error> {
    eprintln!("initialising {} ...", config.function_name);
    Err(Error::new("InitError", "init failed on purpose"))
}

fn handler(_state: &mut (), event: Value, _ctx: &Context) -> Result<Value, Error> {
    Ok(event)
}

fn main() {
    hearth_sdk::run_with_init(init, handler);
}
