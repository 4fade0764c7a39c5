//! DynamoDB-like tables over the journal: a real keyed store (items ordered by partition key,
//! then by sort key as DynamoDB orders it — strings and binaries by bytes, numbers by value),
//! conditional writes, updates by expression, and queries by key.
//!
//! Each item is one journal record (`I` + JSON), rewritten when it changes and removed when it
//! is deleted; a table's description is a record of its own (`T` + JSON). A write is answered
//! once the journal's group commit covers it.

use super::expr::{self, Condition, Path, Placeholders, Update};
use super::value::{Item, Value, item_from_json, item_size, item_to_json};
use crate::error::{ErrorKind, StreamError};
use hearth_journal::{Clock, Journal, Options};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicU64, Ordering as Atomic};
use std::sync::{Arc, Mutex, RwLock};

/// DynamoDB's item size limit.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// How the engine is bounded.
#[derive(Debug, Clone)]
pub struct TablesConfig {
    pub region: String,
    pub account: String,
    /// Item bytes all tables may hold together; past it a write is refused.
    pub max_bytes: u64,
    pub max_tables: usize,
}

impl Default for TablesConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            max_bytes: 4 << 30,
            max_tables: 2_500,
        }
    }
}

/// One key attribute: its name and scalar type (`S`, `N`, `B`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttribute {
    pub name: String,
    pub kind: String,
}

/// A table's description as persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    pub name: String,
    pub created_ms: u64,
    pub hash: KeyAttribute,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<KeyAttribute>,
    pub billing_mode: String,
    #[serde(default)]
    pub read_capacity: u64,
    #[serde(default)]
    pub write_capacity: u64,
    /// The stream's view type while it is enabled, and its label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_view_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_label: Option<String>,
}

/// A key part, ordered as DynamoDB orders keys.
#[derive(Debug, Clone, PartialEq)]
struct KeyPart(Value);

impl Eq for KeyPart {}

impl PartialOrd for KeyPart {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyPart {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .compare(&other.0)
            .unwrap_or_else(|| self.0.type_name().cmp(other.0.type_name()))
    }
}

type Key = (KeyPart, Option<KeyPart>);

#[derive(Debug)]
struct TableState {
    meta: TableMeta,
    items: BTreeMap<Key, (u64, Item)>,
    bytes: u64,
    /// Stream records of every label the table had, oldest first (sequence number order).
    stream: std::collections::VecDeque<StreamRecord>,
}

/// A table stream's record: one change of one item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamRecord {
    /// Its journal id: the sequence number.
    #[serde(skip)]
    pub seq: u64,
    pub label: String,
    pub event_id: String,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub event_name: String,
    pub created_ms: u64,
    pub view_type: String,
    #[serde(with = "item_json")]
    pub keys: Item,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_item_json"
    )]
    pub new_image: Option<Item>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_item_json"
    )]
    pub old_image: Option<Item>,
    pub size: usize,
    /// Set once the journal's commit covers the write (readers stop before it until then).
    #[serde(skip, default = "durable_now")]
    pub durable: Arc<std::sync::atomic::AtomicBool>,
}

fn durable_now() -> Arc<std::sync::atomic::AtomicBool> {
    Arc::new(std::sync::atomic::AtomicBool::new(true))
}

mod item_json {
    use super::{Item, item_from_json, item_to_json};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(item: &Item, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&item_to_json(item), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
        let json = serde_json::Value::deserialize(d)?;
        item_from_json(&json).map_err(serde::de::Error::custom)
    }
}

