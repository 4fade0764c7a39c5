//! Concurrency admission: the account limit and per-function reserved concurrency.
//!
//! Lambda's model: a function with reserved concurrency R may run R invocations at once and
//! never more; every other function shares what is left of the account limit after all
//! reservations (the unreserved pool). A permit is taken before a sandbox is touched and
//! released when the invocation ends, however it ends (it is a drop guard).

use crate::error::ThrottleReason;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct State {
    /// In-flight invocations per function name.
    in_flight: HashMap<String, u32>,
    /// Reserved concurrency per function name (absent = unreserved).
    reserved: HashMap<String, u32>,
    /// In-flight invocations of unreserved functions.
    unreserved_in_flight: u32,
}

/// Admission control. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct Admission {
    account_limit: u32,
    // A std Mutex: no `.await` is ever held across it, and the critical sections are a few
    // map operations.
    state: Arc<Mutex<State>>,
}

/// One admitted invocation; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    admission: Admission,
    function: String,
    reserved: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        if let Some(n) = state.in_flight.get_mut(&self.function) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                state.in_flight.remove(&self.function);
            }
        }
        if !self.reserved {
            state.unreserved_in_flight = state.unreserved_in_flight.saturating_sub(1);
        }
    }
}

impl Admission {
    pub fn new(account_limit: u32) -> Self {
        Self {
            account_limit,
            state: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a set of counters that are valid after any partial update.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account limit.
    pub fn account_limit(&self) -> u32 {
        self.account_limit
    }

    /// Admits one invocation of `function` or says why not.
    pub fn admit(&self, function: &str) -> Result<Permit, ThrottleReason> {
        let mut state = self.lock();
        let in_flight = state.in_flight.get(function).copied().unwrap_or(0);
        let reserved = state.reserved.get(function).copied();
        match reserved {
            Some(limit) if in_flight >= limit => {
                return Err(ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded);
            }
            Some(_) => {}
            None => {
                let pool = self
                    .account_limit
                    .saturating_sub(state.reserved.values().sum());
                if state.unreserved_in_flight >= pool {
                    return Err(ThrottleReason::ConcurrentInvocationLimitExceeded);
                }
                state.unreserved_in_flight += 1;
            }
        }
        *state.in_flight.entry(function.to_owned()).or_default() += 1;
        Ok(Permit {
            admission: self.clone(),
            function: function.to_owned(),
            reserved: reserved.is_some(),
        })
    }

    /// Whether an invocation would be admitted now (DryRun), without taking a slot.
    pub fn would_admit(&self, function: &str) -> Result<(), ThrottleReason> {
        self.admit(function).map(drop)
    }

    /// Sum of all reservations except `function`'s.
    pub fn reserved_except(&self, function: &str) -> u32 {
        self.lock()
            .reserved
            .iter()
            .filter(|(f, _)| f.as_str() != function)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Sets (`Some`) or removes (`None`) a function's reservation. In-flight invocations are
    /// not interrupted; the new limit applies to the next admission.
    pub fn set_reserved(&self, function: &str, reserved: Option<u32>) {
        let mut state = self.lock();
        match reserved {
            Some(n) => {
                state.reserved.insert(function.to_owned(), n);
            }
            None => {
                state.reserved.remove(function);
            }
        }
    }

    /// A function's reservation.
    pub fn reserved(&self, function: &str) -> Option<u32> {
        self.lock().reserved.get(function).copied()
    }

    /// In-flight invocations over all functions.
    pub fn total_in_flight(&self) -> u32 {
        self.lock().in_flight.values().sum()
    }

    /// In-flight invocations of one function.
    pub fn in_flight(&self, function: &str) -> u32 {
        self.lock().in_flight.get(function).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_limit_throttles_that_function_only() {
        let a = Admission::new(10);
        a.set_reserved("f", Some(1));
        let p = a.admit("f").expect("first");
        assert_eq!(
            a.admit("f").expect_err("second"),
            ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded
        );
        let _g = a.admit("g").expect("other function");
        drop(p);
        a.admit("f").expect("slot freed");
    }

    #[test]
    fn reserved_zero_throttles_everything() {
        let a = Admission::new(10);
        a.set_reserved("f", Some(0));
        assert!(a.admit("f").is_err());
    }

    #[test]
    fn unreserved_pool_is_what_reservations_leave() {
        let a = Admission::new(3);
        a.set_reserved("f", Some(1));
        let _p1 = a.admit("g").expect("1");
        let _p2 = a.admit("h").expect("2");
        assert_eq!(
            a.admit("g").expect_err("pool of 2 used up"),
            ThrottleReason::ConcurrentInvocationLimitExceeded
        );
        let _f = a.admit("f").expect("reserved slot still free");
        assert_eq!(a.total_in_flight(), 3);
    }
}
