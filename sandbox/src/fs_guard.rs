//! The guest's filesystem, bounded where it is consumed: `wasi:filesystem/types` served by a
//! wrapper over wasmtime-wasi's implementation that counts what each operation takes.
//!
//! What it enforces, per sandbox:
//! - **open files**: at most [`MAX_OPEN_FILES`] (Lambda's 1,024 descriptors) host files and
//!   directories open at once, through descriptors or the streams made from them; one more
//!   `open-at` gets `insufficient-memory` (WASI has no `EMFILE`) and no host descriptor is
//!   spent. Every other guest handle is bounded by the resource-table cap the sandbox sets;
//! - **bytes**: `/tmp` never holds more than `EphemeralStorage.Size`. Growth is charged before
//!   it happens, in `write`, `set-size` and the streams of `write-via-stream` /
//!   `append-via-stream` (a write that does not fit is cut short, one with no room at all
//!   fails with `insufficient-space`, as a full disk would). A file is charged its largest
//!   size (sparse regions included), and credited when it is truncated or when its last link
//!   goes and no handle holds it open — a deleted file still open keeps its charge until the
//!   last handle closes, because its blocks are still on the host disk;
//! - **entries**: at most one directory entry (file, directory, symlink) per
//!   [`BYTES_PER_ENTRY`] of the size, so millions of empty files cannot exhaust the host's
//!   inodes.
//!
//! Nothing here walks the tree: each operation costs at most an `fstat` or `fstatat`, and a
//! guest can neither hide bytes from the accounting (an mtime it restores, a tree deeper than
//! the path limit, a deleted file it keeps open) nor make the host scan anything.

use bytes::Bytes;
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, Weak};
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor as FsDescriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, Advice, Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry,
    DirectoryEntryStream, ErrorCode, Filesize, MetadataHashValue, NewTimestamp, OpenFlags,
    PathFlags,
};
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, FsError, FsResult, OutputStream, Pollable, StreamError,
    StreamResult,
};

/// Lambda's per-environment descriptor limit.
pub const MAX_OPEN_FILES: usize = 1024;

/// One directory entry allowed per this many bytes of `/tmp` (8,192 at 512 MB).
pub const BYTES_PER_ENTRY: u64 = 64 * 1024;

/// A file's identity on the host: device and inode.
type Key = (u64, u64);

/// What one sandbox's `/tmp` holds, as charged.
#[derive(Debug)]
pub struct TmpQuota {
    limit: u64,
    used: u64,
    max_entries: u64,
    entries: u64,
    /// Bytes charged per file.
    charged: HashMap<Key, u64>,
    /// Files open now, by identity (entries whose handles all closed are swept).
    open: Vec<(Key, Weak<std::fs::File>)>,
    /// Unlinked files still held open: credited once nothing holds them.
    orphans: Vec<Key>,
}

/// Shared between the filesystem view and the streams it hands out.
pub type SharedQuota = Arc<Mutex<TmpQuota>>;

fn lock(quota: &SharedQuota) -> std::sync::MutexGuard<'_, TmpQuota> {
    // Counters valid after any partial update.
    quota.lock().unwrap_or_else(|e| e.into_inner())
}

impl TmpQuota {
    /// A quota of `limit_mb` for an empty `/tmp`.
    pub fn new(limit_mb: u64) -> SharedQuota {
        let limit = limit_mb.saturating_mul(1024 * 1024);
        Arc::new(Mutex::new(Self {
            limit,
            used: 0,
            max_entries: (limit / BYTES_PER_ENTRY).max(64),
            entries: 0,
            charged: HashMap::new(),
            open: Vec::new(),
            orphans: Vec::new(),
        }))
    }

    /// Bytes charged now.
    pub fn used(&self) -> u64 {
        self.used
    }

    fn sweep(&mut self) {
        self.open.retain(|(_, f)| f.strong_count() > 0);
        let open = &self.open;
        let (gone, kept): (Vec<Key>, Vec<Key>) = self
            .orphans
            .drain(..)
            .partition(|k| !open.iter().any(|(o, _)| o == k));
        self.orphans = kept;
        for key in gone {
            self.credit(key);
        }
    }

