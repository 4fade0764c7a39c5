//! Event source mappings and their pollers. Functions are invoked only through the
//! scheduler, so reserved concurrency and throttling apply to every batch.
//!
//! The sources are the embedded SQS queues of [`hearth_queue`] and the Kinesis streams of
//! [`hearth_streams`]. A mapping is one file `mappings/<uuid>.json` under the state dir, written atomically
//! before the API answers, so mappings survive `kill -9` and their pollers resume at start.
//!
//! Layout: [`mapping`] (fields, validation, the API's view), [`filter`] (`FilterCriteria`),
//! [`sqs_event`] (the event Lambda builds, partial batch responses), [`poller`] (workers,
//! batching, deletion, scaling); [`kinesis_event`] and [`stream_poller`] (per-shard order,
//! parallelization, retries, bisection, checkpoints) for streams.

pub mod filter;
pub mod kinesis_event;
pub mod mapping;
pub mod poller;
pub mod source;
pub mod sqs_event;
pub mod stream_poller;

use hearth_queue::Engine;
use hearth_scheduler::{DeployError, Scheduler};
use hearth_streams::Streams;
use mapping::{Mapping, MappingRequest, Source};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

struct Entry {
    mapping: Mapping,
    poller: Option<poller::Poller>,
}

/// Counts of one mapping, for metrics and `hearth mappings`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MappingStatus {
    pub uuid: String,
    pub function: String,
    pub source: String,
    pub state: &'static str,
    pub received: u64,
    pub deleted: u64,
    pub filtered: u64,
    pub batches: u64,
    pub function_errors: u64,
    pub throttled: u64,
    pub workers: usize,
    /// Mean time of a batch's invoke and of the whole batch, in microseconds.
    pub invoke_micros_per_batch: f64,
    pub batch_micros_per_batch: f64,
    /// Messages waiting in the source queue; for a stream, records not yet processed.
    pub lag: Option<u64>,
    /// Streams: batches retried, bisected, and sent to the OnFailure destination.
    pub retries: u64,
    pub bisections: u64,
    pub on_failure: u64,
    /// Streams: each shard's iterator age (ms): how old the record it is at is.
    pub iterator_age_ms: BTreeMap<String, u64>,
}

struct Inner {
    dir: PathBuf,
    scheduler: Scheduler,
    queues: Engine,
    streams: Streams,
    tables: hearth_streams::dynamodb::table::Tables,
    mappings: Mutex<BTreeMap<String, Entry>>,
    /// Serialises changes, so a mapping's file and poller follow the order of requests.
    control: tokio::sync::Mutex<()>,
}

/// Every mapping of one node. Cheap to clone.
#[derive(Clone)]
pub struct EventSources {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSources")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

fn internal(e: impl std::fmt::Display) -> DeployError {
    DeployError::Internal(e.to_string())
}

fn now_seconds() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // Lambda reports milliseconds as a fraction of a second.
    (now.as_millis() as f64) / 1000.0
}

