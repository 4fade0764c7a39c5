//! A prepared function version: compiled, linked, ready to instantiate.

use crate::engine::WasmEngine;
use crate::host::SandboxState;
use crate::{PrepareError, WASM32_MAX_MEMORY_MB};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi::p2::bindings::CommandPre;

/// What a sandbox of one function version is configured with.
#[derive(Debug, Clone)]
pub struct FunctionSettings {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`: `$LATEST` or a published number.
    pub version: String,
    /// MemorySize in MB: the linear-memory cap (at most [`WASM32_MAX_MEMORY_MB`]).
    pub memory_mb: u64,
    /// The function's Timeout.
    pub timeout: Duration,
    /// `_HANDLER`.
    pub handler: String,
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`.
    pub region: String,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`: `on-demand` or `provisioned-concurrency`.
    pub initialization_type: String,
    /// The function's own `Environment.Variables`. Reserved names are set by hearth and win.
    pub environment: Vec<(String, String)>,
    /// Directory under which each sandbox gets its private `/tmp`.
    pub tmp_root: PathBuf,
    /// `EphemeralStorage.Size`: the most `/tmp` may hold, MB.
    pub tmp_limit_mb: u64,
    /// `AWS_EXECUTION_ENV`, where the runtime has one (`AWS_Lambda_python3.12`; provided
    /// runtimes have none).
    pub execution_env: Option<String>,
}

impl FunctionSettings {
    /// The environment a sandbox starts with: the function's variables, then the Lambda
    /// runtime variables (LAMBDA.md §1) which take precedence. `AWS_LAMBDA_LOG_STREAM_NAME` is
    /// per sandbox and added at start. There is no `AWS_LAMBDA_RUNTIME_API`: a wasm guest
    /// reaches the Runtime API through its imports, not over HTTP.
    pub fn environment(&self) -> Vec<(String, String)> {
        let reserved: Vec<(&str, String)> = vec![
            ("_HANDLER", self.handler.clone()),
            ("LAMBDA_TASK_ROOT", "/var/task".into()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
            ("AWS_LAMBDA_FUNCTION_NAME", self.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", self.memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", self.version.clone()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", self.initialization_type.clone()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.function_name),
            ),
            ("AWS_REGION", self.region.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("TZ", ":UTC".into()),
            ("LANG", "en_US.UTF-8".into()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
            (
                "LD_LIBRARY_PATH",
                "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib".into(),
            ),
        ];
        let mut reserved = reserved;
        if let Some(e) = &self.execution_env {
            reserved.push(("AWS_EXECUTION_ENV", e.clone()));
        }
        let mut env: Vec<(String, String)> = self
            .environment
            .iter()
            .filter(|(k, _)| !reserved.iter().any(|(r, _)| r == k))
            .cloned()
            .collect();
        env.extend(reserved.into_iter().map(|(k, v)| (k.to_owned(), v)));
        env
    }
}

/// One function version, compiled and linked once (`InstancePre`); every sandbox of it is an
/// instantiation of this. Cheap to clone.
#[derive(Clone)]
pub struct WasmFunction {
    pub(crate) engine: WasmEngine,
    pub(crate) pre: CommandPre<SandboxState>,
    pub(crate) settings: Arc<FunctionSettings>,
    pub(crate) env: Arc<Vec<(String, String)>>,
    pub(crate) tmp: Arc<crate::tmp::TmpDirs>,
}

impl std::fmt::Debug for WasmFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmFunction")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl WasmFunction {
    /// Compiles (or loads from the cache) and links `wasm`, whose SHA-256 is `sha256_hex`.
    pub fn prepare(
        engine: &WasmEngine,
        sha256_hex: &str,
        wasm: &[u8],
        settings: FunctionSettings,
    ) -> Result<Self, PrepareError> {
        if settings.memory_mb > WASM32_MAX_MEMORY_MB {
            return Err(PrepareError::Link(format!(
                "MemorySize {} MB is more than a wasm32 function can address ({WASM32_MAX_MEMORY_MB} MB)",
                settings.memory_mb
            )));
        }
        let component = engine.component(sha256_hex, wasm)?;
        let pre = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| PrepareError::Link(format!("{e:#}")))?;
        let pre = CommandPre::new(pre).map_err(|e| {
            PrepareError::Link(format!(
                "not a WASI command (build a binary for wasm32-wasip2 with a `main`): {e:#}"
            ))
        })?;
        let env = Arc::new(settings.environment());
        let tmp = crate::tmp::TmpDirs::new(&settings.tmp_root);
        Ok(Self {
            tmp,
            engine: engine.clone(),
            pre,
            settings: Arc::new(settings),
            env,
        })
    }

    /// The same prepared code with another `AWS_LAMBDA_INITIALIZATION_TYPE` (sandboxes
    /// started ahead of demand say `provisioned-concurrency`). Cheap: shares the `InstancePre`.
    pub fn with_initialization_type(&self, initialization_type: &str) -> Self {
        let mut settings = (*self.settings).clone();
        settings.initialization_type = initialization_type.to_owned();
        Self {
            engine: self.engine.clone(),
            pre: self.pre.clone(),
            env: Arc::new(settings.environment()),
            settings: Arc::new(settings),
            tmp: self.tmp.clone(),
        }
    }

    pub fn settings(&self) -> &FunctionSettings {
        &self.settings
    }
}
