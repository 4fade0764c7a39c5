//! What is persisted: the serde records of functions and queued events. Field names follow
//! Lambda's API shapes where the record is also what the API returns.

use crate::function::FunctionConfiguration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything about one function that must survive a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub name: String,
    /// `$LATEST`.
    pub latest: VersionRecord,
    /// Published versions by number.
    #[serde(default)]
    pub versions: BTreeMap<u64, VersionRecord>,
    /// The number the next PublishVersion gets (versions are never reused).
    #[serde(default = "one")]
    pub next_version: u64,
    #[serde(default)]
    pub aliases: BTreeMap<String, AliasConfiguration>,
    /// PutFunctionConcurrency.
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// PutFunctionEventInvokeConfig, by qualifier (`$LATEST`, a version or an alias).
    #[serde(default)]
    pub event_invoke_configs: BTreeMap<String, EventInvokeConfig>,
    /// PutProvisionedConcurrencyConfig, by qualifier (a version or an alias).
    #[serde(default)]
    pub provisioned: BTreeMap<String, ProvisionedConfig>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn one() -> u64 {
    1
}

/// One version's configuration and the hash of its code (`code/<hash>.wasm` for a component,
/// `code/<hash>.zip` for a process runtime's package).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionRecord {
    pub config: FunctionConfiguration,
    /// Records written before process runtimes named this `wasm_sha256`.
    #[serde(alias = "wasm_sha256")]
    pub code_hash: String,
    /// SnapStart: the hash of the snapshot-initialised component (`code/<hash>.wasm`) every
    /// sandbox of this version starts from, once it has been taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

/// Lambda's `AliasConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasConfiguration {
    pub alias_arn: String,
    pub name: String,
    pub function_version: String,
    #[serde(default)]
    pub description: String,
    pub revision_id: String,
}

/// `OnSuccess` / `OnFailure` of a `DestinationConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Destination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// Lambda's `DestinationConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<Destination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<Destination>,
}

/// Lambda's `FunctionEventInvokeConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfig {
    /// Epoch seconds (the API's `timestamp` type).
    pub last_modified: f64,
    pub function_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    #[serde(default)]
    pub destination_config: DestinationConfig,
}

/// PutProvisionedConcurrencyConfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionedConfig {
    pub requested: u32,
    pub last_modified: String,
}

/// An accepted `Event` invocation that has not finished.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedEvent {
    pub request_id: String,
    pub function: String,
    #[serde(default)]
    pub qualifier: Option<String>,
    #[serde(with = "base64_bytes")]
    pub payload: Vec<u8>,
    /// Wall clock, so the event's age survives a restart.
    pub accepted_unix_ms: u64,
    /// Invocations that already ran (and failed).
    pub attempts: u32,
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// Milliseconds since the epoch, now.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
