//! The process-wide wasm engine: configuration, the epoch ticker, the compiled-code cache.

use crate::PrepareError;
use crate::host::{self, SandboxState};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// One epoch tick. The deadline check runs on every tick while a guest computes, and a
/// computing guest yields to the executor on every tick, so this is both the timeout
/// precision and the longest a guest can hold a worker thread. 10 ms costs nothing measurable
/// (one callback per tick per running guest).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of a linear memory kept resident when its pool slot is reused (see `new`). A
/// Rust guest's stack and first heap pages fit in this.
const KEEP_RESIDENT: usize = 2 * 1024 * 1024;

/// Knobs of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where compiled code is cached (`<sha256>-<engine hash>.cwasm`).
    pub cache_dir: PathBuf,
    /// How many instances may exist at once (live sandboxes). The pooling allocator reserves
    /// address space (not memory) for this many up front: about 4 GiB of virtual space each,
    /// so 10,000 take ~40 TiB of the 128 TiB a process can address; resident memory is only
    /// what each sandbox touches (~75 KiB for a warm echo, `cargo bench --bench density`).
    pub max_instances: u32,
    /// The ledger every sandbox of this engine charges its memory to.
    pub host_memory: std::sync::Arc<crate::memory::HostMemory>,
}

/// The shared wasmtime engine and linker. Cheap to clone.
#[derive(Clone)]
pub struct WasmEngine {
    engine: Engine,
    linker: Linker<SandboxState>,
    cache_dir: PathBuf,
    engine_hash: String,
    host_memory: std::sync::Arc<crate::memory::HostMemory>,
}

impl std::fmt::Debug for WasmEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEngine")
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

impl WasmEngine {
    /// Builds the engine and starts its epoch ticker (a thread holding only a weak reference,
    /// so it ends when the last engine clone is dropped).
    pub fn new(config: EngineConfig) -> Result<Self, PrepareError> {
        let mut pooling = PoolingAllocationConfig::new();
        let n = config.max_instances.max(1);
        // A Rust wasip2 component is a main module plus a few small adapter shims: budget
        // generously for core instances and tables; one linear memory per component (each
        // memory slot is the expensive part: 4 GiB of address space).
        pooling
            .total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n)
            .total_tables(n.saturating_mul(8))
            .total_stacks(n)
            .max_memory_size(1 << 32)
            .max_memories_per_component(4)
            .max_core_instances_per_component(16)
            .max_tables_per_component(16)
            // Reuse a slot's pages instead of unmapping them: with PAGEMAP_SCAN (Linux ≥ 6.7)
            // only the pages a guest dirtied are reset, up to this much per memory, so the
            // next sandbox in the slot starts without page faults. Costs that much resident
            // memory per recently used slot; without the ioctl, wasmtime falls back to
            // memset of the low addresses.
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(64 * 1024);

        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .memory_init_cow(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let engine = Engine::new(&wasm).map_err(|e| PrepareError::Link(e.to_string()))?;

        let weak = engine.weak();
        std::thread::Builder::new()
            .name("hearth-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;

        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker).map_err(|e| PrepareError::Link(e.to_string()))?;

        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = format!("{:016x}", hasher.finish());

        std::fs::create_dir_all(&config.cache_dir)?;
        Ok(Self {
            engine,
            linker,
            cache_dir: config.cache_dir,
            engine_hash,
            host_memory: config.host_memory,
        })
    }

    /// The memory ledger of this engine's sandboxes.
    pub fn host_memory(&self) -> &std::sync::Arc<crate::memory::HostMemory> {
        &self.host_memory
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn linker(&self) -> &Linker<SandboxState> {
        &self.linker
    }

    /// The compiled component for code with this SHA-256 (hex): from the disk cache when
    /// present (~50 µs, mmap), else compiled with Cranelift (tens to hundreds of ms) and
    /// cached atomically (temp file + rename).
    pub fn component(&self, sha256_hex: &str, wasm: &[u8]) -> Result<Component, PrepareError> {
        let path = self.cache_path(sha256_hex);
        if path.exists() {
            match self.load_cached(&path) {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable cached code");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(&self.engine, wasm)
            .map_err(|e| PrepareError::InvalidComponent(format!("{e:#}")))?;
        let bytes = component
            .serialize()
            .map_err(|e| PrepareError::InvalidComponent(format!("{e:#}")))?;
        // The cache only saves time: failing to write it must not fail the deploy.
        if let Err(e) = write_atomically(&path, &bytes) {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache compiled code");
        }
        Ok(component)
    }

    /// Deletes cached compiled code of every component not in `keep`, and code compiled by
    /// another engine configuration or wasmtime version (it would never load again).
    /// Blocking: call it off the async workers.
    pub fn collect_cache(&self, keep: &std::collections::HashSet<String>) -> std::io::Result<()> {
        let suffix = format!("-{}.cwasm", self.engine_hash);
        for entry in std::fs::read_dir(&self.cache_dir)? {
            let path = entry?.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            // A temp file may be a compile writing its result right now.
            if !file.ends_with(".cwasm")
                || file
                    .strip_suffix(&suffix)
                    .is_some_and(|sha| keep.contains(sha))
            {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn cache_path(&self, sha256_hex: &str) -> PathBuf {
        self.cache_dir
            .join(format!("{sha256_hex}-{}.cwasm", self.engine_hash))
    }

    #[allow(unsafe_code)]
    fn load_cached(&self, path: &Path) -> wasmtime::Result<Component> {
        // SAFETY: `deserialize_file` trusts the file to be the output of `serialize` from a
        // compatible engine. hearth writes these files itself, only under its own cache
        // directory, atomically, named by the code's hash and this engine's compatibility
        // hash; wasmtime additionally checks the header's engine and version. A file placed
        // there by someone else with write access to the state dir is outside this model.
        unsafe { Component::deserialize_file(&self.engine, path) }
    }
}

use hearth_journal::atomic::write_atomically;
