//! The clock the asynchronous-invocation policy waits on: retry delays, throttle backoff,
//! and the age that `MaximumEventAgeInSeconds` bounds.
//!
//! Lambda's timings are minutes and hours. [`TokioClock`] is the real one; [`ManualClock`]
//! lets a test see each wait the policy starts and move time past it, so Lambda's own
//! numbers are tested exactly and in milliseconds. Invocations themselves (deadlines,
//! INIT) keep tokio's real clock: only the policy's waits are virtual.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

/// A monotonic clock that can sleep.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Time since some fixed start.
    fn now(&self) -> Duration;
    /// Completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// tokio's clock.
#[derive(Debug)]
pub struct TokioClock {
    start: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        Self {
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that moves only when told to. Each `sleep` is a pending wait the test can see
/// ([`ManualClock::pending`]) and end by advancing past it.
#[derive(Debug, Default)]
pub struct ManualClock {
    state: Mutex<ManualState>,
    /// Woken whenever a wait starts.
    waits_changed: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct ManualState {
    now: Duration,
    /// Deadline and waker of every wait in progress.
    waits: Vec<(Duration, tokio::sync::oneshot::Sender<()>)>,
}

impl ManualClock {
    /// The remaining time of every wait in progress, shortest first.
    pub fn pending(&self) -> Vec<Duration> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut left: Vec<Duration> = state
            .waits
            .iter()
            .filter(|(_, tx)| !tx.is_closed())
            .map(|(at, _)| at.saturating_sub(state.now))
            .collect();
        left.sort();
        left
    }

    /// Moves time forward by `by`, ending every wait whose deadline it reaches.
    pub fn advance(&self, by: Duration) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.now += by;
        let now = state.now;
        let (due, waiting): (Vec<_>, Vec<_>) =
            state.waits.drain(..).partition(|(at, _)| *at <= now);
        state.waits = waiting;
        drop(state);
        for (_, tx) in due {
            let _ = tx.send(());
        }
    }

    /// Waits (on the real clock, at most `limit`) until some wait is in progress, and
    /// returns the shortest remaining time; `None` if none started in time.
    pub async fn next_wait(&self, limit: Duration) -> Option<Duration> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.waits_changed.notified();
            if let Some(first) = self.pending().first() {
                return Some(*first);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).now
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let at = state.now + duration;
            if duration.is_zero() {
                return Box::pin(std::future::ready(()));
            }
            state.waits.push((at, tx));
        }
        self.waits_changed.notify_waiters();
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_wait_ends_exactly_when_time_reaches_it() {
        let clock = std::sync::Arc::new(ManualClock::default());
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(Duration::from_secs(60)).await })
        };
        assert_eq!(
            clock.next_wait(Duration::from_secs(5)).await,
            Some(Duration::from_secs(60))
        );
        clock.advance(Duration::from_secs(59));
        assert_eq!(clock.pending(), vec![Duration::from_secs(1)]);
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(1));
        sleeper.await.expect("woken");
        assert!(clock.pending().is_empty());
        assert_eq!(clock.now(), Duration::from_secs(60));
    }
}
