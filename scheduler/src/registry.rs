//! The [`Scheduler`]: its state, start-up from the state directory, and name resolution.
//!
//! Each function version (`$LATEST` and every published one) is compiled and linked once
//! ([`hearth_sandbox::WasmFunction`]) and has its own pool key, so an update never hands an
//! old sandbox to a new configuration. Control-plane changes are serialised by one async
//! lock, written to disk ([`crate::store`]) and only then made visible; invocations read the
//! current entries through a short read lock.

use crate::admission::Admission;
use crate::config::SchedulerConfig;
use crate::entry::{FunctionEntry, FunctionState, PoolKey, Pooled};
use crate::error::{DeployError, NotFound};
use crate::event_queue::{EventQueue, QueueLimits};
use crate::function::FunctionConfiguration;
use crate::logs::LogStore;
use crate::metrics::Metrics;
use crate::record::{FunctionRecord, QueuedEvent};
use crate::store::StateStore;
use hearth_pool::{PoolStats, WarmPool};
use hearth_sandbox::{
    EngineConfig, Entrypoint, Function, FunctionSettings, HostMemory, Isolation, ProcessFunction,
    WasmEngine, WasmFunction,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub(crate) struct Inner {
    pub(crate) config: SchedulerConfig,
    pub(crate) engine: WasmEngine,
    /// What process sandboxes are isolated with on this host (detected at start).
    pub(crate) isolation: Arc<Isolation>,
    /// The Python interpreter with `awslambdaric`, found when a Python function first needs it.
    pub(crate) python: std::sync::OnceLock<Option<std::path::PathBuf>>,
    pub(crate) store: StateStore,
    /// A std lock: held only for map operations, never across `.await`.
    pub(crate) functions: RwLock<HashMap<String, FunctionState>>,
    /// Serialises control-plane changes (held across compilation and the disk write).
    pub(crate) control: tokio::sync::Mutex<()>,
    pub(crate) pool: WarmPool<PoolKey, Pooled>,
    /// Provisioned-concurrency sandboxes, outside the pool's expiry and eviction.
    pub(crate) reservoir: crate::reservoir::Reservoir,
    pub(crate) admission: Admission,
    /// Lambda's per-function scaling rate, taken by every cold start.
    pub(crate) scale_up: crate::scale::ScaleUpRate,
    pub(crate) logs: LogStore,
    pub(crate) metrics: Metrics,
    pub(crate) generation: AtomicU64,
    pub(crate) shutting_down: AtomicBool,
    /// Accepted `Event` invocations, durable until they end.
    pub(crate) events: EventQueue,
    pub(crate) async_tx: mpsc::UnboundedSender<QueuedEvent>,
}

/// The scheduler: registry, admission, pool and invoke path. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    pub(crate) inner: Arc<Inner>,
}

