//! One running wasm instance: cold start, invocations, failure.
//!
//! The instance runs `main` in its own tokio task. The [`WasmSandbox`] handle talks to it over
//! two channels: invocations in (where `next` waits), [`GuestEvent`]s out. Dropping the handle
//! aborts the task, which drops the store: the instance's pool slot and memory are reclaimed
//! at once, wherever the guest was.

use crate::conversation::{self, Handle, InitEnd, InvokeOutcome, StartError, log_stream_name};
use crate::function::WasmFunction;
use crate::host::{self, SandboxState, Shutdown};
use crate::limits::{DeadlineExceeded, MemoryLimiter};
use crate::output::OutputBuffer;
use hearth_runtime_api::limits::INIT_TIMEOUT;
use hearth_runtime_api::{Invocation, SandboxFailure};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use wasmtime::Store;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// A live sandbox: one instance of a function version, idle in `next` between invocations.
pub struct WasmSandbox {
    handle: Handle,
    task: JoinHandle<()>,
    output: OutputBuffer,
    peak_memory: Arc<AtomicU64>,
    memory_mb: u64,
    timeout: Duration,
    init_duration: Duration,
    log_stream: String,
    alive: bool,
}

impl std::fmt::Debug for WasmSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmSandbox")
            .field("log_stream", &self.log_stream)
            .field("alive", &self.alive)
            .finish_non_exhaustive()
    }
}

impl Drop for WasmSandbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WasmFunction {
    /// The floor under a cold start: instantiate this function from its `InstancePre` into
    /// a fresh store with an empty WASI context, run none of the guest, drop it. Benchmarks
    /// compare [`WasmFunction::start`] against this.
    pub async fn instantiate_only(&self) -> Result<(), String> {
        let (mut conversation, inbox, _handle) = conversation::channels(Instant::now());
        // No INIT runs here: nothing is bounded by a deadline (the epoch callback would stop
        // an instantiation that a tick happened to interrupt).
        conversation.deadline = None;
        let state = SandboxState {
            wasi: WasiCtxBuilder::new().build(),
            table: guest_table(),
            limiter: MemoryLimiter::new(
                self.settings.memory_mb,
                Arc::default(),
                self.engine.host_memory().clone(),
            ),
            conversation,
            inbox,
            quota: crate::fs_guard::TmpQuota::new(self.settings.tmp_limit_mb),
            _tmp: None,
        };
        let mut store = Store::new(self.engine.engine(), state);
        store.set_hostcall_fuel(HOSTCALL_FUEL);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(host::on_epoch);
        store.set_epoch_deadline(1);
        self.pre
            .instantiate_async(&mut store)
            .await
            .map(drop)
            .map_err(|e| format!("{e:#}"))
    }

