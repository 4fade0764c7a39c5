//! A function's configuration: the CreateFunction request, its validation, and the
//! `FunctionConfiguration` every control-plane call returns.

use crate::error::DeployError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The runtime name of wasm functions: a WASI component built for `wasm32-wasip2`.
pub const WASM_RUNTIME: &str = "wasm32-wasip2";

/// Lambda's OS-only runtimes: the package's `bootstrap` is the runtime, run as a process.
pub const PROVIDED_RUNTIMES: &[&str] = &["provided.al2023", "provided.al2"];

/// Lambda's Python runtimes: the handler (`module.function`) runs under AWS's runtime
/// interface client (`python3 -m awslambdaric`) on the host's interpreter.
pub const PYTHON_RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
];

/// The handler of a process runtime when none is given: it is only passed on (`_HANDLER`).
pub const DEFAULT_PROVIDED_HANDLER: &str = "bootstrap";

/// The handler of a Python function when none is given (the Lambda console's).
pub const DEFAULT_PYTHON_HANDLER: &str = "lambda_function.lambda_handler";

/// Which backend, and so which kind of code, a runtime needs.
pub fn code_kind(runtime: &str) -> crate::code::CodeKind {
    if runtime == WASM_RUNTIME {
        crate::code::CodeKind::Component
    } else if PYTHON_RUNTIMES.contains(&runtime) {
        crate::code::CodeKind::Source
    } else {
        crate::code::CodeKind::Tree
    }
}

/// `AWS_EXECUTION_ENV` for a runtime (none for Lambda's provided runtimes).
pub fn execution_env(runtime: &str) -> Option<String> {
    if runtime == WASM_RUNTIME {
        Some("hearth_wasm32-wasip2".into())
    } else if PROVIDED_RUNTIMES.contains(&runtime) {
        None
    } else {
        Some(format!("AWS_Lambda_{runtime}"))
    }
}
/// Default `Handler` for wasm functions: the component's path inside the zip.
pub const DEFAULT_WASM_HANDLER: &str = "function.wasm";
/// Lambda's default Timeout, seconds.
pub const DEFAULT_TIMEOUT_S: u32 = 3;
/// Lambda's Timeout range, seconds.
pub const TIMEOUT_RANGE_S: std::ops::RangeInclusive<u32> = 1..=900;
/// Lambda's default MemorySize, MB.
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// Lambda's MemorySize range, MB.
pub const MEMORY_RANGE_MB: std::ops::RangeInclusive<u32> = 128..=10_240;
/// Lambda's `/tmp` size range, MB (default 512).
pub const EPHEMERAL_RANGE_MB: std::ops::RangeInclusive<u32> = 512..=10_240;
/// Lambda's limit on the serialized environment variables: 4 KB.
pub const MAX_ENVIRONMENT_BYTES: usize = 4 * 1024;
/// Lambda's FunctionName limit (plain names).
pub const MAX_FUNCTION_NAME_LEN: usize = 64;

/// `Environment` of a request or a configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// `EphemeralStorage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorage {
    pub size: u32,
}

/// `SnapStart` of CreateFunction and UpdateFunctionConfiguration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStart {
    #[serde(default)]
    pub apply_on: Option<String>,
}

/// `SnapStart` as Lambda reports it: `ApplyOn` as configured, and `OptimizationStatus`
/// `On` only for a published version started from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStartResponse {
    pub apply_on: String,
    pub optimization_status: String,
}

impl Default for SnapStartResponse {
    fn default() -> Self {
        Self {
            apply_on: SNAP_START_NONE.into(),
            optimization_status: "Off".into(),
        }
    }
}

impl SnapStartResponse {
    /// Whether published versions are snapshotted.
    pub fn applies(&self) -> bool {
        self.apply_on == SNAP_START_PUBLISHED
    }
}

/// `SnapStart.ApplyOn`: snapshot every published version.
pub const SNAP_START_PUBLISHED: &str = "PublishedVersions";
/// `SnapStart.ApplyOn`: no snapshots.
pub const SNAP_START_NONE: &str = "None";

/// `Code` of CreateFunction: the deployment package, base64 in JSON.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCode {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "ImageUri")]
    pub image_uri: Option<String>,
}

