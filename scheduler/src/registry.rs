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
use crate::record::{FunctionRecord, VersionRecord};
use crate::store::StateStore;
use hearth_pool::{PoolStats, WarmPool};
use hearth_sandbox::Isolation;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub(crate) struct Inner {
    pub(crate) config: SchedulerConfig,
    /// The sandbox backends function versions are prepared for.
    pub(crate) backends: crate::backends::Backends,
    pub(crate) store: StateStore,
    /// The registry of deployed functions.
    pub(crate) functions: crate::functions::Functions,
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
    pub(crate) shutting_down: AtomicBool,
    /// Accepted `Event` invocations, durable until they end.
    pub(crate) events: Arc<EventQueue>,
    /// The SQS queues: async destinations deliver into them.
    pub(crate) queues: hearth_queue::Engine,
    /// Dropped with the scheduler: ends the async queue's consumer.
    pub(crate) _closed: tokio::sync::watch::Sender<()>,
    /// SnapStart versions whose snapshot a task is taking now (function, version).
    pub(crate) snapshotting: std::sync::Mutex<std::collections::HashSet<(String, u64)>>,
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
        let backends = crate::backends::Backends::new(&config)?;
        let logs = LogStore::open_bounded(config.state_dir.join("logs"), config.max_log_bytes)
            .map_err(|e| internal(&e))?;
        let (events, legacy) = EventQueue::open(
            &config.state_dir,
            QueueLimits {
                max_events: config.max_queued_events,
                max_bytes: config.max_queued_event_bytes,
            },
        )
        .map_err(|e| internal(&e))?;
        let queues = hearth_queue::Engine::open(
            &config.state_dir.join("queues"),
            hearth_queue::EngineConfig {
                region: config.region.clone(),
                account: config.account_id.clone(),
                ..Default::default()
            },
        )
        .map_err(|e| internal(&e))?;
        let (closed, closed_rx) = tokio::sync::watch::channel(());
        let inner = Arc::new(Inner {
            queues,
            pool: WarmPool::new(config.pool.clone()),
            reservoir: Default::default(),
            admission: Admission::new(config.account_concurrency),
            scale_up: crate::scale::ScaleUpRate::new(config.scale_up_per_10s, config.clock.clone()),
            config,
            backends,
            store,
            functions: Default::default(),
            control: tokio::sync::Mutex::new(()),
            logs,
            metrics: Metrics::new(),
            shutting_down: AtomicBool::new(false),
            events: Arc::new(events),
            _closed: closed,
            snapshotting: Default::default(),
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
        scheduler.spawn_async_worker(closed_rx);
        scheduler.spawn_provisioner();
        // Snapshots a crash or a stop interrupted are taken again.
        scheduler.resume_snapshots();
        if !legacy.is_empty() {
            let adopter = scheduler.clone();
            tokio::spawn(async move {
                if let Err(e) = adopter.inner.events.adopt(legacy).await {
                    tracing::error!(error = %e, "events of an earlier version not moved; they stay where they are");
                }
            });
        }
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
        let latest = self.prepare_stored(&record.latest)?;
        let mut versions = BTreeMap::new();
        for (n, version) in &record.versions {
            versions.insert(*n, self.prepare_stored(version)?);
        }
        Ok(FunctionState {
            record,
            latest,
            versions,
        })
    }

    /// A stored version's entry: from its snapshot when it has one, else from its code.
    fn prepare_stored(&self, version: &VersionRecord) -> Result<Arc<FunctionEntry>, DeployError> {
        let hash = version.snapshot.as_ref().unwrap_or(&version.code_hash);
        let code = self
            .inner
            .store
            .load_code(hash)
            .map_err(|e| DeployError::Internal(format!("code {hash}: {e}")))?;
        match &version.snapshot {
            Some(_) => self.prepare_snapshot_entry(&version.config, hash, &code),
            None => self.prepare_entry(&version.config, hash, &code),
        }
    }

    /// A version whose sandboxes start from its snapshot. Blocking.
    pub(crate) fn prepare_snapshot_entry(
        &self,
        config: &FunctionConfiguration,
        snapshot_hash: &str,
        component: &[u8],
    ) -> Result<Arc<FunctionEntry>, DeployError> {
        let code = self
            .inner
            .backends
            .prepare_snapshot(config, snapshot_hash, component)?;
        Ok(self.new_entry(config, code, true))
    }

    /// A new entry (with a pool key of its own) for prepared code.
    fn new_entry(
        &self,
        config: &FunctionConfiguration,
        code: hearth_sandbox::Function,
        restored: bool,
    ) -> Arc<FunctionEntry> {
        Arc::new(FunctionEntry {
            config: config.clone(),
            code,
            key: self.inner.functions.new_key(&config.function_name),
            metrics: self.inner.metrics.function(&config.function_name),
            restored,
        })
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
        let code = self.inner.backends.prepare(
            config,
            code_hash,
            code,
            &self.inner.store.task_dir(code_hash),
        )?;
        Ok(self.new_entry(config, code, false))
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

    /// The interpreter Python functions run on (see `SchedulerConfig::python`). Blocking.
    pub fn python(&self) -> Option<std::path::PathBuf> {
        self.inner.backends.python()
    }

    /// The isolation layers process sandboxes get on this host.
    pub fn isolation(&self) -> &Isolation {
        self.inner.backends.isolation()
    }

    /// The scheduler's settings.
    /// The node's SQS queues (opened under the state dir with the registry).
    pub fn queues(&self) -> &hearth_queue::Engine {
        &self.inner.queues
    }

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

    /// The entry a qualifier names, and the ARN the caller used for it.
    pub(crate) fn resolve_entry(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(Arc<FunctionEntry>, String), NotFound> {
        self.inner
            .functions
            .resolve(name, qualifier, &self.function_arn(name))
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
        let host = self.inner.backends.host_memory();
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
            .backends
            .isolation()
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

    /// MB of MemorySize that `counts` sandboxes of each named function take.
    pub(crate) fn memory_of_sandboxes<'a>(
        &self,
        counts: impl Iterator<Item = (&'a str, u32)>,
    ) -> u64 {
        self.inner.functions.memory_of_sandboxes(counts)
    }

    pub(crate) fn read_functions(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<String, FunctionState>> {
        self.inner.functions.read()
    }

    pub(crate) fn write_functions(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, FunctionState>> {
        self.inner.functions.write()
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
