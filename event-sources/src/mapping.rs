//! An event source mapping: what the API takes, what is stored, what is answered, and the
//! validation Lambda applies to SQS sources.

use crate::filter::Pattern;
use hearth_scheduler::DeployError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    pub pattern: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct FilterCriteria {
    #[serde(default)]
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
}

/// `CreateEventSourceMapping` / `UpdateEventSourceMapping` bodies (the fields hearth knows;
/// stream-only fields are refused for queues).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappingRequest {
    pub event_source_arn: Option<String>,
    pub function_name: Option<String>,
    pub enabled: Option<bool>,
    pub batch_size: Option<i64>,
    pub maximum_batching_window_in_seconds: Option<i64>,
    pub filter_criteria: Option<FilterCriteria>,
    pub function_response_types: Option<Vec<String>>,
    pub scaling_config: Option<ScalingConfig>,
    pub starting_position: Option<String>,
    pub starting_position_timestamp: Option<Value>,
    pub parallelization_factor: Option<i64>,
    pub bisect_batch_on_function_error: Option<bool>,
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_record_age_in_seconds: Option<i64>,
    pub tumbling_window_in_seconds: Option<i64>,
    pub destination_config: Option<Value>,
}

/// A mapping as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mapping {
    #[serde(rename = "UUID")]
    pub uuid: String,
    pub event_source_arn: String,
    /// The function's name and qualifier as the mapping invokes it.
    pub function_name: String,
    pub qualifier: Option<String>,
    pub function_arn: String,
    pub enabled: bool,
    pub batch_size: u32,
    pub maximum_batching_window_in_seconds: u32,
    pub filter_criteria: Option<FilterCriteria>,
    pub function_response_types: Vec<String>,
    pub scaling_config: Option<ScalingConfig>,
    /// Epoch seconds.
    pub last_modified: f64,
    pub region: String,
    pub account: String,
    /// Stream sources only, from here on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_position: Option<String>,
    /// Epoch seconds, with `AT_TIMESTAMP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_position_timestamp: Option<f64>,
    #[serde(default = "one")]
    pub parallelization_factor: u32,
    #[serde(default)]
    pub bisect_batch_on_function_error: bool,
    /// -1: until the record expires.
    #[serde(default = "minus_one")]
    pub maximum_retry_attempts: i64,
    /// -1: the stream's retention.
    #[serde(default = "minus_one")]
    pub maximum_record_age_in_seconds: i64,
    #[serde(default)]
    pub tumbling_window_in_seconds: u32,
    /// `DestinationConfig.OnFailure.Destination` (an SQS queue's ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
}

fn one() -> u32 {
    1
}

fn minus_one() -> i64 {
    -1
}

/// What a mapping reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Queue { fifo: bool },
    Stream,
}

/// What the source of `arn` is, by its service.
pub fn source_kind(arn: &str) -> Option<&'static str> {
    if arn.starts_with("arn:aws:sqs:") {
        Some("sqs")
    } else if arn.starts_with("arn:aws:kinesis:") {
        Some("kinesis")
    } else if arn.starts_with("arn:aws:dynamodb:") && arn.contains("/stream/") {
        Some("dynamodb")
    } else {
        None
    }
}

fn invalid(message: impl Into<String>) -> DeployError {
    DeployError::InvalidParameter(message.into())
}

impl Mapping {
    pub fn report_batch_item_failures(&self) -> bool {
        self.function_response_types
            .iter()
            .any(|t| t == "ReportBatchItemFailures")
    }

    /// The parsed filter patterns.
    pub fn patterns(&self) -> Vec<Pattern> {
        self.filter_criteria
            .iter()
            .flat_map(|c| &c.filters)
            .filter_map(|f| Pattern::parse(&f.pattern).ok())
            .collect()
    }

    pub fn maximum_concurrency(&self) -> Option<u32> {
        self.scaling_config
            .as_ref()
            .and_then(|s| s.maximum_concurrency)
    }

    pub fn is_stream(&self) -> bool {
        matches!(
            source_kind(&self.event_source_arn),
            Some("kinesis" | "dynamodb")
        )
    }

