//! SnapStart: a published version of a function with `SnapStart.ApplyOn: PublishedVersions`
//! runs its INIT once, when it is published, and every sandbox of it starts from the
//! initialised state ([`hearth_sandbox::snapshot`]).
//!
//! Lifecycle, as Lambda's: PublishVersion answers with the version `Pending`
//! (`StateReasonCode: Creating`) and takes the snapshot in the background; the version
//! becomes `Active` once the snapshot is stored, or `Failed` with INIT's error. Invoking a
//! `Pending` version is `SnapStartNotReadyException`. `$LATEST` is never snapshotted.
//!
//! Durability: the snapshot is a component stored content-addressed beside the code
//! (`code/<hash>.wasm`), written before the record that names it, both under the control
//! lock (so code collection never sees one without the other). A version whose record
//! still says `Pending` when the server starts (it stopped or crashed while snapshotting)
//! is snapshotted again: the attempt is retried, never half-used.

use crate::entry::FunctionEntry;
use crate::error::DeployError;
use crate::function::FunctionConfiguration;
use crate::registry::Scheduler;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// `StateReasonCode` while the snapshot is taken.
pub const CREATING: &str = "Creating";
/// `StateReason` while the snapshot is taken.
pub const CREATING_REASON: &str = "The function is being created.";
/// `StateReasonCode` when INIT failed while the snapshot was taken.
pub const FUNCTION_ERROR: &str = "FunctionError";

/// Marks a version about to be published from `$LATEST`: `Pending` until its snapshot is
/// taken, with `OptimizationStatus: On`. No-op unless SnapStart applies.
pub(crate) fn mark_pending(config: &mut FunctionConfiguration) {
    if !config.snap_start.applies() {
        return;
    }
    config.snap_start.optimization_status = "On".into();
    config.state = "Pending".into();
    config.state_reason = Some(CREATING_REASON.into());
    config.state_reason_code = Some(CREATING.into());
}

/// Whether a version waits for its snapshot.
pub(crate) fn is_pending(config: &FunctionConfiguration) -> bool {
    config.snap_start.applies() && config.state == "Pending"
}

