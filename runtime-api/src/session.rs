//! The per-sandbox invocation state machine of the Runtime API.
//!
//! A runtime starts in INIT. Its first `next` ends INIT; from then on it alternates between
//! waiting for work and answering exactly one invocation. The backend (wasm host calls or the
//! HTTP listener of a process sandbox) asks the [`Session`] before acting on a call, so both
//! enforce the same rules and answer with the same errors.

use crate::limits::MAX_RESPONSE_BYTES;
use std::fmt;

/// Where a runtime is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Started, has not yet asked for work.
    Init,
    /// Waiting in `next` (or about to): no invocation outstanding.
    Idle,
    /// Working on this request id; a `response` or `error` for it ends the invocation.
    Invoking(String),
    /// Reported an init error; nothing more is legal.
    InitFailed,
}

/// The Runtime API's own error kinds, as the HTTP API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// 400: the request id is unknown, stale, or already answered.
    InvalidRequestId,
    /// 403: the call is not legal in the current phase.
    InvalidStateTransition,
    /// 413: the response is larger than the Runtime API accepts.
    RequestEntityTooLarge,
}

impl ApiErrorKind {
    /// The `errorType` string of the HTTP API's error body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequestId => "InvalidRequestID",
            Self::InvalidStateTransition => "InvalidStateTransition",
            Self::RequestEntityTooLarge => "RequestEntityTooLarge",
        }
    }

    /// The HTTP status the Runtime API answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequestId => 400,
            Self::InvalidStateTransition => 403,
            Self::RequestEntityTooLarge => 413,
        }
    }
}

/// An error answered by the Runtime API itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ApiErrorKind,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(kind: ApiErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// The state of one runtime's conversation with the API.
#[derive(Debug, Clone)]
pub struct Session {
    phase: Phase,
}

impl Default for Session {
    fn default() -> Self {
        Self { phase: Phase::Init }
    }
}

impl Session {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The runtime asks for work. Legal from INIT (which this ends) and between invocations.
    /// Asking again while an invocation is unanswered is a protocol violation.
    pub fn request_next(&mut self) -> Result<(), ApiError> {
        match &self.phase {
            Phase::Init | Phase::Idle => {
                self.phase = Phase::Idle;
                Ok(())
            }
            Phase::Invoking(id) => Err(ApiError::new(
                ApiErrorKind::InvalidStateTransition,
                format!("next called before invocation {id} was answered"),
            )),
            Phase::InitFailed => Err(ApiError::new(
                ApiErrorKind::InvalidStateTransition,
                "next called after init/error",
            )),
        }
    }

    /// The host hands the waiting runtime an invocation.
    pub fn begin(&mut self, request_id: &str) -> Result<(), ApiError> {
        match self.phase {
            Phase::Idle => {
                self.phase = Phase::Invoking(request_id.to_owned());
                Ok(())
            }
            _ => Err(ApiError::new(
                ApiErrorKind::InvalidStateTransition,
                "invocation delivered to a runtime that is not waiting in next",
            )),
        }
    }

    /// `POST /runtime/invocation/{id}/response` with `len` bytes.
    pub fn respond(&mut self, request_id: &str, len: usize) -> Result<(), ApiError> {
        self.respond_within(request_id, len, MAX_RESPONSE_BYTES)
    }

    /// `respond` with another size limit: a streamed response's.
    pub fn respond_within(
        &mut self,
        request_id: &str,
        len: usize,
        limit: usize,
    ) -> Result<(), ApiError> {
        self.check_answer(request_id)?;
        if len > limit {
            return Err(ApiError::new(
                ApiErrorKind::RequestEntityTooLarge,
                format!(
                    "Response payload size ({len} bytes) exceeded maximum allowed payload size ({limit} bytes)."
                ),
            ));
        }
        self.phase = Phase::Idle;
        Ok(())
    }

    /// `POST /runtime/invocation/{id}/error`.
    pub fn fail(&mut self, request_id: &str) -> Result<(), ApiError> {
        self.check_answer(request_id)?;
        self.phase = Phase::Idle;
        Ok(())
    }

    /// `POST /runtime/init/error`: only legal before the first `next`.
    pub fn init_fail(&mut self) -> Result<(), ApiError> {
        match self.phase {
            Phase::Init => {
                self.phase = Phase::InitFailed;
                Ok(())
            }
            _ => Err(ApiError::new(
                ApiErrorKind::InvalidStateTransition,
                "init/error is only accepted during INIT",
            )),
        }
    }

