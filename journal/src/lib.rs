//! hearth's durable queue engine: an append-only journal of checksummed records, written by
//! one thread with group commit.
//!
//! Everything queue-like that hearth acknowledges to a client (accepted `Event` invocations
//! today) is a record here before the acknowledgement goes out. This crate owns the bytes on
//! disk and the commit protocol; it must not know what a record means.
//!
//! # What it assumes of the disk
//!
//! As SQLite and redb do: a write that returned may still be only in the page cache, and
//! after a power cut any suffix of the data written since the last `fdatasync` may be lost or
//! torn (partly written, in any order within that suffix); data that was synced is not lost
//! or changed. Creating, renaming and removing a file is durable once its directory has been
//! synced. Nothing is assumed to be atomic beyond that.
//!
//! # Format
//!
//! The journal is a directory of segments `seg-<n>.log`, `n` ascending, each a sequence of
//! records:
//!
//! ```text
//! len: u32 LE | crc32(body): u32 LE | body = kind: u8 | id: u64 LE | payload (len - 9 bytes)
//! ```
//!
//! `kind` 1 is *put* (record `id` holds `payload`, replacing any earlier put of `id`), 2 is
//! *remove* (record `id` is gone; no payload). A record is live when its last put has no
//! later remove.
//!
//! # Commit protocol
//!
//! Appends go to the newest segment only. The writer thread takes every command that has
//! arrived, encodes them into one buffer, writes it with one `write`, calls `fdatasync` once,
//! and only then acknowledges every put in the batch: one sync covers every record that
//! arrived while the previous one ran (group commit). A put's acknowledgement therefore
//! always follows a sync that covers its bytes; removes are written the same way but nobody
//! waits for them (losing one to a crash runs its record again, which at-least-once delivery
//! allows).
//!
//! If a write or sync fails, the segment is truncated back to its last synced length and the
//! batch is refused; if even that fails the journal refuses every later append rather than
//! write after bytes it cannot vouch for.
//!
//! # Recovery
//!
//! On open, segments are read in order. Only the newest segment can end in a torn record (an
//! older one was synced whole before the next was created), so a bad length or checksum
//! there truncates the segment at the last good record; anywhere else it is corruption, and
//! opening fails naming the segment and offset rather than dropping what follows.
//!
//! # Space
//!
//! When the newest segment passes [`Options::segment_bytes`], a new one is started, the live
//! records of the oldest segment are carried forward into it (synced), and the oldest
//! segment is removed, as is every older segment left with no live record. Write
//! amplification is at most one segment's worth per rotation, and a record that lives for
//! hours does not pin every segment written after it. Segments are removed oldest first
//! only, so a remove record is never dropped while the put it cancels is still on disk.
//!
//! Layout:
//! - [`atomic`]: whole-file writes (temp, fsync, rename, fsync of the directory) for the
//!   state kept one file per record.
//! - [`disk`]: the [`Disk`] trait the engine writes through, and [`FsDisk`].
//! - [`sim`]: [`sim::SimDisk`], a disk that keeps synced and unsynced bytes apart and can
//!   lose the unsynced ones, for crash tests.
//! - `format`: encoding and decoding of records; `writer`: the writer thread.

pub mod atomic;
pub mod disk;
mod format;
pub mod sim;
mod writer;

pub use disk::{Disk, FsDisk};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

/// Settings of a journal.
#[derive(Debug, Clone)]
pub struct Options {
    /// Size past which the newest segment is closed and a new one started.
    pub segment_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            segment_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why the journal could not open or write.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    /// The disk refused a read, write or sync.
    #[error("journal I/O error: {0}")]
    Io(String),
    /// A segment other than the newest holds a record that fails its checksum.
    #[error("journal segment {segment} is corrupt at byte {offset}: {why}")]
    Corrupt {
        segment: String,
        offset: u64,
        why: &'static str,
    },
    /// An earlier write failed and could not be undone: nothing more is written.
    #[error("the journal stopped after a write it could not undo: {0}")]
    Poisoned(String),
    /// The writer thread is gone (the journal was dropped).
    #[error("the journal is closed")]
    Closed,
}