    /// Applies a request's fields to a mapping of `source`; `creating` says whether this is
    /// the mapping's creation (only then may a stream's starting position be set).
    pub fn apply(
        &mut self,
        request: &MappingRequest,
        source: Source,
        creating: bool,
    ) -> Result<(), DeployError> {
        match source {
            Source::Queue { fifo } => self.apply_queue(request, fifo),
            Source::Stream => self.apply_stream(request, creating),
        }
    }

    fn apply_stream(
        &mut self,
        request: &MappingRequest,
        creating: bool,
    ) -> Result<(), DeployError> {
        if request.scaling_config.is_some() {
            return Err(invalid(
                "Unsupported ScalingConfig parameter for given event source.",
            ));
        }
        self.apply_common(request)?;
        if request.starting_position.is_some() || request.starting_position_timestamp.is_some() {
            if !creating {
                return Err(invalid(
                    "StartingPosition cannot be changed: create a new event source mapping.",
                ));
            }
            let position = request.starting_position.as_deref().unwrap_or_default();
            if !matches!(position, "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP") {
                return Err(DeployError::Validation(format!(
                    "1 validation error detected: Value '{position}' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]"
                )));
            }
            let timestamp = match &request.starting_position_timestamp {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_f64().ok_or_else(|| {
                    invalid(
                        "StartingPositionTimestamp must be a number of seconds since the epoch.",
                    )
                })?),
            };
            if position == "AT_TIMESTAMP" && source_kind(&self.event_source_arn) == Some("dynamodb")
            {
                return Err(invalid(
                    "Unsupported starting position for a DynamoDB stream: AT_TIMESTAMP",
                ));
            }
            match (position, timestamp) {
                ("AT_TIMESTAMP", None) => {
                    return Err(invalid(
                        "StartingPositionTimestamp must be provided with StartingPosition AT_TIMESTAMP.",
                    ));
                }
                ("AT_TIMESTAMP", Some(t)) if t > self.last_modified + 1.0 => {
                    return Err(invalid(
                        "StartingPositionTimestamp cannot be in the future.",
                    ));
                }
                ("AT_TIMESTAMP", _) => {}
                (_, Some(_)) => {
                    return Err(invalid(
                        "StartingPositionTimestamp is only valid with StartingPosition AT_TIMESTAMP.",
                    ));
                }
                _ => {}
            }
            self.starting_position = Some(position.to_owned());
            self.starting_position_timestamp = timestamp;
        }
        if self.starting_position.is_none() {
            return Err(invalid(
                "StartingPosition is required for a stream event source.",
            ));
        }
        let range = |name: &str, value: i64, low: i64, high: i64| {
            if (low..=high).contains(&value) {
                Ok(value)
            } else {
                Err(DeployError::Validation(format!(
                    "1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: Member must have value between {low} and {high}"
                )))
            }
        };
        if let Some(n) = request.parallelization_factor {
            self.parallelization_factor = range("parallelizationFactor", n, 1, 10)? as u32;
        }
        if let Some(b) = request.bisect_batch_on_function_error {
            self.bisect_batch_on_function_error = b;
        }
        if let Some(n) = request.maximum_retry_attempts {
            self.maximum_retry_attempts = range("maximumRetryAttempts", n, -1, 10_000)?;
        }
        if let Some(n) = request.maximum_record_age_in_seconds {
            if n != -1 {
                range("maximumRecordAgeInSeconds", n, 60, 604_800)?;
            }
            self.maximum_record_age_in_seconds = n;
        }
        if let Some(n) = request.tumbling_window_in_seconds {
            self.tumbling_window_in_seconds = range("tumblingWindowInSeconds", n, 0, 900)? as u32;
        }
        if let Some(config) = &request.destination_config {
            let destination = config
                .get("OnFailure")
                .and_then(|f| f.get("Destination"))
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty());
            match destination {
                Some(arn) if arn.starts_with("arn:aws:sqs:") => {
                    self.on_failure = Some(arn.to_owned());
                }
                Some(arn) => {
                    return Err(invalid(format!(
                        "Unsupported OnFailure destination {arn}: hearth's stream mappings send failure records to SQS queues."
                    )));
                }
                None => self.on_failure = None,
            }
        }
        Ok(())
    }

    /// The fields SQS and stream sources share.
    fn apply_common(&mut self, request: &MappingRequest) -> Result<(), DeployError> {
        if let Some(enabled) = request.enabled {
            self.enabled = enabled;
        }
        if let Some(size) = request.batch_size {
            if !(1..=10_000).contains(&size) {
                return Err(DeployError::Validation(format!(
                    "1 validation error detected: Value '{size}' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"
                )));
            }
            self.batch_size = size as u32;
        }
        if let Some(window) = request.maximum_batching_window_in_seconds {
            if !(0..=300).contains(&window) {
                return Err(DeployError::Validation(format!(
                    "1 validation error detected: Value '{window}' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300"
                )));
            }
            self.maximum_batching_window_in_seconds = window as u32;
        }
        if let Some(criteria) = &request.filter_criteria {
            if criteria.filters.len() > 5 {
                return Err(invalid(
                    "The maximum number of filters per event source mapping is 5.",
                ));
            }
            for filter in &criteria.filters {
                Pattern::parse(&filter.pattern).map_err(|e| invalid(e.to_string()))?;
            }
            self.filter_criteria = (!criteria.filters.is_empty()).then(|| criteria.clone());
        }
        if let Some(types) = &request.function_response_types {
            if let Some(bad) = types.iter().find(|t| *t != "ReportBatchItemFailures") {
                return Err(DeployError::Validation(format!(
                    "1 validation error detected: Value '[{bad}]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]"
                )));
            }
            self.function_response_types = types.clone();
        }
        Ok(())
    }

    fn apply_queue(&mut self, request: &MappingRequest, fifo: bool) -> Result<(), DeployError> {
        let stream_only = [
            ("StartingPosition", request.starting_position.is_some()),
            (
                "StartingPositionTimestamp",
                request.starting_position_timestamp.is_some(),
            ),
            (
                "ParallelizationFactor",
                request.parallelization_factor.is_some(),
            ),
            (
                "BisectBatchOnFunctionError",
                request.bisect_batch_on_function_error.is_some(),
            ),
            (
                "MaximumRetryAttempts",
                request.maximum_retry_attempts.is_some(),
            ),
            (
                "MaximumRecordAgeInSeconds",
                request.maximum_record_age_in_seconds.is_some(),
            ),
            (
                "TumblingWindowInSeconds",
                request.tumbling_window_in_seconds.is_some(),
            ),
            ("DestinationConfig", request.destination_config.is_some()),
        ];
        if let Some((name, _)) = stream_only.iter().find(|(_, given)| *given) {
            return Err(invalid(format!(
                "Unsupported {name} parameter for given event source."
            )));
        }
        self.apply_common(request)?;
        if let Some(scaling) = &request.scaling_config {
            if let Some(n) = scaling.maximum_concurrency
                && !(2..=1000).contains(&n)
            {
                return Err(DeployError::Validation(format!(
                    "1 validation error detected: Value '{n}' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value between 2 and 1000"
                )));
            }
            self.scaling_config = scaling
                .maximum_concurrency
                .is_some()
                .then(|| scaling.clone());
        }
        if fifo {
            if self.batch_size > 10 {
                return Err(invalid(
                    "Batch size for FIFO queues cannot be greater than 10.",
                ));
            }
            if self.maximum_batching_window_in_seconds > 0 {
                return Err(invalid("Batching window is not supported for FIFO queues."));
            }
        } else if self.batch_size > 10 && self.maximum_batching_window_in_seconds == 0 {
            return Err(invalid(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
            ));
        }
        Ok(())
    }

    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:event-source-mapping:{}",
            self.region, self.account, self.uuid
        )
    }

    /// The API's view, in `state`.
    pub fn view(&self, state: &str) -> Value {
        let mut out = json!({
            "UUID": self.uuid,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.maximum_batching_window_in_seconds,
            "EventSourceArn": self.event_source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "State": state,
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": self.function_response_types,
            "EventSourceMappingArn": self.arn(),
        });
        if let Some(criteria) = &self.filter_criteria {
            out["FilterCriteria"] = json!(criteria);
        }
        if let Some(scaling) = &self.scaling_config {
            out["ScalingConfig"] = json!(scaling);
        }
        if self.is_stream() {
            out["StateTransitionReason"] = json!("User action");
            out["StartingPosition"] = json!(self.starting_position);
            if let Some(t) = self.starting_position_timestamp {
                out["StartingPositionTimestamp"] = json!(t);
            }
            out["ParallelizationFactor"] = json!(self.parallelization_factor);
            out["BisectBatchOnFunctionError"] = json!(self.bisect_batch_on_function_error);
            out["MaximumRetryAttempts"] = json!(self.maximum_retry_attempts);
            out["MaximumRecordAgeInSeconds"] = json!(self.maximum_record_age_in_seconds);
            out["TumblingWindowInSeconds"] = json!(self.tumbling_window_in_seconds);
            out["DestinationConfig"] = match &self.on_failure {
                Some(arn) => json!({"OnFailure": {"Destination": arn}}),
                None => json!({"OnFailure": {}}),
            };
            out["LastProcessingResult"] = json!("No records processed");
        }
        out
    }

    /// `Enabled` or `Disabled`.
    pub fn steady_state(&self) -> &'static str {
        if self.enabled { "Enabled" } else { "Disabled" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Mapping {
        Mapping {
            uuid: "u".into(),
            event_source_arn: "arn:aws:sqs:us-east-1:1:q".into(),
            function_name: "f".into(),
            qualifier: None,
            function_arn: "arn:aws:lambda:us-east-1:1:function:f".into(),
            enabled: true,
            batch_size: 10,
            maximum_batching_window_in_seconds: 0,
            filter_criteria: None,
            function_response_types: Vec::new(),
            scaling_config: None,
            last_modified: 0.0,
            region: "us-east-1".into(),
            account: "1".into(),
            starting_position: None,
            starting_position_timestamp: None,
            parallelization_factor: 1,
            bisect_batch_on_function_error: false,
            maximum_retry_attempts: -1,
            maximum_record_age_in_seconds: -1,
            tumbling_window_in_seconds: 0,
            on_failure: None,
        }
    }

    fn apply(request: MappingRequest, fifo: bool) -> Result<Mapping, DeployError> {
        let mut m = base();
        m.apply(&request, Source::Queue { fifo }, true).map(|()| m)
    }

    fn stream(request: MappingRequest) -> Result<Mapping, DeployError> {
        let mut m = base();
        m.event_source_arn = "arn:aws:kinesis:us-east-1:1:stream/s".into();
        m.batch_size = 100;
        m.apply(&request, Source::Stream, true).map(|()| m)
    }

    #[test]
    fn lambdas_rules_for_stream_sources() {
        let latest = || MappingRequest {
            starting_position: Some("LATEST".into()),
            ..Default::default()
        };
        let m = stream(latest()).expect("LATEST");
        let view = m.view("Creating");
        assert_eq!(view["StateTransitionReason"], "User action");
        assert_eq!(view["MaximumRetryAttempts"], -1);
        assert_eq!(view["MaximumRecordAgeInSeconds"], -1);
        assert_eq!(view["LastProcessingResult"], "No records processed");
        assert!(
            stream(MappingRequest::default()).is_err(),
            "StartingPosition is required"
        );
        assert!(
            stream(MappingRequest {
                starting_position: Some("AT_TIMESTAMP".into()),
                ..Default::default()
            })
            .is_err(),
            "AT_TIMESTAMP needs its timestamp"
        );
        assert!(
            stream(MappingRequest {
                starting_position: Some("AT_TIMESTAMP".into()),
                starting_position_timestamp: Some(json!(4_000_000_000.0)),
                ..Default::default()
            })
            .is_err(),
            "not in the future"
        );
        let with = |f: fn(&mut MappingRequest)| {
            let mut r = latest();
            f(&mut r);
            stream(r)
        };
        assert!(with(|r| r.parallelization_factor = Some(11)).is_err());
        assert_eq!(
            with(|r| r.parallelization_factor = Some(10))
                .expect("10")
                .parallelization_factor,
            10
        );
        assert!(with(|r| r.maximum_record_age_in_seconds = Some(59)).is_err());
        assert!(with(|r| r.maximum_retry_attempts = Some(10_001)).is_err());
        assert!(
            with(|r| r.batch_size = Some(1000)).is_ok(),
            "no window needed"
        );
        assert!(
            with(|r| r.scaling_config = Some(ScalingConfig {
                maximum_concurrency: Some(2)
            }))
            .is_err()
        );
        assert!(
            with(|r| r.destination_config =
                Some(json!({"OnFailure": {"Destination": "arn:aws:sns:us-east-1:1:t"}})))
            .is_err()
        );
        let m = with(|r| {
            r.destination_config =
                Some(json!({"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:1:dlq"}}))
        })
        .expect("sqs destination");
        assert_eq!(m.on_failure.as_deref(), Some("arn:aws:sqs:us-east-1:1:dlq"));
        let mut m = stream(latest()).expect("created");
        assert!(
            m.apply(&latest(), Source::Stream, false).is_err(),
            "fixed once created"
        );
    }

    #[test]
    fn lambdas_rules_for_sqs_sources() {
        assert!(
            apply(
                MappingRequest {
                    batch_size: Some(100),
                    ..Default::default()
                },
                false
            )
            .is_err()
        );
        let windowed = MappingRequest {
            batch_size: Some(100),
            maximum_batching_window_in_seconds: Some(1),
            ..Default::default()
        };
        assert_eq!(apply(windowed.clone(), false).expect("ok").batch_size, 100);
        assert!(apply(windowed, true).is_err(), "FIFO takes at most 10");
        assert!(
            apply(
                MappingRequest {
                    maximum_batching_window_in_seconds: Some(1),
                    ..Default::default()
                },
                true
            )
            .is_err()
        );
        assert!(
            apply(
                MappingRequest {
                    batch_size: Some(10_001),
                    ..Default::default()
                },
                false
            )
            .is_err()
        );
        assert!(
            apply(
                MappingRequest {
                    batch_size: Some(0),
                    ..Default::default()
                },
                false
            )
            .is_err()
        );
        assert!(
            apply(
                MappingRequest {
                    starting_position: Some("LATEST".into()),
                    ..Default::default()
                },
                false
            )
            .is_err()
        );
        let scaling = |n| MappingRequest {
            scaling_config: Some(ScalingConfig {
                maximum_concurrency: Some(n),
            }),
            ..Default::default()
        };
        assert!(apply(scaling(1), false).is_err());
        assert!(apply(scaling(2), false).is_ok());
        let filters = |p: &str, n: usize| MappingRequest {
            filter_criteria: Some(FilterCriteria {
                filters: vec![Filter { pattern: p.into() }; n],
            }),
            ..Default::default()
        };
        assert!(apply(filters(r#"{"body":{"a":["b"]}}"#, 5), false).is_ok());
        assert!(apply(filters(r#"{"body":{"a":["b"]}}"#, 6), false).is_err());
        assert!(apply(filters("{", 1), false).is_err());
        let types = MappingRequest {
            function_response_types: Some(vec!["Nope".into()]),
            ..Default::default()
        };
        assert!(apply(types, false).is_err());
    }

    #[test]
    fn the_view_has_lambdas_fields() {
        let v = base().view("Creating");
        assert_eq!(v["State"], "Creating");
        assert_eq!(v["StateTransitionReason"], "USER_INITIATED");
        assert_eq!(
            v["EventSourceMappingArn"],
            "arn:aws:lambda:us-east-1:1:event-source-mapping:u"
        );
        assert!(v.get("FilterCriteria").is_none());
        assert!(v["LastModified"].is_number());
    }
}
