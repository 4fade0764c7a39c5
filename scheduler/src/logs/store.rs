//! The log store: invocations append without waking anyone; one writer thread drains what
//! accumulated with one `write` per function file, and rotates files that outgrow their
//! bound.
//!
//! Why batched: waking a writer thread for every invocation cost a context switch each on a
//! 2-core machine (15 % of all samples in the writer, most of the workers' kernel time in
//! wake-ups, under load). Now only the append that finds the buffer empty wakes the writer,
//! which then waits [`FLUSH_PERIOD`] for more (or until [`FLUSH_BYTES`] are waiting) before
//! writing. What a crash can lose: the log text of the last [`FLUSH_PERIOD`] (logs are
//! diagnostics, not acknowledged state; nothing a client was told depends on them).
//!
//! Bounded: a function's log file is rotated to `<function>.log.1` (replacing the previous
//! one) when the next write would pass the configured size, so each function keeps at most
//! twice that on disk, plus one write (a batch is written whole: at most [`FLUSH_BYTES`]
//! and what one invocation logged). Reads use logical offsets that keep growing across rotations (`hearth logs -f`
//! follows through them): the bytes rotated away before the current file are recorded in
//! `<function>.log.base`, and a read from before them starts at the current file.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long the writer lets appends accumulate after the first one wakes it.
pub const FLUSH_PERIOD: Duration = Duration::from_millis(20);

/// Buffered bytes that make the writer write at once.
pub const FLUSH_BYTES: usize = 1024 * 1024;

/// Default bound of one function's log file (the rotated copy holds as much again).
pub const DEFAULT_MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Default)]
struct Pending {
    /// Text waiting per function (an empty entry: create the file).
    texts: HashMap<String, Vec<u8>>,
    bytes: usize,
    /// Flushes asked for, and the last one done.
    flush_wanted: u64,
    flush_done: u64,
    closed: bool,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    max_file_bytes: u64,
    pending: Mutex<Pending>,
    /// Wakes the writer.
    work: Condvar,
    /// Wakes [`LogStore::flush`] callers.
    flushed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // The buffers are valid after any partial update.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Closes the writer when the last [`LogStore`] clone goes.
#[derive(Debug)]
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.work.notify_all();
    }
}

/// The log store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LogStore {
    handle: Arc<Handle>,
}

