//! Scheduler settings.

use crate::clock::{Clock, TokioClock};
use hearth_pool::PoolConfig;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Lambda's default account concurrency limit.
pub const DEFAULT_ACCOUNT_CONCURRENCY: u32 = 1_000;

/// Lambda keeps at least this much of the account limit unreserved.
pub const MIN_UNRESERVED_CONCURRENCY: u32 = 100;

/// Lambda's default storage quota for all deployment packages (every version's zip): 75 GB.
pub const DEFAULT_CODE_STORAGE_BYTES: u64 = 80_530_636_800;

/// Default share of the memory budget kept for busy sandboxes to grow into.
pub const DEFAULT_MEMORY_MARGIN_PERCENT: u64 = 10;

/// Default bound on queued `Event` invocations.
pub const DEFAULT_MAX_QUEUED_EVENTS: usize = 100_000;

/// Default bound on the payload bytes of queued `Event` invocations (1 GiB).
pub const DEFAULT_MAX_QUEUED_EVENT_BYTES: u64 = 1 << 30;

/// Everything the scheduler is configured with.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Root of all state: `code/`, `cache/` (compiled code), `logs/`, `tmp/`.
    pub state_dir: PathBuf,
    /// Region in ARNs and `AWS_REGION`.
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
    /// Concurrent executions allowed across all functions (Lambda default 1,000).
    pub account_concurrency: u32,
    /// Warm pool: keep-alive and the global memory budget.
    pub pool: PoolConfig,
    /// Waits before the retries of a failed `Event` invocation (Lambda: about 1 and 2 min).
    pub async_retry_delays: Vec<Duration>,
    /// Longest an `Event` invocation is retried while throttled (Lambda: 6 h).
    pub async_max_event_age: Duration,
    /// What the policies' timings are measured on: the asynchronous-invocation policy's
    /// waits and event ages, the scaling rate's refill (tokio's clock; tests put a
    /// [`crate::clock::ManualClock`] here).
    pub clock: Arc<dyn Clock>,
    /// New execution environments each function may get per 10 s (Lambda: 1,000).
    pub scale_up_per_10s: u32,
    /// Bound on how long shutdown waits for in-flight invocations.
    pub shutdown_grace: Duration,
    /// Most `Event` invocations queued at once; beyond it `Event` invokes get a 429.
    pub max_queued_events: usize,
    /// Most bytes of stored events (payloads in base64 with their metadata) queued at once.
    pub max_queued_event_bytes: u64,
    /// Share of the memory budget kept free for busy sandboxes to grow into: new cold starts
    /// are refused (429) once sandboxes really hold more than the rest (idle sandboxes are
    /// evicted first), so growth meets the budget's hard limit only as the last resort.
    pub memory_margin_percent: u64,
    /// Bound of one function's log file; it is rotated (one old copy kept) beyond it.
    pub max_log_bytes: u64,
    /// Most bytes of deployment packages (`CodeSize` of `$LATEST` and every version, over
    /// all functions); beyond it deploys get `CodeStorageExceededException`.
    pub code_storage_limit: u64,
    /// The interpreter Python functions run on (it must have `awslambdaric`); `None`: the
    /// `python3` on `PATH`, when it has it.
    pub python: Option<PathBuf>,
}

impl SchedulerConfig {
    /// Defaults for a state directory: Lambda's limits, us-east-1, a dummy account.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            account_concurrency: DEFAULT_ACCOUNT_CONCURRENCY,
            pool: PoolConfig::default(),
            async_retry_delays: vec![Duration::from_secs(60), Duration::from_secs(120)],
            async_max_event_age: Duration::from_secs(6 * 3600),
            clock: Arc::new(TokioClock::default()),
            scale_up_per_10s: crate::scale::DEFAULT_SCALE_UP_PER_WINDOW,
            shutdown_grace: Duration::from_secs(30),
            max_queued_events: DEFAULT_MAX_QUEUED_EVENTS,
            max_queued_event_bytes: DEFAULT_MAX_QUEUED_EVENT_BYTES,
            max_log_bytes: crate::logs::store::DEFAULT_MAX_LOG_BYTES,
            code_storage_limit: DEFAULT_CODE_STORAGE_BYTES,
            memory_margin_percent: DEFAULT_MEMORY_MARGIN_PERCENT,
            python: None,
        }
    }
}
