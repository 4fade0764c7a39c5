//! The writer thread: recovery, group commit, rotation (see the crate doc for the protocol).

use crate::format::{self, Entry};
use crate::{Disk, JournalError, Options, Record};
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::Receiver;
use tokio::sync::oneshot;

/// What the handles send the writer.
pub(crate) enum Command {
    Put {
        id: u64,
        payload: Vec<u8>,
        ack: oneshot::Sender<Result<(), JournalError>>,
    },
    Remove {
        id: u64,
    },
    Barrier {
        ack: oneshot::Sender<Result<(), JournalError>>,
    },
}

/// Most bytes encoded into one commit; more waits for the next.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// What a segment holds.
#[derive(Debug, Default, Clone, Copy)]
struct SegmentUse {
    live: usize,
    live_bytes: u64,
    len: u64,
}

/// A segment is carried forward at rotation when at most this share of it is live: write
/// amplification stays below a third, and a segment whose records mostly ended is not kept
/// alive by the few that did not.
const CARRY_LIVE_SHARE: u64 = 4;

pub(crate) struct Writer<D: Disk> {
    disk: D,
    options: Options,
    /// The segment appended to, and its synced length.
    current: u64,
    current_len: u64,
    /// Where each live record's last put is, and its encoded size.
    live: HashMap<u64, (u64, u64)>,
    /// Every segment on disk: its live records and their bytes, and its length.
    per_segment: BTreeMap<u64, SegmentUse>,
    /// Set when a failed write could not be undone.
    poisoned: Option<String>,
}