impl EventSources {
    /// Reads the mappings under `dir` and starts the pollers of the enabled ones. Reads
    /// files on a blocking thread.
    pub async fn open(
        dir: PathBuf,
        scheduler: Scheduler,
        queues: Engine,
        streams: Streams,
        tables: hearth_streams::dynamodb::table::Tables,
    ) -> Result<Self, DeployError> {
        let read_dir = dir.clone();
        let stored = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<Mapping>> {
            std::fs::create_dir_all(&read_dir)?;
            let mut found = Vec::new();
            for entry in std::fs::read_dir(&read_dir)? {
                let path = entry?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                match std::fs::read(&path).map(|b| serde_json::from_slice::<Mapping>(&b)) {
                    Ok(Ok(m)) => found.push(m),
                    Ok(Err(e)) => tracing::error!(path = %path.display(), error = %e, "unreadable event source mapping left in place"),
                    Err(e) => tracing::error!(path = %path.display(), error = %e, "cannot read event source mapping"),
                }
            }
            Ok(found)
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        let sources = Self {
            inner: Arc::new(Inner {
                dir,
                scheduler,
                queues,
                streams,
                tables,
                mappings: Mutex::new(BTreeMap::new()),
                control: tokio::sync::Mutex::new(()),
            }),
        };
        for mapping in stored {
            let poller = sources.start(&mapping);
            sources
                .mappings()
                .insert(mapping.uuid.clone(), Entry { mapping, poller });
        }
        Ok(sources)
    }

    fn mappings(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.inner
            .mappings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn start(&self, mapping: &Mapping) -> Option<poller::Poller> {
        if !mapping.enabled {
            return None;
        }
        let started = if mapping.is_stream() {
            source::Source::of(
                &mapping.event_source_arn,
                &self.inner.streams,
                &self.inner.tables,
            )
            .and_then(|source| {
                stream_poller::start(
                    mapping.clone(),
                    source,
                    self.inner.streams.clone(),
                    self.inner.queues.clone(),
                    self.inner.scheduler.clone(),
                )
            })
            .map_err(|e| e.to_string())
        } else {
            poller::start(
                mapping.clone(),
                self.inner.queues.clone(),
                self.inner.scheduler.clone(),
            )
            .map_err(|e| e.to_string())
        };
        match started {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(mapping = %mapping.uuid, error = %e, "event source mapping not polling");
                None
            }
        }
    }

    async fn persist(&self, mapping: &Mapping) -> Result<(), DeployError> {
        let path = self.inner.dir.join(format!("{}.json", mapping.uuid));
        let bytes = serde_json::to_vec_pretty(mapping).map_err(internal)?;
        tokio::task::spawn_blocking(move || hearth_journal::atomic::write_atomically(&path, &bytes))
            .await
            .map_err(internal)?
            .map_err(internal)
    }

    /// A `FunctionName` (name, partial or full ARN, any qualifier) as its name, qualifier and
    /// the ARN mappings report.
    fn qualified_arn<'a>(&self, reference: &'a str) -> (&'a str, Option<&'a str>, String) {
        let (name, qualifier) = hearth_scheduler::invoke::parse_function_ref(reference);
        let mut arn = self.inner.scheduler.function_arn(name);
        if let Some(q) = qualifier {
            arn = format!("{arn}:{q}");
        }
        (name, qualifier, arn)
    }

    /// The function a `FunctionName` names, as (name, qualifier, ARN); and its timeout.
    fn function(
        &self,
        reference: &str,
    ) -> Result<(String, Option<String>, String, u32), DeployError> {
        let (name, qualifier, arn) = self.qualified_arn(reference);
        let scheduler = &self.inner.scheduler;
        let config = scheduler.get_function(name, qualifier).map_err(|_| {
            DeployError::ResourceNotFound(format!(
                "Function does not exist: {}",
                scheduler.function_arn(name)
            ))
        })?;
        Ok((
            name.to_owned(),
            qualifier.map(str::to_owned),
            arn,
            config.timeout,
        ))
    }

    /// The queue of an SQS ARN: whether FIFO, and its visibility timeout.
    fn queue(&self, arn: &str) -> Result<(bool, u32), DeployError> {
        let queue = self.inner.queues.queue_by_arn(arn).map_err(|_| {
            DeployError::InvalidParameter(
                "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist or you do not have access to it.".into(),
            )
        })?;
        let config = queue.config();
        Ok((config.fifo, config.visibility_timeout))
    }

