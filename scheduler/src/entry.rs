//! A deployed function as the invoke path runs it: one entry per version (its
//! configuration, prepared code and pool key), and the sandbox type the pool holds.

use crate::function::FunctionConfiguration;
use crate::metrics::FunctionMetrics;
use crate::record::FunctionRecord;
use hearth_sandbox::{Environment, Function, Sandbox};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A pool key: function name and the generation of one version's code and configuration.
pub(crate) type PoolKey = (String, u64);

/// A sandbox as the pool sees it.
pub(crate) struct Pooled(pub(crate) Sandbox);

impl hearth_pool::Sandbox for Pooled {
    fn memory_mb(&self) -> u64 {
        self.0.memory_mb()
    }
}

/// One deployed function version, ready to run.
#[derive(Debug)]
pub(crate) struct FunctionEntry {
    pub(crate) config: FunctionConfiguration,
    pub(crate) code: Function,
    pub(crate) key: PoolKey,
    pub(crate) metrics: FunctionMetrics,
    /// Sandboxes start from the version's snapshot: their start is a restore.
    pub(crate) restored: bool,
}

/// A function: its durable record and the runnable entries built from it.
#[derive(Debug)]
pub(crate) struct FunctionState {
    pub(crate) record: FunctionRecord,
    pub(crate) latest: Arc<FunctionEntry>,
    pub(crate) versions: BTreeMap<u64, Arc<FunctionEntry>>,
}

impl FunctionState {
    /// Every entry of the function (for retiring pool keys).
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Arc<FunctionEntry>> {
        std::iter::once(&self.latest).chain(self.versions.values())
    }
}
