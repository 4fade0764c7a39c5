//! Concurrency admission: the account limit and per-function reserved concurrency.
//!
//! Lambda's model: a function with reserved concurrency R may run R invocations at once and
//! never more; every other function shares what is left of the account limit after all
//! reservations (the unreserved pool). A permit is taken before a sandbox is touched and
//! released when the invocation ends, however it ends (it is a drop guard).
//!
//! Reservations change while invocations run (PutFunctionConcurrency, DeleteFunctionConcurrency),
//! so no permit remembers which pool it came from. Instead each admission checks the whole
//! account: a reserved function holds `max(reservation, in flight)` of the limit, an
//! unreserved one what it runs, and nothing is admitted that would take the sum past the
//! account limit. Lowering or removing a reservation under load therefore throttles new
//! invocations until the running ones drain, and the account limit is never exceeded.

use crate::error::ThrottleReason;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct State {
    /// In-flight invocations per function name.
    in_flight: HashMap<String, u32>,
    /// Reserved concurrency per function name (absent = unreserved).
    reserved: HashMap<String, u32>,
    /// In-flight invocations over all functions.
    total: u32,
}

impl State {
    /// Concurrency committed now: every reservation (or what its function runs beyond it)
    /// plus what unreserved functions run.
    fn committed(&self) -> u32 {
        let mut reserved_in_flight = 0u32;
        let mut committed = 0u32;
        for (function, &r) in &self.reserved {
            let running = self.in_flight.get(function).copied().unwrap_or(0);
            reserved_in_flight = reserved_in_flight.saturating_add(running);
            committed = committed.saturating_add(r.max(running));
        }
        committed.saturating_add(self.total.saturating_sub(reserved_in_flight))
    }
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
        state.total = state.total.saturating_sub(1);
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
        match state.reserved.get(function).copied() {
            Some(limit) if in_flight >= limit => {
                return Err(ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded);
            }
            // Below its reservation: the slot is already counted in `committed`, but the sum
            // can be over the limit right after a reservation was raised under load.
            Some(_) if state.committed() > self.account_limit => {
                return Err(ThrottleReason::ConcurrentInvocationLimitExceeded);
            }
            Some(_) => {}
            None if state.committed() >= self.account_limit => {
                return Err(ThrottleReason::ConcurrentInvocationLimitExceeded);
            }
            None => {}
        }
        *state.in_flight.entry(function.to_owned()).or_default() += 1;
        state.total += 1;
        Ok(Permit {
            admission: self.clone(),
            function: function.to_owned(),
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

    /// Every other function's reservation with its invocations in flight:
    /// (function, reserved, in flight).
    pub fn reservations_except(&self, function: &str) -> Vec<(String, u32, u32)> {
        let state = self.lock();
        state
            .reserved
            .iter()
            .filter(|(f, _)| f.as_str() != function)
            .map(|(f, &n)| (f.clone(), n, state.in_flight.get(f).copied().unwrap_or(0)))
            .collect()
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
        self.lock().total
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

    #[test]
    fn removing_a_reservation_under_load_never_overcommits() {
        let a = Admission::new(10);
        a.set_reserved("f", Some(8));
        let f: Vec<_> = (0..8).map(|_| a.admit("f").expect("reserved")).collect();
        let g: Vec<_> = (0..2).map(|_| a.admit("g").expect("unreserved")).collect();
        a.set_reserved("f", None);
        assert_eq!(
            a.admit("g").expect_err("still 10 running"),
            ThrottleReason::ConcurrentInvocationLimitExceeded
        );
        drop(f);
        let _more = a.admit("g").expect("room once f drained");
        drop(g);
    }

    #[test]
    fn lowering_a_reservation_under_load_throttles_until_it_drains() {
        let a = Admission::new(10);
        a.set_reserved("f", Some(8));
        let mut f: Vec<_> = (0..8).map(|_| a.admit("f").expect("reserved")).collect();
        a.set_reserved("f", Some(2));
        let g: Vec<_> = (0..2).map(|_| a.admit("g").expect("unreserved")).collect();
        assert!(a.admit("g").is_err(), "f still runs 8 of the 10");
        assert!(a.admit("f").is_err(), "f is over its new reservation");
        f.truncate(1);
        let _g3 = a.admit("g").expect("f drained to 1");
        let _f2 = a.admit("f").expect("f below 2 again");
        drop(g);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Admit(u8),
        Finish(usize),
        Reserve(u8, Option<u8>),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0u8..4).prop_map(Op::Admit),
            3 => any::<usize>().prop_map(Op::Finish),
            1 => ((0u8..4), proptest::option::of(0u8..6)).prop_map(|(f, r)| Op::Reserve(f, r)),
        ]
    }

    proptest::proptest! {
        /// Whatever reservations do while invocations run, the account limit is never
        /// exceeded, a reserved function is never admitted at or past its reservation, and
        /// an unreserved admission is refused only when the account is really full.
        #[test]
        fn the_account_limit_holds_under_any_interleaving(ops in proptest::collection::vec(op(), 1..200)) {
            const LIMIT: u32 = 8;
            let a = Admission::new(LIMIT);
            let mut permits: Vec<(u8, Permit)> = Vec::new();
            let mut reserved: HashMap<u8, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Admit(f) => {
                        let name = format!("f{f}");
                        let running = permits.iter().filter(|(g, _)| *g == f).count() as u32;
                        let result = a.admit(&name);
                        if let Some(&r) = reserved.get(&f) {
                            if running >= r {
                                proptest::prop_assert!(result.is_err());
                            }
                        } else if result.is_err() {
                            // Refused: what is committed really is the whole account.
                            let committed: u32 = (0u8..4).map(|g| {
                                let run = permits.iter().filter(|(h, _)| *h == g).count() as u32;
                                reserved.get(&g).map_or(run, |&r| r.max(run))
                            }).sum();
                            proptest::prop_assert!(committed >= LIMIT);
                        }
                        if let Ok(p) = result {
                            permits.push((f, p));
                        }
                    }
                    Op::Finish(i) if !permits.is_empty() => {
                        let i = i % permits.len();
                        permits.swap_remove(i);
                    }
                    Op::Finish(_) => {}
                    Op::Reserve(f, r) => {
                        let r = r.map(u32::from);
                        a.set_reserved(&format!("f{f}"), r);
                        match r {
                            Some(r) => reserved.insert(f, r),
                            None => reserved.remove(&f),
                        };
                    }
                }
                proptest::prop_assert!(permits.len() as u32 <= LIMIT);
                proptest::prop_assert_eq!(a.total_in_flight(), permits.len() as u32);
            }
        }
    }
}
