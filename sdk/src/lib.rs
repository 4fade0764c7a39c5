//! The guest SDK for hearth wasm functions.
//!
//! A hearth function is a WASI command built for `wasm32-wasip2` that imports the
//! `hearth:runtime/invocation@0.1.0` interface (the Lambda Runtime API as a component
//! interface). Its `main` behaves like a Lambda custom runtime: initialise once, then loop on
//! `next`, answering each invocation with `respond` or `fail`. This crate writes that loop for
//! you: call one of [`run`], [`run_raw`] or [`run_with_init`] from `main` with a handler.
//!
//! ```no_run
//! use hearth_sdk::{Context, Error};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Request { name: String }
//!
//! #[derive(Serialize)]
//! struct Response { greeting: String }
//!
//! fn handler(req: Request, _ctx: &Context) -> Result<Response, Error> {
//!     Ok(Response { greeting: format!("hello, {}", req.name) })
//! }
//!
//! fn main() {
//!     hearth_sdk::run(handler);
//! }
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is a component ready to deploy. Whatever the function
//! prints to stdout/stderr ends up in its log.
//!
//! Layout:
//! - [`run`], [`run_raw`], [`run_with_init`] (this file): the invocation loop.
//! - [`Context`] and [`Config`] (`context.rs`): per-invocation metadata and per-sandbox settings.
//! - [`Error`] (`error.rs`): handler errors, reported with `fail`.
//! - [`SnapStart`], [`snap_start!`], [`run_snap_start`] (`snap_start.rs`): INIT captured in a
//!   snapshot when a version is published, and the runtime hooks around it.
//! - `bindings` (private): the `wit-bindgen` bindings for `runtime-api/wit/runtime.wit`.
//!
//! The crate also compiles for the host so its pure parts can be unit tested there; on a
//! non-wasm target the generated imports are stubs that panic (`unreachable!`) if called, so
//! the `run*` functions only work inside a hearth sandbox.

mod context;
mod error;
pub mod events;
pub mod snap_start;

pub use context::{Config, Context};
pub use error::Error;
pub use snap_start::{SnapStart, run_snap_start};

/// What [`snap_start!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

// The generated glue code uses `unsafe` for the canonical ABI (raw pointers into linear
// memory), which the workspace denies; allow it on this generated module only.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../runtime-api/wit",
        world: "hearth:runtime/function",
    });
}

use bindings::hearth::runtime::invocation;
use serde::{Serialize, de::DeserializeOwned};

/// The Runtime API itself, for runtimes that drive the loop on their own (`next`, then
/// `respond` or `fail`; `init_fail` when initialisation cannot complete). [`run`] and its
/// siblings are built on these.
pub mod raw {
    pub use super::bindings::hearth::runtime::invocation::{
        ApiError, Event, fail, init_fail, next, respond,
    };
}

/// Serves invocations with a typed handler.
///
/// Each payload is deserialized from JSON into `E` (on failure the invocation fails with
/// error type `Runtime.UnmarshalError`), and the handler's `R` is serialized to JSON as the
/// response (on failure: `Runtime.MarshalError`). A handler [`Error`] fails the invocation;
/// the sandbox stays warm either way. Never returns while the host keeps sending invocations.
pub fn run<E, R, F>(mut handler: F)
where
    E: DeserializeOwned,
    R: Serialize,
    F: FnMut(E, &Context) -> Result<R, Error>,
{
    serve(&Config::from_env(), |payload, ctx| {
        json_call(payload, |event| handler(event, ctx))
    });
}

/// Serves invocations with a raw handler: payload bytes in, response bytes out.
///
/// Never returns while the host keeps sending invocations.
pub fn run_raw<F>(handler: F)
where
    F: FnMut(&[u8], &Context) -> Result<Vec<u8>, Error>,
{
    serve(&Config::from_env(), handler);
}

