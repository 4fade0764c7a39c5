//! The durable queue of accepted `Event` invocations: a queue of hearth's own in a
//! [`hearth_queue::Engine`] (under `async-events/`), the engine every SQS queue uses.
//!
//! An event is one message (its [`QueuedEvent`] as JSON) from acceptance until it ends.
//! Acceptance is a send, which returns once the engine's group commit covers it, so one
//! `fdatasync` acknowledges every event that arrived while the previous one ran and no disk
//! work happens on an async worker. The consumer receives events as any SQS consumer does
//! and holds each in flight while it runs; a retry's attempt count is rewritten into the
//! message without waiting (losing it to a crash costs one more attempt); the end of an
//! event is a delete. In-flight visibility is not persisted, so after a crash or restart
//! every unfinished event is received again at once: delivery is at least once, as on
//! Lambda.
//!
//! The queue is bounded in events and stored bytes; beyond either an `Event` invoke is
//! refused with `TooManyRequestsException`, so a flood of events meets a clear error rather
//! than an unbounded disk or memory.

use crate::record::QueuedEvent;
use hearth_journal::{Journal, JournalError, Options};
use hearth_queue::config::QueueConfig;
use hearth_queue::{Engine, EngineConfig, NewMessage, ReceiveOptions, SqsError};
use hearth_runtime_api::limits::MAX_ASYNC_PAYLOAD_BYTES;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The queue's name inside its engine.
const QUEUE: &str = "events";

/// Why an event could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue holds its maximum of events or bytes.
    #[error(
        "The asynchronous invocation queue is full ({events} events, {bytes} bytes queued); retry later"
    )]
    Full { events: usize, bytes: u64 },
    /// The engine could not write.
    #[error("cannot queue the event: {0}")]
    Storage(String),
}

impl From<SqsError> for QueueError {
    fn from(e: SqsError) -> Self {
        Self::Storage(e.to_string())
    }
}

impl From<JournalError> for QueueError {
    fn from(e: JournalError) -> Self {
        Self::Storage(e.to_string())
    }
}

/// How much the queue may hold.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    pub max_events: usize,
    /// Bytes of the stored events (payload in base64 and the event's metadata).
    pub max_bytes: u64,
}

#[derive(Debug, Default)]
struct Usage {
    events: usize,
    bytes: u64,
}

/// Events stored by earlier versions of hearth, to be moved into the queue
/// ([`EventQueue::adopt`]) and then removed.
#[derive(Debug, Default)]
pub struct Legacy {
    events: Vec<QueuedEvent>,
    /// The `events/` journal of the version before the engine.
    journal_dir: Option<PathBuf>,
    /// `queue/<id>.json` files of the version before that.
    files: Vec<PathBuf>,
}

impl Legacy {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.journal_dir.is_none()
    }
}

/// The queue. Shared by the scheduler.
#[derive(Debug)]
pub struct EventQueue {
    engine: Engine,
    limits: QueueLimits,
    // A std Mutex: two counters, never held across `.await`.
    usage: Mutex<Usage>,
}

/// A received event and the handle that ends it.
#[derive(Debug)]
pub struct Delivery {
    pub event: QueuedEvent,
    handle: String,
    /// The bytes it counts for in the queue's bound.
    bytes: u64,
}

impl EventQueue {
    /// Opens the queue under `state_dir` (`async-events/`), with the events a previous run
    /// accepted and did not finish (they are received again at once), and finds the events
    /// earlier versions of hearth stored elsewhere. Blocking (reads the journals).
    pub fn open(state_dir: &Path, limits: QueueLimits) -> Result<(Self, Legacy), QueueError> {
        let engine = Engine::open(
            &state_dir.join("async-events"),
            EngineConfig {
                // The queue's own bound is checked first; this one leaves room for the
                // attempt counts rewritten into queued events.
                max_bytes: limits.max_bytes.saturating_add(1 << 20),
                max_queues: 1,
                max_in_flight: limits.max_events.max(1),
                ..Default::default()
            },
        )?;
        let mut config = QueueConfig::from(std::collections::BTreeMap::new());
        // Events end by their function's MaximumEventAgeInSeconds (at most 6 h), never by
        // retention; and an event is a whole Event payload in base64 with its metadata.
        config.retention_seconds = u32::MAX;
        config.maximum_message_size = MAX_ASYNC_PAYLOAD_BYTES * 2;
        config.visibility_timeout = 43_200;
        engine.own_queue(QUEUE, config);
        let usage = engine
            .summaries()
            .into_iter()
            .find(|q| q.name == QUEUE)
            .map(|q| Usage {
                events: q.visible + q.in_flight + q.delayed,
                bytes: q.bytes,
            })
            .unwrap_or_default();
        if usage.events > 0 {
            tracing::info!(count = usage.events, "resuming queued Event invocations");
        }
        let mut legacy = Legacy::default();
        let old = state_dir.join("events");
        if old.is_dir() {
            let (journal, records) = Journal::open_dir(&old, Options::default())?;
            drop(journal);
            for record in records {
                match serde_json::from_slice::<QueuedEvent>(&record.payload) {
                    Ok(event) => legacy.events.push(event),
                    // Checksummed, so written by hearth: a format it no longer reads. The
                    // old journal is then kept (never removed) and said so.
                    Err(e) => {
                        tracing::error!(id = record.id, error = %e, "queued event hearth cannot read; its journal is left in place");
                        legacy.events.clear();
                        break;
                    }
                }
            }
            legacy.journal_dir = Some(old);
        }
        for (path, event) in legacy_events(&state_dir.join("queue")) {
            legacy.events.push(event);
            legacy.files.push(path);
        }
        let queue = Self {
            engine,
            limits,
            usage: Mutex::new(usage),
        };
        Ok((queue, legacy))
    }

