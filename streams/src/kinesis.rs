//! Kinesis-like streams.
//!
//! A stream is a set of shards, each owning a range of the 128-bit hash-key space; a record
//! goes to the open shard whose range holds the MD5 of its partition key (read as a
//! big-endian 128-bit integer) or its `ExplicitHashKey`. A record's sequence number is its
//! journal id: ids only grow, so sequence numbers increase within a shard (records are
//! appended under the stream's lock) and are the same after a restart.
//!
//! Records are journal records in a compact binary form; a stream's description (shards,
//! retention, tags) is a JSON record rewritten when it changes. A put is acknowledged once
//! the journal's group commit covers it, and readers stop at the first record not yet
//! durable, so what a consumer has seen is never lost to a crash.
//!
//! Resharding is `SplitShard` and `MergeShards`: the parent shards close (their records stay
//! readable until retention) and the children name them, so a consumer finishes a parent
//! before it starts its children.

use crate::error::{ErrorKind, StreamError};
use base64::Engine as _;
use hearth_journal::{Clock, Journal, Options};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::Notify;

/// A record's data and partition key together may take at most 1 MiB.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// `PutRecords` takes at most 500 records...
pub const MAX_PUT_RECORDS: usize = 500;
/// ...and 5 MiB of data and keys.
pub const MAX_PUT_RECORDS_BYTES: usize = 5 * 1024 * 1024;
/// A shard iterator is good for 5 minutes.
pub const ITERATOR_TTL_MS: u64 = 5 * 60 * 1000;
/// `GetRecords` returns at most 10,000 records...
pub const MAX_GET_RECORDS: usize = 10_000;
/// ...and 10 MiB.
pub const MAX_GET_RECORDS_BYTES: usize = 10 * 1024 * 1024;
/// Retention: 24 hours to 365 days.
pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_RETENTION_HOURS: u32 = 8760;
/// Shards an on-demand stream starts with.
const ON_DEMAND_SHARDS: u32 = 4;
/// What a record counts for besides its data and key (its place in memory).
const RECORD_OVERHEAD: u64 = 64;

/// A record's data, shared between the shard and the readers that copy it out.
pub type Data = Arc<[u8]>;

/// How the engine is bounded.
#[derive(Debug, Clone)]
pub struct StreamsConfig {
    pub region: String,
    pub account: String,
    /// Record bytes all streams may hold together; a put past it is refused per record
    /// with `ProvisionedThroughputExceededException`, which producers retry.
    pub max_bytes: u64,
    pub max_streams: usize,
    /// Open shards over all streams (Kinesis' default account quota is 500).
    pub max_shards: usize,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            max_bytes: 4 << 30,
            max_streams: 1_000,
            max_shards: 1_000,
        }
    }
}

/// One shard as described (and persisted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjacent_parent: Option<String>,
    pub start_hash: u128,
    pub end_hash: u128,
    pub starting_seq: u64,
    /// Set when the shard closed (split or merged); no record is added after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending_seq: Option<u64>,
    /// When it closed: a closed shard is removed once its records have expired and the
    /// retention period has passed since, as Kinesis removes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_ms: Option<u64>,
}

impl ShardMeta {
    pub fn is_open(&self) -> bool {
        self.ending_seq.is_none()
    }
}

/// A stream's persisted description.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StreamRecord {
    name: String,
    created_ms: u64,
    retention_hours: u32,
    on_demand: bool,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    shards: Vec<ShardMeta>,
    next_shard: u32,
}

/// A record in a shard.
#[derive(Debug, Clone)]
struct Rec {
    seq: u64,
    arrival_ms: u64,
    key: Arc<str>,
    data: Data,
    /// Set once the journal's commit covers the record's put.
    durable: Arc<AtomicBool>,
}

impl Rec {
    fn size(&self) -> u64 {
        (self.data.len() + self.key.len()) as u64 + RECORD_OVERHEAD
    }
}

#[derive(Debug)]
struct ShardState {
    meta: ShardMeta,
    records: VecDeque<Rec>,
    /// The highest sequence number the shard ever held (a `LATEST` iterator starts past
    /// it even after retention trimmed the records).
    last_seq: Option<u64>,
}

impl ShardState {
    /// Index of the first record with a sequence number of at least `seq`.
    fn position(&self, seq: u64) -> usize {
        self.records.partition_point(|r| r.seq < seq)
    }
}

#[derive(Debug)]
struct StreamState {
    created_ms: u64,
    retention_hours: u32,
    on_demand: bool,
    tags: BTreeMap<String, String>,
    shards: Vec<ShardState>,
    next_shard: u32,
}

impl StreamState {
    fn record(&self, name: &str) -> StreamRecord {
        StreamRecord {
            name: name.to_owned(),
            created_ms: self.created_ms,
            retention_hours: self.retention_hours,
            on_demand: self.on_demand,
            tags: self.tags.clone(),
            shards: self.shards.iter().map(|s| s.meta.clone()).collect(),
            next_shard: self.next_shard,
        }
    }

    fn shard(&self, id: &str) -> Result<usize, StreamError> {
        self.shards
            .iter()
            .position(|s| s.meta.id == id)
            .ok_or_else(|| {
                StreamError::new(
                    ErrorKind::ResourceNotFound,
                    format!("Shard {id} does not exist."),
                )
            })
    }

    fn new_shard_id(&mut self) -> String {
        let id = shard_id(self.next_shard);
        self.next_shard += 1;
        id
    }

    fn open_shards(&self) -> usize {
        self.shards.iter().filter(|s| s.meta.is_open()).count()
    }

