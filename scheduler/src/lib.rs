//! The scheduler: functions, admission, and the invoke path.
//!
//! This crate owns what a Lambda region does between the front door and a sandbox: the
//! function registry and its code (durable under the state directory), admission against the account and reserved concurrency
//! limits, synchronous and asynchronous (`Event`) invocation with retries, the function logs
//! (`START` / `END` / `REPORT`) and the Prometheus metrics. It must not speak HTTP: the front
//! door turns requests into calls here and maps [`error`] values to Lambda's wire errors once.
//!
//! One invocation, in order: [`Scheduler::invoke`] resolves the function
//! ([`registry`]), takes a concurrency permit ([`admission`]), takes a warm sandbox from the
//! pool or cold-starts one, runs the invocation in the sandbox, writes the log lines
//! ([`logs`]) and metrics ([`metrics`]), and returns the sandbox to the pool unless it failed.
//!
//! Layout:
//! - [`config`]: scheduler settings and their defaults.
//! - [`function`]: a function's configuration (Lambda's `FunctionConfiguration`), the
//!   CreateFunction request and its validation.
//! - [`code`]: deployment packages: a zip or a bare component, their limits and hashes.
//! - [`registry`]: the [`Scheduler`] itself and start-up from disk; `functions`: the map of
//!   deployed functions and name resolution (a component of its own, unit-tested alone).
//! - [`backends`]: the sandbox backends, chosen by `Runtime`: preparing a version as a wasm
//!   component or a process (`provided.*`, Python), and this host's isolation layers.
//! - [`control`]: control-plane operations on functions (create, update, delete, list,
//!   concurrency, tags, account settings).
//! - [`versions`]: PublishVersion and aliases.
//! - [`event_config`]: asynchronous-invocation settings and destinations.
//! - [`provisioned`]: provisioned concurrency (sandboxes initialised ahead of demand).
//! - [`record`], [`store`]: what is persisted, and how (atomic writes under the state dir).
//! - [`admission`]: account and reserved concurrency.
//! - [`invoke`]: synchronous and dry-run invocation.
//! - [`async_invoke`]: `Event` invocation: retries, destinations; [`event_queue`]: the
//!   durable queue it runs from (a queue of hearth's own in a `hearth-queue` engine).
//! - [`logs`], [`metrics`], [`error`].

pub mod admission;
pub mod async_invoke;
pub mod backends;
pub mod clock;
pub mod code;
pub mod config;
pub mod control;
pub mod entry;
pub mod error;
pub mod event_config;
pub mod event_queue;
pub mod function;
pub(crate) mod functions;
pub mod invoke;
pub mod logs;
pub mod metrics;
pub mod provisioned;
pub mod record;
pub mod registry;
pub mod reservoir;
pub mod scale;
pub mod snap_start;
pub mod store;
pub mod versions;

pub use config::SchedulerConfig;
pub use error::{DeployError, InvokeError, NotFound};
pub use function::{CreateFunction, FunctionConfiguration, UpdateCode, UpdateConfiguration};
pub use invoke::{InvokeRequest, InvokeResponse};
pub use registry::Scheduler;
