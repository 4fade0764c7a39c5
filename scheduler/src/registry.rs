//! The [`Scheduler`] and the control-plane operations on its function registry.
//!
//! The registry lives in memory here; every function version is compiled and linked once
//! when it is created ([`hearth_sandbox::WasmFunction`]) and gets its own pool key, so an
//! update never hands an old sandbox to a new configuration.

use crate::admission::Admission;
use crate::code;
use crate::config::{MIN_UNRESERVED_CONCURRENCY, SchedulerConfig};
use crate::error::{DeployError, NotFound};
use crate::function::{CreateFunction, EphemeralStorage, FunctionConfiguration, last_modified_now};
use crate::invoke::AsyncEvent;
use crate::logs::LogStore;
use crate::metrics::{FunctionMetrics, Metrics};
use base64::Engine as _;
use hearth_pool::{PoolStats, WarmPool};
use hearth_sandbox::{EngineConfig, FunctionSettings, WasmEngine, WasmFunction, WasmSandbox};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A pool key: function name and the generation of its code and configuration.
pub(crate) type PoolKey = (String, u64);

/// A sandbox as the pool sees it.
pub(crate) struct Pooled(pub(crate) WasmSandbox);

impl hearth_pool::Sandbox for Pooled {
    fn memory_mb(&self) -> u64 {
        self.0.memory_mb()
    }
}

/// One deployed function version.
#[derive(Debug)]
pub(crate) struct FunctionEntry {
    pub(crate) config: FunctionConfiguration,
    pub(crate) code: WasmFunction,
    pub(crate) key: PoolKey,
    pub(crate) metrics: FunctionMetrics,
}

pub(crate) struct Inner {
    pub(crate) config: SchedulerConfig,
    pub(crate) engine: WasmEngine,
    /// A std lock: held only for map operations, never across `.await`.
    pub(crate) functions: RwLock<HashMap<String, Arc<FunctionEntry>>>,
    pub(crate) pool: WarmPool<PoolKey, Pooled>,
    pub(crate) admission: Admission,
    pub(crate) logs: LogStore,
    pub(crate) metrics: Metrics,
    pub(crate) generation: AtomicU64,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) async_tx: mpsc::UnboundedSender<AsyncEvent>,
}

