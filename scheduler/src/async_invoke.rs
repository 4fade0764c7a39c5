//! Asynchronous (`Event`) invocation: the durable queue, Lambda's retry policy, and
//! delivery of the outcome to OnSuccess / OnFailure destinations.
//!
//! An accepted event is on disk ([`crate::event_queue`], synced by group commit) before the
//! 202 goes out, and leaves it only when it has ended (succeeded, failed for good, or been
//! dropped because its function was deleted). A crash or shutdown in between runs it again
//! after the next start: delivery is at least once, as on Lambda. One consumer receives the
//! queue's events and runs each in its own task.

use crate::error::InvokeError;
use crate::event_queue::{Delivery, QueueError};
use crate::invoke::{InvokeRequest, InvokeResponse, parse_function_ref};
use crate::record::{QueuedEvent, now_unix_ms};
use crate::registry::Scheduler;
use hearth_runtime_api::limits::MAX_ASYNC_PAYLOAD_BYTES;
use hearth_runtime_api::new_request_id;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Lambda retries a throttled `Event` invocation with exponential backoff from 1 s up to
/// 5 min, until the event reaches its maximum age.
const THROTTLE_BACKOFF_FIRST: Duration = Duration::from_secs(1);
const THROTTLE_BACKOFF_MAX: Duration = Duration::from_secs(300);

