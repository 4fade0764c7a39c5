//! SnapStart: INIT run once when a version is published, and every sandbox of the version
//! started from the initialised state.
//!
//! A function opts in with three pieces: a state type implementing [`SnapStart`] (its
//! `init`, and optionally the runtime hooks `before_snapshot` / `after_restore`), the
//! [`snap_start!`](crate::snap_start!) macro naming that type (it exports `wizer-initialize`,
//! the init boundary hearth's snapshot runs), and [`run_snap_start`] in `main`:
//!
//! ```no_run
//! use hearth_sdk::{Config, Context, Error, SnapStart};
//!
//! struct Table(Vec<u64>);
//!
//! impl SnapStart for Table {
//!     fn init(_config: &Config) -> Result<Self, Error> {
//!         Ok(Table((0..1_000_000).collect()))
//!     }
//! }
//!
//! hearth_sdk::snap_start!(Table);
//!
//! fn main() {
//!     hearth_sdk::run_snap_start(|table: &mut Table, i: usize, _ctx: &Context| {
//!         Ok(table.0[i % table.0.len()])
//!     });
//! }
//! ```
//!
//! The same component runs without a snapshot too (`$LATEST`, or SnapStart off): then
//! `init` runs at the start of each sandbox, as any INIT, and `after_restore` does not.
//!
//! What a snapshot freezes, and what to do about it:
//! - Entropy drawn during `init` is in the snapshot, so the same in every restored sandbox:
//!   draw keys, nonces and ids in `after_restore` (or per invocation). `getrandom` (and
//!   anything on WASI's `random` interface) asks the host each time, so values drawn after
//!   the restore differ between sandboxes. Rust's `HashMap` seeds: std keeps one seed per
//!   thread, drawn at the first `RandomState::new()`; if `init` made a `HashMap`, every
//!   restored sandbox derives its maps' seeds from that same seed.
//! - Clocks: `init` read the clock at publish time; after the restore the clock reads the
//!   time of the restore (no clock is frozen, but timestamps taken during `init` are old).
//! - Host handles: files and sockets live in the host and cannot be captured. INIT of a
//!   snapshot has no `/tmp`; open what you need in `after_restore`.
//! - The environment as `init` read it (the Lambda variables and the function's own) is
//!   kept; `AWS_LAMBDA_INITIALIZATION_TYPE` is `snap-start` in both.

use crate::bindings::hearth::runtime::invocation;
use crate::{Config, Context, Error};
use serde::{Serialize, de::DeserializeOwned};
use std::any::Any;
use std::sync::Mutex;

/// A function's initialised state, and SnapStart's runtime hooks.
pub trait SnapStart: Sized + Send + 'static {
    /// INIT: build what every invocation uses. In a snapshot this runs once, at publish.
    fn init(config: &Config) -> Result<Self, Error>;

    /// Runs right before the snapshot is taken, after `init` (release what must not be
    /// captured). Not run when the sandbox starts without a snapshot.
    fn before_snapshot(&mut self) {}

    /// Runs in each sandbox restored from a snapshot, before its first invocation: re-seed
    /// entropy, reopen handles. An error fails the restore (`SnapStartException` to the
    /// caller). Not run when the sandbox starts without a snapshot.
    fn after_restore(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// The state `init` built inside `wizer-initialize`: in linear memory, so in the snapshot.
static INITIALISED: Mutex<Option<Box<dyn Any + Send>>> = Mutex::new(None);

/// What `wizer-initialize` runs ([`snap_start!`](crate::snap_start!) exports it): `init`,
/// then `before_snapshot`, kept for [`run_snap_start`]. An `init` error traps, which fails
/// the snapshot with the error (the version's `StateReason`).
#[doc(hidden)]
pub fn initialize<S: SnapStart>() {
    let config = Config::from_env();
    match S::init(&config) {
        Ok(mut state) => {
            state.before_snapshot();
            *INITIALISED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(state));
        }
        Err(e) => panic!("INIT failed: {}: {}", e.error_type, e.message),
    }
}

/// Serves invocations with state that SnapStart restores: `S` from the snapshot (then
/// `after_restore` runs), or built by `S::init` here when the sandbox did not start from
/// one. Payloads and results are JSON as in [`run`](crate::run). If `init` or
/// `after_restore` fails, the error is reported with `init-fail` and this returns.
pub fn run_snap_start<S, E, R, F>(mut handler: F)
where
    S: SnapStart,
    E: DeserializeOwned,
    R: Serialize,
    F: FnMut(&mut S, E, &Context) -> Result<R, Error>,
{
    let config = Config::from_env();
    let mut state = match start::<S>(&config) {
        Ok(state) => state,
        Err(e) => {
            invocation::init_fail(&e.error_type, &e.message, &[]);
            return;
        }
    };
    crate::serve(&config, |payload, ctx| {
        crate::json_call(payload, |event| handler(&mut state, event, ctx))
    });
}

/// The restored state after its `after_restore`, or a freshly initialised one.
fn start<S: SnapStart>(config: &Config) -> Result<S, Error> {
    let restored = INITIALISED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .and_then(|state| state.downcast::<S>().ok());
    match restored {
        Some(mut state) => {
            state.after_restore()?;
            Ok(*state)
        }
        None => S::init(config),
    }
}

/// Whether this sandbox started from a snapshot (call before [`run_snap_start`] takes the
/// state).
pub fn restored() -> bool {
    INITIALISED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some()
}

/// Exports `wizer-initialize` for a [`SnapStart`] state type: the init boundary hearth runs
/// when it snapshots a published version. Use it once, at the crate root of the function.
#[macro_export]
macro_rules! snap_start {
    ($state:ty) => {
        #[doc(hidden)]
        type __HearthSnapStartState = $state;

        // The generated export glue uses `unsafe` for the canonical ABI.
        #[allow(unsafe_code)]
        #[doc(hidden)]
        mod __hearth_snap_start {
            $crate::__private::wit_bindgen::generate!({
                inline: "package hearth:snapshot; world init { export wizer-initialize: func(); }",
                world: "init",
                runtime_path: "::hearth_sdk::__private::wit_bindgen::rt",
                type_section_suffix: "hearth-snap-start",
            });

            struct Init;

            impl Guest for Init {
                fn wizer_initialize() {
                    $crate::snap_start::initialize::<super::__HearthSnapStartState>();
                }
            }

            export!(Init);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct State {
        built: u32,
        restores: u32,
    }

    impl SnapStart for State {
        fn init(_: &Config) -> Result<Self, Error> {
            Ok(State {
                built: 1,
                restores: 0,
            })
        }
        fn after_restore(&mut self) -> Result<(), Error> {
            self.restores += 1;
            Ok(())
        }
    }

    #[test]
    fn a_restored_state_runs_after_restore_and_a_fresh_one_runs_init() {
        let config = Config::from_env();
        // No snapshot: init runs, after_restore does not.
        assert_eq!(
            start::<State>(&config).expect("init"),
            State {
                built: 1,
                restores: 0
            }
        );
        // A snapshot's state (what `initialize` leaves): after_restore runs, init does not.
        *INITIALISED.lock().expect("lock") = Some(Box::new(State {
            built: 7,
            restores: 0,
        }));
        assert!(restored());
        assert_eq!(
            start::<State>(&config).expect("restore"),
            State {
                built: 7,
                restores: 1
            }
        );
        assert!(!restored());
    }
}
