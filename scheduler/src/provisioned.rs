//! Provisioned concurrency: sandboxes initialised ahead of demand for a version or alias,
//! kept out of keep-alive expiry and LRU eviction, used before the on-demand pool.
//!
//! A background task keeps each configured qualifier at its requested count: it starts the
//! missing sandboxes (with `AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`) and
//! releases the sandboxes of versions no longer targeted (config deleted, alias moved).
//! Their memory is reserved from the warm pool's budget under a key of their own, so the
//! budget covers them too (they show as busy in the pool's counts).

use crate::entry::PoolKey;
use crate::error::DeployError;
use crate::function::last_modified_now;
use crate::record::ProvisionedConfig;
use crate::registry::Scheduler;
use crate::reservoir::{MAX_LOGGED_ERROR_CHARS, Set, reservation_key};
use hearth_pool::Acquired;
use hearth_sandbox::{Environment, Prepared, Sandbox};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the top-up task runs.
const TOP_UP_PERIOD: Duration = Duration::from_millis(100);

/// The PutProvisionedConcurrencyConfig request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutProvisioned {
    pub provisioned_concurrent_executions: i64,
}

/// Lambda's provisioned-concurrency status answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedStatus {
    pub requested_provisioned_concurrent_executions: u32,
    pub allocated_provisioned_concurrent_executions: u32,
    pub available_provisioned_concurrent_executions: u32,
    /// `IN_PROGRESS` until every requested sandbox is initialised, then `READY`.
    pub status: &'static str,
    pub last_modified: String,
}

impl Scheduler {
    /// Returns a provisioned sandbox after an invocation: kept if healthy and still wanted,
    /// otherwise dropped and its memory reservation released.
    pub(crate) fn give_back_provisioned(&self, key: &PoolKey, sandbox: Sandbox) {
        let mut sets = self.inner.reservoir.lock();
        let keep = sandbox.is_alive();
        let memory_mb = match sets.get_mut(key) {
            Some(set) => {
                if keep && set.live <= set.target {
                    set.idle.push(sandbox);
                    return;
                }
                set.live = set.live.saturating_sub(1);
                set.memory_mb
            }
            // Its config was deleted (or its alias moved) while it ran: the set is gone, and
            // its reservation is released here, where the sandbox ends.
            None => sandbox.memory_mb(),
        };
        drop(sets);
        drop(sandbox);
        self.inner.pool.discard(&reservation_key(key), memory_mb);
    }

    fn provisioned_key(&self, name: &str, qualifier: &str) -> Result<PoolKey, DeployError> {
        if qualifier == "$LATEST" {
            return Err(DeployError::InvalidParameter(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.".into(),
            ));
        }
        Ok(self.resolve_entry(name, Some(qualifier))?.0.key.clone())
    }