mod opt_item_json {
    use super::{Item, item_from_json, item_to_json};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(item: &Option<Item>, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&item.as_ref().map(item_to_json), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Item>, D::Error> {
        let json = Option::<serde_json::Value>::deserialize(d)?;
        json.map(|j| item_from_json(&j).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A table stream's record as journaled (after a leading `R`).
#[derive(Debug, Serialize, Deserialize)]
struct StoredRecord {
    table: u64,
    record: StreamRecord,
}

/// Stream records are kept 24 hours.
pub const STREAM_RETENTION_MS: u64 = 24 * 3600 * 1000;

/// The stream record of a change, as `view_type` shapes it; none when nothing changed.
fn stream_record(meta: &TableMeta, change: &Change, now_ms: u64) -> Option<StreamRecord> {
    let (view, label) = (meta.stream_view_type.as_ref()?, meta.stream_label.as_ref()?);
    let event_name = match (&change.old, &change.new) {
        (None, Some(_)) => "INSERT",
        (Some(old), Some(new)) if old != new => "MODIFY",
        (Some(_), None) => "REMOVE",
        _ => return None,
    };
    let keys = change
        .new
        .as_ref()
        .or(change.old.as_ref())
        .map(|i| meta.key_item(i))
        .unwrap_or_default();
    let new_image = matches!(view.as_str(), "NEW_IMAGE" | "NEW_AND_OLD_IMAGES")
        .then(|| change.new.clone())
        .flatten();
    let old_image = matches!(view.as_str(), "OLD_IMAGE" | "NEW_AND_OLD_IMAGES")
        .then(|| change.old.clone())
        .flatten();
    let size = item_size(&keys)
        + new_image.as_ref().map_or(0, item_size)
        + old_image.as_ref().map_or(0, item_size);
    Some(StreamRecord {
        seq: 0,
        label: label.clone(),
        event_id: format!("{:032x}", uuid_like(now_ms, &keys)),
        event_name: event_name.to_owned(),
        created_ms: now_ms,
        view_type: view.clone(),
        keys,
        new_image,
        old_image,
        size,
        durable: Arc::new(std::sync::atomic::AtomicBool::new(false)),
    })
}

/// A 128-bit event id: the time and the key, hashed.
fn uuid_like(now_ms: u64, keys: &Item) -> u128 {
    use md5::Digest as _;
    let mut hasher = md5::Md5::new();
    hasher.update(now_ms.to_le_bytes());
    hasher.update(item_to_json(keys).to_string());
    hasher.update(COUNTER.fetch_add(1, Atomic::Relaxed).to_le_bytes());
    u128::from_be_bytes(hasher.finalize().into())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// One table.
#[derive(Debug)]
pub struct Table {
    id: u64,
    state: Mutex<TableState>,
}

impl Table {
    fn state(&self) -> std::sync::MutexGuard<'_, TableState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn meta(&self) -> TableMeta {
        self.state().meta.clone()
    }

    /// Items and their bytes.
    pub fn counts(&self) -> (usize, u64) {
        let state = self.state();
        (state.items.len(), state.bytes)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredItem {
    table: u64,
    item: serde_json::Value,
}

#[derive(Debug)]
struct Inner {
    journal: Journal,
    config: TablesConfig,
    clock: Clock,
    tables: RwLock<HashMap<String, Arc<Table>>>,
    control: tokio::sync::Mutex<()>,
    bytes: AtomicU64,
}

/// Every table of one node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Tables {
    inner: Arc<Inner>,
}

/// What a write changed: the item before and after (`None`: absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// A condition with the placeholders it was parsed with.
pub type Guard = Option<Condition>;

fn not_found() -> StreamError {
    StreamError::new(ErrorKind::ResourceNotFound, "Requested resource not found")
}

fn condition_failed() -> StreamError {
    StreamError::new(
        ErrorKind::ConditionalCheckFailed,
        "The conditional request failed",
    )
}

/// Checks a table name: 3–255 of `[a-zA-Z0-9_.-]`.
pub fn check_table_name(name: &str) -> Result<(), StreamError> {
    let ok = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StreamError::validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255"
        )))
    }
}

impl TableMeta {
    /// The key of `item` (which must carry both key attributes with their types).
    fn key_of(&self, item: &Item) -> Result<Key, StreamError> {
        let part = |attr: &KeyAttribute| -> Result<KeyPart, StreamError> {
            match item.get(&attr.name) {
                Some(v) if v.type_name() == attr.kind => Ok(KeyPart(v.clone())),
                Some(v) => Err(StreamError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                    attr.name,
                    attr.kind,
                    v.type_name()
                ))),
                None => Err(StreamError::validation(format!(
                    "One or more parameter values were invalid: Missing the key {} in the item",
                    attr.name
                ))),
            }
        };
        let hash = part(&self.hash)?;
        if matches!(&hash.0, Value::S(s) if s.is_empty())
            || matches!(&hash.0, Value::B(b) if b.is_empty())
        {
            return Err(StreamError::validation(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {}",
                self.hash.name
            )));
        }
        let range = self.range.as_ref().map(part).transpose()?;
        Ok((hash, range))
    }

    /// The key named by a request's `Key`: exactly the key attributes.
    fn key(&self, key: &Item) -> Result<Key, StreamError> {
        let expected = 1 + usize::from(self.range.is_some());
        if key.len() != expected {
            return Err(StreamError::validation(
                "The provided key element does not match the schema",
            ));
        }
        self.key_of(key).map_err(|_| {
            StreamError::validation("The provided key element does not match the schema")
        })
    }

    fn is_key(&self, name: &str) -> bool {
        self.hash.name == name || self.range.as_ref().is_some_and(|r| r.name == name)
    }

    /// The key attributes of `item`, as an item.
    pub fn key_item(&self, item: &Item) -> Item {
        item.iter()
            .filter(|(k, _)| self.is_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

fn encode_item(table: u64, item: &Item) -> Vec<u8> {
    let mut out = vec![b'I'];
    let stored = StoredItem {
        table,
        item: item_to_json(item),
    };
    out.extend(serde_json::to_vec(&stored).unwrap_or_default());
    out
}

fn encode_meta(meta: &TableMeta) -> Vec<u8> {
    let mut out = vec![b'T'];
    out.extend(serde_json::to_vec(meta).unwrap_or_default());
    out
}

impl Tables {
    /// Opens the tables under `dir` and recovers them. Blocking (reads the journal).
    pub fn open(dir: &FsPath, config: TablesConfig) -> Result<Self, StreamError> {
        let (journal, records) = Journal::open_dir(dir, Options::default())?;
        let mut tables: HashMap<u64, Arc<Table>> = HashMap::new();
        let mut items = Vec::new();
        let mut stream_records = Vec::new();
        for record in records {
            match record.payload.split_first() {
                Some((b'T', rest)) => match serde_json::from_slice::<TableMeta>(rest) {
                    Ok(meta) => {
                        tables.insert(
                            record.id,
                            Arc::new(Table {
                                id: record.id,
                                state: Mutex::new(TableState {
                                    meta,
                                    items: BTreeMap::new(),
                                    bytes: 0,
                                    stream: Default::default(),
                                }),
                            }),
                        );
                    }
                    Err(e) => {
                        tracing::error!(id = record.id, error = %e, "table record hearth cannot read; left in the journal")
                    }
                },
                Some((b'I', rest)) => items.push((record.id, rest.to_vec())),
                Some((b'R', rest)) => match serde_json::from_slice::<StoredRecord>(rest) {
                    Ok(mut stored) => {
                        stored.record.seq = record.id;
                        stream_records.push(stored);
                    }
                    Err(e) => {
                        tracing::error!(id = record.id, error = %e, "stream record hearth cannot read; left in the journal")
                    }
                },
                _ => tracing::error!(
                    id = record.id,
                    "table journal record hearth cannot read; left in the journal"
                ),
            }
        }
        let mut bytes = 0u64;
        for (id, payload) in items {
            let stored = serde_json::from_slice::<StoredItem>(&payload)
                .ok()
                .and_then(|s| Some((s.table, item_from_json(&s.item).ok()?)));
            let Some((table, item)) = stored else {
                tracing::error!(id, "item hearth cannot read; left in the journal");
                continue;
            };
            match tables.get(&table) {
                Some(t) => {
                    let mut state = t.state();
                    if let Ok(key) = state.meta.key_of(&item) {
                        let size = item_size(&item) as u64;
                        state.bytes += size;
                        bytes += size;
                        state.items.insert(key, (id, item));
                    }
                }
                // Its table was deleted before the removes of its items were written.
                None => journal.remove(id),
            }
        }
        for stored in stream_records {
            match tables.get(&stored.table) {
                // Recovered in id order, so each stream stays in sequence order.
                Some(t) => t.state().stream.push_back(stored.record),
                None => journal.remove(stored.record.seq),
            }
        }
        let by_name = tables
            .into_values()
            .map(|t| {
                let name = t.state().meta.name.clone();
                (name, t)
            })
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                journal,
                config,
                clock: Clock::new(),
                tables: RwLock::new(by_name),
                control: tokio::sync::Mutex::new(()),
                bytes: AtomicU64::new(bytes),
            }),
        })
    }

    pub fn region(&self) -> &str {
        &self.inner.config.region
    }

    pub fn account(&self) -> &str {
        &self.inner.config.account
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`.
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            self.inner.config.region, self.inner.config.account
        )
    }

    fn tables(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Table>>> {
        self.inner.tables.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Result<Arc<Table>, StreamError> {
        self.tables().get(name).cloned().ok_or_else(not_found)
    }

    /// Table names, sorted.
    pub fn list(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables().keys().cloned().collect();
        names.sort();
        names
    }

    /// `CreateTable` (the API has checked the key schema against the definitions).
    pub async fn create_table(&self, mut meta: TableMeta) -> Result<TableMeta, StreamError> {
        check_table_name(&meta.name)?;
        let _control = self.inner.control.lock().await;
        if self.tables().contains_key(&meta.name) {
            return Err(StreamError::new(
                ErrorKind::ResourceInUse,
                format!("Table already exists: {}", meta.name),
            ));
        }
        if self.tables().len() >= self.inner.config.max_tables {
            return Err(StreamError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "hearth holds its maximum of {} tables",
                    self.inner.config.max_tables
                ),
            ));
        }
        meta.created_ms = self.inner.clock.now_ms();
        if meta.stream_view_type.is_some() {
            meta.stream_label = Some(super::stream_label(meta.created_ms));
        }
        let id = self
            .inner
            .journal
            .append(encode_meta(&meta))
            .durable()
            .await?;
        let table = Arc::new(Table {
            id,
            state: Mutex::new(TableState {
                meta: meta.clone(),
                items: BTreeMap::new(),
                bytes: 0,
                stream: Default::default(),
            }),
        });
        self.inner
            .tables
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(meta.name.clone(), table);
        Ok(meta)
    }

    /// `UpdateTable`: enables (with a view type) or disables the stream.
    pub async fn set_stream(
        &self,
        name: &str,
        view_type: Option<String>,
    ) -> Result<TableMeta, StreamError> {
        let table = self.table(name)?;
        let _control = self.inner.control.lock().await;
        let meta = {
            let mut state = table.state();
            match (&state.meta.stream_view_type, &view_type) {
                (Some(_), Some(_)) => {
                    return Err(StreamError::validation(format!(
                        "Table already has an enabled stream: {}",
                        self.arn(name)
                    )));
                }
                (None, None) => {
                    return Err(StreamError::validation(
                        "Table already has its stream disabled",
                    ));
                }
                _ => {}
            }
            if view_type.is_some() {
                state.meta.stream_label = Some(super::stream_label(self.inner.clock.now_ms()));
            }
            state.meta.stream_view_type = view_type;
            state.meta.clone()
        };
        self.inner
            .journal
            .replace(table.id, encode_meta(&meta))
            .durable()
            .await?;
        Ok(meta)
    }

    /// `DeleteTable`: the table and its items, durably; its description as it was.
    pub async fn delete_table(&self, name: &str) -> Result<TableMeta, StreamError> {
        let _control = self.inner.control.lock().await;
        let table = self
            .inner
            .tables
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
            .ok_or_else(not_found)?;
        self.inner.journal.remove(table.id);
        let meta = {
            let mut state = table.state();
            for record in std::mem::take(&mut state.stream) {
                self.inner.journal.remove(record.seq);
            }
            for (_, (id, item)) in std::mem::take(&mut state.items) {
                self.inner
                    .bytes
                    .fetch_sub(item_size(&item) as u64, Atomic::Relaxed);
                self.inner.journal.remove(id);
            }
            state.bytes = 0;
            state.meta.clone()
        };
        self.inner.journal.sync().await?;
        Ok(meta)
    }

    /// The item under `key`.
    pub fn get(&self, name: &str, key: &Item) -> Result<Option<Item>, StreamError> {
        let table = self.table(name)?;
        let state = table.state();
        let key = state.meta.key(key)?;
        Ok(state.items.get(&key).map(|(_, item)| item.clone()))
    }

    /// Writes one item change under the table's lock: `make` gets the current item (or
    /// `None`) and returns the new one (or `None` to delete), after `guard` holds.
    async fn write(
        &self,
        name: &str,
        key_item: &Item,
        guard: &Guard,
        make: impl FnOnce(&TableMeta, Option<&Item>) -> Result<Option<Item>, StreamError>,
    ) -> Result<Change, StreamError> {
        let table = self.table(name)?;
        let appended = {
            let mut state = table.state();
            let key = state.meta.key(key_item)?;
            let current = state.items.get(&key).map(|(_, item)| item.clone());
            if let Some(condition) = guard {
                let empty = Item::new();
                if !expr::holds(condition, current.as_ref().unwrap_or(&empty))? {
                    return Err(condition_failed());
                }
            }
            let new = make(&state.meta, current.as_ref())?;
            if let Some(item) = &new {
                let size = item_size(item);
                if size > MAX_ITEM_BYTES {
                    return Err(StreamError::validation(
                        "Item size has exceeded the maximum allowed size",
                    ));
                }
                if state.meta.key_of(item)? != key {
                    return Err(StreamError::validation(
                        "One or more parameter values were invalid: the key of the item cannot change",
                    ));
                }
                let old = current.as_ref().map_or(0, item_size) as u64;
                let used = self.inner.bytes.load(Atomic::Relaxed);
                if used + size as u64 > self.inner.config.max_bytes + old {
                    return Err(StreamError::new(
                        ErrorKind::ProvisionedThroughputExceeded,
                        format!(
                            "hearth's tables hold their maximum of {} bytes",
                            self.inner.config.max_bytes
                        ),
                    ));
                }
            }
            let old_size = current.as_ref().map_or(0, item_size) as u64;
            let new_size = new.as_ref().map_or(0, item_size) as u64;
            state.bytes = (state.bytes + new_size).saturating_sub(old_size);
            self.inner.bytes.fetch_add(new_size, Atomic::Relaxed);
            self.inner.bytes.fetch_sub(old_size, Atomic::Relaxed);
            let existing = state.items.get(&key).map(|(id, _)| *id);
            let appended = match (&new, existing) {
                (Some(item), Some(id)) => {
                    let a = self.inner.journal.replace(id, encode_item(table.id, item));
                    state.items.insert(key, (id, item.clone()));
                    Some(a)
                }
                (Some(item), None) => {
                    let a = self.inner.journal.append(encode_item(table.id, item));
                    state.items.insert(key, (a.id, item.clone()));
                    Some(a)
                }
                (None, Some(id)) => {
                    self.inner.journal.remove(id);
                    state.items.remove(&key);
                    None
                }
                (None, None) => None,
            };
            let change = Change { old: current, new };
            // The stream record follows the item's write in the journal, so it is durable
            // whenever the change is.
            let record =
                stream_record(&state.meta, &change, self.inner.clock.now_ms()).map(|mut record| {
                    let stored = StoredRecord {
                        table: table.id,
                        record: record.clone(),
                    };
                    let mut payload = vec![b'R'];
                    payload.extend(serde_json::to_vec(&stored).unwrap_or_default());
                    let appended = self.inner.journal.append(payload);
                    record.seq = appended.id;
                    state.stream.push_back(record.clone());
                    (appended, record.durable)
                });
            (appended, record, change)
        };
        let (appended, record, change) = appended;
        let synced = match appended {
            Some(a) => a.durable().await.map(drop),
            None => self.inner.journal.sync().await,
        };
        let record_synced = match record {
            Some((a, durable)) => {
                let done = a.durable().await.map(drop);
                if done.is_ok() {
                    durable.store(true, Atomic::Release);
                }
                done
            }
            None => Ok(()),
        };
        synced?;
        record_synced?;
        Ok(change)
    }

    /// `PutItem`.
    pub async fn put(&self, name: &str, item: Item, guard: &Guard) -> Result<Change, StreamError> {
        let key_item = {
            let table = self.table(name)?;
            let meta = table.meta();
            meta.key_of(&item)?;
            meta.key_item(&item)
        };
        self.write(name, &key_item, guard, |_, _| Ok(Some(item)))
            .await
    }

    /// `DeleteItem`.
    pub async fn delete(
        &self,
        name: &str,
        key: &Item,
        guard: &Guard,
    ) -> Result<Change, StreamError> {
        self.write(name, key, guard, |_, _| Ok(None)).await
    }

    /// `UpdateItem`: the update applied to the item (or to the key alone when absent).
    pub async fn update(
        &self,
        name: &str,
        key: &Item,
        update: &Update,
        guard: &Guard,
    ) -> Result<Change, StreamError> {
        let key = key.clone();
        self.write(name, &key.clone(), guard, move |meta, current| {
            for path in update.paths() {
                if meta.is_key(path.root()) {
                    return Err(StreamError::validation(format!(
                        "One or more parameter values were invalid: Cannot update attribute {}. This attribute is part of the key",
                        path.root()
                    )));
                }
            }
            let base = current.cloned().unwrap_or(key);
            Ok(Some(expr::apply(update, &base)?))
        })
        .await
    }

    /// `Query`: the items of one partition that `range_condition` (the key condition on the
    /// sort key) admits, in sort-key order (reversed unless `forward`), from after `start`,
    /// at most `limit`. Returns the items and the last evaluated key when more may follow.
    pub fn query(
        &self,
        name: &str,
        hash: &Value,
        range_condition: &Guard,
        forward: bool,
        start: Option<&Item>,
        limit: Option<usize>,
    ) -> Result<(Vec<Item>, Option<Item>), StreamError> {
        let table = self.table(name)?;
        let state = table.state();
        if hash.type_name() != state.meta.hash.kind {
            return Err(StreamError::validation(
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            ));
        }
        let start_key = start.map(|s| state.meta.key(s)).transpose()?;
        let hash = KeyPart(hash.clone());
        let range = state
            .items
            .range((hash.clone(), None)..)
            .take_while(|((h, _), _)| *h == hash);
        let mut all: Vec<(&Key, &Item)> = Vec::new();
        for (k, (_, item)) in range {
            let admitted = match range_condition {
                Some(c) => expr::holds(c, item)?,
                None => true,
            };
            if admitted {
                all.push((k, item));
            }
        }
        if !forward {
            all.reverse();
        }
        if let Some(start) = &start_key {
            let at = all
                .iter()
                .position(|(k, _)| *k == start)
                .map_or(0, |i| i + 1);
            all.drain(..at);
        }
        let more = limit.is_some_and(|l| all.len() > l);
        let taken: Vec<Item> = all
            .iter()
            .take(limit.unwrap_or(usize::MAX))
            .map(|(_, item)| (*item).clone())
            .collect();
        let last = if more {
            taken.last().map(|i| state.meta.key_item(i))
        } else {
            None
        };
        Ok((taken, last))
    }

    /// `Scan`: every item in key order, from after `start`, at most `limit` evaluated.
    pub fn scan(
        &self,
        name: &str,
        start: Option<&Item>,
        limit: Option<usize>,
    ) -> Result<(Vec<Item>, Option<Item>), StreamError> {
        let table = self.table(name)?;
        let state = table.state();
        let start_key = start.map(|s| state.meta.key(s)).transpose()?;
        let iter: Box<dyn Iterator<Item = (&Key, &(u64, Item))>> = match &start_key {
            Some(k) => Box::new(
                state
                    .items
                    .range(k.clone()..)
                    .skip_while(move |(key, _)| *key == k),
            ),
            None => Box::new(state.items.iter()),
        };
        let mut out = Vec::new();
        let mut more = false;
        for (_, (_, item)) in iter {
            if limit.is_some_and(|l| out.len() >= l) {
                more = true;
                break;
            }
            out.push(item.clone());
        }
        let last = if more {
            out.last().map(|i| state.meta.key_item(i))
        } else {
            None
        };
        Ok((out, last))
    }

    /// Resolves once everything written so far is on disk.
    pub async fn sync(&self) -> Result<(), StreamError> {
        Ok(self.inner.journal.sync().await?)
    }
}

/// The paths of a projection, for callers that hold only text.
pub fn projection(
    text: Option<&str>,
    placeholders: &mut Placeholders,
) -> Result<Option<Vec<Path>>, StreamError> {
    text.map(|t| expr::parse_projection(t, placeholders))
        .transpose()
}

#[cfg(test)]
mod tests;

/// One read of a table stream.
#[derive(Debug, Clone)]
pub struct StreamRead {
    pub records: Vec<StreamRecord>,
    /// Where the next read starts.
    pub next: u64,
}

impl Tables {
    /// Durable records of the stream `label` of `name` from sequence number `from`, at most
    /// `limit`.
    pub fn read_stream(
        &self,
        name: &str,
        label: &str,
        from: u64,
        limit: usize,
    ) -> Result<StreamRead, StreamError> {
        let table = self.table(name)?;
        let state = table.state();
        let start = state.stream.partition_point(|r| r.seq < from);
        let mut next = from;
        let mut records = Vec::new();
        for record in state.stream.range(start..) {
            if records.len() >= limit || !record.durable.load(Atomic::Acquire) {
                break;
            }
            next = record.seq + 1;
            if record.label == label {
                records.push(record.clone());
            }
        }
        Ok(StreamRead { records, next })
    }

    /// How many durable records of the stream `label` of `name` are at or after `from`.
    pub fn stream_backlog(&self, name: &str, label: &str, from: u64) -> Result<usize, StreamError> {
        let table = self.table(name)?;
        let state = table.state();
        let start = state.stream.partition_point(|r| r.seq < from);
        Ok(state
            .stream
            .range(start..)
            .take_while(|r| r.durable.load(Atomic::Acquire))
            .filter(|r| r.label == label)
            .count())
    }

    /// The sequence number past the newest record of `name`'s stream (a `LATEST` start).
    pub fn stream_end(&self, name: &str) -> Result<u64, StreamError> {
        let table = self.table(name)?;
        let state = table.state();
        Ok(state.stream.back().map_or(table.id + 1, |r| r.seq + 1))
    }

    /// The labels of the streams `name` has had, with their view types and first records.
    pub fn stream_labels(&self, name: &str) -> Result<Vec<(String, String)>, StreamError> {
        let table = self.table(name)?;
        let state = table.state();
        let mut labels: Vec<(String, String)> = Vec::new();
        for r in &state.stream {
            if !labels.iter().any(|(l, _)| *l == r.label) {
                labels.push((r.label.clone(), r.view_type.clone()));
            }
        }
        if let (Some(label), Some(view)) = (&state.meta.stream_label, &state.meta.stream_view_type)
            && !labels.iter().any(|(l, _)| l == label)
        {
            labels.push((label.clone(), view.clone()));
        }
        Ok(labels)
    }

    /// Drops stream records older than 24 hours.
    pub fn expire(&self) {
        let now = self.inner.clock.now_ms();
        let tables: Vec<Arc<Table>> = self.tables().values().cloned().collect();
        for table in tables {
            let mut state = table.state();
            while state
                .stream
                .front()
                .is_some_and(|r| r.created_ms + STREAM_RETENTION_MS <= now)
            {
                if let Some(r) = state.stream.pop_front() {
                    self.inner.journal.remove(r.seq);
                }
            }
        }
    }
}