impl Scheduler {
    /// `Event`: queues the invocation durably and returns its request id. Once this
    /// returns, the invocation survives a crash of the server (a power cut included).
    pub async fn invoke_event(&self, request: InvokeRequest) -> Result<String, InvokeError> {
        if request.payload.len() > MAX_ASYNC_PAYLOAD_BYTES {
            return Err(InvokeError::PayloadTooLarge(format!(
                "{} byte payload is too large for the Event invocation type (limit {MAX_ASYNC_PAYLOAD_BYTES} bytes)",
                request.payload.len()
            )));
        }
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return Err(InvokeError::ShuttingDown);
        }
        let (name, in_ref) = parse_function_ref(&request.function);
        let qualifier = in_ref.or(request.qualifier.as_deref()).map(str::to_owned);
        let (entry, _) = self.resolve(&request.function, request.qualifier.as_deref())?;
        Self::check_active(&entry.config)?;
        let event = QueuedEvent {
            request_id: new_request_id(),
            function: entry.config.function_name.clone(),
            qualifier: qualifier.filter(|q| q != "$LATEST"),
            payload: request.payload,
            accepted_unix_ms: now_unix_ms(),
            attempts: 0,
        };
        debug_assert_eq!(name, event.function);
        drop(entry);
        self.inner
            .events
            .accept(&event)
            .await
            .map_err(|e| match e {
                QueueError::Full { .. } => InvokeError::QueueFull(e.to_string()),
                QueueError::Storage(_) => InvokeError::Internal(e.to_string()),
            })?;
        Ok(event.request_id)
    }

    /// The async queue's consumer: receives events and runs each in its own task with its
    /// function's asynchronous-invocation policy. Holds the scheduler only while it hands
    /// events out, and ends when the scheduler is dropped or shuts down.
    pub(crate) fn spawn_async_worker(&self, mut closed: tokio::sync::watch::Receiver<()>) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { break };
                if inner.shutting_down.load(Ordering::SeqCst) {
                    break;
                }
                let events = inner.events.clone();
                drop(inner);
                let received = tokio::select! {
                    r = events.next() => r,
                    _ = closed.changed() => break,
                };
                match received {
                    Ok(deliveries) => {
                        let Some(inner) = weak.upgrade() else { break };
                        let scheduler = Scheduler { inner };
                        for delivery in deliveries {
                            let scheduler = scheduler.clone();
                            tokio::spawn(async move { scheduler.run_event(delivery).await });
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot receive queued Event invocations");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }

    /// Runs one `Event` invocation to its end: function errors are retried after the
    /// configured delays up to `MaximumRetryAttempts`; throttles are retried with backoff
    /// until the event is older than `MaximumEventAgeInSeconds`; the outcome goes to the
    /// OnSuccess / OnFailure destination when one is configured. The event stays on disk
    /// until it has ended, so a crash or shutdown in between runs it again after restart.
    async fn run_event(&self, mut delivery: Delivery) {
        let policy = self.async_policy(
            &delivery.event.function,
            delivery.event.qualifier.as_deref(),
        );
        let delays = self.inner.config.async_retry_delays.clone();
        let clock = self.inner.config.clock.clone();
        let mut throttle_backoff = THROTTLE_BACKOFF_FIRST;
        // The event's age: the wall clock once (it may have been accepted before a restart),
        // then the policy's clock, which every wait below sleeps on.
        let age_here =
            Duration::from_millis(now_unix_ms().saturating_sub(delivery.event.accepted_unix_ms));
        let here = clock.now();
        let outcome = loop {
            let age = age_here + clock.now().saturating_sub(here);
            if age > policy.max_event_age {
                break Outcome::Failed("EventAgeExceeded", None);
            }
            let resolved = self.resolve_entry(
                &delivery.event.function,
                delivery.event.qualifier.as_deref(),
            );
            let Ok((entry, arn)) = resolved else {
                tracing::warn!(request_id = %delivery.event.request_id, function = %delivery.event.function, "async event dropped: function or qualifier deleted");
                break Outcome::Dropped;
            };
            let result = self
                .run(
                    entry,
                    crate::invoke::Call {
                        invoked_arn: arn,
                        request_id: delivery.event.request_id.clone(),
                        payload: delivery.event.payload.clone(),
                        client_context: None,
                        log_tail: false,
                        stream: None,
                    },
                )
                .await;
            match result {
                Ok(response) if response.function_error.is_none() => {
                    break Outcome::Succeeded(response);
                }
                Ok(response) => {
                    delivery.event.attempts += 1;
                    if delivery.event.attempts > policy.max_retry_attempts {
                        break Outcome::Failed("RetriesExhausted", Some(response));
                    }
                    self.inner.events.record_attempt(&delivery);
                    let delay = delays
                        .get(delivery.event.attempts as usize - 1)
                        .or(delays.last())
                        .copied()
                        .unwrap_or_default();
                    clock.sleep(delay).await;
                }
                Err(InvokeError::Throttled { .. } | InvokeError::Capacity(_)) => {
                    // Never past the event's maximum age: it ends then, not a backoff later.
                    let left = policy.max_event_age.saturating_sub(age) + Duration::from_millis(1);
                    clock.sleep(throttle_backoff.min(left)).await;
                    throttle_backoff = (throttle_backoff * 2).min(THROTTLE_BACKOFF_MAX);
                }
                // Left on disk: it runs after the next start.
                Err(InvokeError::ShuttingDown) => return,
                Err(e) => {
                    tracing::warn!(request_id = %delivery.event.request_id, error = %e, "async event dropped");
                    break Outcome::Dropped;
                }
            }
        };
        let destination = match &outcome {
            Outcome::Succeeded(_) => policy.on_success.clone(),
            Outcome::Failed(..) => policy.on_failure.clone(),
            Outcome::Dropped => None,
        };
        let dead_letter = self
            .get_function(
                &delivery.event.function,
                delivery.event.qualifier.as_deref(),
            )
            .ok()
            .and_then(|c| c.dead_letter_config)
            .and_then(|d| d.target_arn);
        match (&destination, &outcome, dead_letter) {
            (Some(destination), _, _) => self.deliver(destination, &delivery.event, &outcome).await,
            (None, Outcome::Failed(_, response), Some(queue)) => {
                self.dead_letter(&queue, &delivery.event, response.as_ref())
                    .await;
            }
            (None, Outcome::Failed(condition, _), None) => {
                tracing::warn!(request_id = %delivery.event.request_id, condition, "async event failed with no OnFailure destination");
            }
            _ => {}
        }
        self.inner.events.finish(&delivery).await;
    }

    /// Sends the destination record of a finished `Event` invocation: to a function, as an
    /// `Event` invocation of its own; to an SQS queue, as a message (both durable once
    /// sent, like any other).
    ///
    /// A record over the async payload limit (a large request and response together) cannot
    /// be queued: it is counted in `hearth_destination_records_dropped_total` and logged
    /// with its request id, never dropped silently.
    async fn deliver(&self, destination: &str, event: &QueuedEvent, outcome: &Outcome) {
        let qualifier = event.qualifier.as_deref().unwrap_or("$LATEST");
        let (condition, response, invocations) = match outcome {
            Outcome::Succeeded(r) => ("Success", Some(r), event.attempts + 1),
            Outcome::Failed(condition, r) => (*condition, r.as_ref(), event.attempts),
            Outcome::Dropped => return,
        };
        let as_json = |bytes: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned())
            })
        };
        let mut record = serde_json::json!({
            "version": "1.0",
            "timestamp": crate::function::last_modified_now().replace("+0000", "Z"),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": format!("{}:{qualifier}", self.function_arn(&event.function)),
                "condition": condition,
                "approximateInvokeCount": invocations,
            },
            "requestPayload": as_json(&event.payload),
        });
        if let Some(response) = response {
            let mut context = serde_json::json!({
                "statusCode": 200,
                "executedVersion": response.executed_version,
            });
            if let Some(kind) = response.function_error {
                context["functionError"] = kind.into();
            }
            record["responseContext"] = context;
            record["responsePayload"] = as_json(&response.payload);
        }
        let payload = serde_json::to_vec(&record).unwrap_or_default();
        if let Some(queue) = hearth_queue::config::arn_queue_name(destination) {
            let message = hearth_queue::NewMessage {
                body: String::from_utf8_lossy(&payload).into_owned(),
                sender_id: self.inner.config.account_id.clone(),
                ..Default::default()
            };
            let sent = self.inner.queues.send(queue, vec![message]).await;
            let refused = match sent {
                Ok(mut results) => results.pop().and_then(Result::err),
                Err(e) => Some(e),
            };
            if let Some(e) = refused {
                self.inner.metrics.destination_drops().inc();
                tracing::warn!(request_id = %event.request_id, destination, error = %e, "destination record dropped");
            }
            return;
        }
        let request = InvokeRequest {
            function: destination.to_owned(),
            payload,
            ..Default::default()
        };
        if let Err(e) = self.invoke_event(request).await {
            self.inner.metrics.destination_drops().inc();
            tracing::warn!(request_id = %event.request_id, destination, error = %e, "destination record dropped");
        }
    }
}

