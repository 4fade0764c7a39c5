//! Per-sandbox `/tmp` directories, recycled.
//!
//! Making and removing a directory costs tens of µs on a journaling filesystem (ext4 writes
//! the inode both ways), a large share of a cold start. So a sandbox's directory goes back
//! to a free list when the sandbox is gone, provided it is empty; a directory the guest
//! wrote to is removed with everything in it and never reused. A reused directory is
//! therefore exactly as empty as a fresh one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Most empty directories kept for reuse per function version.
const MAX_FREE: usize = 256;

/// The directories of one function version's sandboxes.
#[derive(Debug)]
pub struct TmpDirs {
    root: PathBuf,
    // A std Mutex: a push or pop, never held across `.await`.
    /// Empty directories ready for reuse, with their mtime when last found empty.
    free: Mutex<Vec<(PathBuf, Option<SystemTime>)>>,
}

impl TmpDirs {
    pub fn new(root: impl Into<PathBuf>) -> Arc<Self> {
        Arc::new(Self {
            root: root.into(),
            free: Mutex::default(),
        })
    }

    /// An empty directory for a new sandbox.
    pub fn take(self: &Arc<Self>) -> std::io::Result<TmpDir> {
        let reused = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let (path, empty_mtime) = match reused {
            Some(found) => found,
            None => {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let path = self.root.join(format!("sbx-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&path)?;
                let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                (path, mtime)
            }
        };
        Ok(TmpDir {
            path,
            empty_mtime,
            owner: self.clone(),
        })
    }
}

impl Drop for TmpDirs {
    fn drop(&mut self) {
        for (path, _) in self
            .free
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = std::fs::remove_dir(path);
        }
    }
}

/// One sandbox's `/tmp`. Dropping it empties it (or removes it).
#[derive(Debug)]
pub struct TmpDir {
    path: PathBuf,
    /// The directory's mtime when it was known to be empty (it is handed out empty).
    empty_mtime: Option<SystemTime>,
    owner: Arc<TmpDirs>,
}

impl TmpDir {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A watcher of this directory against `limit_mb`, knowing it starts out empty.
    pub fn usage(&self, limit_mb: u64) -> TmpUsage {
        TmpUsage::new(self.path.clone(), limit_mb, self.empty_mtime)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let empty = std::fs::read_dir(&self.path).is_ok_and(|mut entries| entries.next().is_none());
        if empty {
            let mut free = self.owner.free.lock().unwrap_or_else(|e| e.into_inner());
            if free.len() < MAX_FREE {
                // Its mtime is not recorded: the first check of its next sandbox walks it.
                free.push((std::mem::take(&mut self.path), None));
                return;
            }
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Watches one sandbox's `/tmp` against its size limit (`EphemeralStorage.Size`).
///
/// There is no quota hook in WASI's filesystem, so the limit is checked from outside: after
/// every invocation, and every 50 ms of guest execution from the epoch callback while one
/// runs. A guest can overshoot by what it writes between two checks; then the sandbox is
/// stopped and its `/tmp` removed.
///
/// Cost: while the directory is empty and was last changed long enough ago, a check is one
/// `stat` of the directory (creating or removing an entry changes its mtime). Otherwise it
/// walks the tree, stopping as soon as the limit is passed. "Long enough ago" covers the
/// filesystem's coarse timestamp granularity: an entry created in the same clock tick as the
/// last change could leave the mtime as it was, so a recent mtime proves nothing.
#[derive(Debug)]
pub struct TmpUsage {
    path: PathBuf,
    limit_bytes: u64,
    /// The directory's mtime when it was last found empty, if that mtime was old enough.
    empty_since: Option<SystemTime>,
    /// When [`TmpUsage::due`] last said yes.
    last_check: Option<std::time::Instant>,
}

/// How often a sandbox that runs only short invocations has its `/tmp` measured.
pub const CHECK_PERIOD: std::time::Duration = std::time::Duration::from_millis(50);

/// Margin over the kernel's coarse timestamp granularity (a few ms).
const MTIME_GRANULARITY: std::time::Duration = std::time::Duration::from_millis(20);

impl TmpUsage {
    /// `empty_mtime`: the directory's mtime when it was last seen empty, if known.
    pub fn new(path: PathBuf, limit_mb: u64, empty_mtime: Option<SystemTime>) -> Self {
        Self {
            path,
            limit_bytes: limit_mb.saturating_mul(1024 * 1024),
            empty_since: empty_mtime.filter(|m| settled(*m, SystemTime::now())),
            // Handed out empty: as good as a check just now.
            last_check: Some(std::time::Instant::now()),
        }
    }

    /// Whether an invocation that just ended after `ran` should be followed by a check: any
    /// invocation of 1 ms or more, and otherwise one every [`CHECK_PERIOD`]. In under 1 ms a
    /// guest writes at most a few MB, so the overshoot stays bounded while a stream of tiny
    /// invocations pays for one `fstat` per 50 ms instead of one each.
    pub fn due(&mut self, ran: std::time::Duration) -> bool {
        let now = std::time::Instant::now();
        let due = ran >= std::time::Duration::from_millis(1)
            || self
                .last_check
                .is_none_or(|t| now.duration_since(t) >= CHECK_PERIOD);
        if due {
            self.last_check = Some(now);
        }
        due
    }

    /// The limit, MB.
    pub fn limit_mb(&self) -> u64 {
        self.limit_bytes / (1024 * 1024)
    }

    /// Whether `/tmp` holds more than the limit.
    pub fn exceeded(&mut self) -> bool {
        let Ok(mtime) = std::fs::metadata(&self.path).and_then(|m| m.modified()) else {
            return false;
        };
        if self.empty_since == Some(mtime) {
            return false;
        }
        let now = SystemTime::now();
        let mut used = 0;
        let mut entries = 0;
        let over = walk(&self.path, self.limit_bytes, &mut used, &mut entries);
        self.empty_since = (entries == 0 && settled(mtime, now)).then_some(mtime);
        over
    }
}

/// Whether an mtime is far enough in the past that a later change must move it.
fn settled(mtime: SystemTime, now: SystemTime) -> bool {
    now.duration_since(mtime)
        .is_ok_and(|age| age >= MTIME_GRANULARITY)
}

/// Adds the sizes of the files under `dir` to `used`; true as soon as it passes `limit`.
fn walk(dir: &Path, limit: u64, used: &mut u64, entries: &mut u64) -> bool {
    let Ok(read) = std::fs::read_dir(dir) else {
        return false;
    };
    for entry in read.flatten() {
        *entries += 1;
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            if walk(&entry.path(), limit, used, entries) {
                return true;
            }
        } else {
            *used = used.saturating_add(meta.len());
        }
        if *used > limit {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_dirs_are_reused_and_written_ones_removed() {
        let root = tempfile::tempdir().expect("tmp");
        let dirs = TmpDirs::new(root.path());
        let a = dirs.take().expect("a");
        let a_path = a.path().to_owned();
        drop(a);
        let b = dirs.take().expect("b");
        assert_eq!(b.path(), a_path, "the empty directory is reused");
        std::fs::write(b.path().join("file"), b"x").expect("write");
        drop(b);
        assert!(!a_path.exists(), "a directory with content is removed");
        let c = dirs.take().expect("c");
        assert_ne!(c.path(), a_path);
        assert_eq!(std::fs::read_dir(c.path()).expect("dir").count(), 0);
    }

    #[test]
    fn usage_over_the_limit_is_seen_in_nested_directories() {
        let root = tempfile::tempdir().expect("tmp");
        let mut usage = TmpUsage::new(root.path().to_owned(), 1, None);
        assert!(!usage.exceeded(), "empty");
        assert!(!usage.exceeded(), "still empty (stat only)");
        std::fs::create_dir(root.path().join("d")).expect("mkdir");
        std::fs::write(root.path().join("d/a"), vec![0u8; 600 * 1024]).expect("write");
        assert!(!usage.exceeded(), "600 KB < 1 MB");
        std::fs::write(root.path().join("d/b"), vec![0u8; 600 * 1024]).expect("write");
        assert!(usage.exceeded(), "1.2 MB > 1 MB");
    }
}