/// Engine slots beyond the pool's sandbox bound: room for sandboxes being torn down.
const ENGINE_SLOT_SLACK: u32 = 64;

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("state_dir", &self.inner.config.state_dir)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Opens the state directory, loads every function and unfinished `Event` invocation, and
    /// starts the background tasks (keep-alive reaper, async worker). Must be called inside a
    /// tokio runtime.
    pub fn new(config: SchedulerConfig) -> Result<Self, DeployError> {
        let internal = |e: &dyn std::fmt::Display| DeployError::Internal(e.to_string());
        let tmp = config.state_dir.join("tmp");
        // Sandboxes of an earlier run left their /tmp behind only if it crashed.
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| internal(&e))?;
        let store = StateStore::open(&config.state_dir).map_err(|e| internal(&e))?;
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
        let logs = LogStore::open_bounded(config.state_dir.join("logs"), config.max_log_bytes)
            .map_err(|e| internal(&e))?;
        let (events, queued) = EventQueue::open(
            &config.state_dir,
            QueueLimits {
                max_events: config.max_queued_events,
                max_bytes: config.max_queued_event_bytes,
            },
        )
        .map_err(|e| internal(&e))?;
        let (async_tx, async_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            pool: WarmPool::new(config.pool.clone()),
            reservoir: Default::default(),
            admission: Admission::new(config.account_concurrency),
            scale_up: crate::scale::ScaleUpRate::new(config.scale_up_per_10s, config.clock.clone()),
            config,
            engine,
            isolation,
            python: std::sync::OnceLock::new(),
            store,
            functions: RwLock::default(),
            control: tokio::sync::Mutex::new(()),
            logs,
            metrics: Metrics::new(),
            generation: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            events,
            async_tx,
        });
        let scheduler = Self { inner };
        scheduler.load()?;
        // Code a crash left unreferenced (between writing a component and its record, or
        // between a record's change and the collection after it).
        let collector = scheduler.clone();
        tokio::spawn(async move {
            let _control = collector.inner.control.lock().await;
            collector.collect_code().await;
        });
        scheduler.spawn_reaper();
        scheduler.spawn_async_worker(async_rx);
        scheduler.spawn_provisioner();
        scheduler.resume_events(queued);
        Ok(scheduler)
    }

    /// Rebuilds every function from its record. A function that cannot be rebuilt (its code
    /// missing or unreadable) keeps the server from starting, with the reason: starting
    /// without it would drop its acknowledged `Event` invocations as orphans.
    fn load(&self) -> Result<(), DeployError> {
        let records = self
            .inner
            .store
            .load_functions()
            .map_err(|e| DeployError::Internal(e.to_string()))?;
        for record in records {
            let name = record.name.clone();
            match self.build_state(record) {
                Ok(state) => {
                    self.inner
                        .admission
                        .set_reserved(&name, state.record.reserved_concurrency);
                    self.write_functions().insert(name, state);
                }
                Err(e) => {
                    return Err(DeployError::Internal(format!(
                        "cannot load function {name} from {}: {e}; restore its code or move its record out of the state directory",
                        self.inner.store.function_file(&name).display()
                    )));
                }
            }
        }
        Ok(())
    }

    fn build_state(&self, record: FunctionRecord) -> Result<FunctionState, DeployError> {
        let latest = self.prepare_stored(&record.latest.config, &record.latest.code_hash)?;
        let mut versions = BTreeMap::new();
        for (n, version) in &record.versions {
            versions.insert(
                *n,
                self.prepare_stored(&version.config, &version.code_hash)?,
            );
        }
        Ok(FunctionState {
            record,
            latest,
            versions,
        })
    }

    fn prepare_stored(
        &self,
        config: &FunctionConfiguration,
        code_hash: &str,
    ) -> Result<Arc<FunctionEntry>, DeployError> {
        let code = self
            .inner
            .store
            .load_code(code_hash)
            .map_err(|e| DeployError::Internal(format!("code {code_hash}: {e}")))?;
        self.prepare_entry(config, code_hash, &code)
    }

    /// Prepares one version for its backend: a component is compiled (or loaded from the
    /// cache) and linked; a process runtime's package is unpacked once per code hash.
    /// Blocking: CPU- and disk-heavy when the code is new.
    pub(crate) fn prepare_entry(
        &self,
        config: &FunctionConfiguration,
        code_hash: &str,
        code: &[u8],
    ) -> Result<Arc<FunctionEntry>, DeployError> {
        let settings = FunctionSettings {
            function_name: config.function_name.clone(),
            version: config.version.clone(),
            memory_mb: u64::from(config.memory_size),
            timeout: Duration::from_secs(u64::from(config.timeout)),
            handler: config.handler.clone(),
            region: self.inner.config.region.clone(),
            initialization_type: "on-demand".into(),
            environment: config
                .environment
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            tmp_root: self.inner.config.state_dir.join("tmp"),
            tmp_limit_mb: u64::from(config.ephemeral_storage.size),
            execution_env: crate::function::execution_env(&config.runtime),
        };
        let code = match crate::function::code_kind(&config.runtime) {
            crate::code::CodeKind::Component => Function::Wasm(
                WasmFunction::prepare(&self.inner.engine, code_hash, code, settings)
                    .map_err(|e| DeployError::InvalidCode(e.to_string()))?,
            ),
            kind @ (crate::code::CodeKind::Tree | crate::code::CodeKind::Source) => {
                let entrypoint = match kind {
                    crate::code::CodeKind::Tree => Entrypoint::Bootstrap,
                    _ => Entrypoint::Interpreter {
                        program: self.python().ok_or_else(|| {
                            DeployError::InvalidParameter(format!(
                                "{} needs a Python interpreter with awslambdaric on this host: pip install awslambdaric, or start hearth with --python PATH (hearth doctor)",
                                config.runtime
                            ))
                        })?,
                        args: vec!["-m".into(), "awslambdaric".into(), config.handler.clone()],
                    },
                };
                let dir = self.inner.store.task_dir(code_hash);
                if !dir.is_dir() {
                    crate::code::extract_tree(code, &dir)?;
                }
                Function::Process(
                    ProcessFunction::prepare(
                        self.inner.isolation.clone(),
                        self.inner.engine.host_memory().clone(),
                        dir,
                        entrypoint,
                        settings,
                    )
                    .map_err(|e| DeployError::InvalidCode(e.to_string()))?,
                )
            }
        };
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(FunctionEntry {
            config: config.clone(),
            code,
            key: (config.function_name.clone(), generation),
            metrics: self.inner.metrics.function(&config.function_name),
        }))
    }

    /// [`Self::prepare_entry`] off the async workers.
    pub(crate) async fn prepare_entry_async(
        &self,
        config: FunctionConfiguration,
        code_hash: String,
        code: Arc<Vec<u8>>,
    ) -> Result<Arc<FunctionEntry>, DeployError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.prepare_entry(&config, &code_hash, &code))
            .await
            .map_err(|e| DeployError::Internal(e.to_string()))?
    }

    /// The interpreter Python functions run on: the configured one, else `python3` from
    /// `PATH` if it imports `awslambdaric`. Looked for once (it starts Python). Blocking.
    pub fn python(&self) -> Option<std::path::PathBuf> {
        self.inner
            .python
            .get_or_init(|| match &self.inner.config.python {
                Some(path) => Some(path.clone()),
                None => find_python(),
            })
            .clone()
    }

    /// The isolation layers process sandboxes get on this host.
    pub fn isolation(&self) -> &Isolation {
        &self.inner.isolation
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

    /// The entry a qualifier names (`None` and `$LATEST`: latest; a number: that version; else
    /// an alias), and the ARN the caller used for it.
    pub(crate) fn resolve_entry(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(Arc<FunctionEntry>, String), NotFound> {
        let functions = self.read_functions();
        let state = functions.get(name).ok_or_else(|| self.not_found(name))?;
        let arn = self.function_arn(name);
        let not_found = |q: &str| NotFound {
            arn: format!("{arn}:{q}"),
        };
        match qualifier {
            None => Ok((state.latest.clone(), arn)),
            Some("$LATEST") => Ok((state.latest.clone(), format!("{arn}:$LATEST"))),
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => {
                let n: u64 = q.parse().map_err(|_| not_found(q))?;
                let entry = state.versions.get(&n).ok_or_else(|| not_found(q))?;
                Ok((entry.clone(), format!("{arn}:{q}")))
            }
            Some(q) => {
                let alias = state.record.aliases.get(q).ok_or_else(|| not_found(q))?;
                let entry = match alias.function_version.as_str() {
                    "$LATEST" => state.latest.clone(),
                    v => v
                        .parse::<u64>()
                        .ok()
                        .and_then(|n| state.versions.get(&n))
                        .cloned()
                        .ok_or_else(|| not_found(q))?,
                };
                Ok((entry, format!("{arn}:{q}")))
            }
        }
    }

    /// Live / idle / busy sandboxes of a function's `$LATEST`.
    pub fn pool_stats(&self, name: &str) -> Result<PoolStats, NotFound> {
        let (entry, _) = self.resolve_entry(name, None)?;
        Ok(self.inner.pool.stats(&entry.key))
    }

    /// The function logs.
    pub fn logs(&self) -> &LogStore {
        &self.inner.logs
    }

    /// `/metrics`: the Prometheus text, with sandbox gauges brought up to date.
    pub fn metrics_text(&self) -> String {
        for state in self.read_functions().values() {
            let (mut idle, mut busy) = (0, 0);
            for entry in state.entries() {
                let stats = self.inner.pool.stats(&entry.key);
                idle += stats.idle;
                busy += stats.busy;
            }
            state.latest.metrics.idle.set(idle as i64);
            state.latest.metrics.busy.set(busy as i64);
        }
        let (queued, _) = self.inner.events.len();
        self.inner
            .metrics
            .async_queue_events()
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
        let host = self.inner.engine.host_memory();
        let (held, limit) = self.inner.metrics.memory();
        held.set(i64::try_from(host.held()).unwrap_or(i64::MAX));
        limit.set(i64::try_from(host.limit()).unwrap_or(i64::MAX));
        self.inner.metrics.render()
    }

    /// Stops admitting invocations, waits (at most the shutdown grace) for in-flight ones to
    /// finish, then stops every idle sandbox and flushes the logs. Queued `Event`
    /// invocations stay on disk and run after the next start.
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        let until = Instant::now() + self.inner.config.shutdown_grace;
        while self.inner.admission.total_in_flight() > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(self.inner.pool.drain());
        drop(std::mem::take(
            &mut *self
                .inner
                .reservoir
                .sets
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        ));
        // Process environments get their SHUTDOWN (SIGTERM, then SIGKILL within 2 s).
        self.inner
            .isolation
            .wait_for_shutdowns(
                Instant::now() + hearth_sandbox::process::SHUTDOWN_GRACE + Duration::from_secs(1),
            )
            .await;
        let logs = self.inner.logs.clone();
        let _ = tokio::task::spawn_blocking(move || logs.flush()).await;
    }

    pub(crate) fn not_found(&self, name: &str) -> NotFound {
        NotFound {
            arn: self.function_arn(name),
        }
    }

    /// MB of MemorySize that `counts` sandboxes of each named function take, at its
    /// `$LATEST` MemorySize (a function not found takes none).
    pub(crate) fn memory_of_sandboxes<'a>(
        &self,
        counts: impl Iterator<Item = (&'a str, u32)>,
    ) -> u64 {
        let functions = self.read_functions();
        counts
            .map(|(name, n)| {
                functions
                    .get(name)
                    .map_or(0, |s| u64::from(s.latest.config.memory_size) * u64::from(n))
            })
            .sum()
    }

    pub(crate) fn read_functions(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<String, FunctionState>> {
        // Entries are replaced whole under the write lock; a panic elsewhere cannot leave one
        // torn, so a poisoned lock still guards consistent data.
        self.inner
            .functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write_functions(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, FunctionState>> {
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

/// `python3` on `PATH`, if it can import `awslambdaric`.
pub fn find_python() -> Option<std::path::PathBuf> {
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
