//! Asynchronous invocation settings: Put/Get/Update/DeleteFunctionEventInvokeConfig, and
//! the effective policy an `Event` invocation runs under.

use crate::error::DeployError;
use crate::record::{DestinationConfig, EventInvokeConfig};
use crate::registry::Scheduler;
use serde::Deserialize;
use std::time::Duration;

/// Lambda's defaults: 2 retries, events kept 6 hours.
pub const DEFAULT_MAX_RETRY_ATTEMPTS: u32 = 2;
pub const DEFAULT_MAX_EVENT_AGE_S: u32 = 21_600;

/// The Put/UpdateFunctionEventInvokeConfig request body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfigRequest {
    /// Signed, so a negative value is a range error rather than unparseable JSON.
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_in_seconds: Option<i64>,
    pub destination_config: Option<DestinationConfig>,
}

/// What an `Event` invocation of one qualifier runs under.
#[derive(Debug, Clone)]
pub struct AsyncPolicy {
    pub max_retry_attempts: u32,
    pub max_event_age: Duration,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
}

fn validate(request: &EventInvokeConfigRequest) -> Result<(), DeployError> {
    if let Some(n) = request.maximum_retry_attempts
        && !(0..=2).contains(&n)
    {
        let rule = if n < 0 {
            "Member must have value greater than or equal to 0"
        } else {
            "Member must have value less than or equal to 2"
        };
        return Err(DeployError::Validation(format!(
            "1 validation error detected: Value '{n}' at 'maximumRetryAttempts' failed to satisfy constraint: {rule}"
        )));
    }
    if let Some(n) = request.maximum_event_age_in_seconds
        && !(60..=21_600).contains(&n)
    {
        let rule = if n < 60 {
            "Member must have value greater than or equal to 60"
        } else {
            "Member must have value less than or equal to 21600"
        };
        return Err(DeployError::Validation(format!(
            "1 validation error detected: Value '{n}' at 'maximumEventAgeInSeconds' failed to satisfy constraint: {rule}"
        )));
    }
    if let Some(destinations) = &request.destination_config {
        for target in [&destinations.on_success, &destinations.on_failure]
            .into_iter()
            .flatten()
            .filter_map(|d| d.destination.as_deref())
        {
            let parts: Vec<&str> = target.split(':').collect();
            let is_function = parts.len() >= 7
                && parts[0] == "arn"
                && parts[2] == "lambda"
                && parts[5] == "function";
            let is_queue = hearth_queue::config::arn_queue_name(target).is_some();
            if !is_function && !is_queue {
                return Err(DeployError::InvalidParameter(format!(
                    "The destination ARN {target} is not supported: hearth delivers to Lambda functions and SQS queues"
                )));
            }
        }
    }
    Ok(())
}

impl Scheduler {
    fn qualifier_key(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<String, DeployError> {
        let q = qualifier.unwrap_or("$LATEST");
        self.resolve_entry(function, Some(q))?;
        Ok(q.to_owned())
    }

    /// PutFunctionEventInvokeConfig (`merge` false: replaces the whole config) and
    /// UpdateFunctionEventInvokeConfig (`merge` true: only the members present change).
    pub async fn put_event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
        request: EventInvokeConfigRequest,
        merge: bool,
    ) -> Result<EventInvokeConfig, DeployError> {
        validate(&request)?;
        let _control = self.inner.control.lock().await;
        let key = self.qualifier_key(function, qualifier)?;
        let mut record = self.record(function)?;
        let previous = record.event_invoke_configs.get(&key).cloned();
        let base = if merge { previous } else { None };
        let config = EventInvokeConfig {
            last_modified: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64(),
            function_arn: format!("{}:{key}", self.function_arn(function)),
            // Validated above: both fit in u32.
            maximum_retry_attempts: request
                .maximum_retry_attempts
                .map(|n| n as u32)
                .or(base.as_ref().and_then(|b| b.maximum_retry_attempts)),
            maximum_event_age_in_seconds: request
                .maximum_event_age_in_seconds
                .map(|n| n as u32)
                .or(base.as_ref().and_then(|b| b.maximum_event_age_in_seconds)),
            destination_config: request
                .destination_config
                .or(base.map(|b| b.destination_config))
                .unwrap_or_default(),
        };
        record.event_invoke_configs.insert(key, config.clone());
        self.store_record(record).await?;
        Ok(config)
    }

    /// GetFunctionEventInvokeConfig.
    pub fn get_event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<EventInvokeConfig, DeployError> {
        let key = self.qualifier_key(function, qualifier)?;
        self.record(function)?
            .event_invoke_configs
            .get(&key)
            .cloned()
            .ok_or_else(|| {
                DeployError::ResourceNotFound(format!(
                    "The function {}:{key} doesn't have an EventInvokeConfig",
                    self.function_arn(function)
                ))
            })
    }

    /// DeleteFunctionEventInvokeConfig.
    pub async fn delete_event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(), DeployError> {
        let _control = self.inner.control.lock().await;
        self.get_event_invoke_config(function, qualifier)?;
        let key = self.qualifier_key(function, qualifier)?;
        let mut record = self.record(function)?;
        record.event_invoke_configs.remove(&key);
        self.store_record(record).await
    }

    /// The policy for an `Event` invocation of `function` at `qualifier`.
    pub(crate) fn async_policy(&self, function: &str, qualifier: Option<&str>) -> AsyncPolicy {
        // Only the one config is copied, not the function's whole record: this runs per event.
        let config = self.read_functions().get(function).and_then(|state| {
            state
                .record
                .event_invoke_configs
                .get(qualifier.unwrap_or("$LATEST"))
                .cloned()
        });
        let destination =
            |d: &Option<crate::record::Destination>| d.as_ref().and_then(|d| d.destination.clone());
        AsyncPolicy {
            max_retry_attempts: config
                .as_ref()
                .and_then(|c| c.maximum_retry_attempts)
                .unwrap_or(DEFAULT_MAX_RETRY_ATTEMPTS),
            // The function's MaximumEventAgeInSeconds, else the scheduler's default (Lambda's
            // 6 h unless configured otherwise).
            max_event_age: config
                .as_ref()
                .and_then(|c| c.maximum_event_age_in_seconds)
                .map_or(self.inner.config.async_max_event_age, |s| {
                    Duration::from_secs(u64::from(s))
                }),
            on_success: config
                .as_ref()
                .and_then(|c| destination(&c.destination_config.on_success)),
            on_failure: config
                .as_ref()
                .and_then(|c| destination(&c.destination_config.on_failure)),
        }
    }
}