impl LogStore {
    /// Opens (creates) the log directory and starts the writer thread, which ends (after
    /// writing what is buffered) when the last clone is dropped.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        Self::open_bounded(dir, DEFAULT_MAX_LOG_BYTES)
    }

    /// [`LogStore::open`] with each function's file bounded to `max_file_bytes`.
    pub fn open_bounded(dir: impl Into<PathBuf>, max_file_bytes: u64) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let shared = Arc::new(Shared {
            dir,
            max_file_bytes: max_file_bytes.max(1),
            pending: Mutex::default(),
            work: Condvar::new(),
            flushed: Condvar::new(),
        });
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("hearth-logs".into())
            .spawn(move || write_loop(&writer))?;
        Ok(Self {
            handle: Arc::new(Handle(shared)),
        })
    }

    fn shared(&self) -> &Shared {
        &self.handle.0
    }

    /// Appends one invocation's log text to the function's log. Never blocks on the disk
    /// and wakes the writer only when the buffer was empty or is full.
    pub fn append(&self, function: &str, text: Vec<u8>) {
        let shared = self.shared();
        let mut pending = shared.lock();
        let wake = pending.bytes == 0 || pending.bytes + text.len() >= FLUSH_BYTES;
        pending.bytes += text.len();
        match pending.texts.get_mut(function) {
            Some(buf) => buf.extend_from_slice(&text),
            None => {
                pending.texts.insert(function.to_owned(), text);
            }
        }
        drop(pending);
        if wake {
            shared.work.notify_one();
        }
    }

    /// Creates a function's log file ahead of its first invocation (at deploy), so the cold
    /// path creates no inode.
    pub fn create(&self, function: &str) {
        self.append(function, Vec::new());
    }

    /// Waits until everything appended so far is written. Blocking: not for async workers.
    pub fn flush(&self) {
        let shared = self.shared();
        let mut pending = shared.lock();
        pending.flush_wanted += 1;
        let wanted = pending.flush_wanted;
        shared.work.notify_one();
        let deadline = Instant::now() + Duration::from_secs(10);
        while pending.flush_done < wanted && !pending.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            pending = shared
                .flushed
                .wait_timeout(pending, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Up to `max` bytes of a function's log from logical byte `offset`, after flushing
    /// what was appended so far; `None` when there is no log. The returned offset is where
    /// the next read continues. Blocking: call it from `spawn_blocking`.
    pub fn read(
        &self,
        function: &str,
        offset: u64,
        max: usize,
    ) -> std::io::Result<Option<(Vec<u8>, u64)>> {
        use std::io::{Read, Seek, SeekFrom};
        self.flush();
        let dir = &self.shared().dir;
        let mut file = match std::fs::File::open(log_path(dir, function)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let base = read_base(dir, function);
        let len = file.metadata()?.len();
        let start = offset.saturating_sub(base).min(len);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        file.take(max as u64).read_to_end(&mut buf)?;
        let next = base + start + buf.len() as u64;
        Ok(Some((buf, next)))
    }

    /// Where a function's current log file lives.
    pub fn path(&self, function: &str) -> PathBuf {
        log_path(&self.shared().dir, function)
    }
}

fn log_path(dir: &Path, function: &str) -> PathBuf {
    dir.join(format!("{function}.log"))
}

fn base_path(dir: &Path, function: &str) -> PathBuf {
    dir.join(format!("{function}.log.base"))
}

/// Bytes rotated away before the current file (0 when it never rotated).
fn read_base(dir: &Path, function: &str) -> u64 {
    std::fs::read_to_string(base_path(dir, function))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The writer's view of one open log file.
struct OpenLog {
    file: std::fs::File,
    len: u64,
}

fn write_loop(shared: &Shared) {
    let mut files: HashMap<String, OpenLog> = HashMap::new();
    loop {
        let mut pending = shared.lock();
        while pending.bytes == 0
            && pending.texts.is_empty()
            && pending.flush_wanted == pending.flush_done
            && !pending.closed
        {
            pending = shared.work.wait(pending).unwrap_or_else(|e| e.into_inner());
        }
        // Let more appends join this write, unless someone waits or the buffer is full.
        let until = Instant::now() + FLUSH_PERIOD;
        while pending.flush_wanted == pending.flush_done
            && !pending.closed
            && pending.bytes < FLUSH_BYTES
        {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            pending = shared
                .work
                .wait_timeout(pending, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let texts = std::mem::take(&mut pending.texts);
        pending.bytes = 0;
        let flush = pending.flush_wanted;
        let closed = pending.closed;
        drop(pending);
        for (function, text) in texts {
            write_one(shared, &mut files, &function, &text);
        }
        let mut pending = shared.lock();
        pending.flush_done = flush;
        drop(pending);
        shared.flushed.notify_all();
        if closed {
            return;
        }
    }
}

fn write_one(shared: &Shared, files: &mut HashMap<String, OpenLog>, function: &str, text: &[u8]) {
    let dir = &shared.dir;
    if !files.contains_key(function) {
        let path = log_path(dir, function);
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(file) => {
                let len = file.metadata().map_or(0, |m| m.len());
                files.insert(function.to_owned(), OpenLog { file, len });
            }
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "cannot open function log");
                return;
            }
        }
    }
    if text.is_empty() {
        return;
    }
    let Some(log) = files.get_mut(function) else {
        return;
    };
    if log.len > 0 && log.len + text.len() as u64 > shared.max_file_bytes {
        match rotate(dir, function, log.len) {
            Ok(file) => *log = OpenLog { file, len: 0 },
            Err(err) => tracing::warn!(function, %err, "cannot rotate function log"),
        }
    }
    match log.file.write_all(text) {
        Ok(()) => log.len += text.len() as u64,
        Err(err) => tracing::warn!(%err, "cannot write function log"),
    }
}

/// Moves `<function>.log` (of `len` bytes) to `.log.1`, records the new base, and opens a
/// fresh file.
fn rotate(dir: &Path, function: &str, len: u64) -> std::io::Result<std::fs::File> {
    let base = read_base(dir, function) + len;
    let path = log_path(dir, function);
    std::fs::rename(&path, dir.join(format!("{function}.log.1")))?;
    crate::store::write_atomically(&base_path(dir, function), base.to_string().as_bytes())?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_text_reaches_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let logs = LogStore::open(dir.path()).expect("open");
        logs.append("f", b"one\n".to_vec());
        logs.append("f", b"two\n".to_vec());
        logs.flush();
        assert_eq!(std::fs::read(logs.path("f")).expect("read"), b"one\ntwo\n");
    }

    #[test]
    fn created_logs_exist_before_any_text() {
        let dir = tempfile::tempdir().expect("tmp");
        let logs = LogStore::open(dir.path()).expect("open");
        logs.create("g");
        logs.flush();
        assert_eq!(std::fs::read(logs.path("g")).expect("read"), b"");
        assert_eq!(logs.read("g", 0, 100).expect("read"), Some((Vec::new(), 0)));
    }

    #[test]
    fn files_rotate_at_their_bound_and_offsets_keep_growing() {
        let dir = tempfile::tempdir().expect("tmp");
        let logs = LogStore::open_bounded(dir.path(), 10).expect("open");
        logs.append("f", b"0123456\n".to_vec());
        logs.flush();
        let (first, next) = logs.read("f", 0, 100).expect("read").expect("log");
        assert_eq!((first.as_slice(), next), (&b"0123456\n"[..], 8));
        logs.append("f", b"abcdef\n".to_vec());
        logs.flush();
        // The first file was rotated away; a follower at offset 8 reads on.
        let (second, next) = logs.read("f", 8, 100).expect("read").expect("log");
        assert_eq!((second.as_slice(), next), (&b"abcdef\n"[..], 15));
        assert!(dir.path().join("f.log.1").exists());
        // Far behind: starts at what is still there.
        let (from_zero, _) = logs.read("f", 0, 100).expect("read").expect("log");
        assert_eq!(from_zero, b"abcdef\n");
        // Never more than the bound plus its one rotated copy.
        for _ in 0..20 {
            logs.append("f", b"123456789\n".to_vec());
            logs.flush();
        }
        let on_disk: u64 = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").metadata().expect("meta").len())
            .sum();
        assert!(on_disk <= 2 * 10 + 20, "{on_disk} bytes");
    }
}