/// The CreateFunction request body. Unknown fields are ignored rather than refused: the AWS
/// CLI and SDKs send optional members hearth does not model (VpcConfig, TracingConfig, …).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunction {
    pub function_name: String,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub code: FunctionCode,
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default)]
    pub handler: Option<String>,
    /// Signed, so a negative value is a range error rather than unparseable JSON.
    #[serde(default)]
    pub timeout: Option<i64>,
    #[serde(default)]
    pub memory_size: Option<i64>,
    #[serde(default)]
    pub ephemeral_storage: Option<EphemeralStorage>,
    #[serde(default)]
    pub environment: Option<Environment>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub package_type: Option<String>,
    /// Publish version 1 right away.
    #[serde(default)]
    pub publish: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(default)]
    pub snap_start: Option<SnapStart>,
}

/// `DeadLetterConfig`: where an `Event` invocation goes when every attempt failed and no
/// OnFailure destination is set (an SQS queue's ARN; an empty or absent `TargetArn` clears it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_arn: Option<String>,
}

/// The UpdateFunctionConfiguration request body: only the members present change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateConfiguration {
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<Environment>,
    pub runtime: Option<String>,
    pub ephemeral_storage: Option<EphemeralStorage>,
    pub revision_id: Option<String>,
    pub dead_letter_config: Option<DeadLetterConfig>,
    pub snap_start: Option<SnapStart>,
}

impl UpdateConfiguration {
    /// The function as it would be after this update, as a CreateFunction to validate.
    pub fn merged(&self, current: &FunctionConfiguration) -> CreateFunction {
        CreateFunction {
            function_name: current.function_name.clone(),
            role: Some(self.role.clone().unwrap_or_else(|| current.role.clone())),
            code: FunctionCode::default(),
            runtime: Some(
                self.runtime
                    .clone()
                    .unwrap_or_else(|| current.runtime.clone()),
            ),
            handler: Some(
                self.handler
                    .clone()
                    .unwrap_or_else(|| current.handler.clone()),
            ),
            timeout: Some(self.timeout.unwrap_or(i64::from(current.timeout))),
            memory_size: Some(self.memory_size.unwrap_or(i64::from(current.memory_size))),
            ephemeral_storage: Some(self.ephemeral_storage.unwrap_or(current.ephemeral_storage)),
            environment: Some(
                self.environment
                    .clone()
                    .unwrap_or_else(|| current.environment.clone()),
            ),
            description: Some(
                self.description
                    .clone()
                    .unwrap_or_else(|| current.description.clone()),
            ),
            architectures: Some(current.architectures.clone()),
            package_type: None,
            publish: false,
            tags: BTreeMap::new(),
            dead_letter_config: self
                .dead_letter_config
                .clone()
                .or_else(|| current.dead_letter_config.clone()),
            snap_start: Some(self.snap_start.clone().unwrap_or_else(|| SnapStart {
                apply_on: Some(current.snap_start.apply_on.clone()),
            })),
        }
    }
}

/// The UpdateFunctionCode request body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateCode {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    pub image_uri: Option<String>,
    #[serde(default)]
    pub publish: bool,
    #[serde(default)]
    pub dry_run: bool,
    pub revision_id: Option<String>,
    pub architectures: Option<Vec<String>>,
}

/// Lambda's `FunctionConfiguration`, as every control-plane call returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfiguration {
    pub function_name: String,
    pub function_arn: String,
    pub runtime: String,
    pub role: String,
    pub handler: String,
    pub code_size: u64,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub last_modified: String,
    pub code_sha256: String,
    pub version: String,
    pub environment: Environment,
    pub state: String,
    pub last_update_status: String,
    pub revision_id: String,
    pub package_type: String,
    pub architectures: Vec<String>,
    pub ephemeral_storage: EphemeralStorage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// Why the version is `Pending` or `Failed` (its snapshot being taken, or its INIT
    /// having failed while it was taken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason_code: Option<String>,
    #[serde(default)]
    pub snap_start: SnapStartResponse,
}

/// One constraint failure, in the words AWS's request validation uses
/// (`ValidationException`).
fn constraint(value: impl std::fmt::Display, field: &str, rule: &str) -> DeployError {
    DeployError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"
    ))
}

