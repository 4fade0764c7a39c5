//! hearth's message queues: SQS's semantics over the durable [`hearth_journal`].
//!
//! Every queue and every message is one journal record. A send is acknowledged only once the
//! journal's group commit has synced it, so one `fdatasync` covers every send that arrived
//! while the previous one ran and nothing acknowledged is lost to `kill -9`. A delete is
//! acknowledged once synced too (else a crash would deliver it again); a receive rewrites
//! its message's receive count without waiting (a crash may then under-count a receive,
//! which delivers the message once more before the dead-letter queue: at least once).
//! Nothing here touches the disk on the caller's thread: the journal's writer thread does.
//!
//! In memory, each queue's [`state::QueueState`] tracks what is visible, delayed and in
//! flight, FIFO groups and deduplication; it is pure bookkeeping on an epoch-millisecond
//! clock, tested without waiting. The [`Engine`] joins the two and adds long polling, the
//! redrive to dead-letter queues, retention and message-move tasks.
//!
//! After a restart every message is visible again (receipt handles of the earlier run are
//! refused), delays and receive counts are kept, and FIFO deduplication remembers every id
//! of the last five minutes: a FIFO message that leaves its queue inside its deduplication
//! window leaves a small record of its id in place of its own, removed when the window ends.
//!
//! Layout: [`config`] (queue attributes), [`message`] (what senders send and receivers get,
//! SQS's MD5s), [`state`] (one queue in memory), [`error`] (SQS's error names).

pub mod config;
pub mod error;
pub mod message;
pub mod state;

pub use config::QueueConfig;
pub use error::{ErrorKind, SqsError};
pub use message::{AttributeValue, NewMessage, Received, Sent};

pub use hearth_journal::Clock;
use hearth_journal::{Journal, Options};
use serde::{Deserialize, Serialize};
use state::{Msg, QueueState, Receipt, VisibilityRefusal};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub region: String,
    pub account: String,
    /// Message bytes all queues may hold together; a send past it is `OverLimit`.
    pub max_bytes: u64,
    /// Most queues.
    pub max_queues: usize,
    /// Most messages in flight per queue; a receive past it is `OverLimit` (SQS: 120,000).
    pub max_in_flight: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            max_bytes: 4 << 30,
            max_queues: 10_000,
            max_in_flight: MAX_IN_FLIGHT,
        }
    }
}

/// SQS's limit of in-flight messages per queue (standard and FIFO alike).
pub const MAX_IN_FLIGHT: usize = 120_000;

/// A journal record.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Stored {
    Queue {
        name: String,
        created_ms: u64,
        modified_ms: u64,
        attributes: QueueConfig,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    },
    Message {
        queue: u64,
        msg: Box<Msg>,
    },
    Task(Box<MoveTask>),
    /// The deduplication id of a FIFO message gone before its window ended.
    Dedup {
        queue: u64,
        id: String,
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sequence: Option<u64>,
        expiry_ms: u64,
    },
}

fn encode(stored: &Stored) -> Vec<u8> {
    serde_json::to_vec(stored).unwrap_or_default()
}

/// One queue.
#[derive(Debug)]
pub struct Queue {
    pub name: String,
    /// Its journal record; also the queue part of its receipt handles.
    id: u64,
    state: Mutex<QueueState>,
    /// Woken when messages may have become receivable.
    arrived: Notify,
    deleted: AtomicBool,
}

impl Queue {
    fn state(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_fifo(&self) -> bool {
        self.state().config.fifo
    }

    pub fn config(&self) -> QueueConfig {
        self.state().config.clone()
    }

    pub fn counts(&self, now: u64) -> state::Counts {
        self.state().counts(now)
    }

    fn record(&self) -> Stored {
        let state = self.state();
        Stored::Queue {
            name: self.name.clone(),
            created_ms: state.created_ms,
            modified_ms: state.modified_ms,
            attributes: state.config.clone(),
            tags: state.tags.clone(),
        }
    }
}

/// What an event source's poller needs of a queue service. The embedded [`Engine`]
/// implements it; a client of real SQS (or another broker) is a second implementation, so
/// the pollers run unchanged against shared queues when hearth runs on several nodes.
pub trait QueueService: Clone + Send + Sync + 'static {
    /// The queue an ARN names: the name later calls take, whether it is FIFO, and its
    /// visibility timeout in seconds.
    fn describe(&self, arn: &str) -> Result<(String, bool, u32), SqsError>;

    /// `ReceiveMessage`.
    fn receive_messages(
        &self,
        queue: &str,
        options: ReceiveOptions,
    ) -> impl std::future::Future<Output = Result<Vec<Received>, SqsError>> + Send;

    /// `DeleteMessageBatch`: one result per handle.
    fn delete_messages(
        &self,
        queue: &str,
        handles: &[String],
    ) -> impl std::future::Future<Output = Result<Vec<Result<(), SqsError>>, SqsError>> + Send;

    /// `ChangeMessageVisibilityBatch`: (handle, seconds) each.
    fn change_visibilities(
        &self,
        queue: &str,
        entries: &[(String, u32)],
    ) -> impl std::future::Future<Output = Result<Vec<Result<(), SqsError>>, SqsError>> + Send;
}

impl QueueService for Engine {
    fn describe(&self, arn: &str) -> Result<(String, bool, u32), SqsError> {
        let queue = self.queue_by_arn(arn)?;
        let config = queue.config();
        Ok((queue.name.clone(), config.fifo, config.visibility_timeout))
    }

    async fn receive_messages(
        &self,
        queue: &str,
        options: ReceiveOptions,
    ) -> Result<Vec<Received>, SqsError> {
        self.receive(queue, options).await
    }

