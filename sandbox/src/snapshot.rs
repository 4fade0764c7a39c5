//! Snapshot-initialised components: a function's INIT run once, its initialised state
//! captured into a new component that every later sandbox starts from.
//!
//! The guest marks the init boundary by exporting `wizer-initialize`; `wasmtime-wizer` runs
//! that export in an instance linked exactly as a sandbox is (WASI and the Runtime API),
//! then writes memories and mutable globals back as data segments. The result compiles like
//! any component, and its copy-on-write memory image *is* the initialised heap.
//!
//! What a snapshot cannot hold, and how it is kept out: host handles (a WASI descriptor,
//! a socket) live in the host, not in linear memory, so INIT here has no `/tmp` and no
//! preopened directories — a guest that opens a file during `wizer-initialize` fails, and
//! so does the snapshot, with the guest's own error. Entropy drawn and clocks read during
//! INIT are frozen into the snapshot: every sandbox started from it sees the same values.

use crate::PrepareError;
use crate::conversation;
use crate::engine::WasmEngine;
use crate::function::FunctionSettings;
use crate::host::SandboxState;
use crate::limits::MemoryLimiter;
use crate::output::OutputBuffer;
use hearth_runtime_api::limits::INIT_TIMEOUT;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;

/// A snapshot and what its INIT printed.
#[derive(Debug)]
pub struct Snapshot {
    pub component: Vec<u8>,
    pub output: Vec<u8>,
    pub took: std::time::Duration,
}

/// Runs `wasm`'s `wizer-initialize` under `settings` (its environment, MemorySize and the
/// 10 s INIT bound) and returns the initialised component.
pub async fn snapshot(
    engine: &WasmEngine,
    wasm: &[u8],
    settings: &FunctionSettings,
) -> Result<Snapshot, PrepareError> {
    let started = Instant::now();
    let output = OutputBuffer::new();
    // INIT of a snapshot sees the environment restored sandboxes see (a guest that reads
    // its environment during INIT keeps that copy in its heap, so in the snapshot).
    let settings = FunctionSettings {
        initialization_type: "snap-start".into(),
        ..settings.clone()
    };
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(output.clone())
        .stderr(output.clone())
        .args(&[settings.function_name.as_str()])
        .envs(&settings.environment());
    let (conversation, inbox, _handle) = conversation::channels(started + INIT_TIMEOUT);
    let state = SandboxState {
        wasi: wasi.build(),
        table: crate::sandbox::guest_table(),
        limiter: MemoryLimiter::new(
            settings.memory_mb,
            Arc::default(),
            engine.host_memory().clone(),
        ),
        conversation,
        inbox,
        quota: crate::fs_guard::TmpQuota::new(settings.tmp_limit_mb),
        _tmp: None,
    };
    let mut store = Store::new(engine.engine(), state);
    store.set_hostcall_fuel(crate::sandbox::HOSTCALL_FUEL);
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_callback(crate::host::on_epoch);
    store.set_epoch_deadline(1);
    let linker = engine.linker();
    let result = wasmtime_wizer::Wizer::new()
        // Rust components lift the export from their core module: it must stay.
        .keep_init_func(true)
        .run_component(&mut store, wasm, async |store, component| {
            linker.instantiate_async(store, component).await
        })
        .await;
    match result {
        Ok((component, _)) => Ok(Snapshot {
            component,
            output: output.take(),
            took: started.elapsed(),
        }),
        // wasmtime-wizer 48 words a missing export "does export" (sic).
        Err(e) if format!("{e:#}").contains("does export the function") => {
            Err(PrepareError::Link(
                "the component exports no `wizer-initialize`, the init boundary a snapshot runs: export it (hearth_sdk::snap_start!) to use SnapStart".into(),
            ))
        }
        Err(e) => Err(PrepareError::Link(format!(
            "the snapshot's INIT (wizer-initialize) failed: {e:#}; it printed: {}",
            String::from_utf8_lossy(&output.take())
        ))),
    }
}