impl<D: Disk> Writer<D> {
    /// Reads every segment, truncates a torn tail of the newest, and returns the writer, the
    /// live records (by id) and the next unused id.
    pub(crate) fn recover(
        mut disk: D,
        options: Options,
    ) -> Result<(Self, Vec<Record>, u64), JournalError> {
        let segments = disk.segments()?;
        let mut payloads: BTreeMap<u64, (u64, Vec<u8>)> = BTreeMap::new();
        let mut lengths = BTreeMap::new();
        let mut max_id = 0u64;
        let mut current_len = 0;
        for (i, &segment) in segments.iter().enumerate() {
            let bytes = disk.read(segment)?;
            let (entries, end) = format::decode(&bytes);
            let newest = i + 1 == segments.len();
            let good_len = match end {
                Ok(()) => bytes.len() as u64,
                Err(bad) if newest => {
                    tracing::warn!(
                        segment = %disk.name(segment),
                        offset = bad.offset,
                        why = bad.why,
                        "journal: dropping a torn tail (a write not yet synced when the process stopped)"
                    );
                    disk.truncate(segment, bad.offset)?;
                    bad.offset
                }
                Err(bad) => {
                    return Err(JournalError::Corrupt {
                        segment: disk.name(segment),
                        offset: bad.offset,
                        why: bad.why,
                    });
                }
            };
            for entry in entries {
                match entry {
                    Entry::Put { id, payload } => {
                        max_id = max_id.max(id);
                        payloads.insert(id, (segment, payload.to_vec()));
                    }
                    Entry::Remove { id } => {
                        max_id = max_id.max(id);
                        payloads.remove(&id);
                    }
                }
            }
            if newest {
                current_len = good_len;
            }
            lengths.insert(segment, good_len);
        }
        let mut per_segment: BTreeMap<u64, SegmentUse> = lengths
            .into_iter()
            .map(|(s, len)| {
                (
                    s,
                    SegmentUse {
                        len,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut live = HashMap::with_capacity(payloads.len());
        for (&id, (segment, payload)) in &payloads {
            let size = format::encoded_len(payload.len());
            live.insert(id, (*segment, size));
            let used = per_segment.entry(*segment).or_default();
            used.live += 1;
            used.live_bytes += size;
        }
        let current = match segments.last() {
            Some(&last) => last,
            None => {
                disk.create(1)?;
                per_segment.insert(1, SegmentUse::default());
                1
            }
        };
        let records = payloads
            .into_iter()
            .map(|(id, (_, payload))| Record { id, payload })
            .collect();
        let writer = Self {
            disk,
            options,
            current,
            current_len,
            live,
            per_segment,
            poisoned: None,
        };
        Ok((writer, records, max_id + 1))
    }

    /// Serves commands until every handle is gone.
    pub(crate) fn run(mut self, rx: Receiver<Command>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            let mut bytes = 0usize;
            while let Ok(command) = rx.try_recv() {
                if let Command::Put { payload, .. } = &command {
                    bytes += payload.len() + format::HEADER + 9;
                }
                batch.push(command);
                if bytes >= MAX_BATCH_BYTES {
                    break;
                }
            }
            self.commit(batch);
        }
    }

    /// Writes a batch with one write and one sync, then acknowledges it.
    fn commit(&mut self, batch: Vec<Command>) {
        let mut buf = Vec::new();
        let mut acks = Vec::new();
        let mut moved: Vec<(u64, Option<u64>)> = Vec::new();
        for command in batch {
            match command {
                Command::Put { id, payload, ack } => {
                    format::put(&mut buf, id, &payload);
                    moved.push((id, Some(format::encoded_len(payload.len()))));
                    acks.push(ack);
                }
                Command::Remove { id } => {
                    format::remove(&mut buf, id);
                    moved.push((id, None));
                }
                Command::Barrier { ack } => acks.push(ack),
            }
        }
        let result = self.write(&buf);
        if result.is_ok() {
            for (id, size) in moved {
                self.set_live(id, size.map(|size| (self.current, size)));
            }
        }
        for ack in acks {
            let _ = ack.send(result.clone());
        }
        if result.is_ok()
            && self.current_len >= self.options.segment_bytes
            && let Err(e) = self.rotate()
        {
            tracing::warn!(error = %e, "journal: rotation failed; appending to the old segment");
        }
    }

    /// Moves record `id` to `at` (segment, encoded size), or forgets it.
    fn set_live(&mut self, id: u64, at: Option<(u64, u64)>) {
        if let Some((old, size)) = self.live.remove(&id)
            && let Some(used) = self.per_segment.get_mut(&old)
        {
            used.live = used.live.saturating_sub(1);
            used.live_bytes = used.live_bytes.saturating_sub(size);
        }
        if let Some((segment, size)) = at {
            self.live.insert(id, (segment, size));
            let used = self.per_segment.entry(segment).or_default();
            used.live += 1;
            used.live_bytes += size;
        }
    }

    /// Appends and syncs `buf` to the current segment; undoes a failed attempt.
    fn write(&mut self, buf: &[u8]) -> Result<(), JournalError> {
        if let Some(why) = &self.poisoned {
            return Err(JournalError::Poisoned(why.clone()));
        }
        if buf.is_empty() {
            return Ok(());
        }
        let attempt = self
            .disk
            .append(self.current, buf)
            .and_then(|()| self.disk.sync(self.current));
        match attempt {
            Ok(()) => {
                self.current_len += buf.len() as u64;
                if let Some(used) = self.per_segment.get_mut(&self.current) {
                    used.len = self.current_len;
                }
                Ok(())
            }
            Err(e) => {
                if let Err(undo) = self.disk.truncate(self.current, self.current_len) {
                    let why = format!("{e}; then truncating failed: {undo}");
                    tracing::error!(%why, "journal: refusing further writes");
                    self.poisoned = Some(why);
                }
                Err(e.into())
            }
        }
    }

    /// Starts a new segment, carries the oldest segment's live records into it when few of
    /// its bytes are still live, and removes every leading segment left without a live
    /// record.
    fn rotate(&mut self) -> Result<(), JournalError> {
        let next = self.current + 1;
        self.disk.create(next)?;
        self.per_segment.insert(next, SegmentUse::default());
        self.current = next;
        self.current_len = 0;
        let oldest = self
            .per_segment
            .iter()
            .next()
            .map(|(&segment, &used)| (segment, used));
        if let Some((oldest, used)) = oldest.filter(|&(o, _)| o != next)
            && used.live > 0
            && used.live_bytes * CARRY_LIVE_SHARE <= used.len
        {
            let bytes = self.disk.read(oldest)?;
            let (entries, _) = format::decode(&bytes);
            let mut last: BTreeMap<u64, &[u8]> = BTreeMap::new();
            for entry in entries {
                if let Entry::Put { id, payload } = entry
                    && self.live.get(&id).is_some_and(|&(s, _)| s == oldest)
                {
                    last.insert(id, payload);
                }
            }
            let mut buf = Vec::new();
            for (&id, payload) in &last {
                format::put(&mut buf, id, payload);
            }
            self.write(&buf)?;
            let carried: Vec<(u64, u64)> = last
                .iter()
                .map(|(&id, p)| (id, format::encoded_len(p.len())))
                .collect();
            for (id, size) in carried {
                self.set_live(id, Some((next, size)));
            }
        }
        while let Some((&segment, &used)) = self.per_segment.iter().next() {
            if segment == self.current || used.live > 0 {
                break;
            }
            self.disk.remove(segment)?;
            self.per_segment.remove(&segment);
        }
        Ok(())
    }
}
