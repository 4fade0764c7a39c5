//! The durable queue of accepted `Event` invocations, on [`hearth_journal`].
//!
//! An event is a journal record (its [`QueuedEvent`] as JSON) from acceptance until it ends.
//! Acceptance waits for the journal's group commit, so one `fdatasync` acknowledges every
//! event that arrived while the previous one ran, and no disk work happens on an async
//! worker. A retry's attempt count is rewritten without waiting (losing it to a crash costs
//! one more attempt); the end of an event is a remove, also not waited for (losing it runs
//! the event again: delivery is at least once, as on Lambda).
//!
//! The queue is bounded in events and payload bytes; beyond either an `Event` invoke is
//! refused with `TooManyRequestsException`, so a flood of events meets a clear error rather
//! than an unbounded disk or memory.

use crate::record::QueuedEvent;
use hearth_journal::{Journal, JournalError, Options};
use std::path::Path;
use std::sync::Mutex;

/// Why an event could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue holds its maximum of events or bytes.
    #[error(
        "The asynchronous invocation queue is full ({events} events, {bytes} bytes queued); retry later"
    )]
    Full { events: usize, bytes: u64 },
    /// The journal could not write.
    #[error("cannot queue the event: {0}")]
    Journal(#[from] JournalError),
}

/// How much the queue may hold.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    pub max_events: usize,
    pub max_bytes: u64,
}

#[derive(Debug, Default)]
struct Usage {
    events: usize,
    bytes: u64,
}

/// The queue. Shared by the scheduler.
#[derive(Debug)]
pub struct EventQueue {
    journal: Journal,
    limits: QueueLimits,
    // A std Mutex: two counters, never held across `.await`.
    usage: Mutex<Usage>,
}

impl EventQueue {
    /// Opens the queue under `state_dir` (`events/`) and returns the events a previous run
    /// accepted and did not finish, oldest first. Events left as `queue/<id>.json` files by
    /// earlier versions of hearth are moved into the journal (durably) first. Blocking.
    pub fn open(
        state_dir: &Path,
        limits: QueueLimits,
    ) -> Result<(Self, Vec<QueuedEvent>), QueueError> {
        let (journal, records) = Journal::open_dir(state_dir.join("events"), Options::default())?;
        let mut events = Vec::with_capacity(records.len());
        for record in records {
            match serde_json::from_slice::<QueuedEvent>(&record.payload) {
                Ok(mut event) => {
                    event.journal_id = record.id;
                    events.push(event);
                }
                Err(e) => {
                    // Checksummed, so written by hearth: a format it no longer reads. Keep it
                    // on disk (never removed) and say so.
                    tracing::error!(id = record.id, error = %e, "queued event hearth cannot read; left in the journal");
                }
            }
        }
        for (path, mut event) in legacy_events(&state_dir.join("queue")) {
            let appended = journal.append(serde_json::to_vec(&event).unwrap_or_default());
            // `open` may run on an async worker, where blocking on the acknowledgement is not
            // allowed; a scoped thread waits instead (once, for a migration).
            event.journal_id = std::thread::scope(|s| s.spawn(|| appended.wait()).join())
                .map_err(|_| JournalError::Closed)??;
            events.push(event);
            std::fs::remove_file(&path).map_err(JournalError::from)?;
        }
        events.sort_by_key(|e| e.accepted_unix_ms);
        let usage = Usage {
            events: events.len(),
            bytes: events.iter().map(|e| e.payload.len() as u64).sum(),
        };
        let queue = Self {
            journal,
            limits,
            usage: Mutex::new(usage),
        };
        Ok((queue, events))
    }