    async fn delete_messages(
        &self,
        queue: &str,
        handles: &[String],
    ) -> Result<Vec<Result<(), SqsError>>, SqsError> {
        self.delete(queue, handles).await
    }

    async fn change_visibilities(
        &self,
        queue: &str,
        entries: &[(String, u32)],
    ) -> Result<Vec<Result<(), SqsError>>, SqsError> {
        self.change_visibility(queue, entries)
    }
}

/// One queue's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueSummary {
    pub name: String,
    pub fifo: bool,
    pub visible: usize,
    pub in_flight: usize,
    pub delayed: usize,
    pub bytes: u64,
    pub oldest_age_seconds: f64,
    pub dead_letter_queue: Option<String>,
}

/// How a receive asks.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReceiveOptions {
    pub max: usize,
    pub wait_seconds: Option<u32>,
    pub visibility_timeout: Option<u32>,
}

/// A message-move task (`StartMessageMoveTask`), kept as a journal record of its own: a
/// running task goes on after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveTask {
    pub handle: String,
    pub source_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_second: Option<u32>,
    /// `RUNNING`, `COMPLETED`, `CANCELLED` or `FAILED`.
    pub status: String,
    pub moved: u64,
    pub to_move: u64,
    pub started_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Its journal record.
    #[serde(skip)]
    record: u64,
}

/// Tasks kept per source queue for `ListMessageMoveTasks` (SQS lists at most 10).
const TASKS_PER_SOURCE: usize = 10;

#[derive(Debug)]
struct Inner {
    journal: Journal,
    config: EngineConfig,
    clock: Clock,
    queues: RwLock<HashMap<String, Arc<Queue>>>,
    /// Serialises the control-plane changes (create, delete, attributes).
    control: tokio::sync::Mutex<()>,
    bytes: AtomicU64,
    tasks: Mutex<Vec<MoveTask>>,
    /// Names of queues deleted in the last minute, with when: SQS refuses to create a queue
    /// of such a name (`QueueDeletedRecently`).
    deleted: Mutex<HashMap<String, u64>>,
    /// Journal records of deduplication ids outliving their messages: (window end, id).
    dedup_records: Mutex<BTreeSet<(u64, u64)>>,
}

/// How long a deleted queue's name stays taken, as SQS keeps it.
const DELETED_NAME_MS: u64 = 60_000;

/// Every queue of one node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

fn bytes_left(used: u64, max: u64) -> u64 {
    max.saturating_sub(used)
}

impl Engine {
    /// Opens the queues under `dir` and recovers them. Blocking (reads the journal).
    pub fn open(dir: &Path, config: EngineConfig) -> Result<Self, SqsError> {
        Self::open_with_clock(dir, config, Clock::new())
    }

    pub fn open_with_clock(
        dir: &Path,
        config: EngineConfig,
        clock: Clock,
    ) -> Result<Self, SqsError> {
        let (journal, records) = Journal::open_dir(dir, Options::default())?;
        let mut queues: HashMap<u64, Arc<Queue>> = HashMap::new();
        let mut messages = Vec::new();
        let mut dedups = Vec::new();
        let mut tasks = Vec::new();
        for record in records {
            match serde_json::from_slice::<Stored>(&record.payload) {
                Ok(Stored::Queue {
                    name,
                    created_ms,
                    modified_ms,
                    attributes,
                    tags,
                }) => {
                    let mut state = QueueState::new(attributes, created_ms);
                    state.modified_ms = modified_ms;
                    state.tags = tags;
                    queues.insert(
                        record.id,
                        Arc::new(Queue {
                            name,
                            id: record.id,
                            state: Mutex::new(state),
                            arrived: Notify::new(),
                            deleted: AtomicBool::new(false),
                        }),
                    );
                }
                Ok(Stored::Message { queue, mut msg }) => {
                    msg.id = record.id;
                    messages.push((queue, msg));
                }
                Ok(Stored::Dedup {
                    queue,
                    id,
                    message_id,
                    sequence,
                    expiry_ms,
                }) => dedups.push((record.id, queue, id, message_id, sequence, expiry_ms)),
                Ok(Stored::Task(mut task)) => {
                    task.record = record.id;
                    tasks.push(*task);
                }
                Err(e) => {
                    tracing::error!(id = record.id, error = %e, "queue record hearth cannot read; left in the journal");
                }
            }
        }
        let mut bytes = 0u64;
        for (queue, msg) in messages {
            match queues.get(&queue) {
                Some(q) => {
                    bytes += msg.size as u64;
                    q.state().insert(*msg);
                }
                // Its queue was deleted before the removes of its messages were written.
                None => journal.remove(msg.id),
            }
        }
        let now = clock.now_ms();
        let mut dedup_records = BTreeSet::new();
        for (record, queue, id, message_id, sequence, expiry) in dedups {
            match queues.get(&queue) {
                Some(q) if expiry > now => {
                    q.state().remember_dedup(&id, &message_id, sequence, expiry);
                    dedup_records.insert((expiry, record));
                }
                _ => journal.remove(record),
            }
        }
        let by_name = queues.into_values().map(|q| (q.name.clone(), q)).collect();
        let engine = Self {
            inner: Arc::new(Inner {
                journal,
                config,
                clock,
                queues: RwLock::new(by_name),
                control: tokio::sync::Mutex::new(()),
                deleted: Mutex::new(HashMap::new()),
                dedup_records: Mutex::new(dedup_records),
                bytes: AtomicU64::new(bytes),
                tasks: Mutex::new(Vec::new()),
            }),
        };
        engine.resume_moves(tasks);
        Ok(engine)
    }