    /// What a mapping's source is, checked: the queue or stream must exist, and a queue's
    /// visibility timeout must cover the function's timeout.
    fn source(&self, arn: &str, timeout: u32) -> Result<Source, DeployError> {
        match mapping::source_kind(arn) {
            Some("sqs") => {
                let (fifo, visibility) = self.queue(arn)?;
                Self::check_timeouts(visibility, timeout)?;
                Ok(Source::Queue { fifo })
            }
            Some("kinesis" | "dynamodb") => {
                let exists =
                    source::Source::of(arn, &self.inner.streams, &self.inner.tables).is_ok();
                if !exists {
                    return Err(DeployError::InvalidParameter(format!(
                        "Stream not found: {arn}"
                    )));
                }
                Ok(Source::Stream)
            }
            _ => Err(DeployError::InvalidParameter(format!(
                "Unsupported event source {arn}: hearth's mappings read SQS queues, Kinesis streams and DynamoDB table streams."
            ))),
        }
    }

    /// The view of a mapping with what its poller has seen.
    fn view(entry: &Entry, state: &str) -> Value {
        let mut view = entry.mapping.view(state);
        if entry.mapping.is_stream() {
            let result = entry
                .poller
                .as_ref()
                .map_or(0, |p| p.stats.last_result.load(Ordering::Relaxed));
            view["LastProcessingResult"] = json!(match result {
                stream_poller::RESULT_OK => "OK",
                stream_poller::RESULT_PROBLEM => "PROBLEM: Function call failed",
                _ => "No records processed",
            });
        }
        view
    }

    fn check_timeouts(visibility: u32, timeout: u32) -> Result<(), DeployError> {
        if visibility < timeout {
            return Err(DeployError::InvalidParameter(format!(
                "Invalid parameter: Queue visibility timeout: {visibility} seconds is less than Function timeout: {timeout} seconds"
            )));
        }
        Ok(())
    }

    /// `CreateEventSourceMapping`: the new mapping's view (`Creating`).
    pub async fn create(&self, request: MappingRequest) -> Result<Value, DeployError> {
        let arn = request
            .event_source_arn
            .clone()
            .ok_or_else(|| DeployError::InvalidParameter("EventSourceArn is required.".into()))?;
        let reference = request
            .function_name
            .clone()
            .ok_or_else(|| DeployError::InvalidParameter("FunctionName is required.".into()))?;
        let (name, qualifier, function_arn, timeout) = self.function(&reference)?;
        let source = self.source(&arn, timeout)?;
        let config = self.inner.scheduler.config();
        let mut mapping = Mapping {
            uuid: uuid::Uuid::new_v4().to_string(),
            event_source_arn: arn.clone(),
            function_name: name.clone(),
            qualifier,
            function_arn: function_arn.clone(),
            enabled: true,
            batch_size: if source == Source::Stream { 100 } else { 10 },
            maximum_batching_window_in_seconds: 0,
            filter_criteria: None,
            function_response_types: Vec::new(),
            scaling_config: None,
            last_modified: now_seconds(),
            region: config.region.clone(),
            account: config.account_id.clone(),
            starting_position: None,
            starting_position_timestamp: None,
            parallelization_factor: 1,
            bisect_batch_on_function_error: false,
            maximum_retry_attempts: -1,
            maximum_record_age_in_seconds: -1,
            tumbling_window_in_seconds: 0,
            on_failure: None,
        };
        mapping.apply(&request, source, true)?;
        let _control = self.inner.control.lock().await;
        if let Some(existing) = self
            .mappings()
            .values()
            .find(|e| e.mapping.event_source_arn == arn && e.mapping.function_arn == function_arn)
        {
            let uuid = &existing.mapping.uuid;
            return Err(DeployError::Conflict(if source == Source::Stream {
                format!(
                    "The event source arn (\" {arn} \") and function (\" {name} \") provided mapping already exists. Please update or delete the existing mapping with UUID {uuid}"
                )
            } else {
                format!(
                    "An event source mapping with SQS arn (\" {arn} \") and function (\" {name} \") already exists. Please update or delete the existing mapping with UUID {uuid}"
                )
            }));
        }
        self.persist(&mapping).await?;
        let poller = self.start(&mapping);
        let entry = Entry { mapping, poller };
        let view = Self::view(&entry, "Creating");
        self.mappings().insert(entry.mapping.uuid.clone(), entry);
        Ok(view)
    }