    fn usage(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Events and payload bytes queued now.
    pub fn len(&self) -> (usize, u64) {
        let usage = self.usage();
        (usage.events, usage.bytes)
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len().0 == 0
    }

    /// Queues `event` durably: returns once a sync covers it, with its journal id set.
    pub async fn accept(&self, event: &mut QueuedEvent) -> Result<(), QueueError> {
        let bytes = event.payload.len() as u64;
        {
            let mut usage = self.usage();
            if usage.events >= self.limits.max_events
                || usage.bytes.saturating_add(bytes) > self.limits.max_bytes
            {
                return Err(QueueError::Full {
                    events: usage.events,
                    bytes: usage.bytes,
                });
            }
            usage.events += 1;
            usage.bytes += bytes;
        }
        let appended = self
            .journal
            .append(serde_json::to_vec(&*event).unwrap_or_default());
        event.journal_id = appended.id;
        match appended.durable().await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.release(bytes);
                Err(e.into())
            }
        }
    }

    /// Records a retry's attempt count (not waited for).
    pub fn record_attempt(&self, event: &QueuedEvent) {
        drop(self.journal.replace(
            event.journal_id,
            serde_json::to_vec(event).unwrap_or_default(),
        ));
    }

    /// Forgets an event that has ended.
    pub fn finish(&self, event: &QueuedEvent) {
        self.journal.remove(event.journal_id);
        self.release(event.payload.len() as u64);
    }

    fn release(&self, bytes: u64) {
        let mut usage = self.usage();
        usage.events = usage.events.saturating_sub(1);
        usage.bytes = usage.bytes.saturating_sub(bytes);
    }

    /// Resolves once everything sent to the journal so far is on disk.
    pub async fn sync(&self) -> Result<(), QueueError> {
        Ok(self.journal.sync().await?)
    }
}

/// `queue/<request id>.json` files of earlier versions, with their events. A file that
/// cannot be read is left where it is, and said so.
fn legacy_events(dir: &Path) -> Vec<(std::path::PathBuf, QueuedEvent)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&path).map(|b| serde_json::from_slice::<QueuedEvent>(&b)) {
            Ok(Ok(event)) => found.push((path, event)),
            Ok(Err(e)) => {
                tracing::error!(path = %path.display(), error = %e, "unreadable queued event left in place")
            }
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot read queued event; left in place")
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, at: u64) -> QueuedEvent {
        QueuedEvent {
            request_id: id.into(),
            function: "f".into(),
            qualifier: None,
            payload: b"{}".to_vec(),
            accepted_unix_ms: at,
            attempts: 0,
            journal_id: 0,
        }
    }

    const ROOMY: QueueLimits = QueueLimits {
        max_events: 100,
        max_bytes: 1 << 20,
    };

    #[tokio::test]
    async fn events_survive_reopening_until_finished_oldest_first() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let (queue, old) = EventQueue::open(dir.path(), ROOMY).expect("open");
            assert!(old.is_empty());
            let (mut b, mut a) = (event("b", 2), event("a", 1));
            queue.accept(&mut b).await.expect("b");
            queue.accept(&mut a).await.expect("a");
            a.attempts = 1;
            queue.record_attempt(&a);
            queue.finish(&b);
            queue.sync().await.expect("sync");
        }
        let (queue, events) = EventQueue::open(dir.path(), ROOMY).expect("reopen");
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].request_id.as_str(), events[0].attempts),
            ("a", 1)
        );
        assert_eq!(queue.len(), (1, 2));
    }

    #[tokio::test]
    async fn the_queue_is_bounded_in_events_and_bytes() {
        let dir = tempfile::tempdir().expect("tmp");
        let limits = QueueLimits {
            max_events: 2,
            max_bytes: 5,
        };
        let (queue, _) = EventQueue::open(dir.path(), limits).expect("open");
        let mut first = event("1", 1);
        queue.accept(&mut first).await.expect("1");
        queue.accept(&mut event("2", 2)).await.expect("2");
        let full = queue.accept(&mut event("3", 3)).await;
        assert!(matches!(full, Err(QueueError::Full { events: 2, .. })));
        queue.finish(&first);
        let mut big = event("4", 4);
        big.payload = vec![b' '; 4];
        let too_many_bytes = queue.accept(&mut big).await;
        assert!(
            matches!(too_many_bytes, Err(QueueError::Full { .. })),
            "2 + 4 > 5 bytes"
        );
        queue.accept(&mut event("5", 5)).await.expect("room again");
    }

    #[tokio::test]
    async fn legacy_queue_files_move_into_the_journal() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("queue")).expect("mkdir");
        let legacy = dir.path().join("queue/old.json");
        std::fs::write(&legacy, serde_json::to_vec(&event("old", 1)).expect("json")).expect("w");
        std::fs::write(dir.path().join("queue/bad.json"), b"{not json").expect("w");
        let (_, events) = EventQueue::open(dir.path(), ROOMY).expect("open");
        assert_eq!(events.len(), 1);
        assert!(!legacy.exists());
        assert!(
            dir.path().join("queue/bad.json").exists(),
            "unreadable files stay"
        );
        let (_, again) = EventQueue::open(dir.path(), ROOMY).expect("reopen");
        assert_eq!(again.len(), 1, "moved once, kept in the journal");
    }
}