    /// Takes the move tasks back after a restart: a running one goes on with what its
    /// dead-letter queue holds now (or fails if that queue is gone); the others are listed.
    fn resume_moves(&self, mut tasks: Vec<MoveTask>) {
        tasks.sort_by_key(|t| t.record);
        let runtime = tokio::runtime::Handle::try_current().ok();
        for task in &mut tasks {
            if task.status != "RUNNING" {
                continue;
            }
            match (self.queue_by_arn(&task.source_arn), &runtime) {
                (Ok(source), Some(runtime)) => {
                    let ids = source.state().ids();
                    task.to_move = task.moved + ids.len() as u64;
                    let engine = self.clone();
                    let (handle, destination, rate) = (
                        task.handle.clone(),
                        task.destination_arn.clone(),
                        task.max_per_second,
                    );
                    runtime.spawn(async move {
                        engine
                            .run_move(handle, source, destination, rate, ids)
                            .await
                    });
                }
                (Err(_), _) => {
                    task.status = "FAILED".into();
                    task.failure = Some("The source queue was deleted.".into());
                    self.write_task(task);
                }
                (Ok(_), None) => {}
            }
        }
        *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
    }

    fn write_task(&self, task: &MoveTask) -> hearth_journal::Appended {
        self.inner
            .journal
            .replace(task.record, encode(&Stored::Task(Box::new(task.clone()))))
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

    /// `arn:aws:sqs:REGION:ACCOUNT:NAME`.
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:sqs:{}:{}:{name}",
            self.inner.config.region, self.inner.config.account
        )
    }

    fn queues(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Queue>>> {
        self.inner.queues.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The queue called `name`.
    pub fn queue(&self, name: &str) -> Result<Arc<Queue>, SqsError> {
        self.queues()
            .get(name)
            .cloned()
            .ok_or_else(SqsError::no_queue)
    }

    /// The queue an SQS ARN names.
    pub fn queue_by_arn(&self, arn: &str) -> Result<Arc<Queue>, SqsError> {
        let name = config::arn_queue_name(arn).ok_or_else(SqsError::no_queue)?;
        self.queue(name)
    }

    /// Queue names starting with `prefix`, sorted.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .queues()
            .keys()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect();
        names.sort();
        names
    }

    fn check_redrive_target(&self, config: &QueueConfig, fifo: bool) -> Result<(), SqsError> {
        if let Some(redrive) = &config.redrive {
            let target = self.queue_by_arn(&redrive.dead_letter_target_arn).map_err(|_| {
                SqsError::new(
                    ErrorKind::InvalidAttributeValue,
                    format!(
                        "Value {{\"deadLetterTargetArn\":\"{}\",\"maxReceiveCount\":\"{}\"}} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.",
                        redrive.dead_letter_target_arn, redrive.max_receive_count
                    ),
                )
            })?;
            if target.is_fifo() != fifo {
                return Err(SqsError::new(
                    ErrorKind::InvalidAttributeValue,
                    "Value for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue as the source.",
                ));
            }
        }
        Ok(())
    }

    /// `CreateQueue`: the queue, created or (with equal attributes) the existing one.
    pub async fn create_queue(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> Result<Arc<Queue>, SqsError> {
        let fifo = match attributes.get("FifoQueue").map(String::as_str) {
            Some("true") => true,
            Some("false") | None => false,
            Some(_) => {
                return Err(SqsError::new(
                    ErrorKind::InvalidAttributeValue,
                    "Invalid value for the parameter FifoQueue.",
                ));
            }
        };
        config::check_queue_name(name, fifo)?;
        for (k, v) in &attributes {
            QueueConfig::validate(k, v, true, fifo)?;
        }
        let _control = self.inner.control.lock().await;
        if let Ok(existing) = self.queue(name) {
            let reported = existing.config().reported();
            for (k, v) in &attributes {
                if reported.get(k).map(String::as_str).unwrap_or("") != v.as_str() {
                    return Err(SqsError::new(
                        ErrorKind::QueueNameExists,
                        format!(
                            "A queue already exists with the same name and a different value for attribute {k}"
                        ),
                    ));
                }
            }
            return Ok(existing);
        }
        let now = self.inner.clock.now_ms();
        if self
            .inner
            .deleted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .is_some_and(|&at| now < at + DELETED_NAME_MS)
        {
            return Err(SqsError::new(
                ErrorKind::QueueDeletedRecently,
                "You must wait 60 seconds after deleting a queue before you can create another queue with the same name.",
            ));
        }
        if self.queues().len() >= self.inner.config.max_queues {
            return Err(SqsError::new(
                ErrorKind::OverLimit,
                format!(
                    "hearth holds its maximum of {} queues",
                    self.inner.config.max_queues
                ),
            ));
        }
        let config = QueueConfig::from(attributes);
        self.check_redrive_target(&config, fifo)?;
        self.insert_queue(name, config, tags).await
    }

    /// A queue of hearth's own (the `Event` invocation queue), from a configuration built
    /// in code rather than a client's attributes, so none of SQS's attribute ranges apply
    /// (a message may be larger than 256 KiB, retention longer than 14 days). The existing
    /// queue when there is one, with `config` as its configuration. Its record is written
    /// without waiting: the journal writes in order, so a message sent to it is never
    /// durable before the queue is.
    pub fn own_queue(&self, name: &str, config: QueueConfig) -> Arc<Queue> {
        if let Ok(existing) = self.queue(name) {
            existing.state().config = config;
            drop(
                self.inner
                    .journal
                    .replace(existing.id, encode(&existing.record())),
            );
            return existing;
        }
        let now = self.inner.clock.now_ms();
        let state = QueueState::new(config, now);
        let record = Stored::Queue {
            name: name.to_owned(),
            created_ms: now,
            modified_ms: now,
            attributes: state.config.clone(),
            tags: BTreeMap::new(),
        };
        let id = self.inner.journal.append(encode(&record)).id;
        let queue = Arc::new(Queue {
            name: name.to_owned(),
            id,
            state: Mutex::new(state),
            arrived: Notify::new(),
            deleted: AtomicBool::new(false),
        });
        self.inner
            .queues
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), queue.clone());
        queue
    }

    /// Writes a new queue's record durably, then makes the queue visible. The caller holds
    /// the control lock.
    async fn insert_queue(
        &self,
        name: &str,
        config: QueueConfig,
        tags: BTreeMap<String, String>,
    ) -> Result<Arc<Queue>, SqsError> {
        let now = self.inner.clock.now_ms();
        let mut state = QueueState::new(config, now);
        state.tags = tags;
        let record = Stored::Queue {
            name: name.to_owned(),
            created_ms: now,
            modified_ms: now,
            attributes: state.config.clone(),
            tags: state.tags.clone(),
        };
        let id = self.inner.journal.append(encode(&record)).durable().await?;
        let queue = Arc::new(Queue {
            name: name.to_owned(),
            id,
            state: Mutex::new(state),
            arrived: Notify::new(),
            deleted: AtomicBool::new(false),
        });
        self.inner
            .queues
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), queue.clone());
        Ok(queue)
    }

    /// `DeleteQueue`: the queue and its messages, durably.
    pub async fn delete_queue(&self, name: &str) -> Result<(), SqsError> {
        let _control = self.inner.control.lock().await;
        let queue = self
            .inner
            .queues
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
            .ok_or_else(SqsError::no_queue)?;
        queue.deleted.store(true, Ordering::Release);
        {
            let now = self.inner.clock.now_ms();
            let mut deleted = self.inner.deleted.lock().unwrap_or_else(|e| e.into_inner());
            deleted.retain(|_, at| now < *at + DELETED_NAME_MS);
            deleted.insert(name.to_owned(), now);
        }
        // The queue's record goes first: a crash part-way leaves messages of no queue, which
        // recovery removes.
        self.inner.journal.remove(queue.id);
        {
            let mut state = queue.state();
            for id in state.ids() {
                if let Some(msg) = state.remove(id) {
                    self.forget(&msg);
                }
            }
        }
        queue.arrived.notify_waiters();
        self.inner.journal.sync().await?;
        Ok(())
    }

    async fn persist(&self, queue: &Queue) -> Result<(), SqsError> {
        self.inner
            .journal
            .replace(queue.id, encode(&queue.record()))
            .durable()
            .await?;
        Ok(())
    }

    /// `SetQueueAttributes`.
    pub async fn set_attributes(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        let queue = self.queue(name)?;
        let fifo = queue.is_fifo();
        for (k, v) in &attributes {
            QueueConfig::validate(k, v, false, fifo)?;
        }
        let _control = self.inner.control.lock().await;
        let mut raw = queue.config().raw;
        raw.extend(attributes);
        let config = QueueConfig::from(raw);
        self.check_redrive_target(&config, fifo)?;
        {
            let mut state = queue.state();
            state.config = config;
            state.modified_ms = self.inner.clock.now_ms();
        }
        self.persist(&queue).await?;
        // A shorter delay may have made messages visible.
        queue.arrived.notify_waiters();
        Ok(())
    }

    /// `GetQueueAttributes`: `names` may hold `All`; unknown names are refused.
    pub fn attributes(
        &self,
        name: &str,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, SqsError> {
        let queue = self.queue(name)?;
        let now = self.inner.clock.now_ms();
        let state = queue.state();
        let counts = state.counts(now);
        let mut all = state.config.reported();
        all.insert(
            "ApproximateNumberOfMessages".into(),
            counts.visible.to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            counts.in_flight.to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            counts.delayed.to_string(),
        );
        all.insert(
            "CreatedTimestamp".into(),
            (state.created_ms / 1000).to_string(),
        );
        all.insert(
            "LastModifiedTimestamp".into(),
            (state.modified_ms / 1000).to_string(),
        );
        all.insert("QueueArn".into(), self.arn(name));
        drop(state);
        if names.iter().any(|n| n == "All") {
            return Ok(all);
        }
        let mut out = BTreeMap::new();
        for n in names {
            const KNOWN: &[&str] = &[
                "Policy",
                "RedrivePolicy",
                "RedriveAllowPolicy",
                "KmsMasterKeyId",
                "KmsDataKeyReusePeriodSeconds",
                "FifoQueue",
                "ContentBasedDeduplication",
                "DeduplicationScope",
                "FifoThroughputLimit",
                "SqsManagedSseEnabled",
            ];
            match all.get(n) {
                Some(v) => {
                    out.insert(n.clone(), v.clone());
                }
                None if KNOWN.contains(&n.as_str()) => {}
                None => {
                    return Err(SqsError::new(
                        ErrorKind::InvalidAttributeName,
                        format!("Unknown Attribute {n}."),
                    ));
                }
            }
        }
        Ok(out)
    }

    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, SqsError> {
        Ok(self.queue(name)?.state().tags.clone())
    }

    /// `TagQueue` (`add`) and `UntagQueue` (`remove`).
    pub async fn retag(
        &self,
        name: &str,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), SqsError> {
        let queue = self.queue(name)?;
        let _control = self.inner.control.lock().await;
        {
            let mut state = queue.state();
            state.tags.extend(add);
            for k in remove {
                state.tags.remove(k);
            }
            if state.tags.len() > 50 {
                return Err(SqsError::invalid(
                    "Too many tags: a queue holds at most 50.",
                ));
            }
        }
        self.persist(&queue).await
    }

    /// `SendMessage` / `SendMessageBatch`: each message accepted (durably) or refused.
    pub async fn send(
        &self,
        name: &str,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Result<Sent, SqsError>>, SqsError> {
        let queue = self.queue(name)?;
        let now = self.inner.clock.now_ms();
        let mut results: Vec<Result<Sent, SqsError>> = Vec::with_capacity(messages.len());
        let mut pending = Vec::new();
        {
            let mut state = queue.state();
            let config = state.config.clone();
            for new in messages {
                let size = match new.validate(config.maximum_message_size, config.fifo) {
                    Ok(size) => size,
                    Err(e) => {
                        results.push(Err(e));
                        continue;
                    }
                };
                let md5_of_body = message::md5_hex(new.body.as_bytes());
                let md5_of_attributes = message::md5_of_attributes(&new.attributes);
                let md5_of_system_attributes = message::md5_of_attributes(&new.system_attributes);
                let mut dedup = None;
                let mut sequence = None;
                if config.fifo {
                    let id = match (&new.deduplication_id, config.content_based_deduplication) {
                        (Some(id), _) => id.clone(),
                        (None, true) => {
                            use sha2::Digest as _;
                            hex::encode(sha2::Sha256::digest(new.body.as_bytes()))
                        }
                        (None, false) => {
                            results.push(Err(SqsError::invalid("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")));
                            continue;
                        }
                    };
                    if let Some((message_id, seq)) = state.duplicate(&id, now) {
                        results.push(Ok(Sent {
                            message_id,
                            md5_of_body,
                            md5_of_attributes,
                            md5_of_system_attributes,
                            sequence_number: seq.map(state::sequence_number),
                        }));
                        continue;
                    }
                    dedup = Some(id);
                    sequence = Some(state.sequence());
                }
                let used = self.inner.bytes.fetch_add(size as u64, Ordering::Relaxed);
                if used + size as u64 > self.inner.config.max_bytes {
                    self.inner.bytes.fetch_sub(size as u64, Ordering::Relaxed);
                    results.push(Err(SqsError::new(
                        ErrorKind::OverLimit,
                        format!(
                            "hearth's queues hold their maximum of {} bytes ({} free); delete or receive messages first",
                            self.inner.config.max_bytes,
                            bytes_left(used, self.inner.config.max_bytes)
                        ),
                    )));
                    continue;
                }
                let delay = new.delay_seconds.unwrap_or(config.delay_seconds);
                let mut msg = Msg {
                    id: 0,
                    message_id: uuid::Uuid::new_v4().to_string(),
                    body: new.body,
                    attributes: new.attributes,
                    system_attributes: new.system_attributes,
                    md5_of_body: md5_of_body.clone(),
                    md5_of_attributes: md5_of_attributes.clone(),
                    sent_ms: now,
                    available_ms: now + u64::from(delay) * 1000,
                    group_id: new.group_id,
                    deduplication_id: dedup,
                    sequence,
                    sender_id: new.sender_id,
                    receive_count: 0,
                    first_receive_ms: None,
                    dead_letter_source: None,
                    size,
                    visible_ms: 0,
                    nonce: 0,
                };
                let sent = Sent {
                    message_id: msg.message_id.clone(),
                    md5_of_body,
                    md5_of_attributes,
                    md5_of_system_attributes,
                    sequence_number: sequence.map(state::sequence_number),
                };
                let stored = Stored::Message {
                    queue: queue.id,
                    msg: Box::new(msg.clone()),
                };
                let appended = self.inner.journal.append(encode(&stored));
                msg.id = appended.id;
                state.insert(msg);
                pending.push((results.len(), appended));
                results.push(Ok(sent));
            }
        }
        // Receivers may have the messages at once: the journal writes in order, so a
        // receive's rewrite of a message always follows its put.
        if !pending.is_empty() {
            queue.arrived.notify_waiters();
        }
        for (at, appended) in pending {
            let id = appended.id;
            if let Err(e) = appended.durable().await {
                if let Some(msg) = queue.state().remove(id) {
                    self.inner
                        .bytes
                        .fetch_sub(msg.size as u64, Ordering::Relaxed);
                }
                results[at] = Err(e.into());
            }
        }
        Ok(results)
    }

    /// `ReceiveMessage`: waits up to the wait time for the first message, then returns what
    /// is visible, up to `max`.
    pub async fn receive(
        &self,
        name: &str,
        options: ReceiveOptions,
    ) -> Result<Vec<Received>, SqsError> {
        let queue = self.queue(name)?;
        if !(1..=10).contains(&options.max) {
            return Err(SqsError::invalid(format!(
                "Value {} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
                options.max
            )));
        }
        if let Some(wait) = options.wait_seconds.filter(|w| *w > 20) {
            return Err(SqsError::invalid(format!(
                "Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
            )));
        }
        if let Some(vt) = options.visibility_timeout.filter(|v| *v > 43_200) {
            return Err(SqsError::invalid(format!(
                "Value {vt} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided."
            )));
        }
        let queue_wait = queue.state().config.receive_wait_seconds;
        let wait_ms = u64::from(options.wait_seconds.unwrap_or(queue_wait)) * 1000;
        let deadline = self.inner.clock.now_ms() + wait_ms;
        loop {
            let arrived = queue.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let now = self.inner.clock.now_ms();
            let (received, next) = self.take(&queue, now, options)?;
            if !received.is_empty() || now >= deadline || queue.deleted.load(Ordering::Acquire) {
                return Ok(received);
            }
            let until = next.map_or(deadline, |n| n.min(deadline));
            tokio::select! {
                () = &mut arrived => {}
                () = tokio::time::sleep_until(self.inner.clock.instant_at(until)) => {}
            }
        }
    }

    /// One attempt of a receive: what is visible now, and when more will be.
    fn take(
        &self,
        queue: &Arc<Queue>,
        now: u64,
        options: ReceiveOptions,
    ) -> Result<(Vec<Received>, Option<u64>), SqsError> {
        let redrive = queue.state().config.redrive.clone();
        let redrive_target =
            redrive.and_then(|r| self.queue_by_arn(&r.dead_letter_target_arn).ok());
        let mut state = queue.state();
        let limit = self.inner.config.max_in_flight;
        if state.len() > limit && state.in_flight_estimate(now) >= limit {
            return Err(SqsError::new(
                ErrorKind::OverLimit,
                format!(
                    "The queue {} has its maximum of {limit} messages in flight.",
                    queue.name
                ),
            ));
        }
        let visibility = options
            .visibility_timeout
            .unwrap_or(state.config.visibility_timeout);
        let taken = state.take(
            queue.id,
            now,
            options.max,
            u64::from(visibility) * 1000,
            redrive_target.is_some(),
        );
        for &(id, _) in &taken.received {
            if let Some(msg) = state.get(id) {
                let stored = Stored::Message {
                    queue: queue.id,
                    msg: Box::new(msg.clone()),
                };
                drop(self.inner.journal.replace(id, encode(&stored)));
            }
        }
        let next = state.next_visible(now);
        drop(state);
        for msg in &taken.expired {
            self.retire(queue.id, msg);
        }
        if let Some(target) = redrive_target
            && !taken.dead.is_empty()
        {
            let source = self.arn(&queue.name);
            self.move_messages(&target, taken.dead, Some(source), now);
        }
        Ok((taken.received.into_iter().map(|(_, r)| r).collect(), next))
    }

    /// Moves messages into `target` (a dead-letter queue, or back from one): each is
    /// written there, and removed from where it was once that write is synced.
    fn move_messages(&self, target: &Arc<Queue>, msgs: Vec<Msg>, source: Option<String>, now: u64) {
        let mut moved = Vec::with_capacity(msgs.len());
        {
            let mut state = target.state();
            for old in msgs {
                let mut msg = old.clone();
                msg.receive_count = 0;
                msg.first_receive_ms = None;
                msg.available_ms = now;
                msg.dead_letter_source = source.clone();
                if !state.config.fifo {
                    msg.group_id = None;
                    msg.deduplication_id = None;
                    msg.sequence = None;
                } else if msg.sequence.is_some() {
                    msg.sequence = Some(state.sequence());
                }
                let stored = Stored::Message {
                    queue: target.id,
                    msg: Box::new(msg.clone()),
                };
                let appended = self.inner.journal.append(encode(&stored));
                msg.id = appended.id;
                state.insert(msg);
                moved.push((old.id, appended));
            }
        }
        target.arrived.notify_waiters();
        let journal = self.inner.journal.clone();
        let finish = async move {
            for (old, appended) in moved {
                if appended.durable().await.is_ok() {
                    journal.remove(old);
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(finish)),
            Err(_) => {
                tracing::warn!("message move outside a runtime: old copies stay until restart")
            }
        }
    }

    /// Forgets a message whose queue is deleted: its bytes and its journal record.
    fn forget(&self, msg: &Msg) {
        self.inner
            .bytes
            .fetch_sub(msg.size as u64, Ordering::Relaxed);
        self.inner.journal.remove(msg.id);
    }

    /// Forgets a message that has left queue `queue` (deleted, purged, expired): its bytes,
    /// and its journal record — which, for a FIFO message inside its deduplication window,
    /// becomes the record of its deduplication id until the window ends.
    fn retire(&self, queue: u64, msg: &Msg) {
        let expiry = msg.sent_ms + state::DEDUP_WINDOW_MS;
        match &msg.deduplication_id {
            Some(id) if expiry > self.inner.clock.now_ms() => {
                self.inner
                    .bytes
                    .fetch_sub(msg.size as u64, Ordering::Relaxed);
                let stored = Stored::Dedup {
                    queue,
                    id: id.clone(),
                    message_id: msg.message_id.clone(),
                    sequence: msg.sequence,
                    expiry_ms: expiry,
                };
                drop(self.inner.journal.replace(msg.id, encode(&stored)));
                self.inner
                    .dedup_records
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert((expiry, msg.id));
            }
            _ => self.forget(msg),
        }
    }

    fn receipt(&self, queue: &Queue, handle: &str) -> Result<Receipt, SqsError> {
        Receipt::decode(handle)
            .filter(|r| r.queue == queue.id)
            .ok_or_else(|| {
                SqsError::new(
                    ErrorKind::ReceiptHandleIsInvalid,
                    format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
                )
            })
    }

    /// `DeleteMessage` / `DeleteMessageBatch`: each acknowledged once synced. A message
    /// already gone (deleted, or moved by another receive) is no error, as on SQS.
    pub async fn delete(
        &self,
        name: &str,
        handles: &[String],
    ) -> Result<Vec<Result<(), SqsError>>, SqsError> {
        let queue = self.queue(name)?;
        let mut results = Vec::with_capacity(handles.len());
        let mut any = false;
        {
            let mut state = queue.state();
            for handle in handles {
                match self.receipt(&queue, handle) {
                    Ok(receipt) => {
                        if let Some(msg) = state.remove(receipt.message) {
                            self.retire(queue.id, &msg);
                            any = true;
                        }
                        results.push(Ok(()));
                    }
                    Err(e) => results.push(Err(e)),
                }
            }
        }
        if any {
            // A FIFO group may be unblocked now.
            queue.arrived.notify_waiters();
            self.inner.journal.sync().await?;
        }
        Ok(results)
    }

    /// `ChangeMessageVisibility` / `…Batch`.
    pub fn change_visibility(
        &self,
        name: &str,
        entries: &[(String, u32)],
    ) -> Result<Vec<Result<(), SqsError>>, SqsError> {
        let queue = self.queue(name)?;
        let now = self.inner.clock.now_ms();
        let mut results = Vec::with_capacity(entries.len());
        {
            let mut state = queue.state();
            for (handle, timeout) in entries {
                if *timeout > 43_200 {
                    results.push(Err(SqsError::invalid(format!(
                        "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided."
                    ))));
                    continue;
                }
                let result = self.receipt(&queue, handle).and_then(|receipt| {
                    state
                        .change_visibility(receipt, now, u64::from(*timeout) * 1000)
                        .map_err(|refusal| match refusal {
                            VisibilityRefusal::NotInFlight => SqsError::new(
                                ErrorKind::MessageNotInflight,
                                "Message does not exist or is not available for visibility timeout change.",
                            ),
                            VisibilityRefusal::Stale => SqsError::invalid(format!(
                                "Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
                            )),
                        })
                });
                results.push(result);
            }
        }
        // A long poll sleeping until the old visibility time must look again.
        queue.arrived.notify_waiters();
        Ok(results)
    }

    /// Replaces the body of a message in flight under `handle` (hearth's own queues keep a
    /// retry count there). Written without waiting: a crash may lose the change, never the
    /// message.
    pub fn rewrite(&self, name: &str, handle: &str, body: String) -> Result<(), SqsError> {
        let queue = self.queue(name)?;
        let receipt = self.receipt(&queue, handle)?;
        let mut state = queue.state();
        let Some(msg) = state
            .get_mut(receipt.message)
            .filter(|m| m.nonce == receipt.nonce)
        else {
            return Err(SqsError::new(
                ErrorKind::MessageNotInflight,
                "Message does not exist or is not available for a change.",
            ));
        };
        let old = msg.size;
        msg.md5_of_body = message::md5_hex(body.as_bytes());
        msg.size = msg.size - msg.body.len() + body.len();
        msg.body = body;
        let size = msg.size;
        let stored = Stored::Message {
            queue: queue.id,
            msg: Box::new(msg.clone()),
        };
        state.resize(old, size);
        drop(self.inner.journal.replace(receipt.message, encode(&stored)));
        if size >= old {
            self.inner
                .bytes
                .fetch_add((size - old) as u64, Ordering::Relaxed);
        } else {
            self.inner
                .bytes
                .fetch_sub((old - size) as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    /// `PurgeQueue`: at most once a minute per queue, as on SQS.
    pub async fn purge(&self, name: &str) -> Result<(), SqsError> {
        let queue = self.queue(name)?;
        let now = self.inner.clock.now_ms();
        {
            let mut state = queue.state();
            if state.last_purge_ms.is_some_and(|at| now < at + 60_000) {
                return Err(SqsError::new(
                    ErrorKind::PurgeQueueInProgress,
                    format!("Only one PurgeQueue operation on {name} is allowed every 60 seconds."),
                ));
            }
            state.last_purge_ms = Some(now);
            for id in state.ids() {
                if let Some(msg) = state.remove(id) {
                    self.retire(queue.id, &msg);
                }
            }
        }
        self.inner.journal.sync().await?;
        Ok(())
    }

    /// `ListDeadLetterSourceQueues`: the queues whose redrive policy targets `name`.
    pub fn dead_letter_sources(&self, name: &str) -> Result<Vec<String>, SqsError> {
        self.queue(name)?;
        let arn = self.arn(name);
        let mut names: Vec<String> = self
            .queues()
            .values()
            .filter(|q| {
                q.config()
                    .redrive
                    .is_some_and(|r| r.dead_letter_target_arn == arn)
            })
            .map(|q| q.name.clone())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Drops messages past their queue's retention period. Run every few seconds; a receive
    /// drops them on its own too, this keeps the counts honest.
    pub fn expire(&self) {
        let now = self.inner.clock.now_ms();
        let queues: Vec<Arc<Queue>> = self.queues().values().cloned().collect();
        for queue in queues {
            let mut state = queue.state();
            for id in state.expired_ids(now) {
                if let Some(msg) = state.remove(id) {
                    self.retire(queue.id, &msg);
                }
            }
        }
        let mut records = self
            .inner
            .dedup_records
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while let Some(&(expiry, id)) = records.first()
            && expiry <= now
        {
            records.pop_first();
            self.inner.journal.remove(id);
        }
    }

    /// `StartMessageMoveTask`: moves the messages of dead-letter queue `source_arn` to
    /// `destination_arn`, or each back to the queue it came from.
    pub async fn start_move(
        &self,
        source_arn: &str,
        destination_arn: Option<String>,
        max_per_second: Option<u32>,
    ) -> Result<String, SqsError> {
        let source = self.queue_by_arn(source_arn).map_err(|_| {
            SqsError::new(
                ErrorKind::ResourceNotFound,
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            )
        })?;
        if self.dead_letter_sources(&source.name)?.is_empty() {
            return Err(SqsError::invalid(
                "Source queue must be configured as a Dead Letter Queue.",
            ));
        }
        if let Some(dest) = &destination_arn {
            self.queue_by_arn(dest).map_err(|_| {
                SqsError::new(ErrorKind::ResourceNotFound, "The resource that you specified for the DestinationArn parameter doesn't exist.")
            })?;
        }
        if let Some(rate) = max_per_second.filter(|r| !(1..=500).contains(r)) {
            return Err(SqsError::invalid(format!(
                "Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be between 1 and 500."
            )));
        }
        let (handle, ids, written) =
            self.add_task(source_arn, &source, &destination_arn, max_per_second)?;
        written.durable().await?;
        let engine = self.clone();
        let task = handle.clone();
        tokio::spawn(async move {
            engine
                .run_move(task, source, destination_arn, max_per_second, ids)
                .await
        });
        Ok(handle)
    }

    /// Lists a new running task (refused while the source has one) and writes its record.
    fn add_task(
        &self,
        source_arn: &str,
        source: &Queue,
        destination_arn: &Option<String>,
        max_per_second: Option<u32>,
    ) -> Result<(String, Vec<u64>, hearth_journal::Appended), SqsError> {
        let mut tasks = self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if tasks
            .iter()
            .any(|t| t.source_arn == source_arn && t.status == "RUNNING")
        {
            return Err(SqsError::invalid(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
            ));
        }
        let ids: Vec<u64> = source.state().ids();
        let handle = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                uuid::Uuid::new_v4(),
                source_arn
            ))
        };
        let mut task = MoveTask {
            handle: handle.clone(),
            source_arn: source_arn.to_owned(),
            destination_arn: destination_arn.clone(),
            max_per_second,
            status: "RUNNING".into(),
            moved: 0,
            to_move: ids.len() as u64,
            started_ms: self.inner.clock.now_ms(),
            failure: None,
            record: 0,
        };
        let written = self
            .inner
            .journal
            .append(encode(&Stored::Task(Box::new(task.clone()))));
        task.record = written.id;
        tasks.push(task);
        // Only the newest tasks of a source are listed: older ones go, with their records.
        let of_source: Vec<u64> = tasks
            .iter()
            .filter(|t| t.source_arn == source_arn)
            .map(|t| t.record)
            .collect();
        if let Some(cut) = of_source.len().checked_sub(TASKS_PER_SOURCE) {
            let old: Vec<u64> = of_source[..cut].to_vec();
            tasks.retain(|t| !old.contains(&t.record));
            for id in old {
                self.inner.journal.remove(id);
            }
        }
        Ok((handle, ids, written))
    }

    fn update_task(&self, handle: &str, f: impl FnOnce(&mut MoveTask)) -> bool {
        let mut tasks = self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
        match tasks.iter_mut().find(|t| t.handle == handle) {
            Some(task) if task.status == "RUNNING" => {
                f(task);
                drop(self.write_task(task));
                true
            }
            _ => false,
        }
    }

    async fn run_move(
        &self,
        handle: String,
        source: Arc<Queue>,
        destination: Option<String>,
        rate: Option<u32>,
        ids: Vec<u64>,
    ) {
        let per_batch = rate.unwrap_or(500).clamp(1, 500) as usize;
        for chunk in ids.chunks(per_batch) {
            let now = self.inner.clock.now_ms();
            let mut by_target: HashMap<String, Vec<Msg>> = HashMap::new();
            {
                let mut state = source.state();
                for &id in chunk {
                    let target = match (&destination, state.get(id)) {
                        (Some(d), Some(_)) => d.clone(),
                        (None, Some(m)) => match &m.dead_letter_source {
                            Some(s) => s.clone(),
                            None => continue,
                        },
                        (_, None) => continue,
                    };
                    if state
                        .get(id)
                        .is_some_and(|m| m.visible_ms > now && m.receive_count > 0)
                    {
                        continue; // in flight: left where it is
                    }
                    if let Some(msg) = state.remove(id) {
                        by_target.entry(target).or_default().push(msg);
                    }
                }
            }
            let mut count = 0;
            for (arn, msgs) in by_target {
                count += msgs.len() as u64;
                match self.queue_by_arn(&arn) {
                    Ok(target) => self.move_messages(&target, msgs, None, now),
                    // The queue a message came from is gone: it stays in the dead-letter queue.
                    Err(_) => {
                        let mut state = source.state();
                        for msg in msgs {
                            state.insert(msg);
                        }
                    }
                }
            }
            if !self.update_task(&handle, |t| t.moved += count) {
                return; // cancelled
            }
            if rate.is_some() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
        self.update_task(&handle, |t| t.status = "COMPLETED".into());
    }

    /// `ListMessageMoveTasks`: the most recent tasks of a source, newest first.
    pub fn move_tasks(&self, source_arn: &str, max: usize) -> Vec<MoveTask> {
        let tasks = self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks
            .iter()
            .rev()
            .filter(|t| t.source_arn == source_arn)
            .take(max)
            .cloned()
            .collect()
    }

    /// `CancelMessageMoveTask`: the messages moved so far.
    pub fn cancel_move(&self, handle: &str) -> Result<u64, SqsError> {
        let mut moved = None;
        self.update_task(handle, |t| {
            t.status = "CANCELLED".into();
            moved = Some(t.moved);
        });
        moved.ok_or_else(|| {
            SqsError::new(
                ErrorKind::ResourceNotFound,
                "Task does not exist or is not running.",
            )
        })
    }

    /// Every queue's counts, by name: for `/metrics` and `hearth queues`.
    pub fn summaries(&self) -> Vec<QueueSummary> {
        let now = self.inner.clock.now_ms();
        let queues: Vec<Arc<Queue>> = self.queues().values().cloned().collect();
        let mut out: Vec<QueueSummary> = queues
            .iter()
            .map(|q| {
                let state = q.state();
                let counts = state.counts(now);
                QueueSummary {
                    name: q.name.clone(),
                    fifo: state.config.fifo,
                    visible: counts.visible,
                    in_flight: counts.in_flight,
                    delayed: counts.delayed,
                    bytes: state.bytes,
                    oldest_age_seconds: counts
                        .oldest_sent_ms
                        .map_or(0.0, |t| now.saturating_sub(t) as f64 / 1000.0),
                    dead_letter_queue: state
                        .config
                        .redrive
                        .as_ref()
                        .and_then(|r| config::arn_queue_name(&r.dead_letter_target_arn))
                        .map(str::to_owned),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Resolves once everything written so far (receive counts too) is on disk.
    pub async fn sync(&self) -> Result<(), SqsError> {
        Ok(self.inner.journal.sync().await?)
    }

    /// Message bytes held across all queues.
    pub fn bytes(&self) -> u64 {
        self.inner.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests;
