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

/// Most empty directories kept for reuse per function version.
const MAX_FREE: usize = 256;

/// The directories of one function version's sandboxes.
#[derive(Debug)]
pub struct TmpDirs {
    root: PathBuf,
    // A std Mutex: a push or pop, never held across `.await`.
    /// Empty directories ready for reuse.
    free: Mutex<Vec<PathBuf>>,
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
        let path = match reused {
            Some(found) => found,
            None => {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let path = self.root.join(format!("sbx-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&path)?;
                path
            }
        };
        Ok(TmpDir {
            path,
            owner: self.clone(),
        })
    }
}

impl Drop for TmpDirs {
    fn drop(&mut self) {
        for path in self
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
    owner: Arc<TmpDirs>,
}

impl TmpDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let empty = std::fs::read_dir(&self.path).is_ok_and(|mut entries| entries.next().is_none());
        if empty {
            let mut free = self.owner.free.lock().unwrap_or_else(|e| e.into_inner());
            if free.len() < MAX_FREE {
                free.push(std::mem::take(&mut self.path));
                return;
            }
        }
        remove_later(std::mem::take(&mut self.path));
    }
}

/// Removes directories a guest wrote to, on a thread of its own: a tree of thousands of
/// files takes a while to delete, and a sandbox is often dropped on an async worker.
fn remove_later(path: PathBuf) {
    static REMOVER: std::sync::OnceLock<Option<Mutex<std::sync::mpsc::Sender<PathBuf>>>> =
        std::sync::OnceLock::new();
    let sender = REMOVER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<PathBuf>();
        std::thread::Builder::new()
            .name("hearth-tmp-remover".into())
            .spawn(move || {
                for path in rx {
                    let _ = std::fs::remove_dir_all(path);
                }
            })
            .ok()
            .map(|_| Mutex::new(tx))
    });
    let queued = sender.as_ref().map(|tx| {
        tx.lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(path.clone())
    });
    if !matches!(queued, Some(Ok(()))) {
        let _ = std::fs::remove_dir_all(path);
    }
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
        // Removed on the remover thread: wait for it (bounded).
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while a_path.exists() {
            assert!(
                std::time::Instant::now() < until,
                "a directory with content is removed"
            );
            std::thread::yield_now();
        }
        let c = dirs.take().expect("c");
        assert_ne!(c.path(), a_path);
        assert_eq!(std::fs::read_dir(c.path()).expect("dir").count(), 0);
    }
}