impl From<std::io::Error> for JournalError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e.to_string())
    }
}

/// A live record found when the journal was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: u64,
    pub payload: Vec<u8>,
}

/// The journal. Cheap to clone; the writer thread ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Journal {
    tx: std::sync::mpsc::Sender<writer::Command>,
    next_id: Arc<AtomicU64>,
}

/// An append on its way to disk.
#[derive(Debug)]
pub struct Appended {
    /// The record's id, for [`Journal::replace`] and [`Journal::remove`].
    pub id: u64,
    durable: oneshot::Receiver<Result<(), JournalError>>,
}

impl Appended {
    /// Resolves once a sync covers the record.
    pub async fn durable(self) -> Result<u64, JournalError> {
        self.durable.await.map_err(|_| JournalError::Closed)??;
        Ok(self.id)
    }

    /// [`Appended::durable`] for a thread outside the async runtime.
    pub fn wait(self) -> Result<u64, JournalError> {
        self.durable
            .blocking_recv()
            .map_err(|_| JournalError::Closed)??;
        Ok(self.id)
    }
}

impl Journal {
    /// Opens the journal in `dir` (creating it) on the real file system.
    pub fn open_dir(
        dir: impl Into<std::path::PathBuf>,
        options: Options,
    ) -> Result<(Self, Vec<Record>), JournalError> {
        Self::open(FsDisk::open(dir)?, options)
    }

    /// Opens the journal on `disk`: recovers it (see the crate doc) and returns it with its
    /// live records in id order. Blocking: reads every segment.
    pub fn open<D: Disk>(disk: D, options: Options) -> Result<(Self, Vec<Record>), JournalError> {
        let (writer, records, next_id) = writer::Writer::recover(disk, options)?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("hearth-journal".into())
            .spawn(move || writer.run(rx))
            .map_err(JournalError::from)?;
        let journal = Self {
            tx,
            next_id: Arc::new(AtomicU64::new(next_id)),
        };
        Ok((journal, records))
    }

    /// Appends a new record; [`Appended::durable`] resolves once it is synced.
    pub fn append(&self, payload: Vec<u8>) -> Appended {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.put(id, payload)
    }

    /// Replaces record `id`'s payload; the returned handle may be awaited or dropped.
    pub fn replace(&self, id: u64, payload: Vec<u8>) -> Appended {
        self.put(id, payload)
    }

    fn put(&self, id: u64, payload: Vec<u8>) -> Appended {
        let (ack, durable) = oneshot::channel();
        if let Err(std::sync::mpsc::SendError(writer::Command::Put { ack, .. })) =
            self.tx.send(writer::Command::Put { id, payload, ack })
        {
            let _ = ack.send(Err(JournalError::Closed));
        }
        Appended { id, durable }
    }

    /// Removes record `id` (written with the next commit; nobody waits for it).
    pub fn remove(&self, id: u64) {
        let _ = self.tx.send(writer::Command::Remove { id });
    }

    /// Resolves once everything sent before it is synced.
    pub async fn sync(&self) -> Result<(), JournalError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(writer::Command::Barrier { ack })
            .map_err(|_| JournalError::Closed)?;
        done.await.map_err(|_| JournalError::Closed)?
    }
}

/// The epoch-millisecond clock of the engines over the journal (queues, streams): wall time
/// at start plus tokio's monotonic time since, so tests on paused tokio time move it.
#[derive(Debug, Clone)]
pub struct Clock {
    base_ms: u64,
    start: tokio::time::Instant,
}

impl Clock {
    pub fn new() -> Self {
        let base_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            base_ms,
            start: tokio::time::Instant::now(),
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.base_ms + self.start.elapsed().as_millis() as u64
    }

    /// The tokio instant at which the clock reads `ms`.
    pub fn instant_at(&self, ms: u64) -> tokio::time::Instant {
        self.start + std::time::Duration::from_millis(ms.saturating_sub(self.base_ms))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