    /// Cold start: instantiate, run the guest's INIT until it first calls `next` (at most
    /// 10 s), and hand back the idle sandbox.
    pub async fn start(&self) -> Result<WasmSandbox, StartError> {
        let started = Instant::now();
        let settings = &self.settings;
        let tmp = self
            .tmp
            .take()
            .map_err(|e| StartError::Capacity(format!("creating /tmp: {e}")))?;
        let output = OutputBuffer::new();
        let peak_memory = Arc::new(AtomicU64::new(0));
        let log_stream = log_stream_name(&settings.version);

        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(output.clone())
            .stderr(output.clone())
            .args(&[settings.function_name.as_str()])
            .envs(&self.env)
            .env("AWS_LAMBDA_LOG_STREAM_NAME", &log_stream);
        wasi.preopened_dir(tmp.path(), "/tmp", FsPerms::ReadWrite)
            .map_err(|e| StartError::Capacity(format!("preopening /tmp: {e}")))?;

        let (conversation, inbox, handle) = conversation::channels(started + INIT_TIMEOUT);
        let state = SandboxState {
            wasi: wasi.build(),
            table: guest_table(),
            limiter: MemoryLimiter::new(
                settings.memory_mb,
                peak_memory.clone(),
                self.engine.host_memory().clone(),
            ),
            conversation,
            inbox,
            quota: crate::fs_guard::TmpQuota::new(settings.tmp_limit_mb),
            _tmp: Some(tmp),
        };
        let mut store = Store::new(self.engine.engine(), state);
        store.set_hostcall_fuel(HOSTCALL_FUEL);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(host::on_epoch);
        store.set_epoch_deadline(1);

        let task = tokio::spawn(run_guest(self.pre.clone(), store));
        let mut sandbox = WasmSandbox {
            handle,
            task,
            output,
            peak_memory,
            memory_mb: settings.memory_mb,
            timeout: settings.timeout,
            init_duration: Duration::ZERO,
            log_stream,
            alive: true,
        };

        match sandbox.handle.init(started, INIT_TIMEOUT).await {
            InitEnd::Ready => {
                sandbox.init_duration = started.elapsed();
                Ok(sandbox)
            }
            InitEnd::InitError(error) => Err(StartError::Init {
                error,
                output: sandbox.output.take(),
            }),
            InitEnd::Failed(SandboxFailure::Exited { detail })
                if detail.starts_with(INSTANTIATE_FAILED) =>
            {
                Err(StartError::Capacity(detail))
            }
            InitEnd::Failed(failure) => Err(StartError::Sandbox {
                failure,
                output: sandbox.output.take(),
            }),
        }
    }
}

impl WasmSandbox {
    /// Runs one invocation to its end. `deadline` is when the function's Timeout expires;
    /// past it the sandbox is stopped and the outcome is `Sandbox.Timedout`. A wasm guest has
    /// no streaming call: its whole answer comes back as the outcome, never through `stream`.
    /// ([`crate::Environment::invoke`] is this without a stream.)
    pub async fn invoke_streaming(
        &mut self,
        invocation: Invocation,
        deadline: Instant,
        stream: Option<crate::ResponseSink>,
    ) -> InvokeOutcome {
        let outcome = self.run(invocation, deadline, stream).await;
        if let InvokeOutcome::Failed(_) = outcome {
            self.alive = false;
            self.task.abort();
        }
        outcome
    }

    async fn run(
        &mut self,
        invocation: Invocation,
        deadline: Instant,
        stream: Option<crate::ResponseSink>,
    ) -> InvokeOutcome {
        if !self.alive {
            return InvokeOutcome::Failed(SandboxFailure::Exited {
                detail: "sandbox is no longer running".into(),
            });
        }
        self.handle
            .invoke(invocation, deadline, self.timeout, stream)
            .await
    }

    /// The guest's stdout/stderr since the last call.
    pub fn take_output(&self) -> Vec<u8> {
        self.output.take()
    }

    /// Peak linear memory of this sandbox so far, in MB (rounded up): `Max Memory Used`.
    /// Bytes this sandbox holds in the host's ledger: its linear memory (which never
    /// shrinks, so it is the peak) and the fixed per-sandbox overhead. Given back when the
    /// sandbox's task ends after it is dropped.
    pub fn held_bytes(&self) -> u64 {
        self.peak_memory.load(Ordering::Relaxed) + crate::memory::SANDBOX_OVERHEAD_BYTES
    }

    pub fn max_memory_used_mb(&self) -> u64 {
        self.peak_memory
            .load(Ordering::Relaxed)
            .div_ceil(1024 * 1024)
    }

    /// The configured MemorySize.
    pub fn memory_mb(&self) -> u64 {
        self.memory_mb
    }

    /// How long INIT took (instantiation to the first `next`).
    pub fn init_duration(&self) -> Duration {
        self.init_duration
    }

    /// `AWS_LAMBDA_LOG_STREAM_NAME` of this sandbox.
    pub fn log_stream(&self) -> &str {
        &self.log_stream
    }

    /// False once an invocation failed the sandbox; such a sandbox must be dropped.
    pub fn is_alive(&self) -> bool {
        self.alive && !self.task.is_finished()
    }
}