    /// Moves the events of earlier versions into the queue (each durably, past the bound:
    /// they were acknowledged), then removes where they were.
    pub async fn adopt(&self, legacy: Legacy) -> Result<(), QueueError> {
        let unreadable = legacy.journal_dir.is_some() && legacy.events.is_empty();
        for event in &legacy.events {
            self.enqueue(event, false).await?;
        }
        if let Some(dir) = legacy.journal_dir.filter(|_| !unreadable) {
            tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir))
                .await
                .map_err(|e| QueueError::Storage(e.to_string()))?
                .map_err(JournalError::from)?;
        }
        for path in legacy.files {
            tokio::fs::remove_file(&path)
                .await
                .map_err(JournalError::from)?;
        }
        Ok(())
    }

    fn usage(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Events and stored bytes queued now.
    pub fn len(&self) -> (usize, u64) {
        let usage = self.usage();
        (usage.events, usage.bytes)
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len().0 == 0
    }

    /// Queues `event` durably: returns once a sync covers it.
    pub async fn accept(&self, event: &QueuedEvent) -> Result<(), QueueError> {
        self.enqueue(event, true).await
    }

    /// Sends `event`, within the queue's bounds when `bounded`.
    async fn enqueue(&self, event: &QueuedEvent, bounded: bool) -> Result<(), QueueError> {
        let body = serde_json::to_string(event).unwrap_or_default();
        let bytes = body.len() as u64;
        {
            let mut usage = self.usage();
            if bounded
                && (usage.events >= self.limits.max_events
                    || usage.bytes.saturating_add(bytes) > self.limits.max_bytes)
            {
                return Err(QueueError::Full {
                    events: usage.events,
                    bytes: usage.bytes,
                });
            }
            usage.events += 1;
            usage.bytes += bytes;
        }
        let sent = self.send_body(body).await;
        if sent.is_err() {
            self.release(bytes);
        }
        sent
    }

    async fn send_body(&self, body: String) -> Result<(), QueueError> {
        let message = NewMessage {
            body,
            ..Default::default()
        };
        match self.engine.send(QUEUE, vec![message]).await?.pop() {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.into()),
            None => Err(QueueError::Storage("the event was not queued".into())),
        }
    }

    /// The next events to run, waiting up to 20 s for one. Each stays in flight until it
    /// is finished. An event hearth cannot read is left in the queue, in flight, and said so.
    pub async fn next(&self) -> Result<Vec<Delivery>, QueueError> {
        let options = ReceiveOptions {
            max: 10,
            wait_seconds: Some(20),
            visibility_timeout: Some(43_200),
        };
        let received = self.engine.receive(QUEUE, options).await?;
        Ok(received
            .into_iter()
            .filter_map(|m| match serde_json::from_str::<QueuedEvent>(&m.body) {
                Ok(event) => Some(Delivery {
                    event,
                    bytes: m.body.len() as u64,
                    handle: m.receipt_handle,
                }),
                Err(e) => {
                    tracing::error!(message = %m.message_id, error = %e, "queued event hearth cannot read; left in the queue");
                    None
                }
            })
            .collect())
    }

    /// Records a retry's attempt count (not waited for).
    pub fn record_attempt(&self, delivery: &Delivery) {
        let body = serde_json::to_string(&delivery.event).unwrap_or_default();
        if let Err(e) = self.engine.rewrite(QUEUE, &delivery.handle, body) {
            tracing::warn!(request_id = %delivery.event.request_id, error = %e, "attempt count not recorded");
        }
    }

    /// Forgets an event that has ended.
    pub async fn finish(&self, delivery: &Delivery) {
        let bytes = delivery.bytes;
        match self
            .engine
            .delete(QUEUE, std::slice::from_ref(&delivery.handle))
            .await
        {
            Ok(_) => self.release(bytes),
            Err(e) => {
                tracing::warn!(request_id = %delivery.event.request_id, error = %e, "finished event not removed: it runs again after a restart")
            }
        }
    }

    fn release(&self, bytes: u64) {
        let mut usage = self.usage();
        usage.events = usage.events.saturating_sub(1);
        usage.bytes = usage.bytes.saturating_sub(bytes);
    }

    /// Resolves once everything sent to the queue so far is on disk.
    pub async fn sync(&self) -> Result<(), QueueError> {
        Ok(self.engine.sync().await?)
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
        }
    }

    const ROOMY: QueueLimits = QueueLimits {
        max_events: 100,
        max_bytes: 1 << 20,
    };

    async fn all(queue: &EventQueue) -> Vec<Delivery> {
        let mut out = Vec::new();
        while out.len() < queue.len().0 {
            out.extend(queue.next().await.expect("next"));
        }
        out.sort_by_key(|d| d.event.accepted_unix_ms);
        out
    }

    #[tokio::test]
    async fn events_survive_reopening_until_finished_with_their_attempts() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let (queue, legacy) = EventQueue::open(dir.path(), ROOMY).expect("open");
            assert!(legacy.is_empty() && queue.is_empty());
            queue.accept(&event("b", 2)).await.expect("b");
            queue.accept(&event("a", 1)).await.expect("a");
            let mut got = all(&queue).await;
            assert_eq!(got.len(), 2);
            got[0].event.attempts = 1;
            queue.record_attempt(&got[0]);
            queue.finish(&got[1]).await;
            queue.sync().await.expect("sync");
        }
        // Held in flight by the run that stopped: received again at once.
        let (queue, _) = EventQueue::open(dir.path(), ROOMY).expect("reopen");
        assert_eq!(queue.len().0, 1);
        let got = all(&queue).await;
        assert_eq!(
            (got[0].event.request_id.as_str(), got[0].event.attempts),
            ("a", 1)
        );
    }

    #[tokio::test]
    async fn the_queue_is_bounded_in_events_and_bytes() {
        let dir = tempfile::tempdir().expect("tmp");
        let one = serde_json::to_string(&event("1", 1)).expect("json").len() as u64;
        let limits = QueueLimits {
            max_events: 2,
            max_bytes: 2 * one + 2,
        };
        let (queue, _) = EventQueue::open(dir.path(), limits).expect("open");
        queue.accept(&event("1", 1)).await.expect("1");
        queue.accept(&event("2", 2)).await.expect("2");
        let full = queue.accept(&event("3", 3)).await;
        assert!(matches!(full, Err(QueueError::Full { events: 2, .. })));
        let first = queue.next().await.expect("next").remove(0);
        queue.finish(&first).await;
        let mut big = event("4", 4);
        big.payload = vec![b' '; 6];
        let too_many_bytes = queue.accept(&big).await;
        assert!(
            matches!(too_many_bytes, Err(QueueError::Full { .. })),
            "one event plus a bigger one is past the byte bound"
        );
        queue.accept(&event("5", 5)).await.expect("room again");
    }

    #[tokio::test]
    async fn events_of_earlier_versions_move_into_the_queue() {
        let dir = tempfile::tempdir().expect("tmp");
        // The journal of the version before the engine...
        {
            let (journal, _) =
                Journal::open_dir(dir.path().join("events"), Options::default()).expect("j");
            let bytes = serde_json::to_vec(&event("journaled", 2)).expect("json");
            journal.append(bytes).durable().await.expect("append");
        }
        // ...and the files of the one before that.
        std::fs::create_dir_all(dir.path().join("queue")).expect("mkdir");
        let file = dir.path().join("queue/old.json");
        std::fs::write(&file, serde_json::to_vec(&event("old", 1)).expect("json")).expect("w");
        std::fs::write(dir.path().join("queue/bad.json"), b"{not json").expect("w");
        {
            let (queue, legacy) = EventQueue::open(dir.path(), ROOMY).expect("open");
            assert!(!legacy.is_empty());
            queue.adopt(legacy).await.expect("adopt");
            assert_eq!(queue.len().0, 2);
        }
        assert!(!file.exists() && !dir.path().join("events").exists());
        assert!(
            dir.path().join("queue/bad.json").exists(),
            "unreadable files stay"
        );
        let (queue, legacy) = EventQueue::open(dir.path(), ROOMY).expect("reopen");
        assert!(legacy.is_empty(), "moved once");
        let got = all(&queue).await;
        let ids: Vec<&str> = got.iter().map(|d| d.event.request_id.as_str()).collect();
        assert_eq!(ids, ["old", "journaled"]);
    }
}
