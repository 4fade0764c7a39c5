//! One runtime's conversation with the Runtime API, shared by both transports.
//!
//! The wasm host calls (`next`, `respond`, `fail`, `init-fail`) and the HTTP endpoints of a
//! process sandbox are two transports of one protocol: each asks the [`Conversation`] before
//! acting on a call, and posts what the runtime reported as [`GuestEvent`]s to the sandbox
//! handle. The handle's side, [`Handle::invoke`], delivers one invocation and waits for its
//! answer or the deadline: the loop that matches request ids and enforces the timeout is the
//! same for every backend.

use hearth_runtime_api::limits::MAX_RESPONSE_BYTES;
use hearth_runtime_api::{
    ApiError, ApiErrorKind, FunctionError, Invocation, SandboxFailure, Session,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What a runtime reports back to its sandbox handle.
#[derive(Debug)]
pub enum GuestEvent {
    /// The runtime called `next` for the first time: INIT is over.
    Ready,
    /// `respond` for an invocation.
    Response {
        request_id: String,
        payload: Vec<u8>,
    },
    /// `fail` for an invocation (or a response the host refused as too large).
    Error {
        request_id: String,
        error: FunctionError,
    },
    /// `init-fail` during INIT.
    InitError(FunctionError),
    /// The runtime is gone: it exited, trapped, was killed, or was stopped at its deadline.
    Exited(SandboxFailure),
}

/// Where a streamed response goes as the runtime writes it (the caller of
/// `InvokeWithResponseStream`). Bounded: a slow reader slows the runtime's upload instead of
/// filling the host's memory.
pub type ResponseSink = mpsc::Sender<bytes::Bytes>;

/// An invocation on its way into the runtime, with its monotonic deadline and, when the
/// caller reads the response as a stream, where a streamed response goes.
#[derive(Debug)]
pub struct Delivery {
    pub invocation: Invocation,
    pub deadline: Instant,
    pub stream: Option<ResponseSink>,
}

/// The runtime's end of the conversation: the Runtime API [`Session`], the events channel to
/// the handle, and the answer held until the runtime asks for its next invocation.
#[derive(Debug)]
pub struct Conversation {
    session: Session,
    outbox: mpsc::UnboundedSender<GuestEvent>,
    /// When the current phase (INIT or an invocation) must end; `None` while idle in `next`.
    pub deadline: Option<Instant>,
    /// The runtime has called `next` at least once.
    pub ready: bool,
    /// INIT is over: the runtime and every extension have asked for their next event (an
    /// extension may still register until then, even after the runtime's first `next`).
    pub init_ended: bool,
    /// The answer (`respond` / `fail`) to the current invocation, held until the runtime calls
    /// `next` again: an invocation ends when the runtime asks for the next one, so a runtime
    /// that keeps computing after answering keeps its sandbox busy (and its concurrency slot)
    /// and is stopped at its deadline like any other timeout.
    completed: Option<GuestEvent>,
    /// Extensions that have not yet asked for their next event in this phase (INIT or an
    /// invocation): the phase ends when they all have and the runtime has.
    extensions_working: usize,
    /// The runtime's end of the phase (`Ready`, or its answer), held while extensions work.
    runtime_done: Option<GuestEvent>,
    /// Where the current invocation's response may be streamed; the transport takes it when
    /// the runtime streams. Dropped when the invocation is answered.
    stream: Option<ResponseSink>,
}

/// Both ends of a new sandbox's channels: the runtime's [`Conversation`] and its inbox, and
/// the handle.
pub fn channels(init_deadline: Instant) -> (Conversation, mpsc::Receiver<Delivery>, Handle) {
    let (inbox_tx, inbox_rx) = mpsc::channel(1);
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let conversation = Conversation {
        session: Session::new(),
        outbox: events_tx,
        deadline: Some(init_deadline),
        ready: false,
        init_ended: false,
        completed: None,
        extensions_working: 0,
        runtime_done: None,
        stream: None,
    };
    let handle = Handle {
        inbox: inbox_tx,
        events: events_rx,
    };
    (conversation, inbox_rx, handle)
}

impl Conversation {
    /// `next`, first half: the call is legal, the previous answer (if any) is delivered, and
    /// INIT ends on the first call. The transport then waits on the inbox and hands what
    /// arrives to [`Self::deliver`].
    pub fn request_next(&mut self) -> Result<(), ApiError> {
        self.session.request_next()?;
        let done = if self.ready {
            self.completed.take()
        } else {
            self.ready = true;
            Some(GuestEvent::Ready)
        };
        self.deadline = None;
        if let Some(done) = done {
            if self.extensions_working == 0 {
                self.end_phase(done);
            } else {
                self.runtime_done = Some(done);
            }
        }
        Ok(())
    }

    /// `n` extensions take part in the phase that begins (INIT, or an invocation they are
    /// subscribed to): it ends only when each has asked for its next event.
    pub fn extensions_begin(&mut self, n: usize) {
        self.extensions_working += n;
    }

    /// An extension asked for its next event (or ended): its part of the phase is over.
    pub fn extension_done(&mut self) {
        self.extensions_working = self.extensions_working.saturating_sub(1);
        if self.extensions_working == 0
            && let Some(done) = self.runtime_done.take()
        {
            self.end_phase(done);
        }
    }

    /// Ends the current phase with `done` (INIT with `Ready`, an invocation with its answer).
    fn end_phase(&mut self, done: GuestEvent) {
        if matches!(done, GuestEvent::Ready) {
            self.init_ended = true;
        }
        let _ = self.outbox.send(done);
    }

    /// `next`, second half: the invocation that arrived is now the runtime's.
    pub fn deliver(&mut self, delivery: Delivery) -> Result<Invocation, ApiError> {
        self.session.begin(&delivery.invocation.request_id)?;
        self.deadline = Some(delivery.deadline);
        self.stream = delivery.stream;
        Ok(delivery.invocation)
    }

    /// A streamed response to `request_id` begins: it must be the invocation the runtime
    /// holds. The sink, when the caller reads a stream; `None` when the caller waits for the
    /// whole answer (the transport then buffers it, bounded like any response).
    pub fn begin_stream(&mut self, request_id: &str) -> Result<Option<ResponseSink>, ApiError> {
        self.session.check_answer(request_id)?;
        Ok(self.stream.take())
    }

    /// `response` of `size` bytes against `limit` (a streamed one's, or the usual): the caller
    /// already has what went to the sink, and `payload` holds the rest (all of it when
    /// nothing was streamed).
    pub fn respond_within(
        &mut self,
        request_id: &str,
        payload: Vec<u8>,
        size: usize,
        limit: usize,
    ) -> Result<(), ApiError> {
        match self.session.respond_within(request_id, size, limit) {
            Ok(()) => {
                self.stream = None;
                self.completed = Some(GuestEvent::Response {
                    request_id: request_id.to_owned(),
                    payload,
                });
                Ok(())
            }
            Err(e) if e.kind == ApiErrorKind::RequestEntityTooLarge => {
                self.too_large(request_id, size, limit)?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// `response`. Over the response limit, the invocation ends with
    /// `Function.ResponseSizeTooLarge` for the caller and the runtime gets its 413.
    pub fn respond(&mut self, request_id: &str, payload: Vec<u8>) -> Result<(), ApiError> {
        let size = payload.len();
        self.respond_within(request_id, payload, size, MAX_RESPONSE_BYTES)
    }

    /// `error`: a handled function error. Bounded like a response.
    pub fn fail(&mut self, request_id: &str, error: FunctionError) -> Result<(), ApiError> {
        let size = error_size(&error.error_type, &error.error_message, &error.stack_trace);
        if size > MAX_RESPONSE_BYTES {
            self.too_large(request_id, size, MAX_RESPONSE_BYTES)?;
            return Err(ApiError {
                kind: ApiErrorKind::RequestEntityTooLarge,
                message: format!(
                    "error of {size} bytes exceeds the limit of {MAX_RESPONSE_BYTES} bytes"
                ),
            });
        }
        self.session.fail(request_id)?;
        self.stream = None;
        self.completed = Some(GuestEvent::Error {
            request_id: request_id.to_owned(),
            error,
        });
        Ok(())
    }

    /// Ends the invocation with `Function.ResponseSizeTooLarge` (an answer of `size` bytes,
    /// over `limit`).
    pub fn too_large(
        &mut self,
        request_id: &str,
        size: usize,
        limit: usize,
    ) -> Result<(), ApiError> {
        self.session.fail(request_id)?;
        self.stream = None;
        let error = SandboxFailure::ResponseTooLarge { size, limit }.to_function_error(request_id);
        self.completed = Some(GuestEvent::Error {
            request_id: request_id.to_owned(),
            error,
        });
        Ok(())
    }

    /// `init/error`: only during INIT.
    pub fn init_fail(&mut self, mut error: FunctionError) -> Result<(), ApiError> {
        self.session.init_fail()?;
        bound_init_error(&mut error);
        let _ = self.outbox.send(GuestEvent::InitError(error));
        Ok(())
    }

    /// The runtime ended. An answer given just before it ended on its own (it responded, then
    /// exited) is still delivered when `on_its_own`; one followed by a crash or the deadline
    /// is not: that invocation did not complete.
    pub fn exited(&mut self, failure: SandboxFailure, on_its_own: bool) {
        if let Some(done) = self.completed.take()
            && on_its_own
        {
            let _ = self.outbox.send(done);
        }
        let _ = self.outbox.send(GuestEvent::Exited(failure));
    }

    /// Sends an event to the handle directly (a failure the transport detected itself).
    pub fn report(&self, event: GuestEvent) {
        let _ = self.outbox.send(event);
    }
}

/// The handle's end: invocations in, events out.
#[derive(Debug)]
pub struct Handle {
    inbox: mpsc::Sender<Delivery>,
    events: mpsc::UnboundedReceiver<GuestEvent>,
}

/// How INIT ended, as the handle saw it.
#[derive(Debug)]
pub enum InitEnd {
    Ready,
    InitError(FunctionError),
    Failed(SandboxFailure),
}

impl Handle {
    /// Waits for the end of INIT: the first `next`, an init error, the runtime's end, or the
    /// INIT limit (`limit` after `started`).
    pub async fn init(&mut self, started: Instant, limit: Duration) -> InitEnd {
        let event = tokio::time::timeout_at((started + limit).into(), self.events.recv())
            .await
            .unwrap_or(Some(GuestEvent::Exited(SandboxFailure::InitTimeout {
                limit,
            })));
        match event {
            Some(GuestEvent::Ready) => InitEnd::Ready,
            Some(GuestEvent::InitError(error)) => InitEnd::InitError(error),
            Some(GuestEvent::Exited(failure)) => InitEnd::Failed(failure),
            Some(other) => InitEnd::Failed(SandboxFailure::Exited {
                detail: format!("runtime API violation during INIT: {other:?}"),
            }),
            None => InitEnd::Failed(SandboxFailure::Exited {
                detail: "sandbox ended during INIT".into(),
            }),
        }
    }

    /// Delivers one invocation and waits for its answer, the runtime's end, or `deadline`
    /// (then `Sandbox.Timedout` for `timeout`). Stale events (a late answer to an earlier id)
    /// are skipped: the conversation already refused anything out of order.
    pub async fn invoke(
        &mut self,
        invocation: Invocation,
        deadline: Instant,
        timeout: Duration,
        stream: Option<ResponseSink>,
    ) -> InvokeOutcome {
        let request_id = invocation.request_id.clone();
        let timed_out = SandboxFailure::Timeout { timeout };
        let delivery = Delivery {
            invocation,
            deadline,
            stream,
        };
        if self.inbox.send(delivery).await.is_err() {
            // The runtime is gone; its exit event (if any) says why.
            return match self.events.try_recv() {
                Ok(GuestEvent::Exited(failure)) => InvokeOutcome::Failed(failure),
                _ => InvokeOutcome::Failed(SandboxFailure::Exited {
                    detail: "sandbox is no longer running".into(),
                }),
            };
        }
        loop {
            let event = match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                Ok(event) => event,
                Err(_) => return InvokeOutcome::Failed(timed_out),
            };
            return match event {
                Some(GuestEvent::Response {
                    request_id: id,
                    payload,
                }) if id == request_id => InvokeOutcome::Response(payload),
                Some(GuestEvent::Error {
                    request_id: id,
                    error,
                }) if id == request_id => InvokeOutcome::FunctionError(error),
                Some(GuestEvent::Exited(_)) if Instant::now() >= deadline => {
                    InvokeOutcome::Failed(timed_out)
                }
                Some(GuestEvent::Exited(failure)) => InvokeOutcome::Failed(failure),
                None => InvokeOutcome::Failed(SandboxFailure::Exited {
                    detail: "sandbox ended".into(),
                }),
                Some(_) => continue,
            };
        }
    }

    /// An exit the runtime reported while idle, if any (the handle checks before reuse).
    pub fn exited_while_idle(&mut self) -> Option<SandboxFailure> {
        match self.events.try_recv() {
            Ok(GuestEvent::Exited(failure)) => Some(failure),
            _ => None,
        }
    }
}

/// Bytes of an error's parts as the caller receives them (JSON adds little beyond these).
fn error_size(error_type: &str, message: &str, stack_trace: &[String]) -> usize {
    error_type.len() + message.len() + stack_trace.iter().map(String::len).sum::<usize>()
}

/// The most of an init error kept: it is answered to the invocation that triggered INIT and
/// logged with every failing cold start, so a runtime must not make either unbounded.
pub const MAX_INIT_ERROR_BYTES: usize = 64 * 1024;

/// Cuts an init error to [`MAX_INIT_ERROR_BYTES`], saying so in its message.
fn bound_init_error(error: &mut FunctionError) {
    fn cut(s: &mut String, max: usize) {
        if s.len() > max {
            let mut end = max;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push_str(" [truncated by hearth]");
        }
    }
    if error_size(&error.error_type, &error.error_message, &error.stack_trace)
        <= MAX_INIT_ERROR_BYTES
    {
        return;
    }
    cut(&mut error.error_type, 256);
    cut(&mut error.error_message, MAX_INIT_ERROR_BYTES / 2);
    let mut budget = MAX_INIT_ERROR_BYTES / 2;
    error.stack_trace.retain_mut(|line| {
        cut(line, 1024);
        let keep = line.len() <= budget;
        budget = budget.saturating_sub(line.len());
        keep
    });
}

/// How a cold start failed.
#[derive(Debug)]
pub enum StartError {
    /// The guest reported `init-fail`: the triggering invocation gets this error.
    Init {
        error: FunctionError,
        output: Vec<u8>,
    },
    /// The guest crashed, exited or timed out during INIT.
    Sandbox {
        failure: SandboxFailure,
        output: Vec<u8>,
    },
    /// The host could not create the instance (no free pool slot, no /tmp): not the
    /// function's fault.
    Capacity(String),
}

/// How one invocation ended.
#[derive(Debug)]
pub enum InvokeOutcome {
    /// `respond`: the function's response bytes.
    Response(Vec<u8>),
    /// `fail`: a handled function error. The sandbox stays usable.
    FunctionError(FunctionError),
    /// The sandbox failed (timeout, crash, out of memory). It is dead; drop it.
    Failed(SandboxFailure),
}

/// `YYYY/MM/DD/[VERSION]<32 hex>`, Lambda's log stream naming.
pub(crate) fn log_stream_name(version: &str) -> String {
    let today = time::OffsetDateTime::now_utc().date();
    let (y, m, d) = (today.year(), u8::from(today.month()), today.day());
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!(
        "{y:04}/{m:02}/{d:02}/[{version}]{:016x}{:08x}{:08x}",
        id,
        std::process::id(),
        nanos
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_stream_has_lambda_shape() {
        let s = log_stream_name("$LATEST");
        assert!(s.contains("/[$LATEST]"), "{s}");
        assert_eq!(s.split('/').count(), 4);
    }

    #[test]
    fn init_ends_when_the_runtime_and_every_extension_have_asked_for_more() {
        let (mut conversation, _inbox, mut handle) =
            channels(Instant::now() + std::time::Duration::from_secs(10));
        conversation.extensions_begin(1);
        conversation.request_next().expect("next");
        // The runtime is ready, but an extension has not asked yet: still INIT, so a late
        // extension may still register, and the handle has heard nothing.
        assert!(conversation.ready && !conversation.init_ended);
        assert!(handle.events.try_recv().is_err());
        conversation.extension_done();
        assert!(conversation.init_ended);
        assert!(matches!(handle.events.try_recv(), Ok(GuestEvent::Ready)));
    }
}