    /// Closes the open shard at `at` and gives its range to two children, the upper one
    /// starting at `split` (checked by the caller to lie inside the range). Returns the
    /// children's indexes.
    fn split(&mut self, at: usize, split: u128, now_ms: u64) -> (usize, usize) {
        let parent = &self.shards[at];
        let (start, end) = (parent.meta.start_hash, parent.meta.end_hash);
        let parent_id = parent.meta.id.clone();
        let starting_seq = parent.last_seq.map_or(parent.meta.starting_seq, |s| s + 1);
        let ending = parent.last_seq.unwrap_or(parent.meta.starting_seq);
        self.shards[at].meta.ending_seq = Some(ending);
        self.shards[at].meta.closed_ms = Some(now_ms);
        let low = self.push_child((start, split - 1), starting_seq, parent_id.clone(), None);
        let high = self.push_child((split, end), starting_seq, parent_id, None);
        (low, high)
    }

    /// Adds a new open shard over `range` whose parents are `parent` (and `adjacent`);
    /// returns its index.
    fn push_child(
        &mut self,
        range: (u128, u128),
        starting_seq: u64,
        parent: String,
        adjacent: Option<String>,
    ) -> usize {
        let id = self.new_shard_id();
        self.shards.push(ShardState {
            meta: ShardMeta {
                id,
                parent: Some(parent),
                adjacent_parent: adjacent,
                start_hash: range.0,
                end_hash: range.1,
                starting_seq,
                ending_seq: None,
                closed_ms: None,
            },
            records: VecDeque::new(),
            last_seq: None,
        });
        self.shards.len() - 1
    }

    /// Closes the open, adjacent shards at `a` and `b`; one child takes both ranges. Returns
    /// the child's index.
    fn merge(&mut self, a: usize, b: usize, now_ms: u64) -> usize {
        let (first, second) = (&self.shards[a].meta, &self.shards[b].meta);
        let low = first.start_hash.min(second.start_hash);
        let high = first.end_hash.max(second.end_hash);
        let (parent, adjacent) = (first.id.clone(), second.id.clone());
        let last = [a, b].iter().filter_map(|&i| self.shards[i].last_seq).max();
        let starting_seq = last.map_or(self.shards[a].meta.starting_seq, |s| s + 1);
        for i in [a, b] {
            let s = &mut self.shards[i];
            s.meta.ending_seq = Some(s.last_seq.unwrap_or(s.meta.starting_seq));
            s.meta.closed_ms = Some(now_ms);
        }
        self.push_child((low, high), starting_seq, parent, Some(adjacent))
    }
}

/// One stream.
#[derive(Debug)]
pub struct Stream {
    pub name: String,
    /// The journal id of its description; also what iterators name it by.
    id: u64,
    state: Mutex<StreamState>,
    /// Woken when records may have become readable.
    arrived: Notify,
    deleted: AtomicBool,
}

impl Stream {
    fn state(&self) -> std::sync::MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A record to put.
#[derive(Debug, Clone)]
pub struct PutEntry {
    pub data: Vec<u8>,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
}

/// Where a put record went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub shard_id: String,
    pub sequence_number: String,
}

/// A record read from a shard.
#[derive(Debug, Clone)]
pub struct Record {
    pub sequence_number: String,
    /// The sequence number as a number (for checkpoints).
    pub seq: u64,
    pub arrival_ms: u64,
    pub partition_key: Arc<str>,
    pub data: Data,
}

/// Where a shard iterator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAt {
    TrimHorizon,
    Latest,
    AtSequence(String),
    AfterSequence(String),
    /// Epoch milliseconds.
    AtTimestamp(u64),
}

/// A shard's child, as `GetRecords` reports it at the end of a closed shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildShard {
    pub shard_id: String,
    pub parents: Vec<String>,
    pub start_hash: u128,
    pub end_hash: u128,
}

/// What one read of a shard found.
#[derive(Debug, Clone)]
pub struct Read {
    pub records: Vec<Record>,
    /// The sequence number the next read starts at; `None` once a closed shard is read to
    /// its end.
    pub next: Option<u64>,
    pub millis_behind: u64,
    pub children: Vec<ChildShard>,
}

/// `GetRecords`' answer.
#[derive(Debug, Clone)]
pub struct GetRecords {
    pub read: Read,
    pub next_iterator: Option<String>,
}

/// A stream's description.
#[derive(Debug, Clone)]
pub struct StreamView {
    pub name: String,
    pub arn: String,
    pub created_ms: u64,
    pub retention_hours: u32,
    pub on_demand: bool,
    pub shards: Vec<ShardMeta>,
    pub open_shards: usize,
}

/// One shard's counts (for `hearth streams` and the metrics).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardSummary {
    pub id: String,
    pub open: bool,
    pub records: usize,
    pub bytes: u64,
    pub oldest_age_seconds: f64,
}

/// One stream's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamSummary {
    pub name: String,
    pub retention_hours: u32,
    pub on_demand: bool,
    pub shards: Vec<ShardSummary>,
}

#[derive(Debug)]
struct Inner {
    journal: Journal,
    config: StreamsConfig,
    clock: Clock,
    streams: RwLock<HashMap<String, Arc<Stream>>>,
    /// Serialises control-plane changes (create, delete, reshard, retention, tags).
    control: tokio::sync::Mutex<()>,
    bytes: AtomicU64,
    /// Consumers' checkpoints by key: their journal record and value.
    checkpoints: Mutex<HashMap<String, (u64, serde_json::Value)>>,
}

/// A consumer's checkpoint as journaled (after a leading byte 2).
#[derive(Debug, Serialize, Deserialize)]
struct StoredCheckpoint {
    key: String,
    value: serde_json::Value,
}