impl Scheduler {
    /// Starts taking the snapshot of every version of `name` that waits for one.
    pub(crate) fn snapshot_pending(&self, name: &str) {
        let pending: Vec<u64> = self
            .read_functions()
            .get(name)
            .map(|state| {
                state
                    .record
                    .versions
                    .iter()
                    .filter(|(_, v)| v.snapshot.is_none() && is_pending(&v.config))
                    .map(|(n, _)| *n)
                    .collect()
            })
            .unwrap_or_default();
        for version in pending {
            let key = (name.to_owned(), version);
            let fresh = self
                .inner
                .snapshotting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.clone());
            if !fresh {
                continue; // a task is on it already
            }
            let this = self.clone();
            tokio::spawn(async move {
                let superseded = this.take_snapshot(&key.0, key.1).await;
                this.inner
                    .snapshotting
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
                if superseded {
                    // Another version now has this number and waits: take its snapshot.
                    this.snapshot_pending(&key.0);
                }
            });
        }
    }

    /// At start-up: versions left `Pending` by a stop or a crash are snapshotted again.
    pub(crate) fn resume_snapshots(&self) {
        let names: Vec<String> = self.read_functions().keys().cloned().collect();
        for name in names {
            self.snapshot_pending(&name);
        }
    }

    /// Takes version `n`'s snapshot and makes the version `Active` (or `Failed`). True when
    /// the version was replaced by another of the same number while INIT ran.
    async fn take_snapshot(&self, name: &str, n: u64) -> bool {
        let Some((config, code_hash)) = self.pending_version(name, n) else {
            return false;
        };
        let taken = self.run_snapshot(&config, &code_hash).await;
        let _control = self.inner.control.lock().await;
        // The version may have been deleted, or its function deleted and made again with
        // another version `n`, meanwhile: settle only the one this INIT ran for.
        let same = self
            .pending_version(name, n)
            .is_some_and(|(now, hash)| now.revision_id == config.revision_id && hash == code_hash);
        if !same {
            return self.pending_version(name, n).is_some();
        }
        let result = match taken {
            Ok((hash, component, entry, log)) => {
                self.inner.logs.append(name, log);
                match self.save_code(&hash, component).await {
                    Ok(()) => self.settle(name, n, Some(hash), entry).await,
                    Err(e) => Err(e),
                }
            }
            Err(why) => {
                let mut failed = config.clone();
                failed.state = "Failed".into();
                failed.state_reason = Some(why);
                failed.state_reason_code = Some(FUNCTION_ERROR.into());
                let entry = self.with_config(name, n, failed);
                match entry {
                    Some(entry) => self.settle(name, n, None, entry).await,
                    None => return false,
                }
            }
        };
        if let Err(e) = result {
            // The record still says Pending: the next start tries again.
            tracing::error!(function = name, version = n, error = %e, "snapshot not stored");
        }
        false
    }

    /// The configuration and code hash of version `n` if it still waits for its snapshot.
    fn pending_version(&self, name: &str, n: u64) -> Option<(FunctionConfiguration, String)> {
        let functions = self.read_functions();
        let version = functions.get(name)?.record.versions.get(&n)?;
        (version.snapshot.is_none() && is_pending(&version.config))
            .then(|| (version.config.clone(), version.code_hash.clone()))
    }

    /// Runs the version's INIT into a snapshot, stores nothing: the snapshot's hash and
    /// bytes, the entry that starts from it (`Active`), and the log text of its INIT; or why
    /// INIT failed (the version's `StateReason`).
    async fn run_snapshot(
        &self,
        config: &FunctionConfiguration,
        code_hash: &str,
    ) -> Result<(String, Arc<Vec<u8>>, Arc<FunctionEntry>, Vec<u8>), String> {
        let wasm = self.load_code(code_hash).await.map_err(|e| e.to_string())?;
        let settings = self.inner.backends.settings(config);
        let this = self.clone();
        let mut active = config.clone();
        active.state = "Active".into();
        active.state_reason = None;
        active.state_reason_code = None;
        // INIT is CPU work of up to 10 s and compiling the result more: a blocking thread
        // of its own, never an async worker.
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let engine = this.inner.backends.engine();
            let snapshot = handle
                .block_on(hearth_sandbox::snapshot::snapshot(engine, &wasm, &settings))
                .map_err(|e| e.to_string())?;
            let hash = hex::encode(Sha256::digest(&snapshot.component));
            let entry = this
                .prepare_snapshot_entry(&active, &hash, &snapshot.component)
                .map_err(|e| e.to_string())?;
            let mut log = snapshot.output;
            if !log.is_empty() && !log.ends_with(b"\n") {
                log.push(b'\n');
            }
            log.extend_from_slice(
                format!(
                    "INIT_REPORT Init Duration: {:.2} ms\n",
                    snapshot.took.as_secs_f64() * 1000.0
                )
                .as_bytes(),
            );
            Ok((hash, Arc::new(snapshot.component), entry, log))
        })
        .await
        .map_err(|e| format!("the snapshot task failed: {e}"))?
    }

    /// Version `n`'s entry with another configuration (same code and pool key).
    fn with_config(
        &self,
        name: &str,
        n: u64,
        config: FunctionConfiguration,
    ) -> Option<Arc<FunctionEntry>> {
        let functions = self.read_functions();
        let entry = functions.get(name)?.versions.get(&n)?;
        Some(Arc::new(FunctionEntry {
            config,
            code: entry.code.clone(),
            key: entry.key.clone(),
            metrics: entry.metrics.clone(),
            restored: entry.restored,
        }))
    }

    /// Writes version `n`'s settled state (its snapshot, its configuration) and makes
    /// `entry` the one invocations run. Holds the control lock (the caller's).
    async fn settle(
        &self,
        name: &str,
        n: u64,
        snapshot: Option<String>,
        entry: Arc<FunctionEntry>,
    ) -> Result<(), DeployError> {
        let mut record = self.record(name)?;
        let Some(version) = record.versions.get_mut(&n) else {
            return Ok(());
        };
        version.snapshot = snapshot;
        version.config = entry.config.clone();
        self.persist(&record).await?;
        let old = {
            let mut functions = self.write_functions();
            let Some(state) = functions.get_mut(name) else {
                return Ok(());
            };
            state.record = record;
            state.versions.insert(n, entry)
        };
        if let Some(old) = old {
            drop(self.inner.pool.retire(&old.key));
        }
        Ok(())
    }
}
