//! Durable state under the state directory.
//!
//! Layout:
//! - `functions/<name>.json`: one [`FunctionRecord`] per function — configuration of
//!   `$LATEST` and every published version, aliases, concurrency, event-invoke configs,
//!   provisioned concurrency, tags.
//! - `code/<sha256 hex>.wasm`: components, content-addressed (written once, never changed).
//! - `async-events/`: accepted `Event` invocations not yet finished ([`crate::event_queue`]);
//!   `queues/`: the SQS queues. Both are [`hearth_queue::Engine`]s, with journals of their own.
//!
//! Every write is a temp file, `fsync`, `rename` over the old one, `fsync` of the directory:
//! after a crash at any point a reader sees the old file or the new one, never a mix, and
//! whatever was acknowledged to a client is on disk.

use crate::record::FunctionRecord;
use std::path::PathBuf;

/// Handle on the state directory.
#[derive(Debug, Clone)]
pub struct StateStore {
    root: PathBuf,
}

impl StateStore {
    /// Opens (creates) the directories.
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        for dir in ["functions", "code"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        Ok(Self { root })
    }

    /// Where a function's record lives.
    pub fn function_file(&self, name: &str) -> PathBuf {
        self.function_path(name)
    }

    fn function_path(&self, name: &str) -> PathBuf {
        self.root.join("functions").join(format!("{name}.json"))
    }

    /// Writes a function's record atomically.
    pub fn save_function(&self, record: &FunctionRecord) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        write_atomically(&self.function_path(&record.name), &bytes)
    }

    /// Removes a function's record (its code stays: other versions or functions may share it).
    pub fn delete_function(&self, name: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.function_path(name)) {
            Ok(()) => sync_dir(&self.root.join("functions")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every function record on disk. A record that cannot be read or parsed is an error
    /// naming the file: starting without it would treat its function's queued events as
    /// orphans, and nothing acknowledged may be dropped that way.
    pub fn load_functions(&self) -> std::io::Result<Vec<FunctionRecord>> {
        let mut records = Vec::new();
        for entry in std::fs::read_dir(self.root.join("functions"))? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue; // leftovers of an interrupted write (`.tmp-*`)
            }
            let refuse = |why: String| {
                std::io::Error::other(format!(
                    "function record {}: {why}; fix the file or move it out of the state directory to start without that function",
                    path.display()
                ))
            };
            let bytes = std::fs::read(&path).map_err(|e| refuse(e.to_string()))?;
            let record = serde_json::from_slice::<FunctionRecord>(&bytes)
                .map_err(|e| refuse(format!("cannot be parsed ({e})")))?;
            records.push(record);
        }
        records.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(records)
    }

    fn code_path(&self, sha256_hex: &str, extension: &str) -> PathBuf {
        self.root
            .join("code")
            .join(format!("{sha256_hex}.{extension}"))
    }

    /// Stores code under its hash (no-op when present): `.wasm` for a component, `.zip` for
    /// a process runtime's package.
    pub fn save_code(&self, sha256_hex: &str, code: &[u8]) -> std::io::Result<()> {
        let extension = if code.starts_with(b"\0asm") {
            "wasm"
        } else {
            "zip"
        };
        let path = self.code_path(sha256_hex, extension);
        if path.exists() {
            return Ok(());
        }
        write_atomically(&path, code)
    }

    /// Stored code, whichever kind it is.
    pub fn load_code(&self, sha256_hex: &str) -> std::io::Result<Vec<u8>> {
        match std::fs::read(self.code_path(sha256_hex, "wasm")) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::read(self.code_path(sha256_hex, "zip"))
            }
            other => other,
        }
    }

    /// Where a process runtime's package is unpacked (`task/<hash>`).
    pub fn task_dir(&self, sha256_hex: &str) -> PathBuf {
        self.root.join("task").join(sha256_hex)
    }

    /// Deletes every stored component whose hash is not in `keep` (and leftovers of
    /// interrupted writes); returns the hashes deleted. Content-addressed files are shared
    /// by versions and functions, so only the caller, holding every record, knows which
    /// are garbage.
    pub fn collect_code(
        &self,
        keep: &std::collections::HashSet<String>,
    ) -> std::io::Result<Vec<String>> {
        let dir = self.root.join("code");
        let mut deleted = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            let sha = file
                .strip_suffix(".wasm")
                .or_else(|| file.strip_suffix(".zip"));
            if sha.is_some_and(|sha| keep.contains(sha)) {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => deleted.extend(sha.map(str::to_owned)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if !deleted.is_empty() {
            sync_dir(&dir)?;
        }
        // Unpacked trees of code no longer stored, and staging directories a crash left.
        if let Ok(trees) = std::fs::read_dir(self.root.join("task")) {
            for entry in trees {
                let path = entry?.path();
                let keep = path
                    .file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| keep.contains(f));
                if !keep {
                    std::fs::remove_dir_all(&path)?;
                }
            }
        }
        Ok(deleted)
    }
}

use hearth_journal::atomic::sync_dir;
pub use hearth_journal::atomic::write_atomically;