/// Every stream of one node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Streams {
    inner: Arc<Inner>,
}

/// `shardId-000000000000`.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// A sequence number as Kinesis writes them: 56 decimal digits.
pub fn sequence_number(seq: u64) -> String {
    format!("49{seq:054}")
}

/// The number inside a sequence number hearth wrote.
pub fn parse_sequence_number(text: &str) -> Option<u64> {
    if text.len() != 56 || !text.starts_with("49") || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text[2..]
        .parse::<u128>()
        .ok()
        .and_then(|n| u64::try_from(n).ok())
}

/// The hash key of a partition key: its MD5 as a big-endian 128-bit integer.
pub fn hash_key(partition_key: &str) -> u128 {
    use md5::Digest as _;
    u128::from_be_bytes(md5::Md5::digest(partition_key.as_bytes()).into())
}

/// `count` shards splitting the hash-key space evenly, as Kinesis splits it.
fn even_ranges(count: u32) -> Vec<(u128, u128)> {
    let n = u128::from(count.max(1));
    if n == 1 {
        return vec![(0, u128::MAX)];
    }
    // 2^128 / n without overflowing.
    let step = u128::MAX / n + (u128::MAX % n + 1) / n;
    (0..n)
        .map(|i| {
            let start = i * step;
            let end = if i + 1 == n {
                u128::MAX
            } else {
                (i + 1) * step - 1
            };
            (start, end)
        })
        .collect()
}

fn not_found(name: &str, account: &str) -> StreamError {
    StreamError::new(
        ErrorKind::ResourceNotFound,
        format!("Stream {name} under account {account} not found."),
    )
}

/// Checks a stream name: 1–128 of `[a-zA-Z0-9_.-]`.
pub fn check_stream_name(name: &str) -> Result<(), StreamError> {
    let ok = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StreamError::validation(format!(
            "1 validation error detected: Value '{name}' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128"
        )))
    }
}

/// The binary form of a record in the journal:
/// `1, stream u64, shard u32, arrival u64, key length u16, key, data` (little-endian).
fn encode_record(stream: u64, shard: u32, arrival_ms: u64, key: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(23 + key.len() + data.len());
    out.push(1);
    out.extend_from_slice(&stream.to_le_bytes());
    out.extend_from_slice(&shard.to_le_bytes());
    out.extend_from_slice(&arrival_ms.to_le_bytes());
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(data);
    out
}

struct Decoded<'a> {
    stream: u64,
    shard: u32,
    arrival_ms: u64,
    key: &'a str,
    data: &'a [u8],
}

fn decode_record(bytes: &[u8]) -> Option<Decoded<'_>> {
    let rest = bytes.strip_prefix(&[1])?;
    let (stream, rest) = rest.split_first_chunk::<8>()?;
    let (shard, rest) = rest.split_first_chunk::<4>()?;
    let (arrival, rest) = rest.split_first_chunk::<8>()?;
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len));
    let key = std::str::from_utf8(rest.get(..len)?).ok()?;
    Some(Decoded {
        stream: u64::from_le_bytes(*stream),
        shard: u32::from_le_bytes(*shard),
        arrival_ms: u64::from_le_bytes(*arrival),
        key,
        data: &rest[len..],
    })
}

/// The index a shard id names (`shardId-000000000007` → 7).
fn shard_index(id: &str) -> Option<u32> {
    id.strip_prefix("shardId-")?.parse().ok()
}

impl Streams {
    /// Opens the streams under `dir` and recovers them. Blocking (reads the journal).
    pub fn open(dir: &Path, config: StreamsConfig) -> Result<Self, StreamError> {
        Self::open_with_clock(dir, config, Clock::new())
    }

    pub fn open_with_clock(
        dir: &Path,
        config: StreamsConfig,
        clock: Clock,
    ) -> Result<Self, StreamError> {
        let (journal, records) = Journal::open_dir(dir, Options::default())?;
        let mut streams: HashMap<u64, Arc<Stream>> = HashMap::new();
        let mut pending = Vec::new();
        let mut checkpoints = HashMap::new();
        for record in records {
            if record.payload.first() == Some(&2) {
                match serde_json::from_slice::<StoredCheckpoint>(&record.payload[1..]) {
                    Ok(c) => {
                        checkpoints.insert(c.key, (record.id, c.value));
                    }
                    Err(e) => {
                        tracing::error!(id = record.id, error = %e, "checkpoint hearth cannot read; left in the journal")
                    }
                }
            } else if record.payload.first() == Some(&b'{') {
                match serde_json::from_slice::<StreamRecord>(&record.payload) {
                    Ok(r) => {
                        let state = StreamState {
                            created_ms: r.created_ms,
                            retention_hours: r.retention_hours,
                            on_demand: r.on_demand,
                            tags: r.tags,
                            shards: r
                                .shards
                                .into_iter()
                                .map(|meta| ShardState {
                                    meta,
                                    records: VecDeque::new(),
                                    last_seq: None,
                                })
                                .collect(),
                            next_shard: r.next_shard,
                        };
                        streams.insert(
                            record.id,
                            Arc::new(Stream {
                                name: r.name,
                                id: record.id,
                                state: Mutex::new(state),
                                arrived: Notify::new(),
                                deleted: AtomicBool::new(false),
                            }),
                        );
                    }
                    Err(e) => {
                        tracing::error!(id = record.id, error = %e, "stream record hearth cannot read; left in the journal")
                    }
                }
            } else {
                pending.push(record);
            }
        }
        let durable = Arc::new(AtomicBool::new(true));
        let mut bytes = 0u64;
        for record in pending {
            let Some(d) = decode_record(&record.payload) else {
                tracing::error!(
                    id = record.id,
                    "stream data record hearth cannot read; left in the journal"
                );
                continue;
            };
            let stream = streams.get(&d.stream);
            let mut state = stream.map(|s| s.state());
            let shard = state.as_mut().and_then(|s| {
                s.shards
                    .iter_mut()
                    .find(|sh| shard_index(&sh.meta.id) == Some(d.shard))
            });
            match shard {
                Some(shard) => {
                    let rec = Rec {
                        seq: record.id,
                        arrival_ms: d.arrival_ms,
                        key: d.key.into(),
                        data: d.data.into(),
                        durable: durable.clone(),
                    };
                    bytes += rec.size();
                    shard.last_seq = Some(record.id);
                    // Ids are recovered in order, so each shard stays sorted.
                    shard.records.push_back(rec);
                }
                // Its stream was deleted before the removes of its records were written.
                None => journal.remove(record.id),
            }
        }
        let by_name = streams.into_values().map(|s| (s.name.clone(), s)).collect();
        Ok(Self {
            inner: Arc::new(Inner {
                journal,
                config,
                clock,
                streams: RwLock::new(by_name),
                control: tokio::sync::Mutex::new(()),
                bytes: AtomicU64::new(bytes),
                checkpoints: Mutex::new(checkpoints),
            }),
        })
    }

