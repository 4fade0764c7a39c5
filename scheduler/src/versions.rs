//! Versions and aliases: PublishVersion, ListVersionsByFunction, and alias CRUD.

use crate::entry::FunctionState;
use crate::error::{DeployError, NotFound};
use crate::function::{FunctionConfiguration, last_modified_now};
use crate::record::{AliasConfiguration, VersionRecord};
use crate::registry::Scheduler;
use serde::Deserialize;

/// The PublishVersion request body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishVersion {
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

/// The CreateAlias request body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAlias {
    pub name: String,
    pub function_version: String,
    pub description: Option<String>,
    pub routing_config: Option<serde_json::Value>,
}

/// The UpdateAlias request body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAlias {
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<serde_json::Value>,
    pub revision_id: Option<String>,
}

/// Alias names: 1–128 of `[a-zA-Z0-9-_]`, not all digits (those are versions).
fn validate_alias_name(name: &str) -> Result<(), DeployError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(DeployError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        )))
    }
}

/// Weighted routing between two versions is not implemented: refuse it rather than
/// silently send all traffic to one version.
fn refuse_routing(routing: &Option<serde_json::Value>) -> Result<(), DeployError> {
    let weighted = routing
        .as_ref()
        .and_then(|r| r.get("AdditionalVersionWeights"))
        .and_then(|w| w.as_object())
        .is_some_and(|w| !w.is_empty());
    if weighted {
        return Err(DeployError::InvalidParameter(
            "RoutingConfig.AdditionalVersionWeights (weighted aliases) is not supported by hearth yet".into(),
        ));
    }
    Ok(())
}

/// Whether two configurations differ in anything a new version would capture.
fn same_code_and_config(a: &FunctionConfiguration, b: &FunctionConfiguration) -> bool {
    a.code_sha256 == b.code_sha256
        && a.handler == b.handler
        && a.runtime == b.runtime
        && a.timeout == b.timeout
        && a.memory_size == b.memory_size
        && a.environment == b.environment
        && a.role == b.role
        && a.ephemeral_storage == b.ephemeral_storage
        && a.snap_start.apply_on == b.snap_start.apply_on
}

impl Scheduler {
    /// PublishVersion.
    pub async fn publish_version(
        &self,
        name: &str,
        request: PublishVersion,
    ) -> Result<FunctionConfiguration, DeployError> {
        let _control = self.inner.control.lock().await;
        let (record, latest, versions) = {
            let functions = self.read_functions();
            let state = functions.get(name).ok_or_else(|| self.not_found(name))?;
            (
                state.record.clone(),
                state.latest.clone(),
                state.versions.clone(),
            )
        };
        let mut state = FunctionState {
            record,
            latest,
            versions,
        };
        let config = self.publish_into(&mut state, Some(&request)).await?;
        self.persist(&state.record).await?;
        self.write_functions().insert(name.to_owned(), state);
        self.snapshot_pending(name);
        Ok(config)
    }

    /// Publishes `$LATEST` of `state` as its next version, unless the newest version already
    /// has the same code and configuration (then that one is returned, as Lambda does).
    pub(crate) async fn publish_into(
        &self,
        state: &mut FunctionState,
        request: Option<&PublishVersion>,
    ) -> Result<FunctionConfiguration, DeployError> {
        let latest = state.record.latest.clone();
        if let Some(request) = request {
            if let Some(sha) = &request.code_sha256
                && sha != &latest.config.code_sha256
            {
                return Err(DeployError::InvalidParameter(format!(
                    "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again.",
                    latest.config.code_sha256
                )));
            }
            if let Some(r) = &request.revision_id
                && r != &latest.config.revision_id
            {
                return Err(DeployError::PreconditionFailed("GetFunction"));
            }
        }
        if let Some((_, newest)) = state.record.versions.iter().next_back()
            && same_code_and_config(&newest.config, &latest.config)
        {
            return Ok(newest.config.clone());
        }
        let n = state.record.next_version;
        let mut config = latest.config.clone();
        config.version = n.to_string();
        config.function_arn = format!("{}:{n}", self.function_arn(&state.record.name));
        config.revision_id = uuid::Uuid::new_v4().to_string();
        config.last_modified = last_modified_now();
        crate::snap_start::mark_pending(&mut config);
        if let Some(description) = request.and_then(|r| r.description.clone()) {
            config.description = description;
        }
        if request.is_some() {
            // A PublishVersion of its own; CreateFunction and UpdateFunctionCode with
            // `Publish` counted the version in their own check.
            self.check_code_storage(latest.config.code_size, 0)?;
        }
        let wasm = self.load_code(&latest.code_hash).await?;
        let entry = self
            .prepare_entry_async(config.clone(), latest.code_hash.clone(), wasm)
            .await?;
        state.record.versions.insert(
            n,
            VersionRecord {
                config: config.clone(),
                code_hash: latest.code_hash,
                snapshot: None,
            },
        );
        state.record.next_version = n + 1;
        state.versions.insert(n, entry);
        Ok(config)
    }

