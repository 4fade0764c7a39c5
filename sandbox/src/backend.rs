//! The backend seam: what the scheduler asks of any sandbox backend. A prepared function
//! version ([`Prepared`]) starts execution environments ([`Environment`]); an environment
//! runs one invocation at a time, reports what it holds and is shut down by being dropped.
//! Two backends implement it: wasm components under wasmtime ([`crate::WasmFunction`]) and
//! native processes ([`crate::ProcessFunction`]); [`Function`] and [`Sandbox`] are the one
//! type of each the scheduler keeps, chosen by the function's `Runtime`.

pub use crate::conversation::{InvokeOutcome, ResponseSink, StartError};
use crate::process::{ProcessFunction, ProcessSandbox};
use crate::{FunctionSettings, WasmFunction, WasmSandbox};
use hearth_runtime_api::Invocation;
use std::future::Future;
use std::time::{Duration, Instant};

/// A prepared function version of some backend.
pub trait Prepared: Clone + Send + Sync {
    type Environment: Environment;
    /// Cold start: a new environment, through INIT to its first `next`.
    fn start(&self) -> impl Future<Output = Result<Self::Environment, StartError>> + Send;
    /// The same version with another `AWS_LAMBDA_INITIALIZATION_TYPE`.
    fn with_initialization_type(&self, initialization_type: &str) -> Self;
    fn settings(&self) -> &FunctionSettings;
}

/// A live execution environment. Dropping it shuts it down.
pub trait Environment: Send + 'static {
    /// Runs one invocation until its answer, the environment's end, or `deadline`; a
    /// response the runtime streams goes to `stream` as it arrives, when there is one.
    fn invoke_streaming(
        &mut self,
        invocation: Invocation,
        deadline: Instant,
        stream: Option<ResponseSink>,
    ) -> impl Future<Output = InvokeOutcome> + Send;
    /// Runs one invocation for a caller that waits for the whole answer.
    fn invoke(
        &mut self,
        invocation: Invocation,
        deadline: Instant,
    ) -> impl Future<Output = InvokeOutcome> + Send {
        self.invoke_streaming(invocation, deadline, None)
    }
    /// What the runtime printed since the last call.
    fn take_output(&self) -> Vec<u8>;
    /// Bytes the environment holds in the host's memory ledger.
    fn held_bytes(&self) -> u64;
    /// `Max Memory Used`, measured.
    fn max_memory_used_mb(&self) -> u64;
    /// The configured MemorySize.
    fn memory_mb(&self) -> u64;
    /// How long INIT took.
    fn init_duration(&self) -> Duration;
    /// False once the environment failed; it must be dropped.
    fn is_alive(&self) -> bool;
}

macro_rules! environment_by {
    ($t:ty) => {
        impl Environment for $t {
            fn invoke_streaming(
                &mut self,
                invocation: Invocation,
                deadline: Instant,
                stream: Option<ResponseSink>,
            ) -> impl Future<Output = InvokeOutcome> + Send {
                <$t>::invoke_streaming(self, invocation, deadline, stream)
            }
            fn take_output(&self) -> Vec<u8> {
                <$t>::take_output(self)
            }
            fn held_bytes(&self) -> u64 {
                <$t>::held_bytes(self)
            }
            fn max_memory_used_mb(&self) -> u64 {
                <$t>::max_memory_used_mb(self)
            }
            fn memory_mb(&self) -> u64 {
                <$t>::memory_mb(self)
            }
            fn init_duration(&self) -> Duration {
                <$t>::init_duration(self)
            }
            fn is_alive(&self) -> bool {
                <$t>::is_alive(self)
            }
        }
    };
}
environment_by!(WasmSandbox);
environment_by!(ProcessSandbox);

macro_rules! prepared_by {
    ($t:ty, $env:ty) => {
        impl Prepared for $t {
            type Environment = $env;
            fn start(&self) -> impl Future<Output = Result<$env, StartError>> + Send {
                <$t>::start(self)
            }
            fn with_initialization_type(&self, initialization_type: &str) -> Self {
                <$t>::with_initialization_type(self, initialization_type)
            }
            fn settings(&self) -> &FunctionSettings {
                <$t>::settings(self)
            }
        }
    };
}
prepared_by!(WasmFunction, WasmSandbox);
prepared_by!(ProcessFunction, ProcessSandbox);

/// A prepared function version of either backend.
// One per function version, kept in an `Arc`'d entry and never moved on the invoke path: the
// size of the wasm variant costs nothing there.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Function {
    Wasm(WasmFunction),
    Process(ProcessFunction),
}

/// An environment of either backend.
#[derive(Debug)]
pub enum Sandbox {
    Wasm(WasmSandbox),
    Process(ProcessSandbox),
}

impl Prepared for Function {
    type Environment = Sandbox;
    async fn start(&self) -> Result<Sandbox, StartError> {
        match self {
            Self::Wasm(f) => Prepared::start(f).await.map(Sandbox::Wasm),
            Self::Process(f) => Prepared::start(f).await.map(Sandbox::Process),
        }
    }
    fn with_initialization_type(&self, initialization_type: &str) -> Self {
        match self {
            Self::Wasm(f) => Self::Wasm(Prepared::with_initialization_type(f, initialization_type)),
            Self::Process(f) => {
                Self::Process(Prepared::with_initialization_type(f, initialization_type))
            }
        }
    }
    fn settings(&self) -> &FunctionSettings {
        match self {
            Self::Wasm(f) => Prepared::settings(f),
            Self::Process(f) => Prepared::settings(f),
        }
    }
}

/// Runs `$e` on whichever backend's environment this is, through its [`Environment`] impl.
macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Sandbox::Wasm($s) => $e,
            Sandbox::Process($s) => $e,
        }
    };
}

impl Environment for Sandbox {
    async fn invoke_streaming(
        &mut self,
        invocation: Invocation,
        deadline: Instant,
        stream: Option<ResponseSink>,
    ) -> InvokeOutcome {
        each!(self, s => Environment::invoke_streaming(s, invocation, deadline, stream).await)
    }
    fn take_output(&self) -> Vec<u8> {
        each!(self, s => Environment::take_output(s))
    }
    fn held_bytes(&self) -> u64 {
        each!(self, s => Environment::held_bytes(s))
    }
    fn max_memory_used_mb(&self) -> u64 {
        each!(self, s => Environment::max_memory_used_mb(s))
    }
    fn memory_mb(&self) -> u64 {
        each!(self, s => Environment::memory_mb(s))
    }
    fn init_duration(&self) -> Duration {
        each!(self, s => Environment::init_duration(s))
    }
    fn is_alive(&self) -> bool {
        each!(self, s => Environment::is_alive(s))
    }
}