    fn not_found(uuid: &str) -> DeployError {
        DeployError::ResourceNotFound(format!(
            "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"
        ))
    }

    /// `GetEventSourceMapping`.
    pub fn get(&self, uuid: &str) -> Result<Value, DeployError> {
        let mappings = self.mappings();
        let entry = mappings.get(uuid).ok_or_else(|| Self::not_found(uuid))?;
        Ok(Self::view(entry, entry.mapping.steady_state()))
    }

    /// `ListEventSourceMappings`, filtered by function and source, from `marker`.
    pub fn list(
        &self,
        function: Option<&str>,
        source: Option<&str>,
        marker: Option<&str>,
        max: usize,
    ) -> Result<Value, DeployError> {
        let function_arn = function.map(|f| self.qualified_arn(f).2);
        let mappings = self.mappings();
        let matching: Vec<&Entry> = mappings
            .values()
            .filter(|e| {
                function_arn
                    .as_ref()
                    .is_none_or(|a| &e.mapping.function_arn == a)
            })
            .filter(|e| source.is_none_or(|s| e.mapping.event_source_arn == s))
            .filter(|e| marker.is_none_or(|m| e.mapping.uuid.as_str() > m))
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .take(max)
            .map(|e| Self::view(e, e.mapping.steady_state()))
            .collect();
        let mut out = json!({ "EventSourceMappings": page });
        if matching.len() > max
            && let Some(last) = matching.get(max - 1)
        {
            out["NextMarker"] = json!(last.mapping.uuid);
        }
        Ok(out)
    }

    /// `UpdateEventSourceMapping`: the mapping's view, `Disabling` or `Enabling` when the
    /// update turns it off or on, `Updating` otherwise, as Lambda answers.
    pub async fn update(&self, uuid: &str, request: MappingRequest) -> Result<Value, DeployError> {
        let _control = self.inner.control.lock().await;
        let mut mapping = self
            .mappings()
            .get(uuid)
            .map(|e| e.mapping.clone())
            .ok_or_else(|| Self::not_found(uuid))?;
        if let Some(reference) = &request.function_name {
            let (name, qualifier, arn, _) = self.function(reference)?;
            mapping.function_name = name;
            mapping.qualifier = qualifier;
            mapping.function_arn = arn;
        }
        let (_, _, _, timeout) = self.function(&mapping.function_arn)?;
        let source = self.source(&mapping.event_source_arn, timeout)?;
        let was_enabled = mapping.enabled;
        mapping.apply(&request, source, false)?;
        let state = match (was_enabled, mapping.enabled) {
            (true, false) => "Disabling",
            (false, true) => "Enabling",
            _ => "Updating",
        };
        mapping.last_modified = now_seconds();
        self.persist(&mapping).await?;
        let old = self.mappings().get_mut(uuid).and_then(|e| e.poller.take());
        if let Some(old) = old {
            old.stop().await;
        }
        let poller = self.start(&mapping);
        let entry = Entry { mapping, poller };
        let view = Self::view(&entry, state);
        self.mappings().insert(uuid.to_owned(), entry);
        Ok(view)
    }