    /// ListVersionsByFunction: `$LATEST`, then the published versions in order.
    pub fn list_versions(&self, name: &str) -> Result<Vec<FunctionConfiguration>, NotFound> {
        let record = self.record(name)?;
        let mut latest = record.latest.config;
        // In version listings `$LATEST` carries its qualified ARN, as Lambda lists it.
        latest.function_arn = format!("{}:$LATEST", latest.function_arn);
        Ok(std::iter::once(latest)
            .chain(record.versions.into_values().map(|v| v.config))
            .collect())
    }

    fn alias_arn(&self, function: &str, alias: &str) -> String {
        format!("{}:{alias}", self.function_arn(function))
    }

    fn alias_not_found(&self, function: &str, alias: &str) -> DeployError {
        DeployError::ResourceNotFound(format!(
            "Alias not found: {}",
            self.alias_arn(function, alias)
        ))
    }

    /// Checks that `version` (`$LATEST` or a published number) exists.
    fn check_version(&self, function: &str, version: &str) -> Result<(), DeployError> {
        let record = self.record(function)?;
        let exists = version == "$LATEST"
            || version
                .parse::<u64>()
                .is_ok_and(|n| record.versions.contains_key(&n));
        if exists {
            Ok(())
        } else {
            Err(NotFound {
                arn: format!("{}:{version}", self.function_arn(function)),
            }
            .into())
        }
    }

    /// CreateAlias.
    pub async fn create_alias(
        &self,
        function: &str,
        request: CreateAlias,
    ) -> Result<AliasConfiguration, DeployError> {
        validate_alias_name(&request.name)?;
        refuse_routing(&request.routing_config)?;
        let _control = self.inner.control.lock().await;
        self.check_version(function, &request.function_version)?;
        let mut record = self.record(function)?;
        if record.aliases.contains_key(&request.name) {
            return Err(DeployError::Conflict(format!(
                "Alias already exists: {}",
                self.alias_arn(function, &request.name)
            )));
        }
        let alias = AliasConfiguration {
            alias_arn: self.alias_arn(function, &request.name),
            name: request.name.clone(),
            function_version: request.function_version,
            description: request.description.unwrap_or_default(),
            revision_id: uuid::Uuid::new_v4().to_string(),
        };
        record.aliases.insert(request.name, alias.clone());
        self.store_record(record).await?;
        Ok(alias)
    }

    /// GetAlias.
    pub fn get_alias(
        &self,
        function: &str,
        alias: &str,
    ) -> Result<AliasConfiguration, DeployError> {
        self.record(function)?
            .aliases
            .get(alias)
            .cloned()
            .ok_or_else(|| self.alias_not_found(function, alias))
    }

    /// UpdateAlias.
    pub async fn update_alias(
        &self,
        function: &str,
        alias: &str,
        request: UpdateAlias,
    ) -> Result<AliasConfiguration, DeployError> {
        refuse_routing(&request.routing_config)?;
        let _control = self.inner.control.lock().await;
        let mut record = self.record(function)?;
        let mut current = record
            .aliases
            .get(alias)
            .cloned()
            .ok_or_else(|| self.alias_not_found(function, alias))?;
        if let Some(r) = &request.revision_id
            && r != &current.revision_id
        {
            return Err(DeployError::PreconditionFailed("GetAlias"));
        }
        if let Some(version) = request.function_version {
            self.check_version(function, &version)?;
            current.function_version = version;
        }
        if let Some(description) = request.description {
            current.description = description;
        }
        current.revision_id = uuid::Uuid::new_v4().to_string();
        record.aliases.insert(alias.to_owned(), current.clone());
        self.store_record(record).await?;
        Ok(current)
    }

    /// DeleteAlias.
    pub async fn delete_alias(&self, function: &str, alias: &str) -> Result<(), DeployError> {
        let _control = self.inner.control.lock().await;
        let mut record = self.record(function)?;
        if record.aliases.remove(alias).is_none() {
            return Err(self.alias_not_found(function, alias));
        }
        record.event_invoke_configs.remove(alias);
        record.provisioned.remove(alias);
        self.store_record(record).await
    }

    /// ListAliases, optionally only those pointing at `version`.
    pub fn list_aliases(
        &self,
        function: &str,
        version: Option<&str>,
    ) -> Result<Vec<AliasConfiguration>, DeployError> {
        Ok(self
            .record(function)?
            .aliases
            .into_values()
            .filter(|a| version.is_none_or(|v| a.function_version == v))
            .collect())
    }
}