    fn checkpoints(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, serde_json::Value)>> {
        self.inner
            .checkpoints
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A consumer's checkpoint (an event source mapping's place in a shard).
    pub fn checkpoint(&self, key: &str) -> Option<serde_json::Value> {
        self.checkpoints().get(key).map(|(_, v)| v.clone())
    }

    /// Records a checkpoint, in the same journal as the records: it is never durable before
    /// the records it has passed. Not waited for: a crash at most repeats a batch.
    pub fn set_checkpoint(&self, key: &str, value: serde_json::Value) {
        let stored = StoredCheckpoint {
            key: key.to_owned(),
            value: value.clone(),
        };
        let mut payload = vec![2];
        payload.extend(serde_json::to_vec(&stored).unwrap_or_default());
        let mut checkpoints = self.checkpoints();
        match checkpoints.get_mut(key) {
            Some((id, old)) => {
                drop(self.inner.journal.replace(*id, payload));
                *old = value;
            }
            None => {
                let id = self.inner.journal.append(payload).id;
                checkpoints.insert(key.to_owned(), (id, value));
            }
        }
    }

    /// Forgets the checkpoints whose keys start with `prefix` (a deleted mapping's).
    pub fn clear_checkpoints(&self, prefix: &str) {
        self.checkpoints().retain(|key, (id, _)| {
            let keep = !key.starts_with(prefix);
            if !keep {
                self.inner.journal.remove(*id);
            }
            keep
        });
    }

