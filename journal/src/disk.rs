//! The disk operations the journal needs, behind a trait so a test can stand in a disk that
//! loses what was not synced ([`crate::sim::SimDisk`]).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::PathBuf;

/// A directory of numbered segments. Every method is called from the writer thread only
/// (and from `open` before it starts).
pub trait Disk: Send + 'static {
    /// The segments present, ascending.
    fn segments(&mut self) -> std::io::Result<Vec<u64>>;
    /// A segment's whole contents.
    fn read(&mut self, segment: u64) -> std::io::Result<Vec<u8>>;
    /// Creates an empty segment; durable (its directory entry synced) once this returns.
    fn create(&mut self, segment: u64) -> std::io::Result<()>;
    /// Appends to a segment (not yet durable).
    fn append(&mut self, segment: u64, bytes: &[u8]) -> std::io::Result<()>;
    /// Makes everything appended to `segment` so far durable (`fdatasync`).
    fn sync(&mut self, segment: u64) -> std::io::Result<()>;
    /// Cuts a segment to `len` bytes, durably.
    fn truncate(&mut self, segment: u64, len: u64) -> std::io::Result<()>;
    /// Removes a segment, durably.
    fn remove(&mut self, segment: u64) -> std::io::Result<()>;
    /// A segment's name, for error messages.
    fn name(&self, segment: u64) -> String;
}

/// Segments as files `seg-<n>.log` in one directory.
#[derive(Debug)]
pub struct FsDisk {
    dir: PathBuf,
    /// Open handles of the segments being appended to (in practice the newest one).
    open: HashMap<u64, File>,
}

impl FsDisk {
    /// Uses (creating) `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            open: HashMap::new(),
        })
    }

    fn path(&self, segment: u64) -> PathBuf {
        self.dir.join(format!("seg-{segment:016}.log"))
    }

    fn sync_dir(&self) -> std::io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    fn handle(&mut self, segment: u64) -> std::io::Result<&mut File> {
        if !self.open.contains_key(&segment) {
            let file = OpenOptions::new().append(true).open(self.path(segment))?;
            // Only the newest segment is written: drop handles of older ones.
            self.open.clear();
            self.open.insert(segment, file);
        }
        self.open
            .get_mut(&segment)
            .ok_or_else(|| std::io::Error::other("segment handle vanished"))
    }
}

impl Disk for FsDisk {
    fn segments(&mut self) -> std::io::Result<Vec<u64>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(n) = name
                .strip_prefix("seg-")
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                found.push(n);
            }
        }
        found.sort_unstable();
        Ok(found)
    }

    fn read(&mut self, segment: u64) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        File::open(self.path(segment))?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn create(&mut self, segment: u64) -> std::io::Result<()> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(self.path(segment))?;
        file.sync_all()?;
        self.sync_dir()?;
        self.open.clear();
        self.open.insert(segment, file);
        Ok(())
    }

    fn append(&mut self, segment: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.handle(segment)?.write_all(bytes)
    }

    fn sync(&mut self, segment: u64) -> std::io::Result<()> {
        self.handle(segment)?.sync_data()
    }

    fn truncate(&mut self, segment: u64, len: u64) -> std::io::Result<()> {
        let file = self.handle(segment)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn remove(&mut self, segment: u64) -> std::io::Result<()> {
        self.open.remove(&segment);
        std::fs::remove_file(self.path(segment))?;
        self.sync_dir()
    }

    fn name(&self, segment: u64) -> String {
        self.path(segment).display().to_string()
    }
}
