//! The Lambda Runtime API, as hearth speaks it to every sandbox.
//!
//! This crate owns the protocol a function's runtime talks: the wire types of an invocation,
//! the error bodies, the limits the API enforces, and the per-sandbox state machine that
//! decides which call is legal when (`next` → `response` | `error`, `init/error`). It also
//! ships the WIT package that is the guest ABI for wasm functions (`wit/runtime.wit`), the
//! component-model mirror of the HTTP endpoints.
//!
//! It must not know about pools, functions or scheduling: a sandbox backend feeds it calls and
//! reads back decisions.
//!
//! Layout:
//! - [`invocation`]: one invocation as `/next` delivers it, request and trace ids.
//! - [`error`]: the function-error body (`errorType`, `errorMessage`, `stackTrace`) and the
//!   error types hearth reports for sandbox failures (`Sandbox.Timedout`, …).
//! - [`session`]: the per-sandbox state machine and the Runtime API's own errors.
//! - [`limits`]: payload limits of the Runtime API.

pub mod error;
pub mod invocation;
pub mod limits;
pub mod session;

pub use error::{FunctionError, SandboxFailure};
pub use invocation::{Invocation, new_request_id, new_trace_id};
pub use session::{ApiError, ApiErrorKind, Session};

/// The WIT source of the guest ABI, for tools that want to print or check it.
pub const WIT: &str = include_str!("../wit/runtime.wit");

/// The interface name a guest imports, with its ABI version.
pub const INTERFACE: &str = "hearth:runtime/invocation@0.1.0";
