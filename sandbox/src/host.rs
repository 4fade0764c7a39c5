//! The host side of one wasm instance: its state, and the guest ABI's host functions.
//!
//! `next` is an async host call: the guest's fiber parks there until the sandbox handle sends
//! an invocation, which is what makes an idle warm sandbox cost no thread. `respond`, `fail`
//! and `init-fail` are synchronous: they validate the call against the Runtime API
//! [`Session`] and post an event back to the handle.

use crate::conversation::{Conversation, Delivery};
use crate::limits::{DeadlineExceeded, MemoryLimiter};
use hearth_runtime_api::{ApiError, FunctionError};
use tokio::sync::mpsc;
use wasmtime::StoreContextMut;
use wasmtime::component::{ComponentType, Linker, Lower, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Everything the host keeps per instance (the wasmtime `Store` data).
pub struct SandboxState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    /// The Runtime API conversation: session, events to the handle, the held answer.
    pub(crate) conversation: Conversation,
    /// Invocations from the handle; `next` waits here.
    pub(crate) inbox: mpsc::Receiver<Delivery>,
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
                state
                    .conversation
                    .request_next()
                    .map_err(ProtocolViolation)?;
                let Some(delivery) = state.inbox.recv().await else {
                    return Err(Shutdown.into());
                };
                let invocation = state
                    .conversation
                    .deliver(delivery)
                    .map_err(ProtocolViolation)?;
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
            match state.conversation.respond(&request_id, payload) {
                Ok(()) => Ok((Ok(()),)),
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
            let error = FunctionError {
                error_type,
                error_message,
                stack_trace,
            };
            match store.data_mut().conversation.fail(&request_id, error) {
                Ok(()) => Ok((Ok(()),)),
                Err(e) => Ok((Err(e.into()),)),
            }
        },
    )?;

    abi.func_wrap(
        "init-fail",
        |mut store: StoreContextMut<'_, SandboxState>,
         (error_type, error_message, stack_trace): (String, String, Vec<String>)|
         -> wasmtime::Result<()> {
            let error = FunctionError {
                error_type,
                error_message,
                stack_trace,
            };
            store
                .data_mut()
                .conversation
                .init_fail(error)
                .map_err(ProtocolViolation)?;
            Ok(())
        },
    )?;
    Ok(())
}

/// The epoch callback, run every tick while guest code executes: stop a guest past its
/// deadline, otherwise yield to the executor and check again next tick. (`/tmp` needs no
/// check here: [`crate::fs_guard`] charges every write where it happens.)
pub(crate) fn on_epoch(
    mut store: StoreContextMut<'_, SandboxState>,
) -> wasmtime::Result<wasmtime::UpdateDeadline> {
    let state = store.data_mut();
    if crate::limits::past(state.conversation.deadline) {
        return Err(DeadlineExceeded.into());
    }
    Ok(wasmtime::UpdateDeadline::Yield(1))
}