impl Scheduler {
    /// Sends a failed `Event` invocation to the function's `DeadLetterConfig` queue as
    /// Lambda does: the event itself as the body, with `RequestID`, `ErrorCode` and
    /// `ErrorMessage` attributes.
    async fn dead_letter(
        &self,
        queue_arn: &str,
        event: &QueuedEvent,
        response: Option<&InvokeResponse>,
    ) {
        let string = |v: String| hearth_queue::AttributeValue {
            data_type: "String".into(),
            string_value: Some(v),
            binary_value: None,
        };
        let message = response
            .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.payload).ok())
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "The event could not be processed".to_owned());
        let mut attributes = std::collections::BTreeMap::new();
        attributes.insert("RequestID".to_owned(), string(event.request_id.clone()));
        attributes.insert(
            "ErrorCode".to_owned(),
            hearth_queue::AttributeValue {
                data_type: "Number".into(),
                string_value: Some("200".into()),
                binary_value: None,
            },
        );
        attributes.insert("ErrorMessage".to_owned(), string(message));
        let body = String::from_utf8_lossy(&event.payload).into_owned();
        let refused = match hearth_queue::config::arn_queue_name(queue_arn) {
            Some(name) => {
                let message = hearth_queue::NewMessage {
                    body: if body.is_empty() { "{}".into() } else { body },
                    attributes,
                    sender_id: self.inner.config.account_id.clone(),
                    ..Default::default()
                };
                match self.inner.queues.send(name, vec![message]).await {
                    Ok(mut results) => results.pop().and_then(Result::err).map(|e| e.to_string()),
                    Err(e) => Some(e.to_string()),
                }
            }
            None => Some(format!("{queue_arn} is not an SQS queue")),
        };
        if let Some(e) = refused {
            self.inner.metrics.destination_drops().inc();
            tracing::warn!(request_id = %event.request_id, queue = queue_arn, error = %e, "dead letter dropped");
        }
    }
}

/// How an `Event` invocation ended.
enum Outcome {
    Succeeded(InvokeResponse),
    /// `condition` of the destination record, and the last response if the function ran.
    Failed(&'static str, Option<InvokeResponse>),
    /// The function is gone or the event cannot run: nothing to deliver.
    Dropped,
}
