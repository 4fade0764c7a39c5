//! The host side of one wasm instance: its state, and the guest ABI's host functions.
//!
//! `next` is an async host call: the guest's fiber parks there until the sandbox handle sends
//! an invocation, which is what makes an idle warm sandbox cost no thread. `respond`, `fail`
//! and `init-fail` are synchronous: they validate the call against the Runtime API
//! [`Session`] and post an event back to the handle.

use crate::limits::{DeadlineExceeded, MemoryLimiter};
use hearth_runtime_api::limits::MAX_RESPONSE_BYTES;
use hearth_runtime_api::{
    ApiError, ApiErrorKind, FunctionError, Invocation, SandboxFailure, Session,
};
use std::time::Instant;
use tokio::sync::mpsc;
use wasmtime::StoreContextMut;
use wasmtime::component::{ComponentType, Linker, Lower, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// What a guest reports back to its sandbox handle.
#[derive(Debug)]
pub enum GuestEvent {
    /// The guest called `next` for the first time: INIT is over.
    Ready,
    /// `respond` for an invocation.
    Response {
        request_id: String,
        payload: Vec<u8>,
    },
    /// `fail` for an invocation (or a response the host refused as too large).
    Error {
        request_id: String,
        error: FunctionError,
    },
    /// `init-fail` during INIT.
    InitError(FunctionError),
    /// The guest is gone: returned from `main`, trapped, or was stopped at its deadline.
    Exited(SandboxFailure),
}

/// An invocation on its way into the guest, with its monotonic deadline.
#[derive(Debug)]
pub struct Delivery {
    pub invocation: Invocation,
    pub deadline: Instant,
}

/// Everything the host keeps per instance (the wasmtime `Store` data).
pub struct SandboxState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) session: Session,
    /// Invocations from the handle; `next` waits here.
    pub(crate) inbox: mpsc::Receiver<Delivery>,
    /// Events to the handle.
    pub(crate) outbox: mpsc::UnboundedSender<GuestEvent>,
    /// When the current phase (INIT or an invocation) must end; `None` while idle in `next`.
    pub(crate) deadline: Option<Instant>,
    /// The guest has called `next` at least once.
    pub(crate) ready: bool,
    /// The answer (`respond` / `fail`) to the current invocation, held until the guest calls
    /// `next` again: an invocation ends when the runtime asks for the next one, so a guest
    /// that keeps computing after answering keeps its sandbox busy (and its concurrency
    /// slot) and is stopped at its deadline like any other timeout.
    pub(crate) completed: Option<GuestEvent>,
    /// What `/tmp` holds and which files are open, charged as the guest uses them.
    pub(crate) quota: crate::fs_guard::SharedQuota,
    /// The sandbox's `/tmp`. Last field, so it is dropped (emptied, recycled) only after
    /// everything that could still touch it: it lives exactly as long as the store.
    pub(crate) _tmp: Option<crate::tmp::TmpDir>,
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// `record event` of the WIT interface.
#[derive(ComponentType, Lower)]
#[component(record)]
struct WitEvent {
    #[component(name = "request-id")]
    request_id: String,
    #[component(name = "deadline-ms")]
    deadline_ms: u64,
    #[component(name = "invoked-function-arn")]
    invoked_function_arn: String,
    #[component(name = "trace-id")]
    trace_id: String,
    #[component(name = "client-context")]
    client_context: Option<String>,
    #[component(name = "cognito-identity")]
    cognito_identity: Option<String>,
    payload: Vec<u8>,
}

/// `record api-error` of the WIT interface.
#[derive(ComponentType, Lower)]
#[component(record)]
struct WitApiError {
    #[component(name = "error-type")]
    error_type: String,
    #[component(name = "error-message")]
    error_message: String,
}

impl From<ApiError> for WitApiError {
    fn from(e: ApiError) -> Self {
        Self {
            error_type: e.kind.as_str().to_owned(),
            error_message: e.message,
        }
    }
}

/// A protocol violation the guest cannot be told about through a return value (`next` has no
/// error case): it ends the guest, which is reported as a runtime exit.
#[derive(Debug, thiserror::Error)]
#[error("runtime API violation: {0}")]
pub struct ProtocolViolation(pub ApiError);

/// The sandbox handle was dropped while the guest waited in `next`: a normal shutdown.
#[derive(Debug, thiserror::Error)]
#[error("sandbox shut down")]
pub struct Shutdown;