    fn credit(&mut self, key: Key) {
        if let Some(bytes) = self.charged.remove(&key) {
            self.used = self.used.saturating_sub(bytes);
        }
    }

    /// How much of a write of `len` bytes at `offset` into a file of `size` bytes fits:
    /// charges it and returns the length allowed (0: nothing fits).
    fn charge_write(&mut self, key: Key, size: u64, offset: u64, len: u64) -> u64 {
        self.sweep();
        let base = size.max(self.charged.get(&key).copied().unwrap_or(0));
        let end = offset.saturating_add(len);
        if end <= base {
            return len;
        }
        let growth = end - base;
        let room = self.limit.saturating_sub(self.used);
        let (allowed_end, grown) = if growth <= room {
            (end, growth)
        } else {
            (base + room, room)
        };
        if allowed_end <= offset {
            return 0;
        }
        self.used += grown;
        self.charged.insert(key, allowed_end);
        allowed_end - offset
    }

    /// Sets a file's charge to its actual size after it shrank.
    fn reconcile(&mut self, key: Key, size: u64) {
        if let Some(charged) = self.charged.get_mut(&key)
            && size < *charged
        {
            self.used = self.used.saturating_sub(*charged - size);
            *charged = size;
        }
    }

    fn take_entry(&mut self) -> FsResult<()> {
        if self.entries >= self.max_entries {
            return Err(ErrorCode::InsufficientSpace.into());
        }
        self.entries += 1;
        Ok(())
    }

    /// A directory entry went away (or was never made after all).
    fn drop_entry(&mut self) {
        self.entries = self.entries.saturating_sub(1);
    }

    /// A file's last link went away.
    fn unlinked(&mut self, key: Key) {
        self.drop_entry();
        self.sweep();
        if self.open.iter().any(|(k, _)| *k == key) {
            self.orphans.push(key);
        } else {
            self.credit(key);
        }
    }
}

fn key_of(file: &std::fs::File) -> FsResult<(Key, u64, u64)> {
    let st = rustix::fs::fstat(file.as_fd()).map_err(std::io::Error::from)?;
    Ok(((st.st_dev, st.st_ino), st.st_size as u64, st.st_nlink))
}

/// `fstatat` without following the last component: (key, nlink, is a directory), or `None`
/// when nothing is there.
fn stat_at(dir: &std::fs::File, path: &str) -> Option<(Key, u64, bool)> {
    let st = rustix::fs::statat(dir.as_fd(), path, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).ok()?;
    let is_dir = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory;
    Some(((st.st_dev, st.st_ino), st.st_nlink, is_dir))
}

fn enospc() -> std::io::Error {
    std::io::Error::from(rustix::io::Errno::NOSPC)
}

/// The `HasData` marker for [`GuardedFs`] views.
pub struct GuardedFs;

impl HasData for GuardedFs {
    type Data<'a> = GuardedFsView<'a>;
}

/// wasmtime-wasi's filesystem view plus the sandbox's quota.
pub struct GuardedFsView<'a> {
    pub inner: WasiFilesystemCtxView<'a>,
    pub quota: &'a SharedQuota,
}

impl GuardedFsView<'_> {
    fn descriptor(&self, fd: &Resource<Descriptor>) -> FsResult<&FsDescriptor> {
        Ok(self.inner.table.get(fd)?)
    }

    fn file(&self, fd: &Resource<Descriptor>) -> FsResult<Arc<std::fs::File>> {
        match self.descriptor(fd)? {
            FsDescriptor::File(f) => Ok(f.file.clone()),
            FsDescriptor::Dir(_) => Err(ErrorCode::BadDescriptor.into()),
        }
    }

    fn dir(&self, fd: &Resource<Descriptor>) -> FsResult<Arc<std::fs::File>> {
        match self.descriptor(fd)? {
            FsDescriptor::Dir(d) => Ok(d.dir.clone()),
            FsDescriptor::File(_) => Err(ErrorCode::NotDirectory.into()),
        }
    }

    fn wrap_stream(
        &mut self,
        stream: Resource<DynOutputStream>,
        file: Arc<std::fs::File>,
        position: Option<u64>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let inner = self.inner.table.delete(stream)?;
        let key = key_of(&file)?.0;
        let wrapped: DynOutputStream = Box::new(QuotaStream {
            inner,
            file,
            key,
            position,
            quota: self.quota.clone(),
        });
        Ok(self.inner.table.push(wrapped)?)
    }
}