    /// `DeleteEventSourceMapping`: the mapping's last view (`Deleting`); its poller stops
    /// after the batches it is delivering.
    pub async fn delete(&self, uuid: &str) -> Result<Value, DeployError> {
        let _control = self.inner.control.lock().await;
        let entry = self
            .mappings()
            .remove(uuid)
            .ok_or_else(|| Self::not_found(uuid))?;
        let path = self.inner.dir.join(format!("{uuid}.json"));
        let dir = self.inner.dir.clone();
        let removed = tokio::task::spawn_blocking(move || {
            std::fs::remove_file(&path).and_then(|()| hearth_journal::atomic::sync_dir(&dir))
        })
        .await
        .map_err(internal)?;
        if let Err(e) = removed {
            self.mappings().insert(uuid.to_owned(), entry);
            return Err(internal(e));
        }
        let view = Self::view(&entry, "Deleting");
        let streams = self.inner.streams.clone();
        let stream = entry.mapping.is_stream();
        let prefix = format!("{uuid}/");
        if let Some(poller) = entry.poller {
            tokio::spawn(async move {
                poller.stop().await;
                if stream {
                    streams.clear_checkpoints(&prefix);
                }
            });
        } else if stream {
            streams.clear_checkpoints(&prefix);
        }
        Ok(view)
    }

    /// What each mapping has done.
    pub fn status(&self) -> Vec<MappingStatus> {
        let mappings = self.mappings();
        let now = self.inner.queues.clock().now_ms();
        mappings
            .values()
            .map(|e| {
                let stats = e
                    .poller
                    .as_ref()
                    .map(|p| p.stats.clone())
                    .unwrap_or_default();
                let batches = stats.batches.load(Ordering::Relaxed);
                let per_batch = |nanos: u64| {
                    if batches == 0 {
                        0.0
                    } else {
                        nanos as f64 / batches as f64 / 1000.0
                    }
                };
                MappingStatus {
                    uuid: e.mapping.uuid.clone(),
                    function: e.mapping.function_arn.clone(),
                    source: e.mapping.event_source_arn.clone(),
                    state: e.mapping.steady_state(),
                    received: stats.received.load(Ordering::Relaxed),
                    deleted: stats.deleted.load(Ordering::Relaxed),
                    filtered: stats.filtered.load(Ordering::Relaxed),
                    batches,
                    function_errors: stats.function_errors.load(Ordering::Relaxed),
                    throttled: stats.throttled.load(Ordering::Relaxed),
                    workers: stats.workers.load(Ordering::Relaxed),
                    invoke_micros_per_batch: per_batch(stats.invoke_nanos.load(Ordering::Relaxed)),
                    batch_micros_per_batch: per_batch(stats.batch_nanos.load(Ordering::Relaxed)),
                    lag: self.lag(&e.mapping, &stats, now),
                    retries: stats.retries.load(Ordering::Relaxed),
                    bisections: stats.bisections.load(Ordering::Relaxed),
                    on_failure: stats.on_failure.load(Ordering::Relaxed),
                    iterator_age_ms: stats
                        .positions()
                        .into_iter()
                        .map(|(shard, (_, age))| (shard, age))
                        .collect(),
                }
            })
            .collect()
    }

    /// What a mapping has yet to read: messages waiting in its queue, or the records of its
    /// stream past each shard's position.
    fn lag(&self, mapping: &Mapping, stats: &poller::Stats, now: u64) -> Option<u64> {
        if mapping.is_stream() {
            let source = source::Source::of(
                &mapping.event_source_arn,
                &self.inner.streams,
                &self.inner.tables,
            )
            .ok()?;
            let positions = stats.positions();
            let behind = source
                .shards()
                .ok()?
                .iter()
                .map(|s| {
                    let from = positions.get(&s.id).map_or(0, |(next, _)| *next);
                    source.backlog(&s.id, from).unwrap_or(0) as u64
                })
                .sum();
            return Some(behind);
        }
        self.inner
            .queues
            .queue_by_arn(&mapping.event_source_arn)
            .ok()
            .map(|q| {
                let c = q.counts(now);
                (c.visible + c.delayed) as u64
            })
    }

    /// Stops every poller (each finishes the batch it is delivering).
    pub async fn shutdown(&self) {
        let pollers: Vec<poller::Poller> = self
            .mappings()
            .values_mut()
            .filter_map(|e| e.poller.take())
            .collect();
        for p in pollers {
            p.stop().await;
        }
    }
}
