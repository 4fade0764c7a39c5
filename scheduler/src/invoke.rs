//! The invoke path: synchronous (`RequestResponse`) and `DryRun`; `Event` invocations run
//! through here too, from [`crate::async_invoke`].

use crate::entry::{FunctionEntry, PoolKey, Pooled};
use crate::error::{InvokeError, ThrottleReason};
use crate::logs::{Report, format_invocation, tail};
use crate::registry::{Inner, Scheduler};
use hearth_pool::{Acquired, WarmPool};
use hearth_runtime_api::limits::MAX_SYNC_PAYLOAD_BYTES;
use hearth_runtime_api::{Invocation, new_request_id, new_trace_id};
use hearth_sandbox::{Environment, InvokeOutcome, Prepared, ResponseSink, Sandbox, StartError};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

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
    /// `InvokeWithResponseStream`: where a response the function streams goes as it is
    /// written. Whatever is not streamed (a buffered answer, an error) is in the
    /// [`InvokeResponse`] as usual.
    pub stream: Option<ResponseSink>,
}

/// One invocation of a resolved function, as [`Scheduler::run`] takes it.
#[derive(Debug)]
pub(crate) struct Call {
    pub invoked_arn: String,
    pub request_id: String,
    pub payload: Vec<u8>,
    pub client_context: Option<String>,
    pub log_tail: bool,
    pub stream: Option<ResponseSink>,
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
    /// The REPORT line's `Init Duration` (environment created → first `next`): set when
    /// this invocation started a new environment.
    pub init_duration: Option<Duration>,
    /// The REPORT line's `Duration`: invocation handed to the environment → its answer.
    pub duration: Duration,
    /// The new environment was restored from a SnapStart snapshot: `init_duration` is the
    /// REPORT line's `Restore Duration`.
    pub restored: bool,
}

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
    /// MemorySize × unused reserved concurrency of every other function: the pool's room a
    /// reservation guarantees, which nobody else may take. Asked on pool misses only.
    fn memory_reserved_for_others(&self, function: &str) -> u64 {
        let reservations = self.inner.admission.reservations_except(function);
        self.memory_of_sandboxes(reservations.iter().map(|(name, reserved, in_flight)| {
            (name.as_str(), reserved.saturating_sub(*in_flight))
        }))
    }

    /// Whether the host has room for another sandbox by what sandboxes really hold
    /// (`hearth_sandbox::memory`): under the budget less the growth margin, counting `freed`
    /// bytes of sandboxes already let go as gone. Evicts idle sandboxes, least recently used
    /// first, until there is room; `false` when only busy ones are left.
    fn make_room(&self, mut freed: u64) -> bool {
        let inner = &self.inner;
        let host = inner.backends.host_memory();
        let margin = host.limit() / 100 * inner.config.memory_margin_percent.min(100);
        let admit_below = host.limit().saturating_sub(margin);
        while host.held().saturating_sub(freed) > admit_below {
            match inner.pool.evict_lru() {
                Some(Pooled(idle)) => {
                    freed += idle.held_bytes();
                    inner.metrics.memory_evictions().inc();
                }
                None => return false,
            }
        }
        true
    }

    /// Finds the function version an invoke names, and the ARN it was invoked by.
    pub(crate) fn resolve(
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
        let call = Call {
            invoked_arn: arn,
            request_id: new_request_id(),
            payload: request.payload,
            client_context: request.client_context,
            log_tail: request.log_tail,
            stream: request.stream,
        };
        tokio::spawn(async move { this.run(entry, call).await })
            .await
            .map_err(|e| InvokeError::Internal(format!("invocation task failed: {e}")))?
    }

    /// The version an invocation of `request` would run (`X-Amz-Executed-Version`), or why
    /// it cannot run at all: a streamed answer sends its headers before the result is known.
    pub fn executed_version(&self, request: &InvokeRequest) -> Result<String, InvokeError> {
        let (entry, _) = self.resolve(&request.function, request.qualifier.as_deref())?;
        Ok(entry.config.version.clone())
    }

    /// `DryRun`: checks the function exists and would be admitted now.
    pub fn dry_run(&self, request: &InvokeRequest) -> Result<(), InvokeError> {
        let (entry, _) = self.resolve(&request.function, request.qualifier.as_deref())?;
        Self::check_active(&entry.config)?;
        self.inner
            .admission
            .would_admit(&entry.config.function_name)
            .map_err(|reason| InvokeError::Throttled { reason })
    }

    /// Refuses a version that cannot run yet (its snapshot being taken) or at all (its
    /// snapshot's INIT failed).
    pub(crate) fn check_active(config: &crate::FunctionConfiguration) -> Result<(), InvokeError> {
        match config.state.as_str() {
            "Active" => Ok(()),
            "Pending" => Err(InvokeError::SnapStartNotReady),
            state => Err(InvokeError::NotActive(format!(
                "The operation cannot be performed at this time. The function is currently in the following state: {state}. {}",
                config.state_reason.as_deref().unwrap_or_default()
            ))),
        }
    }

    /// One invocation, start to end.
    pub(crate) async fn run(
        &self,
        entry: Arc<FunctionEntry>,
        call: Call,
    ) -> Result<InvokeResponse, InvokeError> {
        let inner = &self.inner;
        if inner.shutting_down.load(Ordering::SeqCst) {
            return Err(InvokeError::ShuttingDown);
        }
        Self::check_active(&entry.config)?;
        let name = &entry.config.function_name;
        let _permit = inner.admission.admit(name).map_err(|reason| {
            entry.metrics.throttles.inc();
            InvokeError::Throttled { reason }
        })?;
        entry.metrics.invocations.inc();
        inner.metrics.concurrent().inc();
        let result = self.run_admitted(&entry, call).await;
        inner.metrics.concurrent().dec();
        result
    }

    async fn run_admitted(
        &self,
        entry: &FunctionEntry,
        call: Call,
    ) -> Result<InvokeResponse, InvokeError> {
        let Call {
            invoked_arn,
            request_id,
            payload,
            client_context,
            log_tail,
            stream,
        } = call;
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
            None => match inner.pool.acquire_within(
                &entry.key,
                memory_mb,
                Instant::now(),
                self.memory_reserved_for_others(&entry.config.function_name),
            ) {
                Ok(Acquired::Warm(Pooled(sandbox))) => (sandbox, None),
                Ok(Acquired::Cold { evicted }) => {
                    let freed = evicted.iter().map(|Pooled(s)| s.held_bytes()).sum();
                    drop(evicted);
                    if !self.make_room(freed)
                        || !inner.scale_up.try_take(&entry.config.function_name)
                    {
                        // `slot` gives the reservation back.
                        entry.metrics.throttles.inc();
                        return Err(InvokeError::Throttled {
                            reason: ThrottleReason::ConcurrentInvocationLimitExceeded,
                        });
                    }
                    entry.metrics.cold_starts.inc();
                    match entry.code.start().await {
                        Ok(sandbox) => {
                            let init = sandbox.init_duration();
                            entry.metrics.init_duration.observe(init.as_secs_f64());
                            (sandbox, Some(init))
                        }
                        Err(StartError::Capacity(why)) => return Err(InvokeError::Capacity(why)),
                        Err(failed) if entry.restored => {
                            return Err(self.restore_failed(entry, &request_id, failed));
                        }
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
        let outcome = sandbox.invoke_streaming(invocation, deadline, stream).await;
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
        entry
            .metrics
            .sandbox_memory
            .observe(sandbox.held_bytes() as f64);
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
                restored: entry.restored,
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
            init_duration,
            duration,
            restored: entry.restored && init_duration.is_some(),
        })
    }

    /// Returns a healthy sandbox to the pool; a failed one is dropped and its slot freed.
    fn give_back(&self, slot: &mut BusySlot<'_>, sandbox: Sandbox) {
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

    /// A restore from a snapshot that failed: logged like a failed INIT, answered as
    /// Lambda answers it (`SnapStartException`, or `SnapStartTimeoutException`).
    fn restore_failed(
        &self,
        entry: &FunctionEntry,
        request_id: &str,
        failed: StartError,
    ) -> InvokeError {
        entry.metrics.errors.inc();
        let (error, mut output, timeout) = match failed {
            StartError::Init { error, output } => (error, output, false),
            StartError::Sandbox { failure, output } => (
                failure.to_function_error(request_id),
                output,
                matches!(
                    failure,
                    hearth_runtime_api::SandboxFailure::InitTimeout { .. }
                ),
            ),
            StartError::Capacity(why) => return InvokeError::Capacity(why),
        };
        output.extend_from_slice(
            format!(
                "RESTORE_REPORT Status: {}\tError Type: {}\n{}\n",
                if timeout { "timeout" } else { "error" },
                error.error_type,
                error.error_message
            )
            .as_bytes(),
        );
        self.inner.logs.append(&entry.config.function_name, output);
        if timeout {
            InvokeError::SnapStartTimeout
        } else {
            InvokeError::SnapStartFailed
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
                restored: false,
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
            init_duration: None,
            duration: Duration::ZERO,
            restored: false,
        }
    }
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