    /// PutProvisionedConcurrencyConfig (202: the sandboxes start in the background).
    pub async fn put_provisioned_concurrency(
        &self,
        name: &str,
        qualifier: &str,
        request: PutProvisioned,
    ) -> Result<ProvisionedStatus, DeployError> {
        let n = u32::try_from(request.provisioned_concurrent_executions)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                DeployError::Validation(format!(
                    "1 validation error detected: Value '{}' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1",
                    request.provisioned_concurrent_executions
                ))
            })?;
        let _control = self.inner.control.lock().await;
        self.provisioned_key(name, qualifier)?;
        let (entry, _) = self.resolve_entry(name, Some(qualifier))?;
        if entry.config.snap_start.applies() {
            return Err(DeployError::InvalidParameter(
                "Provisioned Concurrency is not supported for functions with SnapStart enabled."
                    .into(),
            ));
        }
        let mut record = self.record(name)?;
        self.check_provisioned_room(&record, qualifier, n)?;
        let config = ProvisionedConfig {
            requested: n,
            last_modified: last_modified_now(),
        };
        record
            .provisioned
            .insert(qualifier.to_owned(), config.clone());
        self.store_record(record).await?;
        Ok(ProvisionedStatus {
            requested_provisioned_concurrent_executions: n,
            allocated_provisioned_concurrent_executions: 0,
            available_provisioned_concurrent_executions: 0,
            status: "IN_PROGRESS",
            last_modified: config.last_modified,
        })
    }

    /// Refuses a provisioned count that Lambda would refuse, or that this host cannot hold:
    /// within the function's reserved concurrency when it has one (summed over its
    /// qualifiers), otherwise within the unreserved account concurrency less the 100 that must
    /// stay unreserved (summed over every unreserved function), and always within the warm
    /// pool's memory budget (every provisioned sandbox of every function).
    fn check_provisioned_room(
        &self,
        record: &crate::record::FunctionRecord,
        qualifier: &str,
        n: u32,
    ) -> Result<(), DeployError> {
        let memory_of = |function: &str, q: &str| {
            self.resolve_entry(function, Some(q))
                .map_or(0, |(e, _)| u64::from(e.config.memory_size))
        };
        let own: u32 = record
            .provisioned
            .iter()
            .filter(|(q, _)| q.as_str() != qualifier)
            .map(|(_, c)| c.requested)
            .sum::<u32>()
            .saturating_add(n);
        if let Some(reserved) = record.reserved_concurrency {
            if own > reserved {
                return Err(DeployError::InvalidParameter(format!(
                    "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function: {own} provisioned over its qualifiers, {reserved} reserved."
                )));
            }
        } else {
            let admission = &self.inner.admission;
            let unreserved = admission
                .account_limit()
                .saturating_sub(admission.reserved_except(&record.name))
                .saturating_sub(crate::config::MIN_UNRESERVED_CONCURRENCY);
            let others: u32 = self
                .read_functions()
                .values()
                .filter(|s| s.record.name != record.name && s.record.reserved_concurrency.is_none())
                .flat_map(|s| s.record.provisioned.values().map(|c| c.requested))
                .sum();
            if others.saturating_add(own) > unreserved {
                return Err(DeployError::InvalidParameter(format!(
                    "Specified ProvisionedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{}]: {} provisioned on unreserved functions, {unreserved} available.",
                    crate::config::MIN_UNRESERVED_CONCURRENCY,
                    others.saturating_add(own)
                )));
            }
        }
        let mut memory_mb = u64::from(n) * memory_of(&record.name, qualifier);
        for state in self.read_functions().values() {
            for (q, c) in &state.record.provisioned {
                if state.record.name == record.name && q == qualifier {
                    continue;
                }
                memory_mb += u64::from(c.requested) * memory_of(&state.record.name, q);
            }
        }
        let budget = self.inner.pool.config().memory_budget_mb;
        if memory_mb > budget {
            return Err(DeployError::InvalidParameter(format!(
                "Provisioned concurrency would hold {memory_mb} MB of sandboxes, more than this host's memory budget of {budget} MB (--memory-budget)."
            )));
        }
        Ok(())
    }

    /// GetProvisionedConcurrencyConfig.
    pub fn get_provisioned_concurrency(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<ProvisionedStatus, DeployError> {
        let key = self.provisioned_key(name, qualifier)?;
        let config = self
            .record(name)?
            .provisioned
            .get(qualifier)
            .cloned()
            .ok_or_else(|| {
                DeployError::ProvisionedNotFound(format!(
                    "No Provisioned Concurrency Config found for this function: {}:{qualifier}",
                    self.function_arn(name)
                ))
            })?;
        let (_, live) = self.inner.reservoir.counts(&key);
        let allocated = live.min(config.requested);
        Ok(ProvisionedStatus {
            requested_provisioned_concurrent_executions: config.requested,
            allocated_provisioned_concurrent_executions: allocated,
            available_provisioned_concurrent_executions: allocated,
            status: if allocated >= config.requested {
                "READY"
            } else {
                "IN_PROGRESS"
            },
            last_modified: config.last_modified,
        })
    }

    /// DeleteProvisionedConcurrencyConfig.
    pub async fn delete_provisioned_concurrency(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<(), DeployError> {
        let _control = self.inner.control.lock().await;
        self.get_provisioned_concurrency(name, qualifier)?;
        let mut record = self.record(name)?;
        record.provisioned.remove(qualifier);
        self.store_record(record).await
    }

    /// Starts the task that keeps provisioned sandboxes at their requested counts.
    pub(crate) fn spawn_provisioner(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TOP_UP_PERIOD);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                if inner
                    .shutting_down
                    .load(std::sync::atomic::Ordering::SeqCst)
                {
                    break;
                }
                Scheduler { inner }.top_up().await;
            }
        });
    }

    /// One round of the provisioner: what should exist, what does, and the difference.
    async fn top_up(&self) {
        // Wanted: pool key → (entry, requested count).
        let mut wanted = HashMap::new();
        let targets: Vec<(String, String, u32)> = self
            .read_functions()
            .values()
            .flat_map(|state| {
                state
                    .record
                    .provisioned
                    .iter()
                    .map(|(q, c)| (state.record.name.clone(), q.clone(), c.requested))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (name, qualifier, requested) in targets {
            if let Ok((entry, _)) = self.resolve_entry(&name, Some(&qualifier)) {
                let slot = wanted.entry(entry.key.clone()).or_insert((entry, 0));
                slot.1 += requested;
            }
        }
        // Release sets nobody wants any more.
        let unwanted: Vec<(PoolKey, Set)> = {
            let mut sets = self.inner.reservoir.lock();
            let gone: Vec<PoolKey> = sets
                .keys()
                .filter(|k| !wanted.contains_key(*k))
                .cloned()
                .collect();
            gone.into_iter()
                .filter_map(|k| sets.remove(&k).map(|s| (k, s)))
                .collect()
        };
        for (key, set) in unwanted {
            let idle = set.idle.len() as u32;
            for _ in 0..idle {
                self.inner
                    .pool
                    .discard(&reservation_key(&key), set.memory_mb);
            }
            // Busy ones release their reservation when they come back and find no set.
            drop(set);
        }
        // Start what is missing, one at a time per key per round.
        for (key, (entry, requested)) in wanted {
            let memory_mb = u64::from(entry.config.memory_size);
            let missing = {
                let mut sets = self.inner.reservoir.lock();
                let set = sets.entry(key.clone()).or_default();
                set.target = requested;
                set.memory_mb = memory_mb;
                requested.saturating_sub(set.live)
            };
            if missing == 0 {
                continue;
            }
            let reservation = reservation_key(&key);
            match self
                .inner
                .pool
                .acquire(&reservation, memory_mb, Instant::now())
            {
                Ok(Acquired::Cold { evicted }) => drop(evicted),
                Ok(Acquired::Warm(_)) | Err(_) => continue, // no room in the budget now
            }
            let code = entry
                .code
                .with_initialization_type("provisioned-concurrency");
            match code.start().await {
                Ok(sandbox) => {
                    entry.metrics.cold_starts.inc();
                    entry
                        .metrics
                        .init_duration
                        .observe(sandbox.init_duration().as_secs_f64());
                    let mut sets = self.inner.reservoir.lock();
                    match sets.get_mut(&key) {
                        Some(set) => {
                            set.live += 1;
                            set.idle.push(sandbox);
                        }
                        None => {
                            drop(sets);
                            self.inner.pool.discard(&reservation, memory_mb);
                        }
                    }
                }
                Err(e) => {
                    self.inner.pool.discard(&reservation, memory_mb);
                    let message = format!("{e:?}");
                    if self.inner.reservoir.should_log_failure(&key, &message) {
                        let shown: String = message.chars().take(MAX_LOGGED_ERROR_CHARS).collect();
                        tracing::warn!(function = %entry.config.function_name, error = %shown, "provisioned sandbox failed to start (repeats of the same error are logged once a minute)");
                    }
                }
            }
        }
    }
}