/// Adds WASI p2 and the guest ABI to `linker`.
pub fn add_to_linker(linker: &mut Linker<SandboxState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    crate::fs_guard::add_to_linker(linker, |s| crate::fs_guard::GuardedFsView {
        inner: wasmtime_wasi::filesystem::WasiFilesystemCtxView {
            ctx: s.wasi.filesystem(),
            table: &mut s.table,
        },
        quota: &s.quota,
    })?;
    let mut abi = linker.instance(hearth_runtime_api::INTERFACE)?;

    abi.func_wrap_async(
        "next",
        |mut store: StoreContextMut<'_, SandboxState>, (): ()| {
            Box::new(async move {
                let state = store.data_mut();
                state.session.request_next().map_err(ProtocolViolation)?;
                if let Some(done) = state.completed.take() {
                    let _ = state.outbox.send(done);
                }
                state.deadline = None;
                if !state.ready {
                    state.ready = true;
                    let _ = state.outbox.send(GuestEvent::Ready);
                }
                let Some(Delivery {
                    invocation,
                    deadline,
                }) = state.inbox.recv().await
                else {
                    return Err(Shutdown.into());
                };
                state
                    .session
                    .begin(&invocation.request_id)
                    .map_err(ProtocolViolation)?;
                state.deadline = Some(deadline);
                Ok((WitEvent {
                    request_id: invocation.request_id,
                    deadline_ms: invocation.deadline_ms,
                    invoked_function_arn: invocation.invoked_function_arn,
                    trace_id: invocation.trace_id,
                    client_context: invocation.client_context,
                    cognito_identity: invocation.cognito_identity,
                    payload: invocation.payload,
                },))
            })
        },
    )?;

    abi.func_wrap(
        "respond",
        |mut store: StoreContextMut<'_, SandboxState>,
         (request_id, payload): (String, Vec<u8>)|
         -> wasmtime::Result<(Result<(), WitApiError>,)> {
            let state = store.data_mut();
            match state.session.respond(&request_id, payload.len()) {
                Ok(()) => {
                    state.completed = Some(GuestEvent::Response {
                        request_id,
                        payload,
                    });
                    Ok((Ok(()),))
                }
                Err(e) if e.kind == ApiErrorKind::RequestEntityTooLarge => {
                    // Lambda answers the caller with Function.ResponseSizeTooLarge right away
                    // and the runtime gets its 413; the invocation is over either way.
                    let failure = SandboxFailure::ResponseTooLarge {
                        size: payload.len(),
                        limit: MAX_RESPONSE_BYTES,
                    };
                    state.session.fail(&request_id).map_err(ProtocolViolation)?;
                    let error = failure.to_function_error(&request_id);
                    state.completed = Some(GuestEvent::Error { request_id, error });
                    Ok((Err(e.into()),))
                }
                Err(e) => Ok((Err(e.into()),)),
            }
        },
    )?;

    abi.func_wrap(
        "fail",
        |mut store: StoreContextMut<'_, SandboxState>,
         (request_id, error_type, error_message, stack_trace): (
            String,
            String,
            String,
            Vec<String>,
        )|
         -> wasmtime::Result<(Result<(), WitApiError>,)> {
            let state = store.data_mut();
            let size = error_size(&error_type, &error_message, &stack_trace);
            if size > MAX_RESPONSE_BYTES {
                // Bounded like a response: the caller gets Function.ResponseSizeTooLarge and
                // the runtime its 413.
                state.session.fail(&request_id).map_err(ProtocolViolation)?;
                let error = SandboxFailure::ResponseTooLarge {
                    size,
                    limit: MAX_RESPONSE_BYTES,
                }
                .to_function_error(&request_id);
                state.completed = Some(GuestEvent::Error { request_id, error });
                return Ok((Err(WitApiError {
                    error_type: ApiErrorKind::RequestEntityTooLarge.as_str().to_owned(),
                    error_message: format!(
                        "error of {size} bytes exceeds the limit of {MAX_RESPONSE_BYTES} bytes"
                    ),
                }),));
            }
            match state.session.fail(&request_id) {
                Ok(()) => {
                    let error = FunctionError {
                        error_type,
                        error_message,
                        stack_trace,
                    };
                    state.completed = Some(GuestEvent::Error { request_id, error });
                    Ok((Ok(()),))
                }
                Err(e) => Ok((Err(e.into()),)),
            }
        },
    )?;

    abi.func_wrap(
        "init-fail",
        |mut store: StoreContextMut<'_, SandboxState>,
         (error_type, error_message, stack_trace): (String, String, Vec<String>)|
         -> wasmtime::Result<()> {
            let state = store.data_mut();
            state.session.init_fail().map_err(ProtocolViolation)?;
            let mut error = FunctionError {
                error_type,
                error_message,
                stack_trace,
            };
            bound_init_error(&mut error);
            let _ = state.outbox.send(GuestEvent::InitError(error));
            Ok(())
        },
    )?;
    Ok(())
}

/// Bytes of an error's parts as the caller receives them (JSON adds little beyond these).
fn error_size(error_type: &str, message: &str, stack_trace: &[String]) -> usize {
    error_type.len() + message.len() + stack_trace.iter().map(String::len).sum::<usize>()
}

/// The most of an init error kept: it is answered to the invocation that triggered INIT and
/// logged with every failing cold start, so a guest must not make either unbounded.
pub const MAX_INIT_ERROR_BYTES: usize = 64 * 1024;

/// Cuts an init error to [`MAX_INIT_ERROR_BYTES`], saying so in its message.
fn bound_init_error(error: &mut FunctionError) {
    fn cut(s: &mut String, max: usize) {
        if s.len() > max {
            let mut end = max;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push_str(" [truncated by hearth]");
        }
    }
    if error_size(&error.error_type, &error.error_message, &error.stack_trace)
        <= MAX_INIT_ERROR_BYTES
    {
        return;
    }
    cut(&mut error.error_type, 256);
    cut(&mut error.error_message, MAX_INIT_ERROR_BYTES / 2);
    let mut budget = MAX_INIT_ERROR_BYTES / 2;
    error.stack_trace.retain_mut(|line| {
        cut(line, 1024);
        let keep = line.len() <= budget;
        budget = budget.saturating_sub(line.len());
        keep
    });
}

/// The epoch callback, run every tick while guest code executes: stop a guest past its
/// deadline, otherwise yield to the executor and check again next tick. (`/tmp` needs no
/// check here: [`crate::fs_guard`] charges every write where it happens.)
pub(crate) fn on_epoch(
    mut store: StoreContextMut<'_, SandboxState>,
) -> wasmtime::Result<wasmtime::UpdateDeadline> {
    let state = store.data_mut();
    if crate::limits::past(state.deadline) {
        return Err(DeadlineExceeded.into());
    }
    Ok(wasmtime::UpdateDeadline::Yield(1))
}