/// Checks a plain function name: 1–64 of `[A-Za-z0-9_-]`.
pub fn validate_name(name: &str) -> Result<(), DeployError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_FUNCTION_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(constraint(
            name,
            "functionName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]{1,64}",
        ))
    }
}

/// The validated settings of a CreateFunction request (everything but the code).
#[derive(Debug, Clone)]
pub struct ValidSettings {
    pub runtime: String,
    pub handler: String,
    pub timeout_s: u32,
    pub memory_mb: u32,
    pub ephemeral_mb: u32,
    pub environment: Environment,
    pub role: String,
    pub description: String,
    pub architectures: Vec<String>,
    /// `DeadLetterConfig.TargetArn`, an SQS queue's ARN.
    pub dead_letter_target: Option<String>,
    /// `SnapStart.ApplyOn`.
    pub snap_start: String,
}

impl CreateFunction {
    /// Validates every field against Lambda's rules, naming the field and the range.
    pub fn validate(&self) -> Result<ValidSettings, DeployError> {
        validate_name(&self.function_name)?;
        let runtime = self
            .runtime
            .clone()
            .unwrap_or_else(|| WASM_RUNTIME.to_owned());
        if runtime != WASM_RUNTIME
            && !PROVIDED_RUNTIMES.contains(&runtime.as_str())
            && !PYTHON_RUNTIMES.contains(&runtime.as_str())
        {
            return Err(DeployError::InvalidParameter(format!(
                "The runtime parameter of {runtime} is not supported by hearth yet. Supported: {WASM_RUNTIME}, {}, {}.",
                PROVIDED_RUNTIMES.join(", "),
                PYTHON_RUNTIMES.join(", ")
            )));
        }
        if let Some(p) = &self.package_type
            && p != "Zip"
        {
            return Err(DeployError::InvalidParameter(format!(
                "PackageType {p} is not supported: only Zip."
            )));
        }
        let timeout = self.timeout.unwrap_or(i64::from(DEFAULT_TIMEOUT_S));
        let Some(timeout_s) = u32::try_from(timeout)
            .ok()
            .filter(|t| TIMEOUT_RANGE_S.contains(t))
        else {
            let timeout_s = timeout;
            return Err(constraint(
                timeout_s,
                "timeout",
                if timeout_s < 1 {
                    "Member must have value greater than or equal to 1"
                } else {
                    "Member must have value less than or equal to 900"
                },
            ));
        };
        let memory = self.memory_size.unwrap_or(i64::from(DEFAULT_MEMORY_MB));
        let Some(memory_mb) = u32::try_from(memory)
            .ok()
            .filter(|m| MEMORY_RANGE_MB.contains(m))
        else {
            let memory_mb = memory;
            return Err(constraint(
                memory_mb,
                "memorySize",
                if memory_mb < 128 {
                    "Member must have value greater than or equal to 128"
                } else {
                    "Member must have value less than or equal to 10240"
                },
            ));
        };
        if runtime == WASM_RUNTIME && u64::from(memory_mb) > hearth_sandbox::WASM32_MAX_MEMORY_MB {
            return Err(DeployError::InvalidParameter(format!(
                "MemorySize {memory_mb} MB is more than a {WASM_RUNTIME} function can address ({} MB): wasm32 linear memory ends at 4 GiB.",
                hearth_sandbox::WASM32_MAX_MEMORY_MB
            )));
        }
        let ephemeral_mb = self.ephemeral_storage.map_or(512, |e| e.size);
        if !EPHEMERAL_RANGE_MB.contains(&ephemeral_mb) {
            return Err(constraint(
                ephemeral_mb,
                "ephemeralStorage.size",
                "Member must have value between 512 and 10240",
            ));
        }
        let environment = self.environment.clone().unwrap_or_default();
        validate_environment(&environment)?;
        let handler = self.handler.clone().unwrap_or_else(|| {
            if runtime == WASM_RUNTIME {
                DEFAULT_WASM_HANDLER
            } else if PYTHON_RUNTIMES.contains(&runtime.as_str()) {
                DEFAULT_PYTHON_HANDLER
            } else {
                DEFAULT_PROVIDED_HANDLER
            }
            .to_owned()
        });
        if handler.is_empty() || handler.len() > 128 {
            return Err(constraint(
                &handler,
                "handler",
                "Member must have length between 1 and 128",
            ));
        }
        let architectures = self
            .architectures
            .clone()
            .unwrap_or_else(|| vec!["x86_64".to_owned()]);
        if architectures.len() != 1 || !matches!(architectures[0].as_str(), "x86_64" | "arm64") {
            return Err(constraint(
                format!("{architectures:?}"),
                "architectures",
                "Member must have length 1 and be one of [x86_64, arm64]",
            ));
        }
        let description = self.description.clone().unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(constraint(
                &description,
                "description",
                "Member must have length less than or equal to 256",
            ));
        }
        if let Some(role) = &self.role
            && !is_role_arn(role)
        {
            return Err(constraint(
                role,
                "role",
                "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
            ));
        }
        validate_tags(&self.tags, 0)?;
        let dead_letter_target = self
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.target_arn.clone())
            .filter(|arn| !arn.is_empty());
        if let Some(arn) = &dead_letter_target
            && hearth_queue::config::arn_queue_name(arn).is_none()
        {
            return Err(DeployError::InvalidParameter(format!(
                "The DeadLetterConfig target {arn} is not supported: hearth delivers dead letters to SQS queues (arn:aws:sqs:REGION:ACCOUNT:NAME)"
            )));
        }
        let snap_start = self.validate_snap_start(&runtime, ephemeral_mb)?;
        Ok(ValidSettings {
            snap_start,
            runtime,
            handler,
            timeout_s,
            memory_mb,
            ephemeral_mb,
            environment,
            role: self.role.clone().unwrap_or_default(),
            description,
            architectures,
            dead_letter_target,
        })
    }
}