/// The scheduler: registry, admission, pool and invoke path. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("state_dir", &self.inner.config.state_dir)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Builds the scheduler and starts its background tasks (keep-alive reaper, async
    /// invocation worker). Must be called inside a tokio runtime.
    pub fn new(config: SchedulerConfig) -> Result<Self, DeployError> {
        let internal = |e: &dyn std::fmt::Display| DeployError::Internal(e.to_string());
        let tmp = config.state_dir.join("tmp");
        // Sandboxes of an earlier run left their /tmp behind only if it crashed.
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| internal(&e))?;
        let engine = WasmEngine::new(EngineConfig {
            cache_dir: config.state_dir.join("cache"),
            max_instances: config.account_concurrency.max(1),
        })
        .map_err(|e| internal(&e))?;
        let logs = LogStore::open(config.state_dir.join("logs")).map_err(|e| internal(&e))?;
        let (async_tx, async_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            pool: WarmPool::new(config.pool.clone()),
            admission: Admission::new(config.account_concurrency),
            config,
            engine,
            functions: RwLock::default(),
            logs,
            metrics: Metrics::new(),
            generation: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            async_tx,
        });
        let scheduler = Self { inner };
        scheduler.spawn_reaper();
        scheduler.spawn_async_worker(async_rx);
        Ok(scheduler)
    }

    /// The scheduler's settings.
    pub fn config(&self) -> &SchedulerConfig {
        &self.inner.config
    }

    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`.
    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.inner.config.region, self.inner.config.account_id
        )
    }

    /// CreateFunction: validates, unpacks, compiles and registers a function; `State` is
    /// `Active` when this returns.
    pub async fn create_function(
        &self,
        request: CreateFunction,
    ) -> Result<FunctionConfiguration, DeployError> {
        let settings = request.validate()?;
        let name = request.function_name.clone();
        if self.read_functions().contains_key(&name) {
            return Err(DeployError::AlreadyExists(self.function_arn(&name)));
        }
        let zip = request.code.zip_file.as_deref().ok_or_else(|| {
            DeployError::InvalidParameter("Please provide a source for function code.".into())
        })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(zip.trim())
            .map_err(|e| {
                DeployError::InvalidParameter(format!("Code.ZipFile is not valid base64: {e}"))
            })?;
        let package = code::unpack(&bytes, &settings.handler)?;
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed);
        let sandbox_settings = FunctionSettings {
            function_name: name.clone(),
            version: "$LATEST".into(),
            memory_mb: u64::from(settings.memory_mb),
            timeout: Duration::from_secs(u64::from(settings.timeout_s)),
            handler: settings.handler.clone(),
            region: self.inner.config.region.clone(),
            initialization_type: "on-demand".into(),
            environment: settings
                .environment
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            tmp_root: self.inner.config.state_dir.join("tmp"),
        };
        let engine = self.inner.engine.clone();
        let (wasm, hash) = (package.wasm, package.wasm_sha256_hex.clone());
        // Compiling takes tens to hundreds of ms of CPU: keep it off the async workers.
        let code = tokio::task::spawn_blocking(move || {
            WasmFunction::prepare(&engine, &hash, &wasm, sandbox_settings)
        })
        .await
        .map_err(|e| DeployError::Internal(e.to_string()))?
        .map_err(|e| DeployError::InvalidCode(e.to_string()))?;

        let config = FunctionConfiguration {
            function_arn: self.function_arn(&name),
            function_name: name.clone(),
            runtime: settings.runtime,
            role: settings.role,
            handler: settings.handler,
            code_size: package.code_size,
            description: settings.description,
            timeout: settings.timeout_s,
            memory_size: settings.memory_mb,
            last_modified: last_modified_now(),
            code_sha256: package.code_sha256,
            version: "$LATEST".into(),
            environment: settings.environment,
            state: "Active".into(),
            last_update_status: "Successful".into(),
            revision_id: uuid::Uuid::new_v4().to_string(),
            package_type: "Zip".into(),
            architectures: settings.architectures,
            ephemeral_storage: EphemeralStorage {
                size: settings.ephemeral_mb,
            },
        };
        let entry = Arc::new(FunctionEntry {
            config: config.clone(),
            code,
            key: (name.clone(), generation),
            metrics: self.inner.metrics.function(&name),
        });
        let mut functions = self.write_functions();
        if functions.contains_key(&name) {
            return Err(DeployError::AlreadyExists(self.function_arn(&name)));
        }
        functions.insert(name, entry);
        Ok(config)
    }

    /// DeleteFunction: unregisters the function; its idle sandboxes stop at once, busy ones
    /// when their invocation ends.
    pub fn delete_function(&self, name: &str) -> Result<(), NotFound> {
        let entry = self
            .write_functions()
            .remove(name)
            .ok_or_else(|| self.not_found(name))?;
        drop(self.inner.pool.retire(&entry.key));
        self.inner.admission.set_reserved(name, None);
        self.inner.metrics.remove_function(name);
        Ok(())
    }

    /// GetFunctionConfiguration.
    pub fn get_function(&self, name: &str) -> Result<FunctionConfiguration, NotFound> {
        Ok(self.entry(name)?.config.clone())
    }

    /// ListFunctions, ordered by name.
    pub fn list_functions(&self) -> Vec<FunctionConfiguration> {
        let mut all: Vec<_> = self
            .read_functions()
            .values()
            .map(|e| e.config.clone())
            .collect();
        all.sort_by(|a, b| a.function_name.cmp(&b.function_name));
        all
    }

    /// PutFunctionConcurrency: reserve `reserved` concurrent executions for `name`, keeping
    /// at least 100 of the account limit unreserved as Lambda does.
    pub fn put_function_concurrency(&self, name: &str, reserved: u32) -> Result<u32, DeployError> {
        self.entry(name)?;
        let admission = &self.inner.admission;
        let others = admission.reserved_except(name);
        let unreserved =
            i64::from(admission.account_limit()) - i64::from(others) - i64::from(reserved);
        if unreserved < i64::from(MIN_UNRESERVED_CONCURRENCY) {
            return Err(DeployError::InvalidParameter(format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED_CONCURRENCY}]."
            )));
        }
        admission.set_reserved(name, Some(reserved));
        Ok(reserved)
    }

    /// GetFunctionConcurrency.
    pub fn get_function_concurrency(&self, name: &str) -> Result<Option<u32>, NotFound> {
        self.entry(name)?;
        Ok(self.inner.admission.reserved(name))
    }

    /// DeleteFunctionConcurrency.
    pub fn delete_function_concurrency(&self, name: &str) -> Result<(), NotFound> {
        self.entry(name)?;
        self.inner.admission.set_reserved(name, None);
        Ok(())
    }

    /// Live / idle / busy sandboxes of a function's current version.
    pub fn pool_stats(&self, name: &str) -> Result<PoolStats, NotFound> {
        Ok(self.inner.pool.stats(&self.entry(name)?.key))
    }

    /// The function logs.
    pub fn logs(&self) -> &LogStore {
        &self.inner.logs
    }

    /// `/metrics`: the Prometheus text, with sandbox gauges brought up to date.
    pub fn metrics_text(&self) -> String {
        for entry in self.read_functions().values() {
            let stats = self.inner.pool.stats(&entry.key);
            entry.metrics.idle.set(stats.idle as i64);
            entry.metrics.busy.set(stats.busy as i64);
        }
        self.inner.metrics.render()
    }

    /// Stops admitting invocations, waits (at most the shutdown grace) for in-flight ones to
    /// finish, then stops every idle sandbox and flushes the logs.
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        let until = Instant::now() + self.inner.config.shutdown_grace;
        while self.inner.admission.total_in_flight() > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(self.inner.pool.drain());
        self.inner.logs.flush();
    }

    pub(crate) fn entry(&self, name: &str) -> Result<Arc<FunctionEntry>, NotFound> {
        self.read_functions()
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    pub(crate) fn not_found(&self, name: &str) -> NotFound {
        NotFound {
            arn: self.function_arn(name),
        }
    }

    fn read_functions(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<FunctionEntry>>> {
        // The map is only replaced entry by entry; a panic elsewhere cannot leave it torn.
        self.inner
            .functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn write_functions(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<FunctionEntry>>> {
        self.inner
            .functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Drops sandboxes idle past the keep-alive. Holds only a weak reference, so it ends
    /// with the scheduler.
    fn spawn_reaper(&self) {
        let weak = Arc::downgrade(&self.inner);
        let period = (self.inner.config.pool.keep_alive / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let expired = inner.pool.reap_expired(Instant::now());
                drop(inner);
                drop(expired);
            }
        });
    }
}
