//! The sandbox backends the scheduler prepares function versions for, chosen by `Runtime`:
//! the wasm engine (components), and the process backend (`provided.*` bootstraps, Python
//! under `awslambdaric`) with the isolation this host allows. Everything here is about turning
//! a stored version into a runnable [`Function`]; nothing about pools or invocations.

use crate::code::CodeKind;
use crate::config::SchedulerConfig;
use crate::error::DeployError;
use crate::function::FunctionConfiguration;
use hearth_sandbox::{
    EngineConfig, Entrypoint, Function, FunctionSettings, HostMemory, Isolation, ProcessFunction,
    WasmEngine, WasmFunction,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Engine slots beyond the pool's sandbox bound: room for sandboxes being torn down.
const ENGINE_SLOT_SLACK: u32 = 64;

pub(crate) struct Backends {
    engine: WasmEngine,
    isolation: Arc<Isolation>,
    /// `SchedulerConfig::python`.
    python_config: Option<PathBuf>,
    /// The Python interpreter with `awslambdaric`, found when a Python function first needs it.
    python: OnceLock<Option<PathBuf>>,
    region: String,
    tmp_root: PathBuf,
}

impl Backends {
    /// The wasm engine and its compiled-code cache under the state dir, and the isolation
    /// layers of this host (detected by trying each, and logged).
    pub(crate) fn new(config: &SchedulerConfig) -> Result<Self, DeployError> {
        let internal = |e: &dyn std::fmt::Display| DeployError::Internal(e.to_string());
        let host_memory = Arc::new(HostMemory::new(
            config.pool.memory_budget_mb.saturating_mul(1024 * 1024),
        ));
        let isolation = Arc::new(Isolation::detect());
        for layer in isolation.layers() {
            tracing::info!(layer = layer.name, enabled = layer.enabled, detail = %layer.detail, "process sandbox isolation");
        }
        let engine = WasmEngine::new(EngineConfig {
            host_memory,
            cache_dir: config.state_dir.join("cache"),
            // The pool keeps live sandboxes within `max_sandboxes`; the slack covers those an
            // eviction has let go whose teardown (on their own task) has not finished yet.
            max_instances: u32::try_from(config.pool.max_sandboxes.max(1))
                .unwrap_or(u32::MAX)
                .saturating_add(ENGINE_SLOT_SLACK),
        })
        .map_err(|e| internal(&e))?;
        Ok(Self {
            engine,
            isolation,
            python_config: config.python.clone(),
            python: OnceLock::new(),
            region: config.region.clone(),
            tmp_root: config.state_dir.join("tmp"),
        })
    }

    pub(crate) fn engine(&self) -> &WasmEngine {
        &self.engine
    }

    pub(crate) fn isolation(&self) -> &Isolation {
        &self.isolation
    }

    /// The ledger of what every sandbox, of either backend, really holds.
    pub(crate) fn host_memory(&self) -> &Arc<HostMemory> {
        self.engine.host_memory()
    }

    /// The interpreter Python functions run on: the configured one, else `python3` from
    /// `PATH` if it imports `awslambdaric`. Looked for once (it starts Python). Blocking.
    pub(crate) fn python(&self) -> Option<PathBuf> {
        self.python
            .get_or_init(|| self.python_config.clone().or_else(find_python))
            .clone()
    }

    /// Prepares one version for its backend: a component is compiled (or loaded from the
    /// cache) and linked; a process runtime's package is unpacked into `task_dir` once per
    /// code hash. Blocking: CPU- and disk-heavy when the code is new.
    pub(crate) fn prepare(
        &self,
        config: &FunctionConfiguration,
        code_hash: &str,
        code: &[u8],
        task_dir: &Path,
    ) -> Result<Function, DeployError> {
        let settings = self.settings(config);
        let kind = crate::function::code_kind(&config.runtime);
        let entrypoint = match kind {
            CodeKind::Component => {
                return WasmFunction::prepare(&self.engine, code_hash, code, settings)
                    .map(Function::Wasm)
                    .map_err(|e| DeployError::InvalidCode(e.to_string()));
            }
            CodeKind::Tree => Entrypoint::Bootstrap,
            CodeKind::Source => Entrypoint::Interpreter {
                program: self.python().ok_or_else(|| {
                    DeployError::InvalidParameter(format!(
                        "{} needs a Python interpreter with awslambdaric on this host: pip install awslambdaric, or start hearth with --python PATH (hearth doctor)",
                        config.runtime
                    ))
                })?,
                args: vec!["-m".into(), "awslambdaric".into(), config.handler.clone()],
            },
        };
        if !task_dir.is_dir() {
            crate::code::extract_tree(code, task_dir)?;
        }
        ProcessFunction::prepare(
            self.isolation.clone(),
            self.host_memory().clone(),
            task_dir.to_path_buf(),
            entrypoint,
            settings,
        )
        .map(Function::Process)
        .map_err(|e| DeployError::InvalidCode(e.to_string()))
    }

    /// Prepares a version's snapshot-initialised component: sandboxes of it say
    /// `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`. Blocking (compiles when new).
    pub(crate) fn prepare_snapshot(
        &self,
        config: &FunctionConfiguration,
        snapshot_hash: &str,
        component: &[u8],
    ) -> Result<Function, DeployError> {
        let mut settings = self.settings(config);
        settings.initialization_type = "snap-start".into();
        WasmFunction::prepare(&self.engine, snapshot_hash, component, settings)
            .map(Function::Wasm)
            .map_err(|e| DeployError::InvalidCode(e.to_string()))
    }

    /// What a sandbox of this version is configured with.
    pub(crate) fn settings(&self, config: &FunctionConfiguration) -> FunctionSettings {
        FunctionSettings {
            function_name: config.function_name.clone(),
            version: config.version.clone(),
            memory_mb: u64::from(config.memory_size),
            timeout: Duration::from_secs(u64::from(config.timeout)),
            handler: config.handler.clone(),
            region: self.region.clone(),
            initialization_type: "on-demand".into(),
            environment: config
                .environment
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            tmp_root: self.tmp_root.clone(),
            tmp_limit_mb: u64::from(config.ephemeral_storage.size),
            execution_env: crate::function::execution_env(&config.runtime),
        }
    }
}

/// `python3` on `PATH`, if it can import `awslambdaric`.
pub fn find_python() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let python = std::env::split_paths(&path)
        .map(|dir| dir.join("python3"))
        .find(|p| p.is_file())?;
    let has_ric = std::process::Command::new(&python)
        .args(["-c", "import awslambdaric"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    has_ric.then_some(python)
}