impl CreateFunction {
    /// `SnapStart.ApplyOn`: one of Lambda's two values, and `PublishedVersions` only where
    /// hearth can snapshot (wasm components) and Lambda would (`/tmp` of 512 MB).
    fn validate_snap_start(&self, runtime: &str, ephemeral_mb: u32) -> Result<String, DeployError> {
        let apply_on = self
            .snap_start
            .as_ref()
            .and_then(|s| s.apply_on.clone())
            .unwrap_or_else(|| SNAP_START_NONE.to_owned());
        if apply_on != SNAP_START_PUBLISHED && apply_on != SNAP_START_NONE {
            return Err(constraint(
                &apply_on,
                "snapStart.applyOn",
                "Member must satisfy enum value set: [PublishedVersions, None]",
            ));
        }
        if apply_on == SNAP_START_PUBLISHED {
            if runtime != WASM_RUNTIME {
                return Err(DeployError::InvalidParameter(format!(
                    "{runtime} is not supported for SnapStart enabled functions. hearth snapshots {WASM_RUNTIME} components only: a process sandbox cannot be checkpointed on this host (CRIU needs privileges hearth does not take)."
                )));
            }
            if ephemeral_mb > 512 {
                return Err(DeployError::InvalidParameter(
                    "SnapStart is not supported for functions with EphemeralStorage greater than 512 MB.".into(),
                ));
            }
        }
        Ok(apply_on)
    }
}

/// Lambda's limit on `Description`.
pub const MAX_DESCRIPTION_CHARS: usize = 256;

/// Lambda's tag limits: 50 per function, keys 1–128 characters (not `aws:`), values ≤ 256.
pub const MAX_TAGS: usize = 50;

/// Whether `role` has the form of an IAM role ARN, as Lambda's pattern
/// `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+` requires.
pub fn is_role_arn(role: &str) -> bool {
    let Some(rest) = role.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    let partition_ok = partition.is_empty()
        || (partition.starts_with("aws")
            && partition[3..]
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'-'));
    let Some(rest) = rest.strip_prefix("iam::") else {
        return false;
    };
    let Some((account, rest)) = rest.split_once(':') else {
        return false;
    };
    let Some(name) = rest.strip_prefix("role") else {
        return false;
    };
    let name = name.strip_prefix('/').unwrap_or(name);
    partition_ok
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-/".contains(&b))
}