impl types::Host for GuardedFsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        self.inner.convert_error_code(err)
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        self.inner.filesystem_error_code(err)
    }
}

impl types::HostDescriptor for GuardedFsView<'_> {
    fn read_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<DynInputStream>> {
        self.inner.read_via_stream(fd, offset)
    }

    fn write_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        let file = self.file(&fd)?;
        let stream = self.inner.write_via_stream(fd, offset)?;
        self.wrap_stream(stream, file, Some(offset))
    }

    fn append_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let file = self.file(&fd)?;
        let stream = self.inner.append_via_stream(fd)?;
        self.wrap_stream(stream, file, None)
    }

    async fn advise(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
        length: Filesize,
        advice: Advice,
    ) -> FsResult<()> {
        self.inner.advise(fd, offset, length, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.inner.sync_data(fd).await
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        self.inner.get_flags(fd).await
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorType> {
        self.inner.get_type(fd).await
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: Filesize) -> FsResult<()> {
        let file = self.file(&fd)?;
        let (key, current, _) = key_of(&file)?;
        if size > current {
            let allowed = lock(self.quota).charge_write(key, current, 0, size);
            if allowed < size {
                // Undo nothing: a partial charge stays with the file it was made for.
                return Err(ErrorCode::InsufficientSpace.into());
            }
        }
        self.inner.set_size(fd, size).await?;
        lock(self.quota).reconcile(key, size);
        Ok(())
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        self.inner.set_times(fd, atim, mtim).await
    }

    async fn read(
        &mut self,
        fd: Resource<Descriptor>,
        length: Filesize,
        offset: Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        self.inner.read(fd, length, offset).await
    }

    async fn write(
        &mut self,
        fd: Resource<Descriptor>,
        mut buffer: Vec<u8>,
        offset: Filesize,
    ) -> FsResult<Filesize> {
        let file = self.file(&fd)?;
        let (key, size, _) = key_of(&file)?;
        let allowed = lock(self.quota).charge_write(key, size, offset, buffer.len() as u64);
        if allowed == 0 && !buffer.is_empty() {
            return Err(ErrorCode::InsufficientSpace.into());
        }
        buffer.truncate(usize::try_from(allowed).unwrap_or(usize::MAX));
        self.inner.write(fd, buffer, offset).await
    }

    async fn read_directory(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DirectoryEntryStream>> {
        self.inner.read_directory(fd).await
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.inner.sync(fd).await
    }

    async fn create_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        lock(self.quota).take_entry()?;
        let result = self.inner.create_directory_at(fd, path).await;
        if result.is_err() {
            lock(self.quota).drop_entry();
        }
        result
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        self.inner.stat(fd).await
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<DescriptorStat> {
        self.inner.stat_at(fd, path_flags, path).await
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        self.inner
            .set_times_at(fd, path_flags, path, atim, mtim)
            .await
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path_flags: PathFlags,
        old_path: String,
        new_descriptor: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        // A new name for an inode already charged: one more directory entry, no bytes.
        lock(self.quota).take_entry()?;
        let result = self
            .inner
            .link_at(fd, old_path_flags, old_path, new_descriptor, new_path)
            .await;
        if result.is_err() {
            lock(self.quota).drop_entry();
        }
        result
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let dir = self.dir(&fd)?;
        let creates = oflags.contains(OpenFlags::CREATE) && stat_at(&dir, &path).is_none();
        {
            let mut quota = lock(self.quota);
            quota.sweep();
            if quota.open.len() >= MAX_OPEN_FILES {
                return Err(ErrorCode::InsufficientMemory.into());
            }
            if creates {
                quota.take_entry()?;
            }
        }
        let opened = match self
            .inner
            .open_at(fd, path_flags, path, oflags, flags)
            .await
        {
            Ok(opened) => opened,
            Err(e) => {
                if creates {
                    lock(self.quota).drop_entry();
                }
                return Err(e);
            }
        };
        let handle = match self.descriptor(&opened)? {
            FsDescriptor::File(f) => f.file.clone(),
            FsDescriptor::Dir(d) => d.dir.clone(),
        };
        let (key, size, _) = key_of(&handle)?;
        let mut quota = lock(self.quota);
        quota.open.push((key, Arc::downgrade(&handle)));
        if oflags.contains(OpenFlags::TRUNCATE) {
            quota.reconcile(key, size);
        }
        Ok(opened)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        self.inner.readlink_at(fd, path).await
    }

    async fn remove_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        self.inner.remove_directory_at(fd, path).await?;
        lock(self.quota).drop_entry();
        Ok(())
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_descriptor: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let target_dir = self.dir(&new_descriptor)?;
        let source_dir = self.dir(&fd)?;
        let source = stat_at(&source_dir, &old_path).map(|s| s.0);
        let replaced = stat_at(&target_dir, &new_path).filter(|t| Some(t.0) != source);
        self.inner
            .rename_at(fd, old_path, new_descriptor, new_path)
            .await?;
        if let Some((key, nlink, is_dir)) = replaced {
            let mut quota = lock(self.quota);
            if !is_dir && nlink <= 1 {
                quota.unlinked(key);
            } else {
                quota.drop_entry();
            }
        }
        Ok(())
    }

    async fn symlink_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_path: String,
    ) -> FsResult<()> {
        lock(self.quota).take_entry()?;
        let result = self.inner.symlink_at(fd, old_path, new_path).await;
        if result.is_err() {
            lock(self.quota).drop_entry();
        }
        result
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let dir = self.dir(&fd)?;
        let before = stat_at(&dir, &path);
        self.inner.unlink_file_at(fd, path).await?;
        if let Some((key, nlink, _)) = before {
            let mut quota = lock(self.quota);
            if nlink <= 1 {
                quota.unlinked(key);
            } else {
                quota.drop_entry();
            }
        }
        Ok(())
    }

    async fn is_same_object(
        &mut self,
        fd: Resource<Descriptor>,
        other: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        self.inner.is_same_object(fd, other).await
    }

    async fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        self.inner.metadata_hash(fd).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        self.inner.metadata_hash_at(fd, path_flags, path).await
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        types::HostDescriptor::drop(&mut self.inner, fd)
    }
}

