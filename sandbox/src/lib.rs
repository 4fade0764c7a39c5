//! Isolation: where a function's code actually runs.
//!
//! This crate owns the sandbox backends and the limits they enforce. Today that is the wasm
//! backend: a function is a WASI component (`wasm32-wasip2`) running under wasmtime with the
//! component model; it imports the guest ABI of `hearth-runtime-api` (`next`, `respond`,
//! `fail`, `init-fail`). The process backend for custom runtimes arrives with its own issue.
//!
//! It must not decide when to create or reuse a sandbox: that is the pool's and the
//! scheduler's business. A sandbox here is created (cold start), asked to run invocations one
//! at a time, and dropped.
//!
//! What a wasm sandbox costs and guarantees:
//! - One [`WasmEngine`] per process: pooling allocator with copy-on-write memory images, so a
//!   cold start is an instantiation from a prepared [`WasmFunction`] (`InstancePre`), a few µs
//!   of wasmtime work plus the guest's own init.
//! - Compiled code is cached on disk keyed by the code's SHA-256 and the engine's compatibility
//!   hash; a restart loads it with `deserialize_file` (mmap) instead of compiling again.
//! - An idle sandbox is a wasm fiber parked in the async host call `next`: it costs its touched
//!   memory and a fiber stack, no thread.
//! - Limits: linear memory capped at the function's MemorySize by a resource limiter (growth
//!   beyond it fails, and the resulting crash is reported as `Runtime.OutOfMemory`); the
//!   deadline is enforced twice, by epoch interruption for code that computes and by a timer
//!   for code blocked in a host call; INIT is bounded by 10 s. What it does not protect
//!   against: a guest that spins inside a single host call that never yields (none of the
//!   WASI calls we expose do).
//! - No network: the WASI context grants no sockets. `/tmp` is a per-sandbox directory,
//!   emptied when the sandbox is dropped.
//!
//! Layout:
//! - [`engine`]: the shared engine, its epoch ticker and the compiled-code cache.
//! - [`function`]: a prepared function version ([`WasmFunction`]) and its settings.
//! - [`sandbox`]: one running instance ([`WasmSandbox`]): cold start, invoke, failure.
//! - [`host`]: the per-instance host state and the guest ABI's host functions.
//! - [`limits`]: the memory limiter and the deadline check.
//! - [`output`]: capture of the guest's stdout/stderr for the function's log.
//! - [`tmp`]: per-sandbox `/tmp` directories, recycled when left empty.

pub mod backend;
pub mod conversation;
pub mod engine;
pub mod fs_guard;
pub mod function;
pub mod host;
pub mod limits;
pub mod memory;
pub mod output;
pub mod process;
pub mod sandbox;
pub mod snapshot;
pub mod tmp;

pub use backend::{
    Environment, Function, InvokeOutcome, Prepared, ResponseSink, Sandbox, StartError,
};
pub use engine::{EngineConfig, WasmEngine};
pub use function::{FunctionSettings, WasmFunction};
pub use memory::HostMemory;
pub use process::isolation::Isolation;
pub use process::{Entrypoint, ProcessFunction, ProcessSandbox};
pub use sandbox::WasmSandbox;

/// The largest linear memory a wasm32 guest can address: 4 GiB, i.e. 4,096 MB. A function
/// configured with more memory cannot use it; the scheduler refuses such a configuration.
pub const WASM32_MAX_MEMORY_MB: u64 = 4096;

/// Errors preparing code for execution.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The bytes are not a valid WebAssembly component for this engine.
    #[error("invalid wasm component: {0}")]
    InvalidComponent(String),
    /// The component imports something hearth does not provide (or with the wrong type).
    #[error("the component cannot be linked: {0}")]
    Link(String),
    /// Reading or writing the compiled-code cache failed.
    #[error("compiled code cache: {0}")]
    Cache(#[from] std::io::Error),
}