/// Refuses tags Lambda refuses; `existing` tags already on the function count to the 50.
pub fn validate_tags(tags: &BTreeMap<String, String>, existing: usize) -> Result<(), DeployError> {
    for (k, v) in tags {
        if k.is_empty()
            || k.chars().count() > 128
            || v.chars().count() > 256
            || k.starts_with("aws:")
        {
            return Err(DeployError::InvalidParameter(format!(
                "Tag keys must be 1-128 characters and not start with aws:, values at most 256 characters: {k}"
            )));
        }
    }
    if existing + tags.len() > MAX_TAGS {
        return Err(DeployError::InvalidParameter(format!(
            "A function can have at most {MAX_TAGS} tags"
        )));
    }
    Ok(())
}

/// Lambda's 4 KB limit on the environment, measured on its JSON form; names must be valid
/// identifiers and may not shadow the reserved runtime variables.
pub fn validate_environment(env: &Environment) -> Result<(), DeployError> {
    let json = serde_json::to_string(&env.variables).unwrap_or_default();
    if json.len() > MAX_ENVIRONMENT_BYTES {
        return Err(DeployError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {json}"
        )));
    }
    for key in env.variables.keys() {
        let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(constraint(
                key,
                "environment.variables",
                "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+",
            ));
        }
        if RESERVED_ENVIRONMENT.contains(&key.as_str()) {
            return Err(DeployError::InvalidParameter(format!(
                "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {key}"
            )));
        }
    }
    Ok(())
}

