//! A simulated disk for crash tests: it keeps each segment's synced bytes apart from the
//! bytes written since, and [`SimDisk::crash`] keeps only a prefix of the unsynced ones —
//! what a power cut may leave. `kill -9` cannot show a missing `fsync` (the page cache
//! survives it); this can.
//!
//! It also keeps a log of operations, so a test can check that every acknowledgement came
//! after a sync covering the acknowledged bytes.

use crate::Disk;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default, Clone)]
struct Segment {
    durable: Vec<u8>,
    /// Written after the last sync.
    pending: Vec<u8>,
}

/// One operation the engine performed, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create { segment: u64 },
    Append { segment: u64, len: usize },
    Sync { segment: u64 },
    Truncate { segment: u64 },
    Remove { segment: u64 },
}

#[derive(Debug, Default)]
struct State {
    segments: BTreeMap<u64, Segment>,
    ops: Vec<Op>,
    /// Fail the next this many appends.
    fail_appends: usize,
    /// Cut the power when `ops` reaches this length, keeping this share of unsynced bytes.
    cut: Option<(usize, f64)>,
    /// The power is off: every call fails until [`SimDisk::revive`].
    dead: bool,
}

impl State {
    /// Records an operation; cuts the power if it is the one planned.
    fn op(&mut self, op: Op) -> std::io::Result<()> {
        if self.dead {
            return Err(std::io::Error::other("simulated: the machine is off"));
        }
        self.ops.push(op);
        if let Some((at, share)) = self.cut
            && self.ops.len() >= at
        {
            for segment in self.segments.values_mut() {
                let pending = std::mem::take(&mut segment.pending);
                let kept = (pending.len() as f64 * share) as usize;
                segment
                    .durable
                    .extend_from_slice(&pending[..kept.min(pending.len())]);
            }
            self.dead = true;
            return Err(std::io::Error::other("simulated: power cut"));
        }
        Ok(())
    }
}

/// A disk in memory, shared between the clones (the "machine" survives a crash of the
/// process that used it).
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

impl SimDisk {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A power cut: every segment keeps its synced bytes and the first `keep(segment,
    /// pending_len)` bytes written since (a torn tail when that is inside a record).
    pub fn crash(&self, mut keep: impl FnMut(u64, usize) -> usize) {
        let mut state = self.lock();
        for (&n, segment) in state.segments.iter_mut() {
            let kept = keep(n, segment.pending.len()).min(segment.pending.len());
            let pending = std::mem::take(&mut segment.pending);
            segment.durable.extend_from_slice(&pending[..kept]);
        }
    }

    /// Cuts the power at the `at`-th operation from the start (that operation fails, and so
    /// does every one after it), keeping `share` (0–1) of each segment's unsynced bytes.
    pub fn cut_power_at(&self, at: usize, share: f64) {
        self.lock().cut = Some((at, share));
    }

    /// Powers the machine back on (after a cut), as a restart would find it.
    pub fn revive(&self) {
        let mut state = self.lock();
        state.dead = false;
        state.cut = None;
    }

    /// The operations performed so far.
    pub fn ops(&self) -> Vec<Op> {
        self.lock().ops.clone()
    }

    /// Every segment's synced bytes: what a power cut right now would leave.
    pub fn durable_image(&self) -> Vec<(u64, Vec<u8>)> {
        self.lock()
            .segments
            .iter()
            .map(|(&n, s)| (n, s.durable.clone()))
            .collect()
    }

    /// Bytes synced in `segment` so far.
    pub fn durable_len(&self, segment: u64) -> usize {
        self.lock()
            .segments
            .get(&segment)
            .map_or(0, |s| s.durable.len())
    }

    /// Makes the next `n` appends fail, as a full disk would.
    pub fn fail_next_appends(&self, n: usize) {
        self.lock().fail_appends = n;
    }
}

fn missing(segment: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("no segment {segment}"),
    )
}

impl Disk for SimDisk {
    fn segments(&mut self) -> std::io::Result<Vec<u64>> {
        let state = self.lock();
        if state.dead {
            return Err(std::io::Error::other("simulated: the machine is off"));
        }
        Ok(state.segments.keys().copied().collect())
    }

    fn read(&mut self, segment: u64) -> std::io::Result<Vec<u8>> {
        let state = self.lock();
        if state.dead {
            return Err(std::io::Error::other("simulated: the machine is off"));
        }
        let s = state
            .segments
            .get(&segment)
            .ok_or_else(|| missing(segment))?;
        let mut bytes = s.durable.clone();
        bytes.extend_from_slice(&s.pending);
        Ok(bytes)
    }

    fn create(&mut self, segment: u64) -> std::io::Result<()> {
        let mut state = self.lock();
        state.op(Op::Create { segment })?;
        state.segments.insert(segment, Segment::default());
        Ok(())
    }

    fn append(&mut self, segment: u64, bytes: &[u8]) -> std::io::Result<()> {
        let mut state = self.lock();
        if state.fail_appends > 0 && !state.dead {
            state.fail_appends -= 1;
            // A failed write may still leave part of its bytes behind.
            let s = state
                .segments
                .get_mut(&segment)
                .ok_or_else(|| missing(segment))?;
            s.pending.extend_from_slice(&bytes[..bytes.len() / 2]);
            return Err(std::io::Error::other("simulated: no space left on device"));
        }
        state.op(Op::Append {
            segment,
            len: bytes.len(),
        })?;
        let s = state
            .segments
            .get_mut(&segment)
            .ok_or_else(|| missing(segment))?;
        s.pending.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&mut self, segment: u64) -> std::io::Result<()> {
        let mut state = self.lock();
        state.op(Op::Sync { segment })?;
        let s = state
            .segments
            .get_mut(&segment)
            .ok_or_else(|| missing(segment))?;
        let pending = std::mem::take(&mut s.pending);
        s.durable.extend_from_slice(&pending);
        Ok(())
    }

    fn truncate(&mut self, segment: u64, len: u64) -> std::io::Result<()> {
        let mut state = self.lock();
        state.op(Op::Truncate { segment })?;
        let s = state
            .segments
            .get_mut(&segment)
            .ok_or_else(|| missing(segment))?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let mut all = std::mem::take(&mut s.durable);
        all.extend_from_slice(&std::mem::take(&mut s.pending));
        all.truncate(len);
        s.durable = all;
        Ok(())
    }

    fn remove(&mut self, segment: u64) -> std::io::Result<()> {
        let mut state = self.lock();
        state.op(Op::Remove { segment })?;
        state.segments.remove(&segment);
        Ok(())
    }

    fn name(&self, segment: u64) -> String {
        format!("sim:seg-{segment}")
    }
}
