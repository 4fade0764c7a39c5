//! The invoke path: synchronous (`RequestResponse`), asynchronous (`Event`) and `DryRun`.

use crate::error::{InvokeError, ThrottleReason};
use crate::logs::{Report, format_invocation, tail};
use crate::record::{QueuedEvent, now_unix_ms};
use crate::registry::{FunctionEntry, Inner, PoolKey, Pooled, Scheduler};
use hearth_pool::{Acquired, WarmPool};
use hearth_runtime_api::limits::{MAX_ASYNC_PAYLOAD_BYTES, MAX_SYNC_PAYLOAD_BYTES};
use hearth_runtime_api::{Invocation, new_request_id, new_trace_id};
use hearth_sandbox::{InvokeOutcome, StartError, WasmSandbox};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One invocation as the front door hands it over.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    /// Name, partial ARN (`ACCOUNT:function:NAME`) or full ARN, optionally with `:QUALIFIER`.
    pub function: String,
    /// `?Qualifier=`.
    pub qualifier: Option<String>,
    pub payload: Vec<u8>,
    /// Decoded `X-Amz-Client-Context`.
    pub client_context: Option<String>,
    /// `X-Amz-Log-Type: Tail`.
    pub log_tail: bool,
}

/// The result of a synchronous invocation that ran (possibly into a function error).
#[derive(Debug, Clone)]
pub struct InvokeResponse {
    pub request_id: String,
    /// The function's response, or the error body when `function_error` is set.
    pub payload: Vec<u8>,
    /// `X-Amz-Function-Error`: `Unhandled` when the function or its sandbox failed.
    pub function_error: Option<&'static str>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: String,
    /// `X-Amz-Log-Result`, when a tail was asked for.
    pub log_result: Option<String>,
}

/// An `Event` invocation waiting in the async queue (as persisted).
pub(crate) type AsyncEvent = QueuedEvent;

/// Frees a cold-start memory reservation, or a busy sandbox's, unless it was handed back to
/// the pool: however the invocation ends, the pool's accounting stays right.
struct BusySlot<'a> {
    pool: &'a WarmPool<PoolKey, Pooled>,
    key: &'a PoolKey,
    memory_mb: u64,
    armed: bool,
}

impl Drop for BusySlot<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.pool.discard(self.key, self.memory_mb);
        }
    }
}