/// Variables the runtime sets and a function may not override (Lambda's reserved list).
pub const RESERVED_ENVIRONMENT: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// `2024-01-31T12:00:00.000+0000`, Lambda's LastModified format, for now.
pub fn last_modified_now() -> String {
    const LAST_MODIFIED: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
    );
    time::OffsetDateTime::now_utc()
        .format(LAST_MODIFIED)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_arns_descriptions_and_tags_are_checked_as_lambda_does() {
        for ok in [
            "arn:aws:iam::000000000000:role/hearth",
            "arn:aws-cn:iam::123456789012:role/service-role/my.role@x",
            "arn:aws:iam::123456789012:role/a_b+c=d,e",
        ] {
            assert!(super::is_role_arn(ok), "{ok}");
        }
        for bad in [
            "",
            "role",
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
            "arn:gcp:iam::123456789012:role/x",
            "arn:aws:iam::123456789012:role/sp ace",
        ] {
            assert!(!super::is_role_arn(bad), "{bad}");
        }
        let tags = |n: usize| -> BTreeMap<String, String> {
            (0..n).map(|i| (format!("k{i}"), "v".to_owned())).collect()
        };
        assert!(super::validate_tags(&tags(50), 0).is_ok());
        assert!(super::validate_tags(&tags(51), 0).is_err());
        assert!(super::validate_tags(&tags(1), 50).is_err());
        let long_key: BTreeMap<_, _> = [("k".repeat(129), String::new())].into();
        assert!(super::validate_tags(&long_key, 0).is_err());
        let long_value: BTreeMap<_, _> = [("k".to_owned(), "v".repeat(257))].into();
        assert!(super::validate_tags(&long_value, 0).is_err());
        let aws: BTreeMap<_, _> = [("aws:x".to_owned(), String::new())].into();
        assert!(super::validate_tags(&aws, 0).is_err());
    }

    use super::*;

    fn request() -> CreateFunction {
        CreateFunction {
            function_name: "echo".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_lambdas() {
        let s = request().validate().expect("valid");
        assert_eq!((s.timeout_s, s.memory_mb, s.ephemeral_mb), (3, 128, 512));
        assert_eq!(s.handler, "function.wasm");
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        let mut r = request();
        r.timeout = Some(901);
        let e = r.validate().expect_err("timeout").to_string();
        assert!(e.contains("'timeout'") && e.contains("900"), "{e}");
        let mut r = request();
        r.memory_size = Some(64);
        assert!(
            r.validate()
                .expect_err("memory")
                .to_string()
                .contains("memorySize")
        );
        let mut r = request();
        r.memory_size = Some(8192);
        assert!(matches!(
            r.validate(),
            Err(DeployError::InvalidParameter(_))
        ));
        let mut r = request();
        r.function_name = "bad name".into();
        assert!(r.validate().is_err());
        let mut r = request();
        r.runtime = Some("nodejs22.x".into());
        assert!(matches!(
            r.validate(),
            Err(DeployError::InvalidParameter(_))
        ));
        // Process runtimes take MemorySize past what wasm32 addresses, wasm does not.
        for (runtime, handler) in [
            ("provided.al2023", "bootstrap"),
            ("python3.12", "lambda_function.lambda_handler"),
        ] {
            let mut r = request();
            r.runtime = Some(runtime.into());
            r.handler = None;
            r.memory_size = Some(10_240);
            let valid = r.validate().expect(runtime);
            assert_eq!(valid.handler, handler, "the default handler of {runtime}");
        }
        let mut r = request();
        r.memory_size = Some(10_240);
        assert!(matches!(
            r.validate(),
            Err(DeployError::InvalidParameter(_))
        ));
    }

    #[test]
    fn snap_start_is_checked_as_lambda_checks_it() {
        let snap = |apply_on: &str| {
            Some(SnapStart {
                apply_on: Some(apply_on.into()),
            })
        };
        assert_eq!(request().validate().expect("default").snap_start, "None");
        let mut r = request();
        r.snap_start = snap("PublishedVersions");
        assert_eq!(r.validate().expect("wasm").snap_start, "PublishedVersions");
        let mut r = request();
        r.snap_start = snap("Always");
        let e = r.validate().expect_err("enum").to_string();
        assert!(e.contains("snapStart.applyOn"), "{e}");
        // Process sandboxes cannot be checkpointed here; /tmp over 512 MB is refused as on
        // Lambda.
        let mut r = request();
        r.snap_start = snap("PublishedVersions");
        r.runtime = Some("provided.al2023".into());
        r.handler = None;
        assert!(matches!(
            r.validate(),
            Err(DeployError::InvalidParameter(_))
        ));
        let mut r = request();
        r.snap_start = snap("PublishedVersions");
        r.ephemeral_storage = Some(EphemeralStorage { size: 513 });
        assert!(matches!(
            r.validate(),
            Err(DeployError::InvalidParameter(_))
        ));
        // An update keeps the current ApplyOn unless it names one.
        let mut current = FunctionConfiguration {
            function_name: "echo".into(),
            function_arn: String::new(),
            runtime: WASM_RUNTIME.into(),
            role: "arn:aws:iam::000000000000:role/hearth".into(),
            handler: DEFAULT_WASM_HANDLER.into(),
            code_size: 0,
            description: String::new(),
            timeout: 3,
            memory_size: 128,
            last_modified: String::new(),
            code_sha256: String::new(),
            version: "$LATEST".into(),
            environment: Environment::default(),
            state: "Active".into(),
            last_update_status: "Successful".into(),
            revision_id: String::new(),
            package_type: "Zip".into(),
            architectures: vec!["x86_64".into()],
            ephemeral_storage: EphemeralStorage { size: 512 },
            dead_letter_config: None,
            state_reason: None,
            state_reason_code: None,
            snap_start: SnapStartResponse::default(),
        };
        current.snap_start.apply_on = SNAP_START_PUBLISHED.into();
        let merged = UpdateConfiguration::default().merged(&current);
        assert_eq!(
            merged.validate().expect("kept").snap_start,
            SNAP_START_PUBLISHED
        );
        let bigger = UpdateConfiguration {
            ephemeral_storage: Some(EphemeralStorage { size: 1024 }),
            ..Default::default()
        };
        assert!(bigger.merged(&current).validate().is_err());
    }

    #[test]
    fn environment_limit_and_reserved_keys() {
        let mut env = Environment::default();
        env.variables.insert("BIG".into(), "x".repeat(5000));
        assert!(validate_environment(&env).is_err());
        let mut env = Environment::default();
        env.variables.insert("AWS_REGION".into(), "x".into());
        assert!(validate_environment(&env).is_err());
        let mut env = Environment::default();
        env.variables.insert("GREETING".into(), "hi".into());
        assert!(validate_environment(&env).is_ok());
    }

    #[test]
    fn last_modified_has_lambdas_format() {
        let s = last_modified_now();
        assert_eq!(s.len(), "2024-01-31T12:00:00.000+0000".len());
        assert!(s.ends_with("+0000") && s.as_bytes()[10] == b'T');
    }
}