    /// `request_id` names the invocation the runtime holds now: an answer to it is legal.
    pub fn check_answer(&self, request_id: &str) -> Result<(), ApiError> {
        match &self.phase {
            Phase::Invoking(id) if id == request_id => Ok(()),
            Phase::Invoking(_) | Phase::Idle => Err(ApiError::new(
                ApiErrorKind::InvalidRequestId,
                format!("Invalid request ID: {request_id}"),
            )),
            Phase::Init | Phase::InitFailed => Err(ApiError::new(
                ApiErrorKind::InvalidStateTransition,
                "no invocation has been delivered",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path() {
        let mut s = Session::new();
        s.request_next().expect("init ends");
        s.begin("a").expect("deliver");
        s.respond("a", 10).expect("answer");
        s.request_next().expect("next again");
        s.begin("b").expect("deliver");
        s.fail("b").expect("error answer");
        assert_eq!(s.phase(), &Phase::Idle);
    }

    #[test]
    fn answering_twice_or_the_wrong_id_is_invalid_request_id() {
        let mut s = Session::new();
        s.request_next().expect("init ends");
        s.begin("a").expect("deliver");
        assert_eq!(
            s.respond("b", 1).expect_err("wrong id").kind,
            ApiErrorKind::InvalidRequestId
        );
        s.respond("a", 1).expect("answer");
        assert_eq!(
            s.respond("a", 1).expect_err("stale").kind,
            ApiErrorKind::InvalidRequestId
        );
    }

    #[test]
    fn too_large_response_is_413_and_keeps_the_invocation_open() {
        let mut s = Session::new();
        s.request_next().expect("init ends");
        s.begin("a").expect("deliver");
        let e = s.respond("a", MAX_RESPONSE_BYTES + 1).expect_err("too big");
        assert_eq!(e.kind.status(), 413);
        s.fail("a").expect("can still report an error");
    }

    #[test]
    fn out_of_order_calls_are_invalid_state_transitions() {
        let mut s = Session::new();
        assert_eq!(
            s.respond("a", 1).expect_err("in init").kind,
            ApiErrorKind::InvalidStateTransition
        );
        s.init_fail().expect("init error");
        assert_eq!(
            s.request_next()
                .expect_err("after init error")
                .kind
                .status(),
            403
        );
        let mut s = Session::new();
        s.request_next().expect("init ends");
        assert!(s.init_fail().is_err());
        s.begin("a").expect("deliver");
        assert!(s.request_next().is_err());
    }

    #[derive(Debug, Clone)]
    enum Call {
        Next,
        Begin(u8),
        Respond(u8, usize),
        Fail(u8),
        InitFail,
    }

    fn call() -> impl proptest::strategy::Strategy<Value = Call> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Call::Next),
            (0u8..3).prop_map(Call::Begin),
            (
                0u8..3,
                prop_oneof![Just(1usize), Just(MAX_RESPONSE_BYTES + 1)]
            )
                .prop_map(|(id, len)| Call::Respond(id, len)),
            (0u8..3).prop_map(Call::Fail),
            Just(Call::InitFail),
        ]
    }

    /// The model: what each call must return, and the phase after it, predicted from the
    /// Runtime API's rules alone (never copied from the session under test).
    #[derive(Debug, Clone, PartialEq)]
    enum Model {
        Init,
        Idle,
        Invoking(String),
        InitFailed,
    }

    proptest::proptest! {
        /// Whatever order a runtime calls in, every call's outcome is the one predicted: an
        /// invocation is delivered only to a runtime waiting in next, answered at most once,
        /// only by its own id, and init/error is accepted only during INIT.
        #[test]
        fn every_call_is_predicted(calls in proptest::collection::vec(call(), 0..60)) {
            let mut s = Session::new();
            let mut m = Model::Init;
            for c in calls {
                let (ok, next) = match (&c, &m) {
                    (Call::Next, Model::Init | Model::Idle) => (true, Model::Idle),
                    (Call::Next, _) => (false, m.clone()),
                    (Call::Begin(id), Model::Idle) => (true, Model::Invoking(id.to_string())),
                    (Call::Begin(_), _) => (false, m.clone()),
                    (Call::Respond(id, len), Model::Invoking(open)) if *open == id.to_string() => {
                        if *len <= MAX_RESPONSE_BYTES { (true, Model::Idle) } else { (false, m.clone()) }
                    }
                    (Call::Respond(..), _) => (false, m.clone()),
                    (Call::Fail(id), Model::Invoking(open)) if *open == id.to_string() => (true, Model::Idle),
                    (Call::Fail(_), _) => (false, m.clone()),
                    (Call::InitFail, Model::Init) => (true, Model::InitFailed),
                    (Call::InitFail, _) => (false, m.clone()),
                };
                let got = match &c {
                    Call::Next => s.request_next(),
                    Call::Begin(id) => s.begin(&id.to_string()),
                    Call::Respond(id, len) => s.respond(&id.to_string(), *len),
                    Call::Fail(id) => s.fail(&id.to_string()),
                    Call::InitFail => s.init_fail(),
                };
                proptest::prop_assert_eq!(got.is_ok(), ok, "{:?} in {:?}", c, m);
                m = next;
                let phase = match &m {
                    Model::Init => Phase::Init,
                    Model::Idle => Phase::Idle,
                    Model::Invoking(id) => Phase::Invoking(id.clone()),
                    Model::InitFailed => Phase::InitFailed,
                };
                proptest::prop_assert_eq!(s.phase(), &phase);
            }
        }
    }
}