impl types::HostDirectoryEntryStream for GuardedFsView<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<DirectoryEntryStream>,
    ) -> FsResult<Option<DirectoryEntry>> {
        self.inner.read_directory_entry(stream).await
    }

    fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        types::HostDirectoryEntryStream::drop(&mut self.inner, stream)
    }
}

/// A file's output stream that charges the quota before each write.
struct QuotaStream {
    inner: DynOutputStream,
    file: Arc<std::fs::File>,
    key: Key,
    /// Where the next write lands; `None` for an append stream (at the end).
    position: Option<u64>,
    quota: SharedQuota,
}

impl QuotaStream {
    /// Charges `len` bytes at the stream's position: the length that fits, or ENOSPC.
    fn charge(&mut self, len: usize) -> StreamResult<usize> {
        let (_, size, _) =
            key_of(&self.file).map_err(|e| StreamError::LastOperationFailed(e.into()))?;
        let offset = self.position.unwrap_or(size);
        let allowed = lock(&self.quota).charge_write(self.key, size, offset, len as u64);
        if allowed == 0 && len > 0 {
            return Err(StreamError::LastOperationFailed(enospc().into()));
        }
        Ok(usize::try_from(allowed).unwrap_or(usize::MAX))
    }

    fn advance(&mut self, len: usize) {
        if let Some(p) = self.position.as_mut() {
            *p += len as u64;
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for QuotaStream {
    async fn ready(&mut self) {
        self.inner.ready().await;
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for QuotaStream {
    fn write(&mut self, mut bytes: Bytes) -> StreamResult<()> {
        let allowed = self.charge(bytes.len())?;
        // More than fits: write what fits (the guest asked `check_write`, which said less).
        bytes.truncate(allowed);
        let len = bytes.len();
        self.inner.write(bytes)?;
        self.advance(len);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        let permit = self.inner.check_write()?;
        if permit == 0 {
            return Ok(0);
        }
        let (_, size, _) =
            key_of(&self.file).map_err(|e| StreamError::LastOperationFailed(e.into()))?;
        let offset = self.position.unwrap_or(size);
        let quota = lock(&self.quota);
        let base = size.max(quota.charged.get(&self.key).copied().unwrap_or(0));
        let free_overwrite = base.saturating_sub(offset);
        let room = quota
            .limit
            .saturating_sub(quota.used)
            .saturating_add(free_overwrite);
        if room == 0 {
            return Err(StreamError::LastOperationFailed(enospc().into()));
        }
        Ok(permit.min(usize::try_from(room).unwrap_or(usize::MAX)))
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        let allowed = self.charge(bytes.len())?;
        if allowed < bytes.len() {
            return Err(StreamError::LastOperationFailed(enospc().into()));
        }
        let len = bytes.len();
        self.inner.blocking_write_and_flush(bytes).await?;
        self.advance(len);
        Ok(())
    }

    fn write_zeroes(&mut self, nelem: usize) -> StreamResult<()> {
        let allowed = self.charge(nelem)?;
        self.inner.write_zeroes(allowed)?;
        self.advance(allowed);
        Ok(())
    }

    async fn write_ready(&mut self) -> StreamResult<usize> {
        self.inner.write_ready().await?;
        self.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

/// Serves `wasi:filesystem/types` through [`GuardedFsView`] in place of wasmtime-wasi's own
/// (which `add_to_linker_async` registered first).
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> GuardedFsView<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let result = types::add_to_linker::<T, GuardedFs>(linker, view);
    linker.allow_shadowing(false);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_charged_once_per_byte_and_cut_at_the_limit() {
        let quota = TmpQuota::new(1);
        let mut q = lock(&quota);
        let mb = 1024 * 1024;
        assert_eq!(q.charge_write((1, 1), 0, 0, 600 * 1024), 600 * 1024);
        // Overwriting what is charged costs nothing.
        assert_eq!(
            q.charge_write((1, 1), 600 * 1024, 0, 600 * 1024),
            600 * 1024
        );
        // A second file gets only the remainder: a short write.
        assert_eq!(q.charge_write((1, 2), 0, 0, 600 * 1024), mb - 600 * 1024);
        assert_eq!(q.charge_write((1, 2), 0, 424 * 1024, 1), 0, "full");
        assert_eq!(q.used(), mb);
        // A sparse write far past the end is charged its whole extent.
        q.reconcile((1, 2), 0);
        assert_eq!(q.charge_write((1, 3), 0, 10 * mb, 1), 0);
    }

    #[test]
    fn an_unlinked_file_keeps_its_charge_while_open() {
        let quota = TmpQuota::new(1);
        let held = Arc::new(tempfile::tempfile().expect("file"));
        let mut q = lock(&quota);
        q.entries = 1;
        q.charge_write((1, 1), 0, 0, 1000);
        q.open.push(((1, 1), Arc::downgrade(&held)));
        q.unlinked((1, 1));
        assert_eq!(q.used(), 1000, "still on the host disk");
        drop(held);
        q.sweep();
        assert_eq!(q.used(), 0, "credited once closed");
        assert_eq!(q.entries, 0);
    }

    #[test]
    fn entries_are_bounded() {
        let quota = TmpQuota::new(1);
        let mut q = lock(&quota);
        for _ in 0..64 {
            q.take_entry().expect("room");
        }
        assert!(q.take_entry().is_err(), "64 entries at 1 MB");
    }
}