/// Initialises state once, then serves invocations with `handler(&mut state, event, ctx)`.
///
/// If `init` fails its error is reported with `init-fail` and this function returns (so
/// `main` should return right after it). Payloads and results are JSON as in [`run`].
pub fn run_with_init<S, I, E, R, F>(init: I, mut handler: F)
where
    I: FnOnce(&Config) -> Result<S, Error>,
    E: DeserializeOwned,
    R: Serialize,
    F: FnMut(&mut S, E, &Context) -> Result<R, Error>,
{
    let config = Config::from_env();
    let mut state = match init(&config) {
        Ok(state) => state,
        Err(e) => {
            invocation::init_fail(&e.error_type, &e.message, &[]);
            return;
        }
    };
    serve(&config, |payload, ctx| {
        json_call(payload, |event| handler(&mut state, event, ctx))
    });
}

/// The Lambda runtime loop: `next`, call the handler, `respond` or `fail`, repeat.
fn serve<F>(config: &Config, mut handler: F)
where
    F: FnMut(&[u8], &Context) -> Result<Vec<u8>, Error>,
{
    loop {
        let event = invocation::next();
        let ctx = Context {
            request_id: event.request_id,
            deadline_ms: event.deadline_ms,
            invoked_function_arn: event.invoked_function_arn,
            trace_id: event.trace_id,
            client_context: event.client_context,
            identity: event.cognito_identity,
            env_config: config.clone(),
        };
        let (what, answered) = match handler(&event.payload, &ctx) {
            Ok(body) => ("respond", invocation::respond(&ctx.request_id, &body)),
            Err(e) => (
                "fail",
                invocation::fail(&ctx.request_id, &e.error_type, &e.message, &[]),
            ),
        };
        if let Err(e) = answered {
            eprintln!(
                "hearth-sdk: {what} for request {} rejected: {}: {}",
                ctx.request_id, e.error_type, e.error_message
            );
        }
    }
}

/// Decodes `payload` as JSON, calls `f`, encodes its result as JSON.
fn json_call<E, R>(payload: &[u8], f: impl FnOnce(E) -> Result<R, Error>) -> Result<Vec<u8>, Error>
where
    E: DeserializeOwned,
    R: Serialize,
{
    let event = serde_json::from_slice(payload).map_err(|e| {
        Error::new(
            "Runtime.UnmarshalError",
            format!(
                "failed to deserialize the event into {}: {e}",
                std::any::type_name::<E>()
            ),
        )
    })?;
    let response = f(event)?;
    serde_json::to_vec(&response).map_err(|e| {
        Error::new(
            "Runtime.MarshalError",
            format!(
                "failed to serialize the response from {}: {e}",
                std::any::type_name::<R>()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    struct In {
        n: u32,
    }

    #[test]
    fn json_roundtrip() {
        let out = json_call(br#"{"n": 2}"#, |e: In| {
            Ok(serde_json::json!({"double": e.n * 2}))
        });
        assert_eq!(out.unwrap(), br#"{"double":4}"#);
    }

    #[test]
    fn unmarshal_error() {
        let err = json_call(b"not json", |_: In| Ok(())).unwrap_err();
        assert_eq!(err.error_type, "Runtime.UnmarshalError");
        assert!(err.message.contains("expected ident"), "{}", err.message);
    }

    #[test]
    fn marshal_error() {
        // JSON object keys must be strings.
        let err = json_call(b"{}", |_: serde_json::Value| {
            Ok(BTreeMap::from([((1, 2), 3)]))
        })
        .unwrap_err();
        assert_eq!(err.error_type, "Runtime.MarshalError");
    }

    #[test]
    fn handler_error_passes_through() {
        let err = json_call(br#"{"n": 1}"#, |_: In| -> Result<(), Error> {
            Err(Error::new("ValidationError", "nope"))
        })
        .unwrap_err();
        assert_eq!(err, Error::new("ValidationError", "nope"));
    }
}
