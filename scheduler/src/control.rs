//! Control-plane operations on functions: create, update, delete, get, list, concurrency,
//! tags, account settings. Every change is written to disk before it is acknowledged.

use crate::code;
use crate::config::MIN_UNRESERVED_CONCURRENCY;
use crate::entry::{FunctionEntry, FunctionState};
use crate::error::{DeployError, NotFound};
use crate::function::{
    CreateFunction, DeadLetterConfig, EphemeralStorage, FunctionConfiguration, SnapStartResponse,
    UpdateCode, UpdateConfiguration, ValidSettings, last_modified_now,
};
use crate::record::{FunctionRecord, VersionRecord};
use crate::registry::Scheduler;
use base64::Engine as _;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Lambda's `GetAccountSettings` answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettings {
    pub account_limit: AccountLimit,
    pub account_usage: AccountUsage,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountLimit {
    pub total_code_size: u64,
    pub code_size_unzipped: u64,
    pub code_size_zipped: u64,
    pub concurrent_executions: u32,
    pub unreserved_concurrent_executions: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountUsage {
    pub total_code_size: u64,
    pub function_count: u64,
}

fn decode_zip(zip: Option<&str>) -> Result<Vec<u8>, DeployError> {
    let zip = zip.ok_or_else(|| {
        DeployError::InvalidParameter("Please provide a source for function code.".into())
    })?;
    base64::engine::general_purpose::STANDARD
        .decode(zip.trim())
        .map_err(|e| {
            DeployError::InvalidParameter(format!("Code.ZipFile is not valid base64: {e}"))
        })
}

/// Decodes and unpacks a deployment package (base64, unzip of up to 250 MB, hashing) on a
/// blocking thread, before any lock is taken.
async fn unpack_blocking(
    zip_file: Option<String>,
    runtime: &str,
    handler: String,
) -> Result<code::Package, DeployError> {
    let kind = crate::function::code_kind(runtime);
    tokio::task::spawn_blocking(move || {
        code::unpack(&decode_zip(zip_file.as_deref())?, kind, &handler)
    })
    .await
    .map_err(|e| DeployError::Internal(e.to_string()))?
}

fn check_revision(
    current: &str,
    given: Option<&str>,
    api: &'static str,
) -> Result<(), DeployError> {
    match given {
        Some(r) if r != current => Err(DeployError::PreconditionFailed(api)),
        _ => Ok(()),
    }
}

impl Scheduler {
    /// Drops every idle sandbox of function `name` (all its versions), so its next invoke
    /// starts a new environment: what `hearth bench` does between cold samples. Busy and
    /// provisioned sandboxes are untouched. Returns how many went.
    pub fn evict_idle(&self, name: &str) -> Result<usize, NotFound> {
        let evicted: Vec<_> = {
            let functions = self.read_functions();
            let state = functions.get(name).ok_or_else(|| self.not_found(name))?;
            state
                .entries()
                .flat_map(|entry| self.inner.pool.retire(&entry.key))
                .collect()
        };
        Ok(evicted.len())
    }

    /// A `FunctionConfiguration` for `$LATEST` from validated settings.
    fn latest_config(
        &self,
        name: &str,
        settings: ValidSettings,
        package: &code::Package,
    ) -> FunctionConfiguration {
        FunctionConfiguration {
            function_arn: self.function_arn(name),
            function_name: name.to_owned(),
            runtime: settings.runtime,
            role: settings.role,
            handler: settings.handler,
            code_size: package.code_size,
            description: settings.description,
            timeout: settings.timeout_s,
            memory_size: settings.memory_mb,
            last_modified: last_modified_now(),
            code_sha256: package.code_sha256.clone(),
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
            dead_letter_config: settings.dead_letter_target.map(|arn| DeadLetterConfig {
                target_arn: Some(arn),
            }),
            state_reason: None,
            state_reason_code: None,
            snap_start: SnapStartResponse {
                apply_on: settings.snap_start,
                optimization_status: "Off".into(),
            },
        }
    }

    /// CreateFunction: validates, unpacks, compiles, stores and registers a function;
    /// `State` is `Active` when this returns. With `Publish`, version 1 is published too.
    pub async fn create_function(
        &self,
        request: CreateFunction,
    ) -> Result<FunctionConfiguration, DeployError> {
        let settings = request.validate()?;
        let name = request.function_name.clone();
        if self.read_functions().contains_key(&name) {
            return Err(DeployError::AlreadyExists(self.function_arn(&name)));
        }
        let package = unpack_blocking(
            request.code.zip_file.clone(),
            &settings.runtime,
            settings.handler.clone(),
        )
        .await?;
        let _control = self.inner.control.lock().await;
        if self.read_functions().contains_key(&name) {
            return Err(DeployError::AlreadyExists(self.function_arn(&name)));
        }
        let copies = if request.publish { 2 } else { 1 };
        self.check_code_storage(copies * package.code_size, 0)?;
        let config = self.latest_config(&name, settings, &package);
        let wasm_sha = package.code_hash.clone();
        let wasm = Arc::new(package.code);
        let latest = self
            .prepare_entry_async(config.clone(), wasm_sha.clone(), wasm.clone())
            .await?;
        self.save_code(&wasm_sha, wasm.clone()).await?;
        let mut state = FunctionState {
            record: FunctionRecord {
                name: name.clone(),
                latest: VersionRecord {
                    config: config.clone(),
                    code_hash: wasm_sha,
                    snapshot: None,
                },
                versions: BTreeMap::new(),
                next_version: 1,
                aliases: BTreeMap::new(),
                reserved_concurrency: None,
                event_invoke_configs: BTreeMap::new(),
                provisioned: BTreeMap::new(),
                tags: request.tags.clone(),
            },
            latest,
            versions: BTreeMap::new(),
        };
        if request.publish {
            self.publish_into(&mut state, None).await?;
        }
        self.persist(&state.record).await?;
        self.inner.logs.create(&name);
        self.write_functions().insert(name.clone(), state);
        self.snapshot_pending(&name);
        Ok(config)
    }

    /// UpdateFunctionCode: new code for `$LATEST` (and a new version with `Publish`).
    pub async fn update_function_code(
        &self,
        name: &str,
        request: UpdateCode,
    ) -> Result<FunctionConfiguration, DeployError> {
        let before = self.latest_for_update(name, None)?.1;
        let package = unpack_blocking(
            request.zip_file.clone(),
            &before.runtime,
            before.handler.clone(),
        )
        .await?;
        let _control = self.inner.control.lock().await;
        let (mut record, current) = self.latest_for_update(name, request.revision_id.as_deref())?;
        if current.handler != before.handler || current.runtime != before.runtime {
            return Err(DeployError::Conflict(
                "The function's handler or runtime changed while its code was being updated; retry.".into(),
            ));
        }
        self.check_code_storage(
            package.code_size
                + if request.publish {
                    package.code_size
                } else {
                    0
                },
            current.code_size,
        )?;
        let mut config = current.clone();
        config.code_size = package.code_size;
        config.code_sha256 = package.code_sha256.clone();
        config.last_modified = last_modified_now();
        config.revision_id = uuid::Uuid::new_v4().to_string();
        if let Some(arch) = request.architectures {
            config.architectures = arch;
        }
        let wasm_sha = package.code_hash.clone();
        let wasm = Arc::new(package.code);
        let latest = self
            .prepare_entry_async(config.clone(), wasm_sha.clone(), wasm.clone())
            .await?;
        if request.dry_run {
            return Ok(config);
        }
        self.save_code(&wasm_sha, wasm.clone()).await?;
        record.latest = VersionRecord {
            config: config.clone(),
            code_hash: wasm_sha,
            snapshot: None,
        };
        self.replace_latest(name, record, latest, request.publish)
            .await?;
        self.collect_code().await;
        Ok(config)
    }

    /// UpdateFunctionConfiguration: only the members present change; the result is
    /// validated as a whole, as CreateFunction would be.
    pub async fn update_function_configuration(
        &self,
        name: &str,
        request: UpdateConfiguration,
    ) -> Result<FunctionConfiguration, DeployError> {
        let _control = self.inner.control.lock().await;
        let (mut record, current) = self.latest_for_update(name, request.revision_id.as_deref())?;
        let merged = request.merged(&current);
        let settings = merged.validate()?;
        let kind = crate::function::code_kind(&current.runtime);
        if crate::function::code_kind(&settings.runtime) != kind {
            return Err(DeployError::InvalidParameter(format!(
                "Runtime {} runs another kind of code than {}: create a new function for it",
                settings.runtime, current.runtime
            )));
        }
        if kind == code::CodeKind::Component && settings.handler != current.handler {
            // The handler names the component inside the package: it must still be there.
            return Err(DeployError::InvalidParameter(
                "Handler names the component's path in the deployment package; change it with UpdateFunctionCode".into(),
            ));
        }
        let mut config = current.clone();
        config.runtime = settings.runtime;
        config.handler = settings.handler;
        config.role = settings.role;
        config.description = settings.description;
        config.timeout = settings.timeout_s;
        config.memory_size = settings.memory_mb;
        config.environment = settings.environment;
        config.ephemeral_storage = EphemeralStorage {
            size: settings.ephemeral_mb,
        };
        config.dead_letter_config = settings.dead_letter_target.map(|arn| DeadLetterConfig {
            target_arn: Some(arn),
        });
        config.snap_start.apply_on = settings.snap_start;
        config.last_modified = last_modified_now();
        config.revision_id = uuid::Uuid::new_v4().to_string();
        let wasm_sha = record.latest.code_hash.clone();
        let wasm = self.load_code(&wasm_sha).await?;
        let latest = self
            .prepare_entry_async(config.clone(), wasm_sha, wasm)
            .await?;
        record.latest.config = config.clone();
        self.replace_latest(name, record, latest, false).await?;
        Ok(config)
    }

    /// The record and `$LATEST` configuration an update starts from, after checking the
    /// caller's `RevisionId` (when given) against the current one.
    fn latest_for_update(
        &self,
        name: &str,
        revision_id: Option<&str>,
    ) -> Result<(FunctionRecord, FunctionConfiguration), DeployError> {
        let record = self.record(name)?;
        let current = record.latest.config.clone();
        check_revision(&current.revision_id, revision_id, "GetFunction")?;
        Ok((record, current))
    }

    /// Swaps in a new `$LATEST` (after persisting), retiring the old one's sandboxes.
    async fn replace_latest(
        &self,
        name: &str,
        record: FunctionRecord,
        latest: Arc<FunctionEntry>,
        publish: bool,
    ) -> Result<(), DeployError> {
        let versions = self
            .read_functions()
            .get(name)
            .map(|s| s.versions.clone())
            .ok_or_else(|| self.not_found(name))?;
        let mut state = FunctionState {
            record,
            latest,
            versions,
        };
        if publish {
            self.publish_into(&mut state, None).await?;
        }
        self.persist(&state.record).await?;
        let old = self.write_functions().insert(name.to_owned(), state);
        if let Some(old) = old {
            drop(self.inner.pool.retire(&old.latest.key));
        }
        self.snapshot_pending(name);
        Ok(())
    }

    /// DeleteFunction: the whole function, or with a qualifier one published version.
    pub async fn delete_function(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(), DeployError> {
        let _control = self.inner.control.lock().await;
        match qualifier {
            None | Some("$LATEST") => {
                self.record(name)?;
                let store = self.inner.store.clone();
                let file = name.to_owned();
                tokio::task::spawn_blocking(move || store.delete_function(&file))
                    .await
                    .map_err(|e| DeployError::Internal(e.to_string()))?
                    .map_err(|e| DeployError::Internal(format!("writing state: {e}")))?;
                let Some(state) = self.write_functions().remove(name) else {
                    return Err(self.not_found(name).into());
                };
                for entry in state.entries() {
                    drop(self.inner.pool.retire(&entry.key));
                }
                self.inner.admission.set_reserved(name, None);
                self.inner.metrics.remove_function(name);
                self.inner.scale_up.forget(name);
                self.collect_code().await;
                Ok(())
            }
            Some(q) => {
                let n: u64 = q.parse().map_err(|_| {
                    DeployError::InvalidParameter(format!(
                        "Deleting an alias with DeleteFunction is not supported; use DeleteAlias. Qualifier: {q}"
                    ))
                })?;
                let mut record = self.record(name)?;
                if !record.versions.contains_key(&n) {
                    return Err(NotFound {
                        arn: format!("{}:{q}", self.function_arn(name)),
                    }
                    .into());
                }
                if let Some(alias) = record.aliases.values().find(|a| a.function_version == q) {
                    return Err(DeployError::Conflict(format!(
                        "Unable to delete version because the following aliases reference it: [{}]",
                        alias.name
                    )));
                }
                record.versions.remove(&n);
                record.event_invoke_configs.remove(q);
                record.provisioned.remove(q);
                self.persist(&record).await?;
                if let Some(state) = self.write_functions().get_mut(name) {
                    state.record = record;
                    if let Some(entry) = state.versions.remove(&n) {
                        drop(self.inner.pool.retire(&entry.key));
                    }
                }
                self.collect_code().await;
                Ok(())
            }
        }
    }

    /// GetFunctionConfiguration (and GetFunction's `Configuration`) for a qualifier.
    pub fn get_function(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionConfiguration, NotFound> {
        Ok(self.resolve_entry(name, qualifier)?.0.config.clone())
    }

    /// ListFunctions: every function's `$LATEST`, ordered by name.
    pub fn list_functions(&self) -> Vec<FunctionConfiguration> {
        let mut all: Vec<_> = self
            .read_functions()
            .values()
            .map(|s| s.record.latest.config.clone())
            .collect();
        all.sort_by(|a, b| a.function_name.cmp(&b.function_name));
        all
    }

    /// PutFunctionConcurrency: reserve `reserved` concurrent executions for `name`, keeping
    /// at least 100 of the account limit unreserved as Lambda does.
    pub async fn put_function_concurrency(
        &self,
        name: &str,
        reserved: u32,
    ) -> Result<u32, DeployError> {
        let _control = self.inner.control.lock().await;
        let mut record = self.record(name)?;
        let admission = &self.inner.admission;
        let unreserved = i64::from(admission.account_limit())
            - i64::from(admission.reserved_except(name))
            - i64::from(reserved);
        if unreserved < i64::from(MIN_UNRESERVED_CONCURRENCY) {
            return Err(DeployError::InvalidParameter(format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED_CONCURRENCY}]."
            )));
        }
        // A reservation guarantees its invocations can be admitted, so it holds their memory
        // (MemorySize each) in the pool's budget: all reservations together must fit.
        let others = admission.reservations_except(name);
        let reserved_mb = self.memory_of_sandboxes(
            others
                .iter()
                .map(|(other, n, _)| (other.as_str(), *n))
                .chain([(name, reserved)]),
        );
        let budget_mb = self.inner.pool.config().charge_budget_mb();
        if reserved_mb > budget_mb {
            return Err(DeployError::InvalidParameter(format!(
                "Specified ReservedConcurrentExecutions would reserve {reserved_mb} MB of MemorySize across all reservations, more than the {budget_mb} MB the host admits (memory budget × overcommit)."
            )));
        }
        record.reserved_concurrency = Some(reserved);
        self.store_record(record).await?;
        admission.set_reserved(name, Some(reserved));
        Ok(reserved)
    }

    /// GetFunctionConcurrency.
    pub fn get_function_concurrency(&self, name: &str) -> Result<Option<u32>, NotFound> {
        Ok(self.record(name)?.reserved_concurrency)
    }

    /// DeleteFunctionConcurrency.
    pub async fn delete_function_concurrency(&self, name: &str) -> Result<(), DeployError> {
        let _control = self.inner.control.lock().await;
        let mut record = self.record(name)?;
        record.reserved_concurrency = None;
        self.store_record(record).await?;
        self.inner.admission.set_reserved(name, None);
        Ok(())
    }

    /// The function a taggable ARN names (tags live on the function).
    fn tagged_function(&self, arn: &str) -> Result<String, DeployError> {
        let (name, _) = crate::invoke::parse_function_ref(arn);
        if !arn.starts_with("arn:") {
            return Err(DeployError::InvalidParameter(format!(
                "1 validation error detected: Value '{arn}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:..."
            )));
        }
        self.record(name)?;
        Ok(name.to_owned())
    }

    /// ListTags.
    pub fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, DeployError> {
        let name = self.tagged_function(arn)?;
        Ok(self.record(&name)?.tags)
    }

    /// TagResource: adds or replaces tags (Lambda allows 50 per function).
    pub async fn tag_resource(
        &self,
        arn: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(), DeployError> {
        let _control = self.inner.control.lock().await;
        let name = self.tagged_function(arn)?;
        let mut record = self.record(&name)?;
        let new: BTreeMap<String, String> = tags
            .into_iter()
            .filter(|(k, v)| record.tags.get(k) != Some(v))
            .collect();
        let replacing = new.keys().filter(|k| record.tags.contains_key(*k)).count();
        crate::function::validate_tags(&new, record.tags.len() - replacing)?;
        record.tags.extend(new);
        self.store_record(record).await
    }

    /// UntagResource.
    pub async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), DeployError> {
        let _control = self.inner.control.lock().await;
        let name = self.tagged_function(arn)?;
        let mut record = self.record(&name)?;
        for key in keys {
            record.tags.remove(key);
        }
        self.store_record(record).await
    }

    /// Bytes of deployment packages stored: `CodeSize` of `$LATEST` and of every version,
    /// over all functions (what Lambda's code storage quota counts).
    fn code_storage_used(&self) -> u64 {
        self.read_functions()
            .values()
            .map(|s| {
                s.record.latest.config.code_size
                    + s.record
                        .versions
                        .values()
                        .map(|v| v.config.code_size)
                        .sum::<u64>()
            })
            .sum()
    }

    /// Refuses a change that stores `adding` bytes of packages and frees `freeing` when the
    /// total would pass the code storage quota. Called under the control lock, so two
    /// deploys cannot both fit into the same room.
    pub(crate) fn check_code_storage(&self, adding: u64, freeing: u64) -> Result<(), DeployError> {
        let limit = self.inner.config.code_storage_limit;
        let after = (self.code_storage_used() + adding).saturating_sub(freeing);
        if adding > freeing && after > limit {
            return Err(DeployError::CodeStorageExceeded(format!(
                "Code storage limit exceeded: {after} bytes of deployment packages would pass the limit of {limit} bytes. Delete unused functions or versions."
            )));
        }
        Ok(())
    }

    /// Deletes stored components (and their compiled code) that no version of any function
    /// references any more: what UpdateFunctionCode replaced and DeleteFunction left behind.
    /// Called under the control lock, after the records that stopped referencing them are
    /// on disk; a crash before it leaves garbage the next start collects, never a record
    /// without its code. Failure only leaves garbage, so it is logged, not returned.
    pub(crate) async fn collect_code(&self) {
        let keep = self.referenced_code();
        let store = self.inner.store.clone();
        let engine = self.inner.backends.engine().clone();
        let collected = tokio::task::spawn_blocking(move || {
            let deleted = store.collect_code(&keep)?;
            engine.collect_cache(&keep)?;
            Ok::<_, std::io::Error>(deleted)
        })
        .await;
        match collected {
            Ok(Ok(deleted)) if !deleted.is_empty() => {
                tracing::debug!(count = deleted.len(), "deleted unreferenced code");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot delete unreferenced code"),
            Err(e) => tracing::warn!(error = %e, "code collection task failed"),
        }
    }

    /// The hashes of every component a record refers to.
    pub(crate) fn referenced_code(&self) -> std::collections::HashSet<String> {
        self.read_functions()
            .values()
            .flat_map(|s| {
                std::iter::once(s.record.latest.code_hash.clone()).chain(
                    s.record.versions.values().flat_map(|v| {
                        std::iter::once(v.code_hash.clone()).chain(v.snapshot.clone())
                    }),
                )
            })
            .collect()
    }

    /// A stored component, read off the async workers.
    pub(crate) async fn load_code(&self, sha: &str) -> Result<Arc<Vec<u8>>, DeployError> {
        let store = self.inner.store.clone();
        let sha = sha.to_owned();
        tokio::task::spawn_blocking(move || store.load_code(&sha))
            .await
            .map_err(|e| DeployError::Internal(e.to_string()))?
            .map(Arc::new)
            .map_err(|e| DeployError::Internal(format!("reading code: {e}")))
    }

    /// GetAccountSettings.
    pub fn account_settings(&self) -> AccountSettings {
        let total = self.code_storage_used();
        let functions = self.read_functions();
        let admission = &self.inner.admission;
        AccountSettings {
            account_limit: AccountLimit {
                total_code_size: self.inner.config.code_storage_limit,
                code_size_unzipped: code::MAX_UNZIPPED_BYTES,
                code_size_zipped: code::MAX_ZIPPED_BYTES as u64,
                concurrent_executions: admission.account_limit(),
                unreserved_concurrent_executions: admission
                    .account_limit()
                    .saturating_sub(admission.reserved_except("")),
            },
            account_usage: AccountUsage {
                total_code_size: total,
                function_count: functions.len() as u64,
            },
        }
    }

    /// A copy of a function's record.
    pub(crate) fn record(&self, name: &str) -> Result<FunctionRecord, NotFound> {
        self.read_functions()
            .get(name)
            .map(|s| s.record.clone())
            .ok_or_else(|| self.not_found(name))
    }

    /// Writes a record to disk.
    /// Writes a record to disk (atomically and durably, off the async workers).
    pub(crate) async fn persist(&self, record: &FunctionRecord) -> Result<(), DeployError> {
        let store = self.inner.store.clone();
        let record = record.clone();
        tokio::task::spawn_blocking(move || store.save_function(&record))
            .await
            .map_err(|e| DeployError::Internal(e.to_string()))?
            .map_err(|e| DeployError::Internal(format!("writing state: {e}")))
    }

    /// Stores a component under its hash, durably, off the async workers.
    pub(crate) async fn save_code(&self, sha: &str, wasm: Arc<Vec<u8>>) -> Result<(), DeployError> {
        let store = self.inner.store.clone();
        let sha = sha.to_owned();
        tokio::task::spawn_blocking(move || store.save_code(&sha, &wasm))
            .await
            .map_err(|e| DeployError::Internal(e.to_string()))?
            .map_err(|e| DeployError::Internal(format!("writing code: {e}")))
    }

    /// Persists a changed record whose entries did not change, then makes it current.
    pub(crate) async fn store_record(&self, record: FunctionRecord) -> Result<(), DeployError> {
        self.persist(&record).await?;
        let name = record.name.clone();
        match self.write_functions().get_mut(&name) {
            Some(state) => {
                state.record = record;
                Ok(())
            }
            None => Err(self.not_found(&name).into()),
        }
    }
}
