//! hearth: a self-hosted, Lambda-compatible function runtime.
//!
//! This crate is the binary's library half: the HTTP front door that speaks Lambda's Invoke
//! and control-plane APIs, the CLI's client, and the wiring that starts a server. Business
//! rules live in the crates below it (`hearth-scheduler`, `hearth-pool`, `hearth-sandbox`,
//! `hearth-runtime-api`); this crate translates between HTTP and their calls, and maps their
//! errors to Lambda's wire errors in exactly one place ([`api::errors`]).
//!
//! Layout:
//! - [`server`]: the accept loop, graceful shutdown, [`server::serve`].
//! - [`api`]: request routing and one handler module per API family.
//! - [`auth`]: AWS Signature Version 4 verification (and signing, for the CLI).
//! - [`client`]: the HTTP client behind the CLI's subcommands.
//! - [`cli`]: what `hearth deploy`, `functions` and `logs` do.
//! - [`bench`]: `hearth bench`, cold and warm starts measured with their phases and floors.
//! - `fuzzing`: the entry points of the fuzz targets in `fuzz/` (and their corpus replay).

pub mod api;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod client;
pub mod doctor;
#[doc(hidden)]
pub mod fuzzing;
pub mod server;

pub use server::{ServerConfig, serve};