/// A guest's resource table, capped: every handle (descriptor, stream, pollable, error) is a
/// host allocation. Open files have their own, lower cap ([`crate::fs_guard::MAX_OPEN_FILES`]);
/// this bounds everything else.
pub(crate) fn guest_table() -> wasmtime::component::ResourceTable {
    let mut table = wasmtime::component::ResourceTable::new();
    table.set_max_capacity(MAX_GUEST_HANDLES);
    table
}

/// The most live resources one guest may hold.
const MAX_GUEST_HANDLES: usize = 16 * 1024;

/// Bytes a guest may pass to the host in one call: room for the largest response Lambda
/// accepts (answered with a 413 when over it) and then some; beyond it the guest is stopped,
/// so no host call can make the host allocate what a guest asks (wasmtime's default is
/// 128 MiB per call).
pub(crate) const HOSTCALL_FUEL: usize = 2 * hearth_runtime_api::limits::MAX_RESPONSE_BYTES;

/// Prefix of the exit detail when instantiation itself failed (a host capacity problem).
const INSTANTIATE_FAILED: &str = "instantiation failed";

/// The body of a sandbox's task: instantiate, run `main`, report how it ended.
async fn run_guest(pre: CommandPre<SandboxState>, mut store: Store<SandboxState>) {
    let result = match pre.instantiate_async(&mut store).await {
        Ok(command) => command.wasi_cli_run().call_run(&mut store).await,
        Err(e) => {
            store.data_mut().conversation.exited(
                SandboxFailure::Exited {
                    detail: format!("{INSTANTIATE_FAILED}: {e:#}"),
                },
                false,
            );
            return;
        }
    };
    // An answer given just before the guest ended on its own (it responded, then returned
    // from `main` or exited) is still delivered; one followed by a trap or by the deadline
    // is not: that invocation did not complete.
    let ended_on_its_own = match &result {
        Ok(_) => true,
        Err(e) => e.downcast_ref::<I32Exit>().is_some(),
    };
    let failure = match result {
        Ok(Ok(())) => SandboxFailure::Exited {
            detail: "exit status 0".into(),
        },
        Ok(Err(())) => SandboxFailure::Exited {
            detail: "exit status 1".into(),
        },
        Err(e) => classify(&e, store.data()),
    };
    store
        .data_mut()
        .conversation
        .exited(failure, ended_on_its_own);
}

/// Names the way a guest ended from the error wasmtime returned.
fn classify(e: &wasmtime::Error, state: &SandboxState) -> SandboxFailure {
    // Errors raised by host code reach us wrapped in a backtrace context, and may have been
    // converted on the way: look through the whole chain.
    fn find<T: std::error::Error + Send + Sync + 'static>(e: &wasmtime::Error) -> Option<&T> {
        e.downcast_ref::<T>()
            .or_else(|| e.chain().find_map(|cause| cause.downcast_ref::<T>()))
    }
    if find::<DeadlineExceeded>(e).is_some() {
        return if state.conversation.ready {
            // The handle's own timer reports the function's configured Timeout.
            SandboxFailure::Exited {
                detail: "deadline exceeded".into(),
            }
        } else {
            SandboxFailure::InitTimeout {
                limit: INIT_TIMEOUT,
            }
        };
    }
    if let Some(exit) = find::<I32Exit>(e) {
        return SandboxFailure::Exited {
            detail: format!("exit status {}", exit.0),
        };
    }
    if find::<Shutdown>(e).is_some() {
        return SandboxFailure::Exited {
            detail: "shut down".into(),
        };
    }
    let cause = match e.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => format!("wasm trap: {trap}"),
        None => e.to_string(),
    };
    if state.limiter.exhausted() {
        return SandboxFailure::OutOfMemory {
            detail: format!("out of memory ({cause})"),
        };
    }
    SandboxFailure::Exited { detail: cause }
}