    /// Durable records of shard `shard_id` at or after sequence number `from`.
    pub fn backlog(&self, name: &str, shard_id: &str, from: u64) -> Result<usize, StreamError> {
        let stream = self.stream(name)?;
        let state = stream.state();
        let shard = &state.shards[state.shard(shard_id)?];
        let start = shard.position(from);
        Ok(shard
            .records
            .range(start..)
            .take_while(|r| r.durable.load(Ordering::Acquire))
            .count())
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn region(&self) -> &str {
        &self.inner.config.region
    }

    pub fn account(&self) -> &str {
        &self.inner.config.account
    }

    /// `arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`.
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{name}",
            self.inner.config.region, self.inner.config.account
        )
    }

    /// The stream name of a Kinesis stream ARN.
    pub fn arn_stream_name(arn: &str) -> Option<&str> {
        let rest = arn.strip_prefix("arn:")?;
        let mut parts = rest.splitn(5, ':');
        let (_partition, service, _region, _account) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        (service == "kinesis").then_some(())?;
        parts.next()?.strip_prefix("stream/")
    }

    fn streams(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Stream>>> {
        self.inner.streams.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The stream called `name`.
    pub fn stream(&self, name: &str) -> Result<Arc<Stream>, StreamError> {
        self.streams()
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name, self.account()))
    }

    fn open_shard_total(&self) -> usize {
        self.streams()
            .values()
            .map(|s| s.state().open_shards())
            .sum()
    }

    async fn persist(&self, stream: &Stream) -> Result<(), StreamError> {
        let record = stream.state().record(&stream.name);
        let bytes = serde_json::to_vec(&record).unwrap_or_default();
        self.inner
            .journal
            .replace(stream.id, bytes)
            .durable()
            .await?;
        Ok(())
    }

    /// `CreateStream`: `shard_count` shards (provisioned), or on-demand with four.
    pub async fn create_stream(
        &self,
        name: &str,
        shard_count: Option<u32>,
        on_demand: bool,
    ) -> Result<(), StreamError> {
        check_stream_name(name)?;
        let count = match (shard_count, on_demand) {
            (Some(0), _) => {
                return Err(StreamError::validation(
                    "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1",
                ));
            }
            (Some(_), true) => {
                return Err(StreamError::invalid(
                    "ShardCount must not be specified for a stream in ON_DEMAND mode.",
                ));
            }
            (Some(n), false) => n,
            (None, true) => ON_DEMAND_SHARDS,
            (None, false) => {
                return Err(StreamError::invalid(
                    "ShardCount is required for a stream in PROVISIONED mode.",
                ));
            }
        };
        let _control = self.inner.control.lock().await;
        if self.streams().contains_key(name) {
            return Err(StreamError::new(
                ErrorKind::ResourceInUse,
                format!(
                    "Stream {name} under account {} already exists.",
                    self.account()
                ),
            ));
        }
        if self.streams().len() >= self.inner.config.max_streams {
            return Err(StreamError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "hearth holds its maximum of {} streams.",
                    self.inner.config.max_streams
                ),
            ));
        }
        let open = self.open_shard_total();
        if open + count as usize > self.inner.config.max_shards {
            return Err(StreamError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "This request would exceed the shard limit for the account: {open} of {} shards are open.",
                    self.inner.config.max_shards
                ),
            ));
        }
        let now = self.inner.clock.now_ms();
        // The description's own journal id is below every record's, so it starts each
        // shard's sequence range; it is written as a placeholder first to take the id.
        let appended = self.inner.journal.append(b"{}".to_vec());
        let id = appended.id;
        let shards = even_ranges(count)
            .into_iter()
            .enumerate()
            .map(|(i, (start_hash, end_hash))| ShardState {
                meta: ShardMeta {
                    id: shard_id(i as u32),
                    parent: None,
                    adjacent_parent: None,
                    start_hash,
                    end_hash,
                    starting_seq: id,
                    ending_seq: None,
                    closed_ms: None,
                },
                records: VecDeque::new(),
                last_seq: None,
            })
            .collect();
        let state = StreamState {
            created_ms: now,
            retention_hours: MIN_RETENTION_HOURS,
            on_demand,
            tags: BTreeMap::new(),
            shards,
            next_shard: count,
        };
        let record = serde_json::to_vec(&state.record(name)).unwrap_or_default();
        let written = self.inner.journal.replace(id, record);
        let stream = Arc::new(Stream {
            name: name.to_owned(),
            id,
            state: Mutex::new(state),
            arrived: Notify::new(),
            deleted: AtomicBool::new(false),
        });
        appended.durable().await?;
        written.durable().await?;
        self.inner
            .streams
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), stream);
        Ok(())
    }

    /// `DeleteStream`: the stream and its records, durably.
    pub async fn delete_stream(&self, name: &str) -> Result<(), StreamError> {
        let _control = self.inner.control.lock().await;
        let stream = self
            .inner
            .streams
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
            .ok_or_else(|| not_found(name, self.account()))?;
        stream.deleted.store(true, Ordering::Release);
        // The description goes first: records of no stream are removed by recovery.
        self.inner.journal.remove(stream.id);
        {
            let mut state = stream.state();
            for shard in &mut state.shards {
                for rec in shard.records.drain(..) {
                    self.forget(&rec);
                }
            }
        }
        stream.arrived.notify_waiters();
        self.inner.journal.sync().await?;
        Ok(())
    }

    fn forget(&self, rec: &Rec) {
        self.inner.bytes.fetch_sub(rec.size(), Ordering::Relaxed);
        self.inner.journal.remove(rec.seq);
    }

    /// Stream names, sorted.
    pub fn list(&self) -> Vec<String> {
        let mut names: Vec<String> = self.streams().keys().cloned().collect();
        names.sort();
        names
    }

    /// `DescribeStream`.
    pub fn describe(&self, name: &str) -> Result<StreamView, StreamError> {
        let stream = self.stream(name)?;
        let state = stream.state();
        Ok(StreamView {
            name: stream.name.clone(),
            arn: self.arn(&stream.name),
            created_ms: state.created_ms,
            retention_hours: state.retention_hours,
            on_demand: state.on_demand,
            shards: state.shards.iter().map(|s| s.meta.clone()).collect(),
            open_shards: state.open_shards(),
        })
    }

    /// `PutRecord` / `PutRecords`: each record placed (durably) or refused.
    pub async fn put(
        &self,
        name: &str,
        entries: Vec<PutEntry>,
    ) -> Result<Vec<Result<Placed, StreamError>>, StreamError> {
        let stream = self.stream(name)?;
        let now = self.inner.clock.now_ms();
        let durable = Arc::new(AtomicBool::new(false));
        let mut results = Vec::with_capacity(entries.len());
        let mut pending = Vec::new();
        {
            let mut state = stream.state();
            for entry in entries {
                let hash = match &entry.explicit_hash_key {
                    Some(text) => match text.parse::<u128>() {
                        Ok(h) => h,
                        Err(_) => {
                            results.push(Err(StreamError::invalid(format!(
                                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}"
                            ))));
                            continue;
                        }
                    },
                    None => hash_key(&entry.partition_key),
                };
                let size = (entry.data.len() + entry.partition_key.len()) as u64 + RECORD_OVERHEAD;
                let used = self.inner.bytes.fetch_add(size, Ordering::Relaxed);
                if used + size > self.inner.config.max_bytes {
                    self.inner.bytes.fetch_sub(size, Ordering::Relaxed);
                    results.push(Err(StreamError::new(
                        ErrorKind::ProvisionedThroughputExceeded,
                        format!(
                            "Rate exceeded for stream {name}: hearth's streams hold their maximum of {} bytes until retention trims them.",
                            self.inner.config.max_bytes
                        ),
                    )));
                    continue;
                }
                let Some(shard) = state.shards.iter_mut().find(|s| {
                    s.meta.is_open() && (s.meta.start_hash..=s.meta.end_hash).contains(&hash)
                }) else {
                    // Open shards always cover the whole hash-key space.
                    self.inner.bytes.fetch_sub(size, Ordering::Relaxed);
                    results.push(Err(StreamError::new(
                        ErrorKind::Internal,
                        "no open shard holds the record's hash key",
                    )));
                    continue;
                };
                let index = shard_index(&shard.meta.id).unwrap_or(0);
                let payload =
                    encode_record(stream.id, index, now, &entry.partition_key, &entry.data);
                let appended = self.inner.journal.append(payload);
                let seq = appended.id;
                shard.records.push_back(Rec {
                    seq,
                    arrival_ms: now,
                    key: entry.partition_key.into(),
                    data: entry.data.into(),
                    durable: durable.clone(),
                });
                shard.last_seq = Some(seq);
                pending.push((results.len(), appended));
                results.push(Ok(Placed {
                    shard_id: shard.meta.id.clone(),
                    sequence_number: sequence_number(seq),
                }));
            }
        }
        let mut failed = Vec::new();
        for (at, appended) in pending {
            let seq = appended.id;
            if let Err(e) = appended.durable().await {
                failed.push(seq);
                results[at] = Err(e.into());
            }
        }
        if !failed.is_empty() {
            // Never readable: take them out before they are marked durable.
            let mut state = stream.state();
            for shard in &mut state.shards {
                shard.records.retain(|r| {
                    let gone = failed.contains(&r.seq);
                    if gone {
                        self.inner.bytes.fetch_sub(r.size(), Ordering::Relaxed);
                    }
                    !gone
                });
            }
        }
        durable.store(true, Ordering::Release);
        stream.arrived.notify_waiters();
        Ok(results)
    }

    /// The sequence number a read from `at` in shard `shard_id` starts at.
    pub fn start(&self, name: &str, shard_id: &str, at: &StartAt) -> Result<u64, StreamError> {
        let stream = self.stream(name)?;
        let state = stream.state();
        let shard = &state.shards[state.shard(shard_id)?];
        let parse = |text: &str| {
            parse_sequence_number(text).ok_or_else(|| {
                StreamError::invalid(format!(
                    "StartingSequenceNumber {text} used in GetShardIterator on shard {shard_id} in stream {name} under account {} is invalid.",
                    self.account()
                ))
            })
        };
        Ok(match at {
            StartAt::TrimHorizon => 0,
            StartAt::Latest => shard.last_seq.map_or(shard.meta.starting_seq, |s| s + 1),
            StartAt::AtSequence(text) => parse(text)?,
            StartAt::AfterSequence(text) => parse(text)? + 1,
            StartAt::AtTimestamp(ms) => shard
                .records
                .iter()
                .find(|r| r.arrival_ms >= *ms)
                .map_or_else(
                    || shard.last_seq.map_or(shard.meta.starting_seq, |s| s + 1),
                    |r| r.seq,
                ),
        })
    }

    /// `GetShardIterator`.
    pub fn shard_iterator(
        &self,
        name: &str,
        shard_id: &str,
        at: &StartAt,
    ) -> Result<String, StreamError> {
        let from = self.start(name, shard_id, at)?;
        let stream = self.stream(name)?;
        Ok(self.iterator(&stream, shard_id, from))
    }

    fn iterator(&self, stream: &Stream, shard_id: &str, from: u64) -> String {
        let text = format!(
            "1:{}:{}:{shard_id}:{from}:{}",
            stream.name,
            stream.id,
            self.inner.clock.now_ms()
        );
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    /// `GetRecords`: up to `limit` records from where `iterator` points.
    pub fn get_records(&self, iterator: &str, limit: usize) -> Result<GetRecords, StreamError> {
        let bad = || StreamError::invalid("Invalid ShardIterator.");
        let text = base64::engine::general_purpose::STANDARD
            .decode(iterator)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let parts: Vec<&str> = text.split(':').collect();
        let ["1", name, id, shard_id, from, issued] = parts.as_slice() else {
            return Err(bad());
        };
        let (Ok(id), Ok(from), Ok(issued)) = (
            id.parse::<u64>(),
            from.parse::<u64>(),
            issued.parse::<u64>(),
        ) else {
            return Err(bad());
        };
        let now = self.inner.clock.now_ms();
        if now > issued + ITERATOR_TTL_MS {
            return Err(StreamError::new(
                ErrorKind::ExpiredIterator,
                format!(
                    "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of 300000 milliseconds.",
                    millis_text(issued),
                    millis_text(now)
                ),
            ));
        }
        let stream = self.stream(name)?;
        if stream.id != id {
            // A stream of the same name, created after the iterator's was deleted.
            return Err(not_found(name, self.account()));
        }
        let read = self.read(&stream, shard_id, from, limit)?;
        let next_iterator = read.next.map(|n| self.iterator(&stream, shard_id, n));
        Ok(GetRecords {
            read,
            next_iterator,
        })
    }

    /// Reads up to `limit` durable records of shard `shard_id` from sequence number `from`.
    pub fn read_shard(
        &self,
        name: &str,
        shard_id: &str,
        from: u64,
        limit: usize,
    ) -> Result<Read, StreamError> {
        let stream = self.stream(name)?;
        self.read(&stream, shard_id, from, limit)
    }

    fn read(
        &self,
        stream: &Stream,
        shard_id: &str,
        from: u64,
        limit: usize,
    ) -> Result<Read, StreamError> {
        if !(1..=MAX_GET_RECORDS).contains(&limit) {
            return Err(StreamError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {MAX_GET_RECORDS}"
            )));
        }
        let now = self.inner.clock.now_ms();
        let state = stream.state();
        let shard = &state.shards[state.shard(shard_id)?];
        let start = shard.position(from);
        let mut records = Vec::new();
        let mut bytes = 0usize;
        let mut next = from;
        let mut end = start;
        for rec in shard.records.range(start..) {
            if records.len() >= limit
                || !rec.durable.load(Ordering::Acquire)
                || (bytes > 0 && bytes + rec.data.len() > MAX_GET_RECORDS_BYTES)
            {
                break;
            }
            bytes += rec.data.len();
            next = rec.seq + 1;
            end += 1;
            records.push(Record {
                sequence_number: sequence_number(rec.seq),
                seq: rec.seq,
                arrival_ms: rec.arrival_ms,
                partition_key: rec.key.clone(),
                data: rec.data.clone(),
            });
        }
        let millis_behind = shard
            .records
            .get(end)
            .map_or(0, |r| now.saturating_sub(r.arrival_ms));
        let finished = !shard.meta.is_open() && end == shard.records.len();
        let children = if finished {
            state
                .shards
                .iter()
                .filter(|s| {
                    s.meta.parent.as_deref() == Some(shard_id)
                        || s.meta.adjacent_parent.as_deref() == Some(shard_id)
                })
                .map(|s| ChildShard {
                    shard_id: s.meta.id.clone(),
                    parents: s
                        .meta
                        .parent
                        .iter()
                        .chain(&s.meta.adjacent_parent)
                        .cloned()
                        .collect(),
                    start_hash: s.meta.start_hash,
                    end_hash: s.meta.end_hash,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Read {
            records,
            next: (!finished).then_some(next),
            millis_behind,
            children,
        })
    }

    /// Waits until records may have arrived in `name` (or `timeout` passes).
    pub async fn wait(&self, name: &str, timeout: std::time::Duration) {
        let Ok(stream) = self.stream(name) else {
            return;
        };
        let _ = tokio::time::timeout(timeout, stream.arrived.notified()).await;
    }

    /// `IncreaseStreamRetentionPeriod` (`increase`) / `DecreaseStreamRetentionPeriod`.
    pub async fn set_retention(
        &self,
        name: &str,
        hours: u32,
        increase: bool,
    ) -> Result<(), StreamError> {
        if !(MIN_RETENTION_HOURS..=MAX_RETENTION_HOURS).contains(&hours) {
            return Err(StreamError::invalid(format!(
                "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours and maximum is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is out of range."
            )));
        }
        let stream = self.stream(name)?;
        let _control = self.inner.control.lock().await;
        {
            let mut state = stream.state();
            let current = state.retention_hours;
            if increase && hours < current {
                return Err(StreamError::invalid(format!(
                    "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing retention period ({current} hours). Use DecreaseRetentionPeriod API."
                )));
            }
            if !increase && hours > current {
                return Err(StreamError::invalid(format!(
                    "Requested retention period ({hours} hours) for stream {name} can not be longer than existing retention period ({current} hours). Use IncreaseRetentionPeriod API."
                )));
            }
            state.retention_hours = hours;
        }
        self.persist(&stream).await
    }

    /// `AddTagsToStream` / `RemoveTagsFromStream`.
    pub async fn retag(
        &self,
        name: &str,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), StreamError> {
        let stream = self.stream(name)?;
        let _control = self.inner.control.lock().await;
        {
            let mut state = stream.state();
            let mut tags = state.tags.clone();
            tags.extend(add);
            for key in remove {
                tags.remove(key);
            }
            if tags.len() > 50 {
                return Err(StreamError::invalid(format!(
                    "Failed to add tags to stream {name} under account {} because a given stream cannot have more than 50 tags.",
                    self.account()
                )));
            }
            state.tags = tags;
        }
        self.persist(&stream).await
    }

    /// The tags of `name`.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, StreamError> {
        Ok(self.stream(name)?.state().tags.clone())
    }

    /// `SplitShard`: `shard` closes; two children take its range below and from
    /// `new_start`.
    pub async fn split_shard(
        &self,
        name: &str,
        shard: &str,
        new_start: &str,
    ) -> Result<(), StreamError> {
        let stream = self.stream(name)?;
        let _control = self.inner.control.lock().await;
        if self.open_shard_total() >= self.inner.config.max_shards {
            return Err(StreamError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "This request would exceed the shard limit for the account ({} open shards).",
                    self.inner.config.max_shards
                ),
            ));
        }
        {
            let mut state = stream.state();
            let at = state.shard(shard)?;
            let parent = &state.shards[at];
            if !parent.meta.is_open() {
                return Err(StreamError::invalid(format!(
                    "Shard {shard} in stream {name} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
                    self.account()
                )));
            }
            let (start, end) = (parent.meta.start_hash, parent.meta.end_hash);
            let split = new_start
                .parse::<u128>()
                .ok()
                .filter(|h| *h > start && *h <= end);
            let Some(split) = split else {
                return Err(StreamError::invalid(format!(
                    "NewStartingHashKey {new_start} used in SplitShard() on shard {shard} in stream {name} under account {} is not both greater than one plus the shard's StartingHashKey {start} and less than the shard's EndingHashKey {end}.",
                    self.account()
                )));
            };
            state.split(at, split, self.inner.clock.now_ms());
        }
        stream.arrived.notify_waiters();
        self.persist(&stream).await
    }

    /// `MergeShards`: `shard` and the adjacent `adjacent` close; one child takes both ranges.
    pub async fn merge_shards(
        &self,
        name: &str,
        shard: &str,
        adjacent: &str,
    ) -> Result<(), StreamError> {
        let stream = self.stream(name)?;
        let _control = self.inner.control.lock().await;
        {
            let mut state = stream.state();
            let (a, b) = (state.shard(shard)?, state.shard(adjacent)?);
            let (first, second) = (&state.shards[a].meta, &state.shards[b].meta);
            for s in [first, second] {
                if !s.is_open() {
                    return Err(StreamError::invalid(format!(
                        "Shard {} in stream {name} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
                        s.id,
                        self.account()
                    )));
                }
            }
            let adjacent_ranges = first.end_hash.checked_add(1) == Some(second.start_hash)
                || second.end_hash.checked_add(1) == Some(first.start_hash);
            if !adjacent_ranges || a == b {
                return Err(StreamError::invalid(format!(
                    "Shards {shard} and {adjacent} in stream {name} under account {} are not an adjacent pair of shards eligible for merging.",
                    self.account()
                )));
            }
            state.merge(a, b, self.inner.clock.now_ms());
        }
        stream.arrived.notify_waiters();
        self.persist(&stream).await
    }

    /// `UpdateShardCount` with `UNIFORM_SCALING`: splits every open shard at the boundaries of
    /// `target` even ranges, then merges what lies in each range, so the stream ends with
    /// `target` open shards of equal size. The short-lived shards in between are closed
    /// parents like any other, so consumers keep their order across them. Done at once (the
    /// stream never shows `UPDATING`); returns the open shard count before.
    pub async fn update_shard_count(&self, name: &str, target: u32) -> Result<u32, StreamError> {
        let stream = self.stream(name)?;
        let _control = self.inner.control.lock().await;
        let others = self.open_shard_total() - stream.state().open_shards();
        let current = {
            let mut state = stream.state();
            if state.on_demand {
                return Err(StreamError::invalid(format!(
                    "UpdateShardCount is not supported for stream {name} under account {} in the ON_DEMAND capacity mode.",
                    self.account()
                )));
            }
            let current = state.open_shards() as u32;
            if target == 0 || target > current.saturating_mul(2) || target < current.div_ceil(2) {
                return Err(StreamError::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "UpdateShardCount on stream {name} under account {}: TargetShardCount {target} must be between half and double the {current} open shards.",
                        self.account()
                    ),
                ));
            }
            if others + target as usize > self.inner.config.max_shards {
                return Err(StreamError::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "This request would exceed the shard limit for the account ({} open shards).",
                        self.inner.config.max_shards
                    ),
                ));
            }
            let ranges = even_ranges(target);
            let now = self.inner.clock.now_ms();
            let open: Vec<usize> = (0..state.shards.len())
                .filter(|&i| state.shards[i].meta.is_open())
                .collect();
            for mut at in open {
                for &(boundary, _) in &ranges[1..] {
                    let meta = &state.shards[at].meta;
                    if boundary > meta.start_hash && boundary <= meta.end_hash {
                        at = state.split(at, boundary, now).1;
                    }
                }
            }
            for &(low, high) in &ranges {
                let mut inside: Vec<usize> = (0..state.shards.len())
                    .filter(|&i| {
                        let m = &state.shards[i].meta;
                        m.is_open() && m.start_hash >= low && m.end_hash <= high
                    })
                    .collect();
                inside.sort_by_key(|&i| state.shards[i].meta.start_hash);
                if let Some((&first, rest)) = inside.split_first() {
                    rest.iter()
                        .fold(first, |merged, &next| state.merge(merged, next, now));
                }
            }
            current
        };
        stream.arrived.notify_waiters();
        self.persist(&stream).await?;
        Ok(current)
    }

    /// Drops records past their stream's retention, and closed shards once nothing of them
    /// is left and the retention has passed since they closed. Run every few seconds.
    pub fn expire(&self) {
        let now = self.inner.clock.now_ms();
        let streams: Vec<Arc<Stream>> = self.streams().values().cloned().collect();
        for stream in streams {
            let mut state = stream.state();
            let keep_ms = u64::from(state.retention_hours) * 3_600_000;
            for shard in &mut state.shards {
                while shard
                    .records
                    .front()
                    .is_some_and(|r| r.arrival_ms + keep_ms <= now)
                {
                    if let Some(rec) = shard.records.pop_front() {
                        self.forget(&rec);
                    }
                }
            }
            let before = state.shards.len();
            state.shards.retain(|s| {
                let gone = s.meta.closed_ms.is_some_and(|c| c + keep_ms <= now);
                !(gone && s.records.is_empty())
            });
            if state.shards.len() != before {
                // Not waited for: a shard that comes back after a crash is removed again.
                let record = state.record(&stream.name);
                drop(
                    self.inner
                        .journal
                        .replace(stream.id, serde_json::to_vec(&record).unwrap_or_default()),
                );
            }
        }
    }

    /// Every stream's counts, by name.
    pub fn summaries(&self) -> Vec<StreamSummary> {
        let now = self.inner.clock.now_ms();
        let streams: Vec<Arc<Stream>> = self.streams().values().cloned().collect();
        let mut out: Vec<StreamSummary> = streams
            .iter()
            .map(|s| {
                let state = s.state();
                StreamSummary {
                    name: s.name.clone(),
                    retention_hours: state.retention_hours,
                    on_demand: state.on_demand,
                    shards: state
                        .shards
                        .iter()
                        .map(|sh| ShardSummary {
                            id: sh.meta.id.clone(),
                            open: sh.meta.is_open(),
                            records: sh.records.len(),
                            bytes: sh.records.iter().map(Rec::size).sum(),
                            oldest_age_seconds: sh
                                .records
                                .front()
                                .map_or(0.0, |r| now.saturating_sub(r.arrival_ms) as f64 / 1000.0),
                        })
                        .collect(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Bytes of records held.
    pub fn bytes(&self) -> u64 {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    /// Resolves once everything written so far is on disk.
    pub async fn sync(&self) -> Result<(), StreamError> {
        Ok(self.inner.journal.sync().await?)
    }
}

/// Milliseconds since the epoch as a timestamp for messages.
fn millis_text(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests;