/// Splits `NAME`, `NAME:QUALIFIER`, `ACCOUNT:function:NAME[:Q]` and
/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]` into name and qualifier.
pub fn parse_function_ref(reference: &str) -> (&str, Option<&str>) {
    let parts: Vec<&str> = reference.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name] => (name, None),
        ["arn", _, "lambda", _, _, "function", name, q] => (name, Some(q)),
        [_, "function", name] => (name, None),
        [_, "function", name, q] => (name, Some(q)),
        [name, q] => (name, Some(q)),
        _ => (reference, None),
    }
}

impl Scheduler {
    /// Finds the function version an invoke names, and the ARN it was invoked by.
    fn resolve(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<(Arc<FunctionEntry>, String), InvokeError> {
        let (name, in_ref) = parse_function_ref(reference);
        if let (Some(a), Some(b)) = (in_ref, qualifier)
            && a != b
        {
            return Err(InvokeError::InvalidRequest(
                "The derived qualifier from the function name does not match the specified qualifier.".into(),
            ));
        }
        Ok(self.resolve_entry(name, in_ref.or(qualifier))?)
    }

    /// `RequestResponse`: runs the invocation and waits for its result. The invocation runs
    /// in its own task, so a caller that goes away does not cut it short (as on Lambda).
    pub async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, InvokeError> {
        if request.payload.len() > MAX_SYNC_PAYLOAD_BYTES {
            return Err(InvokeError::PayloadTooLarge(format!(
                "{} byte payload is too large for the RequestResponse invocation type (limit {MAX_SYNC_PAYLOAD_BYTES} bytes)",
                request.payload.len()
            )));
        }
        let (entry, arn) = self.resolve(&request.function, request.qualifier.as_deref())?;
        let this = self.clone();
        tokio::spawn(async move {
            this.run(
                entry,
                arn,
                new_request_id(),
                request.payload,
                request.client_context,
                request.log_tail,
            )
            .await
        })
        .await
        .map_err(|e| InvokeError::Capacity(format!("invocation task failed: {e}")))?
    }

    /// `Event`: queues the invocation durably and returns its request id. Once this
    /// returns, the invocation survives a crash of the server.
    pub fn invoke_event(&self, request: InvokeRequest) -> Result<String, InvokeError> {
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
        let event = QueuedEvent {
            request_id: new_request_id(),
            function: entry.config.function_name.clone(),
            qualifier: qualifier.filter(|q| q != "$LATEST"),
            payload: request.payload,
            accepted_unix_ms: now_unix_ms(),
            attempts: 0,
        };
        debug_assert_eq!(name, event.function);
        self.inner
            .store
            .save_event(&event)
            .map_err(|e| InvokeError::Capacity(format!("cannot queue the event: {e}")))?;
        let request_id = event.request_id.clone();
        self.inner
            .async_tx
            .send(event)
            .map_err(|_| InvokeError::ShuttingDown)?;
        Ok(request_id)
    }

    /// `DryRun`: checks the function exists and would be admitted now.
    pub fn dry_run(&self, request: &InvokeRequest) -> Result<(), InvokeError> {
        let (entry, _) = self.resolve(&request.function, request.qualifier.as_deref())?;
        self.inner
            .admission
            .would_admit(&entry.config.function_name)
            .map_err(|reason| InvokeError::Throttled { reason })
    }

    /// One invocation, start to end.
    async fn run(
        &self,
        entry: Arc<FunctionEntry>,
        invoked_arn: String,
        request_id: String,
        payload: Vec<u8>,
        client_context: Option<String>,
        log_tail: bool,
    ) -> Result<InvokeResponse, InvokeError> {
        let inner = &self.inner;
        if inner.shutting_down.load(Ordering::SeqCst) {
            return Err(InvokeError::ShuttingDown);
        }
        let name = &entry.config.function_name;
        let _permit = inner.admission.admit(name).map_err(|reason| {
            entry.metrics.throttles.inc();
            InvokeError::Throttled { reason }
        })?;
        entry.metrics.invocations.inc();
        inner.metrics.concurrent().inc();
        let result = self
            .run_admitted(
                &entry,
                invoked_arn,
                request_id,
                payload,
                client_context,
                log_tail,
            )
            .await;
        inner.metrics.concurrent().dec();
        result
    }

    async fn run_admitted(
        &self,
        entry: &FunctionEntry,
        invoked_arn: String,
        request_id: String,
        payload: Vec<u8>,
        client_context: Option<String>,
        log_tail: bool,
    ) -> Result<InvokeResponse, InvokeError> {
        let inner: &Inner = &self.inner;
        let memory_mb = u64::from(entry.config.memory_size);
        let mut slot = BusySlot {
            pool: &inner.pool,
            key: &entry.key,
            memory_mb,
            armed: true,
        };
        let provisioned = inner.reservoir.take(&entry.key);
        let from_reservoir = provisioned.is_some();
        let (mut sandbox, init_duration) = match provisioned {
            Some(sandbox) => {
                slot.armed = false;
                (sandbox, None)
            }
            None => match inner.pool.acquire(&entry.key, memory_mb, Instant::now()) {
                Ok(Acquired::Warm(Pooled(sandbox))) => (sandbox, None),
                Ok(Acquired::Cold { evicted }) => {
                    drop(evicted);
                    entry.metrics.cold_starts.inc();
                    match entry.code.start().await {
                        Ok(sandbox) => {
                            let init = sandbox.init_duration();
                            entry.metrics.init_duration.observe(init.as_secs_f64());
                            (sandbox, Some(init))
                        }
                        Err(StartError::Capacity(why)) => return Err(InvokeError::Capacity(why)),
                        Err(StartError::Init { error, output }) => {
                            return Ok(self.init_failed(entry, request_id, error, output, log_tail));
                        }
                        Err(StartError::Sandbox { failure, output }) => {
                            let error = failure.to_function_error(&request_id);
                            return Ok(self.init_failed(entry, request_id, error, output, log_tail));
                        }
                    }
                }
                Err(_budget) => {
                    slot.armed = false;
                    entry.metrics.throttles.inc();
                    return Err(InvokeError::Throttled {
                        reason: ThrottleReason::ConcurrentInvocationLimitExceeded,
                    });
                }
            },
        };

        let started = Instant::now();
        let deadline = started + Duration::from_secs(u64::from(entry.config.timeout));
        let invocation = Invocation {
            request_id: request_id.clone(),
            deadline_ms: hearth_runtime_api::invocation::deadline_unix_ms(deadline),
            invoked_function_arn: invoked_arn,
            trace_id: new_trace_id(),
            client_context,
            cognito_identity: None,
            payload,
        };
        let outcome = sandbox.invoke(invocation, deadline).await;
        let duration = started.elapsed();
        let mut output = sandbox.take_output();
        let max_memory_used_mb = sandbox.max_memory_used_mb();

        let (payload, function_error) = match outcome {
            InvokeOutcome::Response(payload) => (payload, None),
            InvokeOutcome::FunctionError(error) => (error.to_json(), Some("Unhandled")),
            InvokeOutcome::Failed(failure) => {
                let error = failure.to_function_error(&request_id);
                output.extend_from_slice(format!("{}\n", error.error_message).as_bytes());
                (error.to_json(), Some("Unhandled"))
            }
        };
        if from_reservoir {
            self.give_back_provisioned(&entry.key, sandbox);
        } else {
            self.give_back(&mut slot, sandbox);
        }

        if function_error.is_some() {
            entry.metrics.errors.inc();
        }
        entry.metrics.duration.observe(duration.as_secs_f64());
        let text = format_invocation(
            &Report {
                request_id: &request_id,
                version: &entry.config.version,
                duration,
                memory_mb: entry.config.memory_size,
                max_memory_used_mb,
                init_duration,
            },
            &output,
        );
        let log_result = log_tail.then(|| tail(&text));
        inner.logs.append(&entry.config.function_name, text);
        Ok(InvokeResponse {
            request_id,
            payload,
            function_error,
            executed_version: entry.config.version.clone(),
            log_result,
        })
    }

    /// Returns a healthy sandbox to the pool; a failed one is dropped and its slot freed.
    fn give_back(&self, slot: &mut BusySlot<'_>, sandbox: WasmSandbox) {
        if !sandbox.is_alive() {
            return; // `slot` discards the reservation when dropped.
        }
        slot.armed = false;
        if let Some(retired) = self
            .inner
            .pool
            .release(slot.key, Pooled(sandbox), Instant::now())
        {
            drop(retired);
        }
    }

    /// The answer to an invocation whose cold start failed: the init error, logged like
    /// Lambda logs a failed INIT.
    fn init_failed(
        &self,
        entry: &FunctionEntry,
        request_id: String,
        error: hearth_runtime_api::FunctionError,
        mut output: Vec<u8>,
        log_tail: bool,
    ) -> InvokeResponse {
        entry.metrics.errors.inc();
        output.extend_from_slice(
            format!(
                "INIT_REPORT Status: error\tError Type: {}\n{}\n",
                error.error_type, error.error_message
            )
            .as_bytes(),
        );
        let text = format_invocation(
            &Report {
                request_id: &request_id,
                version: &entry.config.version,
                duration: Duration::ZERO,
                memory_mb: entry.config.memory_size,
                max_memory_used_mb: 0,
                init_duration: None,
            },
            &output,
        );
        let log_result = log_tail.then(|| tail(&text));
        self.inner.logs.append(&entry.config.function_name, text);
        InvokeResponse {
            request_id,
            payload: error.to_json(),
            function_error: Some("Unhandled"),
            executed_version: entry.config.version.clone(),
            log_result,
        }
    }

    /// The async queue's consumer: each event runs in its own task with its function's
    /// asynchronous-invocation policy. Holds only a weak reference to the scheduler.
    pub(crate) fn spawn_async_worker(&self, mut rx: mpsc::UnboundedReceiver<AsyncEvent>) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                let scheduler = Scheduler { inner };
                tokio::spawn(async move { scheduler.run_event(event).await });
            }
        });
    }

    /// Puts the `Event` invocations a previous run accepted but did not finish back in the
    /// queue.
    pub(crate) fn resume_events(&self) -> Result<(), crate::error::DeployError> {
        let events = self
            .inner
            .store
            .load_events()
            .map_err(|e| crate::error::DeployError::Internal(e.to_string()))?;
        if !events.is_empty() {
            tracing::info!(count = events.len(), "resuming queued Event invocations");
        }
        for event in events {
            let _ = self.inner.async_tx.send(event);
        }
        Ok(())
    }

    /// Runs one `Event` invocation to its end: function errors are retried after the
    /// configured delays up to `MaximumRetryAttempts`; throttles are retried with backoff
    /// until the event is older than `MaximumEventAgeInSeconds`; the outcome goes to the
    /// OnSuccess / OnFailure destination when one is configured. The event stays on disk
    /// until it has ended, so a crash or shutdown in between runs it again after restart.
    async fn run_event(&self, mut event: AsyncEvent) {
        let policy = self.async_policy(&event.function, event.qualifier.as_deref());
        let delays = self.inner.config.async_retry_delays.clone();
        let mut throttle_backoff = Duration::from_millis(100);
        let outcome = loop {
            let age = Duration::from_millis(now_unix_ms().saturating_sub(event.accepted_unix_ms));
            if age > policy.max_event_age {
                break Outcome::Failed("EventAgeExceeded", None);
            }
            let resolved = self.resolve_entry(&event.function, event.qualifier.as_deref());
            let Ok((entry, arn)) = resolved else {
                tracing::warn!(request_id = %event.request_id, function = %event.function, "async event dropped: function or qualifier deleted");
                break Outcome::Dropped;
            };
            let result = self
                .run(
                    entry,
                    arn,
                    event.request_id.clone(),
                    event.payload.clone(),
                    None,
                    false,
                )
                .await;
            match result {
                Ok(response) if response.function_error.is_none() => {
                    break Outcome::Succeeded(response);
                }
                Ok(response) => {
                    event.attempts += 1;
                    if event.attempts > policy.max_retry_attempts {
                        break Outcome::Failed("RetriesExhausted", Some(response));
                    }
                    if let Err(e) = self.inner.store.save_event(&event) {
                        tracing::warn!(error = %e, "cannot record the retry of an async event");
                    }
                    let delay = delays
                        .get(event.attempts as usize - 1)
                        .or(delays.last())
                        .copied()
                        .unwrap_or_default();
                    tokio::time::sleep(delay).await;
                }
                Err(InvokeError::Throttled { .. } | InvokeError::Capacity(_)) => {
                    tokio::time::sleep(throttle_backoff).await;
                    throttle_backoff = (throttle_backoff * 2).min(Duration::from_secs(300));
                }
                // Left on disk: it runs after the next start.
                Err(InvokeError::ShuttingDown) => return,
                Err(e) => {
                    tracing::warn!(request_id = %event.request_id, error = %e, "async event dropped");
                    break Outcome::Dropped;
                }
            }
        };
        let destination = match &outcome {
            Outcome::Succeeded(_) => policy.on_success.clone(),
            Outcome::Failed(..) => policy.on_failure.clone(),
            Outcome::Dropped => None,
        };
        if let Some(destination) = destination {
            self.deliver(&destination, &event, &outcome);
        } else if let Outcome::Failed(condition, _) = &outcome {
            tracing::warn!(request_id = %event.request_id, condition, "async event failed with no OnFailure destination");
        }
        if let Err(e) = self.inner.store.delete_event(&event.request_id) {
            tracing::warn!(error = %e, "cannot remove a finished async event");
        }
    }

    /// Sends the destination record of a finished `Event` invocation to a function
    /// destination, as an `Event` invocation of its own (durable like any other).
    fn deliver(&self, destination: &str, event: &AsyncEvent, outcome: &Outcome) {
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
        let request = InvokeRequest {
            function: destination.to_owned(),
            payload,
            ..Default::default()
        };
        if let Err(e) = self.invoke_event(request) {
            tracing::warn!(request_id = %event.request_id, destination, error = %e, "cannot deliver to the destination");
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

#[cfg(test)]
mod tests {
    use super::parse_function_ref;

    #[test]
    fn function_references() {
        assert_eq!(parse_function_ref("echo"), ("echo", None));
        assert_eq!(
            parse_function_ref("echo:$LATEST"),
            ("echo", Some("$LATEST"))
        );
        assert_eq!(parse_function_ref("123:function:echo"), ("echo", None));
        assert_eq!(
            parse_function_ref("arn:aws:lambda:us-east-1:123:function:echo:7"),
            ("echo", Some("7"))
        );
    }
}
